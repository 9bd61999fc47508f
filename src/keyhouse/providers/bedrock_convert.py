"""Pure conversions from OpenAI's chat request to Amazon Bedrock's Converse request.

Converse is close to Anthropic's Messages API (content blocks, a separate system prompt,
strict user/assistant alternation) but spelled in camelCase with AWS's own block names
(``toolUse``, ``toolResult``, ``image.source.bytes``). The answer's way back is
``bedrock_response``; embeddings are ``bedrock_embeddings``. Nothing here does I/O, so
every rule is testable on plain dicts.
"""

from __future__ import annotations

import base64
import json
import re
from typing import Any
from urllib.parse import unquote_to_bytes

from keyhouse.errors import BadRequest, Unsupported

JSON = dict[str, Any]

_IMAGE_FORMATS = {
    "image/png": "png",
    "image/jpeg": "jpeg",
    "image/jpg": "jpeg",
    "image/gif": "gif",
    "image/webp": "webp",
}
_DOCUMENT_FORMATS = {
    "application/pdf": "pdf",
    "text/csv": "csv",
    "text/html": "html",
    "text/plain": "txt",
    "text/markdown": "md",
    "application/msword": "doc",
    "application/vnd.ms-excel": "xls",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
}


# --- chat request -------------------------------------------------------------------


def chat_request(request: JSON) -> JSON:
    """An OpenAI chat.completions body → a Converse (or ConverseStream) body."""
    if request.get("n") not in (None, 1):
        raise Unsupported("Bedrock Converse returns one choice; `n` must be 1.")
    system, messages = _messages(request.get("messages") or [])
    body: JSON = {"messages": messages}
    if system:
        body["system"] = system
    inference = _inference_config(request)
    if inference:
        body["inferenceConfig"] = inference
    tool_config = _tool_config(request, messages)
    if tool_config:
        body["toolConfig"] = tool_config
    output = _output_config(request.get("response_format"))
    if output:
        body["outputConfig"] = output
    return body


def _messages(raw: list[JSON]) -> tuple[list[JSON], list[JSON]]:
    system: list[JSON] = []
    turns: list[JSON] = []
    for i, msg in enumerate(raw):
        role = msg.get("role")
        if role in ("system", "developer"):
            # Converse has one system prompt; OpenAI lets system messages appear anywhere.
            system.extend({"text": t} for t in _texts(msg.get("content"), i) if t.strip())
            continue
        if role == "user":
            blocks = _user_blocks(msg.get("content"), i)
        elif role == "assistant":
            blocks = _assistant_blocks(msg, i)
        elif role == "tool":
            blocks = [_tool_result(msg, i)]
            role = "user"  # Converse carries tool results in the user's turn
        else:
            raise BadRequest(f"messages[{i}]: role {role!r} is not supported.")
        if not blocks:
            continue
        # Converse requires strict alternation: fold consecutive same-role messages
        # (e.g. several tool results, or a tool result followed by the user's text).
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": role, "content": blocks})
    return system, turns


def _texts(content: Any, i: int) -> list[str]:
    if content is None:
        return []
    if isinstance(content, str):
        return [content]
    out = []
    for part in content:
        if part.get("type") == "text":
            out.append(str(part.get("text", "")))
        elif part.get("type") == "refusal":
            out.append(str(part.get("refusal", "")))
        else:
            raise BadRequest(f"messages[{i}]: a {part.get('type')!r} part is not allowed here.")
    return out


def _user_blocks(content: Any, i: int) -> list[JSON]:
    if content is None or isinstance(content, str):
        return [{"text": t} for t in _texts(content, i) if t.strip()]
    blocks: list[JSON] = []
    for part in content:
        kind = part.get("type")
        if kind == "text":
            if str(part.get("text", "")).strip():  # Converse rejects blank text blocks
                blocks.append({"text": part["text"]})
        elif kind == "image_url":
            url = part.get("image_url")
            blocks.append(_image_block(url.get("url") if isinstance(url, dict) else url, i))
        elif kind == "file":
            blocks.append(_document_block(part.get("file") or {}, i))
        else:
            raise Unsupported(f"messages[{i}]: Bedrock does not take {kind!r} parts.")
    return blocks


def _image_block(url: Any, i: int) -> JSON:
    if not isinstance(url, str):
        raise BadRequest(f"messages[{i}]: image_url.url must be a string.")
    if url.startswith("s3://"):
        fmt = _IMAGE_FORMATS.get("image/" + url.rsplit(".", 1)[-1].lower())
        if fmt is None:
            raise BadRequest(f"messages[{i}]: cannot tell the image format of that S3 URI.")
        return {"image": {"format": fmt, "source": {"s3Location": {"uri": url}}}}
    mime, data = _data_url(url, i)
    fmt = _IMAGE_FORMATS.get(mime)
    if fmt is None:
        raise BadRequest(f"messages[{i}]: Bedrock takes png, jpeg, gif or webp images.")
    return {"image": {"format": fmt, "source": {"bytes": data}}}


def _document_block(file: JSON, i: int) -> JSON:
    url = file.get("file_data")
    if not isinstance(url, str):
        raise Unsupported(f"messages[{i}]: Bedrock takes files inline (file_data), not by id.")
    mime, data = _data_url(url, i)
    fmt = _DOCUMENT_FORMATS.get(mime)
    if fmt is None:
        raise BadRequest(f"messages[{i}]: Bedrock does not take {mime} documents.")
    # Document names may hold only letters, digits, spaces, hyphens, parentheses and
    # square brackets, and are shown to the model: keep the file's stem, cleaned.
    stem = str(file.get("filename") or "document").rsplit(".", 1)[0]
    name = re.sub(r"\s+", " ", re.sub(r"[^A-Za-z0-9 \-()\[\]]", " ", stem)).strip()
    return {"document": {"format": fmt, "name": name or "document", "source": {"bytes": data}}}


def _data_url(url: str, i: int) -> tuple[str, str]:
    """``data:<mime>[;base64],<data>`` → (mime, base64 text). Converse's JSON protocol
    carries blobs as base64, so a base64 data URL passes through without decoding."""
    if not url.startswith("data:") or "," not in url:
        # Fetching arbitrary URLs from the gateway would be a server-side request forgery
        # channel; callers inline the bytes instead (or use s3:// for images).
        raise BadRequest(
            f"messages[{i}]: Bedrock takes inline data: URLs (or s3:// images), not web URLs."
        )
    meta, _, payload = url[5:].partition(",")
    params = meta.split(";")
    mime = params[0].strip().lower() or "text/plain"
    if "base64" in params[1:]:
        data = "".join(payload.split())
        try:
            base64.b64decode(data, validate=True)
        except ValueError:
            raise BadRequest(f"messages[{i}]: the data: URL is not valid base64.") from None
        return mime, data
    return mime, base64.b64encode(unquote_to_bytes(payload)).decode("ascii")


def _assistant_blocks(msg: JSON, i: int) -> list[JSON]:
    blocks: list[JSON] = [{"text": t} for t in _texts(msg.get("content"), i) if t.strip()]
    for j, call in enumerate(msg.get("tool_calls") or []):
        fn = call.get("function") or {}
        raw = fn.get("arguments") or "{}"
        try:
            args = json.loads(raw) if isinstance(raw, str) else raw
        except ValueError:
            args = None
        if not isinstance(args, dict):
            raise BadRequest(
                f"messages[{i}].tool_calls[{j}].function.arguments must be a JSON object."
            )
        blocks.append(
            {
                "toolUse": {
                    "toolUseId": call.get("id") or f"call_{i}_{j}",
                    "name": fn.get("name", ""),
                    "input": args,
                }
            }
        )
    return blocks


def _tool_result(msg: JSON, i: int) -> JSON:
    text = "".join(_texts(msg.get("content"), i))
    # An empty text block is refused; an empty JSON document says "no output" faithfully.
    content: list[JSON] = [{"text": text}] if text else [{"json": {}}]
    return {"toolResult": {"toolUseId": msg.get("tool_call_id", ""), "content": content}}


def _inference_config(request: JSON) -> JSON:
    cfg: JSON = {}
    max_tokens = request.get("max_completion_tokens") or request.get("max_tokens")
    if max_tokens is not None:
        cfg["maxTokens"] = int(max_tokens)
    if request.get("temperature") is not None:
        cfg["temperature"] = request["temperature"]
    if request.get("top_p") is not None:
        cfg["topP"] = request["top_p"]
    stop = request.get("stop")
    if stop:
        cfg["stopSequences"] = [stop] if isinstance(stop, str) else list(stop)
    return cfg


def _tool_config(request: JSON, messages: list[JSON]) -> JSON | None:
    used = [b["toolUse"]["name"] for m in messages for b in m["content"] if "toolUse" in b]
    has_tool_blocks = bool(used) or any("toolResult" in b for m in messages for b in m["content"])
    choice = request.get("tool_choice")
    tools = [_tool_spec(t) for t in request.get("tools") or [] if t.get("type") == "function"]
    if not tools and has_tool_blocks:
        # Converse refuses toolUse/toolResult blocks without a toolConfig, even when the
        # caller offers no tools this turn: declare the tools the history mentions.
        tools = [
            {"toolSpec": {"name": n, "inputSchema": {"json": {"type": "object"}}}}
            for n in dict.fromkeys(used)
        ]
    if not tools or (choice == "none" and not has_tool_blocks):
        return None
    config: JSON = {"tools": tools}
    if choice == "auto":
        config["toolChoice"] = {"auto": {}}
    elif choice == "required":
        config["toolChoice"] = {"any": {}}
    elif isinstance(choice, dict) and choice.get("function", {}).get("name"):
        config["toolChoice"] = {"tool": {"name": choice["function"]["name"]}}
    return config


def _tool_spec(tool: JSON) -> JSON:
    fn = tool.get("function") or {}
    spec: JSON = {
        "name": fn.get("name", ""),
        "inputSchema": {"json": fn.get("parameters") or {"type": "object", "properties": {}}},
    }
    if fn.get("description"):  # Converse refuses an empty description
        spec["description"] = fn["description"]
    return {"toolSpec": spec}


def _output_config(fmt: Any) -> JSON | None:
    if not isinstance(fmt, dict) or fmt.get("type") != "json_schema":
        return None
    js = fmt.get("json_schema") or {}
    schema: JSON = {
        "schema": json.dumps(js.get("schema") or {}),
        "name": js.get("name") or "response",
    }
    if js.get("description"):
        schema["description"] = js["description"]
    return {"textFormat": {"type": "json_schema", "structure": {"jsonSchema": schema}}}
