"""Open every KEK source the settings configure — the key file or passphrase and any
KMS — into one keyring, and pick or add the version a rotation moves rows to.

Rows can sit under a file version and a KMS version at once (mid-rotation, either way),
so each KMS version is matched to its provider by its own check value, and the local
source is opened by ``vault.keyring.open_keyring`` over a view of the store that shows it
only the local versions.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from keyhouse.errors import KekConfigError
from keyhouse.settings import Settings
from keyhouse.vault.envelope import Kek
from keyhouse.vault.kek import KeyFileSource, PassphraseSource
from keyhouse.vault.keyring import KekRecord, KekStore, Keyring, KeyringResult, open_keyring
from keyhouse.vault.kms.base import KmsKek, KmsProvider, make_check, probe, verify_check

log = logging.getLogger("keyhouse.vault.kms")

KMS_SETTINGS = {
    "aws_kms": "KEYHOUSE_AWS_KMS_KEY_ID",
    "gcp_kms": "KEYHOUSE_GCP_KMS_KEY_NAME",
    "azure_keyvault": "KEYHOUSE_AZURE_KEYVAULT_KEY_URL",
    "vault_transit": "KEYHOUSE_VAULT_TRANSIT_KEY",
}
LOCAL_KINDS = ("file", "passphrase")


def local_source(settings: Settings) -> KeyFileSource | PassphraseSource:
    if settings.kek_passphrase is not None:
        return PassphraseSource(settings.kek_passphrase.get_secret_value())
    return KeyFileSource(settings.resolved_kek_file)


def target_kind(settings: Settings) -> str:
    """Where new KEK versions are made."""
    if settings.kek_provider:
        return settings.kek_provider
    return "passphrase" if settings.kek_passphrase is not None else "file"


def kms_providers(settings: Settings) -> dict[str, KmsProvider]:
    """One provider per KMS whose key setting is set (their clients are reused)."""
    timeout = settings.kms_timeout_seconds
    out: dict[str, KmsProvider] = {}
    if settings.aws_kms_key_id:
        from keyhouse.vault.kms.aws import AwsKms

        out["aws_kms"] = AwsKms(
            settings.aws_kms_key_id,
            region=settings.aws_kms_region,
            endpoint_url=settings.aws_kms_endpoint_url,
            timeout=timeout,
        )
    if settings.gcp_kms_key_name:
        from keyhouse.vault.kms.gcp import GoogleKms

        out["gcp_kms"] = GoogleKms(
            settings.gcp_kms_key_name, endpoint_url=settings.gcp_kms_endpoint_url, timeout=timeout
        )
    if settings.azure_keyvault_key_url:
        from keyhouse.vault.kms.azure import AzureKeyVault

        out["azure_keyvault"] = AzureKeyVault(
            settings.azure_keyvault_key_url,
            client_id=settings.azure_keyvault_client_id,
            timeout=timeout,
        )
    if settings.vault_transit_key:
        from keyhouse.vault.kms.vault_transit import VaultTransit

        if not settings.vault_transit_addr or settings.vault_transit_token is None:
            raise KekConfigError(
                "KEYHOUSE_VAULT_TRANSIT_KEY needs KEYHOUSE_VAULT_TRANSIT_ADDR "
                "and KEYHOUSE_VAULT_TRANSIT_TOKEN."
            )
        out["vault_transit"] = VaultTransit(
            settings.vault_transit_addr,
            settings.vault_transit_key,
            settings.vault_transit_token.get_secret_value(),
            mount=settings.vault_transit_mount,
            namespace=settings.vault_transit_namespace,
            timeout=timeout,
        )
    kind = target_kind(settings)
    if kind in KMS_SETTINGS and kind not in out:
        raise KekConfigError(f"KEYHOUSE_KEK_PROVIDER={kind} needs {KMS_SETTINGS[kind]}.")
    if kind == "passphrase" and settings.kek_passphrase is None:
        raise KekConfigError("KEYHOUSE_KEK_PROVIDER=passphrase needs KEYHOUSE_KEK_PASSPHRASE.")
    return out


class _LocalView:
    """The store as the local (file or passphrase) source should see it."""

    def __init__(self, store: KekStore) -> None:
        self._store = store

    def kek_records(self) -> list[KekRecord]:
        return [r for r in self._store.kek_records() if r.source in LOCAL_KINDS]

    def add_kek_records(self, records: list[KekRecord]) -> None:
        self._store.add_kek_records(records)

    def kek_versions_in_use(self) -> dict[int, int]:
        remote = {r.version for r in self._store.kek_records() if r.source not in LOCAL_KINDS}
        return {v: n for v, n in self._store.kek_versions_in_use().items() if v not in remote}


def _setting(source: str, settings: Settings) -> str:
    if source in KMS_SETTINGS:
        return KMS_SETTINGS[source]
    return "KEYHOUSE_KEK_PASSPHRASE" if source == "passphrase" else "KEYHOUSE_KEK_FILE"


def open_configured_keyring(
    settings: Settings, store: KekStore, providers: dict[str, KmsProvider] | None = None
) -> KeyringResult:
    """Every configured KEK version, checked before any port is bound."""
    providers = kms_providers(settings) if providers is None else providers
    records = store.kek_records()
    in_use = store.kek_versions_in_use()
    keks: dict[int, Kek] = {}
    for kind, provider in providers.items():
        mine = [r for r in records if r.source == kind and r.state != "retired"]
        if not mine:
            probe(provider)  # unreachable or unpermitted keys stop start-up too
        for record in mine:
            if verify_check(provider, record.version, record.kcv, record.salt):
                keks[record.version] = KmsKek(record.version, provider)
            elif record.version in in_use or record.state == "primary":
                raise KekConfigError(
                    f"KEK version {record.version} was made with another {kind} key than "
                    f"{provider.key_ref}: point {provider.setting} at the key this database "
                    "was encrypted with."
                )

    generated: str | None = None
    first: KekRecord | None = None  # recorded once every check has passed
    kind = target_kind(settings)
    local = [r for r in records if r.source in LOCAL_KINDS]
    source = local_source(settings)
    available = isinstance(source, PassphraseSource) or source.exists()
    if (not records and kind in LOCAL_KINDS) or (
        local and (available or any(r.state != "retired" for r in local))
    ):
        opened = open_keyring(source, _LocalView(store))
        keks.update({v: opened.keyring.get(v) for v in opened.keyring.versions})
        generated = opened.generated_file
    elif not records:
        provider = providers[kind]
        kcv, wrapped = make_check(provider, 1)
        first = KekRecord(1, kcv, kind, wrapped, "primary")
        keks[1] = KmsKek(1, provider)

    records = store.kek_records() + ([first] if first else [])
    sources = {r.version: r.source for r in records}
    missing = sorted(v for v in in_use if v not in keks)
    if missing:
        named = ", ".join(_setting(sources[v], settings) for v in missing if v in sources)
        raise KekConfigError(
            f"Rows are encrypted under KEK version(s) {missing}, which this server cannot "
            f"open. {f'Set {named}.' if named else 'Add them to the KEK source.'}"
        )
    primaries = [r for r in records if r.state == "primary"]
    primary = primaries[-1].version if primaries else max(keks, default=0)
    if primary not in keks:
        source_name = primaries[-1].source if primaries else kind
        raise KekConfigError(
            f"KEK version {primary} is the primary version but is not "
            f"configured; set {_setting(source_name, settings)}."
        )
    if first is not None:
        store.add_kek_records([first])
    return KeyringResult(Keyring(keks, primary), generated)


def reopener(
    settings: Settings, store: KekStore, providers: dict[str, KmsProvider]
) -> Callable[[], Keyring]:
    return lambda: open_configured_keyring(settings, store, providers).keyring
