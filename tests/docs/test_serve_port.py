"""What the README says about ports: ``--port``/``KEYHOUSE_PORT`` pick it, and a second
server on a port that is taken says so (and how to fix it) instead of a bare errno."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from keyhouse.testing.fakes.server import free_port


def _env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEYHOUSE_")}
    return {**env, "KEYHOUSE_HOME": str(home), **extra}


@pytest.mark.parametrize("how", ["--port", "KEYHOUSE_PORT"])
def test_a_taken_port_is_named_with_the_way_out(tmp_path: Path, how: str) -> None:
    port = free_port()
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", port))
        holder.listen()
        args = ["--port", str(port)] if how == "--port" else []
        extra = {"KEYHOUSE_PORT": str(port)} if how == "KEYHOUSE_PORT" else {}
        result = subprocess.run(
            [sys.executable, "-m", "keyhouse", "serve", *args],
            env=_env(tmp_path / "home", **extra),
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 2, result.stderr
    assert f"127.0.0.1:{port} is already in use" in result.stderr
    assert "--port or KEYHOUSE_PORT" in result.stderr
    assert not (tmp_path / "home").exists(), "it did start-up work before checking the port"
