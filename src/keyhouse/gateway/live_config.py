"""The gateway's live configuration: endpoints, keys and tokens every request reads.

Loaded whole from the store and swapped atomically; an admin write on this replica
reloads it on commit (``Store.on_commit``), and each replica polls the store's config
version (off the request path) so an edit anywhere reaches it within one poll interval.
Credentials are opened through ``keyhouse.store.credentials`` when a key's version is
first seen and kept per key version, so the hot path does no database query and no key
derivation; every opened secret joins ``secrets``, the index that scrubs this process's
logs (docs/security.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import anyio
from sqlalchemy import select

from keyhouse.errors import (
    AmbientCredentialsDisabled,
    KeyhouseError,
    NoKey,
    Unauthorized,
    Unavailable,
)
from keyhouse.gateway.types import Endpoint, Principal, Target
from keyhouse.limits.spec import Limits, Subject
from keyhouse.providers import catalog
from keyhouse.providers.base import Credential
from keyhouse.redaction import SecretIndex
from keyhouse.store.credentials import open_credential
from keyhouse.store.models import (
    AccessTokenRow,
    ApiKeyRow,
    ConfigStateRow,
    EndpointRow,
    KekVersionRow,
)
from keyhouse.store.store import Store
from keyhouse.usage.prices import PriceOverride
from keyhouse.vault.envelope import Sealed
from keyhouse.vault.keyring import Keyring

log = logging.getLogger("keyhouse.live_config")


@dataclass(frozen=True, slots=True)
class KeyRecord:
    id: str
    name: str
    provider: str
    auth_method: str
    config: dict[str, str]
    fields: tuple[str, ...]
    sealed: Sealed = field(repr=False)
    version: int
    credential_version: int = 1
    # Keyless: the key acts as the server's own cloud identity (the catalog says which).
    ambient: bool = False


@dataclass(frozen=True, slots=True)
class Snapshot:
    version: int = -1
    endpoints: dict[str, Endpoint] = field(default_factory=dict)
    aliases: dict[str, Endpoint] = field(default_factory=dict)
    keys: dict[str, KeyRecord] = field(default_factory=dict)
    tokens: dict[str, Principal] = field(default_factory=dict)


class LiveRegistry:
    def __init__(
        self,
        store: Store,
        keyring: Keyring,
        admin_hashes: list[str],
        max_stale_seconds: float = 300.0,
        reopen_keyring: Callable[[], Keyring] | None = None,
        allow_ambient: bool = False,
    ) -> None:
        self.store = store
        # KEYHOUSE_ALLOW_AMBIENT_CREDENTIALS, judged on every use and not only when a key
        # is saved: a keyless key made while it was on must not keep the server's own
        # cloud identity after a restart with it off.
        self.allow_ambient = allow_ambient
        # Keyless keys refused while it is off: opened once (so their secrets are
        # scrubbed from logs), never handed out. key id -> what was opened.
        self._held: dict[str, tuple[int, Sealed]] = {}
        self.keyring = keyring
        self._reopen_keyring = reopen_keyring
        self._kek_retry_at: float | None = None
        self._admin_hashes = list(admin_hashes)
        self._snapshot = Snapshot()
        # Keyed on the sealed columns themselves: any change to them, an edit or a
        # tampering in SQL, opens the row again.
        self._credentials: dict[str, tuple[int, Sealed, Credential]] = {}
        self._max_stale = max_stale_seconds
        self._stale_since: float | None = None
        self._admin = Principal(token_id="admin", name="admin", is_admin=True)
        self.secrets = SecretIndex()

    # --- Registry protocol (the hot path) ----------------------------------------------

    def endpoint(self, name: str) -> Endpoint | None:
        self._check_fresh()
        snapshot = self._snapshot
        return snapshot.endpoints.get(name) or snapshot.aliases.get(name)

    def endpoints(self) -> list[Endpoint]:
        self._check_fresh()
        return sorted(self._snapshot.endpoints.values(), key=lambda e: e.name)

    def credential(self, key_id: str) -> Credential:
        record = self._snapshot.keys.get(key_id)
        if record is None:
            raise NoKey()
        hit = self._credentials.get(key_id)
        if hit and hit[0] == record.version and hit[1] == record.sealed:
            return hit[2]
        # Off the hot path: a refused key never enters the cache above.
        if record.ambient and not self.allow_ambient:
            raise _ambient_refused(record)
        credential = self._open(record)
        self._credentials[key_id] = (record.version, record.sealed, credential)
        return credential

    def _open(self, record: KeyRecord) -> Credential:
        secrets = open_credential(
            self.keyring, record.id, record.provider, record.sealed, record.fields
        )
        self.secrets.add(*secrets.values())
        return Credential(
            key_id=record.id,
            provider=record.provider,
            auth_method=record.auth_method,
            secrets=secrets,
            config=record.config,
            version=record.version,
        )

    def authenticate(self, token: str) -> Principal | None:
        if not token:
            return None
        digest = _hash(token)
        if self.is_admin_hash(digest):
            return self._admin
        principal = self._snapshot.tokens.get(digest)
        # Checked per request, not per load: expiry and a rotation's grace end on time on
        # every replica, with no write to wake the poll.
        if (
            principal is not None
            and principal.expires_at is not None
            and (principal.expires_at <= time.time())
        ):
            raise Unauthorized("The access token has expired.")
        return principal

    def limited_subjects(self) -> list[Subject]:
        """Every token, endpoint and key that has limits, once each."""
        seen: dict[tuple[str, str], Subject] = {}
        for principal in self._snapshot.tokens.values():
            if principal.limited is not None:
                seen[(principal.limited.scope, principal.limited.id)] = principal.limited
        for endpoint in self._snapshot.endpoints.values():
            for subject in endpoint.limited:
                seen[(subject.scope, subject.id)] = subject
        return sorted(seen.values(), key=lambda s: (s.scope, s.name))

    def is_admin_token(self, token: str) -> bool:
        return bool(token) and self.is_admin_hash(_hash(token))

    def is_admin_hash(self, digest: str) -> bool:
        # Constant-time against every admin hash: no early exit on the first mismatch.
        ok = False
        for known in self._admin_hashes:
            ok |= hmac.compare_digest(known, digest)
        return ok

    # --- loading ----------------------------------------------------------------------

    @property
    def version(self) -> int:
        return self._snapshot.version

    def set_admin_hashes(self, hashes: list[str]) -> None:
        self._admin_hashes = list(hashes)

    def load(self) -> None:
        with self.store.read() as session:
            version = int(
                session.scalar(select(ConfigStateRow.version).where(ConfigStateRow.id == 1)) or 0
            )
            key_rows = list(session.scalars(select(ApiKeyRow)))
            keys = {
                r.id: KeyRecord(
                    id=r.id,
                    name=r.name,
                    provider=r.provider,
                    auth_method=r.auth_method,
                    config={k: str(v) for k, v in r.config.items()},
                    fields=r.fields,
                    sealed=r.sealed(),
                    version=r.version,
                    credential_version=r.credential_version,
                    ambient=_is_ambient(r.provider, r.auth_method),
                )
                for r in key_rows
            }
            key_limits = {
                r.id: Subject("key", r.id, r.name, limits)
                for r in key_rows
                if (limits := Limits.from_json(r.limits)) is not None
            }
            endpoints = {}
            for e in session.scalars(select(EndpointRow)):
                targets = tuple(
                    Target(
                        key_id=t.key_id if t.key_id in keys else None,
                        provider=keys[t.key_id].provider if t.key_id in keys else None,
                        model=t.model,
                        weight=t.weight,
                        role="fallback" if t.role == "fallback" else "primary",
                        key_name=keys[t.key_id].name if t.key_id in keys else None,
                        auth_method=keys[t.key_id].auth_method if t.key_id in keys else None,
                        credential_version=keys[t.key_id].credential_version
                        if t.key_id in keys
                        else None,
                        price=PriceOverride.from_json(t.price),
                    )
                    for t in e.targets
                )
                endpoints[e.name] = Endpoint(
                    id=e.id,
                    name=e.name,
                    task="embeddings" if e.task == "embeddings" else "chat",
                    targets=targets,
                    timeout_seconds=e.timeout_seconds,
                    connect_timeout_seconds=e.connect_timeout_seconds,
                    max_retries=e.max_retries,
                    limited=_limited(e, targets, key_limits),
                    aliases=tuple(a.name for a in e.aliases),
                )
            keks = {r.version: r.state for r in session.scalars(select(KekVersionRow))}
            tokens: dict[str, Principal] = {}
            for t in session.scalars(select(AccessTokenRow)):
                tokens.update(_principals(t))
        self._follow_kek_changes(keks)
        aliases = {a: e for e in endpoints.values() for a in e.aliases}
        self._snapshot = Snapshot(version, endpoints, aliases, keys, tokens)
        self._credentials = {k: v for k, v in self._credentials.items() if k in keys}
        self._stale_since = None
        self._open_new_keys()

    def _open_new_keys(self) -> None:
        """Open each key version not seen yet: its secrets must be known to the log
        scrubber before any request, trace or upstream echo can carry them."""
        self._held = {k: v for k, v in self._held.items() if k in self._snapshot.keys}
        for key_id, record in self._snapshot.keys.items():
            # A row that does not open fails on use, with its typed error.
            with contextlib.suppress(KeyhouseError):
                if not (record.ambient and not self.allow_ambient):
                    self.credential(key_id)
                elif self._held.get(key_id) != (record.version, record.sealed):
                    self._open(record)
                    self._held[key_id] = (record.version, record.sealed)

    def _follow_kek_changes(self, states: dict[int, str]) -> None:
        """A KEK version was added or promoted elsewhere: re-read this server's KEK source
        so it can decrypt (and write) under it without a restart."""
        wanted = {v for v, state in states.items() if state != "retired"}
        primary = [v for v, state in states.items() if state == "primary"]
        if wanted <= set(self.keyring.versions) and (
            not primary or primary[0] == self.keyring.primary_version
        ):
            return
        if self._reopen_keyring is None:
            return
        try:
            self.keyring.replace(self._reopen_keyring())
            log.info(
                "KEK versions now %s, primary %s",
                self.keyring.versions,
                self.keyring.primary_version,
            )
            self._kek_retry_at = None
        except KeyhouseError as exc:
            # Retry on a timer too: the operator may copy the new KEK line in later, with
            # no further change in the store to wake us.
            self._kek_retry_at = time.monotonic() + 5.0
            log.warning("KEK source not updated yet: %s", exc.message)

    def refresh_if_changed(self) -> bool:
        retry_kek = self._kek_retry_at is not None and time.monotonic() >= self._kek_retry_at
        if self.store.config_version() == self._snapshot.version and not retry_kek:
            return False
        self.load()
        return True

    async def poll_forever(self, interval: float, stop: asyncio.Event | None = None) -> None:
        """Refresh every ``interval`` until ``stop`` is set. Stop it that way, not with
        ``cancel()``: a cancelled await returns at once while the refresh goes on in its
        worker thread, holding a connection (and its locks) after the app is gone."""
        stop = stop or asyncio.Event()
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval)
                return
            try:
                await anyio.to_thread.run_sync(self.refresh_if_changed)
                if self._stale_since is not None:
                    log.info("configuration store reachable again")
                self._stale_since = None
            except KeyhouseError as exc:
                if self._stale_since is None:
                    self._stale_since = time.monotonic()
                    log.warning("cannot refresh configuration (%s); serving from memory", exc.code)

    def _check_fresh(self) -> None:
        if self._stale_since is not None and (
            time.monotonic() - self._stale_since > self._max_stale
        ):
            raise Unavailable("The configuration store has been unreachable for too long.")


def _limited(
    row: EndpointRow, targets: tuple[Target, ...], key_limits: dict[str, Subject]
) -> tuple[Subject, ...]:
    own = Limits.from_json(row.limits)
    out = [Subject("endpoint", row.id, row.name, own)] if own is not None else []
    keys = dict.fromkeys(t.key_id for t in targets if t.role == "primary" and t.key_id)
    out += [key_limits[k] for k in keys if k in key_limits]
    return tuple(out)


def _principals(row: AccessTokenRow) -> dict[str, Principal]:
    """The token's current secret and, during a rotation's grace, its replaced one: both
    stand for the same token (one set of limits, one name)."""
    limits = Limits.from_json(row.limits)
    subject = Subject("token", row.id, row.name, limits) if limits is not None else None
    scope = frozenset(row.endpoints) if row.endpoints is not None else None
    expires = row.expires_at.timestamp() if row.expires_at is not None else None
    current = Principal(
        token_id=row.id,
        name=row.name,
        is_admin=False,
        endpoints=scope,
        expires_at=expires,
        limited=subject,
    )
    out = {row.token_hash: current}
    if row.previous_hash and row.previous_expires_at is not None:
        grace_end = row.previous_expires_at.timestamp()
        if grace_end > time.time():
            out[row.previous_hash] = Principal(
                token_id=row.id,
                name=row.name,
                is_admin=False,
                endpoints=scope,
                expires_at=min(grace_end, expires) if expires is not None else grace_end,
                limited=subject,
            )
    return out


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _is_ambient(provider: str, auth_method: str) -> bool:
    spec = catalog.get(provider)
    method = spec.auth_method(auth_method) if spec is not None else None
    return method is not None and method.ambient


def _ambient_refused(record: KeyRecord) -> AmbientCredentialsDisabled:
    spec = catalog.get(record.provider)
    method = spec.auth_method(record.auth_method) if spec is not None else None
    label = f" ({method.label})" if method is not None else ""
    return AmbientCredentialsDisabled(
        f"The key's {record.auth_method} auth method{label} acts as this server's own "
        "cloud identity, which this server does not allow: the operator allows it with "
        "KEYHOUSE_ALLOW_AMBIENT_CREDENTIALS=true (or give the endpoint a key with a "
        "stored credential)."
    )
