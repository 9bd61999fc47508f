"""The Edit dialog's credential history (restore an earlier secret) and rotation reminder."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import Locator, expect

from keyhouse.testing.fakes.openai import create_app
from keyhouse.testing.fakes.server import ServerThread, serve
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

GOOD_KEY = "sk-good-" + "h1st0ry9" * 4
REMINDER = "Remind me to rotate after (days)"


@pytest.fixture(scope="module")
def openai_fake() -> Iterator[ServerThread]:
    with serve(create_app(api_key=GOOD_KEY)) as fake:
        yield fake


def open_edit(ui: UI, name: str) -> Locator:
    ui.page.get_by_role("button", name=f"Edit {name}").click()
    dialog = ui.page.get_by_role("dialog", name=f"Edit API key “{name}”")
    expect(dialog).to_be_visible()
    return dialog


def versions(server: Server, key_id: str) -> list[dict[str, Any]]:
    with server.api() as c:
        r = c.get(f"/api/v1/keys/{key_id}/versions")
    assert r.status_code == 200, r.text
    return list(r.json()["versions"])


def gateway_chat(server: Server, endpoint: str) -> httpx.Response:
    """One chat request through the gateway, the way an application sends it."""
    with server.api() as c:
        r = c.post("/api/v1/access-tokens", json={"name": unique("history-app")})
        assert r.status_code == 201, r.text
        token = r.json()["token"]
    return httpx.post(
        f"{server.url}/v1/chat/completions",
        timeout=10,
        headers={"Authorization": f"Bearer {token}"},
        json={"model": endpoint, "messages": [{"role": "user", "content": "hi"}]},
    )


def test_restore_an_earlier_credential_from_the_edit_dialog(
    signed_in: UI, server: Server, openai_fake: ServerThread
) -> None:
    key = create_key(
        server,
        unique("history"),
        credentials={"api_key": GOOD_KEY},
        config={"base_url": f"{openai_fake.url}/v1"},
    )
    endpoint = create_endpoint(server, unique("history-chat"), key["id"])["name"]
    wrong = [f"sk-wrong-{uuid.uuid4().hex}" for _ in range(2)]
    page = signed_in.page
    signed_in.goto("/gateway/api-keys")

    # Two rotations to credentials the provider refuses: Save & test tries each with the
    # provider first, saves nothing, and keeps it only after an explicit "Save anyway".
    for secret in wrong:
        dialog = open_edit(signed_in, key["name"])
        textbox(dialog, "API key").fill(secret)
        before = get_key(server, key["id"])["credential_version"]
        dialog.get_by_role("button", name="Save & test", exact=True).click()
        refusal = dialog.get_by_role("alert").filter(has_text="Not saved")
        expect(refusal).to_be_visible()
        expect(refusal).to_be_focused()
        expect(refusal).to_contain_text("401")
        assert get_key(server, key["id"])["credential_version"] == before
        assert openai_fake.app.state.calls[-1].headers["authorization"] == f"Bearer {secret}"
        refusal.get_by_role("button", name="Save anyway").click()
        expect(dialog).to_be_hidden()
        expect(
            page.get_by_text("Saved. 1 endpoint now uses the new credential.").last
        ).to_be_visible()
    assert gateway_chat(server, endpoint).status_code == 401
    assert openai_fake.app.state.calls[-1].headers["authorization"] == f"Bearer {wrong[1]}"

    dialog = open_edit(signed_in, key["name"])
    expect(dialog.get_by_test_id("credential-age")).to_contain_text(
        re.compile(r"Credential set (just now|\d+ (seconds?|minutes?) ago) · version 3")
    )
    dialog.get_by_role("button", name="Test stored credential").click()
    expect(dialog.get_by_role("status")).to_contain_text("401")

    toggle = dialog.get_by_role("button", name=re.compile("^Credential history"))
    expect(toggle).to_have_attribute("aria-expanded", "false")
    expect(toggle).to_contain_text("3 versions")
    toggle.click()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    table = dialog.get_by_role("table", name="Credential history")
    rows = table.locator("tbody tr")
    expect(rows).to_have_count(3)
    kept = versions(server, key["id"])
    assert [v["version"] for v in kept] == [3, 2, 1]
    for row, v in zip(rows.all(), kept, strict=True):
        expect(row.locator("td").first).to_contain_text(str(v["version"]))
        expect(row.locator("code")).to_have_text(v["masked"]["api_key"])
    expect(rows.nth(0)).to_contain_text("Current")
    expect(rows.nth(0).get_by_role("button")).to_have_count(0)
    expect(rows.nth(1)).not_to_contain_text("Current")
    # The browser only ever sees masks.
    html = page.content()
    assert not any(s in html for s in [GOOD_KEY, *wrong])
    # The whole credentials section in view: its age line down to the history's last row.
    table.evaluate("e => e.scrollIntoView({block: 'end'})")
    page.mouse.move(5, 790)  # no tooltip from whatever scrolled under the pointer
    # A clean picture: the two "Saved" notifications close by themselves.
    expect(page.get_by_text("Saved. 1 endpoint now uses")).to_have_count(0)
    signed_in.shot("keys-edit-history", full_page=False)

    # Unsaved edits would be lost by a restore, so it waits for them.
    textbox(dialog, "Description").fill("half-typed")
    expect(dialog.get_by_role("button", name="Restore version 1")).to_be_disabled()
    expect(dialog.get_by_text("Save or cancel your changes first")).to_be_visible()
    textbox(dialog, "Description").fill("")
    expect(dialog.get_by_role("button", name="Restore version 1")).to_be_enabled()

    dialog.get_by_role("button", name="Restore version 1").click()
    confirm = dialog.get_by_role("alertdialog", name="Restore credential version 1?")
    expect(confirm).to_contain_text("Every endpoint using this key switches to it at once.")
    expect(confirm).to_contain_text("1 endpoint uses this key.")
    signed_in.shot("keys-edit-history-confirm", full_page=False)
    confirm.get_by_role("button", name="Restore version 1").click()

    expect(page.get_by_text("1 endpoint now uses the restored credential.")).to_be_visible()
    expect(confirm).to_be_hidden()
    # The dialog stays open on the fresh key: four versions, the old secret current again.
    expect(rows).to_have_count(4)
    expect(dialog.get_by_test_id("credential-age")).to_contain_text("version 4")
    current = rows.nth(0)
    expect(current).to_contain_text("Current")
    expect(current.locator("code")).to_have_text(kept[2]["masked"]["api_key"])
    table.evaluate("e => e.scrollIntoView({block: 'end'})")
    page.mouse.move(5, 790)
    signed_in.shot("keys-edit-history-restored", full_page=False)
    after = get_key(server, key["id"])
    assert after["credential_version"] == 4
    assert after["masked"] == key["masked"]
    dialog.get_by_role("button", name="Test stored credential").click()
    expect(dialog.get_by_role("status")).to_contain_text("accepted")

    # The very next gateway request carries the restored credential.
    assert gateway_chat(server, endpoint).status_code == 200
    assert openai_fake.app.state.calls[-1].headers["authorization"] == f"Bearer {GOOD_KEY}"

    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()
    expect(row_named(signed_in, key["name"]).locator("code")).to_have_text(key["masked"]["api_key"])
    assert not any(s in page.content() for s in [GOOD_KEY, *wrong])


def test_rotation_reminder_is_set_on_create_changed_and_turned_off(
    signed_in: UI, server: Server
) -> None:
    page = signed_in.page
    name = unique("reminded")
    signed_in.goto("/gateway/api-keys")
    page.get_by_role("button", name="Create API key").first.click()
    dialog = page.get_by_role("dialog", name="Create API key")
    textbox(dialog, "Name").fill(name)
    dialog.get_by_role("combobox", name="Provider").click()
    page.get_by_role("option", name="Anthropic", exact=True).click()
    textbox(dialog, "API key").fill(f"sk-ant-{uuid.uuid4().hex}")
    # Out of range is refused before anything is sent.
    textbox(dialog, REMINDER).fill("0")
    dialog.get_by_role("button", name="Create").click()
    expect(dialog.get_by_text("Enter a whole number of days from 1 to 3650")).to_be_visible()
    textbox(dialog, REMINDER).fill("30")
    dialog.get_by_role("button", name="Create").click()
    expect(dialog).to_be_hidden()
    with server.api() as c:
        stored = next(k for k in c.get("/api/v1/keys").json()["keys"] if k["name"] == name)
    assert stored["rotate_after_days"] == 30
    assert stored["rotation_due"] is False

    dialog = open_edit(signed_in, name)
    expect(textbox(dialog, REMINDER)).to_have_value("30")
    expect(dialog.get_by_test_id("credential-age")).to_contain_text("version 1")
    expect(dialog.get_by_test_id("credential-age")).not_to_contain_text("Rotation due")
    dialog.get_by_role("button", name=re.compile("^Credential history")).click()
    expect(dialog.get_by_text("No earlier credential yet")).to_be_visible()
    textbox(dialog, REMINDER).fill("90")
    dialog.get_by_role("button", name="Save").click()
    expect(dialog).to_be_hidden()
    assert get_key(server, stored["id"])["rotate_after_days"] == 90

    # Clearing the box turns the reminder off (the UI sends 0).
    dialog = open_edit(signed_in, name)
    expect(textbox(dialog, REMINDER)).to_have_value("90")
    textbox(dialog, REMINDER).fill("")
    dialog.get_by_role("button", name="Save").click()
    expect(dialog).to_be_hidden()
    after = get_key(server, stored["id"])
    assert after["rotate_after_days"] is None
    assert after["credential_version"] == 1  # the reminder is not a new credential
    dialog = open_edit(signed_in, name)
    expect(textbox(dialog, REMINDER)).to_have_value("")
