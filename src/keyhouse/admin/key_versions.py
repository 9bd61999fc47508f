"""Credential versions: the last few credentials of a key, kept sealed for rollback."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from keyhouse.admin.schemas import CredentialVersion
from keyhouse.errors import NotFound, PreconditionFailed
from keyhouse.store.models import ApiKeyRow, ApiKeyVersionRow, utcnow
from keyhouse.store.store import Store, audit
from keyhouse.vault.envelope import open_sealed, seal
from keyhouse.vault.keyring import Keyring

KEEP = 5
TABLE = "api_keys"


def push_history(session: Session, row: ApiKeyRow) -> None:
    """Keep the key's current credential as history before it is replaced."""
    session.add(ApiKeyVersionRow(
        key_id=row.id, credential_version=row.credential_version,
        secret_fields=row.secret_fields, format=row.format, kek_version=row.kek_version,
        wrapped_dek=row.wrapped_dek, ciphertext=row.ciphertext, masked=dict(row.masked),
        created_at=row.credential_updated_at, replaced_at=utcnow()))
    session.flush()
    keep = select(ApiKeyVersionRow.id).where(ApiKeyVersionRow.key_id == row.id).order_by(
        ApiKeyVersionRow.credential_version.desc()).limit(KEEP)
    session.execute(delete(ApiKeyVersionRow).where(
        ApiKeyVersionRow.key_id == row.id, ApiKeyVersionRow.id.not_in(keep.scalar_subquery())))


@dataclass
class KeyVersions:
    store: Store
    keyring: Keyring

    def list(self, key_id: str) -> list[CredentialVersion]:
        with self.store.read() as session:
            row = session.get(ApiKeyRow, key_id)
            if row is None:
                raise NotFound("No API key with that id.")
            out = [CredentialVersion(version=row.credential_version, masked=dict(row.masked),
                                     created_at=row.credential_updated_at, replaced_at=None,
                                     current=True)]
            for old in session.scalars(select(ApiKeyVersionRow).where(
                    ApiKeyVersionRow.key_id == key_id).order_by(
                    ApiKeyVersionRow.credential_version.desc())):
                out.append(CredentialVersion(version=old.credential_version,
                                             masked=dict(old.masked), created_at=old.created_at,
                                             replaced_at=old.replaced_at, current=False))
            return out

    def rollback(self, key_id: str, version: int, actor: str,
                 if_match: int | None = None) -> datetime:
        """Make an earlier credential current again (re-sealed under a fresh DEK)."""
        with self.store.write() as session:
            row = session.scalar(select(ApiKeyRow).where(ApiKeyRow.id == key_id)
                                 .with_for_update())
            if row is None:
                raise NotFound("No API key with that id.")
            if if_match is not None and if_match != row.version:
                raise PreconditionFailed(
                    f"The key is at version {row.version}, not {if_match}; reload and retry.")
            old = session.scalar(select(ApiKeyVersionRow).where(
                ApiKeyVersionRow.key_id == key_id,
                ApiKeyVersionRow.credential_version == version))
            if old is None:
                raise NotFound(f"The key has no kept credential version {version}.")
            secrets = open_sealed(self.keyring.get(old.kek_version), old.sealed(), TABLE,
                                  row.id, row.provider, old.fields)
            push_history(session, row)
            row.store_sealed(seal(self.keyring.primary, TABLE, row.id, row.provider, secrets),
                             dict(old.masked))
            row.credential_version = max(row.credential_version, _max_version(session, key_id)) + 1
            row.credential_updated_at = row.updated_at = utcnow()
            row.version += 1
            audit(session, actor, "key.rollback", "key", row.id, row.name,
                  restored_version=version, new_version=row.credential_version)
            return row.updated_at


def _max_version(session: Session, key_id: str) -> int:
    versions = session.scalars(select(ApiKeyVersionRow.credential_version).where(
        ApiKeyVersionRow.key_id == key_id)).all()
    return max(versions, default=0)

