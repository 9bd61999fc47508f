"""The server's refusal of a limit lands on the input that caused it, focused, in each of
the three forms that set limits, and nothing is stored.

The forms check limits as the server does, so a valid value is typed and the request is
altered on its way out (Playwright routing): the real server answers with its own 422."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from playwright.sync_api import Locator, Route, expect

from tests.e2e.conftest import (
    UI,
    Server,
    create_endpoint,
    create_key,
    fill_limits,
    row_named,
    textbox,
    unique,
)


def corrupt(ui: UI, url: str, method: str, change: Callable[[dict[str, Any]], None]) -> None:
    """Change the JSON body of the next `method` request to `url` before it is sent."""

    def handle(route: Route) -> None:
        if route.request.method != method:
            route.continue_()
            return
        body = json.loads(route.request.post_data or "{}")
        change(body)
        route.continue_(post_data=json.dumps(body))

    ui.page.route(url, handle)


def refused_on(
    ui: UI,
    dialog: Locator,
    request: tuple[str, str],
    change: Callable[[dict[str, Any]], None],
    submit: str,
    field: str,
    message: str | re.Pattern[str],
) -> None:
    """Submit the form with its request altered by `change`: the server's 422 must land
    on `field` (marked invalid, focused, with the server's message)."""
    method, url = request
    corrupt(ui, f"**{url}", method, change)
    ui.allow_http_error(422, url)
    dialog.get_by_role("button", name=submit).click()
    box = textbox(dialog, field)
    expect(box).to_have_attribute("aria-invalid", "true")
    expect(box).to_be_focused()
    expect(dialog.get_by_text(message)).to_be_visible()


def listed(server: Server, kind: str) -> list[dict[str, Any]]:
    with server.api() as c:
        return list(c.get(f"/api/v1/{kind}").json()[kind.replace("-", "_")])


def test_the_token_form_shows_the_servers_budget_error_on_the_budget(
    signed_in: UI, server: Server
) -> None:
    name = unique("refused-app")
    page = signed_in.page
    signed_in.goto("/gateway/access-tokens")
    page.get_by_role("button", name="Create access token").first.click()
    dialog = page.get_by_role("dialog", name="Create access token")
    textbox(dialog, "Name").fill(name)
    fill_limits(dialog, rpm="5", usd="1")
    refused_on(
        signed_in,
        dialog,
        ("POST", "/api/v1/access-tokens"),
        lambda b: b["limits"]["budget"].update(usd=-1),
        "Create token",
        "Budget (USD)",
        "Input should be greater than 0",
    )
    expect(textbox(dialog, "Requests per minute")).not_to_have_attribute("aria-invalid", "true")
    assert not [t for t in listed(server, "access-tokens") if t["name"] == name]


def test_the_endpoint_form_shows_the_servers_error_on_concurrent_calls(
    signed_in: UI, server: Server
) -> None:
    key = create_key(server, unique("refused-key"))
    endpoint = create_endpoint(server, unique("refused-chat"), key["id"])
    page = signed_in.page
    signed_in.goto("/gateway")
    row_named(signed_in, endpoint["name"]).get_by_role(
        "button", name=f"Edit {endpoint['name']}"
    ).click()
    dialog = page.get_by_role("dialog", name=re.compile("Edit endpoint"))
    fill_limits(dialog, rpm="10", concurrent="2")
    refused_on(
        signed_in,
        dialog,
        ("PATCH", f"/api/v1/endpoints/{endpoint['id']}"),
        lambda b: b["limits"].update(max_concurrent=0),
        "Save",
        "Concurrent calls",
        "Input should be greater than or equal to 1",
    )
    (stored,) = [e for e in listed(server, "endpoints") if e["id"] == endpoint["id"]]
    assert stored["limits"] is None


def test_the_key_form_shows_the_servers_error_on_tokens_per_minute(
    signed_in: UI, server: Server
) -> None:
    key = create_key(server, unique("refused-limits"))
    page = signed_in.page
    signed_in.goto("/gateway/api-keys")
    row_named(signed_in, key["name"]).get_by_role("button", name=f"Edit {key['name']}").click()
    dialog = page.get_by_role("dialog", name=re.compile("Edit API key"))
    fill_limits(dialog, tpm="1000")
    refused_on(
        signed_in,
        dialog,
        ("PATCH", f"/api/v1/keys/{key['id']}"),
        lambda b: b["limits"].update(tokens_per_minute=1.5),
        "Save",
        "Tokens per minute",
        re.compile("valid integer"),
    )
    (stored,) = [k for k in listed(server, "keys") if k["id"] == key["id"]]
    assert stored["limits"] is None
