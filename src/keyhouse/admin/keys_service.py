"""API keys: create, read, edit and delete. Credentials are sealed and opened only by
``keyhouse.store.credentials``; docs/security.md is the contract."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from keyhouse.admin.schemas import KeyCreate, KeyUpdate, KeyView, LimitsIn, Ref, limits_json
from keyhouse.admin.validation import (
    FieldErrors,
    clean_config,
    clean_secrets,
    refuse_ambient,
    require_config,
    resolve_method,
)
from keyhouse.errors import AlreadyExists, KeyInUse, NotFound, PreconditionFailed
from keyhouse.providers import catalog
from keyhouse.providers.catalog import AuthMethod
from keyhouse.store import credentials
from keyhouse.store.models import ApiKeyRow, EndpointRow, EndpointTargetRow, utcnow
from keyhouse.store.store import Store, audit
from keyhouse.vault.keyring import Keyring


@dataclass
class KeyService:
    store: Store
    keyring: Keyring
    allow_private: bool
    allow_ambient: bool = False

    # --- reads ----------------------------------------------------------------------

    def list(self, provider: str | None = None, search: str | None = None) -> list[KeyView]:
        with self.store.read() as session:
            query = select(ApiKeyRow).order_by(ApiKeyRow.name)
            if provider:
                query = query.where(ApiKeyRow.provider == provider)
            rows = list(session.scalars(query))
            if search:
                needle = search.lower()
                rows = [
                    r for r in rows if needle in r.name.lower() or needle in r.description.lower()
                ]
            users = _endpoints_by_key(session, [r.id for r in rows])
            return [_view(r, users.get(r.id, [])) for r in rows]

    def get(self, key_id: str) -> KeyView:
        with self.store.read() as session:
            row = _get(session, key_id)
            return _view(row, _endpoints_by_key(session, [row.id]).get(row.id, []))

    # --- writes ---------------------------------------------------------------------

    def create(self, body: KeyCreate, actor: str) -> KeyView:
        spec, method = resolve_method(body.provider, body.auth_method)
        refuse_ambient(method, self.allow_ambient)
        errors = FieldErrors()
        secrets = clean_secrets(
            method, body.credentials, errors, require_all=True, allow_private=self.allow_private
        )
        config = {
            k: v
            for k, v in clean_config(method, dict(body.config), errors, self.allow_private).items()
            if v
        }
        require_config(method, config, errors)
        errors.raise_if_any()
        key_id = str(uuid.uuid4())
        now = utcnow()
        with self.store.write() as session:
            _ensure_name_free(session, body.name, None)
            row = ApiKeyRow(
                id=key_id,
                name=body.name,
                description=body.description,
                provider=spec.id,
                auth_method=method.id,
                config=config,
                version=1,
                credential_version=1,
                rotate_after_days=body.rotate_after_days,
                limits=limits_json(body.limits),
                created_at=now,
                updated_at=now,
                credential_updated_at=now,
            )
            credentials.seal_onto(self.keyring, row, secrets)
            session.add(row)
            audit(
                session,
                actor,
                "key.create",
                "key",
                key_id,
                body.name,
                provider=spec.id,
                auth_method=method.id,
                fields=sorted(secrets),
                config=sorted(config),
            )
        return _view(row, [])

    def update(self, key_id: str, body: KeyUpdate, actor: str, if_match: int | None) -> KeyView:
        with self.store.write() as session:
            row = _get(session, key_id, lock=True)
            check_version(row.version, if_match)
            _, method = resolve_method(row.provider, row.auth_method)
            refuse_ambient(method, self.allow_ambient)
            errors = FieldErrors()
            given_secrets = clean_secrets(
                method,
                body.credentials or {},
                errors,
                require_all=False,
                allow_private=self.allow_private,
                stored_masks=row.masked,
            )
            config_changes = clean_config(
                method, dict(body.config or {}), errors, self.allow_private
            )
            config = {**row.config}
            for name, value in config_changes.items():
                if value is None:
                    config.pop(name, None)
                else:
                    config[name] = value
            require_config(method, config, errors)
            _guard_destination(method, row, config, given_secrets, errors)
            errors.raise_if_any()

            changed: list[str] = []
            if body.name is not None and body.name != row.name:
                _ensure_name_free(session, body.name, row.id)
                row.name = body.name
                changed.append("name")
            if body.description is not None and body.description != row.description:
                row.description = body.description
                changed.append("description")
            if (
                body.rotate_after_days is not None
                and (body.rotate_after_days or None) != row.rotate_after_days
            ):
                row.rotate_after_days = body.rotate_after_days or None
                changed.append("rotate_after_days")
            if "limits" in body.model_fields_set and limits_json(body.limits) != row.limits:
                row.limits = limits_json(body.limits)
                changed.append("limits")
            if config != row.config:
                changed += sorted(
                    k for k in set(config) | set(row.config) if config.get(k) != row.config.get(k)
                )
                row.config = config
            if given_secrets:
                credentials.replace(session, self.keyring, row, given_secrets)
                changed.append("credentials")
            if changed:
                row.version += 1
                row.updated_at = utcnow()
                audit(
                    session,
                    actor,
                    "key.update",
                    "key",
                    row.id,
                    row.name,
                    changed=changed,
                    secret_fields=sorted(given_secrets),
                )
            users = _endpoints_by_key(session, [row.id]).get(row.id, [])
            return _view(row, users)

    def delete(self, key_id: str, actor: str, force: bool) -> None:
        with self.store.write() as session:
            row = _get(session, key_id, lock=True)
            users = _endpoints_by_key(session, [row.id]).get(row.id, [])
            if users and not force:
                names = ", ".join(u.name for u in users)
                raise KeyInUse(
                    f"Key {row.name!r} is used by {len(users)} endpoint(s): {names}. "
                    "Give them another key first, or delete with force=true.",
                    endpoints=[u.model_dump() for u in users],
                )
            for target in session.scalars(
                select(EndpointTargetRow).where(EndpointTargetRow.key_id == row.id)
            ):
                target.key_id = None
            session.delete(row)
            audit(
                session,
                actor,
                "key.delete",
                "key",
                row.id,
                row.name,
                force=force,
                endpoints=[u.name for u in users],
            )


def check_version(current: int, if_match: int | None) -> None:
    """The If-Match half of the compare-and-set; the other half is the store's version
    column check on UPDATE (``version_id_col``), which a writer that read a stale row
    cannot pass."""
    if if_match is not None and if_match != current:
        raise PreconditionFailed(
            f"The key is at version {current}, not {if_match}; reload and retry."
        )


def _guard_destination(
    method: AuthMethod,
    row: ApiKeyRow,
    config: dict[str, str],
    given: dict[str, str],
    errors: FieldErrors,
) -> None:
    """Exfiltration guard: whoever changes where a key's secret is sent must send every
    secret it holds (required or optional) in the same request."""
    moved = [n for n in method.destination_fields if config.get(n) != row.config.get(n)]
    if not moved:
        return
    missing = [name for name in row.fields if name not in given]
    if missing:
        errors.add(
            "credentials",
            f"changing {', '.join(moved)} requires re-entering every "
            f"stored secret ({', '.join(missing)})",
        )


def _get(session: Session, key_id: str, lock: bool = False) -> ApiKeyRow:
    query = select(ApiKeyRow).where(ApiKeyRow.id == key_id)
    if lock:
        query = query.with_for_update()
    row = session.scalar(query)
    if row is None:
        raise NotFound("No API key with that id.")
    return row


def _ensure_name_free(session: Session, name: str, own_id: str | None) -> None:
    other = session.scalar(select(ApiKeyRow.id).where(ApiKeyRow.name == name))
    if other is not None and other != own_id:
        message = f"An API key named {name!r} already exists."
        # On the field, so every client shows it where the name is typed.
        raise AlreadyExists(message, fields=[{"field": "name", "message": message}])


def _endpoints_by_key(session: Session, key_ids: list[str]) -> dict[str, list[Ref]]:
    if not key_ids:
        return {}
    rows = session.execute(
        select(EndpointTargetRow.key_id, EndpointRow.id, EndpointRow.name)
        .join(EndpointRow, EndpointRow.id == EndpointTargetRow.endpoint_id)
        .where(EndpointTargetRow.key_id.in_(key_ids))
        .distinct()
        .order_by(EndpointRow.name)
    )
    out: dict[str, list[Ref]] = {}
    for key_id, ep_id, ep_name in rows:
        if key_id is None:
            continue
        refs = out.setdefault(key_id, [])
        if all(r.id != ep_id for r in refs):
            refs.append(Ref(id=ep_id, name=ep_name))
    return out


def _view(row: ApiKeyRow, users: list[Ref]) -> KeyView:
    spec = catalog.get(row.provider)
    age = (utcnow() - row.credential_updated_at).days
    return KeyView(
        id=row.id,
        name=row.name,
        description=row.description,
        provider=row.provider,
        provider_display_name=spec.display_name if spec else row.provider,
        auth_method=row.auth_method,
        masked=dict(row.masked),
        config=dict(row.config),
        endpoints=users,
        created_at=row.created_at,
        updated_at=row.updated_at,
        credential_updated_at=row.credential_updated_at,
        rotate_after_days=row.rotate_after_days,
        credential_version=row.credential_version,
        credential_age_days=age,
        rotation_due=row.rotate_after_days is not None and age >= row.rotate_after_days,
        limits=LimitsIn.model_validate(row.limits) if row.limits else None,
        version=row.version,
    )
