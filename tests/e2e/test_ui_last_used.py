"""Issue 11, item 7: after real calls through two keys and two tokens, the key list and the
token list say when each was last used (and how often this week); an unused one says never."""

from __future__ import annotations

from collections.abc import Iterator

import openai
import pytest
from playwright.sync_api import expect

from keyhouse.testing.fakes.openai import create_app
from keyhouse.testing.fakes.server import ServerThread, serve
from tests.e2e.conftest import (
    UI,
    Server,
    create_key,
    create_token,
    openai_fake_endpoint,
    row_named,
    unique,
    wait_for_use,
)

FAKE_KEY = "sk-fake-" + "9e8d7c6b" * 4


@pytest.fixture(scope="module")
def openai_fake() -> Iterator[ServerThread]:
    with serve(create_app(api_key=FAKE_KEY)) as fake:
        yield fake


def test_the_key_and_token_lists_show_last_used_after_real_calls(
    signed_in: UI, server: Server, openai_fake: ServerThread
) -> None:
    routes = [openai_fake_endpoint(server, openai_fake.port, FAKE_KEY) for _ in range(2)]
    tokens = [create_token(server, unique("caller")) for _ in range(2)]
    idle_key = create_key(server, unique("idle-key"))
    idle_token = create_token(server, unique("idle-caller"))
    # Token i calls endpoint i (on key i) i + 1 times.
    for i, (route, token) in enumerate(zip(routes, tokens, strict=True)):
        client = openai.OpenAI(base_url=f"{server.url}/v1", api_key=token["token"], max_retries=0)
        for _ in range(i + 1):
            client.chat.completions.create(
                model=route["endpoint"]["name"], messages=[{"role": "user", "content": "hi"}]
            )
    for i, (route, token) in enumerate(zip(routes, tokens, strict=True)):
        wait_for_use(server, "keys", route["key"]["id"], i + 1)
        wait_for_use(server, "access-tokens", token["id"], i + 1)

    signed_in.goto("/gateway/api-keys")
    for i, route in enumerate(routes):
        cell = row_named(signed_in, route["key"]["name"]).locator('[data-col="last-used"]')
        expect(cell).to_contain_text("just now")
        expect(cell).to_contain_text(f"{i + 1} call{'s' if i else ''} in 7 days")
    expect(row_named(signed_in, idle_key["name"]).locator('[data-col="last-used"]')).to_have_text(
        "Never"
    )
    signed_in.shot("last-used-keys")

    signed_in.goto("/gateway/access-tokens")
    for i, token in enumerate(tokens):
        cell = row_named(signed_in, token["name"]).locator('[data-col="last-used"]')
        expect(cell).to_contain_text("just now")
        expect(cell).to_contain_text(f"{i + 1} call{'s' if i else ''} in 7 days")
    expect(row_named(signed_in, idle_token["name"]).locator('[data-col="last-used"]')).to_have_text(
        "Never"
    )
    signed_in.shot("last-used-tokens")
