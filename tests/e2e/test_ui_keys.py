"""The API Keys tab: create each kind of key, validation, search and filter."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable

import pytest
from playwright.sync_api import Locator, expect

from tests.e2e.conftest import (
    UI,
    Server,
    create_key,
    row_named,
    textbox,
    unique,
)


def open_create(ui: UI) -> Locator:
    ui.goto("/gateway/api-keys")
    ui.page.get_by_role("button", name="Create API key").first.click()
    dialog = ui.page.get_by_role("dialog", name="Create API key")
    expect(dialog).to_be_visible()
    return dialog


def choose_provider(ui: UI, dialog: Locator, name: str) -> None:
    dialog.get_by_role("combobox", name="Provider").click()
    ui.page.get_by_role("option", name=name, exact=True).click()


def fill_openai(ui: UI, d: Locator) -> list[str]:
    secret = f"sk-proj-{uuid.uuid4().hex}{uuid.uuid4().hex}"
    choose_provider(ui, d, "OpenAI")
    expect(d.get_by_role("radio", name="Standard API key")).to_be_checked()
    textbox(d, "API key").fill(secret)
    textbox(d, "Organization ID").fill("org-e2e")
    return [secret]


def fill_azure(ui: UI, d: Locator) -> list[str]:
    secret = uuid.uuid4().hex + uuid.uuid4().hex
    choose_provider(ui, d, "OpenAI")
    d.get_by_role("radio", name="Azure OpenAI (API key)").check()
    textbox(d, "API key").fill(secret)
    textbox(d, "Azure endpoint URL").fill("https://e2e-resource.openai.azure.com")
    expect(textbox(d, "API version")).to_have_value("2024-10-21")  # the catalog default
    return [secret]


def fill_vertex(ui: UI, d: Locator) -> list[str]:
    # A real key: the server checks that the PEM parses.
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    private_key = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode()
    )
    body = private_key.splitlines()[5]  # a line from the middle, unique to this key
    sa = {
        "type": "service_account",
        "project_id": "e2e-project",
        "private_key_id": uuid.uuid4().hex,
        "private_key": private_key,
        "client_email": "e2e@e2e-project.iam.gserviceaccount.com",
        "token_uri": "https://oauth2.googleapis.com/token",
    }
    choose_provider(ui, d, "Google Vertex AI")
    textbox(d, "Service account JSON").fill(json.dumps(sa, indent=2))
    textbox(d, "Project ID").fill("e2e-project")
    expect(textbox(d, "Location")).to_have_value("us-central1")
    return [body, sa["private_key_id"]]


def fill_bedrock(ui: UI, d: Locator) -> list[str]:
    key_id = "AKIA" + uuid.uuid4().hex[:16].upper()
    secret = uuid.uuid4().hex + "/" + uuid.uuid4().hex[:8]
    choose_provider(ui, d, "Amazon Bedrock")
    expect(d.get_by_role("radio", name="Access keys")).to_be_checked()
    textbox(d, "Access key ID").fill(key_id)
    textbox(d, "Secret access key").fill(secret)
    textbox(d, "Region").fill("eu-west-1")
    return [key_id, secret]


KINDS: dict[str, tuple[Callable[[UI, Locator], list[str]], str, str]] = {
    "openai": (fill_openai, "openai", "api_key"),
    "azure": (fill_azure, "openai", "azure"),
    "vertex": (fill_vertex, "vertex_ai", "service_account"),
    "bedrock": (fill_bedrock, "bedrock", "access_keys"),
}


@pytest.mark.parametrize("kind", list(KINDS))
def test_create_each_kind_of_key_and_see_it_masked(
    signed_in: UI, server: Server, kind: str
) -> None:
    fill, provider, auth_method = KINDS[kind]
    page = signed_in.page
    dialog = open_create(signed_in)
    name = unique(f"e2e-{kind}")
    textbox(dialog, "Name").fill(name)
    secrets = fill(signed_in, dialog)
    # Secret inputs are masked until the user asks to see them.
    for secret_input in dialog.locator("input[type=password]").all():
        expect(secret_input).to_have_attribute("type", "password")
    signed_in.shot(f"keys-create-{kind}-form")
    dialog.get_by_role("button", name="Create").click()

    expect(dialog).to_be_hidden()
    expect(page.get_by_text("API key created")).to_be_visible()
    row = row_named(signed_in, name)
    expect(row).to_be_visible()
    expect(row.locator("code").first).to_contain_text("…" if kind != "vertex" else "")
    signed_in.shot(f"keys-create-{kind}-list")

    html = page.content()
    for secret in secrets:
        assert secret not in html

    with server.api() as c:
        stored = next(k for k in c.get("/api/v1/keys").json()["keys"] if k["name"] == name)
    assert (stored["provider"], stored["auth_method"]) == (provider, auth_method)
    assert not any(s in json.dumps(stored) for s in secrets)


def test_name_is_checked_as_you_type_and_a_server_conflict_shows_inline(
    signed_in: UI, server: Server
) -> None:
    taken = create_key(server, unique("taken"))["name"]
    dialog = open_create(signed_in)
    name = textbox(dialog, "Name")
    name.fill(taken)
    expect(dialog.get_by_text(f'An API key named "{taken}" already exists.')).to_be_visible()
    name.fill("bad name!")
    expect(dialog.get_by_text("Use letters, digits")).to_be_visible()

    # A key created elsewhere after the list loaded: the server's 409 lands on the field.
    late = unique("late")
    create_key(server, late)
    signed_in.allow_http_error(409, "/api/v1/keys")
    name.fill(late)
    choose_provider(signed_in, dialog, "Anthropic")
    textbox(dialog, "API key").fill("sk-ant-e2e-0123456789")
    dialog.get_by_role("button", name="Create").click()
    expect(dialog.get_by_text("already exists")).to_be_visible()
    expect(dialog).to_be_visible()


def test_server_validation_errors_show_on_their_fields(signed_in: UI) -> None:
    dialog = open_create(signed_in)
    textbox(dialog, "Name").fill(unique("masked-paste"))
    choose_provider(signed_in, dialog, "OpenAI")
    # Pasting a masked value back is refused by the server (422 with fields).
    textbox(dialog, "API key").fill("sk-…abcd")
    signed_in.allow_http_error(422, "/api/v1/keys")
    dialog.get_by_role("button", name="Create").click()
    expect(dialog.get_by_text("looks like a masked value")).to_be_visible()
    signed_in.shot("keys-server-validation")

    # Required fields are flagged before anything is sent.
    textbox(dialog, "API key").fill("")
    dialog.get_by_role("radio", name="Azure OpenAI (API key)").check()
    dialog.get_by_role("button", name="Create").click()
    expect(dialog.get_by_text("API key is required.")).to_be_visible()
    expect(dialog.get_by_text("Azure endpoint URL is required.")).to_be_visible()


def test_search_and_provider_filter(signed_in: UI, server: Server) -> None:
    tag = uuid.uuid4().hex[:6]
    openai_key = create_key(server, f"find-{tag}-openai")
    anthropic_key = create_key(server, f"find-{tag}-anthropic", "anthropic")
    other = create_key(server, unique("elsewhere"))
    page = signed_in.page
    signed_in.goto("/gateway/api-keys")
    page.get_by_label("Search API keys").fill(f"find-{tag}")
    expect(row_named(signed_in, openai_key["name"])).to_be_visible()
    expect(row_named(signed_in, anthropic_key["name"])).to_be_visible()
    expect(row_named(signed_in, other["name"])).to_have_count(0)

    page.get_by_role("combobox", name="Filter by provider").click()
    page.get_by_role("option", name="Anthropic", exact=True).click()
    expect(row_named(signed_in, anthropic_key["name"])).to_be_visible()
    expect(row_named(signed_in, openai_key["name"])).to_have_count(0)

    page.get_by_label("Search API keys").fill("no-such-key-anywhere")
    expect(page.get_by_text("No API keys match")).to_be_visible()
    page.get_by_role("button", name="Clear filters").click()
    expect(row_named(signed_in, other["name"])).to_be_visible()
