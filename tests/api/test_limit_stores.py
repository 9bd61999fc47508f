"""The two limit stores behave alike (the same sequence of calls, the same verdicts), the
Redis one atomically and in one round trip; an unreachable Redis turns into the
operator's chosen answer and is counted."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import redis as sync_redis
from prometheus_client import CollectorRegistry, generate_latest

from keyhouse.errors import LimitsUnavailable, RateLimited
from keyhouse.gateway.types import Endpoint, Principal, Target
from keyhouse.limits.admission import Limiter
from keyhouse.limits.metrics import register
from keyhouse.limits.redis_store import RedisStore
from keyhouse.limits.spec import Limits, Subject
from keyhouse.limits.store import (
    Charge,
    Check,
    LimitStore,
    LimitStoreError,
    MemoryStore,
    Rate,
    Refund,
    Release,
    Slots,
    Spend,
)
from tests.redis_server import SHARED_REDIS, own_redis, shared_prefix

pytestmark = pytest.mark.anyio


@pytest.fixture
def prefix() -> Iterator[str]:
    with shared_prefix() as p:
        yield p


@pytest.fixture(params=["memory", "redis"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[LimitStore]:
    s: LimitStore = MemoryStore() if request.param == "memory" else RedisStore(SHARED_REDIS)
    yield s
    await s.aclose()


async def test_rate_bucket_admits_capacity_then_refuses(store: LimitStore, prefix: str) -> None:
    check = Rate(prefix + "rpm", 3, 1, "requests")
    verdicts = [await store.admit([check], f"l{i}") for i in range(4)]
    assert [v.admitted for v in verdicts] == [True, True, True, False]
    assert [v.rates[0].remaining for v in verdicts] == [2, 1, 0, 0]
    refused = verdicts[-1]
    assert refused.refused == check
    # One request's worth refills in 60/3 = 20 s.
    assert 19 < refused.retry_after <= 20


async def test_admission_is_all_or_nothing(store: LimitStore, prefix: str) -> None:
    loose = Rate(prefix + "loose", 10, 1, "requests")
    tight = Rate(prefix + "tight", 1, 1, "requests")
    assert (await store.admit([loose, tight], "a")).admitted
    refused = await store.admit([loose, tight], "b")
    assert not refused.admitted and refused.refused == tight
    # The refused call took nothing from the loose bucket.
    again = await store.admit([loose], "c")
    assert again.rates[0].remaining == 8


async def test_slots_and_release(store: LimitStore, prefix: str) -> None:
    slots = Slots(prefix + "slots", 2, 600)
    assert (await store.admit([slots], "a")).admitted
    assert (await store.admit([slots], "b")).admitted
    assert not (await store.admit([slots], "c")).admitted
    await store.settle([Release(slots.key)], "a")
    assert (await store.admit([slots], "d")).admitted


async def test_lost_slots_come_back_after_their_lease(store: LimitStore, prefix: str) -> None:
    slots = Slots(prefix + "lease", 1, 0.3)
    assert (await store.admit([slots], "dead-replica")).admitted
    assert not (await store.admit([slots], "b")).admitted
    await asyncio.sleep(0.4)
    assert (await store.admit([slots], "c")).admitted


async def test_tokens_refund_and_debt(store: LimitStore, prefix: str) -> None:
    tpm = Rate(prefix + "tpm", 1000, 600, "tokens")
    assert (await store.admit([tpm], "a")).admitted
    # The call used 100 of the 600 estimated: 500 come back.
    await store.settle([Refund(tpm.key, 1000, 500)], "a")
    v = await store.admit([Rate(tpm.key, 1000, 0, "tokens")], "b")
    assert 890 <= v.rates[0].remaining <= 910
    # It used 3000 more than estimated: the bucket is in debt and refuses.
    await store.settle([Refund(tpm.key, 1000, -3000)], "b")
    assert not (await store.admit([Rate(tpm.key, 1000, 1, "tokens")], "c")).admitted


async def test_spend_reserves_settles_and_alerts_once(store: LimitStore, prefix: str) -> None:
    budget = Spend(prefix + "usd", 1000, 400, 3600, enforce=True)
    assert (await store.admit([budget], "a")).admitted
    assert (await store.admit([budget], "b")).admitted
    refused = await store.admit([budget], "c")
    assert not refused.admitted and refused.retry_after == 3600
    # Both cost 100, not 400: room again.
    await store.settle([Charge(budget.key, -300, None, 3600)], "a")
    await store.settle([Charge(budget.key, -300, None, 3600)], "b")
    assert (await store.admit([budget], "d")).admitted
    watch = Spend(prefix + "watch", 1000, 0, 3600, enforce=False)
    crossed = [await store.settle([Charge(watch.key, 600, 1000, 3600)], str(i)) for i in range(3)]
    assert crossed == [[], [watch.key], []]


async def test_same_counters_from_two_clients(prefix: str) -> None:
    """Two stores (two replicas) on one Redis share one bucket."""
    # Ten calls at once open ten connections and load the script: on a loaded CI
    # machine that once took longer than the product's 0.5 s socket timeout (a
    # LimitStoreError: TimeoutError). What is tested here is the shared bucket.
    a, b = RedisStore(SHARED_REDIS, timeout=5.0), RedisStore(SHARED_REDIS, timeout=5.0)
    check = Rate(prefix + "shared", 4, 1, "requests")
    try:
        results = await asyncio.gather(
            *[(a if i % 2 else b).admit([check], str(i)) for i in range(10)]
        )
        assert sum(v.admitted for v in results) == 4
    finally:
        await a.aclose()
        await b.aclose()


async def test_admission_is_one_round_trip(tmp_path: Path) -> None:
    """MONITOR on a Redis of our own: what the client sent, apart from the commands the
    script ran inside Redis (marked "lua")."""
    with own_redis(tmp_path) as server:
        store = RedisStore(server.url)
        checks: list[Check] = [
            Rate("r", 10, 1, "requests"),
            Rate("t", 100, 5, "tokens"),
            Slots("s", 5, 60),
            Spend("u", 10**9, 10, 60, True),
        ]
        await store.admit(checks, "warm")  # connects and loads the script
        seen: list[str] = []
        marker = sync_redis.Redis.from_url(server.url)
        marker.ping()  # connected before MONITOR starts: only its GET shows
        monitor = sync_redis.Redis.from_url(server.url)
        with monitor.monitor() as m:  # type: ignore[no-untyped-call]

            def read() -> None:
                for event in m.listen():
                    seen.append(f"{event['client_type']} {event['command']}")
                    if "stop-marker" in event["command"]:
                        return

            reader = threading.Thread(target=read)
            reader.start()
            await asyncio.sleep(0.2)
            verdict = await store.admit(checks, "x")
            await asyncio.sleep(0.1)
            marker.get("stop-marker")
            reader.join(5)
        monitor.close()
        marker.close()
        await store.aclose()
    assert verdict.admitted
    from_client = [c for c in seen if not c.startswith("lua") and "stop-marker" not in c]
    assert len(from_client) == 1 and from_client[0].split()[1] == "EVALSHA", seen


def _limiter(store: LimitStore, on_error: str) -> tuple[Limiter, Principal, Endpoint]:
    subject = Subject("token", "t1", "app", Limits(requests_per_minute=100))
    principal = Principal("t1", "app", is_admin=False, limited=subject)
    endpoint = Endpoint("e1", "chat", "chat", (Target("k1", "openai", "gpt-4o"),))
    return Limiter(store, on_store_error=on_error), principal, endpoint


@pytest.mark.parametrize("on_error", ["reject", "allow"])
async def test_unreachable_redis_is_the_operators_choice_and_counted(
    tmp_path: Path, on_error: str
) -> None:
    with own_redis(tmp_path) as server:
        store = RedisStore(server.url)
        limiter, principal, endpoint = _limiter(store, on_error)
        body = {"messages": [{"role": "user", "content": "hi"}]}
        assert await limiter.admit(principal, endpoint, body) is not None
        server.stop()
        with pytest.raises(LimitStoreError):
            await store.ping()
        if on_error == "reject":
            with pytest.raises(LimitsUnavailable) as caught:
                await limiter.admit(principal, endpoint, body)
            assert caught.value.status == 503 and caught.value.headers["retry-after"] == "1"
        else:
            assert await limiter.admit(principal, endpoint, body) is None
        assert limiter.store_errors == 1
        registry = CollectorRegistry()
        register(registry, limiter)
        text = generate_latest(registry).decode()
        assert "keyhouse_limits_store_errors_total 1.0" in text
        assert "keyhouse_limits_shared 1.0" in text
        server.start()  # same port: the client reconnects by itself
        admitted = await limiter.admit(principal, endpoint, body)
        assert admitted is not None and admitted.headers["x-ratelimit-limit-requests"] == "100"
        await store.aclose()


async def test_refusal_names_the_limit() -> None:
    store = MemoryStore()
    subject = Subject("endpoint", "e1", "chat", Limits(max_concurrent=1))
    endpoint = Endpoint(
        "e1", "chat", "chat", (Target("k1", "openai", "gpt-4o"),), limited=(subject,)
    )
    limiter = Limiter(store)
    principal = Principal("t", "t", is_admin=False)
    held = await limiter.admit(principal, endpoint, {})
    with pytest.raises(RateLimited, match="concurrent calls for endpoint 'chat'"):
        await limiter.admit(principal, endpoint, {})
    registry = CollectorRegistry()
    register(registry, limiter)
    text = generate_latest(registry).decode()
    assert 'keyhouse_limits_refused_total{limit="concurrency",scope="endpoint"} 1.0' in text
    assert "keyhouse_limits_shared 0.0" in text
    assert held is not None
    held.finish()
    assert await limiter.admit(principal, endpoint, {}) is not None


async def test_complete_from_a_synchronous_hook_settles_soon() -> None:
    """The shape an end-of-call hook uses: no await, the settlement follows at once."""
    store = MemoryStore()
    subject = Subject("token", "t1", "app", Limits(tokens_per_minute=1000, max_concurrent=1))
    principal = Principal("t1", "app", is_admin=False, limited=subject)
    endpoint = Endpoint("e1", "chat", "chat", (Target("k1", "openai", "gpt-4o"),))
    limiter = Limiter(store)
    admitted = await limiter.admit(principal, endpoint, {"max_tokens": 500})
    assert admitted is not None and admitted.token_estimate >= 500
    admitted.complete({"prompt_tokens": 3, "completion_tokens": 7}, "gpt-4o")
    await limiter.drain()
    again = await limiter.admit(principal, endpoint, {})
    assert again is not None
    assert int(again.headers["x-ratelimit-remaining-tokens"]) >= 1000 - 10 - 17


async def test_large_budgets_count_exactly(store: LimitStore, prefix: str) -> None:
    """Nano-USD integers past 1e14 (a $1M budget, a $200k reservation) stay integers."""
    big = Spend(prefix + "big", 10**15, 2 * 10**14, 3600, enforce=True)
    assert (await store.admit([big], "a")).admitted
    await store.settle([Charge(big.key, -(10**14) - 1, None, 3600)], "a")
    assert await store.peek([big]) == [float(10**14 - 1)]
