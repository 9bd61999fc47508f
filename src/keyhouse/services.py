"""What one Keyhouse process holds: built once by ``bootstrap`` (before any port is
bound), then handed to ``create_app``.

The admin API's services (keys, endpoints, access tokens) are made on first use: they
import the admin schemas (pydantic models), which ``keyhouse serve`` does not need
before its first gateway answer.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

from keyhouse.admin.sessions import SessionService, admin_token_hashes, ensure_admin_token
from keyhouse.gateway.live_config import LiveRegistry
from keyhouse.settings import Settings
from keyhouse.store import db
from keyhouse.store.store import Store
from keyhouse.vault.kek import KeyFileSource, PassphraseSource
from keyhouse.vault.keyring import Keyring
from keyhouse.vault.kms.keyring import kms_providers, open_configured_keyring, reopener

if TYPE_CHECKING:
    from keyhouse.admin.endpoints_service import EndpointService
    from keyhouse.admin.keys_service import KeyService
    from keyhouse.admin.tokens import AccessTokenService


@dataclass
class Services:
    settings: Settings
    store: Store
    keyring: Keyring
    registry: LiveRegistry
    sessions: SessionService
    # Set only on the start that created them, so the CLI can say so once.
    generated_admin_token: str | None = None
    generated_kek_file: str | None = None

    @cached_property
    def keys(self) -> KeyService:
        from keyhouse.admin.keys_service import KeyService

        return KeyService(
            self.store,
            self.keyring,
            self.settings.allow_private_upstreams,
            self.settings.allow_ambient_credentials,
        )

    @cached_property
    def endpoints(self) -> EndpointService:
        from keyhouse.admin.endpoints_service import EndpointService

        return EndpointService(self.store)

    @cached_property
    def tokens(self) -> AccessTokenService:
        from keyhouse.admin.tokens import AccessTokenService

        return AccessTokenService(self.store)


def kek_source(settings: Settings) -> KeyFileSource | PassphraseSource:
    from keyhouse.vault.kms.keyring import local_source

    return local_source(settings)


def bootstrap(settings: Settings, *, migrate: bool | None = None) -> Services:
    """Open the store and the keyring; raise KekConfigError if the KEK is wrong."""
    if settings.is_sqlite:
        settings.home.mkdir(parents=True, exist_ok=True, mode=0o700)
        db.create_private_sqlite_file(settings.resolved_database_url)
    store = Store(settings.resolved_database_url)
    try:
        return _open(settings, store, migrate)
    except BaseException:
        # Refused (a wrong KEK, a stale schema): nobody else will close this engine.
        store.dispose()
        raise


def _open(settings: Settings, store: Store, migrate: bool | None) -> Services:
    if migrate if migrate is not None else settings.is_sqlite:
        db.upgrade_if_needed(store.engine)
    elif not db.is_up_to_date(store.engine):
        from keyhouse.errors import Unavailable

        raise Unavailable("The database schema is not current; run 'keyhouse db upgrade'.")
    # The key file or passphrase and every configured KMS; a KMS that cannot be reached
    # or holds the wrong key stops start-up here, before a port is bound.
    providers = kms_providers(settings)
    opened = open_configured_keyring(settings, store, providers)
    generated_token = None
    if settings.admin_token is not None:
        hashes = [hashlib.sha256(settings.admin_token.get_secret_value().encode()).hexdigest()]
    else:
        generated_token = ensure_admin_token(store)
        hashes = admin_token_hashes(store)
    registry = LiveRegistry(
        store,
        opened.keyring,
        hashes,
        settings.max_stale_seconds,
        reopen_keyring=reopener(settings, store, providers),
        allow_ambient=settings.allow_ambient_credentials,
    )
    registry.load()
    store.on_commit(registry.load)
    return Services(
        settings=settings,
        store=store,
        keyring=opened.keyring,
        registry=registry,
        sessions=SessionService(store, settings.session_ttl_seconds),
        generated_admin_token=generated_token,
        generated_kek_file=opened.generated_file,
    )
