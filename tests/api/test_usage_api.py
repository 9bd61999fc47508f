"""The usage API over seeded records: every grouping equals a brute-force count of the
records in range (edges inside an hour included), pages cover every record once newest
first, filters and bad input, last use on keys and tokens, the delete warning."""

from __future__ import annotations

import itertools
import random
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from keyhouse.services import Services
from keyhouse.usage import sink
from keyhouse.usage.record import LATENCY_BUCKETS, UsageRecord, latency_bucket
from keyhouse.usage.reports import percentile
from tests.api.conftest import CheckedClient, openai_key

NOW = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
ENDPOINTS = [("e1", "chat"), ("e2", "embed")]
TOKENS = [("t1", "app-one"), ("t2", "app-two"), (None, None)]  # None: the admin token
KEYS = [("k1", "key-a"), ("k2", "key-b")]


def seed(
    services: Services,
    n: int = 600,
    key_ids: list[str] | None = None,
    token_ids: list[str | None] | None = None,
) -> list[UsageRecord]:
    rng = random.Random(7)
    keys = [(k, name) for k, (_, name) in zip(key_ids or [k for k, _ in KEYS], KEYS, strict=True)]
    tokens = list(zip(token_ids or [t for t, _ in TOKENS], [n for _, n in TOKENS], strict=True))
    out = []
    for i in range(n):
        endpoint = ENDPOINTS[i % 2]
        key = keys[i % 2]
        token = tokens[i % 3]
        at = NOW - timedelta(minutes=rng.uniform(0, 60 * 24 * 5))  # five days back
        status = 500 if i % 10 == 0 else 200
        out.append(
            UsageRecord(
                operation="chat",
                endpoint_id=endpoint[0],
                endpoint_name=endpoint[1],
                token_id=token[0],
                token_name=token[1],
                is_admin=token[0] is None,
                stream=i % 4 == 0,
                status=status,
                error_code="upstream_error" if status >= 400 else None,
                key_id=key[0],
                key_name=key[1],
                credential_version=1,
                provider="openai",
                model=["gpt-4o", "gpt-4o-mini"][i % 2],
                latency_ms=rng.lognormvariate(5, 1),
                input_tokens=rng.randint(1, 500),
                output_tokens=rng.randint(1, 200),
                cached_input_tokens=0,
                cost_usd=rng.uniform(0, 0.01),
                attempts=1,
                at=at,
            )
        )
    for start in range(0, n, 100):
        sink.write_batch(services.store, out[start : start + 100])
    return out


def expected(
    records: list[UsageRecord], start: datetime, end: datetime, group: Any
) -> dict[Any, dict[str, Any]]:
    acc: dict[Any, dict[str, Any]] = defaultdict(
        lambda: {
            "requests": 0,
            "errors": 0,
            "input_tokens": 0,
            "output_tokens": 0,
            "cost_usd": 0.0,
            "latency": [0] * LATENCY_BUCKETS,
        }
    )
    for r in records:
        if start <= r.at < end:
            a = acc[group(r)]
            a["requests"] += 1
            a["errors"] += r.status >= 400
            a["input_tokens"] += r.input_tokens or 0
            a["output_tokens"] += r.output_tokens or 0
            a["cost_usd"] += r.cost_usd or 0
            a["latency"][latency_bucket(r.latency_ms)] += 1
    return acc


GROUPINGS = {
    "endpoint": lambda r: r.endpoint_name,
    "key": lambda r: r.key_name,
    "token": lambda r: r.token_name or "admin",
    "model": lambda r: r.model,
    "provider": lambda r: r.provider,
    "hour": lambda r: r.at.replace(minute=0, second=0, microsecond=0).isoformat(),
    "day": lambda r: r.at.replace(hour=0, minute=0, second=0, microsecond=0).isoformat(),
}


@pytest.mark.parametrize("group_by", list(GROUPINGS))
def test_every_grouping_counts_exactly_what_is_in_range(
    client: CheckedClient, services: Services, group_by: str
) -> None:
    records = seed(services)
    # Edges inside an hour on both sides: whole days and hours come from the counters,
    # the edges from the records.
    start = NOW - timedelta(days=4, hours=3, minutes=17, seconds=3)
    end = NOW - timedelta(minutes=23)
    r = client.get(
        "/api/v1/usage",
        params={"from": start.isoformat(), "to": end.isoformat(), "group_by": group_by},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["group_by"] == group_by
    want = expected(records, start, end, GROUPINGS[group_by])
    got = {row["group"]: row for row in body["rows"] if row["requests"]}
    assert set(got) == set(want)
    for name, w in want.items():
        row = got[name]
        assert (row["requests"], row["errors"], row["input_tokens"], row["output_tokens"]) == (
            w["requests"],
            w["errors"],
            w["input_tokens"],
            w["output_tokens"],
        ), name
        assert row["cost_usd"] == pytest.approx(w["cost_usd"])
        assert row["latency_ms_p50"] == percentile(w["latency"], 0.5)
        assert row["latency_ms_p95"] == percentile(w["latency"], 0.95)
    total = sum(w["requests"] for w in want.values())
    assert body["totals"]["requests"] == total > 100
    if group_by in ("day", "hour"):
        # A chart's axis: every bucket of the range, the empty ones as zeros.
        step = timedelta(days=1) if group_by == "day" else timedelta(hours=1)
        times = [datetime.fromisoformat(row["group"]) for row in body["rows"]]
        assert all(b - a == step for a, b in itertools.pairwise(times))


def test_filters_by_name_or_id(client: CheckedClient, services: Services) -> None:
    records = seed(services)
    start, end = NOW - timedelta(days=6), NOW + timedelta(hours=1)
    params = {"from": start.isoformat(), "to": end.isoformat(), "group_by": "endpoint"}
    for token, name in (("t1", "app-one"), ("admin", None)):
        body = client.get("/api/v1/usage", params={**params, "token": token}).json()
        assert body["totals"]["requests"] == sum(1 for r in records if r.token_name == name)
    body = client.get("/api/v1/usage", params={**params, "endpoint": "e2", "key": "k2"}).json()
    assert [row["group"] for row in body["rows"]] == ["embed"]
    assert body["totals"]["requests"] == sum(1 for r in records if r.endpoint_id == "e2")


def test_requests_pages_newest_first_and_filters(client: CheckedClient, services: Services) -> None:
    records = seed(services, 260)
    seen: list[dict[str, Any]] = []
    before = None
    while True:
        params: dict[str, Any] = {"limit": 100, **({"before": before} if before else {})}
        page = client.get("/api/v1/usage/requests", params=params).json()
        seen += page["records"]
        before = page["next_before"]
        if before is None:
            break
    assert len(seen) == 260
    assert [s["id"] for s in seen] == [
        r.id for r in sorted(records, key=lambda r: (r.at, r.id), reverse=True)
    ]
    first = seen[0]
    assert set(first) >= {
        "id",
        "at",
        "endpoint",
        "key",
        "credential_version",
        "provider",
        "model",
        "token",
        "status",
        "error_code",
        "stream",
        "latency_ms",
        "ttfb_ms",
        "input_tokens",
        "output_tokens",
        "cached_input_tokens",
        "cost_usd",
        "attempts",
        "fallback_used",
    }
    errors = client.get(
        "/api/v1/usage/requests", params={"status": "error", "token": "t2", "limit": 500}
    ).json()
    assert {(r["status"], r["token"]["name"]) for r in errors["records"]} == {(500, "app-two")}
    assert len(errors["records"]) == sum(
        1 for r in records if r.status == 500 and r.token_id == "t2"
    )
    admin = client.get("/api/v1/usage/requests", params={"token": "admin", "limit": 5}).json()
    assert admin["records"] and all(r["token"] == "admin" for r in admin["records"])


@pytest.mark.parametrize(
    ("path", "params", "status"),
    [
        ("/api/v1/usage", {"group_by": "colour"}, 422),
        ("/api/v1/usage", {"from": "2026-01-02T00:00:00Z", "to": "2026-01-01T00:00:00Z"}, 400),
        ("/api/v1/usage", {"from": "yesterday"}, 422),
        ("/api/v1/usage", {"from": "2020-01-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"}, 400),
        ("/api/v1/usage/requests", {"limit": 0}, 422),
        ("/api/v1/usage/requests", {"limit": 501}, 422),
        ("/api/v1/usage/requests", {"before": "not-a-cursor!"}, 422),
        ("/api/v1/usage/requests", {"status": "teapot"}, 422),
    ],
)
def test_bad_input_is_a_clear_4xx(
    client: CheckedClient, path: str, params: dict[str, Any], status: int
) -> None:
    r = client.get(path, params=params)
    assert r.status_code == status, r.text
    assert r.json()["error"]["message"]


def test_the_usage_api_needs_the_admin_token(client: CheckedClient) -> None:
    for path in ("/api/v1/usage", "/api/v1/usage/requests"):
        assert client.get(path, headers={"Authorization": ""}).status_code == 401
        assert client.get(path, headers={"Authorization": "Bearer nope"}).status_code == 401


def test_key_and_token_views_show_last_use_and_delete_names_the_callers(
    client: CheckedClient, services: Services
) -> None:
    ka = client.post("/api/v1/keys", json=openai_key("key-a")).json()["id"]
    kb = client.post("/api/v1/keys", json=openai_key("key-b", "sk-other-" + "x" * 30)).json()
    client.post(
        "/api/v1/endpoints", json={"name": "chat", "targets": [{"key_id": ka, "model": "gpt-4o"}]}
    )
    tokens = [
        client.post("/api/v1/access-tokens", json={"name": n}).json()["id"]
        for n in ("app-one", "app-two")
    ]
    records = seed(services, 300, key_ids=[ka, kb["id"]], token_ids=[*tokens, None])
    week = NOW - timedelta(days=7)

    keys = {k["name"]: k for k in client.get("/api/v1/keys").json()["keys"]}
    for name, key_id in (("key-a", ka), ("key-b", kb["id"])):
        mine = [r for r in records if r.key_id == key_id]
        view = keys[name]
        assert datetime.fromisoformat(view["last_used_at"]) == max(r.at for r in mine)
        assert view["usage_7d"]["requests"] == sum(1 for r in mine if r.at >= week)
        assert view["usage_7d"]["errors"] == sum(1 for r in mine if r.status >= 400)
        assert view["usage_7d"]["cost_usd"] == pytest.approx(sum(r.cost_usd or 0 for r in mine))
    assert client.get(f"/api/v1/keys/{ka}").json()["last_used_at"] == keys["key-a"]["last_used_at"]
    listed = {t["name"]: t for t in client.get("/api/v1/access-tokens").json()["access_tokens"]}
    one = [r for r in records if r.token_id == tokens[0]]
    assert datetime.fromisoformat(listed["app-one"]["last_used_at"]) == max(r.at for r in one)
    assert listed["app-one"]["usage_7d"]["requests"] == len(one)

    r = client.delete(f"/api/v1/keys/{ka}")
    assert r.status_code == 409
    error = r.json()["error"]
    assert error["code"] == "key_in_use" and [e["name"] for e in error["endpoints"]] == ["chat"]
    callers = {
        ("admin" if c["token"] == "admin" else c["token"]["name"]): c
        for c in error["recent_callers"]
    }
    through_a = [r for r in records if r.key_id == ka]
    assert set(callers) == {r.token_name or "admin" for r in through_a}
    for name, caller in callers.items():
        theirs = [r for r in through_a if (r.token_name or "admin") == name]
        assert caller["requests"] == len(theirs)
        assert datetime.fromisoformat(caller["last_used_at"]) == max(r.at for r in theirs)
    # A key nobody calls through and no endpoint uses deletes at once.
    client.post("/api/v1/keys", json=openai_key("key-c", "sk-third-" + "y" * 30))
    kc = {k["name"]: k for k in client.get("/api/v1/keys").json()["keys"]}["key-c"]
    assert kc["last_used_at"] is None and kc["usage_7d"]["requests"] == 0
    assert client.delete(f"/api/v1/keys/{kc['id']}").status_code == 204


def test_every_route_answering_one_key_or_token_view_carries_its_last_use(
    client: CheckedClient, services: Services
) -> None:
    """The class: every route whose answer is a KeyView or an AccessTokenView, found in
    the OpenAPI document, shows the same ``last_used_at``/``usage_7d`` as the list."""
    key_id = client.post("/api/v1/keys", json=openai_key("key-a")).json()["id"]
    token_id = client.post("/api/v1/access-tokens", json={"name": "app-one"}).json()["id"]
    seed(services, 40, key_ids=[key_id, "k-other"], token_ids=[token_id, "t-other", None])
    client.patch(f"/api/v1/keys/{key_id}", json={"credentials": {"api_key": "sk-v2-" + "z" * 30}})
    listed = {
        "KeyView": client.get("/api/v1/keys").json()["keys"][0],
        "AccessTokenView": client.get("/api/v1/access-tokens").json()["access_tokens"][0],
    }
    assert all(v["last_used_at"] and v["usage_7d"]["requests"] for v in listed.values())

    def version() -> str:
        return str(client.get(f"/api/v1/keys/{key_id}").json()["version"])

    calls = {
        ("get", "/api/v1/keys/{key_id}"): lambda: client.get(f"/api/v1/keys/{key_id}"),
        ("patch", "/api/v1/keys/{key_id}"): lambda: client.patch(
            f"/api/v1/keys/{key_id}", json={"description": "d"}, headers={"If-Match": version()}
        ),
        ("post", "/api/v1/keys/{key_id}/rollback"): lambda: client.post(
            f"/api/v1/keys/{key_id}/rollback", json={"version": 1}
        ),
        ("get", "/api/v1/access-tokens/{token_id}"): lambda: client.get(
            f"/api/v1/access-tokens/{token_id}"
        ),
        ("patch", "/api/v1/access-tokens/{token_id}"): lambda: client.patch(
            f"/api/v1/access-tokens/{token_id}", json={"name": "app-1"}
        ),
    }
    spec = client.app.openapi()  # type: ignore[attr-defined]
    answering: dict[tuple[str, str], str] = {}
    for path, methods in spec["paths"].items():
        for method, op in methods.items():
            schema = op.get("responses", {}).get("200", {}).get("content", {})
            ref = schema.get("application/json", {}).get("schema", {}).get("$ref", "")
            model = ref.rsplit("/", 1)[-1]
            if model in listed:
                answering[(method, path)] = model
    assert set(answering) == set(calls)
    for route, call in calls.items():
        r = call()
        assert r.status_code == 200, (route, r.text)
        view, expected = r.json(), listed[answering[route]]
        assert view["last_used_at"] == expected["last_used_at"], route
        assert view["usage_7d"] == expected["usage_7d"], route
