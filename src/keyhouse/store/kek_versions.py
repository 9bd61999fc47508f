"""KEK versions over their life, in Tink's order, each step on its own and restartable.

docs/security.md, "KEK rotation is online":

1. ``add``: a new version becomes known (recorded with its key-check value) and
   decrypt-capable on every server (each re-reads its KEK source when the store says a
   version appeared). Only ``kek add`` and ``kek rotate --new`` mint one.
2. ``promote``: it wraps every DEK written from now on.
3. re-wrap (``store.credentials.rewrap_all``): each stored DEK moves to the primary.
4. ``retire``: an old version, only when no row uses it.

``rotate`` looks at where the store stands and does only the steps left: a rotation that
was interrupted (a version added but not promoted, rows still on an older version) is
finished; one that is complete is a no-op that says so.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import select

from keyhouse.errors import Conflict, NotFound
from keyhouse.store.credentials import RewrapReport, rewrap_all, rows_off_primary
from keyhouse.store.models import ApiKeyRow, ApiKeyVersionRow, KekVersionRow
from keyhouse.store.store import Store, audit
from keyhouse.vault.envelope import Kek
from keyhouse.vault.kek import SALT_BYTES, KeyFileSource, PassphraseSource, key_check_value
from keyhouse.vault.keyring import KekRecord, Keyring


def next_version(store: Store, keyring: Keyring) -> int:
    return max([r.version for r in store.kek_records()] + keyring.versions + [0]) + 1


def add_to_key_file(source: KeyFileSource, store: Store, keyring: Keyring) -> int:
    """Append a new random KEK as ``N:BASE64`` to the key file, then record it. In that
    order: a crash between the two leaves a line the next start records by itself."""
    version = next_version(store, keyring)
    key = os.urandom(32)
    source.append(version, key)
    store.add_kek_records([KekRecord(version, key_check_value(key), "file", None, "active")])
    keyring.add(Kek(version, key))
    return version


def add_passphrase(source: PassphraseSource, store: Store, keyring: Keyring) -> int:
    version = next_version(store, keyring)
    salt = os.urandom(SALT_BYTES)
    key = source.derive(salt)
    store.add_kek_records([KekRecord(version, key_check_value(key), "passphrase", salt, "active")])
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


def retire(store: Store, version: int, actor: str = "cli") -> None:
    with store.write() as session:
        row = session.get(KekVersionRow, version)
        if row is None:
            raise NotFound(f"KEK version {version} is not recorded.")
        if row.state == "primary":
            raise Conflict(f"KEK version {version} is the primary; rotate to another first.")
        in_use = sum(
            len(session.scalars(select(t.id).where(t.kek_version == version)).all())
            for t in (ApiKeyRow, ApiKeyVersionRow)
        )
        if in_use:
            raise Conflict(
                f"KEK version {version} still wraps {in_use} row(s); run "
                "'keyhouse kek rotate' to re-wrap them first."
            )
        row.state = "retired"
        audit(session, actor, "kek.retire", "kek", str(version), None)


@dataclass
class Rotation:
    """What ``rotate`` did, step by step, for the operator to read."""

    primary: int
    added: int | None = None
    promoted: int | None = None
    rewrap: RewrapReport = field(default_factory=RewrapReport)
    resumed: bool = False  # an earlier, interrupted rotation was finished

    @property
    def did_nothing(self) -> bool:
        return self.added is None and self.promoted is None and self.rewrap.total == 0


def pending_version(store: Store, keyring: Keyring) -> int | None:
    """A version added (and held here) but not yet promoted: a rotation under way."""
    newer = [
        r.version
        for r in store.kek_records()
        if r.state == "active"
        and r.version > keyring.primary_version
        and r.version in keyring.versions
    ]
    return max(newer) if newer else None


def rotate(
    store: Store,
    keyring: Keyring,
    *,
    mint: Callable[[], int] | None = None,
    batch: int = 100,
    progress: Callable[[int], None] | None = None,
) -> Rotation:
    """Finish the rotation under way, or with ``mint``, start a new one.

    ``mint`` (adding a version) runs only when no earlier rotation is unfinished, so
    re-running the same command after a crash never mints a second version."""
    outcome = Rotation(primary=keyring.primary_version)
    target = pending_version(store, keyring)
    unfinished = target is not None or rows_off_primary(store, keyring) > 0
    if unfinished:
        outcome.resumed = True
    elif mint is not None:
        target = outcome.added = mint()
    if target is not None:
        promote(store, keyring, target)
        outcome.promoted = outcome.primary = target
    if rows_off_primary(store, keyring):
        outcome.rewrap = rewrap_all(store, keyring, batch=batch, progress=progress)
    return outcome
