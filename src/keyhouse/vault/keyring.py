"""Start-up: match the configured KEK material to the versions the database records.

Fails fast, before any port is bound, with a message that names the KEK version and the
setting to fix — never key bytes — when the KEK is missing or wrong, or when rows use a
version that is not configured.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Protocol

from keyhouse.errors import KekConfigError
from keyhouse.vault.envelope import Kek
from keyhouse.vault.kek import (
    SALT_BYTES,
    KekMaterial,
    KeyFileSource,
    PassphraseSource,
    key_check_value,
)


@dataclass(frozen=True, slots=True)
class KekRecord:
    version: int
    kcv: bytes
    source: str
    salt: bytes | None
    state: str  # primary | active | retired


class KekStore(Protocol):
    def kek_records(self) -> list[KekRecord]: ...

    def add_kek_records(self, records: list[KekRecord]) -> None: ...

    def kek_versions_in_use(self) -> dict[int, int]: ...


class Keyring:
    """The KEK versions this process can use; ``primary`` wraps new DEKs."""

    def __init__(self, keks: dict[int, Kek], primary: int) -> None:
        self._keks = dict(keks)
        self.primary_version = primary

    def __repr__(self) -> str:
        return f"Keyring(versions={sorted(self._keks)}, primary={self.primary_version})"

    @property
    def primary(self) -> Kek:
        return self._keks[self.primary_version]

    @property
    def versions(self) -> list[int]:
        return sorted(self._keks)

    def add(self, kek: Kek) -> None:
        self._keks[kek.version] = kek

    def set_primary(self, version: int) -> None:
        self.get(version)
        self.primary_version = version

    def replace(self, other: Keyring) -> None:
        """Take another keyring's versions in place: everyone holding this object (the
        key service, the registry) sees the new KEKs at once, without a restart."""
        self._keks = dict(other._keks)
        self.primary_version = other.primary_version

    def get(self, version: int) -> Kek:
        kek = self._keks.get(version)
        if kek is None:
            raise KekConfigError(f"KEK version {version} is not configured on this server.")
        return kek


@dataclass(frozen=True, slots=True)
class KeyringResult:
    keyring: Keyring
    generated_file: str | None = None


def open_keyring(source: KeyFileSource | PassphraseSource, store: KekStore) -> KeyringResult:
    """Every check passes before any new version is recorded: a start that fails leaves
    the ``kek_versions`` table as it found it."""
    records = {r.version: r for r in store.kek_records()}
    generated: str | None = None
    new: list[KekRecord] = []

    if isinstance(source, PassphraseSource):
        keks = _from_passphrase(source, records, new)
    else:
        if not source.exists():
            if records:
                raise KekConfigError(
                    f"No KEK: {source.path} does not exist, but the database holds data "
                    f"encrypted under KEK version(s) {sorted(records)}. Restore the KEK file "
                    f"from your backup and point {source.setting} at it."
                )
            source.generate()
            generated = str(source.path)
        keks = _from_materials(source.materials(), records, new)

    in_use = store.kek_versions_in_use()
    missing = sorted(v for v in in_use if v not in keks)
    if missing:
        raise KekConfigError(
            f"Rows are encrypted under KEK version(s) {missing}, which this server does not "
            f"have. Add them to {source.setting}."
        )
    primaries = [v for v, r in records.items() if r.state == "primary"]
    primary = max(primaries) if primaries else max(keks)
    if primary not in keks:
        raise KekConfigError(
            f"KEK version {primary} is the primary version but is not configured; "
            f"add it to {source.setting}."
        )
    store.add_kek_records(new)
    return KeyringResult(Keyring(keks, primary), generated)


def _from_materials(
    materials: list[KekMaterial], records: dict[int, KekRecord], new: list[KekRecord]
) -> dict[int, Kek]:
    """Match each key to its recorded version; versions seen for the first time go to
    ``new`` (and into ``records``) for the caller to record once all is well."""
    keks: dict[int, Kek] = {}
    for material in materials:
        kcv = key_check_value(material.key)
        version = material.version
        if version is None:
            matches = [v for v, r in records.items() if r.kcv == kcv]
            if matches:
                version = matches[0]
            elif records:
                raise KekConfigError(
                    f"The KEK in {material.origin} matches none of the KEK versions in the "
                    f"database ({sorted(records)}): it is the wrong key. Point the setting "
                    f"at the KEK this database was created with."
                )
            else:
                version = 1
        record = records.get(version)
        if record is None:
            state = "primary" if not records and not keks else "active"
            record = KekRecord(version, kcv, "file", None, state)
            new.append(record)
            records[version] = record
        elif record.kcv != kcv:
            raise KekConfigError(
                f"KEK version {version} in {material.origin} does not match the key-check "
                f"value the database holds for version {version}: it is the wrong key."
            )
        keks[version] = Kek(version, material.key)
    return keks


def _from_passphrase(
    source: PassphraseSource, records: dict[int, KekRecord], new: list[KekRecord]
) -> dict[int, Kek]:
    keks: dict[int, Kek] = {}
    for record in (r for r in records.values() if r.source == "passphrase"):
        for key in source.derive_each(record.salt or b""):
            if key_check_value(key) == record.kcv:
                keks[record.version] = Kek(record.version, key)
                break
    if keks:
        return keks
    if records:
        raise KekConfigError(
            f"{source.setting} does not open any KEK version in the database "
            f"({sorted(records)}): it is the wrong passphrase."
        )
    salt = os.urandom(SALT_BYTES)
    key = source.derive(salt)
    record = KekRecord(1, key_check_value(key), "passphrase", salt, "primary")
    new.append(record)
    records[1] = record
    return {1: Kek(1, key)}
