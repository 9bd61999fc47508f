"""An OpenAI chat.completions body → Google's ``generateContent`` body (pure, no I/O).

The Gemini API (API key) and Vertex AI (service account) take the same chat body, so
one set of functions serves both; the answer comes back through ``gemini_answer`` (or
``gemini_stream``), and embeddings, which differ, are in ``gemini_embeddings``.
"""

from __future__ import annotations

import json
import mimetypes
from collections.abc import Iterable
from typing import Any

from keyhouse.errors import BadRequest
from keyhouse.providers.gemini_answer import split_tool_call_id
from keyhouse.providers.gemini_schema import clean_schema

JSON = dict[str, Any]

_AUDIO_MIME = {"wav": "audio/wav", "mp3": "audio/mp3"}


def chat_request(request: JSON) -> JSON:
    """An OpenAI chat.completions body → a ``generateContent`` body."""
    messages = request.get("messages") or []
    names = _tool_call_names(messages)
    system: list[JSON] = []
    contents: list[JSON] = []
    for message in messages:
        role = message.get("role")
        if role in ("system", "developer"):
            system.extend(_parts(message.get("content"), text_only=True))
        elif role == "user":
            _append(contents, "user", _parts(message.get("content")))
        elif role == "assistant":
            _append(contents, "model", _assistant_parts(message))
        elif role in ("tool", "function"):
            # Gemini wants every result of a parallel call in one user turn: _append merges.
            _append(contents, "user", [_function_response(message, names)])
        else:
            raise BadRequest(f"Unsupported message role {role!r}.")
    body: JSON = {"contents": contents}
    if system:
        body["systemInstruction"] = {"parts": system}
    tools = _tools(request)
    if tools:
        body["tools"] = [{"functionDeclarations": tools}]
        tool_config = _tool_config(request.get("tool_choice", request.get("function_call")))
        if tool_config:
            body["toolConfig"] = tool_config
    config = _generation_config(request)
    if config:
        body["generationConfig"] = config
    return body


def _append(contents: list[JSON], role: str, parts: list[JSON]) -> None:
    if not parts:
        return  # Gemini rejects a turn without parts
    if contents and contents[-1]["role"] == role:
        contents[-1]["parts"].extend(parts)
    else:
        contents.append({"role": role, "parts": parts})


def _parts(content: Any, text_only: bool = False) -> list[JSON]:
    if content is None:
        return []
    if isinstance(content, str):
        return [{"text": content}] if content else []
    if not isinstance(content, list):
        raise BadRequest("Message content must be a string or a list of parts.")
    parts: list[JSON] = []
    for part in content:
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text":
            if part.get("text"):
                parts.append({"text": part["text"]})
        elif kind == "refusal":
            continue
        elif text_only:
            raise BadRequest("System messages take text parts only.")
        elif kind == "image_url":
            image = part.get("image_url") or {}
            url = image.get("url") if isinstance(image, dict) else image
            parts.append(_media(str(url or ""), "image/jpeg"))
        elif kind == "input_audio":
            audio = part.get("input_audio") or {}
            mime = _AUDIO_MIME.get(str(audio.get("format")), "audio/wav")
            parts.append({"inlineData": {"mimeType": mime, "data": audio.get("data", "")}})
        elif kind == "file":
            file = part.get("file") or {}
            source = file.get("file_data") or file.get("file_id") or ""
            parts.append(_media(str(source), "application/pdf"))
        else:
            raise BadRequest(f"Unsupported content part type {kind!r}.")
    return parts


def _media(url: str, default_mime: str) -> JSON:
    """data: URLs travel inline; remote URLs as ``fileData`` that Google fetches itself."""
    if url.startswith("data:"):
        header, sep, data = url[5:].partition(",")
        params = header.split(";")
        if not sep or params[-1] != "base64":
            raise BadRequest("A data: URL must be base64-encoded.")
        return {"inlineData": {"mimeType": params[0] or default_mime, "data": data}}
    if url.startswith(("https://", "http://", "gs://")):
        mime = mimetypes.guess_type(url.split("?", 1)[0])[0] or default_mime
        return {"fileData": {"mimeType": mime, "fileUri": url}}
    raise BadRequest("A media part must be a data: URL or an https:// or gs:// URL.")


def _assistant_parts(message: JSON) -> list[JSON]:
    parts = _parts(message.get("content"), text_only=True)
    calls = list(message.get("tool_calls") or [])
    if message.get("function_call"):
        calls.append({"id": "", "function": message["function_call"]})
    for tool_call in calls:
        function = tool_call.get("function") or {}
        part: JSON = {
            "functionCall": {
                "name": function.get("name", ""),
                "args": _arguments(function.get("arguments")),
            }
        }
        _, signature = split_tool_call_id(str(tool_call.get("id") or ""))
        if signature:
            part["thoughtSignature"] = signature
        parts.append(part)
    return parts


def _arguments(raw: Any) -> JSON:
    if raw is None or raw == "":
        return {}
    if isinstance(raw, dict):
        return raw
    try:
        value = json.loads(raw)
    except (TypeError, ValueError):
        raise BadRequest("A tool call's arguments are not valid JSON.") from None
    if not isinstance(value, dict):
        raise BadRequest("A tool call's arguments must be a JSON object.")
    return value


def _tool_call_names(messages: Iterable[JSON]) -> dict[str, str]:
    """Gemini matches a function response by name, OpenAI by call id: map one to the other."""
    names: dict[str, str] = {}
    for message in messages:
        if message.get("role") == "assistant":
            for call in message.get("tool_calls") or []:
                if call.get("id"):
                    names[call["id"]] = (call.get("function") or {}).get("name", "")
    return names


def _function_response(message: JSON, names: dict[str, str]) -> JSON:
    name = names.get(str(message.get("tool_call_id") or "")) or message.get("name")
    if not name:
        raise BadRequest("A tool message answers no earlier tool call (unknown tool_call_id).")
    text = "".join(p["text"] for p in _parts(message.get("content"), text_only=True))
    try:
        value = json.loads(text)
    except ValueError:
        value = None
    # Gemini's response must be a JSON object; wrap anything else.
    return {
        "functionResponse": {
            "name": name,
            "response": value if isinstance(value, dict) else {"content": text},
        }
    }


def _tools(request: JSON) -> list[JSON]:
    functions: list[JSON] = []
    for tool in request.get("tools") or []:
        if tool.get("type", "function") != "function":
            raise BadRequest(f"Gemini does not take tools of type {tool.get('type')!r}.")
        functions.append(tool.get("function") or {})
    functions.extend(request.get("functions") or [])  # the legacy spelling
    declarations = []
    for function in functions:
        declaration: JSON = {"name": function.get("name", "")}
        if function.get("description"):
            declaration["description"] = function["description"]
        parameters = clean_schema(function.get("parameters"))
        if parameters.get("properties"):
            declaration["parameters"] = parameters  # an empty OBJECT schema is a 400
        declarations.append(declaration)
    return declarations


def _tool_config(choice: Any) -> JSON | None:
    if choice is None:
        return None
    if isinstance(choice, dict):
        name = (choice.get("function") or {}).get("name") or choice.get("name")
        if not name:
            raise BadRequest("tool_choice names no function.")
        return {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": [name]}}
    mode = {"none": "NONE", "auto": "AUTO", "required": "ANY"}.get(str(choice))
    if mode is None:
        raise BadRequest(f"Unsupported tool_choice {choice!r}.")
    return {"functionCallingConfig": {"mode": mode}}


def _generation_config(request: JSON) -> JSON:
    config: JSON = {}
    max_tokens = request.get("max_completion_tokens") or request.get("max_tokens")
    if max_tokens is not None:
        config["maxOutputTokens"] = max_tokens
    for ours, theirs in (
        ("temperature", "temperature"),
        ("top_p", "topP"),
        ("n", "candidateCount"),
        ("seed", "seed"),
    ):
        if request.get(ours) is not None:
            config[theirs] = request[ours]
    # Several Gemini models refuse penalties outright; clients often send 0 by default.
    for ours, theirs in (
        ("presence_penalty", "presencePenalty"),
        ("frequency_penalty", "frequencyPenalty"),
    ):
        if request.get(ours):
            config[theirs] = request[ours]
    stop = request.get("stop")
    if stop:
        config["stopSequences"] = [stop] if isinstance(stop, str) else list(stop)
    response_format = request.get("response_format") or {}
    if response_format.get("type") in ("json_object", "json_schema"):
        config["responseMimeType"] = "application/json"
        schema = (response_format.get("json_schema") or {}).get("schema")
        if schema:
            config["responseSchema"] = clean_schema(schema)
    return config
