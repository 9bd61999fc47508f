"""The native APIs an adapter may speak besides chat completions.

The gateway serves ``/v1/responses`` and ``/v1/messages`` on every provider by
translating to chat completions; an adapter whose upstream speaks the caller's own API
says so here, and then gets the body as the caller sent it (with the target's model),
so nothing is lost in a translation. Which adapter has which is decided per credential:
one adapter class serves OpenAI and OpenAI-compatible vendors alike, and only some of
those have the API.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from typing import Any, Protocol, runtime_checkable

from keyhouse.providers.base import Call, Credential
from keyhouse.redaction import REDACTED

JSON = dict[str, Any]


@runtime_checkable
class NativeResponses(Protocol):
    """OpenAI's Responses API (``POST {base}/responses``)."""

    def serves_responses(self, credential: Credential) -> bool: ...

    async def responses(self, call: Call, request: JSON) -> JSON:
        """The Response object for a Responses body (no ``stream``)."""

    def responses_stream(self, call: Call, request: JSON) -> AsyncIterator[JSON]:
        """The stream's events as dicts (each with its ``type``), until the last one."""


@runtime_checkable
class NativeMessages(Protocol):
    """Anthropic's Messages API. ``headers`` are the caller's ``anthropic-*`` headers
    (``anthropic-beta``, ``anthropic-version``) to forward, in whatever form the
    upstream takes them (Bedrock takes the betas in the body).

    Which calls it serves is decided per call: Bedrock and Vertex AI speak it for their
    Claude models only, and translate every other model through chat completions."""

    def serves_messages(self, call: Call) -> bool: ...

    async def messages(self, call: Call, request: JSON, headers: Mapping[str, str]) -> JSON:
        """The Message for a Messages body (no ``stream``)."""

    def messages_stream(
        self, call: Call, request: JSON, headers: Mapping[str, str]
    ) -> AsyncIterator[JSON]:
        """The stream's events as dicts (each with its ``type``), until message_stop."""

    async def count_tokens(self, call: Call, request: JSON, headers: Mapping[str, str]) -> JSON:
        """``POST /v1/messages/count_tokens``: ``{"input_tokens": n}``."""


def scrubbed(data: JSON, credential: Credential) -> JSON:
    """A passed-through answer with the key's secrets cut out: an upstream may echo them,
    and nothing else reads the answer on its way to the caller.

    Whole secrets only (and their JSON-escaped form). The fragment scrubbing of error
    text and logs (``keyhouse.redaction``) does not fit an answer's content and structure:
    an 8-character window of a key can be an ordinary word or event name ("response"
    in a key would break every ``response.completed``)."""
    text = json.dumps(data, ensure_ascii=False)
    clean = text
    for value in credential.secrets.values():
        if len(value) < 8:
            continue
        clean = clean.replace(value, REDACTED)
        escaped = json.dumps(value, ensure_ascii=False)[1:-1]
        if escaped != value:
            clean = clean.replace(escaped, REDACTED)
    return data if clean == text else dict(json.loads(clean))


def native_responses(adapter: object, credential: Credential) -> NativeResponses | None:
    if isinstance(adapter, NativeResponses) and adapter.serves_responses(credential):
        return adapter
    return None


def native_messages(adapter: object, call: Call) -> NativeMessages | None:
    if isinstance(adapter, NativeMessages) and adapter.serves_messages(call):
        return adapter
    return None
