"""One typed view of the operator's configuration (environment variables ``KEYHOUSE_*``).

Nothing reads the environment at import time: ``Settings()`` is built by the CLI (or a
test) and handed to ``create_app``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="KEYHOUSE_", extra="ignore")

    home: Path = Field(default_factory=lambda: Path.home() / ".keyhouse")
    database_url: str | None = None
    kek_file: Path | None = None
    kek_passphrase: SecretStr | None = None
    admin_token: SecretStr | None = None
    allow_private_upstreams: bool = False
    # Keyless auth methods hand every admin this server's own cloud identity.
    allow_ambient_credentials: bool = False

    # Where new KEK versions live; the others stay readable while their settings are set.
    # Unset: the passphrase when one is set, else the key file.
    kek_provider: (
        Literal["file", "passphrase", "aws_kms", "gcp_kms", "azure_keyvault", "vault_transit"]
        | None
    ) = None
    kms_timeout_seconds: float = 5.0
    aws_kms_key_id: str | None = None  # key id, ARN or alias ARN
    aws_kms_region: str | None = None
    aws_kms_endpoint_url: str | None = None
    gcp_kms_key_name: str | None = None  # projects/…/locations/…/keyRings/…/cryptoKeys/…
    gcp_kms_endpoint_url: str = "https://cloudkms.googleapis.com"
    azure_keyvault_key_url: str | None = None  # https://VAULT.vault.azure.net/keys/NAME[/VER]
    azure_keyvault_client_id: str | None = None  # a user-assigned managed identity
    vault_transit_addr: str | None = None  # https://vault.example.com:8200
    vault_transit_key: str | None = None
    vault_transit_mount: str = "transit"
    vault_transit_token: SecretStr | None = None
    vault_transit_namespace: str | None = None

    host: str = "127.0.0.1"
    port: int = 5000
    # How often each replica checks the store's config version: the bound on how long an
    # edit made on another replica takes to arrive here.
    poll_interval_seconds: float = 0.25
    # How long a replica keeps serving from memory while the database is unreachable.
    max_stale_seconds: float = 300.0
    session_ttl_seconds: int = 12 * 3600
    max_body_bytes: int = 10 * 1024 * 1024
    admin_max_body_bytes: int = 256 * 1024
    log_level: str = "info"
    # One line per request on the hot path costs ~3% of the gateway's CPU; off unless
    # asked for (KEYHOUSE_ACCESS_LOG=true).
    access_log: bool = False

    # Limits and budgets. With a Redis URL the counters are shared by every replica;
    # without one each process keeps its own (and says so at start-up and in /readyz).
    redis_url: SecretStr | None = None  # may carry a password
    redis_prefix: str = "keyhouse:limits:"
    limits_on_store_error: Literal["reject", "allow"] = "reject"
    # A concurrency slot whose release was lost (a replica died) returns after this long.
    limits_lease_seconds: float = 600.0
    # Budget reservations: the worst case is max_tokens x price; without max_tokens this
    # many output tokens, and without a known price this many dollars per call.
    budget_default_max_tokens: int = 4096
    budget_default_reservation_usd: float = 0.05
    alert_webhook_url: str | None = None
    # Usage records: kept this many days; at most this many wait for the writer (more
    # are dropped and counted, never waited for). Recording off (no records, metrics or
    # spans) exists to measure what recording costs.
    usage_retention_days: int = Field(default=30, ge=1)
    usage_buffer_size: int = Field(default=50_000, ge=1)
    usage_recording: bool = True
    usage_flush_seconds: float = Field(default=0.5, gt=0)
    # /metrics accepts this bearer token besides the admin token.
    metrics_token: SecretStr | None = None
    # Set → one OpenTelemetry span per gateway call, exported over OTLP/HTTP.
    otel_exporter_otlp_endpoint: str | None = Field(
        default=None,
        validation_alias=AliasChoices("OTEL_EXPORTER_OTLP_ENDPOINT", "otel_exporter_otlp_endpoint"),
    )

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.home / 'keyhouse.db'}"

    @property
    def is_sqlite(self) -> bool:
        return self.resolved_database_url.startswith("sqlite")

    @property
    def resolved_kek_file(self) -> Path:
        return self.kek_file or self.home / "kek.key"
