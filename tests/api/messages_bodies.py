"""The Messages bodies the lossless-path tests send (Anthropic, Claude on Bedrock and on
Vertex AI): a cached, thinking turn with a tool, the follow-up with its tool result, and
a turn with top_k, a document with citations and a server tool."""

from __future__ import annotations

from typing import Any

TOOLS: Any = [
    {
        "name": "lookup",
        "description": "Look a word up",
        "input_schema": {"type": "object", "properties": {"q": {"type": "string"}}},
        "cache_control": {"type": "ephemeral"},
    }
]
SYSTEM: Any = [
    {
        "type": "text",
        "text": "You are a careful assistant with a long brief.",  # 9 words
        "cache_control": {"type": "ephemeral"},
    }
]
THINKING: Any = {"type": "enabled", "budget_tokens": 2048}


def cached_turn(model: str, text: str, **extra: Any) -> dict[str, Any]:
    """A turn as Claude Code sends one: cache breakpoints, thinking, a tool."""
    return {
        "model": model,
        "max_tokens": 4096,
        "system": SYSTEM,
        "tools": TOOLS,
        "thinking": THINKING,
        "messages": [
            {
                "role": "user",
                "content": [{"type": "text", "text": text, "cache_control": {"type": "ephemeral"}}],
            }
        ],
        **extra,
    }


def with_tool_result(turn: dict[str, Any], answer: Any, tool_use_id: str, result: str) -> Any:
    """The conversation after ``turn``: the assistant's ``answer`` (its content blocks,
    signed thinking included) and the user's tool result."""
    return [
        *turn["messages"],
        {"role": "assistant", "content": [b.model_dump() for b in answer]},
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": tool_use_id, "content": result}],
        },
    ]


def server_tools_turn(model: str) -> dict[str, Any]:
    """top_k, a document with citations and a server tool (web search, not used)."""
    return {
        "model": model,
        "max_tokens": 64,
        "top_k": 5,
        "tools": [{"type": "web_search_20250305", "name": "web_search", "max_uses": 2}],
        "tool_choice": {"type": "none"},
        "messages": [
            {
                "role": "user",
                "content": [
                    {
                        "type": "document",
                        "title": "notes",
                        "citations": {"enabled": True},
                        "source": {"type": "text", "media_type": "text/plain", "data": "a note"},
                    },
                    {"type": "text", "text": "summarise"},
                ],
            }
        ],
    }
