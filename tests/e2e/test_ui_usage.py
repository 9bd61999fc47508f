"""Usage, tried as a new user would (issue 11's "done when"): calls through two endpoints
with two access tokens — streams and a fallback among them — then the usage API, the
Usage tab, /metrics, the key list's last use and the delete warning all tell the same
story: the requests, the tokens the fakes reported, their cost."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest
from openai.types.chat import ChatCompletionMessageParam
from playwright.sync_api import expect
from prometheus_client.parser import text_string_to_metric_families

from keyhouse.testing.fakes.openai import create_app as openai_fake
from keyhouse.testing.fakes.server import ServerThread, serve
from keyhouse.usage.prices import cost_usd
from tests.e2e.conftest import ADMIN_TOKEN, UI, Server, row_named, unique

SECRET_A = "sk-e2e-usage-a-" + "a" * 24
SECRET_B = "sk-e2e-usage-b-" + "b" * 24
PROMPT: list[ChatCompletionMessageParam] = [
    {"role": "user", "content": "How many tokens does this cost?"}
]


@pytest.fixture(scope="module")
def upstreams() -> Iterator[tuple[ServerThread, ServerThread]]:
    with serve(openai_fake(api_key=SECRET_A)) as a, serve(openai_fake(api_key=SECRET_B)) as b:
        yield a, b


@pytest.fixture(scope="module")
def traffic(server: Server, upstreams: tuple[ServerThread, ServerThread]) -> dict[str, Any]:
    """Two keys, two endpoints (one falls back), two tokens, and the calls they made."""
    a, b = upstreams
    names = {
        "key_a": unique("usage-key-a"),
        "key_b": unique("usage-key-b"),
        "chat": unique("usage-chat"),
        "fb": unique("usage-fallback"),
        "one": unique("usage-app-one"),
        "two": unique("usage-app-two"),
    }
    with server.api() as api:
        key_a = api.post(
            "/api/v1/keys",
            json={
                "name": names["key_a"],
                "provider": "openai",
                "credentials": {"api_key": SECRET_A},
                "config": {"base_url": a.url + "/v1"},
            },
        ).json()
        key_b = api.post(
            "/api/v1/keys",
            json={
                "name": names["key_b"],
                "provider": "openai",
                "credentials": {"api_key": SECRET_B},
                "config": {"base_url": b.url + "/v1"},
            },
        ).json()
        assert (
            api.post(
                "/api/v1/endpoints",
                json={
                    "name": names["chat"],
                    "targets": [{"key_id": key_a["id"], "model": "gpt-4o-mini"}],
                },
            ).status_code
            == 201
        )
        assert (
            api.post(
                "/api/v1/endpoints",
                json={
                    "name": names["fb"],
                    "max_retries": 0,
                    "targets": [
                        {"key_id": key_a["id"], "model": "fail-503"},
                        {"key_id": key_b["id"], "model": "gpt-4o", "role": "fallback"},
                    ],
                },
            ).status_code
            == 201
        )
        tokens = {
            who: api.post("/api/v1/access-tokens", json={"name": names[who]}).json()
            for who in ("one", "two")
        }

    # (token, endpoint, provider model, prompt tokens, completion tokens) per call
    calls: list[tuple[str, str, str, int, int]] = []

    def client(who: str) -> openai.OpenAI:
        return openai.OpenAI(
            base_url=f"{server.url}/v1", api_key=tokens[who]["token"], max_retries=0
        )

    for who, endpoint, model, stream in (
        ("one", "chat", "gpt-4o-mini", False),
        ("one", "chat", "gpt-4o-mini", False),
        ("one", "chat", "gpt-4o-mini", True),
        ("one", "fb", "gpt-4o", False),
        ("two", "chat", "gpt-4o-mini", True),
        ("two", "fb", "gpt-4o", False),
        ("two", "fb", "gpt-4o", True),
    ):
        sdk = client(who)
        if stream:
            chunks = list(
                sdk.chat.completions.create(
                    model=names[endpoint],
                    messages=PROMPT,
                    stream=True,  # type: ignore[arg-type]
                    stream_options={"include_usage": True},
                )
            )
            usage = chunks[-1].usage
        else:
            usage = sdk.chat.completions.create(model=names[endpoint], messages=PROMPT).usage  # type: ignore
        assert usage is not None
        calls.append((who, endpoint, model, usage.prompt_tokens, usage.completion_tokens))

    with server.api() as api:
        deadline = time.monotonic() + 15
        while True:
            page = api.get(
                "/api/v1/usage/requests", params={"key": key_a["id"], "limit": 100}
            ).json()["records"]
            page += api.get(
                "/api/v1/usage/requests", params={"key": key_b["id"], "limit": 100}
            ).json()["records"]
            if len(page) >= len(calls) or time.monotonic() > deadline:
                break
            time.sleep(0.2)
    return {"names": names, "keys": {"a": key_a, "b": key_b}, "tokens": tokens, "calls": calls}


def expected_by_token(traffic: dict[str, Any]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = defaultdict(
        lambda: {"requests": 0, "input_tokens": 0, "output_tokens": 0, "cost_usd": 0.0}
    )
    for who, _, model, inp, outp in traffic["calls"]:
        row = out[traffic["names"][who]]
        row["requests"] += 1
        row["input_tokens"] += inp
        row["output_tokens"] += outp
        row["cost_usd"] += cost_usd("openai", model, inp, outp) or 0.0
    return out


def test_usage_by_token_shows_the_requests_tokens_and_cost(
    server: Server, traffic: dict[str, Any]
) -> None:
    want = expected_by_token(traffic)
    with server.api() as api:
        body = api.get("/api/v1/usage", params={"group_by": "token"}).json()
        records = api.get(
            "/api/v1/usage/requests", params={"token": traffic["tokens"]["two"]["id"]}
        ).json()["records"]
    got = {row["group"]: row for row in body["rows"]}
    for name, w in want.items():
        row = got[name]
        assert (row["requests"], row["input_tokens"], row["output_tokens"]) == (
            w["requests"],
            w["input_tokens"],
            w["output_tokens"],
        ), name
        assert row["cost_usd"] == pytest.approx(w["cost_usd"]) and row["cost_usd"] > 0
        assert row["errors"] == 0
    # Token two's calls, newest first: two through the fallback (one a stream).
    assert [(r["endpoint"]["name"], r["stream"], r["fallback_used"]) for r in records] == [
        (traffic["names"]["fb"], True, True),
        (traffic["names"]["fb"], False, True),
        (traffic["names"]["chat"], True, False),
    ]
    assert all(r["key"]["name"] == traffic["names"]["key_b"] for r in records[:2])


def test_metrics_count_the_same_calls(server: Server, traffic: dict[str, Any]) -> None:
    text = httpx.get(
        f"{server.url}/metrics", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
    ).text
    found: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            found[(s.name, frozenset(s.labels.items()))] = s.value
    names = traffic["names"]
    for endpoint in ("chat", "fb"):
        mine = [c for c in traffic["calls"] if c[1] == endpoint]
        labels = {"endpoint": names[endpoint], "provider": "openai"}
        assert found[
            ("keyhouse_requests_total", frozenset({**labels, "status": "200"}.items()))
        ] == len(mine)
        assert found[
            ("keyhouse_tokens_total", frozenset({**labels, "direction": "input"}.items()))
        ] == sum(c[3] for c in mine)
        assert found[
            ("keyhouse_tokens_total", frozenset({**labels, "direction": "output"}.items()))
        ] == sum(c[4] for c in mine)
    assert SECRET_A not in text and SECRET_B not in text


def test_the_usage_tab_shows_the_same_numbers(signed_in: UI, traffic: dict[str, Any]) -> None:
    ui = signed_in
    want = expected_by_token(traffic)
    ui.goto("/gateway/usage")
    expect(ui.page.get_by_role("tab", name="Usage")).to_have_attribute("aria-selected", "true")
    for chart in ("Requests over time", "Tokens over time", "Cost over time"):
        expect(ui.page.get_by_role("figure", name=chart)).to_be_visible()
    expect(ui.page.locator("[data-stat=Requests]")).not_to_have_text("0")
    breakdown = ui.page.get_by_role("table", name="Usage by Access token")
    expect(breakdown).to_be_visible()
    for name, w in want.items():
        row = breakdown.locator(f'tr[data-group="{name}"]')
        cells = row.get_by_role("cell")
        expect(cells.nth(1)).to_have_text(str(w["requests"]))
        expect(cells.nth(3)).to_have_text(f"{w['input_tokens']:,}")
        expect(cells.nth(4)).to_have_text(f"{w['output_tokens']:,}")
        expect(cells.nth(5)).to_have_text("$" + cells.nth(5).inner_text().lstrip("$"))
        assert cells.nth(5).inner_text() != "$0"
    recent = ui.page.get_by_role("table", name="Recent calls")
    expect(recent.get_by_text("fallback").first).to_be_visible()
    # Cache writes have their own column; this traffic (OpenAI) reports none.
    headers = recent.get_by_role("columnheader").all_inner_texts()
    column = headers.index("Cache writes")
    first = recent.locator("tbody tr").first.get_by_role("cell").nth(column)
    expect(first).to_have_text("0")
    group_by = ui.page.locator('[aria-label="Group by"]')
    group_by.get_by_text("Endpoint", exact=True).click()
    by_endpoint = ui.page.get_by_role("table", name="Usage by Endpoint")
    fb = sum(1 for c in traffic["calls"] if c[1] == "fb")
    expect(
        by_endpoint.locator(f'tr[data-group="{traffic["names"]["fb"]}"]').get_by_role("cell").nth(1)
    ).to_have_text(str(fb))
    ui.page.locator('[aria-label="Time range"]').get_by_text("Last 7 days").click()
    expect(ui.page.get_by_role("figure", name="Requests over time")).to_be_visible()
    group_by.get_by_text("Access token", exact=True).click()
    expect(breakdown).to_be_visible()
    ui.shot("usage-tab")


def test_the_key_list_shows_last_use_and_delete_names_the_callers(
    signed_in: UI, server: Server, traffic: dict[str, Any]
) -> None:
    ui = signed_in
    names = traffic["names"]
    ui.goto("/gateway/api-keys")
    row = row_named(ui, names["key_a"])
    last_used = row.locator("[data-col=last-used]")
    expect(last_used).not_to_have_text("Never")
    # A call counts for the key that served it: the fallback calls went to key B.
    calls_a = sum(1 for c in traffic["calls"] if c[1] == "chat")
    expect(last_used).to_contain_text(f"{calls_a} calls in 7 days")
    row.get_by_role("button", name=f"Delete {names['key_a']}").click()
    dialog = ui.page.get_by_role("dialog", name="Delete API key")
    callers = dialog.get_by_role("list", name="Recent callers")
    expect(callers).to_contain_text(names["one"])
    expect(callers).to_contain_text(names["two"])
    ui.shot("usage-delete-warning")
    dialog.get_by_role("button", name="Cancel").click()

    with server.api() as api:
        r = api.delete(f"/api/v1/keys/{traffic['keys']['a']['id']}")
    assert r.status_code == 409
    recent = {
        c["token"]["name"]: c["requests"]
        for c in r.json()["error"]["recent_callers"]
        if c["token"] != "admin"
    }
    per_token: dict[str, int] = defaultdict(int)
    for who, endpoint, *_ in traffic["calls"]:
        if endpoint == "chat":
            per_token[names[who]] += 1
    assert recent == dict(per_token)
