"""Regenerate docs/screenshots/*.png with demo data (``make screenshots``).

Starts the OpenAI and Anthropic fakes and a fresh ``keyhouse serve`` on free ports, fills
it with the keys, endpoints and access tokens a small team might have, and photographs
the views the README shows in headless Chromium (light colour scheme, 1280 px wide).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Page, sync_playwright

from keyhouse.testing.fakes.anthropic import create_app as anthropic_fake
from keyhouse.testing.fakes.openai import create_app as openai_fake
from keyhouse.testing.fakes.server import free_port, serve

OUT = Path(__file__).resolve().parent / "screenshots"
CHROMIUM = "/usr/bin/chromium"
ADMIN_TOKEN = "kh_admin_screenshots-" + "d" * 24
OPENAI_KEY = "sk-proj-demo" + "7" * 40 + "Q2xw"
ANTHROPIC_KEY = "sk-ant-api03-demo" + "5" * 40 + "Lm9A"


@contextmanager
def keyhouse(home: Path) -> Iterator[str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEYHOUSE_")}
    env.update(
        KEYHOUSE_HOME=str(home),
        KEYHOUSE_ADMIN_TOKEN=ADMIN_TOKEN,
        KEYHOUSE_ALLOW_PRIVATE_UPSTREAMS="true",
        KEYHOUSE_LOG_LEVEL="warning",
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "keyhouse", "serve", "--port", str(port)], env=env
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def seed(api: httpx.Client, openai_url: str, anthropic_url: str) -> dict[str, Any]:
    def post(path: str, body: dict[str, Any]) -> dict[str, Any]:
        r = api.post(path, json=body)
        r.raise_for_status()
        return dict(r.json())

    keys = {
        "openai-prod": post(
            "/api/v1/keys",
            {
                "name": "openai-prod",
                "provider": "openai",
                "description": "Production, billed to Platform team",
                "credentials": {"api_key": OPENAI_KEY},
                "config": {"base_url": openai_url},
                "rotate_after_days": 90,
            },
        ),
        "anthropic-prod": post(
            "/api/v1/keys",
            {
                "name": "anthropic-prod",
                "provider": "anthropic",
                "credentials": {"api_key": ANTHROPIC_KEY},
                "config": {"base_url": anthropic_url},
            },
        ),
        "azure-eastus": post(
            "/api/v1/keys",
            {
                "name": "azure-eastus",
                "provider": "openai",
                "auth_method": "azure",
                "description": "Azure OpenAI, East US deployment",
                "credentials": {"api_key": "3f9c" + "0" * 24 + "a41e"},
                "config": {
                    "endpoint_url": "https://contoso-eastus.openai.azure.com",
                    "api_version": "2024-10-21",
                },
            },
        ),
        "bedrock-us": post(
            "/api/v1/keys",
            {
                "name": "bedrock-us",
                "provider": "bedrock",
                "auth_method": "access_keys",
                "credentials": {
                    "aws_access_key_id": "AKIAIOSFODNN7EXAMPLE",
                    "aws_secret_access_key": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                },
                "config": {"region": "us-east-1"},
            },
        ),
    }
    # A rotation, so the history has something to show.
    r = api.patch(
        f"/api/v1/keys/{keys['openai-prod']['id']}",
        json={"credentials": {"api_key": OPENAI_KEY}},
        headers={"If-Match": str(keys["openai-prod"]["version"])},
    )
    r.raise_for_status()

    def target(key: str, model: str, role: str = "primary", weight: int = 1) -> dict[str, Any]:
        return {"key_id": keys[key]["id"], "model": model, "role": role, "weight": weight}

    endpoints = {
        "chat": post(
            "/api/v1/endpoints",
            {
                "name": "chat",
                "description": "Default chat model for internal tools",
                "targets": [
                    target("openai-prod", "gpt-4o-mini", weight=3),
                    target("azure-eastus", "gpt-4o-mini"),
                    target("anthropic-prod", "claude-haiku-4-5", "fallback"),
                ],
            },
        ),
        "support-bot": post(
            "/api/v1/endpoints",
            {"name": "support-bot", "targets": [target("anthropic-prod", "claude-sonnet-4-5")]},
        ),
        "embeddings": post(
            "/api/v1/endpoints",
            {
                "name": "embeddings",
                "task": "embeddings",
                "targets": [target("openai-prod", "text-embedding-3-small")],
            },
        ),
        "bedrock-haiku": post(
            "/api/v1/endpoints",
            {
                "name": "bedrock-haiku",
                "targets": [target("bedrock-us", "anthropic.claude-3-haiku-20240307-v1:0")],
            },
        ),
    }
    post("/api/v1/access-tokens", {"name": "support-portal", "endpoints": ["support-bot"]})
    post("/api/v1/access-tokens", {"name": "search-indexer", "endpoints": ["embeddings"]})
    post("/api/v1/access-tokens", {"name": "internal-tools"})
    return {"keys": keys, "endpoints": endpoints}


def shot(page: Page, name: str, full_page: bool = True) -> None:
    page.mouse.move(1, 1)
    page.wait_for_timeout(400)  # transitions
    page.screenshot(path=str(OUT / f"{name}.png"), full_page=full_page)
    print(f"wrote {OUT / name}.png")


def row(page: Page, name: str) -> Any:
    return page.get_by_role("row").filter(has=page.get_by_text(name, exact=True))


def main() -> None:
    OUT.mkdir(exist_ok=True)
    with (
        tempfile.TemporaryDirectory() as tmp,
        serve(openai_fake(api_key=OPENAI_KEY)) as openai,
        serve(anthropic_fake(api_key=ANTHROPIC_KEY)) as anthropic,
        keyhouse(Path(tmp)) as url,
        httpx.Client(base_url=url, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}) as api,
        sync_playwright() as p,
    ):
        seed(api, f"{openai.url}/v1", anthropic.url)
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        context = browser.new_context(viewport={"width": 1280, "height": 800}, color_scheme="light")
        page = context.new_page()
        page.context.request.post(
            f"{url}/api/v1/session",
            data={"token": ADMIN_TOKEN},
            headers={"X-Keyhouse-Client": "web"},
        )

        page.goto(f"{url}/#/gateway/api-keys")
        page.get_by_role("table", name="API keys").wait_for()
        shot(page, "api-keys")

        page.get_by_role("button", name="Create API key").first.click()
        dialog = page.get_by_role("dialog", name="Create API key")
        dialog.get_by_role("textbox", name="Name", exact=True).fill("azure-westeurope")
        dialog.get_by_role("combobox", name="Provider").click()
        page.get_by_role("option", name="OpenAI", exact=True).click()
        dialog.get_by_role("radio", name="Azure OpenAI (API key)").check()
        dialog.get_by_role("textbox", name="API key", exact=True).fill("9d2e" + "1" * 24 + "b7c0")
        dialog.get_by_role("textbox", name="Azure endpoint URL").fill(
            "https://contoso-westeurope.openai.azure.com"
        )
        shot(page, "create-key-azure")
        page.keyboard.press("Escape")

        row(page, "openai-prod").get_by_role("button", name="Delete openai-prod").click()
        page.get_by_role("dialog").get_by_text("chat").first.wait_for()
        shot(page, "delete-key-in-use")
        page.keyboard.press("Escape")

        row(page, "openai-prod").get_by_role("button", name="Edit openai-prod").click()
        dialog = page.get_by_role("dialog")
        dialog.get_by_role("button", name="Credential history").click()
        dialog.get_by_role("table", name="Credential history").wait_for()
        shot(page, "edit-key-history", full_page=False)
        page.keyboard.press("Escape")

        page.goto(f"{url}/#/gateway/access-tokens")
        page.get_by_role("table", name="Access tokens").wait_for()
        shot(page, "access-tokens")

        page.goto(f"{url}/#/gateway")
        row(page, "chat").get_by_role("button", name="Try it: chat").click()
        drawer = page.get_by_role("dialog")
        drawer.get_by_role("textbox", name="Message").fill("Hello! Which model are you?")
        drawer.get_by_role("button", name="Send").click()
        drawer.get_by_test_id("answer").filter(has_text="echo").wait_for()
        page.wait_for_timeout(600)  # let the stream finish
        shot(page, "endpoint-try-it", full_page=False)
        browser.close()


if __name__ == "__main__":
    main()
