"""Looks and feel: the UI follows the browser's dark-mode preference, and every button in
every view and dialog has one accessible name of its own: a name at all, one that
contains the words it shows (so "click Try it" works by voice, WCAG 2.5.3), and one no
other button in the same view has (so "Edit" never leaves a screen reader guessing)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import UI, Server, create_endpoint, create_key, row_named, unique

BUTTONS = """root => [...root.querySelectorAll('button, [role=button], a[role=button]')]
  .filter(b => b.offsetParent !== null)
  .map(b => ({label: b.getAttribute('aria-label'), by: b.getAttribute('aria-labelledby'),
              text: b.innerText.trim(), html: b.outerHTML.slice(0, 160)}))"""


def _luminance(page: Page, selector: str) -> float:
    rgb: list[int] = page.evaluate(f"""() => getComputedStyle(document.querySelector('{selector}'))
                            .backgroundColor.match(/\\d+/g).slice(0, 3).map(Number)""")
    r, g, b = (c / 255 for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_ui_follows_the_browsers_color_scheme(
    browser: Browser, server: Server, scheme: str
) -> None:
    context = browser.new_context(color_scheme=scheme)  # type: ignore[arg-type]
    try:
        page = context.new_page()
        page.goto(f"{server.url}/#/gateway")
        expect(page.locator("html")).to_have_attribute("data-mantine-color-scheme", scheme)
        expect(page.get_by_role("button", name="Sign in")).to_be_visible()
        lum = _luminance(page, "body")
        assert (lum < 0.2) if scheme == "dark" else (lum > 0.8), (scheme, lum)
    finally:
        context.close()


def _check_buttons(ui: UI, where: str) -> None:
    problems = []
    seen: dict[str, str] = {}
    for b in ui.page.locator("body").evaluate(BUTTONS):
        name = " ".join((b["label"] or b["by"] or b["text"]).split())
        text = " ".join(b["text"].split())
        if not name:
            problems.append(f"no name: {b['html']}")
        elif text and text.lower() not in name.lower():
            problems.append(f"its name {name!r} does not contain its text {text!r}")
        elif name in seen and not b["by"]:
            problems.append(f"two buttons are named {name!r}: {seen[name]} and {b['html']}")
        seen.setdefault(name, b["html"])
    assert problems == [], f"{where}: {problems}"


def test_every_button_has_one_accessible_name(signed_in: UI, server: Server) -> None:
    key = create_key(server, unique("a11y-key"))
    endpoint = create_endpoint(server, unique("a11y-ep"), key["id"])["name"]
    page = signed_in.page
    dialogs: dict[str, list[tuple[str, Callable[[], None]]]] = {
        "/gateway": [
            (
                "Create endpoint",
                lambda: page.get_by_role("button", name="Create endpoint").first.click(),
            ),
            (
                "Edit endpoint",
                lambda: (
                    row_named(signed_in, endpoint)
                    .get_by_role("button", name=f"Edit {endpoint}")
                    .click()
                ),
            ),
            (
                "Try it",
                lambda: (
                    row_named(signed_in, endpoint)
                    .get_by_role("button", name=f"Try it: {endpoint}")
                    .click()
                ),
            ),
        ],
        "/gateway/api-keys": [
            (
                "Create API key",
                lambda: page.get_by_role("button", name="Create API key").first.click(),
            ),
            (
                "Edit API key",
                lambda: (
                    row_named(signed_in, key["name"])
                    .get_by_role("button", name=f"Edit {key['name']}")
                    .click()
                ),
            ),
            (
                "Delete API key",
                lambda: (
                    row_named(signed_in, key["name"])
                    .get_by_role("button", name=f"Delete {key['name']}")
                    .click()
                ),
            ),
        ],
        "/gateway/access-tokens": [
            (
                "Create access token",
                lambda: page.get_by_role("button", name="Create access token").first.click(),
            ),
        ],
    }
    for route, openers in dialogs.items():
        signed_in.goto(route)
        expect(page.get_by_role("tab", selected=True)).to_be_visible()
        page.wait_for_load_state("networkidle")
        _check_buttons(signed_in, route)
        for name, open_it in openers:
            open_it()
            dialog = page.get_by_role("dialog")
            expect(dialog).to_be_visible()
            page.wait_for_timeout(300)
            _check_buttons(signed_in, f"{route} · {name}")
            page.keyboard.press("Escape")
            expect(dialog).to_be_hidden()
