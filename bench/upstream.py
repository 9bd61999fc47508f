"""A fast fake OpenAI-compatible upstream: a fixed small completion, or its stream.

A raw ASGI app with pre-encoded answers, so the upstream costs as little as possible and
what the benchmark sees is the proxies' overhead. Run as ``python -m bench.upstream``.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

import uvicorn

COMPLETION = json.dumps(
    {
        "id": "chatcmpl-bench",
        "object": "chat.completion",
        "created": 1700000000,
        "model": "bench-model",
        "system_fingerprint": "fp_bench",
        "choices": [
            {
                "index": 0,
                "finish_reason": "stop",
                "logprobs": None,
                "message": {
                    "role": "assistant",
                    "content": "Hello! How can I help you?",
                    "refusal": None,
                },
            }
        ],
        "usage": {"prompt_tokens": 9, "completion_tokens": 7, "total_tokens": 16},
    }
).encode()

WORDS = ["Hello!", " How", " can", " I", " help", " you", " today", "?"]


def _chunk(
    delta: dict[str, Any], finish: str | None = None, usage: dict[str, int] | None = None
) -> bytes:
    data: dict[str, Any] = {
        "id": "chatcmpl-bench",
        "object": "chat.completion.chunk",
        "created": 1700000000,
        "model": "bench-model",
        "choices": []
        if usage
        else [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
    }
    if usage:
        data["usage"] = usage
    return b"data: " + json.dumps(data).encode() + b"\n\n"


FIRST = _chunk({"role": "assistant", "content": ""})
REST = [_chunk({"content": w}) for w in WORDS] + [_chunk({}, "stop")]
USAGE = _chunk({}, usage={"prompt_tokens": 9, "completion_tokens": 8, "total_tokens": 17})
DONE = b"data: [DONE]\n\n"
# The streaming-throughput case: a long answer, one token per write, as a model sends it.
LONG_TOKENS = 500
LONG = _chunk({"content": " tok"})

JSON_HEADERS = [
    (b"content-type", b"application/json"),
    (b"content-length", str(len(COMPLETION)).encode()),
]
SSE_HEADERS = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")]


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    if b'"stream":true' not in body.replace(b" ", b""):
        await send({"type": "http.response.start", "status": 200, "headers": JSON_HEADERS})
        await send({"type": "http.response.body", "body": COMPLETION})
        return
    await send({"type": "http.response.start", "status": 200, "headers": SSE_HEADERS})
    # The first chunk goes out on its own, as a model's first token would.
    await send({"type": "http.response.body", "body": FIRST, "more_body": True})
    if b'"model":"bench-long"' in body.replace(b" ", b""):
        for _ in range(LONG_TOKENS):
            await send({"type": "http.response.body", "body": LONG, "more_body": True})
    tail = b"".join(REST) + (USAGE if b"include_usage" in body else b"") + DONE
    await send({"type": "http.response.body", "body": tail})


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    uvicorn.run(
        app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False, lifespan="on"
    )


if __name__ == "__main__":
    main()
