"""The router: traffic split, retries, fallback — with a scripted adapter, no network."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import pytest

from keyhouse.errors import (
    KeyhouseError,
    NoKey,
    Unsupported,
    UpstreamAuthFailed,
    UpstreamBadRequest,
    UpstreamError,
    UpstreamRateLimited,
    UpstreamTimeout,
    UpstreamUnavailable,
    UpstreamURLRefused,
)
from keyhouse.gateway.routing import RetryPolicy, Router, plan
from keyhouse.gateway.types import Endpoint, Target
from keyhouse.gateway.upstream import Timeouts, Upstream
from keyhouse.providers.base import Call, Credential, ProviderAdapter
from keyhouse.providers.catalog import ProviderSpec
from keyhouse.providers.registry import Adapters
from keyhouse.testing.registry import StaticRegistry

JSON = dict[str, Any]
Outcome = JSON | BaseException


class Scripted(ProviderAdapter):
    """Answers each call with the next outcome scripted for its model."""

    id = "scripted"

    def __init__(self, script: dict[str, list[Outcome]]) -> None:
        self.script = script
        self.calls: list[tuple[str, JSON, Call]] = []

    def _next(self, call: Call, request: JSON) -> Outcome:
        self.calls.append((call.model, request, call))
        outcomes = self.script[call.model]
        return outcomes.pop(0) if len(outcomes) > 1 else outcomes[0]

    async def chat(self, call: Call, request: JSON) -> JSON:
        outcome = self._next(call, request)
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    async def chat_stream(self, call: Call, request: JSON) -> AsyncIterator[JSON]:
        outcome = self._next(call, request)
        if isinstance(outcome, BaseException):
            raise outcome
        for item in outcome["chunks"]:
            if isinstance(item, BaseException):
                raise item
            yield item


def _endpoint(*targets: Target, max_retries: int = 1) -> Endpoint:
    return Endpoint(
        id="e1",
        name="chat",
        task="chat",
        targets=targets,
        timeout_seconds=7.0,
        connect_timeout_seconds=2.0,
        max_retries=max_retries,
    )


def _target(
    model: str, key_id: str | None = "k1", weight: int = 1, role: str = "primary"
) -> Target:
    return Target(key_id=key_id, provider="openai", model=model, weight=weight, role=role)  # type: ignore[arg-type]


REGISTRY = StaticRegistry(
    credentials=[
        Credential("k1", "openai", "api_key", {"api_key": "sk-one-secret"}, {}),
        Credential("k2", "openai", "api_key", {"api_key": "sk-two-secret"}, {}),
    ]
)


class Harness:
    def __init__(
        self, monkeypatch: pytest.MonkeyPatch, script: dict[str, list[Outcome]], seed: int = 1
    ) -> None:
        self.adapter = Scripted(script)
        self.sleeps: list[float] = []
        adapter = self.adapter

        class One(Adapters):
            def get(self, spec: ProviderSpec, auth_method: str) -> ProviderAdapter:
                return adapter

        async def sleep(seconds: float) -> None:
            self.sleeps.append(seconds)

        # The router is built with its adapters, as create_app builds it.
        self.router = Router(random.Random(seed), sleep=sleep, policy=RetryPolicy(), adapters=One())
        self.client = Upstream(allow_private=True)

    @property
    def models(self) -> list[str]:
        return [model for model, _, _ in self.adapter.calls]

    async def chat(self, endpoint: Endpoint, registry: StaticRegistry = REGISTRY) -> JSON:
        return await self.router.chat(
            registry, self.client, endpoint, {"model": "chat", "messages": []}
        )


OK: JSON = {"id": "ok", "choices": []}


# --- the plan -------------------------------------------------------------------------


def test_traffic_split_follows_the_weights() -> None:
    endpoint = _endpoint(_target("a", weight=80), _target("b", weight=20))
    rng = random.Random(42)
    firsts = Counter(plan(endpoint, rng)[0].model for _ in range(10_000))
    assert 0.77 < firsts["a"] / 10_000 < 0.83


def test_plan_puts_the_other_primaries_then_fallbacks_in_order() -> None:
    endpoint = _endpoint(
        _target("f1", role="fallback"),
        _target("a", weight=1),
        _target("f2", role="fallback"),
        _target("b", weight=1),
    )
    for seed in range(20):
        models = [t.model for t in plan(endpoint, random.Random(seed))]
        assert sorted(models[:2]) == ["a", "b"]
        assert models[2:] == ["f1", "f2"]


def test_a_zero_weight_primary_is_never_drawn_first() -> None:
    endpoint = _endpoint(_target("a", weight=0), _target("b", weight=5))
    assert {plan(endpoint, random.Random(s))[0].model for s in range(50)} == {"b"}


# --- the retry policy -------------------------------------------------------------------


def test_retry_delay_honours_retry_after_up_to_the_cap() -> None:
    router = Router(random.Random(0), policy=RetryPolicy(max_retry_after=5.0))
    assert router.retry_delay(UpstreamRateLimited(retry_after=1.5), 0, 2) == 1.5
    assert router.retry_delay(UpstreamRateLimited(retry_after=30.0), 0, 2) is None
    assert router.retry_delay(UpstreamRateLimited(retry_after=1.5), 2, 2) is None
    assert router.retry_delay(UpstreamAuthFailed(), 0, 2) is None


def test_backoff_grows_with_jitter_and_a_ceiling() -> None:
    router = Router(random.Random(0), policy=RetryPolicy(backoff_base=0.25, backoff_max=1.0))
    first = [router.retry_delay(UpstreamUnavailable(), 0, 9) for _ in range(50)]
    third = [router.retry_delay(UpstreamUnavailable(), 2, 9) for _ in range(50)]
    late = [router.retry_delay(UpstreamUnavailable(), 8, 9) for _ in range(50)]
    assert all(d is not None and 0.125 <= d <= 0.25 for d in first)
    assert all(d is not None and 0.5 <= d <= 1.0 for d in third)
    assert all(d is not None and d <= 1.0 for d in late)
    assert len(set(first)) > 1  # jittered


# --- the loop -------------------------------------------------------------------------


@pytest.mark.anyio
async def test_a_5xx_is_retried_then_the_fallback_serves(monkeypatch: pytest.MonkeyPatch) -> None:
    h = Harness(monkeypatch, {"a": [UpstreamUnavailable()], "f": [OK]})
    result = await h.chat(
        _endpoint(_target("a"), _target("f", "k2", role="fallback"), max_retries=2)
    )
    assert result == OK
    assert h.models == ["a", "a", "a", "f"]
    assert len(h.sleeps) == 2


@pytest.mark.anyio
async def test_each_attempt_gets_the_endpoints_timeouts_and_the_target_model(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    h = Harness(monkeypatch, {"gpt-x": [OK]})
    await h.chat(_endpoint(_target("gpt-x")))
    _, request, call = h.adapter.calls[0]
    assert request["model"] == "gpt-x" and call.model == "gpt-x"
    assert call.timeout == Timeouts(read=7.0, connect=2.0)
    assert call.credential.key_id == "k1"


@pytest.mark.anyio
async def test_retry_after_is_waited_then_the_same_target_succeeds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    h = Harness(monkeypatch, {"a": [UpstreamRateLimited(retry_after=0.4), OK]})
    assert await h.chat(_endpoint(_target("a"))) == OK
    assert h.sleeps == [0.4]
    assert h.models == ["a", "a"]


@pytest.mark.anyio
async def test_a_long_retry_after_moves_on_without_waiting(monkeypatch: pytest.MonkeyPatch) -> None:
    h = Harness(monkeypatch, {"a": [UpstreamRateLimited(retry_after=120.0)], "f": [OK]})
    assert await h.chat(_endpoint(_target("a"), _target("f", role="fallback"))) == OK
    assert h.sleeps == []
    assert h.models == ["a", "f"]


@pytest.mark.anyio
@pytest.mark.parametrize("error", [UpstreamAuthFailed(), Unsupported()])
async def test_errors_another_attempt_cannot_fix_go_straight_to_the_fallback(
    monkeypatch: pytest.MonkeyPatch, error: KeyhouseError
) -> None:
    h = Harness(monkeypatch, {"a": [error], "f": [OK]})
    assert await h.chat(_endpoint(_target("a"), _target("f", role="fallback"), max_retries=3)) == OK
    assert h.models == ["a", "f"]


@pytest.mark.anyio
async def test_a_bad_request_is_the_callers_and_ends_the_loop(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    h = Harness(monkeypatch, {"a": [UpstreamBadRequest("bad tools")], "f": [OK]})
    with pytest.raises(UpstreamBadRequest):
        await h.chat(_endpoint(_target("a"), _target("f", role="fallback")))
    assert h.models == ["a"]


@pytest.mark.anyio
async def test_the_last_error_is_the_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    h = Harness(monkeypatch, {"a": [UpstreamUnavailable()], "f": [UpstreamTimeout()]})
    with pytest.raises(UpstreamTimeout):
        await h.chat(_endpoint(_target("a"), _target("f", role="fallback"), max_retries=0))
    assert h.models == ["a", "f"]


@pytest.mark.anyio
async def test_a_target_without_a_key_is_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    h = Harness(monkeypatch, {"f": [OK]})
    endpoint = _endpoint(
        _target("gone", key_id=None),
        _target("deleted", key_id="k-deleted"),
        _target("f", role="fallback"),
    )
    assert await h.chat(endpoint) == OK
    assert h.models == ["f"]


@pytest.mark.anyio
async def test_an_endpoint_whose_only_key_is_gone_answers_no_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    h = Harness(monkeypatch, {})
    with pytest.raises(NoKey) as info:
        await h.chat(_endpoint(_target("gone", key_id=None)))
    assert (info.value.status, info.value.code) == (503, "endpoint_has_no_key")


@pytest.mark.anyio
async def test_a_refused_upstream_address_is_a_502_and_falls_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    h = Harness(monkeypatch, {"a": [UpstreamURLRefused("Upstream URL refused: x.")]})
    with pytest.raises(UpstreamError) as info:
        await h.chat(_endpoint(_target("a")))
    assert info.value.status == 502
    h2 = Harness(monkeypatch, {"a": [UpstreamURLRefused()], "f": [OK]})
    assert await h2.chat(_endpoint(_target("a"), _target("f", role="fallback"))) == OK


@pytest.mark.anyio
async def test_an_adapter_bug_is_logged_scrubbed_and_falls_back(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # The message of a foreign exception may quote anything (a body, a secret that is
    # not the key's own): only its type and where it was raised are logged.
    h = Harness(monkeypatch, {"a": [KeyError("sk-one-secret quoting a prompt")], "f": [OK]})
    assert await h.chat(_endpoint(_target("a"), _target("f", role="fallback"))) == OK
    assert "KeyError" in caplog.text
    assert "sk-one-secret" not in caplog.text and "quoting a prompt" not in caplog.text
    assert "test_routing.py" in caplog.text  # where it happened is kept


@pytest.mark.anyio
async def test_a_stream_falls_back_before_its_first_chunk(monkeypatch: pytest.MonkeyPatch) -> None:
    chunk = {"choices": [{"delta": {"content": "hi"}}]}
    h = Harness(
        monkeypatch,
        {
            "a": [{"chunks": [UpstreamUnavailable()]}],
            "f": [{"chunks": [chunk, {"choices": [{"delta": {"content": "!"}}]}]}],
        },
    )
    opened = await h.router.chat_stream(
        REGISTRY,
        h.client,
        _endpoint(_target("a"), _target("f", role="fallback"), max_retries=0),
        {"model": "chat", "messages": []},
    )
    assert opened.first == chunk
    rest = [c async for c in opened.rest]
    assert rest == [{"choices": [{"delta": {"content": "!"}}]}]
    assert h.models == ["a", "f"]


@pytest.mark.anyio
async def test_a_stream_does_not_fall_back_after_its_first_chunk(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    chunk = {"choices": [{"delta": {"content": "hi"}}]}
    h = Harness(
        monkeypatch, {"a": [{"chunks": [chunk, UpstreamUnavailable()]}], "f": [{"chunks": [chunk]}]}
    )
    opened = await h.router.chat_stream(
        REGISTRY,
        h.client,
        _endpoint(_target("a"), _target("f", role="fallback")),
        {"model": "chat", "messages": []},
    )
    with pytest.raises(UpstreamUnavailable):
        async for _ in opened.rest:
            pass
    assert h.models == ["a"]
