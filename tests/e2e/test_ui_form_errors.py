"""Errors a user can see: every form scrolls to and focuses its first error, whether the
browser found it or the server did, and the server's field errors land on their field."""

from __future__ import annotations

from playwright.sync_api import Locator, expect

from tests.e2e.conftest import UI, Server, create_key, textbox, unique


def _open_create_key(ui: UI) -> Locator:
    ui.goto("/gateway/api-keys")
    ui.page.get_by_role("button", name="Create API key").first.click()
    dialog = ui.page.get_by_role("dialog", name="Create API key")
    expect(dialog).to_be_visible()
    return dialog


def _choose(ui: UI, dialog: Locator, label: str, option: str) -> None:
    dialog.get_by_role("combobox", name=label).click()
    ui.page.get_by_role("option", name=option, exact=True).click()


def test_a_duplicate_name_from_the_server_is_focused_and_in_view(
    signed_in: UI, server: Server
) -> None:
    # A short window: the Name field is out of view when Create is clicked.
    signed_in.page.set_viewport_size({"width": 1280, "height": 460})
    dialog = _open_create_key(signed_in)
    late = unique("late")
    create_key(server, late)  # created elsewhere after the list loaded
    textbox(dialog, "Name").fill(late)
    _choose(signed_in, dialog, "Provider", "Anthropic")
    textbox(dialog, "API key").fill("sk-ant-e2e-0123456789")
    signed_in.allow_http_error(409, "/api/v1/keys")
    create = dialog.get_by_role("button", name="Create", exact=True)
    create.scroll_into_view_if_needed()
    create.click()
    name = textbox(dialog, "Name")
    expect(dialog.get_by_text("already exists")).to_be_visible()
    expect(name).to_be_focused()
    expect(name).to_be_in_viewport()


def test_the_servers_url_rule_lands_on_the_url_field(signed_in: UI, server: Server) -> None:
    dialog = _open_create_key(signed_in)
    name = unique("no-scheme")
    textbox(dialog, "Name").fill(name)
    _choose(signed_in, dialog, "Provider", "Custom OpenAI-compatible")
    base_url = textbox(dialog, "Base URL")
    base_url.fill("llm.example.com/v1")  # what the CLI and the API refuse too
    signed_in.allow_http_error(422, "/api/v1/keys")
    dialog.get_by_role("button", name="Create", exact=True).click()
    expect(dialog.get_by_text("Must be a full URL starting with https://")).to_be_visible()
    expect(base_url).to_be_focused()
    expect(base_url).to_have_attribute("aria-invalid", "true")
    with server.api() as c:
        assert name not in {k["name"] for k in c.get("/api/v1/keys").json()["keys"]}


def test_a_browser_side_error_on_the_endpoint_form_is_focused(
    signed_in: UI, server: Server
) -> None:
    create_key(server, unique("ep-err-key"))
    signed_in.goto("/gateway")
    signed_in.page.get_by_role("button", name="Create endpoint").first.click()
    dialog = signed_in.page.get_by_role("dialog", name="Create endpoint")
    textbox(dialog, "Name").fill(unique("no-model"))
    dialog.get_by_role("button", name="Create", exact=True).click()
    expect(dialog.locator('[aria-invalid="true"]').first).to_be_focused()
