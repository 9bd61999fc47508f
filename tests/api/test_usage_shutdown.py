"""SIGTERM: the records of every call — the one still streaming included — are written
before the process exits, though the writer's timer would not have fired for an hour."""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path

import httpx
from sqlalchemy import select

from keyhouse.store.models import UsageRecordRow
from keyhouse.store.store import Store
from keyhouse.testing.fakes.openai import create_app as openai_fake
from keyhouse.testing.fakes.server import serve
from tests.conftest import ADMIN_TOKEN
from tests.replicas import keyhouse, keyhouse_env, replica_process

UPSTREAM = "sk-drain-" + "u" * 30
AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def test_sigterm_writes_every_queued_record(tmp_path: Path) -> None:
    env = keyhouse_env(tmp_path, KEYHOUSE_USAGE_FLUSH_SECONDS="3600")
    keyhouse("db", "upgrade", env=env)
    with serve(openai_fake(api_key=UPSTREAM)) as fake, replica_process(env) as (url, proc):
        admin = httpx.Client(base_url=url, headers=AUTH, timeout=30)
        key = admin.post(
            "/api/v1/keys",
            json={
                "name": "k",
                "provider": "openai_compatible",
                "credentials": {"api_key": UPSTREAM},
                "config": {"base_url": f"{fake.url}/v1"},
            },
        ).json()
        for name, model in (("chat", "gpt-4o-mini"), ("slow", "slow")):
            admin.post(
                "/api/v1/endpoints",
                json={"name": name, "targets": [{"key_id": key["id"], "model": model}]},
            )
        for _ in range(20):
            r = admin.post(
                "/v1/chat/completions",
                json={"model": "chat", "messages": [{"role": "user", "content": "hello"}]},
            )
            assert r.status_code == 200
        done: dict[str, int] = {}

        def stream() -> None:
            with httpx.stream(
                "POST",
                f"{url}/v1/chat/completions",
                headers=AUTH,
                timeout=30,
                json={
                    "model": "slow",
                    "stream": True,
                    "messages": [{"role": "user", "content": "take your time"}],
                },
            ) as r:
                r.read()
                done["status"] = r.status_code

        caller = threading.Thread(target=stream)
        caller.start()
        time.sleep(1.0)
        proc.send_signal(signal.SIGTERM)
        caller.join(timeout=30)
        assert proc.wait(timeout=30) in (0, -signal.SIGTERM)
    assert done["status"] == 200
    store = Store(f"sqlite:///{tmp_path / 'keyhouse.db'}")
    try:
        with store.read() as session:
            rows = list(session.scalars(select(UsageRecordRow)))
    finally:
        store.dispose()
    assert sorted((r.endpoint_name, r.stream, r.status) for r in rows) == [
        ("chat", False, 200)
    ] * 20 + [("slow", True, 200)]
