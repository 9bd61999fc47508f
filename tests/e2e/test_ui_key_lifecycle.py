"""The API Keys tab: edit, the endpoints a key serves, delete."""

from __future__ import annotations

import re
import uuid

from playwright.sync_api import expect

from tests.e2e.conftest import (
    UI,
    Server,
    create_endpoint,
    create_key,
    get_key,
    row_named,
    textbox,
    unique,
)


def test_edit_keeps_an_empty_secret_and_shows_changed_config(signed_in: UI, server: Server) -> None:
    secret = uuid.uuid4().hex * 2
    key = create_key(
        server,
        unique("azure-edit"),
        "openai",
        auth_method="azure",
        credentials={"api_key": secret},
        config={"endpoint_url": "https://e2e-edit.openai.azure.com", "api_version": "2024-06-01"},
    )
    create_endpoint(server, unique("azure-chat-a"), key["id"], model="gpt-4o")
    create_endpoint(server, unique("azure-chat-b"), key["id"], model="gpt-4o-mini")
    page = signed_in.page
    signed_in.goto("/gateway/api-keys")
    page.get_by_role("button", name=f"Edit {key['name']}").click()
    dialog = page.get_by_role("dialog")
    expect(textbox(dialog, "API version")).to_have_value("2024-06-01")
    secret_input = textbox(dialog, "API key")
    expect(secret_input).to_have_value("")
    expect(dialog.get_by_text("leave empty to keep the current value")).to_be_visible()
    signed_in.shot("keys-edit-form")

    textbox(dialog, "API version").fill("2024-10-21")
    dialog.get_by_role("button", name="Save").click()
    expect(dialog).to_be_hidden()
    expect(page.get_by_text("Saved.", exact=True)).to_be_visible()
    after = get_key(server, key["id"])
    assert after["config"]["api_version"] == "2024-10-21"
    assert after["masked"] == key["masked"]  # the secret was kept
    assert after["credential_updated_at"] == key["credential_updated_at"]

    # Rotating the secret tells how many endpoints switch to it.
    page.get_by_role("button", name=f"Edit {key['name']}").click()
    dialog = page.get_by_role("dialog")
    expect(textbox(dialog, "API version")).to_have_value("2024-10-21")
    new_secret = uuid.uuid4().hex * 2
    textbox(dialog, "API key").fill(new_secret)
    # This Azure resource does not exist: save without the provider test, explicitly.
    test_first = dialog.get_by_role(
        "checkbox", name="Test the new credential with the provider before saving"
    )
    expect(test_first).to_be_checked()
    test_first.uncheck()
    dialog.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_text("Saved. 2 endpoints now use the new credential.")).to_be_visible()
    signed_in.shot("keys-edit-saved")
    assert get_key(server, key["id"])["masked"] != key["masked"]
    assert secret not in page.content() and new_secret not in page.content()


def test_endpoint_created_in_the_ui_is_listed_in_its_keys_row(
    signed_in: UI, server: Server
) -> None:
    key = create_key(server, unique("row-key"))
    endpoint_name = unique("row-chat")
    page = signed_in.page
    signed_in.goto("/gateway")
    page.get_by_role("button", name="Create endpoint").first.click()
    dialog = page.get_by_role("dialog", name="Create endpoint")
    textbox(dialog, "Name").fill(endpoint_name)
    dialog.get_by_role("combobox", name="API key").click()
    page.get_by_role("option", name=re.compile(re.escape(key["name"]))).click()
    textbox(dialog, "Model").fill("gpt-4o-mini")
    dialog.get_by_role("button", name="Create").click()
    expect(dialog).to_be_hidden()

    page.get_by_role("tab", name="API Keys").click()
    row = row_named(signed_in, key["name"])
    link = row.get_by_role("link", name=endpoint_name)
    expect(link).to_be_visible()
    signed_in.shot("keys-row-lists-endpoint")

    # The link opens the Endpoints tab with that endpoint highlighted.
    link.click()
    expect(page.get_by_role("tab", name="Endpoints")).to_have_attribute("aria-selected", "true")
    current = page.locator("[aria-current=true]")
    expect(current).to_contain_text(endpoint_name)
    expect(current).to_be_in_viewport()
    signed_in.shot("endpoints-highlighted-from-key-link")


def test_delete_a_key_in_use_lists_its_endpoints_and_needs_its_name(
    signed_in: UI, server: Server
) -> None:
    key = create_key(server, unique("doomed"))
    users = [create_endpoint(server, unique(f"user-{i}"), key["id"])["name"] for i in (1, 2)]
    page = signed_in.page
    signed_in.goto("/gateway/api-keys")
    page.get_by_role("button", name=f"Delete {key['name']}").click()
    dialog = page.get_by_role("dialog", name="Delete API key")
    warning = dialog.get_by_role("alert")
    expect(warning).to_contain_text("2 endpoints use this key")
    for name in users:
        expect(warning.get_by_role("link", name=name)).to_be_visible()
    delete = dialog.get_by_role("button", name="Delete")
    expect(delete).to_be_disabled()
    confirm = dialog.get_by_label("to confirm")
    confirm.fill(key["name"][:-1])
    expect(delete).to_be_disabled()
    confirm.fill(key["name"])
    expect(delete).to_be_enabled()
    signed_in.shot("keys-delete-in-use")
    delete.click()

    expect(dialog).to_be_hidden()
    expect(row_named(signed_in, key["name"])).to_have_count(0)
    # The endpoints stay and say they lack a key.
    page.get_by_role("tab", name="Endpoints").click()
    for name in users:
        row = page.get_by_role("row").filter(has=page.get_by_text(name, exact=True))
        expect(row).to_contain_text("no key (answers 503)")
    signed_in.shot("endpoints-without-key")


def test_delete_an_unused_key_asks_a_simple_confirmation(signed_in: UI, server: Server) -> None:
    key = create_key(server, unique("unused"))
    page = signed_in.page
    signed_in.goto("/gateway/api-keys")
    page.get_by_role("button", name=f"Delete {key['name']}").click()
    dialog = page.get_by_role("dialog", name="Delete API key")
    expect(dialog.get_by_label("to confirm")).to_have_count(0)
    dialog.get_by_role("button", name="Delete").click()
    expect(dialog).to_be_hidden()
    expect(row_named(signed_in, key["name"])).to_have_count(0)
    with server.api() as c:
        assert c.get(f"/api/v1/keys/{key['id']}").status_code == 404


def test_a_stale_edit_is_refused_and_the_latest_version_can_be_loaded(
    signed_in: UI, server: Server
) -> None:
    key = create_key(server, unique("contested"), config={"organization": "org-before"})
    page = signed_in.page
    signed_in.goto("/gateway/api-keys")
    page.get_by_role("button", name=f"Edit {key['name']}").click()
    dialog = page.get_by_role("dialog")
    expect(textbox(dialog, "Organization ID")).to_have_value("org-before")

    # Someone else saves first.
    with server.api() as c:
        r = c.patch(f"/api/v1/keys/{key['id']}", json={"config": {"organization": "org-theirs"}})
        assert r.status_code == 200, r.text

    textbox(dialog, "Project ID").fill("proj_mine")
    signed_in.allow_http_error(412, "/api/v1/keys")
    dialog.get_by_role("button", name="Save").click()
    expect(dialog.get_by_text("Someone else saved this key")).to_be_visible()
    signed_in.shot("keys-edit-stale")
    assert get_key(server, key["id"])["config"].get("project") is None

    dialog.get_by_role("button", name="Load latest version").click()
    expect(textbox(dialog, "Organization ID")).to_have_value("org-theirs")
    textbox(dialog, "Project ID").fill("proj_mine")
    dialog.get_by_role("button", name="Save").click()
    expect(dialog).to_be_hidden()
    assert get_key(server, key["id"])["config"] == {
        "organization": "org-theirs",
        "project": "proj_mine",
    }
