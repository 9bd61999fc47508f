"""Pure ASGI middleware: body size limits and security headers (cheap on the hot path)."""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

_TOO_LARGE = json.dumps({"error": {"code": "payload_too_large",
                                   "message": "The request body is too large."}}).encode()
_OPENAI_TOO_LARGE = json.dumps({"error": {"message": "The request body is too large.",
                                          "type": "invalid_request_error", "param": None,
                                          "code": "payload_too_large"}}).encode()
_ANTHROPIC_TOO_LARGE = json.dumps({"type": "error", "error": {
    "type": "request_too_large", "message": "The request body is too large."}}).encode()


class _TooLarge(Exception):
    pass


class BodyLimit:
    """413 for a body over the limit, whether or not it declares its length."""

    def __init__(self, app: ASGIApp, gateway_limit: int, admin_limit: int) -> None:
        self.app = app
        self.gateway_limit = gateway_limit
        self.admin_limit = admin_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        gateway = scope["path"].startswith("/v1/")
        limit = self.gateway_limit if gateway else self.admin_limit
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    too_large = int(value) > limit
                except ValueError:
                    too_large = True
                if too_large:
                    await _reject(send, scope["path"])
                    return
        seen = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise _TooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _TooLarge:
            if not started:
                await _reject(send, scope["path"])


async def _reject(send: Send, path: str) -> None:
    # Each API's own envelope: Anthropic's on /v1/messages*, OpenAI's on the rest of /v1.
    body = (_ANTHROPIC_TOO_LARGE if path.startswith("/v1/messages") else _OPENAI_TOO_LARGE
            if path.startswith("/v1/") else _TOO_LARGE)
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


_UI_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"content-security-policy",
     b"default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
     b"img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
     b"form-action 'self'"),
]


class SecurityHeaders:
    """Browser hardening for everything but the gateway's JSON/SSE answers."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/v1/"):
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *_UI_HEADERS]
            await send(message)

        await self.app(scope, receive, with_headers)
