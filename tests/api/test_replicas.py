"""Two real server processes on one database: an edit or a KEK rotation made anywhere
reaches every replica within a second, under load, with no failed request (SECURITY.md
tests 7 and 15, and issue 5's walk-through with the real CLI)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from keyhouse.testing.fakes.openai import create_app as openai_fake
from keyhouse.testing.fakes.server import ServerThread, serve
from tests.api.test_rotation import Load
from tests.conftest import ADMIN_TOKEN
from tests.replicas import keyhouse, keyhouse_env, replica

OLD = "sk-old-upstream-" + "o" * 24
NEW = "sk-new-upstream-" + "n" * 24
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@pytest.fixture
def fake() -> Iterator[ServerThread]:
    # The fake accepts only NEW, so a request that used OLD after the switch would fail.
    with serve(openai_fake(api_key=NEW)) as server:
        yield server


@pytest.fixture
def two_replicas(tmp_path: Path, database_url: str) -> Iterator[tuple[dict[str, str], str, str]]:
    env = keyhouse_env(tmp_path, database_url)
    keyhouse("db", "upgrade", env=env)
    with replica(env) as a, replica(env) as b:
        yield env, a, b


def _key_and_endpoints(base: str, fake: ServerThread, secret: str) -> tuple[str, str]:
    with httpx.Client(base_url=base, headers=ADMIN) as c:
        key = c.post(
            "/api/v1/keys",
            json={
                "name": "shared",
                "provider": "openai_compatible",
                "credentials": {"api_key": secret},
                "config": {"base_url": fake.url + "/v1"},
            },
        ).json()
        for name in ("alpha", "beta"):
            r = c.post(
                "/api/v1/endpoints",
                json={"name": name, "targets": [{"key_id": key["id"], "model": "gpt-4o"}]},
            )
            assert r.status_code == 201, r.text
        token = c.post("/api/v1/access-tokens", json={"name": "load"}).json()["token"]
    return key["id"], token


def _status(base: str, token: str) -> int:
    r = httpx.post(
        base + "/v1/chat/completions",
        headers={"Authorization": f"Bearer {token}"},
        json={"model": "alpha", "messages": [{"role": "user", "content": "hi"}]},
        timeout=10,
    )
    return r.status_code


def test_key_edit_reaches_every_replica_within_a_second(
    two_replicas: tuple[dict[str, str], str, str], fake: ServerThread
) -> None:
    _, a, b = two_replicas
    key_id, token = _key_and_endpoints(a, fake, OLD)
    time.sleep(0.5)
    assert _status(a, token) == 401 and _status(b, token) == 401  # OLD is refused upstream
    r = httpx.patch(
        f"{a}/api/v1/keys/{key_id}", headers=ADMIN, json={"credentials": {"api_key": NEW}}
    )
    assert r.status_code == 200
    assert _status(a, token) == 200  # the replica that took the edit: the very next request
    started = time.monotonic()
    while _status(b, token) != 200:
        assert time.monotonic() - started < 1.0, "replica b still used the old credential"
        time.sleep(0.05)
    with Load(a, token, ["alpha", "beta"]) as load_a, Load(b, token, ["beta"]) as load_b:
        time.sleep(0.3)
        # Edit other fields under load: no 5xx, no failure.
        for i in range(5):
            httpx.patch(
                f"{a}/api/v1/keys/{key_id}",
                headers=ADMIN,
                json={"description": f"edit {i}", "credentials": {"api_key": NEW}},
            )
            time.sleep(0.1)
    assert load_a.failures == [] and load_b.failures == []
    assert load_a.ok > 5 and load_b.ok > 5
    assert fake.app.state.calls[-1].headers["authorization"] == f"Bearer {NEW}"


def test_kek_rotate_with_the_cli_under_load(
    two_replicas: tuple[dict[str, str], str, str], fake: ServerThread
) -> None:
    env, a, b = two_replicas
    _, token = _key_and_endpoints(a, fake, NEW)
    before = keyhouse("kek", "status", env=env).stdout
    assert "primary" in before
    with Load(a, token, ["alpha", "beta"]) as load_a, Load(b, token, ["alpha"]) as load_b:
        time.sleep(0.3)
        rotated = keyhouse("kek", "rotate", "--new", env=env)
        time.sleep(1.0)
    assert "re-wrapping DEKs" in rotated.stderr, rotated.stderr
    assert "done: 1 re-wrapped" in rotated.stdout
    assert load_a.failures == [] and load_b.failures == []
    assert load_a.ok > 5 and load_b.ok > 5
    status = keyhouse("kek", "status", env=env).stdout.splitlines()
    v1 = next(line for line in status if line.split()[0] == "1").split()
    v2 = next(line for line in status if line.split()[0] == "2").split()
    assert v1[1] == "active" and v1[-1] == "0"
    assert v2[1] == "primary" and v2[-1] == "1"
    retired = keyhouse("kek", "retire", "1", env=env)
    assert "retired" in retired.stdout
    refused = keyhouse("kek", "retire", "2", env=env, check=False)
    assert refused.returncode != 0 and "primary" in refused.stderr
    # Both replicas keep serving after the old KEK is retired.
    assert _status(a, token) == 200 and _status(b, token) == 200
