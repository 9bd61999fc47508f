"""A ChatCompletion → OpenAI's Responses API objects (pure functions, no I/O).

The answer half of ``/v1/responses`` on a provider without a native Responses API: the
request went out through ``responses_request``; the chat answer comes back here as a
Response object (``chat_to_response``). ``responses_stream`` builds its events from the
same items and the same Response shell.
"""

from __future__ import annotations

import json
import secrets
import time
from typing import Any

from keyhouse.providers.responses_request import ToolRef, tool_index
from keyhouse.usage.record import CACHE_WRITE

JSON = dict[str, Any]

# Request fields a Response object echoes back as they were asked.
_ECHOED = (
    "instructions",
    "max_output_tokens",
    "metadata",
    "parallel_tool_calls",
    "reasoning",
    "temperature",
    "text",
    "tool_choice",
    "tools",
    "top_p",
    "truncation",
    "user",
    "safety_identifier",
    "prompt_cache_key",
    "service_tier",
    "top_logprobs",
    "max_tool_calls",
)


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(24)}"


def response_usage(usage: JSON | None) -> JSON | None:
    if not usage:
        return None
    prompt = usage.get("prompt_tokens") or 0
    completion = usage.get("completion_tokens") or 0
    details = usage.get("prompt_tokens_details") or {}
    cached = details.get("cached_tokens") or 0
    reasoning = (usage.get("completion_tokens_details") or {}).get("reasoning_tokens") or 0
    input_details: JSON = {"cached_tokens": cached}
    if details.get(CACHE_WRITE):
        # Not in OpenAI's schema (its SDK keeps extra fields): the cache writes of a
        # translated provider, for the caller and for the call's usage record.
        input_details[CACHE_WRITE] = details[CACHE_WRITE]
    return {
        "input_tokens": prompt,
        "input_tokens_details": input_details,
        "output_tokens": completion,
        "output_tokens_details": {"reasoning_tokens": reasoning},
        "total_tokens": usage.get("total_tokens") or prompt + completion,
    }


def response_object(
    req: JSON, model: str, response_id: str, created_at: int, status: str = "in_progress"
) -> JSON:
    """A Response with no output yet, echoing the request's settings."""
    out: JSON = {
        "id": response_id,
        "object": "response",
        "created_at": created_at,
        "status": status,
        "background": False,
        "error": None,
        "incomplete_details": None,
        "instructions": None,
        "max_output_tokens": None,
        "model": model,
        "output": [],
        "parallel_tool_calls": True,
        "previous_response_id": None,
        "reasoning": {"effort": None, "summary": None},
        "store": False,
        "temperature": None,
        "text": {"format": {"type": "text"}},
        "tool_choice": "auto",
        "tools": [],
        "top_p": None,
        "truncation": "disabled",
        "usage": None,
        "user": None,
        "metadata": {},
    }
    for name in _ECHOED:
        if req.get(name) is not None:
            out[name] = req[name]
    return out


def finish(response: JSON, finish_reason: str | None, usage: JSON | None) -> JSON:
    """Sets the final status (and why it is incomplete) and usage on a Response."""
    response["usage"] = response_usage(usage)
    response["completed_at"] = int(time.time())
    if finish_reason == "length":
        response["status"] = "incomplete"
        response["incomplete_details"] = {"reason": "max_output_tokens"}
    elif finish_reason == "content_filter":
        response["status"] = "incomplete"
        response["incomplete_details"] = {"reason": "content_filter"}
    else:
        response["status"] = "completed"
    return response


def message_item(text: str, item_id: str | None = None, status: str = "completed") -> JSON:
    return {
        "id": item_id or new_id("msg"),
        "type": "message",
        "status": status,
        "role": "assistant",
        "content": []
        if text is None
        else [{"type": "output_text", "text": text, "annotations": [], "logprobs": []}],
    }


def reasoning_item(text: str, item_id: str | None = None) -> JSON:
    return {
        "id": item_id or new_id("rs"),
        "type": "reasoning",
        "summary": [],
        "content": [{"type": "reasoning_text", "text": text}],
    }


def call_item(
    call_id: str,
    chat_name: str,
    arguments: str,
    tools: dict[str, ToolRef],
    item_id: str | None = None,
    status: str = "completed",
) -> JSON:
    """The output item of a chat tool call: a function_call (with its namespace), or a
    custom_tool_call whose input is the string the chat call wrapped."""
    ref = tools.get(chat_name) or ToolRef(chat_name)
    if ref.custom:
        try:
            value = json.loads(arguments or "{}")
        except ValueError:
            value = {}
        text = value.get("input") if isinstance(value, dict) else None
        item: JSON = {
            "id": item_id or new_id("ctc"),
            "type": "custom_tool_call",
            "status": status,
            "call_id": call_id,
            "name": ref.name,
            "input": text if isinstance(text, str) else arguments,
        }
    else:
        item = {
            "id": item_id or new_id("fc"),
            "type": "function_call",
            "status": status,
            "call_id": call_id,
            "name": ref.name,
            "arguments": arguments,
        }
    if ref.namespace:
        item["namespace"] = ref.namespace
    return item


def chat_to_response(chat: JSON, req: JSON, model: str) -> JSON:
    """A ChatCompletion as a completed (or incomplete) Response."""
    choice = (chat.get("choices") or [{}])[0]
    message = choice.get("message") or {}
    response = response_object(req, model, new_id("resp"), int(chat.get("created") or time.time()))
    output: list[JSON] = response["output"]
    reasoning = message.get("reasoning_content")
    if isinstance(reasoning, str) and reasoning:
        output.append(reasoning_item(reasoning))
    text = message.get("content")
    if isinstance(text, list):
        text = "".join(p.get("text", "") for p in text if p.get("type") == "text")
    if text:
        output.append(message_item(text))
    tools = tool_index(req)
    for call in message.get("tool_calls") or []:
        fn = call.get("function") or {}
        output.append(
            call_item(
                call.get("id") or new_id("call"),
                fn.get("name", ""),
                fn.get("arguments") or "",
                tools,
            )
        )
    return finish(response, choice.get("finish_reason"), chat.get("usage"))
