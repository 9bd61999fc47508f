"""Keyless auth methods in the key form: the catalog's notice is shown, and a server that
does not allow ambient credentials refuses to store one, saying which setting allows it."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.e2e.conftest import UI, Server, textbox, unique
from tests.e2e.test_ui_keys import choose_provider, open_create


def test_keyless_method_shows_its_notice_and_needs_the_operators_consent(
    signed_in: UI, server: Server
) -> None:
    dialog = open_create(signed_in)
    textbox(dialog, "Name").fill(unique("keyless"))
    choose_provider(signed_in, dialog, "Amazon Bedrock")
    notice = dialog.get_by_test_id("ambient-notice")
    expect(notice).to_have_count(0)  # access keys: nothing to warn about
    dialog.get_by_role("radio", name="Default credential chain").check()
    expect(notice).to_be_visible()
    expect(notice).to_contain_text("own AWS identity")
    textbox(dialog, "Region").fill("us-east-1")
    signed_in.allow_http_error(422, "/api/v1/keys")
    dialog.get_by_role("button", name="Create").click()
    expect(dialog.get_by_text("KEYHOUSE_ALLOW_AMBIENT_CREDENTIALS=true").first).to_be_visible()
    signed_in.shot("keys-keyless-refused")
