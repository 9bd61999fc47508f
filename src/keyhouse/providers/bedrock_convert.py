"""Pure conversions between the OpenAI shapes and Amazon Bedrock's.

Chat goes through the Converse API, whose request is close to Anthropic's Messages API
(content blocks, a separate system prompt, strict user/assistant alternation) but spelled
in camelCase with AWS's own block names (``toolUse``, ``toolResult``, ``image.source.bytes``).
Embeddings have no Converse equivalent: each model family takes its own InvokeModel body.
Nothing here does I/O, so every rule is testable on plain dicts.
"""

from __future__ import annotations

import base64
import json
import re
import struct
from collections.abc import Iterable
from typing import Any, Literal
from urllib.parse import unquote_to_bytes

from keyhouse.errors import BadRequest, Unsupported
from keyhouse.usage.record import CACHE_WRITE

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
_FINISH = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "content_filtered": "content_filter",
    "guardrail_intervened": "content_filter",
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


# --- chat response -------------------------------------------------------------------


def finish_reason(stop_reason: str | None) -> str | None:
    if stop_reason is None:
        return None
    return _FINISH.get(stop_reason, "stop")


def usage(raw: JSON) -> JSON:
    """Converse TokenUsage → OpenAI usage. Converse counts the cache's reads and writes
    apart from ``inputTokens``; ``prompt_tokens`` includes both (``usage.record``)."""
    cache_read = int(raw.get("cacheReadInputTokens") or 0)
    cache_write = int(raw.get("cacheWriteInputTokens") or 0)
    prompt = int(raw.get("inputTokens") or 0) + cache_read + cache_write
    completion = int(raw.get("outputTokens") or 0)
    out: JSON = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": int(raw.get("totalTokens") or prompt + completion),
    }
    if cache_read or cache_write:
        out["prompt_tokens_details"] = {"cached_tokens": cache_read}
        if cache_write:
            out["prompt_tokens_details"][CACHE_WRITE] = cache_write
    return out


def chat_response(data: JSON, model: str, response_id: str, created: int) -> JSON:
    """A Converse response → an OpenAI ChatCompletion."""
    content = ((data.get("output") or {}).get("message") or {}).get("content") or []
    texts, reasoning, tool_calls = [], [], []
    for block in content:
        if "text" in block:
            texts.append(block["text"])
        elif "toolUse" in block:
            use = block["toolUse"]
            tool_calls.append(
                {
                    "id": use.get("toolUseId"),
                    "type": "function",
                    "function": {
                        "name": use.get("name"),
                        "arguments": json.dumps(use.get("input") or {}),
                    },
                }
            )
        elif "reasoningContent" in block:
            reasoning.append((block["reasoningContent"].get("reasoningText") or {}).get("text", ""))
    message: JSON = {"role": "assistant", "content": "".join(texts) if texts else None}
    if tool_calls:
        message["tool_calls"] = tool_calls
    if reasoning:
        message["reasoning_content"] = "".join(reasoning)
    result: JSON = {
        "id": response_id,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": message,
                "logprobs": None,
                "finish_reason": finish_reason(data.get("stopReason")) or "stop",
            }
        ],
    }
    if data.get("usage"):
        result["usage"] = usage(data["usage"])
    return result


class ChatStreamConverter:
    """Turns ConverseStream events into ``chat.completion.chunk`` dicts, one event at a
    time. Tool-use blocks are numbered in order of appearance, as OpenAI's ``index``."""

    def __init__(self, model: str, response_id: str, created: int) -> None:
        self.model, self.id, self.created = model, response_id, created
        self._tool_index: dict[int, int] = {}

    def _chunk(self, delta: JSON, finish: str | None = None) -> JSON:
        return {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        }

    def feed(self, event: str, payload: JSON) -> list[JSON]:
        if event == "messageStart":
            return [self._chunk({"role": payload.get("role", "assistant"), "content": ""})]
        if event == "contentBlockStart":
            use = (payload.get("start") or {}).get("toolUse")
            if not use:
                return []
            index = self._tool_index.setdefault(
                int(payload.get("contentBlockIndex", 0)), len(self._tool_index)
            )
            return [
                self._chunk(
                    {
                        "tool_calls": [
                            {
                                "index": index,
                                "id": use.get("toolUseId"),
                                "type": "function",
                                "function": {"name": use.get("name"), "arguments": ""},
                            }
                        ]
                    }
                )
            ]
        if event == "contentBlockDelta":
            return self._delta(int(payload.get("contentBlockIndex", 0)), payload.get("delta") or {})
        if event == "messageStop":
            return [self._chunk({}, finish_reason(payload.get("stopReason")) or "stop")]
        if event == "metadata" and payload.get("usage"):
            chunk = self._chunk({})
            chunk["choices"] = []
            chunk["usage"] = usage(payload["usage"])
            return [chunk]
        return []  # contentBlockStop, metrics-only metadata, events added later by AWS

    def _delta(self, block: int, delta: JSON) -> list[JSON]:
        if delta.get("text"):
            return [self._chunk({"content": delta["text"]})]
        if "toolUse" in delta:
            fragment = (delta["toolUse"] or {}).get("input") or ""
            index = self._tool_index.setdefault(block, len(self._tool_index))
            if fragment:
                return [
                    self._chunk(
                        {"tool_calls": [{"index": index, "function": {"arguments": fragment}}]}
                    )
                ]
        reasoning = (delta.get("reasoningContent") or {}).get("text")
        if reasoning:
            return [self._chunk({"reasoning_content": reasoning})]
        return []


# --- embeddings ------------------------------------------------------------------------

EmbeddingFamily = Literal["titan", "cohere"]
COHERE_BATCH = 96  # texts per InvokeModel call that Cohere Embed accepts


def embedding_family(model: str) -> EmbeddingFamily:
    # Model ids may carry a cross-region prefix ("us.") or be an ARN; match the family.
    if "titan-embed" in model:
        return "titan"
    if "cohere.embed" in model:
        return "cohere"
    raise Unsupported(
        f"Bedrock model {model!r} is not a supported embedding model "
        "(amazon.titan-embed-* or cohere.embed-*)."
    )


def embedding_inputs(request: JSON) -> list[str]:
    raw = request.get("input")
    items = [raw] if isinstance(raw, str) else raw
    if not isinstance(items, list) or not items or not all(isinstance(t, str) for t in items):
        raise BadRequest(
            "Bedrock embeddings take `input` as a string or a list of strings "
            "(token arrays are not supported)."
        )
    return list(items)


def titan_embedding_body(text: str, request: JSON, model: str) -> JSON:
    body: JSON = {"inputText": text}
    dims = request.get("dimensions")
    if dims is not None:
        if "text-v2" in model:
            body["dimensions"] = int(dims)
        elif "image-v1" in model:
            body["embeddingConfig"] = {"outputEmbeddingLength": int(dims)}
        else:
            raise BadRequest(f"Bedrock model {model!r} does not take `dimensions`.")
    return body


def cohere_embedding_bodies(texts: list[str], request: JSON, model: str) -> list[JSON]:
    extra: JSON = {"input_type": request.get("input_type") or "search_document"}
    if request.get("dimensions") is not None:
        if "embed-v4" not in model:
            raise BadRequest(f"Bedrock model {model!r} does not take `dimensions`.")
        extra["output_dimension"] = int(request["dimensions"])
    return [
        {"texts": texts[i : i + COHERE_BATCH], **extra} for i in range(0, len(texts), COHERE_BATCH)
    ]


def titan_embedding(data: JSON) -> tuple[list[float], int]:
    vector = data.get("embedding") or (data.get("embeddingsByType") or {}).get("float")
    if not isinstance(vector, list):
        raise ValueError("no embedding in the Titan response")
    return vector, int(data.get("inputTextTokenCount") or 0)


def cohere_embeddings(data: JSON) -> list[list[float]]:
    vectors = data.get("embeddings")
    if isinstance(vectors, dict):  # "embeddings_by_type" (embedding_types given, or v4)
        vectors = vectors.get("float")
    if not isinstance(vectors, list):
        raise ValueError("no float embeddings in the Cohere response")
    return vectors


def embeddings_response(
    vectors: Iterable[list[float]],
    model: str,
    prompt_tokens: int,
    encoding_format: str | None = None,
) -> JSON:
    data = []
    for i, vector in enumerate(vectors):
        embedding: list[float] | str = vector
        if encoding_format == "base64":
            # What OpenAI sends for base64 (and what its SDK asks for by default):
            # little-endian float32s.
            embedding = base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
        data.append({"object": "embedding", "index": i, "embedding": embedding})
    return {
        "object": "list",
        "data": data,
        "model": model,
        "usage": {"prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens},
    }
