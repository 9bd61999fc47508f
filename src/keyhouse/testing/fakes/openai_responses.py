"""The OpenAI fake's Responses API (``POST /v1/responses``), as strict as the real one
where a translation or passthrough bug would show: unknown parameters, malformed input
items, content parts that do not belong to their role, a function_call_output without
its function_call, bad ranges, and ``previous_response_id`` of a response that was not
stored (``store: false``) or never existed. Stored responses are kept in memory, so a
``previous_response_id`` round trip works as it does on OpenAI.

The deterministic model is the chat fake's (``openai.answer``): the input becomes the
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

from keyhouse.testing.fakes import openai as chat_fake

JSON = dict[str, Any]

PARAMS = {
    "model",
    "input",
    "instructions",
    "tools",
    "tool_choice",
    "max_output_tokens",
    "temperature",
    "top_p",
    "stream",
    "store",
    "previous_response_id",
    "include",
    "parallel_tool_calls",
    "reasoning",
    "text",
    "metadata",
    "user",
    "truncation",
    "prompt_cache_key",
    "safety_identifier",
    "service_tier",
    "stream_options",
    "background",
    "max_tool_calls",
    "top_logprobs",
    "conversation",
    "prompt",
    "prompt_cache_retention",
    "context_management",
    "client_metadata",
}
_ITEMS = {
    "message",
    "function_call",
    "function_call_output",
    "reasoning",
    "custom_tool_call",
    "custom_tool_call_output",
    "item_reference",
}
_PARTS = {
    "user": {"input_text", "input_image", "input_file"},
    "system": {"input_text"},
    "developer": {"input_text"},
    "assistant": {"output_text", "refusal"},
}
_TOOLS = {
    "function",
    "custom",
    "namespace",
    "web_search",
    "web_search_2025_08_26",
    "web_search_preview",
    "web_search_preview_2025_03_11",
    "file_search",
    "computer",
    "computer_use_preview",
    "mcp",
    "code_interpreter",
    "programmatic_tool_calling",
    "image_generation",
    "local_shell",
    "shell",
    "tool_search",
    "apply_patch",
}


def invalid(message: str, param: str | None, code: str | None = None) -> Response:
    return JSONResponse(
        {
            "error": {
                "message": message,
                "type": "invalid_request_error",
                "param": param,
                "code": code,
            }
        },
        status_code=400,
    )


def _content_problem(where: str, role: str, content: Any) -> str | None:
    if isinstance(content, str):
        return None
    if not isinstance(content, list):
        return f"Invalid type for '{where}.content': expected a string or an array."
    for j, part in enumerate(content):
        kind = part.get("type") if isinstance(part, dict) else None
        if kind not in _PARTS.get(role, set()):
            return (
                f"Invalid value: '{kind}'. Supported values for role '{role}' are: "
                f"{', '.join(sorted(_PARTS.get(role, set())))}. ({where}.content[{j}])"
            )
        if kind in ("input_text", "output_text") and not isinstance(part.get("text"), str):
            return f"Missing required parameter: '{where}.content[{j}].text'."
    return None


def _input_problem(items: Any, stored: set[str]) -> tuple[str, str] | None:
    """(message, param) of the first bad item, or None."""
    if isinstance(items, str):
        return None
    if not isinstance(items, list):
        return "Invalid type for 'input': expected a string or an array.", "input"
    calls: set[str] = set(stored)
    for i, item in enumerate(items):
        where = f"input[{i}]"
        if not isinstance(item, dict):
            return f"Invalid type for '{where}': expected an object.", where
        kind = item.get("type", "message" if "role" in item else None)
        if kind not in _ITEMS:
            return (
                f"Invalid value: '{kind}'. Supported values are: {', '.join(sorted(_ITEMS))}.",
                f"{where}.type",
            )
        if kind == "message":
            role = item.get("role")
            if role not in _PARTS:
                return (
                    f"Invalid value: '{role}'. Supported values are: 'assistant', "
                    "'system', 'developer', and 'user'.",
                    f"{where}.role",
                )
            problem = _content_problem(where, role, item.get("content"))
            if problem:
                return problem, f"{where}.content"
        elif kind in ("function_call", "custom_tool_call"):
            field = "arguments" if kind == "function_call" else "input"
            for name in ("call_id", "name", field):
                if not isinstance(item.get(name), str):
                    return f"Missing required parameter: '{where}.{name}'.", f"{where}.{name}"
            calls.add(item["call_id"])
        elif kind in ("function_call_output", "custom_tool_call_output"):
            if "output" not in item:
                return f"Missing required parameter: '{where}.output'.", f"{where}.output"
            if item.get("call_id") not in calls:
                return (
                    f"No tool call found for function call output with call_id "
                    f"{item.get('call_id')}.",
                    "input",
                )
        elif kind == "reasoning":
            if not item.get("id") or not isinstance(item.get("summary"), list):
                return f"Missing required parameter: '{where}.summary'.", f"{where}.summary"
        elif kind == "item_reference":
            return f"Item with id '{item.get('id')}' not found.", "input"
    return None


def validate(body: JSON, stored: dict[str, JSON]) -> Response | None:
    for name in body:
        if name not in PARAMS:
            return invalid(f"Unknown parameter: '{name}'.", name, "unknown_parameter")
    if not body.get("model"):
        return invalid(
            "Missing required parameter: 'model'.", "model", "missing_required_parameter"
        )
    previous = body.get("previous_response_id")
    if previous is not None and previous not in stored:
        return invalid(
            f"Previous response with id '{previous}' not found.",
            "previous_response_id",
            "previous_response_not_found",
        )
    if body.get("input") is None and previous is None:
        return invalid(
            "Missing required parameter: 'input'.", "input", "missing_required_parameter"
        )
    prior = {
        o["call_id"] for o in stored.get(previous or "", {}).get("output", []) if "call_id" in o
    }
    problem = _input_problem(body.get("input"), prior)
    if problem:
        return invalid(problem[0], problem[1])
    for name, low, high in (("temperature", 0, 2), ("top_p", 0, 1)):
        value = body.get(name)
        if value is not None and not (isinstance(value, int | float) and low <= value <= high):
            return invalid(
                f"Invalid '{name}': decimal out of range. Expected a value between "
                f"{low} and {high}.",
                name,
                "decimal_out_of_range",
            )
    limit = body.get("max_output_tokens")
    if limit is not None and (not isinstance(limit, int) or limit < 16):
        return invalid(
            f"Invalid 'max_output_tokens': integer below minimum value. Expected "
            f"a value >= 16, but got {limit} instead.",
            "max_output_tokens",
            "integer_below_min_value",
        )
    for i, tool in enumerate(body.get("tools") or []):
        if tool.get("type") not in _TOOLS:
            return invalid(f"Invalid value: '{tool.get('type')}'.", f"tools[{i}].type")
        if tool.get("type") in ("function", "custom", "namespace") and not tool.get("name"):
            return invalid(
                f"Missing required parameter: 'tools[{i}].name'.",
                f"tools[{i}].name",
                "missing_required_parameter",
            )
        nested = tool.get("tools") if tool.get("type") == "namespace" else []
        if not isinstance(nested, list) or any(
            t.get("type") not in ("function", "custom") for t in nested
        ):
            return invalid(
                f"Invalid value for 'tools[{i}].tools': a namespace holds function and "
                "custom tools.",
                f"tools[{i}].tools",
            )
    choice = body.get("tool_choice")
    if choice is not None and not (
        choice in ("auto", "none", "required") or (isinstance(choice, dict) and choice.get("type"))
    ):
        return invalid(f"Invalid value: '{choice}'.", "tool_choice")
    return None


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
    text, call, finish, prompt, done = chat_fake.answer(chat)
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
