"""Limits on one server (per-process counters): every limit kind on every scope, the
429 envelopes and headers, all-or-nothing admission, slots back on every path, budgets
and their alert webhook. The same over Redis and two replicas: test_limits_replicas.py."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from keyhouse.app import create_app
from keyhouse.services import Services
from keyhouse.settings import Settings
from keyhouse.testing.fakes.openai import create_app as openai_fake
from keyhouse.testing.fakes.server import ServerThread, serve
from tests.api.conftest import CheckedClient
from tests.conftest import ADMIN_TOKEN
from tests.replicas import keyhouse_env, replica_process

UPSTREAM_KEY = "sk-lim-" + "Q7x" * 10  # no word inside: live secrets are redacted from logs
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def chat(model: str = "chat", **extra: Any) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": "hi there"}], **extra}


@pytest.fixture
def fake() -> Iterator[ServerThread]:
    with serve(openai_fake(api_key=UPSTREAM_KEY)) as server:
        yield server


def setup(
    api: CheckedClient | httpx.Client,
    fake: ServerThread,
    *,
    token: dict[str, Any] | None = None,
    endpoint: dict[str, Any] | None = None,
    key: dict[str, Any] | None = None,
    model: str = "gpt-4o",
    name: str = "chat",
    provider: str = "openai_compatible",
) -> str:
    """A key, an endpoint ``name`` on it and a token, with the limits given; the token."""
    k = api.post(
        "/api/v1/keys",
        json={
            "name": f"key-{name}",
            "provider": provider,
            "credentials": {"api_key": UPSTREAM_KEY},
            "config": {"base_url": fake.url + "/v1"},
            **({"limits": key} if key else {}),
        },
    )
    assert k.status_code == 201, k.text
    e = api.post(
        "/api/v1/endpoints",
        json={
            "name": name,
            "targets": [{"key_id": k.json()["id"], "model": model}],
            **({"limits": endpoint} if endpoint else {}),
        },
    )
    assert e.status_code == 201, e.text
    t = api.post(
        "/api/v1/access-tokens",
        json={"name": f"tok-{name}", **({"limits": token} if token else {})},
    )
    assert t.status_code == 201, t.text
    return str(t.json()["token"])


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize("scope", ["token", "endpoint", "key"])
def test_requests_per_minute_on_every_scope(
    client: CheckedClient, fake: ServerThread, scope: str
) -> None:
    limits: dict[str, Any] = {scope: {"requests_per_minute": 3}}
    token = setup(client, fake, **limits)
    answers = [
        client.post("/v1/chat/completions", json=chat(), headers=bearer(token)) for _ in range(5)
    ]
    assert [r.status_code for r in answers] == [200, 200, 200, 429, 429]
    assert [r.headers["x-ratelimit-remaining-requests"] for r in answers[:3]] == ["2", "1", "0"]
    for r in answers:
        assert r.headers["x-ratelimit-limit-requests"] == "3"
        assert r.headers["x-ratelimit-reset-requests"].endswith("s")
    refused = answers[-1]
    assert int(refused.headers["retry-after"]) >= 1
    assert refused.json()["error"]["code"] == "rate_limit_exceeded"
    assert scope in refused.json()["error"]["message"]
    # Anthropic clients get their own envelope from /v1/messages.
    r = client.post(
        "/v1/messages",
        headers=bearer(token),
        json={"model": "chat", "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]},
    )
    assert r.status_code == 429 and "retry-after" in r.headers
    assert r.json() == {
        "type": "error",
        "error": {"type": "rate_limit_error", "message": refused.json()["error"]["message"]},
    }


def test_a_refused_call_consumes_no_other_limit(client: CheckedClient, fake: ServerThread) -> None:
    """All or nothing: the endpoint's limit refuses, the token's counter is untouched."""
    token = setup(
        client, fake, token={"requests_per_minute": 2}, endpoint={"requests_per_minute": 1}
    )
    codes = [
        client.post("/v1/chat/completions", json=chat(), headers=bearer(token)).status_code
        for _ in range(4)
    ]
    assert codes == [200, 429, 429, 429]
    other = setup(client, fake, name="other")  # a second endpoint without limits
    # ... reached with the same token: its own limit has one call left, not zero.
    ep = client.get("/api/v1/endpoints").json()["endpoints"]
    assert {e["name"] for e in ep} == {"chat", "other"}
    assert other
    r = client.post("/v1/chat/completions", json=chat("other"), headers=bearer(token))
    assert r.status_code == 200 and r.headers["x-ratelimit-remaining-requests"] == "0"
    assert (
        client.post("/v1/chat/completions", json=chat("other"), headers=bearer(token)).status_code
        == 429
    )


def test_tokens_per_minute_settles_to_the_real_count(
    client: CheckedClient, fake: ServerThread
) -> None:
    token = setup(client, fake, token={"tokens_per_minute": 200})
    # The estimate holds max_tokens (100) plus the prompt; the fake uses a few tokens.
    first = client.post("/v1/chat/completions", json=chat(max_tokens=100), headers=bearer(token))
    assert first.status_code == 200
    # Settled: the real use (4 tokens) counts, not the estimate of 100+.
    second = client.post("/v1/chat/completions", json=chat(max_tokens=100), headers=bearer(token))
    assert second.status_code == 200
    remaining = int(second.headers["x-ratelimit-remaining-tokens"])
    assert 200 - 4 - 130 <= remaining < 200 - 100, remaining
    assert second.headers["x-ratelimit-limit-tokens"] == "200"
    used = client.post("/v1/chat/completions", json=chat(), headers=bearer(token))
    assert int(used.headers["x-ratelimit-remaining-tokens"]) > remaining


def test_no_limit_no_headers(client: CheckedClient, fake: ServerThread) -> None:
    token = setup(client, fake)
    r = client.post("/v1/chat/completions", json=chat(), headers=bearer(token))
    assert r.status_code == 200
    assert not [h for h in r.headers if h.startswith("x-ratelimit")]


def test_budget_rejects_once_reservations_reach_it(
    client: CheckedClient, fake: ServerThread
) -> None:
    """No price is known for this model, so each call reserves (and keeps) the
    configured default of $0.05: a $0.12 budget admits two calls."""
    token = setup(
        client, fake, token={"budget": {"usd": 0.12, "period": "day"}}, model="no-such-priced-model"
    )
    answers = [
        client.post("/v1/chat/completions", json=chat(), headers=bearer(token)) for _ in range(3)
    ]
    assert [r.status_code for r in answers] == [200, 200, 429]
    refused = answers[-1].json()["error"]
    assert refused["code"] == "budget_exceeded" and "token 'tok-chat'" in refused["message"]
    assert 1 <= int(answers[-1].headers["retry-after"]) <= 86400


def test_budget_settles_to_the_real_cost(client: CheckedClient, fake: ServerThread) -> None:
    """gpt-4o at OpenAI's price: max_tokens=100 reserves about $0.00105, the answer costs
    about $0.00004. Without settlement a $0.0025 budget would admit two calls."""
    token = setup(
        client,
        fake,
        token={"budget": {"usd": 0.0025, "period": "month"}},
        provider="openai",
        model="gpt-4o",
    )
    codes = [
        client.post(
            "/v1/chat/completions", json=chat(max_tokens=100), headers=bearer(token)
        ).status_code
        for _ in range(6)
    ]
    assert codes == [200] * 6
    # A call whose worst case alone is over the budget is refused before it is sent.
    calls = len(fake.app.state.calls)
    r = client.post("/v1/chat/completions", json=chat(max_tokens=1000), headers=bearer(token))
    assert r.status_code == 429 and r.json()["error"]["code"] == "budget_exceeded"
    assert len(fake.app.state.calls) == calls


def test_alert_budget_posts_once_per_period_and_never_refuses(
    settings: Settings, services: Services, fake: ServerThread
) -> None:
    hook = Webhook()
    with serve(hook.app) as receiver:
        alerting = settings.model_copy(update={"alert_webhook_url": receiver.url + "/hook"})
        with (
            serve(create_app(alerting, services)) as server,
            httpx.Client(base_url=server.url, headers=ADMIN) as api,
        ):
            token = setup(
                api,
                fake,
                endpoint={"budget": {"usd": 0.08, "period": "week", "action": "alert"}},
                model="no-such-priced-model",
            )
            codes = [
                httpx.post(
                    server.url + "/v1/chat/completions", json=chat(), headers=bearer(token)
                ).status_code
                for _ in range(4)
            ]
            assert codes == [200] * 4
            deadline = time.monotonic() + 5
            while not hook.received:
                assert time.monotonic() < deadline, "no alert arrived"
                time.sleep(0.05)
            time.sleep(0.5)
    assert len(hook.received) == 1, hook.received
    alert = hook.received[0]
    assert alert["type"] == "budget_exceeded" and alert["scope"] == "endpoint"
    assert alert["name"] == "chat" and alert["budget_usd"] == 0.08
    assert alert["period"] == "week"


async def _stream_first_chunk_then_leave(url: str, token: str) -> None:
    async with (
        httpx.AsyncClient(timeout=10) as c,
        c.stream(
            "POST",
            url + "/v1/chat/completions",
            headers=bearer(token),
            # 40 words at 0.2 s each: the stream would run 8 s if nobody left.
            json=chat(stream=True, messages=[{"role": "user", "content": "word " * 40}]),
        ) as r,
    ):
        assert r.status_code == 200
        async for _ in r.aiter_bytes():
            break  # the caller goes away mid-stream


def test_concurrency_slots_come_back_on_every_path(server_url: str, fake: ServerThread) -> None:
    with httpx.Client(base_url=server_url, headers=ADMIN) as api:
        token = setup(api, fake, token={"max_concurrent": 1}, model="drip")
        setup(api, fake, name="failing", model="fail-400")

    async def scenario() -> None:
        async with httpx.AsyncClient(base_url=server_url, timeout=10) as c:
            # While one stream runs, a second call is refused.
            async with c.stream(
                "POST", "/v1/chat/completions", headers=bearer(token), json=chat(stream=True)
            ) as held:
                assert held.status_code == 200
                busy = await c.post("/v1/chat/completions", json=chat(), headers=bearer(token))
                assert busy.status_code == 429
                assert "concurrent" in busy.json()["error"]["message"]
                await held.aread()
            # Success: the slot came back.
            ok = await c.post("/v1/chat/completions", json=chat(), headers=bearer(token))
            assert ok.status_code == 200
            # Client disconnect mid-stream: back within a moment — the next drip (0.2 s)
            # finds the caller gone; 0.33 s here. The deadline leaves room for a loaded
            # CI machine (once over 1 s) and is still far short of the 8 s the stream
            # would take to end by itself, which is what a leaked slot would wait for.
            for _ in range(3):
                await _stream_first_chunk_then_leave(server_url, token)
                deadline = time.monotonic() + 3
                while (
                    await c.post("/v1/chat/completions", json=chat(), headers=bearer(token))
                ).status_code == 429:
                    assert time.monotonic() < deadline, "the slot did not come back"
                    await asyncio.sleep(0.05)
            # Upstream error: the slot comes back too.
            for _ in range(3):
                r = await c.post(
                    "/v1/chat/completions", json=chat("failing"), headers=bearer(token)
                )
                assert r.status_code == 400
            ok = await c.post("/v1/chat/completions", json=chat(), headers=bearer(token))
            assert ok.status_code == 200

    asyncio.run(scenario())


def test_error_answers_carry_the_limit_headers(client: CheckedClient, fake: ServerThread) -> None:
    token = setup(client, fake, token={"requests_per_minute": 5}, model="fail-503")
    r = client.post("/v1/chat/completions", json=chat(), headers=bearer(token))
    assert r.status_code == 503
    assert r.headers["x-ratelimit-remaining-requests"] == "4"


def test_endpoint_and_key_limits_are_edited_and_shown(
    client: CheckedClient, fake: ServerThread
) -> None:
    token = setup(client, fake)
    key = client.get("/api/v1/keys").json()["keys"][0]
    ep = client.get("/api/v1/endpoints").json()["endpoints"][0]
    assert key["limits"] is None and ep["limits"] is None
    r = client.patch(f"/api/v1/keys/{key['id']}", json={"limits": {"max_concurrent": 0}})
    assert r.status_code == 422
    r = client.patch(f"/api/v1/keys/{key['id']}", json={"limits": {"requests_per_minute": 1}})
    assert r.status_code == 200 and r.json()["limits"]["requests_per_minute"] == 1
    r = client.patch(f"/api/v1/endpoints/{ep['id']}", json={"limits": {"tokens_per_minute": 1000}})
    assert r.status_code == 200 and r.json()["limits"]["tokens_per_minute"] == 1000
    assert r.json()["version"] == ep["version"] + 1
    codes = [
        client.post("/v1/chat/completions", json=chat(), headers=bearer(token)).status_code
        for _ in range(2)
    ]
    assert codes == [200, 429]
    r = client.patch(f"/api/v1/keys/{key['id']}", json={"limits": None})
    assert r.status_code == 200 and r.json()["limits"] is None
    assert (
        client.post("/v1/chat/completions", json=chat(), headers=bearer(token)).status_code == 200
    )


class Webhook:
    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.fail_first = 1

        async def hook(request: Request) -> JSONResponse:
            if self.fail_first > 0:
                self.fail_first -= 1
                return JSONResponse({}, status_code=503)  # the sender retries
            self.received.append(await request.json())
            return JSONResponse({})

        self.app = Starlette(routes=[Route("/hook", hook, methods=["POST"])])


def test_readyz_says_limits_are_per_process(client: CheckedClient) -> None:
    limits = client.get("/readyz").json()["limits"]
    assert limits["store"] == "memory" and limits["scope"] == "per-process"
    assert "KEYHOUSE_REDIS_URL" in limits["note"]


def test_use_against_every_limit_is_listed(client: CheckedClient, fake: ServerThread) -> None:
    token = setup(
        client,
        fake,
        token={
            "requests_per_minute": 10,
            "max_concurrent": 3,
            "budget": {"usd": 1, "period": "month"},
        },
        endpoint={"tokens_per_minute": 5000},
        model="no-such-priced-model",
    )
    for _ in range(2):
        assert (
            client.post("/v1/chat/completions", json=chat(), headers=bearer(token)).status_code
            == 200
        )
    use = client.get("/api/v1/limits/use").json()
    assert use["store"] == "memory" and use["shared"] is False and use["reachable"] is True
    by_scope = {s["scope"]: s for s in use["subjects"]}
    assert set(by_scope) == {"token", "endpoint"}
    mine = by_scope["token"]
    assert mine["name"] == "tok-chat"
    assert mine["requests"]["limit"] == 10 and mine["requests"]["remaining"] == 8
    assert mine["concurrent"] == {"limit": 3, "in_use": 0}
    # No price for this model: each call kept the default reservation of $0.05.
    assert mine["budget"]["spent_usd"] == pytest.approx(0.10)
    assert mine["budget"]["period"] == "month"
    assert by_scope["endpoint"]["tokens"]["limit"] == 5000
    assert by_scope["endpoint"]["tokens"]["remaining"] < 5000
    only = client.get("/api/v1/limits/use?scope=endpoint").json()["subjects"]
    assert [s["scope"] for s in only] == ["endpoint"]
    assert client.get("/api/v1/limits/use?scope=user").status_code == 422


def test_start_up_says_limits_are_per_process(tmp_path: Path) -> None:
    env = keyhouse_env(tmp_path)
    with replica_process(env) as (url, _):
        ready = httpx.get(url + "/readyz").json()
    log = next(tmp_path.glob("serve-*.log")).read_text()
    assert "limits are per process" in log and "KEYHOUSE_REDIS_URL" in log
    assert ready["limits"]["scope"] == "per-process"


def test_a_redis_password_never_shows(tmp_path: Path) -> None:
    """The Redis URL may carry a password: not in /readyz, the log or an error answer."""
    password = "redis-pass-" + "z" * 20
    env = keyhouse_env(tmp_path, KEYHOUSE_REDIS_URL=f"redis://:{password}@127.0.0.1:9/0")
    with replica_process(env) as (url, _), httpx.Client(base_url=url, headers=ADMIN) as api:
        key = api.post(
            "/api/v1/keys",
            json={
                "name": "k",
                "provider": "openai_compatible",
                "credentials": {"api_key": "sk-x"},
                "config": {"base_url": "http://127.0.0.1:9/v1"},
            },
        ).json()
        api.post(
            "/api/v1/endpoints",
            json={"name": "chat", "targets": [{"key_id": key["id"], "model": "m"}]},
        )
        t = api.post(
            "/api/v1/access-tokens", json={"name": "app", "limits": {"requests_per_minute": 5}}
        ).json()["token"]
        time.sleep(0.5)
        answer = api.post("/v1/chat/completions", json=chat(), headers=bearer(t))
        ready = api.get("/readyz")
        use = api.get("/api/v1/limits/use")
    assert answer.status_code == 503 and answer.json()["error"]["code"] == "limits_unavailable"
    assert ready.json()["limits"]["reachable"] is False
    assert use.json()["reachable"] is False
    log = next(tmp_path.glob("serve-*.log")).read_text()
    for text in (answer.text, ready.text, use.text, log):
        assert password not in text


def test_streams_carry_the_limit_headers(client: CheckedClient, fake: ServerThread) -> None:
    token = setup(client, fake, token={"requests_per_minute": 5, "tokens_per_minute": 900})
    with client.stream(
        "POST", "/v1/chat/completions", json=chat(stream=True), headers=bearer(token)
    ) as r:
        assert r.status_code == 200
        assert r.headers["x-ratelimit-remaining-requests"] == "4"
        assert r.headers["x-ratelimit-limit-tokens"] == "900"
        assert b"[DONE]" in r.read()
    r = client.post(
        "/v1/messages",
        headers=bearer(token),
        json={
            "model": "chat",
            "max_tokens": 16,
            "stream": True,
            "messages": [{"role": "user", "content": "hi"}],
        },
    )
    assert r.status_code == 200 and r.headers["x-ratelimit-remaining-requests"] == "3"
    assert "message_stop" in r.text


def test_a_caller_who_leaves_mid_stream_stops_the_upstream_read_and_is_recorded_499(
    server_url: str, fake: ServerThread
) -> None:
    """The stream writer watches for the caller going away (from its first event on):
    the upstream is not read to its end for nobody (the drip stream would run 8 s), and
    the call is recorded as 499 client_closed_request, with its latency."""
    with httpx.Client(base_url=server_url, headers=ADMIN) as api:
        token = setup(api, fake, model="drip")
        started = time.monotonic()
        asyncio.run(_stream_first_chunk_then_leave(server_url, token))
        deadline = started + 5
        while True:
            records = api.get("/api/v1/usage/requests").json()["records"]
            if records:
                break
            assert time.monotonic() < deadline, "no usage record for the abandoned stream"
            time.sleep(0.1)
    (record,) = records
    assert (record["status"], record["error_code"]) == (499, "client_closed_request")
    assert record["stream"] is True
    assert record["latency_ms"] < 3000, record["latency_ms"]  # not the 8 s drip
