"""The Endpoints tab: create with fallbacks, edit, delete, and the "Try it" panel."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Locator, expect

from keyhouse.testing.fakes.openai import create_app
from keyhouse.testing.fakes.server import ServerThread, serve
from tests.e2e.conftest import UI, Server, create_endpoint, create_key, row_named, textbox, unique

FAKE_KEY = "sk-fake-" + "a1b2c3d4" * 4


@pytest.fixture(scope="module")
def openai_fake() -> Iterator[ServerThread]:
    with serve(create_app(api_key=FAKE_KEY)) as fake:
        yield fake


def choose(ui: UI, scope: Locator, label: str, option: str | re.Pattern[str]) -> None:
    scope.get_by_role("combobox", name=label).click()
    ui.page.get_by_role("option", name=option).click()


def test_create_edit_and_delete_an_endpoint_with_a_fallback(signed_in: UI, server: Server) -> None:
    primary = create_key(server, unique("ep-primary"))
    fallback = create_key(server, unique("ep-fallback"), "anthropic")
    name = unique("support-bot")
    page = signed_in.page
    signed_in.goto("/gateway")
    page.get_by_role("button", name="Create endpoint").first.click()
    dialog = page.get_by_role("dialog", name="Create endpoint")
    textbox(dialog, "Name").fill(name)

    first = dialog.get_by_role("group", name="Target 1")
    choose(signed_in, first, "API key", re.compile(re.escape(primary["name"])))
    textbox(first, "Model").fill("gpt-4o-mini")

    # Add two rows, then remove the last one again.
    dialog.get_by_role("button", name="Add target").click()
    dialog.get_by_role("button", name="Add target").click()
    expect(dialog.get_by_role("group", name="Target 3")).to_be_visible()
    dialog.get_by_role("button", name="Remove target 3").click()
    expect(dialog.get_by_role("group", name="Target 3")).to_have_count(0)

    second = dialog.get_by_role("group", name="Target 2")
    expect(second.get_by_role("combobox", name="Role")).to_have_value("Fallback")
    choose(signed_in, second, "API key", re.compile(re.escape(fallback["name"])))
    textbox(second, "Model").fill("claude-3-5-haiku-latest")
    signed_in.shot("endpoints-create-form")
    dialog.get_by_role("button", name="Create").click()
    expect(dialog).to_be_hidden()

    row = row_named(signed_in, name)
    expect(row).to_contain_text(f"OpenAI / gpt-4o-mini / {primary['name']}")
    expect(row).to_contain_text(f"Anthropic / claude-3-5-haiku-latest / {fallback['name']}")
    expect(row).to_contain_text("primary")
    expect(row).to_contain_text("fallback")
    signed_in.shot("endpoints-list")

    # Edit: the form comes back filled in; change the primary model.
    row.get_by_role("button", name=f"Edit {name}").click()
    dialog = page.get_by_role("dialog", name=re.compile("Edit endpoint"))
    model = textbox(dialog.get_by_role("group", name="Target 1"), "Model")
    expect(model).to_have_value("gpt-4o-mini")
    model.fill("gpt-4o")
    dialog.get_by_role("button", name="Save").click()
    expect(dialog).to_be_hidden()
    expect(row).to_contain_text(f"OpenAI / gpt-4o / {primary['name']}")
    with server.api() as c:
        stored = next(
            e for e in c.get("/api/v1/endpoints").json()["endpoints"] if e["name"] == name
        )
    assert [(t["model"], t["role"]) for t in stored["targets"]] == [
        ("gpt-4o", "primary"),
        ("claude-3-5-haiku-latest", "fallback"),
    ]

    row.get_by_role("button", name=f"Delete {name}").click()
    confirm = page.get_by_role("dialog", name="Delete endpoint")
    expect(confirm).to_contain_text(name)
    confirm.get_by_role("button", name="Delete").click()
    expect(confirm).to_be_hidden()
    expect(row_named(signed_in, name)).to_have_count(0)
    with server.api() as c:
        assert c.get(f"/api/v1/endpoints/{stored['id']}").status_code == 404


def _try_it(ui: UI, endpoint: str, message: str) -> Locator:
    page = ui.page
    ui.goto("/gateway")
    row_named(ui, endpoint).get_by_role("button", name=f"Try it: {endpoint}").click()
    drawer = page.get_by_role("dialog", name=f"Try “{endpoint}”")
    expect(drawer).to_be_visible()
    textbox(drawer, "Message").fill(message)
    drawer.get_by_role("button", name="Send").click()
    return drawer


def test_try_it_streams_the_answer_from_the_provider(
    signed_in: UI, server: Server, openai_fake: ServerThread
) -> None:
    key = create_key(
        server,
        unique("fake-openai"),
        credentials={"api_key": FAKE_KEY},
        config={"base_url": f"{openai_fake.url}/v1"},
    )
    endpoint = create_endpoint(server, unique("try-chat"), key["id"], model="gpt-4o-mini")["name"]
    sent: list[dict[str, Any]] = []
    signed_in.page.on(
        "request",
        lambda r: (
            sent.append({"headers": r.headers, "body": json.loads(r.post_data or "{}")})
            if r.url.endswith("/v1/chat/completions")
            else None
        ),
    )

    drawer = _try_it(signed_in, endpoint, "hello from the browser")
    answer = drawer.get_by_test_id("answer")
    expect(answer).to_have_text("echo: hello from the browser")
    expect(drawer.get_by_role("button", name="Send")).to_be_disabled()  # the box is empty again
    signed_in.shot("endpoints-try-it")

    assert len(sent) == 1
    assert sent[0]["body"]["stream"] is True
    assert sent[0]["body"]["model"] == endpoint
    assert sent[0]["headers"].get("x-keyhouse-client") == "web"
    # The provider got the real key from the vault, never from the browser.
    assert FAKE_KEY not in json.dumps(sent)
    calls = openai_fake.app.state.calls
    assert calls and calls[-1].headers.get("authorization") == f"Bearer {FAKE_KEY}"

    # A follow-up keeps the conversation.
    textbox(drawer, "Message").fill("and again")
    drawer.get_by_role("button", name="Send").click()
    expect(drawer.get_by_test_id("answer")).to_have_count(2)
    expect(drawer.get_by_test_id("answer").nth(1)).to_have_text("echo: and again")
    assert [m["role"] for m in sent[1]["body"]["messages"]] == ["user", "assistant", "user"]


def test_try_it_shows_the_gateway_error_without_the_credential(
    signed_in: UI, server: Server, openai_fake: ServerThread
) -> None:
    wrong = "sk-wrong-" + uuid.uuid4().hex
    key = create_key(
        server,
        unique("wrong-openai"),
        credentials={"api_key": wrong},
        config={"base_url": f"{openai_fake.url}/v1"},
    )
    endpoint = create_endpoint(server, unique("broken-chat"), key["id"])["name"]
    signed_in.allow_http_error(401, "/v1/chat/completions")

    drawer = _try_it(signed_in, endpoint, "are you there?")
    alert = drawer.get_by_role("alert")
    expect(alert).to_contain_text("HTTP 401")
    expect(alert).to_contain_text(re.compile(r"\w"))
    signed_in.shot("endpoints-try-it-error")
    assert wrong not in signed_in.page.content()
    # A provider's 401 is not the admin session ending: the user stays signed in.
    drawer.get_by_role("button", name="Close").click()
    expect(signed_in.page.get_by_role("heading", name="AI Gateway")).to_be_visible()


def test_the_stored_credential_can_be_tested_from_the_edit_dialog(
    signed_in: UI, server: Server, openai_fake: ServerThread
) -> None:
    good = create_key(
        server,
        unique("verify-good"),
        credentials={"api_key": FAKE_KEY},
        config={"base_url": f"{openai_fake.url}/v1"},
    )
    bad = create_key(
        server,
        unique("verify-bad"),
        credentials={"api_key": "sk-nope-1234567890"},
        config={"base_url": f"{openai_fake.url}/v1"},
    )
    page = signed_in.page
    signed_in.goto("/gateway/api-keys")
    for key, outcome, says in ((good, "ok", "accepted"), (bad, "rejected", "401")):
        page.get_by_role("button", name=f"Edit {key['name']}").click()
        dialog = page.get_by_role("dialog")
        dialog.get_by_role("button", name="Test stored credential").click()
        expect(dialog.get_by_role("status")).to_contain_text(says)
        signed_in.shot(f"keys-verify-{outcome}")
        assert "sk-nope-1234567890" not in page.content()
        dialog.get_by_role("button", name="Cancel").click()
        expect(dialog).to_be_hidden()
