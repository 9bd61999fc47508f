"""``POST /v1/messages``: the Anthropic Messages API in front of any provider.

The Messages body becomes an OpenAI chat body (``anthropic_inbound``), goes through the
same router as ``/v1/chat/completions`` — so any endpoint, whatever its provider, serves
Anthropic clients — and the answer is turned back into a Message or its event stream.
Errors use Anthropic's envelope (the dispatcher picks it by path).
"""

from __future__ import annotations

from keyhouse.gateway.body import model_name, wants_stream
from keyhouse.gateway.common import begin, caller, upstream_of
from keyhouse.gateway.context import CallContext
from keyhouse.gateway.dispatch import Answer, EventStreamAnswer, GatewayRequest, JSONAnswer
from keyhouse.gateway.streaming import anthropic_events
from keyhouse.providers.anthropic_convert import (
    anthropic_to_openai_request,
    openai_to_anthropic_response,
)


async def messages(request: GatewayRequest, ctx: CallContext) -> Answer:
    await caller(request, ctx)
    body = await request.json()
    name = model_name(body)
    endpoint = await begin(request, ctx, name, "chat", body.get("stream") is True)
    chat_body = anthropic_to_openai_request(body)
    stream = wants_stream(chat_body)
    gateway = request.gateway
    if stream:
        opened = await gateway.router.chat_stream(gateway.registry, upstream_of(request),
                                                  endpoint, chat_body, ctx)
        return EventStreamAnswer(anthropic_events(opened, name, ctx))
    answer = await gateway.router.chat(gateway.registry, upstream_of(request), endpoint,
                                       chat_body, ctx)
    ctx.answered(answer)
    return JSONAnswer(openai_to_anthropic_response(answer, name))
