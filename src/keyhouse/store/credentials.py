"""The stored credential's one owner: seal, open, the AAD rule, history, rollback, re-wrap.

Every module that reads or writes a key's sealed columns goes through here, so the rule
binding a ciphertext to its row (table, immutable key id, field set, provider; the
wrapped DEK to key id and KEK version) is written once. docs/security.md, "Encryption at
rest", is the contract.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from keyhouse.errors import NotFound
from keyhouse.store.models import ApiKeyRow, ApiKeyVersionRow, SealedCredential, utcnow
from keyhouse.store.store import Store
from keyhouse.vault.envelope import Sealed, open_sealed, rewrap, seal
from keyhouse.vault.keyring import Keyring
from keyhouse.vault.masking import mask_field

# The AAD's table: a key's kept versions use their key's, so only that key can take an
# old credential back.
TABLE = "api_keys"
KEEP = 5  # credential versions kept per key for rollback


def masks(secrets: dict[str, str]) -> dict[str, str]:
    return {k: mask_field(k, v) for k, v in sorted(secrets.items())}


def open_credential(
    keyring: Keyring, key_id: str, provider: str, sealed: Sealed, fields: tuple[str, ...]
) -> dict[str, str]:
    """The plaintext fields of a key's credential (current or kept)."""
    return open_sealed(keyring.get(sealed.kek_version), sealed, TABLE, key_id, provider, fields)


def open_row(keyring: Keyring, row: ApiKeyRow) -> dict[str, str]:
    return open_credential(keyring, row.id, row.provider, row.sealed(), row.fields)


def seal_onto(
    keyring: Keyring, row: ApiKeyRow, secrets: dict[str, str], shown: dict[str, str] | None = None
) -> None:
    """Seal ``secrets`` under a fresh DEK and the primary KEK onto ``row``."""
    row.store_sealed(
        seal(keyring.primary, TABLE, row.id, row.provider, secrets),
        shown if shown is not None else masks(secrets),
    )


def replace(session: Session, keyring: Keyring, row: ApiKeyRow, given: dict[str, str]) -> None:
    """New values for some secret fields: the current credential goes to the history,
    and the merged one is sealed fresh."""
    merged = {**open_row(keyring, row), **given}
    push_history(session, row)
    seal_onto(keyring, row, merged)
    row.credential_updated_at = utcnow()
    row.credential_version += 1


def push_history(session: Session, row: ApiKeyRow) -> None:
    """Keep the key's current credential as history before it is replaced."""
    session.add(
        ApiKeyVersionRow(
            key_id=row.id,
            credential_version=row.credential_version,
            secret_fields=row.secret_fields,
            format=row.format,
            kek_version=row.kek_version,
            wrapped_dek=row.wrapped_dek,
            ciphertext=row.ciphertext,
            masked=dict(row.masked),
            created_at=row.credential_updated_at,
            replaced_at=utcnow(),
        )
    )
    session.flush()
    keep = (
        select(ApiKeyVersionRow.id)
        .where(ApiKeyVersionRow.key_id == row.id)
        .order_by(ApiKeyVersionRow.credential_version.desc())
        .limit(KEEP)
    )
    session.execute(
        delete(ApiKeyVersionRow).where(
            ApiKeyVersionRow.key_id == row.id, ApiKeyVersionRow.id.not_in(keep.scalar_subquery())
        )
    )


def history(session: Session, key_id: str) -> list[ApiKeyVersionRow]:
    return list(
        session.scalars(
            select(ApiKeyVersionRow)
            .where(ApiKeyVersionRow.key_id == key_id)
            .order_by(ApiKeyVersionRow.credential_version.desc())
        )
    )


def roll_back(session: Session, keyring: Keyring, row: ApiKeyRow, version: int) -> None:
    """Make a kept credential current again, re-sealed under a fresh DEK."""
    old = session.scalar(
        select(ApiKeyVersionRow).where(
            ApiKeyVersionRow.key_id == row.id, ApiKeyVersionRow.credential_version == version
        )
    )
    if old is None:
        raise NotFound(f"The key has no kept credential version {version}.")
    secrets = open_credential(keyring, row.id, row.provider, old.sealed(), old.fields)
    highest = max(
        session.scalars(
            select(ApiKeyVersionRow.credential_version).where(ApiKeyVersionRow.key_id == row.id)
        ).all(),
        default=0,
    )
    push_history(session, row)
    seal_onto(keyring, row, secrets, dict(old.masked))
    row.credential_version = max(row.credential_version, highest) + 1
    row.credential_updated_at = utcnow()


@dataclass
class RewrapReport:
    total: int = 0
    rewrapped: int = 0
    already: int = 0
    raced: int = 0  # edited meanwhile: the edit sealed it under the primary already


def rewrap_all(
    store: Store,
    keyring: Keyring,
    *,
    batch: int = 100,
    progress: Callable[[int], None] | None = None,
    stop_after: int | None = None,
) -> RewrapReport:
    """Re-wrap every DEK (keys and kept credential versions) not under the primary KEK.

    Each batch commits on its own, and each row moves with a compare-and-set on its old
    wrapped DEK, so a concurrent edit wins, an interrupted run resumes where it stopped,
    and a run with nothing left to move changes nothing. Credential ciphertexts never
    change."""
    target = keyring.primary
    report = RewrapReport()
    tables: tuple[type[SealedCredential], ...] = (ApiKeyRow, ApiKeyVersionRow)
    for table in tables:
        owner = ApiKeyVersionRow.key_id if table is ApiKeyVersionRow else ApiKeyRow.id
        with store.read() as session:
            report.total += len(session.scalars(select(owner)).all())
        while True:
            with store.write() as session:
                rows = session.execute(
                    select(
                        table.id,  # type: ignore[attr-defined]
                        owner.label("owner"),
                        table.kek_version,
                        table.wrapped_dek,
                        table.format,
                        table.ciphertext,
                    )
                    .where(table.kek_version != target.version)
                    .order_by(table.id)  # type: ignore[attr-defined]
                    .limit(batch)
                ).all()
                if not rows:
                    break
                for row in rows:
                    sealed = Sealed(row.format, row.kek_version, row.wrapped_dek, row.ciphertext)
                    moved = rewrap(keyring.get(row.kek_version), target, sealed, row.owner)
                    result = session.execute(
                        update(table)
                        .where(
                            table.id == row.id,  # type: ignore[attr-defined]
                            table.kek_version == row.kek_version,
                            table.wrapped_dek == row.wrapped_dek,
                        )
                        .values(kek_version=moved.kek_version, wrapped_dek=moved.wrapped_dek)
                    )
                    if getattr(result, "rowcount", 1) == 1:
                        report.rewrapped += 1
                    else:
                        report.raced += 1
                    if progress:
                        progress(1)
                    if stop_after is not None and report.rewrapped >= stop_after:
                        return report  # the batch so far commits: a re-run resumes
    report.already = report.total - report.rewrapped - report.raced
    return report


def rows_off_primary(store: Store, keyring: Keyring) -> int:
    """How many sealed rows are not yet under the primary KEK (work a rotation has left)."""
    in_use = store.kek_versions_in_use()
    return sum(n for v, n in in_use.items() if v != keyring.primary_version)
