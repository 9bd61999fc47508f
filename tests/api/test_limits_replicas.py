"""Limits that hold across replicas: two real ``keyhouse serve`` processes on one
PostgreSQL schema and one Redis (issue 12's acceptance tests)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from keyhouse.testing.fakes.openai import create_app as openai_fake
from keyhouse.testing.fakes.server import ServerThread, serve
from keyhouse.usage.prices import cost_usd
from tests.api.test_limits import bearer, chat
from tests.conftest import ADMIN_TOKEN, _postgres_schema_url
from tests.redis_server import SHARED_REDIS, OwnRedis, own_redis, shared_prefix
from tests.replicas import keyhouse, keyhouse_env, replica

pytestmark = pytest.mark.postgres

UPSTREAM_KEY = "sk-rep-" + "W3z" * 10
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
Replicas = tuple[str, str]


@pytest.fixture
def pg_url() -> Iterator[str]:
    yield from _postgres_schema_url()


@pytest.fixture
def fake() -> Iterator[ServerThread]:
    with serve(openai_fake(api_key=UPSTREAM_KEY)) as server:
        yield server


@pytest.fixture
def prefix() -> Iterator[str]:
    with shared_prefix() as p:
        yield p


def _replicas(tmp_path: Path, pg_url: str, redis_url: str, prefix: str, **extra: str) -> Any:
    env = keyhouse_env(
        tmp_path, pg_url, KEYHOUSE_REDIS_URL=redis_url, KEYHOUSE_REDIS_PREFIX=prefix, **extra
    )
    keyhouse("db", "upgrade", env=env)
    return env


@pytest.fixture
def two(tmp_path: Path, pg_url: str, prefix: str) -> Iterator[Replicas]:
    env = _replicas(tmp_path, pg_url, SHARED_REDIS, prefix)
    with replica(env) as a, replica(env) as b:
        yield a, b


def _setup(
    base: str,
    fake: ServerThread,
    token: dict[str, Any] | None = None,
    model: str = "gpt-4o",
    **token_fields: Any,
) -> dict[str, Any]:
    with httpx.Client(base_url=base, headers=ADMIN) as c:
        key = c.post(
            "/api/v1/keys",
            json={
                "name": "k",
                "provider": "openai",
                "credentials": {"api_key": UPSTREAM_KEY},
                "config": {"base_url": fake.url + "/v1"},
            },
        ).json()
        r = c.post(
            "/api/v1/endpoints",
            json={"name": "chat", "targets": [{"key_id": key["id"], "model": model}]},
        )
        assert r.status_code == 201, r.text
        t = c.post(
            "/api/v1/access-tokens",
            json={"name": "app", **({"limits": token} if token else {}), **token_fields},
        )
        assert t.status_code == 201, t.text
    time.sleep(0.6)  # both replicas have polled the new configuration
    return dict(t.json())


def _status(base: str, token: str) -> int:
    return httpx.post(
        base + "/v1/chat/completions", json=chat(), headers=bearer(token), timeout=10
    ).status_code


def test_ten_per_minute_over_two_replicas(two: Replicas, fake: ServerThread) -> None:
    a, b = two
    token = _setup(a, fake, {"requests_per_minute": 10})["token"]

    async def spread() -> list[httpx.Response]:
        # Pairs at once, one to each replica: 15 rounds of two.
        async with httpx.AsyncClient(timeout=10) as c:
            out: list[httpx.Response] = []
            for _ in range(15):
                out += await asyncio.gather(
                    *[
                        c.post(url + "/v1/chat/completions", json=chat(), headers=bearer(token))
                        for url in (a, b)
                    ]
                )
            return out

    answers = asyncio.run(spread())
    codes = [r.status_code for r in answers]
    assert codes.count(200) == 10 and codes.count(429) == 20, codes
    # Each replica admitted half: one shared limit, not one per replica.
    ports = [r.url.port for r in answers if r.status_code == 200]
    assert ports.count(httpx.URL(a).port) == ports.count(httpx.URL(b).port) == 5, codes
    for r in answers:
        assert r.headers["x-ratelimit-limit-requests"] == "10"
        if r.status_code == 429:
            assert r.json()["error"]["code"] == "rate_limit_exceeded"
            assert int(r.headers["retry-after"]) >= 1
    for url in (a, b):
        limits = httpx.get(url + "/readyz").json()["limits"]
        assert limits["store"] == "redis" and limits["scope"] == "shared"
        assert limits["reachable"] is True
        # Either replica shows the one shared count.
        use = httpx.get(url + "/api/v1/limits/use", headers=ADMIN).json()
        assert use["shared"] is True
        assert use["subjects"][0]["requests"]["remaining"] == 0


def test_budget_holds_under_fifty_parallel_streams(
    two: Replicas, fake: ServerThread, prefix: str
) -> None:
    """$0.01 on gpt-4o; each call reserves ~$0.002 (max_tokens 150) and costs ~$0.0013.
    50 callers stream over both replicas until the budget says no."""
    a, b = two
    created = _setup(a, fake, {"budget": {"usd": 0.01, "period": "day"}})
    token = created["token"]
    words = "word " * 100
    body = chat(
        stream=True,
        max_tokens=150,
        stream_options={"include_usage": True},
        messages=[{"role": "user", "content": words}],
    )
    spent: list[float] = []
    refused: list[int] = []

    async def caller(i: int, c: httpx.AsyncClient) -> None:
        deadline = time.monotonic() + 6
        while time.monotonic() < deadline:
            async with c.stream(
                "POST", (a, b)[i % 2] + "/v1/chat/completions", json=body, headers=bearer(token)
            ) as r:
                if r.status_code == 429:
                    assert (await r.aread()) and r.headers["retry-after"]
                    refused.append(i)
                    await asyncio.sleep(0.1)
                    continue
                assert r.status_code == 200
                usage = None
                async for line in r.aiter_lines():
                    if line.startswith("data: {"):
                        usage = json.loads(line[6:]).get("usage") or usage
                assert usage is not None
                price = cost_usd(
                    "openai", "gpt-4o", usage["prompt_tokens"], usage["completion_tokens"]
                )
                assert price is not None
                spent.append(price)

    async def run() -> None:
        async with httpx.AsyncClient(timeout=20, limits=httpx.Limits(max_connections=100)) as c:
            await asyncio.gather(*[caller(i, c) for i in range(50)])

    asyncio.run(run())
    per_call = max(spent)
    reservation = cost_usd("openai", "gpt-4o", len(words) // 3 + 16 + 20, 150)
    assert reservation is not None
    total = sum(spent)
    assert total <= 0.01 + (reservation - per_call), (total, len(spent))
    # ... and the budget was used, not refused early: less than a reservation is left.
    assert total > 0.01 - 2 * reservation, (total, len(spent))
    assert refused
    # The shared counter agrees with what the callers were billed.
    day = datetime.now(UTC).date().isoformat()
    stored = redis.Redis.from_url(SHARED_REDIS).get(f"{prefix}token:{created['id']}:usd:day:{day}")
    assert stored is not None and abs(int(stored) / 1e9 - total) < 1e-6


def test_expired_token_is_refused_on_both_replicas_within_a_second(
    two: Replicas, fake: ServerThread
) -> None:
    a, b = two
    # Room for a slow machine: it must work before, and stop within 1 s after.
    expires = datetime.now(UTC) + timedelta(seconds=5)
    token = _setup(a, fake, expires_at=expires.isoformat())["token"]
    assert datetime.now(UTC) < expires - timedelta(seconds=1), "setup was too slow"
    assert _status(a, token) == 200 and _status(b, token) == 200
    while datetime.now(UTC) < expires:
        time.sleep(0.05)
    time.sleep(0.05)
    refused_at: dict[str, datetime] = {}
    while len(refused_at) < 2:
        for url in (a, b):
            if url not in refused_at and _status(url, token) == 401:
                refused_at[url] = datetime.now(UTC)
        assert datetime.now(UTC) - expires < timedelta(seconds=1), refused_at


def test_revoked_token_is_refused_on_the_other_replica_within_a_second(
    two: Replicas, fake: ServerThread
) -> None:
    a, b = two
    created = _setup(a, fake)
    assert _status(b, created["token"]) == 200
    httpx.delete(f"{a}/api/v1/access-tokens/{created['id']}", headers=ADMIN)
    started = time.monotonic()
    assert _status(a, created["token"]) == 401
    while _status(b, created["token"]) != 401:
        assert time.monotonic() - started < 1.0
        time.sleep(0.02)


def test_rotated_token_old_secret_works_during_the_grace_only(
    two: Replicas, fake: ServerThread
) -> None:
    a, b = two
    created = _setup(a, fake)
    old = created["token"]
    r = httpx.post(
        f"{b}/api/v1/access-tokens/{created['id']}/rotate", headers=ADMIN, json={"grace_seconds": 5}
    )
    assert r.status_code == 200
    new = r.json()["token"]
    grace_end = datetime.fromisoformat(r.json()["previous_valid_until"])
    time.sleep(0.6)
    for url in (a, b):
        assert _status(url, old) == 200 and _status(url, new) == 200
    while datetime.now(UTC) < grace_end + timedelta(seconds=0.3):
        time.sleep(0.05)
    for url in (a, b):
        assert _status(url, old) == 401 and _status(url, new) == 200


def test_slots_come_back_after_client_disconnects(two: Replicas, fake: ServerThread) -> None:
    a, b = two
    token = _setup(a, fake, {"max_concurrent": 2}, model="drip")["token"]
    long = chat(stream=True, messages=[{"role": "user", "content": "word " * 40}])

    async def scenario() -> None:
        async with httpx.AsyncClient(timeout=10) as c:
            for _ in range(3):
                # Fill both slots from both replicas, then leave mid-stream.
                streams = [
                    c.stream("POST", url + "/v1/chat/completions", json=long, headers=bearer(token))
                    for url in (a, b)
                ]
                opened = [await s.__aenter__() for s in streams]
                readers = [r.aiter_bytes() for r in opened]  # held: the streams stay open
                for r, reader in zip(opened, readers, strict=True):
                    assert r.status_code == 200
                    assert (await anext(reader)).startswith(b"data: ")
                assert (
                    await c.post(a + "/v1/chat/completions", json=chat(), headers=bearer(token))
                ).status_code == 429
                for s in streams:
                    await s.__aexit__(None, None, None)
                # Both slots back within a second (the server notices a caller that
                # left at its next event, 0.2 s apart here).
                deadline = time.monotonic() + 1
                while await _in_use(c, b) != 0:
                    assert time.monotonic() < deadline, "slots did not come back"
                    await asyncio.sleep(0.05)
                assert (
                    await c.post(b + "/v1/chat/completions", json=chat(), headers=bearer(token))
                ).status_code == 200

    asyncio.run(scenario())


async def _in_use(c: httpx.AsyncClient, base: str) -> int:
    use = (await c.get(base + "/api/v1/limits/use?scope=token", headers=ADMIN)).json()
    return int(use["subjects"][0]["concurrent"]["in_use"])


@pytest.mark.parametrize("on_error", ["reject", "allow"])
def test_redis_stopped_then_back(
    tmp_path: Path, pg_url: str, fake: ServerThread, on_error: str
) -> None:
    with own_redis(tmp_path) as server:
        env = _replicas(
            tmp_path, pg_url, server.url, "kh:", KEYHOUSE_LIMITS_ON_STORE_ERROR=on_error
        )
        with replica(env) as a, replica(env) as b:
            token = _setup(a, fake, {"requests_per_minute": 3})["token"]
            assert [_status(a, token), _status(b, token)] == [200, 200]
            server.stop()
            down = [
                httpx.post(
                    url + "/v1/chat/completions", json=chat(), headers=bearer(token), timeout=10
                )
                for url in (a, b) * 2
            ]
            if on_error == "reject":
                assert [r.status_code for r in down] == [503] * 4
                assert down[0].json()["error"]["code"] == "limits_unavailable"
                assert down[0].headers["retry-after"] == "1"
            else:
                assert [r.status_code for r in down] == [200] * 4
            for url in (a, b):
                limits = httpx.get(url + "/readyz").json()["limits"]
                assert limits["reachable"] is False and limits["store_errors"] >= 2
            _restart(server)
            # Back: limits hold again, shared (the counters began anew with the server).
            codes = [_status(url, token) for url in (a, b, a, b)]
            assert codes == [200, 200, 200, 429], codes
            assert httpx.get(a + "/readyz").json()["limits"]["reachable"] is True


def _restart(server: OwnRedis) -> None:
    server.start()
