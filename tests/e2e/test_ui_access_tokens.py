"""The Access Tokens tab: a web-UI-only user creates a token (shown once, with a copy
button), calls an endpoint with it through the official ``openai`` SDK, sees it listed,
and revokes it; the endpoint's Try-it sample links here."""

from __future__ import annotations

from collections.abc import Iterator

import openai
import pytest
from playwright.sync_api import expect

from keyhouse.testing.fakes.openai import create_app
from keyhouse.testing.fakes.server import ServerThread, serve
from tests.e2e.conftest import UI, Server, openai_fake_endpoint, row_named, textbox, unique

FAKE_KEY = "sk-fake-" + "e5f6a7b8" * 4


@pytest.fixture(scope="module")
def openai_fake() -> Iterator[ServerThread]:
    with serve(create_app(api_key=FAKE_KEY)) as fake:
        yield fake


def _endpoint(server: Server, fake: ServerThread) -> str:
    made = openai_fake_endpoint(server, fake.port, FAKE_KEY, "openai_compatible")
    return str(made["endpoint"]["name"])


def test_create_a_token_in_the_ui_and_call_an_endpoint_with_the_sdk(
    signed_in: UI, server: Server, openai_fake: ServerThread
) -> None:
    allowed, other = _endpoint(server, openai_fake), _endpoint(server, openai_fake)
    name = unique("my-app")
    page = signed_in.page
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    signed_in.goto("/gateway/access-tokens")
    page.get_by_role("button", name="Create access token").first.click()
    dialog = page.get_by_role("dialog", name="Create access token")
    textbox(dialog, "Name").fill(name)
    dialog.get_by_role("radio", name="Only the endpoints chosen below").check()
    dialog.get_by_placeholder("Choose endpoints").click()
    page.get_by_role("option", name=allowed, exact=True).click()
    page.keyboard.press("Escape")  # close the dropdown, not the dialog
    dialog.get_by_role("button", name="Create token").click()

    shown = page.get_by_role("dialog", name="Access token created")
    token = shown.get_by_test_id("new-token").inner_text().strip()
    assert token.startswith("kh_")
    shown.get_by_role("button", name="Copy token").click()
    expect(shown.get_by_role("button", name="Copied")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == token
    signed_in.shot("access-token-created")
    shown.get_by_role("button", name="Done").click()
    expect(shown).to_be_hidden()

    client = openai.OpenAI(base_url=f"{server.url}/v1", api_key=token, max_retries=0)
    answer = client.chat.completions.create(
        model=allowed, messages=[{"role": "user", "content": "hello"}]
    )
    assert answer.choices[0].message.content == "echo: hello"
    with pytest.raises(openai.PermissionDeniedError):  # outside the token's scope
        client.chat.completions.create(model=other, messages=[{"role": "user", "content": "x"}])

    row = row_named(signed_in, name)
    expect(row).to_contain_text(allowed)
    expect(row).not_to_contain_text(token)  # never shown again
    page.reload()
    expect(page.get_by_text(token)).to_have_count(0)

    row_named(signed_in, name).get_by_role("button", name=f"Revoke {name}").click()
    confirm = page.get_by_role("dialog", name="Revoke access token")
    confirm.get_by_role("button", name="Revoke", exact=True).click()
    expect(row_named(signed_in, name)).to_have_count(0)
    with pytest.raises(openai.AuthenticationError):
        client.chat.completions.create(model=allowed, messages=[{"role": "user", "content": "x"}])


def test_a_token_form_error_is_focused_and_a_server_error_lands_on_its_field(
    signed_in: UI, server: Server, openai_fake: ServerThread
) -> None:
    doomed = _endpoint(server, openai_fake)
    page = signed_in.page
    signed_in.goto("/gateway/access-tokens")
    page.get_by_role("button", name="Create access token").first.click()
    dialog = page.get_by_role("dialog", name="Create access token")
    dialog.get_by_role("button", name="Create token").click()
    name = textbox(dialog, "Name")
    expect(name).to_be_focused()
    expect(name).to_have_attribute("aria-invalid", "true")

    # The server's own refusal (the chosen endpoint was deleted meanwhile) lands on the
    # Endpoints field, focused.
    name.fill(unique("scoped"))
    dialog.get_by_role("radio", name="Only the endpoints chosen below").check()
    endpoints = dialog.get_by_placeholder("Choose endpoints")
    endpoints.click()
    page.get_by_role("option", name=doomed, exact=True).click()
    page.keyboard.press("Escape")
    with server.api() as c:
        (gone,) = [e for e in c.get("/api/v1/endpoints").json()["endpoints"] if e["name"] == doomed]
        assert c.delete(f"/api/v1/endpoints/{gone['id']}").status_code == 204
    signed_in.allow_http_error(422, "/api/v1/access-tokens")
    dialog.get_by_role("button", name="Create token").click()
    expect(dialog.get_by_text("No endpoint with that name")).to_be_visible()
    expect(endpoints).to_be_focused()
    with server.api() as c:
        assert not [
            t
            for t in c.get("/api/v1/access-tokens").json()["access_tokens"]
            if t["endpoints"] == [doomed]
        ]


def test_try_it_links_to_the_access_tokens_tab(
    signed_in: UI, server: Server, openai_fake: ServerThread
) -> None:
    name = _endpoint(server, openai_fake)
    page = signed_in.page
    signed_in.goto("/gateway")
    row_named(signed_in, name).get_by_role("button", name=f"Try it: {name}").click()
    drawer = page.get_by_role("dialog", name=f"Try “{name}”")
    drawer.get_by_role("link", name="create one under Access Tokens").click()
    expect(page).to_have_url(f"{server.url}/#/gateway/access-tokens")
    expect(page.get_by_role("tab", name="Access Tokens")).to_have_attribute("aria-selected", "true")
