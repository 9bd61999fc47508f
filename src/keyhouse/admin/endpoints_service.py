"""Endpoints: a name applications call, bound to one or more (key, model) targets."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from keyhouse.admin.schemas import (
    EndpointCreate,
    EndpointUpdate,
    EndpointView,
    LimitsIn,
    TargetIn,
    TargetPrice,
    TargetView,
    limits_json,
)
from keyhouse.admin.validation import FieldErrors
from keyhouse.errors import AlreadyExists, NotFound, PreconditionFailed
from keyhouse.providers import catalog
from keyhouse.store.models import (
    ApiKeyRow,
    EndpointAliasRow,
    EndpointRow,
    EndpointTargetRow,
    utcnow,
)
from keyhouse.store.store import Store, audit


@dataclass
class EndpointService:
    store: Store

    def list(self) -> list[EndpointView]:
        with self.store.read() as session:
            rows = list(session.scalars(select(EndpointRow).order_by(EndpointRow.name)))
            keys = _keys(session)
            return [_view(r, keys) for r in rows]

    def get(self, endpoint_id: str) -> EndpointView:
        with self.store.read() as session:
            return _view(_get(session, endpoint_id), _keys(session))

    def create(self, body: EndpointCreate, actor: str) -> EndpointView:
        with self.store.write() as session:
            _ensure_names_free(session, body.name, body.aliases, None)
            _check_targets(session, body.targets, body.task)
            now = utcnow()
            row = EndpointRow(
                id=str(uuid.uuid4()),
                name=body.name,
                description=body.description,
                task=body.task,
                timeout_seconds=body.timeout_seconds,
                connect_timeout_seconds=body.connect_timeout_seconds,
                max_retries=body.max_retries,
                limits=limits_json(body.limits),
                version=1,
                created_at=now,
                updated_at=now,
            )
            row.targets = _target_rows(body.targets)
            row.aliases = _alias_rows(row, body.aliases)
            session.add(row)
            audit(
                session,
                actor,
                "endpoint.create",
                "endpoint",
                row.id,
                row.name,
                targets=[t.model_dump() for t in body.targets],
                aliases=body.aliases,
            )
            session.flush()
            return _view(row, _keys(session))

    def update(
        self, endpoint_id: str, body: EndpointUpdate, actor: str, if_match: int | None
    ) -> EndpointView:
        with self.store.write() as session:
            row = _get(session, endpoint_id, lock=True)
            if if_match is not None and if_match != row.version:
                raise PreconditionFailed(
                    f"The endpoint is at version {row.version}, not {if_match}; reload."
                )
            changes = body.model_dump(exclude_unset=True, exclude_none=True)
            changes.pop("limits", None)
            if "limits" in body.model_fields_set and limits_json(body.limits) != row.limits:
                row.limits = limits_json(body.limits)
                changes["limits"] = row.limits
            if ("name" in changes and body.name != row.name) or body.aliases is not None:
                aliases = (
                    body.aliases if body.aliases is not None else [a.name for a in row.aliases]
                )
                _ensure_names_free(session, body.name or row.name, aliases, row.id)
            if body.aliases is not None:
                row.aliases = _alias_rows(row, body.aliases)
            task = body.task or row.task
            if body.targets is not None:
                _check_targets(session, body.targets, task)
                row.targets = _target_rows(body.targets)
            elif body.task is not None and body.task != row.task:
                current = [
                    TargetIn(
                        key_id=t.key_id or "",
                        model=t.model,
                        weight=t.weight,
                        role=t.role,
                        price=t.price,
                    )
                    for t in row.targets
                    if t.key_id
                ]  # type: ignore[arg-type]
                _check_targets(session, current, task)
            for field in (
                "name",
                "description",
                "task",
                "timeout_seconds",
                "connect_timeout_seconds",
                "max_retries",
            ):
                if field in changes:
                    setattr(row, field, changes[field])
            if changes:
                row.version += 1
                row.updated_at = utcnow()
                audit(
                    session,
                    actor,
                    "endpoint.update",
                    "endpoint",
                    row.id,
                    row.name,
                    changed=sorted(changes),
                )
            session.flush()
            return _view(row, _keys(session))

    def delete(self, endpoint_id: str, actor: str) -> None:
        with self.store.write() as session:
            row = _get(session, endpoint_id, lock=True)
            session.delete(row)
            audit(session, actor, "endpoint.delete", "endpoint", row.id, row.name)


def _get(session: Session, endpoint_id: str, lock: bool = False) -> EndpointRow:
    query = select(EndpointRow).where(EndpointRow.id == endpoint_id)
    if lock:
        query = query.with_for_update()
    row = session.scalar(query)
    if row is None:
        raise NotFound("No endpoint with that id.")
    return row


def _ensure_names_free(session: Session, name: str, aliases: list[str], own_id: str | None) -> None:
    """Every name an endpoint answers to is unique across all endpoint names and aliases:
    a clash within the request is a 422, with another endpoint a 409 naming it."""
    errors = FieldErrors()
    seen: set[str] = set()
    for i, alias in enumerate(aliases):
        if alias == name:
            errors.add(f"aliases.{i}", "an alias must differ from the endpoint's name")
        elif alias in seen:
            errors.add(f"aliases.{i}", f"{alias!r} is listed twice")
        seen.add(alias)
    errors.raise_if_any()
    wanted = [name, *aliases]
    names = {
        n: i
        for n, i in session.execute(
            select(EndpointRow.name, EndpointRow.id).where(EndpointRow.name.in_(wanted))
        )
    }
    held = {
        a: n
        for a, n in session.execute(
            select(EndpointAliasRow.name, EndpointRow.name)
            .join(EndpointRow, EndpointRow.id == EndpointAliasRow.endpoint_id)
            .where(EndpointAliasRow.name.in_(wanted), EndpointRow.id != (own_id or ""))
        )
    }
    if names.get(name, own_id) != own_id:
        message = f"An endpoint named {name!r} already exists."
        # On the field, so every client shows it where the name is typed.
        raise AlreadyExists(message, fields=[{"field": "name", "message": message}])
    if name in held:
        raise AlreadyExists(f"{name!r} is already an alias of the endpoint {held[name]!r}.")
    for alias in aliases:
        if names.get(alias, own_id) != own_id:
            raise AlreadyExists(f"The alias {alias!r} is the name of another endpoint.")
        if alias in held:
            raise AlreadyExists(
                f"The alias {alias!r} already belongs to the endpoint {held[alias]!r}."
            )


def _alias_rows(row: EndpointRow, aliases: list[str]) -> list[EndpointAliasRow]:
    # Kept aliases keep their row: deleting and re-inserting the same primary key in one
    # flush would collide (the unit of work inserts before it deletes).
    existing = {a.name: a for a in row.aliases}
    rows = []
    for i, alias in enumerate(aliases):
        kept = existing.get(alias)
        if kept is not None:
            kept.position = i
            rows.append(kept)
        else:
            rows.append(EndpointAliasRow(name=alias, endpoint_id=row.id, position=i))
    return rows


def _check_targets(session: Session, targets: list[TargetIn], task: str) -> None:
    errors = FieldErrors()
    providers = {
        key_id: provider
        for key_id, provider in session.execute(
            select(ApiKeyRow.id, ApiKeyRow.provider).where(
                ApiKeyRow.id.in_([t.key_id for t in targets])
            )
        )
    }
    for i, target in enumerate(targets):
        provider = providers.get(target.key_id)
        if provider is None:
            errors.add(f"targets.{i}.key_id", "no API key with that id")
            continue
        spec = catalog.get(provider)
        if spec is None or not spec.serves(task):
            errors.add(
                f"targets.{i}.key_id", f"provider {provider!r} does not serve {task} requests"
            )
    if not any(t.role == "primary" for t in targets):
        errors.add("targets", "at least one target must be a primary")
    errors.raise_if_any()


def _target_rows(targets: list[TargetIn]) -> list[EndpointTargetRow]:
    return [
        EndpointTargetRow(
            position=i,
            key_id=t.key_id,
            model=t.model,
            weight=t.weight,
            role=t.role,
            price=t.price.model_dump(exclude_none=True) if t.price else None,
        )
        for i, t in enumerate(targets)
    ]


def _keys(session: Session) -> dict[str, tuple[str, str]]:
    return {
        k: (n, p)
        for k, n, p in session.execute(select(ApiKeyRow.id, ApiKeyRow.name, ApiKeyRow.provider))
    }


def _view(row: EndpointRow, keys: dict[str, tuple[str, str]]) -> EndpointView:
    targets = []
    for t in row.targets:
        key = keys.get(t.key_id) if t.key_id else None
        targets.append(
            TargetView(
                key_id=t.key_id,
                key_name=key[0] if key else None,
                provider=key[1] if key else None,
                model=t.model,
                weight=t.weight,
                role=t.role,
                price=TargetPrice(**t.price) if t.price else None,
            )
        )
    return EndpointView(
        id=row.id,
        name=row.name,
        description=row.description,
        task=row.task,
        targets=targets,
        aliases=[a.name for a in row.aliases],
        timeout_seconds=row.timeout_seconds,
        connect_timeout_seconds=row.connect_timeout_seconds,
        max_retries=row.max_retries,
        limits=LimitsIn.model_validate(row.limits) if row.limits else None,
        created_at=row.created_at,
        updated_at=row.updated_at,
        version=row.version,
    )
