"""Online KEK rotation, in Tink's order.

1. ``add``: a new KEK version becomes known (recorded with its key-check value) and
   decrypt-capable on every server (each re-reads its KEK source when the store says a
   version appeared).
2. ``promote``: the new version wraps every DEK written from now on.
3. ``rewrap``: each stored DEK is re-wrapped under the primary with a compare-and-set
   update, so a concurrent edit wins and a re-run is a no-op; batches commit as they go,
   so an interrupted run resumes where it stopped. Credential ciphertexts never change.
4. ``retire``: an old version is retired only when no row uses it.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select, update

from keyhouse.errors import Conflict, KekConfigError, NotFound
from keyhouse.store.models import ApiKeyRow, ApiKeyVersionRow, KekVersionRow
from keyhouse.store.store import Store, audit
from keyhouse.vault.envelope import Kek, Sealed, rewrap
from keyhouse.vault.kek import (
    SALT_BYTES,
    KeyFileSource,
    PassphraseSource,
    key_check_value,
)
from keyhouse.vault.keyring import KekRecord, Keyring


@dataclass
class RewrapReport:
    total: int = 0
    rewrapped: int = 0
    already: int = 0
    raced: int = 0  # edited meanwhile: the edit sealed it under the primary already


def next_version(store: Store, keyring: Keyring) -> int:
    return max([r.version for r in store.kek_records()] + keyring.versions + [0]) + 1


def add_to_key_file(source: KeyFileSource, store: Store, keyring: Keyring) -> int:
    """Append a new random KEK as ``N:BASE64`` to the key file and record it."""
    version = next_version(store, keyring)
    key = os.urandom(32)
    with source.path.open("a") as fh:
        fh.write(f"{version}:{base64.b64encode(key).decode()}\n")
    store.add_kek_record(KekRecord(version, key_check_value(key), "file", None, "active"))
    keyring.add(Kek(version, key))
    return version


def add_passphrase(source: PassphraseSource, store: Store, keyring: Keyring) -> int:
    version = next_version(store, keyring)
    salt = os.urandom(SALT_BYTES)
    key = source.derive(salt)
    store.add_kek_record(KekRecord(version, key_check_value(key), "passphrase", salt,
                                   "active"))
    keyring.add(Kek(version, key))
    return version


def promote(store: Store, keyring: Keyring, version: int, actor: str = "cli") -> None:
    keyring.get(version)  # this process must hold it before anyone writes under it
    with store.write() as session:
        rows = {r.version: r for r in session.scalars(select(KekVersionRow))}
        if version not in rows:
            raise NotFound(f"KEK version {version} is not recorded; add it first.")
        if rows[version].state == "retired":
            raise Conflict(f"KEK version {version} is retired.")
        for row in rows.values():
            if row.state == "primary" and row.version != version:
                row.state = "active"
        rows[version].state = "primary"
        audit(session, actor, "kek.promote", "kek", str(version), None)
    keyring.set_primary(version)


def rewrap_all(store: Store, keyring: Keyring, *, batch: int = 100,
               progress: Callable[[int], None] | None = None,
               stop_after: int | None = None) -> RewrapReport:
    """Re-wrap every DEK (keys and kept credential versions) under the primary KEK."""
    target = keyring.primary
    report = RewrapReport()
    for table in (ApiKeyRow, ApiKeyVersionRow):
        with store.read() as session:
            report.total += len(session.scalars(select(table.id)).all())
        while True:
            with store.write() as session:
                rows = session.execute(
                    select(table.id, table.kek_version, table.wrapped_dek, table.format,
                           table.ciphertext, *([ApiKeyVersionRow.key_id]
                                               if table is ApiKeyVersionRow else []))
                    .where(table.kek_version != target.version).order_by(table.id)
                    .limit(batch)).all()
                if not rows:
                    break
                for row in rows:
                    row_id = row.key_id if table is ApiKeyVersionRow else row.id
                    sealed = Sealed(row.format, row.kek_version, row.wrapped_dek, row.ciphertext)
                    moved = rewrap(keyring.get(row.kek_version), target, sealed, row_id)
                    result = session.execute(
                        update(table).where(table.id == row.id,
                                            table.kek_version == row.kek_version,
                                            table.wrapped_dek == row.wrapped_dek)
                        .values(kek_version=moved.kek_version, wrapped_dek=moved.wrapped_dek))
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


def retire(store: Store, version: int, actor: str = "cli") -> None:
    with store.write() as session:
        row = session.get(KekVersionRow, version)
        if row is None:
            raise NotFound(f"KEK version {version} is not recorded.")
        if row.state == "primary":
            raise Conflict(f"KEK version {version} is the primary; rotate to another first.")
        in_use = sum(len(session.scalars(select(t.id).where(t.kek_version == version)).all())
                     for t in (ApiKeyRow, ApiKeyVersionRow))
        if in_use:
            raise Conflict(f"KEK version {version} still wraps {in_use} row(s); run "
                           "'keyhouse kek rotate' to re-wrap them first.")
        row.state = "retired"
        audit(session, actor, "kek.retire", "kek", str(version), None)


def ensure_newer_than_primary(keyring: Keyring) -> int | None:
    newer = [v for v in keyring.versions if v > keyring.primary_version]
    return max(newer) if newer else None


__all__ = ["KekConfigError", "RewrapReport", "add_passphrase", "add_to_key_file",
           "ensure_newer_than_primary", "promote", "retire", "rewrap_all"]
