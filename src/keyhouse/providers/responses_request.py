"""OpenAI's Responses API request → the chat completions body every adapter speaks.

Pure functions, no I/O. ``/v1/responses`` on a provider without a native Responses API
becomes a chat.completions body (``responses_to_chat``) and goes through the same router
and adapters as ``/v1/chat/completions``; the answer comes back as a Response object
through ``responses_answer`` (whole) or ``responses_stream`` (events).

Keyhouse stores no responses, so whatever needs server-side state is refused with a
clear 400: ``previous_response_id``, ``conversation``, stored ``prompt`` templates,
``item_reference`` items, ``background`` runs. Reasoning items of earlier turns are
accepted and dropped: another provider can neither read OpenAI's encrypted reasoning nor
verify it. Hosted tools (web search, file search, code interpreter, …) run inside
OpenAI: on another provider they are left out of the tool list (agents such as Codex
always offer web search; refusing it would refuse the agent), and a ``tool_choice`` that
forces one is a 400. Namespaced tools become chat tools named ``<namespace>__<name>``
and their calls come back with the namespace.

Freeform ``custom`` tools (Codex's ``apply_patch``) become function tools taking one
string argument, ``input``, and their calls come back as ``custom_tool_call`` items.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from keyhouse.errors import BadRequest

JSON = dict[str, Any]

_STATEFUL = {
    "previous_response_id": "Keyhouse does not store responses, so previous_response_id "
    "cannot be resolved; send the whole conversation as input (with store: false).",
    "conversation": "Keyhouse does not store conversations; send the whole conversation as input.",
    "prompt": "Stored prompt templates are not available through Keyhouse; send the "
    "instructions and input themselves.",
}
_TOOL_CHOICE_MODES = {"auto", "none", "required"}
_CUSTOM_PARAMETERS: JSON = {
    "type": "object",
    "properties": {"input": {"type": "string"}},
    "required": ["input"],
    "additionalProperties": False,
}


def check_stateless(req: JSON) -> None:
    """Refuse what needs stored state, before any provider is asked (native ones too,
    unless the caller explicitly wants OpenAI's own storage: see ``native_body``)."""
    for name, message in _STATEFUL.items():
        if req.get(name):
            raise BadRequest(message, param=name)
    if req.get("background"):
        raise BadRequest(
            "Background responses need stored state, which Keyhouse does not "
            "keep; call without background.",
            param="background",
        )


@dataclass(frozen=True, slots=True)
class ToolRef:
    """What a chat tool name stands for in the Responses request."""

    name: str
    namespace: str | None = None
    custom: bool = False


def chat_tool_name(name: str, namespace: str | None) -> str:
    # Chat APIs have no namespaces; their names allow [A-Za-z0-9_-], so join with "__".
    return f"{namespace}__{name}" if namespace else name


def tool_index(req: JSON) -> dict[str, ToolRef]:
    """Chat tool name → the function or custom tool (and its namespace) it stands for."""
    index: dict[str, ToolRef] = {}
    for tool in req.get("tools") or []:
        if not isinstance(tool, dict):
            continue
        nested = tool.get("tools") if tool.get("type") == "namespace" else [tool]
        namespace = tool.get("name") if tool.get("type") == "namespace" else None
        for t in nested if isinstance(nested, list) else []:
            if isinstance(t, dict) and t.get("type") in ("function", "custom"):
                ref = ToolRef(t.get("name", ""), namespace, t.get("type") == "custom")
                index[chat_tool_name(ref.name, namespace)] = ref
    return index


def responses_to_chat(req: JSON) -> JSON:
    """A Responses API body as a chat.completions body (``stream`` kept)."""
    check_stateless(req)
    messages: list[JSON] = []
    instructions = req.get("instructions")
    if isinstance(instructions, str) and instructions:
        messages.append({"role": "system", "content": instructions})
    elif instructions:
        raise BadRequest("instructions must be a string.", param="instructions")
    raw = req.get("input")
    if isinstance(raw, str):
        messages.append({"role": "user", "content": raw})
    elif isinstance(raw, list):
        for index, item in enumerate(raw):
            _add_item(messages, item, index)
    elif raw is not None:
        raise BadRequest("input must be a string or a list of items.", param="input")
    if not any(m["role"] != "system" for m in messages):
        raise BadRequest("input must hold at least one message.", param="input")
    out: JSON = {"model": req.get("model"), "messages": messages}
    if req.get("max_output_tokens") is not None:
        out["max_tokens"] = req["max_output_tokens"]
    for name in ("temperature", "top_p", "parallel_tool_calls"):
        if req.get(name) is not None:
            out[name] = req[name]
    user = req.get("safety_identifier") or req.get("user")
    if isinstance(user, str) and user:
        out["user"] = user
    effort = (req.get("reasoning") or {}).get("effort")
    if isinstance(effort, str) and effort:
        out["reasoning_effort"] = effort
    fmt = (req.get("text") or {}).get("format") or {}
    if fmt.get("type") == "json_schema":
        schema: JSON = {"name": fmt.get("name") or "output", "schema": fmt.get("schema") or {}}
        if fmt.get("strict") is not None:
            schema["strict"] = fmt["strict"]
        out["response_format"] = {"type": "json_schema", "json_schema": schema}
    elif fmt.get("type") == "json_object":
        out["response_format"] = {"type": "json_object"}
    tools = [chat for i, t in enumerate(req.get("tools") or []) for chat in _tools(t, i)]
    if tools:
        out["tools"] = tools
        choice = _tool_choice(req.get("tool_choice"))
        if choice is not None:
            out["tool_choice"] = choice
    if req.get("stream"):
        out["stream"] = True
        out["stream_options"] = {"include_usage": True}
    return out


def _text_parts(content: Any, where: str) -> list[JSON]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    if not isinstance(content, list):
        raise BadRequest(f"{where}.content must be a string or a list of parts.", param="input")
    parts: list[JSON] = []
    for part in content:
        kind = part.get("type") if isinstance(part, dict) else None
        if kind in ("input_text", "output_text", "text", "summary_text", "reasoning_text"):
            parts.append({"type": "text", "text": part.get("text", "")})
        elif kind == "refusal":
            parts.append({"type": "text", "text": part.get("refusal", "")})
        elif kind == "input_image":
            if not part.get("image_url"):
                raise BadRequest(
                    f"{where}: images must be given by image_url (file_id "
                    "needs OpenAI's file storage).",
                    param="input",
                )
            image: JSON = {"url": part["image_url"]}
            if part.get("detail") in ("low", "high", "auto"):
                image["detail"] = part["detail"]
            parts.append({"type": "image_url", "image_url": image})
        elif kind == "input_file":
            if not part.get("file_data"):
                raise BadRequest(
                    f"{where}: files must be given inline as file_data.", param="input"
                )
            file: JSON = {"file_data": part["file_data"]}
            if part.get("filename"):
                file["filename"] = part["filename"]
            parts.append({"type": "file", "file": file})
        else:
            raise BadRequest(
                f"{where}: content parts of type {kind!r} cannot be translated.", param="input"
            )
    return parts


def _joined(parts: list[JSON]) -> str:
    return "".join(p.get("text", "") for p in parts if p["type"] == "text")


def _simplified(parts: list[JSON]) -> str | list[JSON]:
    return _joined(parts) if all(p["type"] == "text" for p in parts) else parts


def _assistant_for_calls(messages: list[JSON]) -> JSON:
    """The assistant message that tool calls join: the previous one when it has no
    answer to its calls yet, so text and calls of one turn stay one chat message."""
    last = messages[-1] if messages else None
    if last is not None and last["role"] == "assistant":
        return last
    message: JSON = {"role": "assistant", "content": None}
    messages.append(message)
    return message


def _add_item(messages: list[JSON], item: Any, index: int) -> None:
    where = f"input[{index}]"
    if not isinstance(item, dict):
        raise BadRequest(f"{where} must be an object.", param="input")
    kind = item.get("type") or ("message" if "role" in item else None)
    if kind == "message":
        role = item.get("role")
        parts = _text_parts(item.get("content"), where)
        if role in ("system", "developer"):
            messages.append({"role": "system", "content": _joined(parts)})
        elif role == "user":
            messages.append({"role": "user", "content": _simplified(parts)})
        elif role == "assistant":
            messages.append({"role": "assistant", "content": _joined(parts)})
        else:
            raise BadRequest(
                f"{where}.role must be user, assistant, system or developer.", param="input"
            )
    elif kind in ("function_call", "custom_tool_call"):
        call_id = item.get("call_id")
        if not call_id or not item.get("name"):
            raise BadRequest(f"{where}: a {kind} needs call_id and name.", param="input")
        arguments = (
            item.get("arguments", "")
            if kind == "function_call"
            else json.dumps({"input": item.get("input", "")}, ensure_ascii=False)
        )
        message = _assistant_for_calls(messages)
        message.setdefault("tool_calls", []).append(
            {
                "id": call_id,
                "type": "function",
                "function": {
                    "name": chat_tool_name(item["name"], item.get("namespace")),
                    "arguments": arguments or "{}",
                },
            }
        )
    elif kind in ("function_call_output", "custom_tool_call_output"):
        if not item.get("call_id"):
            raise BadRequest(f"{where}: a {kind} needs call_id.", param="input")
        output = item.get("output", "")
        text = output if isinstance(output, str) else _joined(_text_parts(output, where))
        messages.append({"role": "tool", "tool_call_id": item["call_id"], "content": text})
    elif kind == "reasoning":
        return  # see the module docstring
    elif kind == "item_reference":
        raise BadRequest(
            f"{where}: item_reference needs stored responses, which Keyhouse "
            "does not keep; send the item itself.",
            param="input",
        )
    else:
        raise BadRequest(
            f"{where}: items of type {kind!r} cannot be translated for this provider.",
            param="input",
        )


def _tools(tool: Any, index: int, namespace: str | None = None) -> list[JSON]:
    """The chat tools one Responses tool becomes: a function or custom tool one, a
    namespace one per member, a hosted tool none (see the module docstring)."""
    kind = tool.get("type") if isinstance(tool, dict) else None
    if kind in ("function", "custom", "namespace") and not tool.get("name"):
        raise BadRequest(f"tools[{index}].name is required.", param="tools")
    if kind == "namespace":
        members = tool.get("tools")
        if not isinstance(members, list):
            raise BadRequest(f"tools[{index}].tools must be a list.", param="tools")
        return [chat for m in members for chat in _tools(m, index, tool["name"])]
    name = chat_tool_name(tool["name"], namespace) if kind in ("function", "custom") else ""
    if kind == "function":
        fn: JSON = {
            "name": name,
            "parameters": tool.get("parameters") or {"type": "object", "properties": {}},
        }
        if tool.get("description"):
            fn["description"] = tool["description"]
        if tool.get("strict"):
            fn["strict"] = True
        return [{"type": "function", "function": fn}]
    if kind == "custom":
        custom: JSON = {"name": name, "parameters": _CUSTOM_PARAMETERS}
        described = tool.get("description") or ""
        grammar = (tool.get("format") or {}).get("definition")
        if grammar:
            described += f"\n\nThe input must follow this grammar:\n{grammar}"
        if described:
            custom["description"] = described.strip()
        return [{"type": "function", "function": custom}]
    if isinstance(kind, str) and kind:
        return []
    raise BadRequest(f"tools[{index}].type is required.", param="tools")


def _tool_choice(choice: Any) -> Any:
    if choice is None:
        return None
    if isinstance(choice, str) and choice in _TOOL_CHOICE_MODES:
        return choice
    if (
        isinstance(choice, dict)
        and choice.get("type") in ("function", "custom")
        and choice.get("name")
    ):
        name = chat_tool_name(choice["name"], choice.get("namespace"))
        return {"type": "function", "function": {"name": name}}
    if isinstance(choice, dict) and choice.get("type") == "allowed_tools":
        mode = choice.get("mode")
        return "required" if mode == "required" else "auto"
    raise BadRequest(
        "tool_choice must be auto, none, required or a function by name (hosted tools "
        "run inside OpenAI only).",
        param="tool_choice",
    )
