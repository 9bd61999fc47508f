"""OpenTelemetry: one span per gateway call, only when ``OTEL_EXPORTER_OTLP_ENDPOINT``
is set (or a test hands in an exporter). Nothing of OpenTelemetry is imported otherwise.

Attributes follow the GenAI semantic conventions; no prompt or answer content, no
secret, is ever put on a span. The span is made when the call has ended, with the
call's own start time: nothing is added to the request path while the call runs.
"""

from __future__ import annotations

from typing import Any

from keyhouse.usage.record import UsageRecord

# Keyhouse provider → gen_ai.provider.name (the semantic conventions' well-known values).
_PROVIDER_NAMES = {
    "openai": "openai",
    "anthropic": "anthropic",
    "gemini": "gcp.gemini",
    "vertex_ai": "gcp.vertex_ai",
    "bedrock": "aws.bedrock",
    "mistral": "mistral_ai",
    "groq": "groq",
    "deepseek": "deepseek",
    "xai": "x_ai",
    "perplexity": "perplexity",
    "cohere": "cohere",
}
_OPERATIONS = {"chat": "chat", "messages": "chat", "responses": "chat", "embeddings": "embeddings"}


def provider_name(provider: str | None, auth_method: str | None) -> str:
    if provider == "openai" and auth_method and auth_method.startswith("azure"):
        return "azure.ai.openai"
    return _PROVIDER_NAMES.get(provider or "", provider or "unknown")


def span_attributes(record: UsageRecord, auth_method: str | None) -> dict[str, Any]:
    attributes: dict[str, Any] = {
        "gen_ai.operation.name": _OPERATIONS.get(record.operation, record.operation),
        "gen_ai.provider.name": provider_name(record.provider, auth_method),
        "gen_ai.request.model": record.endpoint_name or "",
        "keyhouse.endpoint.name": record.endpoint_name or "",
        "keyhouse.token.name": "admin" if record.is_admin else (record.token_name or ""),
        "keyhouse.attempts": record.attempts,
        "keyhouse.fallback_used": record.fallback_used,
        "keyhouse.stream": record.stream,
        "http.response.status_code": record.status,
    }
    optional = {
        "gen_ai.response.model": record.model,
        "keyhouse.key.name": record.key_name,
        "gen_ai.usage.input_tokens": record.input_tokens,
        "gen_ai.usage.output_tokens": record.output_tokens,
        "gen_ai.usage.cache_read.input_tokens": record.cached_input_tokens,
        "keyhouse.cost_usd": record.cost_usd,
        "error.type": record.error_code,
    }
    attributes.update({k: v for k, v in optional.items() if v is not None})
    return attributes


class Tracing:
    """A tracer provider of this app's own (not the process-global one)."""

    def __init__(self, exporter: Any = None) -> None:
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

        self._provider = TracerProvider(resource=Resource.create({"service.name": "keyhouse"}))
        if exporter is None:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
                OTLPSpanExporter,
            )

            # The exporter reads OTEL_EXPORTER_OTLP_* itself; spans leave in batches on
            # the SDK's own thread.
            self._provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        else:
            self._provider.add_span_processor(SimpleSpanProcessor(exporter))
        self._tracer = self._provider.get_tracer("keyhouse")
        from opentelemetry.trace import SpanKind, Status, StatusCode

        self._error = Status(StatusCode.ERROR)
        self._client = SpanKind.CLIENT

    def span(
        self, record: UsageRecord, auth_method: str | None, start_ns: int, end_ns: int
    ) -> None:
        operation = _OPERATIONS.get(record.operation, record.operation)
        # CLIENT: the semantic conventions' kind for a call to a model provider.
        span = self._tracer.start_span(
            f"{operation} {record.endpoint_name or ''}".strip(),
            kind=self._client,
            start_time=start_ns,
            attributes=span_attributes(record, auth_method),
        )
        if record.is_error:
            span.set_status(self._error)
        span.end(end_time=end_ns)

    def shutdown(self) -> None:
        self._provider.shutdown()
