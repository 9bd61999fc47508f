"""Limits and budgets in the web UI (issue 12): a token made in the UI with 5 requests a
minute and a budget is refused with 429 + Retry-After by the official ``openai`` SDK, the
token list shows "5 / 5 rpm", and a rotation with a grace keeps the old secret working
beside the new one. Limits typed into the endpoint and key forms are stored and shown
with their use."""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Callable, Iterator
from typing import Any

import openai
import pytest
from playwright.sync_api import Locator, expect

from keyhouse.testing.fakes.openai import create_app
from keyhouse.testing.fakes.server import ServerThread, serve
from tests.e2e.conftest import (
    UI,
    Server,
    create_token,
    fill_limits,
    limits_cell,
    openai_fake_endpoint,
    row_named,
    textbox,
    unique,
    wait_for_use,
)

FAKE_KEY = "sk-fake-" + "a1b2c3d4" * 4
HELLO = [{"role": "user", "content": "hello"}]


@pytest.fixture(scope="module")
def openai_fake() -> Iterator[ServerThread]:
    with serve(create_app(api_key=FAKE_KEY)) as fake:
        yield fake


def sdk(server: Server, token: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{server.url}/v1", api_key=token, max_retries=0)


def call(server: Server, token: str, model: str) -> Any:
    return sdk(server, token).chat.completions.create(model=model, messages=HELLO)  # type: ignore[arg-type]


def eventually(check: Callable[[], Any], seconds: float = 15) -> Any:
    """Retry `check` until it stops raising a 429 (a bucket refilling), then return it."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            return check()
        except openai.RateLimitError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def stored(server: Server, kind: str, id_: str) -> dict[str, Any]:
    with server.api() as c:
        r = c.get(f"/api/v1/{kind}/{id_}")
    assert r.status_code == 200, r.text
    return dict(r.json())


def token_row(ui: UI, name: str) -> Locator:
    return row_named(ui, name)


def test_a_token_made_in_the_ui_is_limited_shows_its_use_and_rotates_with_a_grace(
    signed_in: UI, server: Server, openai_fake: ServerThread
) -> None:
    model = openai_fake_endpoint(server, openai_fake.port, FAKE_KEY)["endpoint"]["name"]
    name = unique("limited-app")
    page = signed_in.page
    signed_in.goto("/gateway/access-tokens")
    page.get_by_role("button", name="Create access token").first.click()
    dialog = page.get_by_role("dialog", name="Create access token")
    textbox(dialog, "Name").fill(name)

    # Client-side checks agree with the server's: 0 requests a minute is refused, focused.
    fill_limits(dialog, rpm="0")
    dialog.get_by_role("button", name="Create token").click()
    rpm = textbox(dialog, "Requests per minute")
    expect(rpm).to_be_focused()
    expect(rpm).to_have_attribute("aria-invalid", "true")
    expect(dialog.get_by_text("A whole number from 1")).to_be_visible()

    fill_limits(dialog, rpm="5", usd="1", period="Per month", action="Reject calls (429)")
    dialog.get_by_role("combobox", name="Expires").click()
    page.get_by_role("option", name="In 30 days", exact=True).click()
    signed_in.shot("limits-token-form")
    dialog.get_by_role("button", name="Create token").click()
    shown = page.get_by_role("dialog", name="Access token created")
    old = shown.get_by_test_id("new-token").inner_text().strip()
    shown.get_by_role("button", name="Done").click()
    expect(shown).to_be_hidden()

    (made,) = [
        t
        for t in server.api().get("/api/v1/access-tokens").json()["access_tokens"]
        if t["name"] == name
    ]
    assert made["limits"] == {
        "requests_per_minute": 5,
        "tokens_per_minute": None,
        "max_concurrent": None,
        "budget": {"usd": 1.0, "period": "month", "action": "reject"},
    }
    days = (
        time.mktime(time.strptime(made["expires_at"][:19], "%Y-%m-%dT%H:%M:%S")) - time.time()
    ) / 86400
    assert 29.9 < days < 30.1, made["expires_at"]

    # Five calls pass; the sixth is over the limit: 429 with Retry-After.
    for _ in range(5):
        assert call(server, old, model).choices[0].message.content == "echo: hello"
    with pytest.raises(openai.RateLimitError) as refused:
        call(server, old, model)
    retry_after = refused.value.response.headers.get("retry-after")
    assert retry_after is not None and int(retry_after) >= 1, retry_after

    wait_for_use(server, "access-tokens", made["id"], 6)
    page.reload()
    row = token_row(signed_in, name)
    cell = limits_cell(row)
    expect(cell).to_contain_text("5 / 5 rpm")
    expect(cell).to_contain_text(re.compile(r"(<\$0\.01|\$0\.\d\d) of \$1\.00 this month"))
    expect(row.locator('[data-col="expires"]')).to_contain_text("in 4 weeks")
    # The refused call is recorded too.
    expect(row.locator('[data-col="last-used"]')).to_contain_text("6 calls in 7 days")
    # The full rate bar is red.
    bar = cell.locator('[data-limit="requests"] .mantine-Progress-section')
    expect(bar).to_have_attribute("aria-valuenow", "100")
    color = bar.evaluate("el => getComputedStyle(el).backgroundColor")
    r, g, b = (int(x) for x in re.findall(r"\d+", color)[:3])
    assert r > 150 and g < 120 and b < 120, color
    signed_in.shot("limits-token-list")

    # Rotate in the UI with a one-hour grace: the new secret is shown once, with a copy button.
    row.get_by_role("button", name=f"Rotate {name}").click()
    rotate = page.get_by_role("dialog", name="Rotate access token")
    rotate.get_by_text("1 hour").click()
    signed_in.shot("limits-token-rotate-form")
    rotate.get_by_role("button", name="Rotate", exact=True).click()
    done = page.get_by_role("dialog", name="Access token rotated")
    new = done.get_by_test_id("new-token").inner_text().strip()
    assert new.startswith("kh_") and new != old
    expect(done.get_by_test_id("grace-note")).to_contain_text("keeps working until")
    expect(done.get_by_role("button", name="Copy token")).to_be_visible()
    signed_in.shot("limits-token-rotated")
    done.get_by_role("button", name="Done").click()
    expect(row.locator('[data-col="expires"]')).to_contain_text("Old secret ends in 1 hour")

    # During the grace the old secret still authenticates: the limit may still refuse it
    # (429: the bucket is the token's, whichever secret), but never 401.
    with contextlib.suppress(openai.RateLimitError):
        call(server, old, model)

    # Raise the limit in the edit form; then both secrets get answers.
    row.get_by_role("button", name=f"Edit {name}").click()
    edit = page.get_by_role("dialog", name=f"Edit access token “{name}”")
    expect(textbox(edit, "Requests per minute")).to_have_value("5")
    expect(textbox(edit, "Budget (USD)")).to_have_value("$1")
    fill_limits(edit, rpm="600")
    edit.get_by_role("button", name="Save").click()
    expect(edit).to_be_hidden()
    assert stored(server, "access-tokens", made["id"])["limits"]["requests_per_minute"] == 600
    for secret in (old, new):
        answer = eventually(lambda s=secret: call(server, s, model))  # type: ignore[misc]
        assert answer.choices[0].message.content == "echo: hello"
    expect(limits_cell(row)).to_contain_text(re.compile(r"\d+ / 600 rpm"))


def test_limits_set_in_the_endpoint_and_key_forms_are_saved_and_shown_with_use(
    signed_in: UI, server: Server, openai_fake: ServerThread
) -> None:
    made = openai_fake_endpoint(server, openai_fake.port, FAKE_KEY)
    key, endpoint = made["key"], made["endpoint"]
    page = signed_in.page

    signed_in.goto("/gateway")
    row = row_named(signed_in, endpoint["name"])
    expect(limits_cell(row)).to_have_text("No limits")
    row.get_by_role("button", name=f"Edit {endpoint['name']}").click()
    dialog = page.get_by_role("dialog", name=re.compile("Edit endpoint"))
    fill_limits(dialog, rpm="10", tpm="50000", concurrent="3")
    signed_in.shot("limits-endpoint-form")
    dialog.get_by_role("button", name="Save").click()
    expect(dialog).to_be_hidden()
    assert stored(server, "endpoints", endpoint["id"])["limits"] == {
        "requests_per_minute": 10,
        "tokens_per_minute": 50000,
        "max_concurrent": 3,
        "budget": None,
    }

    signed_in.goto("/gateway/api-keys")
    krow = row_named(signed_in, key["name"])
    krow.get_by_role("button", name=f"Edit {key['name']}").click()
    dialog = page.get_by_role("dialog", name=re.compile("Edit API key"))
    fill_limits(dialog, rpm="20", usd="5", period="Per week", action="Alert only")
    dialog.get_by_role("button", name="Save").click()
    expect(dialog).to_be_hidden()
    assert stored(server, "keys", key["id"])["limits"] == {
        "requests_per_minute": 20,
        "tokens_per_minute": None,
        "max_concurrent": None,
        "budget": {"usd": 5.0, "period": "week", "action": "alert"},
    }

    # One call through them: both lists count it against their limits.
    secret = create_token(server, unique("lim-caller"))["token"]
    call(server, secret, endpoint["name"])
    page.reload()
    kcell = limits_cell(row_named(signed_in, key["name"]))
    expect(kcell).to_contain_text("1 / 20 rpm")
    expect(kcell).to_contain_text(re.compile(r"of \$5\.00 this week \(alert only\)"))
    signed_in.shot("limits-key-list")

    signed_in.goto("/gateway")
    ecell = limits_cell(row_named(signed_in, endpoint["name"]))
    expect(ecell).to_contain_text("1 / 10 rpm")
    expect(ecell).to_contain_text(re.compile(r"\d+ / 50,000 tpm"))
    expect(ecell).to_contain_text("0 / 3 at once")
    signed_in.shot("limits-endpoint-list")

    # Emptying the boxes removes the limits.
    erow = row_named(signed_in, endpoint["name"])
    erow.get_by_role("button", name=f"Edit {endpoint['name']}").click()
    dialog = page.get_by_role("dialog", name=re.compile("Edit endpoint"))
    fill_limits(dialog, rpm="", tpm="", concurrent="")
    dialog.get_by_role("button", name="Save").click()
    expect(dialog).to_be_hidden()
    assert stored(server, "endpoints", endpoint["id"])["limits"] is None
    expect(limits_cell(row_named(signed_in, endpoint["name"]))).to_have_text("No limits")


@pytest.mark.parametrize("scheme", ["dark"])
def test_the_limits_look_right_on_a_phone_and_in_dark_mode(
    signed_in: UI, server: Server, openai_fake: ServerThread, scheme: str
) -> None:
    made = openai_fake_endpoint(server, openai_fake.port, FAKE_KEY)
    name = unique("phone-app")
    secret = create_token(
        server,
        name,
        limits={"requests_per_minute": 4, "max_concurrent": 2, "budget": {"usd": 2.5}},
    )["token"]
    call(server, secret, made["endpoint"]["name"])
    page = signed_in.page
    page.emulate_media(color_scheme=scheme)  # type: ignore[arg-type]
    signed_in.goto("/gateway/access-tokens")
    page.set_viewport_size({"width": 1280, "height": 800})
    expect(limits_cell(token_row(signed_in, name))).to_contain_text("1 / 4 rpm")
    signed_in.shot(f"limits-token-list-{scheme}")

    page.set_viewport_size({"width": 390, "height": 844})
    card = page.locator("li[data-token-id]").filter(has=page.get_by_text(name, exact=True))
    expect(limits_cell(card)).to_contain_text("1 / 4 rpm")
    expect(limits_cell(card)).to_contain_text("of $2.50 this month")
    # Nothing runs off the side of a phone.
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, width
    signed_in.shot(f"limits-token-cards-{scheme}")


def test_a_rotation_without_grace_ends_the_old_secret_at_once(
    signed_in: UI, server: Server, openai_fake: ServerThread
) -> None:
    model = openai_fake_endpoint(server, openai_fake.port, FAKE_KEY)["endpoint"]["name"]
    name = unique("no-grace")
    old = create_token(server, name)["token"]
    page = signed_in.page
    signed_in.goto("/gateway/access-tokens")
    token_row(signed_in, name).get_by_role("button", name=f"Rotate {name}").click()
    rotate = page.get_by_role("dialog", name="Rotate access token")
    rotate.get_by_text("None", exact=True).click()
    expect(rotate.get_by_text("It stops working at once")).to_be_visible()
    rotate.get_by_role("button", name="Rotate", exact=True).click()
    done = page.get_by_role("dialog", name="Access token rotated")
    new = done.get_by_test_id("new-token").inner_text().strip()
    expect(done.get_by_test_id("grace-note")).to_have_count(0)
    done.get_by_role("button", name="Done").click()
    with pytest.raises(openai.AuthenticationError):
        call(server, old, model)
    assert call(server, new, model).choices[0].message.content == "echo: hello"
    expect(token_row(signed_in, name).locator('[data-col="expires"]')).not_to_contain_text(
        "Old secret"
    )
