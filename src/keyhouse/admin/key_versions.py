"""Credential versions: the last few credentials of a key, kept sealed for rollback
(sealing and opening them is ``keyhouse.store.credentials``'s job)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from keyhouse.admin.keys_service import check_version
from keyhouse.admin.schemas import CredentialVersion
from keyhouse.errors import NotFound
from keyhouse.store import credentials
from keyhouse.store.models import ApiKeyRow
from keyhouse.store.store import Store, audit
from keyhouse.vault.keyring import Keyring


@dataclass
class KeyVersions:
    store: Store
    keyring: Keyring

    def list(self, key_id: str) -> list[CredentialVersion]:
        with self.store.read() as session:
            row = session.get(ApiKeyRow, key_id)
            if row is None:
                raise NotFound("No API key with that id.")
            out = [
                CredentialVersion(
                    version=row.credential_version,
                    masked=dict(row.masked),
                    created_at=row.credential_updated_at,
                    replaced_at=None,
                    current=True,
                )
            ]
            for old in credentials.history(session, key_id):
                out.append(
                    CredentialVersion(
                        version=old.credential_version,
                        masked=dict(old.masked),
                        created_at=old.created_at,
                        replaced_at=old.replaced_at,
                        current=False,
                    )
                )
            return out

    def rollback(
        self, key_id: str, version: int, actor: str, if_match: int | None = None
    ) -> datetime:
        """Make an earlier credential current again (re-sealed under a fresh DEK)."""
        with self.store.write() as session:
            row = session.scalar(select(ApiKeyRow).where(ApiKeyRow.id == key_id).with_for_update())
            if row is None:
                raise NotFound("No API key with that id.")
            check_version(row.version, if_match)
            credentials.roll_back(session, self.keyring, row, version)
            row.updated_at = row.credential_updated_at
            row.version += 1
            audit(
                session,
                actor,
                "key.rollback",
                "key",
                row.id,
                row.name,
                restored_version=version,
                new_version=row.credential_version,
            )
            return row.updated_at
