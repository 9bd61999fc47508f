"""The Gemini fake's deterministic model, per the package conventions: generateContent
answers (whole, or in Google's ``alt=sse`` framing) and embeddings for both the Gemini
API's ``batchEmbedContents`` and Vertex AI's ``predict``."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from typing import Any

JSON = dict[str, Any]


def _words(text: str) -> int:
    return len(text.split())


def _texts(content: JSON) -> list[str]:
    out = []
    for part in content.get("parts") or []:
        if "text" in part:
            out.append(str(part["text"]))
        elif "functionResponse" in part:
            out.append(_result_text(part["functionResponse"].get("response")))
    return out


def _result_text(response: Any) -> str:
    if isinstance(response, dict) and len(response) == 1:
        (value,) = response.values()
        if isinstance(value, str):
            return value
    return json.dumps(response)


def _answer(body: JSON) -> tuple[list[JSON], int]:
    """The model's parts and its completion token count, per the package conventions."""
    contents = body.get("contents") or []
    last = contents[-1] if contents else {}
    results = [p["functionResponse"] for p in last.get("parts") or [] if "functionResponse" in p]
    if results:
        text = f"tool said: {_result_text(results[-1].get('response'))}"
        return [{"text": text}], _words(text)
    user: JSON = next((c for c in reversed(contents) if c.get("role", "user") == "user"), {})
    prompt = " ".join(t for p in user.get("parts") or [] if (t := p.get("text")))
    functions = [d for t in body.get("tools") or [] for d in t.get("functionDeclarations") or []]
    calling = (body.get("toolConfig") or {}).get("functionCallingConfig") or {}
    allowed = calling.get("allowedFunctionNames")
    if functions and last.get("role", "user") == "user" and calling.get("mode") != "NONE":
        name = allowed[0] if allowed else functions[0]["name"]
        signature = base64.b64encode(hashlib.sha256(prompt.encode()).digest()).decode()
        call = {
            "functionCall": {"name": name, "args": {"q": prompt}},
            "thoughtSignature": signature,
        }
        return [call], _words(prompt) + 1
    text = f"echo: {prompt}"
    return [{"text": text}], _words(text)


def missing_signature(body: JSON) -> bool:
    return any(
        "functionCall" in p and not p.get("thoughtSignature")
        for c in body.get("contents") or []
        if c.get("role") == "model"
        for p in c.get("parts") or []
    )


def generate(body: JSON, model: str) -> JSON:
    parts, completion = _answer(body)
    config = body.get("generationConfig") or {}
    finish = "STOP"
    if "text" in parts[0]:
        text = parts[0]["text"]
        for stop in config.get("stopSequences") or []:
            if stop in text:
                text = text[: text.index(stop)]
        limit = config.get("maxOutputTokens")
        if limit is not None and _words(text) > int(limit):
            text, finish = " ".join(text.split()[: int(limit)]), "MAX_TOKENS"
        parts, completion = [{"text": text}], _words(text)
    prompt = sum(_words(t) for c in body.get("contents") or [] for t in _texts(c))
    prompt += sum(_words(t) for t in _texts(body.get("systemInstruction") or {}))
    candidates = [
        {"content": {"parts": parts, "role": "model"}, "finishReason": finish, "index": i}
        for i in range(int(config.get("candidateCount") or 1))
    ]
    return {
        "candidates": candidates,
        "usageMetadata": {
            "promptTokenCount": prompt,
            "candidatesTokenCount": completion * len(candidates),
            "totalTokenCount": prompt + completion * len(candidates),
            "promptTokensDetails": [{"modality": "TEXT", "tokenCount": prompt}],
        },
        "modelVersion": model,
        "responseId": secrets.token_urlsafe(16),
    }


def sse(answer: JSON) -> list[bytes]:
    """Google's ``alt=sse`` framing: one ``data:`` line per chunk, CRLF-terminated. Text
    comes a word at a time; the last chunk carries finishReason and the final usage."""
    candidates = answer["candidates"]
    candidate = candidates[0]  # every candidate of the fake says the same
    parts = candidate["content"]["parts"]
    usage = answer["usageMetadata"]
    pieces: list[list[JSON]] = [parts]
    if "text" in parts[0]:
        words = parts[0]["text"].split(" ")
        pieces = [[{"text": w if i == 0 else f" {w}"}] for i, w in enumerate(words)]
    events = []
    for i, piece in enumerate(pieces):
        final = i == len(pieces) - 1
        chunk_candidates: list[JSON] = []
        for c in candidates:
            chunk_candidates.append(
                {"content": {"parts": piece, "role": "model"}, "index": c["index"]}
            )
            if final:
                chunk_candidates[-1]["finishReason"] = c["finishReason"]
        chunk = {
            "candidates": chunk_candidates,
            "usageMetadata": usage
            if final
            else {
                "promptTokenCount": usage["promptTokenCount"],
                "totalTokenCount": usage["promptTokenCount"],
            },
            "modelVersion": answer["modelVersion"],
            "responseId": answer["responseId"],
        }
        events.append(f"data: {json.dumps(chunk)}\r\n\r\n".encode())
    return events


def _vector(text: str, dimensions: int) -> list[float]:
    digest = hashlib.sha256(text.encode()).digest()
    return [round((digest[i % 32] - 128) / 128, 6) for i in range(dimensions)]


def batch_embeddings(items: list[JSON]) -> JSON:
    """The Gemini API's ``batchEmbedContents`` answer."""
    return {
        "embeddings": [
            {
                "values": _vector(
                    " ".join(_texts(i.get("content") or {})),
                    int(i.get("outputDimensionality") or 768),
                )
            }
            for i in items
        ]
    }


def predictions(instances: list[JSON], dimensions: int) -> JSON:
    """Vertex AI's embedding ``predict`` answer."""
    return {
        "predictions": [
            {
                "embeddings": {
                    "statistics": {
                        "truncated": False,
                        "token_count": _words(str(i.get("content", ""))),
                    },
                    "values": _vector(str(i.get("content", "")), dimensions),
                }
            }
            for i in instances
        ],
        "metadata": {
            "billableCharacterCount": sum(len(str(i.get("content", ""))) for i in instances)
        },
    }
