"""The OpenAI fake's Responses API (``POST /v1/responses``): answers, whole or as the
event stream, after the checks in ``openai_responses_validation``. Stored responses are
kept in memory, so a ``previous_response_id`` round trip works as it does on OpenAI.

The deterministic model is the chat fake's (``openai_model.answer``): the input becomes the
chat messages it reads.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import AsyncIterator
from typing import Any

from starlette.responses import JSONResponse, Response, StreamingResponse

from keyhouse.testing.fakes import openai_model
from keyhouse.testing.fakes.openai_responses_validation import validate

JSON = dict[str, Any]


# --- the deterministic model, through the chat fake's -----------------------------------


def _chat_messages(body: JSON, stored: dict[str, JSON]) -> list[JSON]:
    messages: list[JSON] = []
    previous = stored.get(body.get("previous_response_id") or "")
    if previous is not None:
        messages += previous["_messages"]
    raw = body.get("input")
    items = [{"role": "user", "content": raw}] if isinstance(raw, str) else raw or []
    for item in items:
        kind = item.get("type", "message")
        if kind == "message":
            content = item["content"]
            if isinstance(content, list):
                content = " ".join(p.get("text", "") for p in content if "text" in p)
            messages.append({"role": item["role"], "content": content})
        elif kind in ("function_call_output", "custom_tool_call_output"):
            output = item["output"]
            if isinstance(output, list):
                output = " ".join(p.get("text", "") for p in output if "text" in p)
            messages.append({"role": "tool", "content": output})
        elif kind in ("function_call", "custom_tool_call"):
            messages.append({"role": "assistant", "content": ""})
    return messages


def _output(body: JSON, messages: list[JSON]) -> tuple[JSON, int, int, bool]:
    """(output item, input tokens, output tokens, cut by max_output_tokens)."""
    tools = [
        {"type": "function", "function": {"name": t["name"]}}
        for t in body.get("tools") or []
        if t.get("type") in ("function", "custom")
    ]
    kinds = {t["name"]: t["type"] for t in body.get("tools") or [] if "name" in t}
    choice = body.get("tool_choice")
    chat_choice: Any = (
        choice
        if isinstance(choice, str)
        else (
            {"type": "function", "function": {"name": choice["name"]}}
            if isinstance(choice, dict) and choice.get("name")
            else None
        )
    )
    chat = {
        "messages": messages,
        "tools": tools,
        "tool_choice": chat_choice,
        "max_tokens": body.get("max_output_tokens"),
    }
    if body.get("instructions"):
        chat["messages"] = [{"role": "system", "content": body["instructions"]}, *messages]
    text, call, finish, prompt, done = openai_model.answer(chat)
    if call is not None:
        name = call["function"]["name"]
        call_id = call["id"]
        if kinds.get(name) == "custom":
            q = json.loads(call["function"]["arguments"])["q"]
            item = {
                "id": f"ctc_{secrets.token_hex(16)}",
                "type": "custom_tool_call",
                "status": "completed",
                "call_id": call_id,
                "name": name,
                "input": q,
            }
        else:
            item = {
                "id": f"fc_{secrets.token_hex(16)}",
                "type": "function_call",
                "status": "completed",
                "call_id": call_id,
                "name": name,
                "arguments": call["function"]["arguments"],
            }
        return item, prompt, done, False
    item = {
        "id": f"msg_{secrets.token_hex(16)}",
        "type": "message",
        "status": "completed",
        "role": "assistant",
        "content": [{"type": "output_text", "text": text, "annotations": [], "logprobs": []}],
    }
    return item, prompt, done, finish == "length"


def _response(body: JSON, status: str) -> JSON:
    return {
        "id": f"resp_{secrets.token_hex(24)}",
        "object": "response",
        "created_at": int(time.time()),
        "status": status,
        "background": False,
        "error": None,
        "incomplete_details": None,
        "instructions": body.get("instructions"),
        "max_output_tokens": body.get("max_output_tokens"),
        "model": body["model"],
        "output": [],
        "parallel_tool_calls": body.get("parallel_tool_calls", True),
        "previous_response_id": body.get("previous_response_id"),
        "reasoning": body.get("reasoning") or {"effort": None, "summary": None},
        "store": body.get("store", True),
        "temperature": body.get("temperature", 1.0),
        "text": body.get("text") or {"format": {"type": "text"}},
        "tool_choice": body.get("tool_choice", "auto"),
        "tools": body.get("tools") or [],
        "top_p": body.get("top_p", 1.0),
        "truncation": "disabled",
        "usage": None,
        "user": None,
        "metadata": body.get("metadata") or {},
    }


def complete(body: JSON, stored: dict[str, JSON]) -> JSON:
    messages = _chat_messages(body, stored)
    item, prompt, done, cut = _output(body, messages)
    response = _response(body, "incomplete" if cut else "completed")
    if cut:
        response["incomplete_details"] = {"reason": "max_output_tokens"}
    response["output"] = [item]
    response["usage"] = {
        "input_tokens": prompt,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": done,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": prompt + done,
    }
    if body.get("store", True):
        text = "".join(p["text"] for p in item.get("content", []))
        stored[response["id"]] = {
            **response,
            "_messages": [*messages, {"role": "assistant", "content": text}],
        }
    return response


async def events(body: JSON, stored: dict[str, JSON]) -> AsyncIterator[bytes]:
    final = complete(body, stored)
    item = final["output"][0]
    seq = 0

    def event(kind: str, **fields: Any) -> bytes:
        nonlocal seq
        data = {"type": kind, "sequence_number": seq, **fields}
        seq += 1
        return f"event: {kind}\ndata: {json.dumps(data)}\n\n".encode()

    shell = {
        **final,
        "status": "in_progress",
        "output": [],
        "usage": None,
        "incomplete_details": None,
    }
    yield event("response.created", response=shell)
    yield event("response.in_progress", response=shell)
    iid = item["id"]
    if item["type"] == "message":
        text = item["content"][0]["text"]
        yield event(
            "response.output_item.added",
            output_index=0,
            item={**item, "status": "in_progress", "content": []},
        )
        part = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
        yield event(
            "response.content_part.added", item_id=iid, output_index=0, content_index=0, part=part
        )
        for i, word in enumerate(text.split(" ")):
            await asyncio.sleep(0)
            yield event(
                "response.output_text.delta",
                item_id=iid,
                output_index=0,
                content_index=0,
                delta=word if i == 0 else f" {word}",
                logprobs=[],
            )
        yield event(
            "response.output_text.done",
            item_id=iid,
            output_index=0,
            content_index=0,
            text=text,
            logprobs=[],
        )
        yield event(
            "response.content_part.done",
            item_id=iid,
            output_index=0,
            content_index=0,
            part={**part, "text": text},
        )
    elif item["type"] == "function_call":
        yield event(
            "response.output_item.added",
            output_index=0,
            item={**item, "status": "in_progress", "arguments": ""},
        )
        args = item["arguments"]
        for i in range(0, len(args), 8):
            yield event(
                "response.function_call_arguments.delta",
                item_id=iid,
                output_index=0,
                delta=args[i : i + 8],
            )
        yield event(
            "response.function_call_arguments.done",
            item_id=iid,
            output_index=0,
            name=item["name"],
            arguments=args,
        )
    else:
        yield event(
            "response.output_item.added",
            output_index=0,
            item={**item, "status": "in_progress", "input": ""},
        )
        yield event(
            "response.custom_tool_call_input.delta",
            item_id=iid,
            output_index=0,
            delta=item["input"],
        )
        yield event(
            "response.custom_tool_call_input.done", item_id=iid, output_index=0, input=item["input"]
        )
    yield event("response.output_item.done", output_index=0, item=item)
    kind = "response.completed" if final["status"] == "completed" else "response.incomplete"
    yield event(kind, response=final)


def serve(body: JSON, stored: dict[str, JSON]) -> Response:
    refused = validate(body, stored)
    if refused is not None:
        return refused
    if body.get("stream"):
        return StreamingResponse(events(body, stored), media_type="text/event-stream")
    return JSONResponse(complete(body, stored))
