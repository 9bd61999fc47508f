"""OpenTelemetry: a span per gateway call with the GenAI attributes and no content; the
OTLP path when OTEL_EXPORTER_OTLP_ENDPOINT is set; no SDK or exporter imported when it is
not."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import anthropic
import openai
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from keyhouse.app import create_app
from keyhouse.services import Services
from keyhouse.settings import Settings
from keyhouse.testing.fakes.openai import create_app as openai_fake
from keyhouse.testing.fakes.server import serve
from tests.api.conftest import CheckedClient, openai_key
from tests.conftest import ADMIN_TOKEN

SQLITE = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

SECRET = "sk-trace-" + "t" * 30
PROMPT = "the secret recipe for marmalade"


def _setup(client: CheckedClient, url: str) -> str:
    key = client.post(
        "/api/v1/keys", json=openai_key("key-a", SECRET, base_url=url + "/v1")
    ).json()["id"]
    client.post(
        "/api/v1/endpoints",
        json={"name": "chat", "targets": [{"key_id": key, "model": "gpt-4o-mini"}]},
    )
    client.post(
        "/api/v1/endpoints",
        json={
            "name": "embed",
            "task": "embeddings",
            "targets": [{"key_id": key, "model": "text-embedding-3-small"}],
        },
    )
    return str(client.post("/api/v1/access-tokens", json={"name": "app"}).json()["token"])


@pytest.fixture
def traced(
    settings: Settings, services: Services
) -> Iterator[tuple[CheckedClient, InMemorySpanExporter]]:
    exporter = InMemorySpanExporter()
    app = create_app(settings, services, span_exporter=exporter)
    with CheckedClient(app, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}) as c:
        yield c, exporter


@SQLITE
def test_one_span_per_call_with_genai_attributes_and_no_content(
    traced: tuple[CheckedClient, InMemorySpanExporter],
) -> None:
    client, exporter = traced
    with serve(openai_fake(api_key=SECRET)) as up:
        token = _setup(client, up.url)
        sdk = openai.OpenAI(
            base_url=f"{client.base_url}/v1", api_key=token, http_client=client, max_retries=0
        )
        answer = sdk.chat.completions.create(
            model="chat", messages=[{"role": "user", "content": PROMPT}]
        )
        list(
            sdk.chat.completions.create(
                model="chat", stream=True, messages=[{"role": "user", "content": PROMPT}]
            )
        )
        embedded = sdk.embeddings.create(model="embed", input=PROMPT)
        anthropic.Anthropic(
            base_url=str(client.base_url), api_key=token, http_client=client, max_retries=0
        ).messages.create(
            model="chat", max_tokens=20, messages=[{"role": "user", "content": PROMPT}]
        )
    spans = exporter.get_finished_spans()
    assert [s.name for s in spans] == ["chat chat", "chat chat", "embeddings embed", "chat chat"]
    first = spans[0]
    assert first.kind.name == "CLIENT"
    attrs = dict(first.attributes or {})
    assert answer.usage is not None
    assert attrs["gen_ai.operation.name"] == "chat"
    assert attrs["gen_ai.provider.name"] == "openai"
    assert attrs["gen_ai.request.model"] == "chat"
    assert attrs["gen_ai.response.model"] == "gpt-4o-mini"
    assert attrs["gen_ai.usage.input_tokens"] == answer.usage.prompt_tokens
    assert attrs["gen_ai.usage.output_tokens"] == answer.usage.completion_tokens
    assert attrs["keyhouse.token.name"] == "app"
    assert attrs["http.response.status_code"] == 200
    assert first.end_time is not None and first.start_time is not None
    assert first.end_time > first.start_time
    emb = dict(spans[2].attributes or {})
    assert emb["gen_ai.operation.name"] == "embeddings"
    assert emb["gen_ai.usage.input_tokens"] == embedded.usage.prompt_tokens
    # No content and no secret on any span.
    text = json.dumps([dict(s.attributes or {}) for s in spans]) + " ".join(s.name for s in spans)
    for word in ("marmalade", "recipe", answer.choices[0].message.content or "-", SECRET, token):
        assert word not in text


@SQLITE
def test_the_otlp_exporter_sends_spans_when_the_endpoint_is_set(
    settings: Settings, services: Services
) -> None:
    received: list[ExportTraceServiceRequest] = []

    async def traces(request: Request) -> Response:
        message = ExportTraceServiceRequest()
        message.ParseFromString(await request.body())
        received.append(message)
        return Response(b"", media_type="application/x-protobuf")

    collector = Starlette(routes=[Route("/v1/traces", traces, methods=["POST"])])
    with serve(collector) as otlp, serve(openai_fake(api_key=SECRET)) as up:
        monkey = pytest.MonkeyPatch()
        monkey.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", otlp.url)
        try:
            # The operator's environment, as `keyhouse serve` reads it.
            configured = Settings(
                **{
                    **settings.model_dump(exclude={"otel_exporter_otlp_endpoint"}),
                    "admin_token": ADMIN_TOKEN,
                }
            )
            assert configured.otel_exporter_otlp_endpoint == otlp.url
            with CheckedClient(
                create_app(configured, services), headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
            ) as client:
                token = _setup(client, up.url)
                r = client.post(
                    "/v1/chat/completions",
                    headers={"Authorization": f"Bearer {token}"},
                    json={"model": "chat", "messages": [{"role": "user", "content": PROMPT}]},
                )
                assert r.status_code == 200
            # Leaving the app flushed the batch processor.
        finally:
            monkey.undo()
    spans = [
        span
        for message in received
        for rs in message.resource_spans
        for ss in rs.scope_spans
        for span in ss.spans
    ]
    assert [s.name for s in spans] == ["chat chat"]
    attrs = {a.key: a.value for a in spans[0].attributes}
    assert attrs["gen_ai.provider.name"].string_value == "openai"
    assert attrs["gen_ai.usage.output_tokens"].int_value > 0


def test_no_tracing_sdk_is_imported_without_the_endpoint(tmp_path: Path) -> None:
    script = textwrap.dedent(f"""
        import os, sys
        os.environ.pop("OTEL_EXPORTER_OTLP_ENDPOINT", None)
        from starlette.testclient import TestClient
        from keyhouse.app import create_app
        from keyhouse.services import bootstrap
        from keyhouse.settings import Settings
        from keyhouse.testing.fakes.openai import create_app as fake
        from keyhouse.testing.fakes.server import serve
        s = Settings(home={str(tmp_path)!r}, admin_token="t" * 40,
                     allow_private_upstreams=True)
        app = create_app(s, bootstrap(s, migrate=True))
        with serve(fake(api_key="sk-" + "x" * 30)) as up, TestClient(
                app, headers={{"Authorization": "Bearer " + "t" * 40}}) as c:
            key = c.post("/api/v1/keys", json={{"name": "k", "provider": "openai",
                "credentials": {{"api_key": "sk-" + "x" * 30}},
                "config": {{"base_url": up.url + "/v1"}}}}).json()["id"]
            c.post("/api/v1/endpoints", json={{"name": "chat", "targets": [
                {{"key_id": key, "model": "gpt-4o-mini"}}]}})
            r = c.post("/v1/chat/completions", json={{"model": "chat",
                "messages": [{{"role": "user", "content": "hi"}}]}})
            assert r.status_code == 200, r.text
            assert c.get("/metrics").status_code == 200
        # FastAPI itself imports the OpenTelemetry *API* (a no-op facade it depends on);
        # what tracing would add is the SDK, the exporter and Keyhouse's tracing module.
        print(sorted(m for m in sys.modules if m.startswith(
            ("opentelemetry.sdk", "opentelemetry.exporter", "opentelemetry.proto",
             "keyhouse.usage.tracing"))))
    """)
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
    )
    assert out.stdout.strip().splitlines()[-1] == "[]", out.stdout + out.stderr
