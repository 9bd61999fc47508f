"""One typed view of the operator's configuration (environment variables ``KEYHOUSE_*``).

Nothing reads the environment at import time: ``Settings()`` is built by the CLI (or a
test) and handed to ``create_app``.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="KEYHOUSE_", extra="ignore")

    home: Path = Field(default_factory=lambda: Path.home() / ".keyhouse")
    database_url: str | None = None
    kek_file: Path | None = None
    kek_passphrase: SecretStr | None = None
    admin_token: SecretStr | None = None
    allow_private_upstreams: bool = False

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
