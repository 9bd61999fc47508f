"""The keyless credential cache: one fetch per key version, shared by concurrent
requests, refreshed behind the request before expiry, bounded in time when the identity
endpoint hangs."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from keyhouse.errors import CredentialRefreshFailed, KeyhouseError
from keyhouse.providers.base import Call, Credential
from keyhouse.providers.credentials.base import RefreshingCache, in_thread

pytestmark = pytest.mark.anyio


def _call(version: int = 1, method: str = "assume_role") -> Call:
    return Call(None, _credential(version, method), "")  # type: ignore[arg-type]


def _credential(version: int = 1, method: str = "assume_role") -> Credential:
    return Credential(
        "key-1",
        "bedrock",
        method,
        {"role_arn": "arn:aws:iam::1:role/r"},
        {"region": "us-east-1"},
        version,
    )


class Source:
    def __init__(self, lifetime: float, delay: float = 0.0) -> None:
        self.lifetime, self.delay, self.calls = lifetime, delay, 0
        self.release = threading.Event()
        self.release.set()

    def __call__(self, credential: Credential) -> tuple[str, float]:
        self.calls += 1
        self.release.wait(5)
        time.sleep(self.delay)
        return f"token-{credential.version}-{self.calls}", self.lifetime


async def test_concurrent_first_requests_share_one_fetch() -> None:
    source = Source(3600, delay=0.2)
    cache = RefreshingCache(in_thread(source))
    values = await asyncio.gather(*(cache.get(_call()) for _ in range(20)))
    assert set(values) == {"token-1-1"} and source.calls == 1
    assert await cache.get(_call()) == "token-1-1" and source.calls == 1


async def test_near_expiry_the_old_token_serves_while_one_refresh_runs() -> None:
    source = Source(lifetime=10.0)
    cache = RefreshingCache(in_thread(source), margin=60.0)  # always "near expiry"
    assert await cache.get(_call()) == "token-1-1"
    source.release.clear()  # the next fetch blocks until released
    started = time.monotonic()
    for _ in range(5):
        assert await cache.get(_call()) == "token-1-1"  # no wait on the refresh
    assert time.monotonic() - started < 0.5
    source.release.set()
    for _ in range(50):
        await asyncio.sleep(0.02)
        if source.calls == 2 and await cache.get(_call()) == "token-1-2":
            break
    assert source.calls == 2  # one background refresh, not one per request


async def test_an_edited_key_gets_a_new_credential_at_once() -> None:
    source = Source(3600)
    cache = RefreshingCache(in_thread(source))
    assert await cache.get(_call(1)) == "token-1-1"
    assert await cache.get(_call(2)) == "token-2-2"
    cache.forget(_credential(2))
    assert await cache.get(_call(2)) == "token-2-3"


async def test_a_hanging_identity_endpoint_fails_in_bounded_time() -> None:
    cache = RefreshingCache(in_thread(Source(3600, delay=5.0)), timeout=0.3)
    started = time.monotonic()
    with pytest.raises(CredentialRefreshFailed) as info:
        await cache.get(_call())
    assert time.monotonic() - started < 2.0
    assert info.value.status == 502 and "assume_role" in info.value.message


async def test_a_failure_names_the_method_and_never_echoes_a_secret() -> None:
    def refuse(credential: Credential) -> tuple[str, float]:
        raise KeyhouseError(f"denied for {credential.secrets['role_arn']}")

    def explode(credential: Credential) -> tuple[str, float]:
        raise RuntimeError("library text that might hold anything")

    with pytest.raises(CredentialRefreshFailed) as info:
        await RefreshingCache(in_thread(refuse)).get(_call())
    assert "assume_role" in info.value.message and "arn:aws:iam::1:role/r" not in info.value.message
    with pytest.raises(CredentialRefreshFailed) as raw:
        await RefreshingCache(in_thread(explode)).get(_call(method="adc"))
    assert "adc" in raw.value.message and "library text" not in raw.value.message


async def test_a_request_waits_no_longer_than_its_read_timeout_and_the_fetch_lands() -> None:
    from keyhouse.gateway.upstream import Timeouts

    source = Source(3600, delay=1.0)
    cache = RefreshingCache(in_thread(source), timeout=10.0)
    hurried = Call(None, _credential(), "", Timeouts(read=0.2))  # type: ignore[arg-type]
    started = time.monotonic()
    with pytest.raises(CredentialRefreshFailed) as info:
        await cache.get(hurried)
    assert time.monotonic() - started < 0.8
    assert "within 0.2 s" in info.value.message and "assume_role" in info.value.message
    await asyncio.sleep(1.2)  # the fetch went on without its waiter, and was kept
    assert await cache.get(_call()) == "token-1-1" and source.calls == 1
