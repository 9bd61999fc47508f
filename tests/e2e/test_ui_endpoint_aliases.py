"""Endpoint aliases in the web UI: typed into the endpoint form, checked before submit
against every other endpoint's names and aliases, shown in the list, edited."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import expect

from tests.e2e.conftest import UI, Server, create_endpoint, create_key, row_named, textbox, unique


def _stored(server: Server, name: str) -> dict[str, Any]:
    with server.api() as c:
        return next(e for e in c.get("/api/v1/endpoints").json()["endpoints"] if e["name"] == name)


def test_aliases_are_set_checked_shown_and_edited(signed_in: UI, server: Server) -> None:
    key = create_key(server, unique("alias-key"))
    taken = unique("claude-sonnet")
    create_endpoint(server, unique("holder"), key["id"], aliases=[taken])
    name, first, second = unique("agents"), unique("gpt-5-codex"), unique("o3")
    page = signed_in.page
    signed_in.goto("/gateway")
    page.get_by_role("button", name="Create endpoint").first.click()
    dialog = page.get_by_role("dialog", name="Create endpoint")
    textbox(dialog, "Name").fill(name)
    target = dialog.get_by_role("group", name="Target 1")
    picker = target.get_by_role("combobox", name="API key")
    if key["name"] not in picker.input_value():  # the only key is chosen already
        picker.click()
        page.get_by_role("option", name=re.compile(re.escape(key["name"]))).click()
    textbox(target, "Model").fill("gpt-4o-mini")
    expect(target.get_by_role("combobox", name="API key")).to_have_value(
        re.compile(re.escape(key["name"]))
    )
    aliases = dialog.get_by_label("Aliases")
    for alias in (first, taken):
        aliases.fill(alias)
        aliases.press("Enter")
    dialog.get_by_role("button", name="Create").click()
    # Another endpoint holds one of them: said on the field, nothing sent.
    expect(dialog).to_contain_text(f"“{taken}” is already used by the endpoint")
    aliases.press("Backspace")  # in the empty input: drops the last alias, the taken one
    expect(dialog).not_to_contain_text(taken)
    dialog.get_by_role("button", name="Create").click()
    expect(dialog).to_be_hidden()
    row = row_named(signed_in, name)
    expect(row).to_contain_text(f"also {first}")
    assert _stored(server, name)["aliases"] == [first]

    row.get_by_role("button", name=f"Edit {name}").click()
    dialog = page.get_by_role("dialog", name=re.compile("Edit endpoint"))
    expect(dialog).to_contain_text(first)
    aliases = dialog.get_by_label("Aliases")
    aliases.fill(second)
    aliases.press("Enter")
    dialog.get_by_role("button", name="Save").click()
    expect(dialog).to_be_hidden()
    expect(row).to_contain_text(f"also {first}, {second}")
    assert _stored(server, name)["aliases"] == [first, second]
    signed_in.shot("endpoints-aliases")
