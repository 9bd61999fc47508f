"""A ``generateContent`` answer → an OpenAI ChatCompletion (pure, no I/O).

Also the parts both this and ``gemini_stream`` read out of a candidate, the finish
reasons and the usage, and the tool call ids that carry Gemini's thought signatures.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

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


def split_parts(candidate: JSON) -> tuple[str, list[JSON]]:
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
        text, calls = split_parts(candidate)
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
