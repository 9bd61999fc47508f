"""Usage records through the real app: one per call of chat (whole and streamed),
embeddings and messages, with the tokens the provider reported, the cost, the attempts
and the fallback — and never a word of the prompt or the answer."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import anthropic
import openai
import pytest
from openai.types.chat import ChatCompletionMessageParam
from sqlalchemy import select

from keyhouse.services import Services
from keyhouse.store.models import UsageHourlyRow, UsageRecordRow
from keyhouse.testing.fakes.openai import create_app as openai_fake
from keyhouse.testing.fakes.server import serve
from keyhouse.usage.prices import cost_usd
from tests.api.conftest import CheckedClient, openai_key

SECRET_A = "sk-usage-a-" + "a" * 30
SECRET_B = "sk-usage-b-" + "b" * 30
PROMPT = "Tell me about the quiet purple giraffe"
LONG_PROMPT = " ".join(["word"] * 1300)


@pytest.fixture
def world(client: CheckedClient) -> Iterator[dict[str, Any]]:
    with serve(openai_fake(api_key=SECRET_A)) as up_a, serve(openai_fake(api_key=SECRET_B)) as up_b:
        ka = client.post(
            "/api/v1/keys", json=openai_key("key-a", SECRET_A, base_url=up_a.url + "/v1")
        ).json()["id"]
        kb = client.post(
            "/api/v1/keys", json=openai_key("key-b", SECRET_B, base_url=up_b.url + "/v1")
        ).json()["id"]
        for body in (
            {"name": "chat", "targets": [{"key_id": ka, "model": "gpt-4o-mini"}]},
            {
                "name": "chat-fb",
                "max_retries": 1,
                "targets": [
                    {"key_id": ka, "model": "fail-503"},
                    {"key_id": kb, "model": "gpt-4o", "role": "fallback"},
                ],
            },
            {
                "name": "embed",
                "task": "embeddings",
                "targets": [{"key_id": kb, "model": "text-embedding-3-small"}],
            },
            {
                "name": "priced",
                "targets": [
                    {
                        "key_id": kb,
                        "model": "my-finetune",
                        "price": {
                            "input_per_mtok": 2,
                            "output_per_mtok": 8,
                            "cached_input_per_mtok": 1,
                        },
                    }
                ],
            },
        ):
            r = client.post("/api/v1/endpoints", json=body)
            assert r.status_code == 201, r.text
        tokens = {}
        for name in ("app-one", "app-two"):
            r = client.post("/api/v1/access-tokens", json={"name": name})
            tokens[name] = (r.json()["id"], r.json()["token"])
        yield {"keys": {"key-a": ka, "key-b": kb}, "tokens": tokens}


def records(services: Services, count: int, timeout: float = 10.0) -> list[UsageRecordRow]:
    deadline = time.monotonic() + timeout
    while True:
        with services.store.read() as session:
            rows = list(session.scalars(select(UsageRecordRow).order_by(UsageRecordRow.at)))
        if len(rows) >= count or time.monotonic() > deadline:
            return rows
        time.sleep(0.1)


def sdk(server_url: str, token: str) -> openai.OpenAI:
    # A real server: the in-process TestClient cannot stream (it reads the whole answer
    # before the app has finished writing it, which the gateway sees as a caller gone).
    return openai.OpenAI(base_url=f"{server_url}/v1", api_key=token, max_retries=0)


def test_one_record_per_call_with_the_providers_tokens(
    server_url: str, services: Services, world: dict[str, Any]
) -> None:
    (one_id, one), (_, two) = world["tokens"]["app-one"], world["tokens"]["app-two"]
    messages: list[ChatCompletionMessageParam] = [{"role": "user", "content": PROMPT}]
    a, b = sdk(server_url, one), sdk(server_url, two)

    whole = a.chat.completions.create(model="chat", messages=messages)  # type: ignore[arg-type]
    chunks = list(
        a.chat.completions.create(
            model="chat",
            messages=messages,  # type: ignore
            stream=True,
        )
    )
    # The caller did not ask for usage: it gets none, though Keyhouse asked upstream.
    assert all(c.usage is None for c in chunks)
    with_usage = list(
        b.chat.completions.create(
            model="chat",
            messages=messages,
            stream=True,  # type: ignore[arg-type]
            stream_options={"include_usage": True},
        )
    )
    assert with_usage[-1].usage is not None
    fallback = b.chat.completions.create(model="chat-fb", messages=messages)  # type: ignore
    embedded = a.embeddings.create(model="embed", input=["one two three", "four"])
    cached = b.chat.completions.create(
        model="chat",
        messages=[{"role": "user", "content": LONG_PROMPT}],
        extra_body={"prompt_cache_key": "k1"},
    )
    priced = b.chat.completions.create(
        model="priced",
        messages=[{"role": "user", "content": LONG_PROMPT}],
        extra_body={"prompt_cache_key": "k1"},
    )
    claude = anthropic.Anthropic(base_url=server_url, api_key=one, max_retries=0)
    message = claude.messages.create(
        model="chat", max_tokens=50, messages=[{"role": "user", "content": PROMPT}]
    )
    with claude.messages.stream(
        model="chat", max_tokens=50, messages=[{"role": "user", "content": PROMPT}]
    ) as events:
        streamed_message = events.get_final_message()
    # A call that fails before any attempt (unknown endpoint) has no endpoint: no record.
    with pytest.raises(openai.NotFoundError):
        a.chat.completions.create(model="nope", messages=messages)  # type: ignore[arg-type]

    rows = records(services, 9)
    assert len(rows) == 9
    assert whole.usage is not None and embedded.usage is not None
    assert cached.usage is not None and priced.usage is not None
    by_kind: dict[tuple[str, str, bool], list[UsageRecordRow]] = {}
    for row in rows:
        by_kind.setdefault((row.operation, row.endpoint_name or "", row.stream), []).append(row)

    (plain,) = [
        r for r in by_kind[("chat", "chat", False)] if r.input_tokens == whole.usage.prompt_tokens
    ]
    assert (plain.output_tokens, plain.cached_input_tokens) == (whole.usage.completion_tokens, 0)
    assert (plain.token_id, plain.token_name, plain.is_admin) == (one_id, "app-one", False)
    assert (plain.key_id, plain.key_name, plain.credential_version) == (
        world["keys"]["key-a"],
        "key-a",
        1,
    )
    assert (plain.provider, plain.model, plain.status, plain.error_code) == (
        "openai",
        "gpt-4o-mini",
        200,
        None,
    )
    assert (plain.attempts, plain.fallback_used) == (1, False)
    assert plain.cost_usd == pytest.approx(
        cost_usd("openai", "gpt-4o-mini", whole.usage.prompt_tokens, whole.usage.completion_tokens)
    )
    assert plain.cost_usd is not None and plain.cost_usd > 0

    # Both streams carry the tokens the provider reported in its usage chunk.
    streams = sorted(by_kind[("chat", "chat", True)], key=lambda r: r.token_name or "")
    assert [s.token_name for s in streams] == ["app-one", "app-two"]
    final = with_usage[-1].usage
    for s in streams:
        assert (s.input_tokens, s.output_tokens) == (final.prompt_tokens, final.completion_tokens)
        assert s.ttfb_ms is not None and 0 < s.ttfb_ms <= s.latency_ms
        assert s.status == 200 and s.cost_usd is not None

    (fb,) = by_kind[("chat", "chat-fb", False)]
    assert fallback.usage is not None
    # fail-503 is retried once on key-a, then the fallback on key-b answers.
    assert (fb.attempts, fb.fallback_used, fb.key_name, fb.model) == (3, True, "key-b", "gpt-4o")
    assert fb.output_tokens == fallback.usage.completion_tokens

    (emb,) = by_kind[("embeddings", "embed", False)]
    assert (emb.input_tokens, emb.output_tokens) == (embedded.usage.prompt_tokens, None)
    assert emb.cost_usd == pytest.approx(
        cost_usd("openai", "text-embedding-3-small", embedded.usage.prompt_tokens, 0)
    )

    (cache_row,) = [r for r in by_kind[("chat", "chat", False)] if r is not plain]
    assert cached.usage.prompt_tokens_details is not None
    hit = cached.usage.prompt_tokens_details.cached_tokens
    assert hit and cache_row.cached_input_tokens == hit
    assert cache_row.cost_usd == pytest.approx(
        cost_usd(
            "openai", "gpt-4o-mini", cached.usage.prompt_tokens, cached.usage.completion_tokens, hit
        )
    )
    assert cache_row.cost_usd < cost_usd(  # type: ignore[operator]
        "openai", "gpt-4o-mini", cached.usage.prompt_tokens, cached.usage.completion_tokens
    )

    # The target's own price: a model genai-prices does not know still has a cost.
    (own,) = by_kind[("chat", "priced", False)]
    inp, out = priced.usage.prompt_tokens, priced.usage.completion_tokens
    assert own.cached_input_tokens is not None and own.cached_input_tokens > 0
    assert own.cost_usd == pytest.approx(
        ((inp - own.cached_input_tokens) * 2 + own.cached_input_tokens * 1 + out * 8) / 1e6
    )

    msgs = by_kind[("messages", "chat", False)] + by_kind[("messages", "chat", True)]
    assert sorted((m.stream, m.output_tokens) for m in msgs) == [
        (False, message.usage.output_tokens),
        (True, streamed_message.usage.output_tokens),
    ]

    # No content: not a word of the prompt or of any answer in any column.
    text = repr(
        [{c.name: getattr(r, c.name) for c in UsageRecordRow.__table__.columns} for r in rows]
    )
    for word in ("giraffe", "purple", whole.choices[0].message.content or "-"):
        assert word not in text
    assert SECRET_A not in text and SECRET_B not in text

    with services.store.read() as session:
        hourly = list(session.scalars(select(UsageHourlyRow)))
    assert sum(h.requests for h in hourly) == 9
    assert sum(h.output_tokens for h in hourly) == sum(r.output_tokens or 0 for r in rows)
    assert sum(h.cost_usd for h in hourly) == pytest.approx(sum(r.cost_usd or 0 for r in rows))


def test_failed_calls_are_recorded_with_their_status(
    client: CheckedClient, server_url: str, services: Services, world: dict[str, Any]
) -> None:
    ka = world["keys"]["key-a"]
    r = client.post(
        "/api/v1/endpoints",
        json={"name": "broken", "max_retries": 0, "targets": [{"key_id": ka, "model": "fail-400"}]},
    )
    assert r.status_code == 201
    one = world["tokens"]["app-one"][1]
    with pytest.raises(openai.BadRequestError):
        sdk(server_url, one).chat.completions.create(
            model="broken", messages=[{"role": "user", "content": PROMPT}]
        )
    with pytest.raises(openai.BadRequestError):
        list(
            sdk(server_url, one).chat.completions.create(
                model="broken", stream=True, messages=[{"role": "user", "content": PROMPT}]
            )
        )
    rows = records(services, 2)
    assert sorted((r.status, r.error_code, r.stream, r.attempts, r.cost_usd) for r in rows) == [
        (400, "upstream_bad_request", False, 1, None),
        (400, "upstream_bad_request", True, 1, None),
    ]
