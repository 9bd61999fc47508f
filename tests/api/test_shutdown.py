"""SIGTERM drains in-flight requests and streams instead of cutting them off."""

from __future__ import annotations

import json
import signal
import threading
import time
from pathlib import Path

import httpx

from keyhouse.testing.fakes.openai import create_app as openai_fake
from keyhouse.testing.fakes.server import serve
from tests.conftest import ADMIN_TOKEN
from tests.replicas import keyhouse, keyhouse_env, replica_process

UPSTREAM = "sk-drain-" + "d" * 30


def test_sigterm_lets_an_in_flight_stream_finish(tmp_path: Path) -> None:
    env = keyhouse_env(tmp_path)
    keyhouse("db", "upgrade", env=env)
    with serve(openai_fake(api_key=UPSTREAM)) as fake, replica_process(env) as (url, proc):
        admin = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
        key = admin.post(
            "/api/v1/keys",
            json={
                "name": "k",
                "provider": "openai_compatible",
                "credentials": {"api_key": UPSTREAM},
                "config": {"base_url": f"{fake.url}/v1"},
            },
        ).json()
        # "slow": the fake waits 3 s before its first byte, so the stream is in flight.
        admin.post(
            "/api/v1/endpoints",
            json={"name": "slow", "targets": [{"key_id": key["id"], "model": "slow"}]},
        )
        result: dict[str, object] = {}

        def call() -> None:
            with httpx.stream(
                "POST",
                f"{url}/v1/chat/completions",
                timeout=30,
                headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
                json={
                    "model": "slow",
                    "stream": True,
                    "messages": [{"role": "user", "content": "take your time"}],
                },
            ) as r:
                result["status"] = r.status_code
                result["body"] = r.read().decode()

        caller = threading.Thread(target=call)
        caller.start()
        time.sleep(1.0)
        proc.send_signal(signal.SIGTERM)
        caller.join(timeout=30)
        # uvicorn re-raises the signal once it has drained, so the exit status is -SIGTERM.
        assert proc.wait(timeout=30) in (0, -signal.SIGTERM)
        assert not caller.is_alive()
    assert result["status"] == 200
    body = str(result["body"])
    assert "echo: take your time" not in body  # the answer comes a word at a time...
    deltas = [
        json.loads(line[6:])["choices"] for line in body.splitlines() if line.startswith("data: {")
    ]
    assert " your" in [c[0]["delta"].get("content") for c in deltas if c]
    assert body.rstrip().endswith("data: [DONE]")
