"""Pure conversions between OpenAI shapes and Google's ``generateContent`` family.

The Gemini API (API key) and Vertex AI (service account) take the same chat body, so
one set of functions serves both; embeddings, which differ, are in ``gemini_embeddings``.
Nothing here does I/O.
"""

from __future__ import annotations

import json
import mimetypes
import time
import uuid
from collections.abc import Iterable
from typing import Any

from keyhouse.errors import BadRequest

JSON = dict[str, Any]

# Gemini 3 rejects a follow-up turn whose function call lost the thoughtSignature it came
# with. OpenAI clients echo a tool call id verbatim but drop unknown fields, so the
# signature rides inside the id.
SIGNATURE_SEPARATOR = "__thought__"

_FINISH = {
    "STOP": "stop",
    "MAX_TOKENS": "length",
    "SAFETY": "content_filter",
    "RECITATION": "content_filter",
    "BLOCKLIST": "content_filter",
    "PROHIBITED_CONTENT": "content_filter",
    "SPII": "content_filter",
    "IMAGE_SAFETY": "content_filter",
    "IMAGE_PROHIBITED_CONTENT": "content_filter",
    "IMAGE_RECITATION": "content_filter",
}

# The subset of OpenAPI 3 schema keys both Gemini and Vertex accept in ``parameters``
# and ``responseSchema``; anything else (additionalProperties, $schema, const, ...) is
# rejected with 400 "Invalid JSON payload received. Unknown name ...".
_SCHEMA_KEYS = frozenset(
    {
        "description",
        "nullable",
        "enum",
        "maxItems",
        "minItems",
        "required",
        "minProperties",
        "maxProperties",
        "minLength",
        "maxLength",
        "pattern",
        "minimum",
        "maximum",
        "propertyOrdering",
    }
)
_TYPES = frozenset({"STRING", "NUMBER", "INTEGER", "BOOLEAN", "ARRAY", "OBJECT"})
_FORMATS = {
    "STRING": {"enum", "date-time"},
    "INTEGER": {"int32", "int64"},
    "NUMBER": {"float", "double"},
}
_AUDIO_MIME = {"wav": "audio/wav", "mp3": "audio/mp3"}


# --- request ------------------------------------------------------------------------


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


def clean_schema(schema: Any, defs: JSON | None = None, depth: int = 0) -> JSON:
    """A JSON Schema → the OpenAPI subset Gemini accepts: ``$ref`` inlined, ``type``
    lists and null variants turned into ``nullable``, unknown keys dropped."""
    if not isinstance(schema, dict):
        return {}
    if depth > 40:  # also stops a $ref cycle
        raise BadRequest("A JSON schema is nested too deeply (or its $ref is recursive).")
    if defs is None:
        defs = {**(schema.get("definitions") or {}), **(schema.get("$defs") or {})}
    if isinstance(schema.get("$ref"), str):
        target = defs.get(schema["$ref"].rsplit("/", 1)[-1])
        if not isinstance(target, dict):
            raise BadRequest(f"A JSON schema has an unresolvable $ref {schema['$ref']!r}.")
        rest = {k: v for k, v in schema.items() if k != "$ref"}
        return clean_schema({**target, **rest}, defs, depth + 1)
    if isinstance(schema.get("allOf"), list):
        merged: JSON = {}
        for sub in schema["allOf"]:
            sub = clean_schema(sub, defs, depth + 1)
            merged.update({k: v for k, v in sub.items() if k not in ("properties", "required")})
            merged.setdefault("properties", {}).update(sub.get("properties") or {})
            merged.setdefault("required", []).extend(sub.get("required") or [])
        rest = {k: v for k, v in schema.items() if k != "allOf"}
        return {**merged, **clean_schema(rest, defs, depth + 1)} if rest else merged
    out: JSON = {k: v for k, v in schema.items() if k in _SCHEMA_KEYS}
    variants = schema.get("anyOf") or schema.get("oneOf")
    if isinstance(variants, list):
        kept = [v for v in variants if not (isinstance(v, dict) and v.get("type") == "null")]
        if len(kept) < len(variants):
            out["nullable"] = True
        if len(kept) == 1:
            return {**clean_schema(kept[0], defs, depth + 1), **out}
        out["anyOf"] = [clean_schema(v, defs, depth + 1) for v in kept]
    type_ = schema.get("type")
    if isinstance(type_, list):
        kept_types = [t for t in type_ if t != "null"]
        if len(kept_types) < len(type_):
            out["nullable"] = True
        type_ = kept_types[0] if len(kept_types) == 1 else None
    if "const" in schema and "enum" not in schema:
        out["enum"] = [schema["const"]]
    gemini_type = str(type_).upper() if type_ else None
    if gemini_type in _TYPES:
        out["type"] = gemini_type
    if "enum" in out:
        # Gemini enums are STRING only; a numeric enum stays a plain number.
        if all(isinstance(v, str) for v in out["enum"]):
            out.setdefault("type", "STRING")
        else:
            del out["enum"]
    fmt = schema.get("format")
    if fmt in _FORMATS.get(str(out.get("type")), ()):
        out["format"] = fmt
    if isinstance(schema.get("items"), dict):
        out["items"] = clean_schema(schema["items"], defs, depth + 1)
    properties = schema.get("properties")
    if isinstance(properties, dict) and properties:
        out["properties"] = {
            name: clean_schema(sub, defs, depth + 1) for name, sub in properties.items()
        }
    if "required" in out:
        present = out.get("properties") or {}
        out["required"] = [n for n in out["required"] if n in present]
        if not out["required"]:
            del out["required"]
    return out


# --- response -----------------------------------------------------------------------


def split_tool_call_id(tool_call_id: str) -> tuple[str, str | None]:
    call_id, sep, signature = tool_call_id.partition(SIGNATURE_SEPARATOR)
    return call_id, (signature if sep and signature else None)


def _tool_call_id(signature: str | None) -> str:
    call_id = f"call_{uuid.uuid4().hex[:24]}"
    return f"{call_id}{SIGNATURE_SEPARATOR}{signature}" if signature else call_id


def finish_reason(reason: str | None, has_tool_calls: bool) -> str:
    if has_tool_calls and reason in (None, "STOP"):
        return "tool_calls"
    return _FINISH.get(reason or "STOP", "stop")


def usage(meta: JSON | None) -> JSON:
    meta = meta or {}
    prompt = int(meta.get("promptTokenCount", 0)) + int(meta.get("toolUsePromptTokenCount", 0))
    thoughts = int(meta.get("thoughtsTokenCount", 0))
    # OpenAI counts reasoning inside completion tokens; Gemini reports it apart.
    completion = int(meta.get("candidatesTokenCount", 0)) + thoughts
    out: JSON = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": int(meta.get("totalTokenCount") or prompt + completion),
    }
    if meta.get("cachedContentTokenCount"):
        out["prompt_tokens_details"] = {"cached_tokens": int(meta["cachedContentTokenCount"])}
    if thoughts:
        out["completion_tokens_details"] = {"reasoning_tokens": thoughts}
    return out


def _split_parts(candidate: JSON) -> tuple[str, list[JSON]]:
    """Visible text and OpenAI tool calls of one candidate; thought summaries are dropped."""
    parts = (candidate.get("content") or {}).get("parts") or []
    text = "".join(p.get("text", "") for p in parts if "text" in p and not p.get("thought"))
    calls = [
        {
            "id": _tool_call_id(p.get("thoughtSignature")),
            "type": "function",
            "function": {
                "name": p["functionCall"].get("name", ""),
                "arguments": json.dumps(p["functionCall"].get("args") or {}),
            },
        }
        for p in parts
        if isinstance(p.get("functionCall"), dict)
    ]
    return text, calls


def chat_response(data: JSON, model: str) -> JSON:
    """A ``generateContent`` answer → an OpenAI ChatCompletion."""
    choices = []
    for position, candidate in enumerate(data.get("candidates") or []):
        text, calls = _split_parts(candidate)
        message: JSON = {
            "role": "assistant",
            "content": text or (None if calls else ""),
            "refusal": None,
        }
        if calls:
            message["tool_calls"] = calls
        choices.append(
            {
                "index": candidate.get("index", position),
                "message": message,
                "logprobs": None,
                "finish_reason": finish_reason(candidate.get("finishReason"), bool(calls)),
            }
        )
    if not choices:  # the prompt itself was blocked (promptFeedback.blockReason)
        choices.append(
            {
                "index": 0,
                "logprobs": None,
                "finish_reason": "content_filter",
                "message": {"role": "assistant", "content": "", "refusal": None},
            }
        )
    return {
        "id": _completion_id(data),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": choices,
        "usage": usage(data.get("usageMetadata")),
    }


def _completion_id(data: JSON) -> str:
    return f"chatcmpl-{data.get('responseId') or uuid.uuid4().hex}"


class StreamConverter:
    """Turns ``streamGenerateContent?alt=sse`` events into OpenAI chunk dicts."""

    def __init__(self, model: str) -> None:
        self.model = model
        self.id = f"chatcmpl-{uuid.uuid4().hex}"
        self.created = int(time.time())
        self._started: set[int] = set()
        self._finished: set[int] = set()
        self._tool_calls: dict[int, int] = {}
        self._usage: JSON | None = None

    def _chunk(self, index: int, delta: JSON, finish: str | None = None) -> JSON:
        return {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [
                {"index": index, "delta": delta, "logprobs": None, "finish_reason": finish}
            ],
        }

    def _start(self, index: int, out: list[JSON]) -> None:
        if index not in self._started:
            self._started.add(index)
            out.append(self._chunk(index, {"role": "assistant", "content": ""}))

    def feed(self, event: JSON) -> list[JSON]:
        out: list[JSON] = []
        if event.get("usageMetadata"):
            self._usage = event["usageMetadata"]  # cumulative: the last one is the total
        candidates = event.get("candidates") or []
        if not candidates and (event.get("promptFeedback") or {}).get("blockReason"):
            self._start(0, out)
            self._finished.add(0)
            out.append(self._chunk(0, {}, "content_filter"))
        for position, candidate in enumerate(candidates):
            index = candidate.get("index", position)
            self._start(index, out)
            text, calls = _split_parts(candidate)
            if text:
                out.append(self._chunk(index, {"content": text}))
            if calls:
                first = self._tool_calls.get(index, 0)
                self._tool_calls[index] = first + len(calls)
                out.append(
                    self._chunk(
                        index,
                        {
                            "tool_calls": [
                                {"index": first + n, **call} for n, call in enumerate(calls)
                            ]
                        },
                    )
                )
            reason = candidate.get("finishReason")
            if reason and index not in self._finished:
                self._finished.add(index)
                has_calls = self._tool_calls.get(index, 0) > 0
                out.append(self._chunk(index, {}, finish_reason(reason, has_calls)))
        return out

    def finish(self) -> list[JSON]:
        """The closing usage chunk (empty choices), when Google reported usage."""
        if self._usage is None:
            return []
        return [
            {
                "id": self.id,
                "object": "chat.completion.chunk",
                "created": self.created,
                "model": self.model,
                "choices": [],
                "usage": usage(self._usage),
            }
        ]
