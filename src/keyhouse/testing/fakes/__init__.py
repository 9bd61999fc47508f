"""Fakes of the providers' real HTTP APIs, served on 127.0.0.1.

Each fake module exposes ``create_app(...) -> Starlette`` taking the credential it
accepts, rejects anything else exactly as the real provider does, and records every
request it saw on ``app.state.calls`` (a list of ``Recorded``), so tests can prove which
credential reached the provider.

Shared conventions of every fake, by the ``model`` requested:
- ``fail-503`` → 503 in the provider's error shape; ``fail-429`` → 429 with
  ``Retry-After: 0``; ``fail-400`` → 400; ``slow`` → waits 3 s before answering;
  ``drip`` (OpenAI family) → streams one word every 0.2 s.
- anything else → a deterministic answer: ``"echo: <text of the last user message>"``;
  when tools are offered and the last message is the user's, a call of the first tool
  with arguments ``{"q": "<that text>"}``; after a tool result, ``"tool said: <result>"``.
- usage: prompt tokens = words in all messages, completion tokens = words in the answer;
  streaming sends the answer a word at a time in the provider's own framing.
"""

FAKES: dict[str, str] = {
    "openai": "keyhouse.testing.fakes.openai:create_app",
    "anthropic": "keyhouse.testing.fakes.anthropic:create_app",
    "gemini": "keyhouse.testing.fakes.gemini:create_app",
    "bedrock": "keyhouse.testing.fakes.bedrock:create_app",
}
