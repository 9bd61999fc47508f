"""The cache every keyless auth method shares.

A credential is fetched by blocking library code (botocore, google-auth, azure-identity)
in a worker thread, under a deadline, so a metadata endpoint that never answers fails the
request with a 502 naming the auth method instead of hanging it. Once fetched it is kept
per (key, credential version): with more than ``margin`` seconds left it is used as is;
closer to its expiry it is still used while one background task fetches its successor —
the request path waits only for a key's very first credential, or after an outage.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

import anyio

from keyhouse.errors import CredentialRefreshFailed, KeyhouseError
from keyhouse.providers.base import Credential

T = TypeVar("T")
Fetch = Callable[[Credential], tuple[T, float]]  # (value, seconds it stays valid)

LABELS = {
    "default_chain": "AWS default credential chain",
    "assume_role": "AWS STS AssumeRole",
    "adc": "Google Application Default Credentials",
    "managed_identity": "Azure managed identity",
    "oauth_m2m": "Databricks OAuth M2M",
}


@dataclass(slots=True)
class _Entry(Generic[T]):
    value: T
    expires: float  # time.monotonic()


class RefreshingCache(Generic[T]):
    def __init__(self, fetch: Fetch[T], *, margin: float = 300.0, timeout: float = 15.0) -> None:
        self._fetch = fetch
        self._margin = margin
        self._timeout = timeout
        self._entries: dict[str, tuple[int, _Entry[T]]] = {}
        self._inflight: dict[tuple[str, int], asyncio.Task[_Entry[T]]] = {}
        self.fetches = 0

    async def get(self, credential: Credential) -> T:
        hit = self._entries.get(credential.key_id)
        now = time.monotonic()
        if hit is not None and hit[0] == credential.version:
            entry = hit[1]
            if entry.expires - now > self._margin:
                return entry.value
            if entry.expires - now > 1.0:
                self._start(credential)  # refresh behind this request
                return entry.value
        return (await asyncio.shield(self._start(credential))).value

    def forget(self, credential: Credential) -> None:
        """Drop a credential the provider just refused; the next request fetches anew."""
        hit = self._entries.get(credential.key_id)
        if hit is not None and hit[0] == credential.version:
            del self._entries[credential.key_id]

    def _start(self, credential: Credential) -> asyncio.Task[_Entry[T]]:
        key = (credential.key_id, credential.version)
        task = self._inflight.get(key)
        if task is None:
            task = asyncio.get_running_loop().create_task(self._refresh(credential))
            self._inflight[key] = task
            task.add_done_callback(lambda _: self._inflight.pop(key, None))
        return task

    async def _refresh(self, credential: Credential) -> _Entry[T]:
        self.fetches += 1
        label = LABELS.get(credential.auth_method, credential.auth_method)
        try:
            with anyio.fail_after(self._timeout):
                value, lifetime = await anyio.to_thread.run_sync(
                    self._fetch, credential, abandon_on_cancel=True
                )
        except TimeoutError:
            raise CredentialRefreshFailed(
                f"The key's {credential.auth_method} auth method ({label}) got no "
                f"credential within {self._timeout:g} s."
            ) from None
        except KeyhouseError as exc:
            raise CredentialRefreshFailed(
                f"The key's {credential.auth_method} auth method ({label}) failed: "
                f"{credential.redact(exc.message)}"
            ) from None
        except Exception as exc:  # a library's own error: its type says enough
            raise CredentialRefreshFailed(
                f"The key's {credential.auth_method} auth method ({label}) failed: "
                f"{type(exc).__name__}."
            ) from None
        entry = _Entry(value, time.monotonic() + max(lifetime, 0.0))
        # One entry per key: an edited key's old credential goes at once.
        self._entries[credential.key_id] = (credential.version, entry)
        return entry
