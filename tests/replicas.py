"""Real ``keyhouse serve`` processes for tests that need replicas or the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from keyhouse.testing.fakes.server import free_port
from tests.conftest import ADMIN_TOKEN


def keyhouse_env(home: Path, database_url: str | None = None, **extra: str) -> dict[str, str]:
    # Settings from the developer's own shell must not leak into the server under test.
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("KEYHOUSE_")}
    env = {
        **inherited,
        "KEYHOUSE_HOME": str(home),
        "KEYHOUSE_ADMIN_TOKEN": ADMIN_TOKEN,
        "KEYHOUSE_ALLOW_PRIVATE_UPSTREAMS": "true",
        "KEYHOUSE_LOG_LEVEL": "warning",
        **extra,
    }
    if database_url:
        env["KEYHOUSE_DATABASE_URL"] = database_url
    return env


def keyhouse(
    *args: str, env: dict[str, str], input: str | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "keyhouse", *args],
        env=env,
        input=input,
        capture_output=True,
        text=True,
        timeout=120,
        check=check,
    )


@contextmanager
def replica(env: dict[str, str]) -> Iterator[str]:
    with replica_process(env) as (url, _):
        yield url


@contextmanager
def replica_process(env: dict[str, str]) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    port = free_port()
    log = open(Path(env["KEYHOUSE_HOME"]) / f"serve-{port}.log", "w")  # noqa: SIM115
    proc = subprocess.Popen(
        [sys.executable, "-m", "keyhouse", "serve", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                log.close()
                raise RuntimeError(Path(log.name).read_text()[-2000:])
            time.sleep(0.1)
        yield url, proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
