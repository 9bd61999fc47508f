"""The cache every keyless auth method shares.

A credential is fetched under a deadline — by blocking library code (botocore,
google-auth, azure-identity) in a worker thread, or on the loop through the shared,
URL-guarded upstream client when the token endpoint is an admin-supplied URL (Databricks)
— so an identity endpoint that never answers fails the request with a 502 naming the
auth method instead of hanging it. A request waits at most its endpoint's read timeout
(the fetch itself runs on, up to ``timeout``, and fills the cache for the next request).
Once fetched a credential is kept per (key, credential version): with more than
``margin`` seconds left it is used as is; closer to its expiry it is still used while one
background task fetches its successor — the request path waits only for a key's very
first credential, or after an outage.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

import anyio

from keyhouse.errors import CredentialRefreshFailed, KeyhouseError
from keyhouse.providers.base import Call, Credential

T = TypeVar("T")
# (value, seconds it stays valid)
Fetch = Callable[[Call], Awaitable[tuple[T, float]]]
BlockingFetch = Callable[[Credential], tuple[T, float]]

LABELS = {
    "default_chain": "AWS default credential chain",
    "assume_role": "AWS STS AssumeRole",
    "adc": "Google Application Default Credentials",
    "managed_identity": "Azure managed identity",
    "oauth_m2m": "Databricks OAuth M2M",
}


def in_thread(fetch: BlockingFetch[T]) -> Fetch[T]:
    """A blocking library fetch, run in a worker thread that a deadline may abandon."""

    async def run(call: Call) -> tuple[T, float]:
        return await anyio.to_thread.run_sync(fetch, call.credential, abandon_on_cancel=True)

    return run


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

    async def get(self, call: Call) -> T:
        credential = call.credential
        hit = self._entries.get(credential.key_id)
        now = time.monotonic()
        if hit is not None and hit[0] == credential.version:
            entry = hit[1]
            if entry.expires - now > self._margin:
                return entry.value
            if entry.expires - now > 1.0:
                self._start(call)  # refresh behind this request
                return entry.value
        task = self._start(call)
        # The caller waits no longer than its endpoint would wait for an answer.
        wait = min(self._timeout, call.timeout.read)
        try:
            with anyio.fail_after(wait):
                return (await asyncio.shield(task)).value
        except TimeoutError:
            raise self._late(credential, wait) from None

    def forget(self, credential: Credential) -> None:
        """Drop a credential the provider just refused; the next request fetches anew."""
        hit = self._entries.get(credential.key_id)
        if hit is not None and hit[0] == credential.version:
            del self._entries[credential.key_id]

    def _start(self, call: Call) -> asyncio.Task[_Entry[T]]:
        key = (call.credential.key_id, call.credential.version)
        task = self._inflight.get(key)
        if task is None:
            task = asyncio.get_running_loop().create_task(self._refresh(call))
            self._inflight[key] = task
            task.add_done_callback(lambda done: self._settled(key, done))
        return task

    def _settled(self, key: tuple[str, int], task: asyncio.Task[_Entry[T]]) -> None:
        self._inflight.pop(key, None)
        # A fetch whose waiters gave up (or a background refresh) still ends with an
        # answer or an error; retrieve it so asyncio does not log it as lost.
        if not task.cancelled():
            task.exception()

    def _late(self, credential: Credential, seconds: float) -> CredentialRefreshFailed:
        return CredentialRefreshFailed(
            f"The key's {credential.auth_method} auth method "
            f"({LABELS.get(credential.auth_method, credential.auth_method)}) got no "
            f"credential within {seconds:g} s."
        )

    async def _refresh(self, call: Call) -> _Entry[T]:
        self.fetches += 1
        credential = call.credential
        label = LABELS.get(credential.auth_method, credential.auth_method)
        try:
            with anyio.fail_after(self._timeout):
                value, lifetime = await self._fetch(call)
        except TimeoutError:
            raise self._late(credential, self._timeout) from None
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
