"""Claude's own Messages API on Bedrock (InvokeModel) works with the keyless auth
methods too: the native path resolves the short-lived credential before signing, as
Converse does. The Bedrock fake accepts only the credentials moto's chain holds."""

from __future__ import annotations

from typing import Any

import anthropic

from keyhouse.testing.fakes.aws import Aws
from keyhouse.testing.fakes.server import ServerThread
from tests.cloud.test_keyless_bedrock import (  # noqa: F401 - the fixtures
    MODEL,
    _key_and_endpoint,
    _signed_with,
    aws,
    bedrock,
    chain,
    gateway,
)


def test_default_chain_signs_native_messages_and_counts(
    chain: Aws,  # noqa: F811
    bedrock: ServerThread,  # noqa: F811
    gateway: tuple[str, Any],  # noqa: F811
) -> None:
    base, _ = gateway
    token = _key_and_endpoint(base, "claude-chain", "default_chain", {}, bedrock)
    client = anthropic.Anthropic(base_url=base, api_key=token, max_retries=0, timeout=30)
    asked: Any = {
        "model": "claude-chain",
        "max_tokens": 64,
        "top_k": 3,
        "messages": [{"role": "user", "content": "hi there"}],
    }
    reply = client.messages.create(
        **{k: v for k, v in asked.items() if k != "top_k"}, extra_body={"top_k": 3}
    )
    assert reply.content[0].text == "echo: hi there"  # type: ignore[union-attr]
    call = bedrock.app.state.calls[-1]
    assert call.path.endswith("/invoke") and call.json["top_k"] == 3
    assert _signed_with(call) == chain.access_key_id
    with client.messages.stream(
        model="claude-chain", max_tokens=64, messages=asked["messages"]
    ) as s:
        assert s.get_final_text() == "echo: hi there"
    assert bedrock.app.state.calls[-1].path.endswith("/invoke-with-response-stream")
    assert _signed_with(bedrock.app.state.calls[-1]) == chain.access_key_id
    counted = client.messages.count_tokens(model="claude-chain", messages=asked["messages"])
    assert counted.input_tokens == 2
    assert bedrock.app.state.calls[-1].path == f"/model/{MODEL.replace(':', '%3A')}/count-tokens"
