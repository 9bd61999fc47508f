"""A fake of Amazon Bedrock Runtime (Converse, ConverseStream, InvokeModel,
InvokeModelWithResponseStream, CountTokens) and of the control plane's
ListFoundationModels, served on 127.0.0.1.

It authenticates as AWS does (``bedrock_sigv4``: SigV4 verified independently of
botocore, or a Bedrock API key as a Bearer token) and answers failures in AWS's shape.
Converse is ``bedrock_converse``; InvokeModel takes the embedding models' bodies
(``bedrock_embeddings``) and Claude's Anthropic Messages body (``bedrock_claude``).
Streams answer in real ``application/vnd.amazon.eventstream`` framing
(``bedrock_frames``); botocore only decodes.

``Recorded.path`` holds the raw path as it arrived (model ids stay percent-encoded);
``Recorded.json`` of a Claude call is the body exactly as it arrived. Model
``fail-midstream`` (or a Claude model id ending in it) streams a little and then a
``throttlingException`` frame; the ``fail-*`` conventions hold for ids ending in them.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import uuid
from typing import Any
from urllib.parse import unquote

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from keyhouse.testing.fakes import bedrock_claude as claude
from keyhouse.testing.fakes.anthropic_features import PromptCache, Signer
from keyhouse.testing.fakes.bedrock_converse import (
    converse_answer,
    converse_stream,
    validate_converse,
)
from keyhouse.testing.fakes.bedrock_embeddings import invoke_embedding
from keyhouse.testing.fakes.bedrock_sigv4 import (
    CORAL,
    Authenticator,
    AwsError,
    SessionLookup,
    invalid,
)
from keyhouse.testing.fakes.server import Recorded

EVENT_STREAM = "application/vnd.amazon.eventstream"

FOUNDATION_MODELS = [
    {
        "modelArn": f"arn:aws:bedrock:{{region}}::foundation-model/{mid}",
        "modelId": mid,
        "modelName": name,
        "providerName": provider,
        "inputModalities": inputs,
        "outputModalities": outputs,
        "responseStreamingSupported": "TEXT" in outputs,
        "customizationsSupported": [],
        "inferenceTypesSupported": ["ON_DEMAND"],
        "modelLifecycle": {"status": "ACTIVE"},
    }
    for mid, name, provider, inputs, outputs in [
        (
            "anthropic.claude-3-haiku-20240307-v1:0",
            "Claude 3 Haiku",
            "Anthropic",
            ["TEXT", "IMAGE"],
            ["TEXT"],
        ),
        ("amazon.nova-lite-v1:0", "Nova Lite", "Amazon", ["TEXT", "IMAGE"], ["TEXT"]),
        (
            "amazon.titan-embed-text-v2:0",
            "Titan Text Embeddings V2",
            "Amazon",
            ["TEXT"],
            ["EMBEDDING"],
        ),
        ("cohere.embed-english-v3", "Embed English", "Cohere", ["TEXT"], ["EMBEDDING"]),
    ]
]


def create_app(
    access_key_id: str = "AKIDEXAMPLE",
    secret_access_key: str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    session_token: str | None = None,
    api_key: str | None = None,
    region: str = "us-east-1",
    sessions: SessionLookup | None = None,
) -> Starlette:
    auth = Authenticator(access_key_id, secret_access_key, session_token, api_key, region, sessions)
    signer, cache = Signer(secrets.token_bytes(32)), PromptCache()
    calls: list[Recorded] = []

    async def dispatch(request: Request) -> Response:
        raw_path = request.scope.get("raw_path", request.url.path.encode()).decode("latin-1")
        raw_query = request.scope.get("query_string", b"").decode("latin-1")
        body = await request.body()
        try:
            parsed = json.loads(body) if body else None
        except ValueError:
            parsed = None
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.scope["headers"]]
        calls.append(
            Recorded(
                request.method,
                raw_path,
                raw_query,
                {k.lower(): v for k, v in headers},
                body,
                parsed,
            )
        )
        try:
            auth.check(request.method, raw_path, raw_query, headers, body)
            return await route(request.method, raw_path, parsed)
        except AwsError as exc:
            return exc.response()
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            # A body of the wrong shape is the caller's fault: AWS answers 400, never 500.
            return invalid(f"Malformed input request: {type(exc).__name__}").response()

    async def route(method: str, raw_path: str, body: Any) -> Response:
        request_id = {"x-amzn-RequestId": str(uuid.uuid4())}
        if method == "GET" and raw_path == "/foundation-models":
            return JSONResponse(
                {
                    "modelSummaries": [
                        {**m, "modelArn": str(m["modelArn"]).format(region=region)}
                        for m in FOUNDATION_MODELS
                    ]
                },
                headers=request_id,
            )
        segments = raw_path.split("/")
        if method != "POST" or len(segments) != 4 or segments[1] != "model":
            raise AwsError(404, "UnknownOperationException", "Unknown operation", CORAL)
        model, operation = unquote(segments[2]), segments[3]
        await _by_model(model)
        if not isinstance(body, dict):
            raise AwsError(400, "SerializationException", "Request body is not a JSON object.")
        if claude.is_claude(model) and operation in CLAUDE_OPERATIONS:
            return _claude(operation, model, body, signer, cache, request_id)
        if operation == "invoke":
            out, tokens = invoke_embedding(model, body)
            return JSONResponse(
                out, headers={**request_id, "X-Amzn-Bedrock-Input-Token-Count": str(tokens)}
            )
        if operation not in ("converse", "converse-stream"):
            raise AwsError(404, "UnknownOperationException", "Unknown operation", CORAL)
        validate_converse(body)
        if operation == "converse-stream":
            return StreamingResponse(
                converse_stream(body, model),
                headers=request_id,
                media_type=EVENT_STREAM,
            )
        content, stop, usage = converse_answer(body)
        return JSONResponse(
            {
                "output": {"message": {"role": "assistant", "content": content}},
                "stopReason": stop,
                "usage": usage,
                "metrics": {"latencyMs": 42},
            },
            headers=request_id,
        )

    app = Starlette(routes=[Route("/{path:path}", dispatch, methods=["GET", "POST"])])
    app.state.calls = calls
    return app


CLAUDE_OPERATIONS = ("invoke", "invoke-with-response-stream", "count-tokens")


async def _by_model(model: str) -> None:
    """The shared fail-*/slow conventions, for a model id that is or ends in the name."""
    if model.endswith("fail-503"):
        raise AwsError(
            503, "ServiceUnavailableException", "Bedrock is unable to process your request."
        )
    if model.endswith("fail-429"):
        raise AwsError(
            429,
            "ThrottlingException",
            "Too many requests, please wait before trying again.",
            headers={"Retry-After": "0"},
        )
    if model.endswith("fail-400"):
        raise invalid("The provided model identifier is invalid.")
    if model == "slow":
        await asyncio.sleep(3)


def _claude(
    operation: str,
    model: str,
    body: dict[str, Any],
    signer: Signer,
    cache: PromptCache,
    headers: dict[str, str],
) -> Response:
    if operation == "count-tokens":
        return JSONResponse(claude.count_tokens(model, body, signer), headers=headers)
    if operation == "invoke-with-response-stream":
        stream = claude.invoke_stream(model, body, signer, cache)
        return StreamingResponse(stream, headers=headers, media_type=EVENT_STREAM)
    answer = claude.invoke(model, body, signer, cache)
    usage = answer["usage"]
    return JSONResponse(
        answer,
        headers={
            **headers,
            "X-Amzn-Bedrock-Input-Token-Count": str(usage["input_tokens"]),
            "X-Amzn-Bedrock-Output-Token-Count": str(usage["output_tokens"]),
        },
    )
