"""Which KEK source a rotation moves rows to, and a new version there.

``KEYHOUSE_KEK_PROVIDER`` names the target: the key file, or a KMS. ``keyhouse kek
rotate`` starts a rotation by itself when the primary lives elsewhere (moving from the
file to a KMS, or back); re-running it after an interruption finishes that rotation
instead, since ``kek_versions.rotate`` mints only when nothing is under way.
"""

from __future__ import annotations

import os

from keyhouse.errors import KekConfigError
from keyhouse.settings import Settings
from keyhouse.store.kek_versions import add_to_key_file, next_version
from keyhouse.store.store import Store
from keyhouse.vault.kek import KeyFileSource
from keyhouse.vault.keyring import KekRecord, Keyring
from keyhouse.vault.kms.base import KmsKek, KmsProvider, make_check
from keyhouse.vault.kms.keyring import KMS_SETTINGS, target_kind


def primary_elsewhere(settings: Settings, store: Store, keyring: Keyring) -> bool:
    """Whether the primary version lives in another source than the target."""
    sources = {r.version: r.source for r in store.kek_records()}
    return sources.get(keyring.primary_version) != target_kind(settings)


def add_version(
    settings: Settings, store: Store, keyring: Keyring, providers: dict[str, KmsProvider]
) -> tuple[int, str]:
    """A new decrypt-capable (not yet primary) version in the target; (version, what
    was done, for the operator)."""
    kind = target_kind(settings)
    if kind in KMS_SETTINGS:
        provider = providers[kind]
        version = next_version(store, keyring)
        kcv, wrapped = make_check(provider, version)
        store.add_kek_records([KekRecord(version, kcv, kind, wrapped, "active")])
        keyring.add(KmsKek(version, provider))
        return version, f"added KEK version {version} in {kind} ({provider.key_ref})"
    if kind == "passphrase":
        raise KekConfigError(
            "A passphrase version is added with 'keyhouse kek add', which "
            "asks for the new passphrase."
        )
    path = settings.resolved_kek_file
    if not path.exists():  # moving back from a KMS after the old file was retired
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    version = add_to_key_file(KeyFileSource(path), store, keyring)
    return version, f"added KEK version {version} to {path}"
