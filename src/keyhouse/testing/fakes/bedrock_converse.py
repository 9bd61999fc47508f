"""The Bedrock fake's Converse and ConverseStream: the request checked as AWS checks it,
the deterministic answer, and its events in event-stream frames."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import AsyncIterator
from typing import Any

from keyhouse.testing.fakes.bedrock_frames import event_frame, exception_frame
from keyhouse.testing.fakes.bedrock_sigv4 import invalid

JSON = dict[str, Any]

CONVERSE_FIELDS = {
    "messages",
    "system",
    "inferenceConfig",
    "toolConfig",
    "guardrailConfig",
    "additionalModelRequestFields",
    "promptVariables",
    "requestMetadata",
    "additionalModelResponseFieldPaths",
    "performanceConfig",
    "outputConfig",
    "serviceTier",
}


def _words(text: str) -> int:
    return len(text.split())


def _result_text(block: JSON) -> str:
    parts = block.get("content") or []
    return " ".join(p["text"] if "text" in p else json.dumps(p.get("json")) for p in parts)


def validate_converse(body: JSON) -> None:
    unknown = set(body) - CONVERSE_FIELDS
    if unknown:
        raise invalid(f"Unexpected field(s) in the request: {sorted(unknown)}")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise invalid("The messages field is required and must not be empty.")
    if messages[0].get("role") != "user":
        raise invalid(
            "A conversation must start with a user message. Try again with a "
            "conversation that starts with a user message."
        )
    uses_tools = False
    for i, msg in enumerate(messages):
        if i and msg.get("role") == messages[i - 1].get("role"):
            raise invalid(
                "A conversation must alternate between user and assistant roles. "
                "Make sure the conversation alternates between user and assistant "
                "roles and try again."
            )
        if msg.get("role") not in ("user", "assistant") or not msg.get("content"):
            raise invalid(f"messages.{i}: a role and non-empty content are required.")
        prior_uses = (
            {b["toolUse"]["toolUseId"] for b in messages[i - 1]["content"] if "toolUse" in b}
            if i
            else set()
        )
        for j, block in enumerate(msg["content"]):
            uses_tools |= "toolUse" in block or "toolResult" in block
            if "text" in block and not str(block["text"]).strip():
                raise invalid(
                    f"The text field in the ContentBlock object at messages.{i}."
                    f"content.{j} is blank. Add text to the text field, and try "
                    "again."
                )
            if "image" in block:
                image = block["image"]
                if image.get("format") not in ("png", "jpeg", "gif", "webp"):
                    raise invalid(f"messages.{i}.content.{j}.image.format is not valid.")
                try:
                    base64.b64decode(image["source"]["bytes"], validate=True)
                except (KeyError, TypeError, ValueError):
                    raise invalid(
                        f"messages.{i}.content.{j}.image.source.bytes is not valid base64."
                    ) from None
            if "toolUse" in block and not isinstance(block["toolUse"].get("input"), dict):
                raise invalid(f"messages.{i}.content.{j}.toolUse.input must be an object.")
            if "toolResult" in block and block["toolResult"].get("toolUseId") not in prior_uses:
                raise invalid(
                    f"messages.{i}.content.{j}: the toolResult does not answer a "
                    "toolUse of the previous turn."
                )
    if uses_tools and not (body.get("toolConfig") or {}).get("tools"):
        raise invalid(
            "The toolConfig field must be defined when using toolUse and toolResult content blocks."
        )
    cfg = body.get("inferenceConfig") or {}
    if "maxTokens" in cfg and (not isinstance(cfg["maxTokens"], int) or cfg["maxTokens"] < 1):
        raise invalid("inferenceConfig.maxTokens must be a positive integer.")
    for key in ("temperature", "topP"):
        if key in cfg and not 0 <= cfg[key] <= 1:
            raise invalid(f"inferenceConfig.{key} must be between 0 and 1.")


def converse_answer(body: JSON) -> tuple[list[JSON], str, JSON]:
    """The deterministic answer: (content blocks, stopReason, usage)."""
    messages = body["messages"]
    prompt = sum(_words(s.get("text", "")) for s in body.get("system") or [])
    for msg in messages:
        for block in msg["content"]:
            prompt += _words(block.get("text", "")) + (
                _words(_result_text(block["toolResult"])) if "toolResult" in block else 0
            )
    last = messages[-1]
    last_user = next(m for m in reversed(messages) if m["role"] == "user")
    text = " ".join(b["text"] for b in last_user["content"] if "text" in b)
    results = [_result_text(b["toolResult"]) for b in last_user["content"] if "toolResult" in b]
    tools = (body.get("toolConfig") or {}).get("tools") or []
    cfg = body.get("inferenceConfig") or {}
    if last["role"] == "user" and tools and not results:
        name = tools[0]["toolSpec"]["name"]
        tool_id = "tooluse_" + hashlib.sha256(text.encode()).hexdigest()[:22]
        use = {"toolUseId": tool_id, "name": name, "input": {"q": text}}
        return [{"toolUse": use}], "tool_use", _usage(prompt, _words(json.dumps(use["input"])))
    answer = f"tool said: {' '.join(results)}" if results else f"echo: {text}"
    stop = "end_turn"
    for seq in cfg.get("stopSequences") or []:
        if seq in answer:
            answer, stop = answer[: answer.index(seq)], "stop_sequence"
    words = answer.split(" ")
    if len(words) > int(cfg.get("maxTokens") or 1 << 30):
        answer, stop = " ".join(words[: cfg["maxTokens"]]), "max_tokens"
    return [{"text": answer}], stop, _usage(prompt, _words(answer))


def _usage(prompt: int, completion: int) -> JSON:
    return {"inputTokens": prompt, "outputTokens": completion, "totalTokens": prompt + completion}


async def converse_stream(body: JSON, model: str) -> AsyncIterator[bytes]:
    content, stop, usage = converse_answer(body)
    yield event_frame("messageStart", {"role": "assistant"})
    block = content[0]
    if "toolUse" in block:
        use = block["toolUse"]
        yield event_frame(
            "contentBlockStart",
            {
                "contentBlockIndex": 0,
                "start": {"toolUse": {"toolUseId": use["toolUseId"], "name": use["name"]}},
            },
        )
        raw = json.dumps(use["input"])
        for piece in (raw[: len(raw) // 2], raw[len(raw) // 2 :]):
            yield event_frame(
                "contentBlockDelta",
                {"contentBlockIndex": 0, "delta": {"toolUse": {"input": piece}}},
            )
    else:
        for i, word in enumerate(block["text"].split(" ")):
            yield event_frame(
                "contentBlockDelta",
                {"contentBlockIndex": 0, "delta": {"text": (" " if i else "") + word}},
            )
            if model == "fail-midstream":
                yield exception_frame(
                    "throttlingException", "Too many requests, please wait before trying again."
                )
                return
    yield event_frame("contentBlockStop", {"contentBlockIndex": 0})
    yield event_frame("messageStop", {"stopReason": stop})
    yield event_frame("metadata", {"usage": usage, "metrics": {"latencyMs": 42}})
