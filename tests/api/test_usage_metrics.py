"""/metrics: guarded by the admin or metrics token; its counters equal the calls made."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr
from sqlalchemy import func, select

from keyhouse.app import create_app
from keyhouse.services import Services
from keyhouse.settings import Settings
from keyhouse.store.models import UsageRecordRow as R
from keyhouse.testing.fakes.openai import create_app as openai_fake
from keyhouse.testing.fakes.server import ServerThread, serve
from keyhouse.usage import sink
from tests.api.conftest import CheckedClient, openai_key
from tests.conftest import ADMIN_TOKEN

SECRET = "sk-metrics-" + "m" * 30
METRICS_TOKEN = "metrics-scraper-" + "s" * 20


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(found: dict[Any, float], name: str, **labels: str) -> float:
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.fixture
def metered(settings: Settings, services: Services) -> Iterator[tuple[httpx.Client, ServerThread]]:
    settings = settings.model_copy(update={"metrics_token": SecretStr(METRICS_TOKEN)})
    with (
        serve(create_app(settings, services)) as server,
        httpx.Client(
            base_url=server.url, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=30
        ) as c,
    ):
        yield c, server


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_counters_match_the_calls(
    metered: tuple[httpx.Client, ServerThread], services: Services
) -> None:
    client, served = metered
    with serve(openai_fake(api_key=SECRET)) as up:
        key = client.post(
            "/api/v1/keys", json=openai_key("key-a", SECRET, base_url=up.url + "/v1")
        ).json()["id"]
        client.post(
            "/api/v1/endpoints",
            json={"name": "chat", "targets": [{"key_id": key, "model": "gpt-4o-mini"}]},
        )
        client.post(
            "/api/v1/endpoints",
            json={
                "name": "flaky",
                "max_retries": 1,
                "targets": [
                    {"key_id": key, "model": "fail-503"},
                    {"key_id": key, "model": "gpt-4o", "role": "fallback"},
                ],
            },
        )
        token = client.post("/api/v1/access-tokens", json={"name": "app"}).json()["token"]
        # The calls go to a real server of the same app (the in-process TestClient
        # cannot stream); the metrics are read through the TestClient.
        sdk = openai.OpenAI(base_url=f"{served.url}/v1", api_key=token, max_retries=0)
        usage = []
        for _ in range(3):
            usage.append(
                sdk.chat.completions.create(
                    model="chat", messages=[{"role": "user", "content": "count me"}]
                ).usage
            )
        chunks = list(
            sdk.chat.completions.create(
                model="chat",
                stream=True,
                stream_options={"include_usage": True},
                messages=[{"role": "user", "content": "count me"}],
            )
        )
        usage.append(chunks[-1].usage)
        usage.append(
            sdk.chat.completions.create(
                model="flaky", messages=[{"role": "user", "content": "count me"}]
            ).usage
        )

    for headers in (
        {"Authorization": ""},
        {"Authorization": "Bearer wrong"},
        {"Authorization": f"Bearer {token}"},
    ):  # an access token is not enough
        assert client.get("/metrics", headers=headers).status_code == 401
    by_admin = client.get("/metrics")
    by_scraper = client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert by_admin.status_code == by_scraper.status_code == 200
    assert by_admin.headers["content-type"].startswith("text/plain")
    text = by_scraper.text
    assert SECRET not in text and token not in text and METRICS_TOKEN not in text
    found = samples(text)

    assert (
        value(found, "keyhouse_requests_total", endpoint="chat", provider="openai", status="200")
        == 4
    )
    assert (
        value(found, "keyhouse_requests_total", endpoint="flaky", provider="openai", status="200")
        == 1
    )
    for name in (
        "keyhouse_request_duration_seconds_count",
        "keyhouse_time_to_first_byte_seconds_count",
    ):
        assert value(found, name, endpoint="chat", provider="openai") == 4
    prompt = sum(u.prompt_tokens for u in usage[:4] if u)
    completion = sum(u.completion_tokens for u in usage[:4] if u)
    assert (
        value(found, "keyhouse_tokens_total", endpoint="chat", provider="openai", direction="input")
        == prompt
    )
    assert (
        value(
            found, "keyhouse_tokens_total", endpoint="chat", provider="openai", direction="output"
        )
        == completion
    )
    # fail-503 twice (one retry), then the fallback; plus the four good calls.
    assert (
        value(
            found,
            "keyhouse_upstream_attempts_total",
            provider="openai",
            outcome="upstream_unavailable",
        )
        == 2
    )
    assert value(found, "keyhouse_upstream_attempts_total", provider="openai", outcome="ok") == 5
    assert value(found, "keyhouse_config_version") == services.registry.version > 0
    assert value(found, "keyhouse_usage_records_dropped_total") == 0

    deadline = time.monotonic() + 10
    while sink.count(services.store) < 5 and time.monotonic() < deadline:
        time.sleep(0.05)
    with services.store.read() as session:
        cost = session.scalar(select(func.sum(R.cost_usd)).where(R.endpoint_name == "chat"))
    assert value(
        found, "keyhouse_cost_usd_total", endpoint="chat", provider="openai"
    ) == pytest.approx(cost)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_full_buffer_is_counted_as_dropped(settings: Settings, services: Services) -> None:
    settings = settings.model_copy(update={"usage_buffer_size": 2, "usage_flush_seconds": 3600})
    with (
        serve(openai_fake(api_key=SECRET)) as up,
        CheckedClient(
            create_app(settings, services), headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
        ) as client,
    ):
        key = client.post(
            "/api/v1/keys", json=openai_key("key-a", SECRET, base_url=up.url + "/v1")
        ).json()["id"]
        client.post(
            "/api/v1/endpoints",
            json={"name": "chat", "targets": [{"key_id": key, "model": "gpt-4o-mini"}]},
        )
        for _ in range(5):
            r = client.post(
                "/v1/chat/completions",
                json={"model": "chat", "messages": [{"role": "user", "content": "hi"}]},
            )
            assert r.status_code == 200  # a full buffer never fails or delays a call
        found = samples(client.get("/metrics").text)
        assert value(found, "keyhouse_usage_records_dropped_total") == 3
        assert value(found, "keyhouse_usage_records_queued") == 2
        assert (
            value(
                found, "keyhouse_requests_total", endpoint="chat", provider="openai", status="200"
            )
            == 5
        )
