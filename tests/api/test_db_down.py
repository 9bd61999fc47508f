"""Database down: the gateway keeps serving from memory; admin writes answer 503 and
change nothing; every request gets an answer (SECURITY.md "Reliability")."""

from __future__ import annotations

import time

import httpx
import pytest

from keyhouse.app import create_app
from keyhouse.services import Services
from keyhouse.settings import Settings
from keyhouse.store.db import make_engine, make_sessionmaker
from keyhouse.testing.fakes.openai import create_app as openai_fake
from keyhouse.testing.fakes.server import serve
from tests.conftest import ADMIN_TOKEN

UPSTREAM = "sk-up-" + "u" * 30
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_gateway_serves_from_memory_while_the_database_is_down(
    settings: Settings, services: Services
) -> None:
    settings = settings.model_copy(update={"poll_interval_seconds": 0.05, "max_stale_seconds": 1.0})
    services.registry._max_stale = 1.0
    with (
        serve(openai_fake(api_key=UPSTREAM)) as fake,
        serve(create_app(settings, services)) as server,
    ):
        admin = httpx.Client(base_url=server.url, headers=ADMIN, timeout=10)
        key = admin.post(
            "/api/v1/keys",
            json={
                "name": "k",
                "provider": "openai_compatible",
                "credentials": {"api_key": UPSTREAM},
                "config": {"base_url": f"{fake.url}/v1"},
            },
        ).json()
        admin.post(
            "/api/v1/endpoints",
            json={"name": "chat", "targets": [{"key_id": key["id"], "model": "m"}]},
        )
        token = admin.post("/api/v1/access-tokens", json={"name": "t"}).json()["token"]
        gw = httpx.Client(
            base_url=server.url, timeout=10, headers={"Authorization": f"Bearer {token}"}
        )
        body = {"model": "chat", "messages": [{"role": "user", "content": "hi"}]}
        assert gw.post("/v1/chat/completions", json=body).status_code == 200

        # Pull the database away: nothing listens on port 1.
        dead = make_engine("postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=1")
        services.store.engine, services.store._sessions = dead, make_sessionmaker(dead)
        services.store._write_sessions = make_sessionmaker(dead)
        time.sleep(0.3)
        assert gw.post("/v1/chat/completions", json=body).status_code == 200
        r = admin.post(
            "/api/v1/keys",
            json={"name": "k2", "provider": "openai", "credentials": {"api_key": UPSTREAM}},
        )
        assert r.status_code == 503
        assert r.json()["error"]["code"] == "unavailable"
        assert "127.0.0.1:1" not in r.text and "psycopg" not in r.text
        assert httpx.get(f"{server.url}/readyz").status_code == 503
        # Past the bound, the gateway says so instead of serving a config it cannot check.
        time.sleep(1.3)
        late = gw.post("/v1/chat/completions", json=body)
        assert late.status_code == 503
        assert late.json()["error"]["message"]
