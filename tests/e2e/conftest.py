"""Browser tests: a real ``keyhouse serve`` subprocess driven by Chromium (Playwright).

They skip only when Chromium (/usr/bin/chromium) or the built UI
(src/keyhouse/ui/static/index.html, made by ``cd frontend && npm run build``) is missing.
Screenshots land in test-output/screenshots/ at the repository root.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import Browser, ConsoleMessage, Locator, Page, sync_playwright

from tests.replicas import keyhouse_env, replica_process

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
UI_INDEX = ROOT / "src" / "keyhouse" / "ui" / "static" / "index.html"
SCREENSHOTS = ROOT / "test-output" / "screenshots"
ADMIN_TOKEN = "e2e-admin-token-7f3b9c"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


def _missing() -> str | None:
    if not CHROMIUM.exists():
        return f"Chromium is not installed at {CHROMIUM}"
    if not UI_INDEX.exists():
        return (
            f"the web UI is not built ({UI_INDEX} is missing; run `cd frontend && npm run build`)"
        )
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    reason = _missing()
    for item in items:
        if Path(str(item.fspath)).parent != here:
            continue
        item.add_marker(pytest.mark.e2e)
        if reason:
            item.add_marker(pytest.mark.skip(reason=reason))


@dataclass
class Server:
    url: str
    home: Path

    def api(self) -> httpx.Client:
        """An admin API client (bearer token) for setting up data quickly."""
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=10
        )


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    home = tmp_path_factory.mktemp("keyhouse-home")
    with replica_process(keyhouse_env(home, KEYHOUSE_ADMIN_TOKEN=ADMIN_TOKEN)) as (url, _):
        yield Server(url=url, home=home)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    for stale in SCREENSHOTS.glob("FAILED-*.png"):
        stale.unlink()
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


# Console errors a browser prints for an HTTP error status are expected where a test
# provokes one (a wrong token, a stale session, a provider refusing a key); each test
# names the ones it expects. Anything else printed as an error or a warning fails the test.
NETWORK_ERROR = re.compile(r"Failed to load resource: the server responded with a status of (\d+)")


@dataclass
class UI:
    page: Page
    base: str
    errors: list[str] = field(default_factory=list)
    allowed: list[tuple[int, str]] = field(default_factory=list)

    def allow_http_error(self, status: int, path: str) -> None:
        """Expect the browser to log an HTTP `status` for a URL whose path starts with `path`."""
        self.allowed.append((status, path))

    def goto(self, route: str) -> None:
        self.page.goto(f"{self.base}/#{route}")

    def shot(self, name: str, full_page: bool = True) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        self.page.wait_for_timeout(300)  # let modal and notification transitions finish
        self.page.screenshot(path=str(path), full_page=full_page)
        return path

    def sign_in_via_api(self) -> None:
        """Start a session the way the sign-in page does, without typing the token."""
        r = self.page.context.request.post(
            f"{self.base}/api/v1/session",
            data={"token": ADMIN_TOKEN},
            headers={"X-Keyhouse-Client": "web"},
        )
        assert r.status == 204, r.status


def _on_console(ui: UI, msg: ConsoleMessage) -> None:
    if msg.type == "warning":
        ui.errors.append(f"warning: {msg.text}")
        return
    if msg.type != "error":
        return
    m = NETWORK_ERROR.search(msg.text)
    if m:
        url = (msg.location or {}).get("url", "")
        path = urlsplit(url).path
        if any(int(m.group(1)) == s and path.startswith(p) for s, p in ui.allowed):
            return
        ui.errors.append(f"{msg.text} ({url})")
        return
    ui.errors.append(msg.text)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if report.when == "call":
        item.stash[_FAILED] = report.failed


_FAILED = pytest.StashKey[bool]()


@pytest.fixture
def ui(browser: Browser, server: Server, request: pytest.FixtureRequest) -> Iterator[UI]:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.set_default_timeout(10_000)
    ui = UI(page=page, base=server.url)
    page.on("console", lambda msg: _on_console(ui, msg))
    page.on("pageerror", lambda exc: ui.errors.append(f"page error: {exc}"))
    try:
        yield ui
        if request.node.stash.get(_FAILED, False):
            ui.shot(f"FAILED-{request.node.name}")
    finally:
        context.close()
    assert ui.errors == [], f"console errors or warnings: {ui.errors}"


@pytest.fixture
def signed_in(ui: UI) -> UI:
    ui.sign_in_via_api()
    return ui


def row_named(ui: UI, name: str) -> Locator:
    """The table row showing exactly `name` (a key or an endpoint)."""
    return ui.page.get_by_role("row").filter(has=ui.page.get_by_text(name, exact=True))


def textbox(scope: Page | Locator, name: str) -> Locator:
    """A text input (password and textarea too) by its exact accessible name."""
    return scope.get_by_role("textbox", name=name, exact=True)


def unique(prefix: str) -> str:
    """A name no other test uses (the server is shared by the whole session)."""
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def create_key(
    server: Server,
    name: str,
    provider: str = "openai",
    credentials: dict[str, str] | None = None,
    config: dict[str, str] | None = None,
    auth_method: str | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": name,
        "provider": provider,
        "credentials": credentials or {"api_key": f"sk-{uuid.uuid4().hex}"},
        "config": config or {},
    }
    if auth_method:
        body["auth_method"] = auth_method
    with server.api() as c:
        r = c.post("/api/v1/keys", json=body)
    assert r.status_code == 201, r.text
    return dict(r.json())


def create_endpoint(
    server: Server, name: str, key_id: str, model: str = "gpt-4o-mini", **extra: Any
) -> dict[str, Any]:
    with server.api() as c:
        r = c.post(
            "/api/v1/endpoints",
            json={"name": name, "targets": [{"key_id": key_id, "model": model}], **extra},
        )
    assert r.status_code == 201, r.text
    return dict(r.json())


def get_key(server: Server, key_id: str) -> dict[str, Any]:
    with server.api() as c:
        r = c.get(f"/api/v1/keys/{key_id}")
    assert r.status_code == 200, r.text
    return dict(r.json())


def openai_fake_endpoint(
    server: Server, fake_port: int, api_key: str, provider: str = "openai", **extra: Any
) -> dict[str, Any]:
    """A key whose base URL is the OpenAI fake, and an endpoint on it. With the default
    provider ("openai") the calls are priced, so budgets and costs move."""
    key = create_key(
        server,
        unique("lim-key"),
        provider,
        credentials={"api_key": api_key},
        config={"base_url": f"http://127.0.0.1:{fake_port}/v1"},
    )
    endpoint = create_endpoint(server, unique("lim-chat"), key["id"], **extra)
    return {"key": key, "endpoint": endpoint}


def create_token(server: Server, name: str, **extra: Any) -> dict[str, Any]:
    """An access token made through the API; the answer holds its secret (`token`)."""
    with server.api() as c:
        r = c.post("/api/v1/access-tokens", json={"name": name, **extra})
    assert r.status_code == 201, r.text
    return dict(r.json())


def fill_limits(
    scope: Locator,
    rpm: str | None = None,
    tpm: str | None = None,
    concurrent: str | None = None,
    usd: str | None = None,
    period: str | None = None,
    action: str | None = None,
) -> None:
    """Type into the limits editor of a token, endpoint or key form (None: leave alone)."""
    editor = scope.get_by_role("group", name="Limits and budget")
    for label, value in (
        ("Requests per minute", rpm),
        ("Tokens per minute", tpm),
        ("Concurrent calls", concurrent),
        ("Budget (USD)", usd),
    ):
        if value is not None:
            textbox(editor, label).fill(value)
    page = scope.page
    for label, option in (("Budget period", period), ("When it is spent", action)):
        if option is not None:
            editor.get_by_role("combobox", name=label).click()
            page.get_by_role("option", name=option, exact=True).click()


def limits_cell(row: Locator) -> Locator:
    """A list row's (or card's) use-against-limits cell."""
    return row.get_by_test_id("limit-use")


def wait_for_use(server: Server, kind: str, id_: str, requests: int, seconds: float = 10) -> None:
    """Wait until the API counts `requests` calls for a key or token (usage records are
    written in batches, off the request path), so the list shows them on its next load."""
    deadline = time.monotonic() + seconds
    while True:
        with server.api() as c:
            # The lists carry the use (the single-item views need not).
            listed = c.get(f"/api/v1/{kind}").json()[kind.replace("-", "_")]
        (view,) = [v for v in listed if v["id"] == id_]
        if view.get("last_used_at") and view["usage_7d"]["requests"] >= requests:
            return
        assert time.monotonic() < deadline, view
        time.sleep(0.2)
