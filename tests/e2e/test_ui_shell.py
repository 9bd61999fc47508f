"""Sign-in, sign-out, hash routing and the session cookie."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.e2e.conftest import (
    ADMIN_TOKEN,
    UI,
    Server,
    create_endpoint,
    create_key,
    row_named,
    textbox,
    unique,
)


def test_sign_in_keeps_the_deep_link_and_never_stores_the_token(ui: UI) -> None:
    page = ui.page
    api_requests: list[dict[str, str]] = []
    page.on("request", lambda r: api_requests.append(r.headers) if "/api/v1/" in r.url else None)

    ui.goto("/gateway/api-keys")
    token_input = page.get_by_label("Admin token")
    expect(token_input).to_be_visible()
    expect(token_input).to_be_focused()
    ui.shot("shell-01-sign-in")

    ui.allow_http_error(401, "/api/v1/session")
    token_input.fill("not-the-token")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text("That token is not valid.")).to_be_visible()

    token_input.fill(ADMIN_TOKEN)
    token_input.press("Enter")
    expect(page.get_by_role("heading", name="AI Gateway")).to_be_visible()
    expect(page.get_by_role("tab", name="API Keys")).to_have_attribute("aria-selected", "true")
    assert page.url.endswith("#/gateway/api-keys")
    ui.shot("shell-02-signed-in")

    storage = page.evaluate("() => JSON.stringify([{...localStorage}, {...sessionStorage}])")
    assert ADMIN_TOKEN not in storage
    assert ADMIN_TOKEN not in page.content()
    cookies = {c["name"]: c for c in page.context.cookies()}
    assert cookies["keyhouse_session"]["httpOnly"] is True
    assert ADMIN_TOKEN not in cookies["keyhouse_session"]["value"]

    # Every admin request identifies the web client (the CSRF defence).
    assert api_requests
    assert all(h.get("x-keyhouse-client") == "web" for h in api_requests)

    # Reload keeps the session and the tab.
    page.reload()
    expect(page.get_by_role("tab", name="API Keys")).to_have_attribute("aria-selected", "true")

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_label("Admin token")).to_be_visible()
    page.reload()
    expect(page.get_by_label("Admin token")).to_be_visible()


def test_tabs_follow_the_hash_route(signed_in: UI) -> None:
    page = signed_in.page
    signed_in.goto("/gateway")
    expect(page.get_by_role("tab", name="Endpoints")).to_have_attribute("aria-selected", "true")
    page.get_by_role("tab", name="API Keys").click()
    expect(page).to_have_url(f"{signed_in.base}/#/gateway/api-keys")
    page.go_back()
    expect(page.get_by_role("tab", name="Endpoints")).to_have_attribute("aria-selected", "true")
    # An unknown route lands on the Endpoints tab.
    signed_in.goto("/nowhere")
    expect(page).to_have_url(f"{signed_in.base}/#/gateway")


def test_a_401_from_any_request_returns_to_sign_in(signed_in: UI) -> None:
    page = signed_in.page
    signed_in.goto("/gateway/api-keys")
    expect(page.get_by_role("heading", name="AI Gateway")).to_be_visible()
    page.get_by_role("button", name="Create API key").first.click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Name").fill(unique("late"))

    # The session ends behind the page's back (expired, revoked, signed out elsewhere).
    r = page.context.request.delete(
        f"{signed_in.base}/api/v1/session", headers={"X-Keyhouse-Client": "web"}
    )
    assert r.status == 204
    signed_in.allow_http_error(401, "/api/v1/")
    dialog.get_by_role("combobox", name="Provider").click()
    page.get_by_role("option", name="Anthropic", exact=True).click()
    dialog.get_by_label("API key").fill("sk-ant-whatever-123456")
    dialog.get_by_role("button", name="Create").click()

    expect(page.get_by_label("Admin token")).to_be_visible()
    expect(page.get_by_text("Your session ended")).to_be_visible()


def test_narrow_window_is_readable(signed_in: UI, server: Server) -> None:
    key = create_key(server, unique("narrow-key"))
    endpoint_name = create_endpoint(server, unique("narrow-chat"), key["id"])["name"]
    page = signed_in.page
    page.set_viewport_size({"width": 390, "height": 844})
    signed_in.goto("/gateway/api-keys")
    expect(page.get_by_role("list", name="API keys")).to_be_visible()
    expect(page.get_by_role("table")).to_have_count(0)
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    # The page itself never scrolls sideways; wide tables scroll inside their container.
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
    signed_in.shot("shell-03-narrow-api-keys")

    signed_in.goto("/gateway")
    expect(page.get_by_text(endpoint_name)).to_be_visible()
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
    signed_in.shot("shell-04-narrow-endpoints")

    page.get_by_role("button", name="Create endpoint").click()
    expect(page.get_by_role("dialog")).to_be_visible()
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
    signed_in.shot("shell-05-narrow-endpoint-form", full_page=False)


def test_keyboard_alone_creates_a_key(signed_in: UI) -> None:
    page = signed_in.page
    signed_in.goto("/gateway")
    endpoints_tab = page.get_by_role("tab", name="Endpoints")
    endpoints_tab.focus()
    page.keyboard.press("ArrowRight")
    expect(page.get_by_role("tab", name="API Keys")).to_have_attribute("aria-selected", "true")
    expect(page).to_have_url(f"{signed_in.base}/#/gateway/api-keys")

    page.get_by_role("button", name="Create API key").first.focus()
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog", name="Create API key")
    name_input = textbox(dialog, "Name")
    expect(name_input).to_be_focused()
    name = unique("typed")
    page.keyboard.type(name)
    page.keyboard.press("Tab")
    expect(dialog.get_by_role("combobox", name="Provider")).to_be_focused()
    page.keyboard.type("Anthropic")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    expect(dialog.get_by_role("combobox", name="Provider")).to_have_value("Anthropic")
    page.keyboard.press("Tab")
    expect(textbox(dialog, "API key")).to_be_focused()
    page.keyboard.type("sk-ant-typed-0123456789")
    page.keyboard.press("Enter")
    expect(dialog).to_be_hidden()
    expect(row_named(signed_in, name)).to_be_visible()

    # Escape closes a dialog.
    page.get_by_role("button", name=f"Delete {name}").focus()
    page.keyboard.press("Enter")
    confirm = page.get_by_role("dialog", name="Delete API key")
    expect(confirm).to_be_visible()
    page.keyboard.press("Escape")
    expect(confirm).to_be_hidden()
    expect(row_named(signed_in, name)).to_be_visible()
