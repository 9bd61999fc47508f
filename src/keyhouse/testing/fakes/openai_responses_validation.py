"""The OpenAI fake's Responses API request checks, as strict as the real service where
a translation or passthrough bug would show: unknown parameters, malformed input items,
content parts that do not belong to their role, a function_call_output without its
function_call, bad ranges, and ``previous_response_id`` of a response that was not
stored (``store: false``) or never existed. Each refusal is OpenAI's 400 body.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse, Response

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
