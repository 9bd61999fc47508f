"""A fake of Amazon Bedrock Runtime (Converse, ConverseStream, InvokeModel) and of the
control plane's ListFoundationModels, served on 127.0.0.1.

It authenticates as AWS does. A SigV4 request is verified by an implementation of the
published algorithm written here, independent of botocore's signer (so a signer bug
cannot cancel itself out): the canonical request is rebuilt from the raw path, query,
headers and body bytes that arrived, with the path escaped once more as AWS does for
every service but S3; the secret is looked up by the access key id; the date may be five
minutes off; a configured session token must be present. A Bedrock API key is a Bearer
token. Failures answer with AWS's statuses, ``x-amzn-ErrorType`` and ``{"message": ...}``
bodies, which — per the fakes' convention of a hostile upstream — also echo the presented
access key id or token.

ConverseStream answers in real ``application/vnd.amazon.eventstream`` framing (prelude,
typed headers, CRC32s), encoded by ``encode_frame`` below; botocore only decodes.

``Recorded.path`` holds the raw path as it arrived (model ids stay percent-encoded).
Model ``fail-midstream`` streams one word and then a ``throttlingException`` frame.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import datetime as dt
import hashlib
import hmac
import json
import random
import struct
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import quote, unquote

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from keyhouse.testing.fakes.server import Recorded

JSON = dict[str, Any]

CORAL = "http://internal.amazon.com/coral/com.amazon.coral.service/"
BEDROCK = "http://internal.amazon.com/coral/com.amazon.bedrock/"
SIGNATURE_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. Consult the service "
    "documentation for details."
)
BAD_TOKEN = "The security token included in the request is invalid."
BAD_API_KEY = "Authentication failed: Please make sure your API Key is valid."
MAX_SKEW = dt.timedelta(minutes=5)
PADDING = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
CONVERSE_FIELDS = {
    "messages",
    "system",
    "inferenceConfig",
    "toolConfig",
    "guardrailConfig",
    "additionalModelRequestFields",
    "promptVariables",
    "requestMetadata",
    "additionalModelResponseFieldPaths",
    "performanceConfig",
    "outputConfig",
    "serviceTier",
}


class AwsError(Exception):
    def __init__(
        self,
        status: int,
        error_type: str,
        message: str,
        ns: str = BEDROCK,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.error_type, self.message = status, error_type, message
        self.ns, self.headers = ns, headers or {}

    def response(self) -> Response:
        return JSONResponse(
            {"message": self.message},
            status_code=self.status,
            headers={
                "x-amzn-ErrorType": f"{self.error_type}:{self.ns}",
                "x-amzn-RequestId": str(uuid.uuid4()),
                **self.headers,
            },
        )


def _invalid(message: str) -> AwsError:
    return AwsError(400, "ValidationException", message)


# --- event-stream framing ------------------------------------------------------------


def encode_frame(headers: dict[str, str], payload: bytes) -> bytes:
    """One event-stream message: prelude (total length, headers length, CRC32), headers
    as (name length, name, type 7 = string, value length, value), payload, CRC32 of all."""
    head = b"".join(
        struct.pack(">B", len(n.encode()))
        + n.encode()
        + b"\x07"
        + struct.pack(">H", len(v.encode()))
        + v.encode()
        for n, v in headers.items()
    )
    prelude = struct.pack(">II", 12 + len(head) + len(payload) + 4, len(head))
    message = prelude + struct.pack(">I", binascii.crc32(prelude)) + head + payload
    return message + struct.pack(">I", binascii.crc32(message))


def event_frame(event_type: str, payload: JSON) -> bytes:
    # Bedrock pads every event with a "p" field of varying length (against length-based
    # side channels); clients must ignore it.
    body = {**payload, "p": PADDING[: random.randint(1, len(PADDING))]}
    return encode_frame(
        {":event-type": event_type, ":content-type": "application/json", ":message-type": "event"},
        json.dumps(body).encode(),
    )


def exception_frame(exception_type: str, message: str) -> bytes:
    return encode_frame(
        {
            ":exception-type": exception_type,
            ":content-type": "application/json",
            ":message-type": "exception",
        },
        json.dumps({"message": message}).encode(),
    )


# --- SigV4 verification, after the published algorithm -----------------------------


def _uri_encode(text: str) -> str:
    return quote(text, safe="-_.~")


def canonical_request(
    method: str,
    raw_path: str,
    raw_query: str,
    headers: list[tuple[str, str]],
    signed: list[str],
    body: bytes,
) -> str:
    # Every service but S3 escapes the (already escaped) path segments a second time.
    path = "/".join(_uri_encode(seg) for seg in raw_path.split("/")) or "/"
    pairs = sorted(
        (_uri_encode(unquote(k)), _uri_encode(unquote(v)))
        for k, _, v in (p.partition("=") for p in raw_query.split("&") if p)
    )
    query = "&".join(f"{k}={v}" for k, v in pairs)
    values: dict[str, list[str]] = {}
    for name, value in headers:
        values.setdefault(name.lower(), []).append(" ".join(value.split()))
    canonical_headers = "".join(f"{h}:{','.join(values.get(h, []))}\n" for h in signed)
    payload_hash = dict(headers).get("x-amz-content-sha256") or hashlib.sha256(body).hexdigest()
    return "\n".join([method, path, query, canonical_headers, ";".join(signed), payload_hash])


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def sigv4_signature(secret: str, amz_date: str, scope: str, canonical: str) -> tuple[str, str]:
    date, region, service, terminator = scope.split("/")
    key = _hmac(_hmac(_hmac(_hmac(f"AWS4{secret}".encode(), date), region), service), terminator)
    to_sign = "\n".join(
        ["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )
    return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest(), to_sign


SessionLookup = Callable[[str], "tuple[str, str] | None"]


class Authenticator:
    """``sessions`` looks up temporary credentials an STS issued — (secret, session
    token) by access key id — as AWS itself does for an assumed role's requests."""

    def __init__(
        self,
        access_key_id: str,
        secret_access_key: str,
        session_token: str | None,
        api_key: str | None,
        region: str,
        sessions: SessionLookup | None = None,
    ) -> None:
        self.secrets = {access_key_id: secret_access_key}
        self.session_token, self.api_key, self.region = session_token, api_key, region
        self.sessions = sessions

    def check(
        self,
        method: str,
        raw_path: str,
        raw_query: str,
        headers: list[tuple[str, str]],
        body: bytes,
    ) -> None:
        lowered = [(k.lower(), v) for k, v in headers]
        header = dict(lowered)
        auth = header.get("authorization", "")
        if not auth:
            raise AwsError(
                403, "MissingAuthenticationTokenException", "Missing Authentication Token", CORAL
            )
        if auth.startswith("Bearer "):
            token = auth[7:]
            if self.api_key is None or not hmac.compare_digest(token, self.api_key):
                raise AwsError(403, "AccessDeniedException", f"{BAD_API_KEY} (key: {token})")
            return
        scheme, _, rest = auth.partition(" ")
        fields = dict(p.strip().partition("=")[::2] for p in rest.split(","))
        if (
            scheme != "AWS4-HMAC-SHA256"
            or not {"Credential", "SignedHeaders", "Signature"} <= fields.keys()
        ):
            raise AwsError(
                403,
                "IncompleteSignatureException",
                f"Authorization header requires 'Credential', 'SignedHeaders' and "
                f"'Signature' parameters (got: {auth}).",
                CORAL,
            )
        key_id, _, scope = fields["Credential"].partition("/")
        secret = self.secrets.get(key_id)
        expected_token = self.session_token
        issued = self.sessions(key_id) if secret is None and self.sessions else None
        if issued is not None:
            secret, expected_token = issued
        presented_token = header.get("x-amz-security-token")
        if secret is None or presented_token != expected_token:
            raise AwsError(
                403, "UnrecognizedClientException", f"{BAD_TOKEN} (access key id: {key_id})", CORAL
            )
        self._check_date_and_scope(header.get("x-amz-date", ""), scope, key_id)
        signed = fields["SignedHeaders"].split(";")
        if "host" not in signed:
            raise AwsError(
                403,
                "InvalidSignatureException",
                "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.",
                CORAL,
            )
        canonical = canonical_request(method, raw_path, raw_query, lowered, signed, body)
        expected, to_sign = sigv4_signature(secret, header["x-amz-date"], scope, canonical)
        if not hmac.compare_digest(expected, fields["Signature"]):
            # AWS's own text; the echo of the key id goes up front, where a truncated
            # error message still carries it.
            raise AwsError(
                403,
                "InvalidSignatureException",
                (
                    f"{SIGNATURE_MISMATCH} (access key id: {key_id})\n\nThe Canonical String for "
                    f"this request should have been\n'{canonical}'\n\nThe String-to-Sign should "
                    f"have been\n'{to_sign}'\n"
                ),
                CORAL,
            )

    def _check_date_and_scope(self, amz_date: str, scope: str, key_id: str) -> None:
        try:
            when = dt.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)
        except ValueError:
            raise AwsError(
                403,
                "IncompleteSignatureException",
                "Authorization header requires existence of either a "
                "'X-Amz-Date' or a 'Date' header.",
                CORAL,
            ) from None
        now = dt.datetime.now(dt.UTC)
        stamp = "%Y%m%dT%H%M%SZ"
        if when < now - MAX_SKEW:
            raise AwsError(
                403,
                "InvalidSignatureException",
                f"Signature expired: {amz_date} is now earlier than "
                f"{(now - MAX_SKEW):{stamp}} ({now:{stamp}} - 5 min.)",
                CORAL,
            )
        if when > now + MAX_SKEW:
            raise AwsError(
                403,
                "InvalidSignatureException",
                f"Signature not yet current: {amz_date} is still later than "
                f"{(now + MAX_SKEW):{stamp}} ({now:{stamp}} + 5 min.)",
                CORAL,
            )
        parts = scope.split("/")
        if len(parts) != 4 or parts[0] != amz_date[:8] or parts[3] != "aws4_request":
            raise AwsError(
                403,
                "InvalidSignatureException",
                f"Credential should be scoped to a valid date: {scope} (access key id: {key_id})",
                CORAL,
            )
        if parts[1] != self.region:
            raise AwsError(
                403,
                "InvalidSignatureException",
                f"Credential should be scoped to a valid region. ({parts[1]})",
                CORAL,
            )
        if parts[2] != "bedrock":
            raise AwsError(
                403,
                "InvalidSignatureException",
                "Credential should be scoped to correct service: 'bedrock'. ",
                CORAL,
            )


# --- Converse ------------------------------------------------------------------------


def _words(text: str) -> int:
    return len(text.split())


def _result_text(block: JSON) -> str:
    parts = block.get("content") or []
    return " ".join(p["text"] if "text" in p else json.dumps(p.get("json")) for p in parts)


def _validate_converse(body: JSON) -> None:
    unknown = set(body) - CONVERSE_FIELDS
    if unknown:
        raise _invalid(f"Unexpected field(s) in the request: {sorted(unknown)}")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise _invalid("The messages field is required and must not be empty.")
    if messages[0].get("role") != "user":
        raise _invalid(
            "A conversation must start with a user message. Try again with a "
            "conversation that starts with a user message."
        )
    uses_tools = False
    for i, msg in enumerate(messages):
        if i and msg.get("role") == messages[i - 1].get("role"):
            raise _invalid(
                "A conversation must alternate between user and assistant roles. "
                "Make sure the conversation alternates between user and assistant "
                "roles and try again."
            )
        if msg.get("role") not in ("user", "assistant") or not msg.get("content"):
            raise _invalid(f"messages.{i}: a role and non-empty content are required.")
        prior_uses = (
            {b["toolUse"]["toolUseId"] for b in messages[i - 1]["content"] if "toolUse" in b}
            if i
            else set()
        )
        for j, block in enumerate(msg["content"]):
            uses_tools |= "toolUse" in block or "toolResult" in block
            if "text" in block and not str(block["text"]).strip():
                raise _invalid(
                    f"The text field in the ContentBlock object at messages.{i}."
                    f"content.{j} is blank. Add text to the text field, and try "
                    "again."
                )
            if "image" in block:
                image = block["image"]
                if image.get("format") not in ("png", "jpeg", "gif", "webp"):
                    raise _invalid(f"messages.{i}.content.{j}.image.format is not valid.")
                try:
                    base64.b64decode(image["source"]["bytes"], validate=True)
                except (KeyError, TypeError, ValueError):
                    raise _invalid(
                        f"messages.{i}.content.{j}.image.source.bytes is not valid base64."
                    ) from None
            if "toolUse" in block and not isinstance(block["toolUse"].get("input"), dict):
                raise _invalid(f"messages.{i}.content.{j}.toolUse.input must be an object.")
            if "toolResult" in block and block["toolResult"].get("toolUseId") not in prior_uses:
                raise _invalid(
                    f"messages.{i}.content.{j}: the toolResult does not answer a "
                    "toolUse of the previous turn."
                )
    if uses_tools and not (body.get("toolConfig") or {}).get("tools"):
        raise _invalid(
            "The toolConfig field must be defined when using toolUse and toolResult content blocks."
        )
    cfg = body.get("inferenceConfig") or {}
    if "maxTokens" in cfg and (not isinstance(cfg["maxTokens"], int) or cfg["maxTokens"] < 1):
        raise _invalid("inferenceConfig.maxTokens must be a positive integer.")
    for key in ("temperature", "topP"):
        if key in cfg and not 0 <= cfg[key] <= 1:
            raise _invalid(f"inferenceConfig.{key} must be between 0 and 1.")


def converse_answer(body: JSON) -> tuple[list[JSON], str, JSON]:
    """The deterministic answer: (content blocks, stopReason, usage)."""
    messages = body["messages"]
    prompt = sum(_words(s.get("text", "")) for s in body.get("system") or [])
    for msg in messages:
        for block in msg["content"]:
            prompt += _words(block.get("text", "")) + (
                _words(_result_text(block["toolResult"])) if "toolResult" in block else 0
            )
    last = messages[-1]
    last_user = next(m for m in reversed(messages) if m["role"] == "user")
    text = " ".join(b["text"] for b in last_user["content"] if "text" in b)
    results = [_result_text(b["toolResult"]) for b in last_user["content"] if "toolResult" in b]
    tools = (body.get("toolConfig") or {}).get("tools") or []
    cfg = body.get("inferenceConfig") or {}
    if last["role"] == "user" and tools and not results:
        name = tools[0]["toolSpec"]["name"]
        tool_id = "tooluse_" + hashlib.sha256(text.encode()).hexdigest()[:22]
        use = {"toolUseId": tool_id, "name": name, "input": {"q": text}}
        return [{"toolUse": use}], "tool_use", _usage(prompt, _words(json.dumps(use["input"])))
    answer = f"tool said: {' '.join(results)}" if results else f"echo: {text}"
    stop = "end_turn"
    for seq in cfg.get("stopSequences") or []:
        if seq in answer:
            answer, stop = answer[: answer.index(seq)], "stop_sequence"
    words = answer.split(" ")
    if len(words) > int(cfg.get("maxTokens") or 1 << 30):
        answer, stop = " ".join(words[: cfg["maxTokens"]]), "max_tokens"
    return [{"text": answer}], stop, _usage(prompt, _words(answer))


def _usage(prompt: int, completion: int) -> JSON:
    return {"inputTokens": prompt, "outputTokens": completion, "totalTokens": prompt + completion}


async def converse_stream(body: JSON, model: str) -> AsyncIterator[bytes]:
    content, stop, usage = converse_answer(body)
    yield event_frame("messageStart", {"role": "assistant"})
    block = content[0]
    if "toolUse" in block:
        use = block["toolUse"]
        yield event_frame(
            "contentBlockStart",
            {
                "contentBlockIndex": 0,
                "start": {"toolUse": {"toolUseId": use["toolUseId"], "name": use["name"]}},
            },
        )
        raw = json.dumps(use["input"])
        for piece in (raw[: len(raw) // 2], raw[len(raw) // 2 :]):
            yield event_frame(
                "contentBlockDelta",
                {"contentBlockIndex": 0, "delta": {"toolUse": {"input": piece}}},
            )
    else:
        for i, word in enumerate(block["text"].split(" ")):
            yield event_frame(
                "contentBlockDelta",
                {"contentBlockIndex": 0, "delta": {"text": (" " if i else "") + word}},
            )
            if model == "fail-midstream":
                yield exception_frame(
                    "throttlingException", "Too many requests, please wait before trying again."
                )
                return
    yield event_frame("contentBlockStop", {"contentBlockIndex": 0})
    yield event_frame("messageStop", {"stopReason": stop})
    yield event_frame("metadata", {"usage": usage, "metrics": {"latencyMs": 42}})


# --- InvokeModel: embeddings ---------------------------------------------------------


def _vector(text: str, dims: int) -> list[float]:
    rng = random.Random(hashlib.sha256(text.encode()).digest())
    return [round(rng.uniform(-1, 1), 6) for _ in range(dims)]


def invoke_embedding(model: str, body: JSON) -> tuple[JSON, int]:
    if "titan-embed" in model:
        allowed = (
            {"inputText", "dimensions", "normalize", "embeddingTypes"}
            if "text-v2" in model
            else {"inputText", "inputImage", "embeddingConfig"}
            if "image" in model
            else {"inputText"}
        )
        extra = sorted(set(body) - allowed)
        if extra:
            raise _invalid(
                f"Malformed input request: extraneous key [{extra[0]}] is not "
                "permitted, please reformat your input and try again."
            )
        text = body.get("inputText")
        if not isinstance(text, str) or not text:
            raise _invalid(
                "Malformed input request: expected minLength: 1, actual: 0, please "
                "reformat your input and try again."
            )
        dims = (
            body.get("dimensions")
            or (body.get("embeddingConfig") or {}).get("outputEmbeddingLength")
            or (1536 if "text-v1" in model else 1024)
        )
        vector = _vector(text, int(dims))
        out: JSON = {"embedding": vector, "inputTextTokenCount": _words(text)}
        if "text-v2" in model:
            out["embeddingsByType"] = {"float": vector}
        return out, _words(text)
    if "cohere.embed" in model:
        texts = body.get("texts")
        if not isinstance(texts, list) or not 0 < len(texts) <= 96:
            raise _invalid(
                "Malformed input request: texts must hold 1 to 96 strings, please "
                "reformat your input and try again."
            )
        if "input_type" not in body:
            raise _invalid(
                "Malformed input request: #: required key [input_type] not found, "
                "please reformat your input and try again."
            )
        v4 = "embed-v4" in model
        dims = int(body.get("output_dimension") or (1536 if v4 else 1024))
        vectors = [_vector(t, dims) for t in texts]
        by_type = v4 or "embedding_types" in body
        return {
            "id": str(uuid.uuid4()),
            "texts": texts,
            "embeddings": {"float": vectors} if by_type else vectors,
            "response_type": "embeddings_by_type" if by_type else "embeddings_floats",
        }, sum(_words(t) for t in texts)
    raise _invalid("The provided model doesn't support on-demand throughput.")


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


# --- the app -------------------------------------------------------------------------


def create_app(
    access_key_id: str = "AKIDEXAMPLE",
    secret_access_key: str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    session_token: str | None = None,
    api_key: str | None = None,
    region: str = "us-east-1",
    sessions: SessionLookup | None = None,
) -> Starlette:
    auth = Authenticator(access_key_id, secret_access_key, session_token, api_key, region, sessions)
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
            return _invalid(f"Malformed input request: {type(exc).__name__}").response()

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
        if model == "fail-503":
            raise AwsError(
                503, "ServiceUnavailableException", "Bedrock is unable to process your request."
            )
        if model == "fail-429":
            raise AwsError(
                429,
                "ThrottlingException",
                "Too many requests, please wait before trying again.",
                headers={"Retry-After": "0"},
            )
        if model == "fail-400":
            raise _invalid("The provided model identifier is invalid.")
        if model == "slow":
            await asyncio.sleep(3)
        if not isinstance(body, dict):
            raise AwsError(400, "SerializationException", "Request body is not a JSON object.")
        if operation == "invoke":
            out, tokens = invoke_embedding(model, body)
            return JSONResponse(
                out, headers={**request_id, "X-Amzn-Bedrock-Input-Token-Count": str(tokens)}
            )
        if operation not in ("converse", "converse-stream"):
            raise AwsError(404, "UnknownOperationException", "Unknown operation", CORAL)
        _validate_converse(body)
        if operation == "converse-stream":
            return StreamingResponse(
                converse_stream(body, model),
                headers=request_id,
                media_type="application/vnd.amazon.eventstream",
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
