"""``keyhouse serve`` loads what serving needs before its first answer: not the CLI's
API-client commands, not a provider's SDK, not FastAPI or the admin API (built after
start-up, ``keyhouse.serving``)."""

from __future__ import annotations

import subprocess
import sys

PROBE = """
import sys
import click
from keyhouse.cli import main
serve = main.get_command(click.Context(main), "serve")
assert serve is not None
import keyhouse.serving
print(",".join(sorted(m for m in sys.modules if m.split(".")[0] in {
    "httpx", "httpcore", "botocore", "google", "fastapi"} or m.startswith("keyhouse.cli.") and
    m not in {"keyhouse.cli.server"} or m.startswith("keyhouse.admin.") and
    m not in {"keyhouse.admin.sessions"} or m in {"keyhouse.app", "keyhouse.http_errors"})))
"""


def test_serve_does_not_import_cli_only_provider_only_or_admin_modules() -> None:
    out = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, timeout=60
    )
    # botocore and google-auth load with the first Bedrock or Vertex key, not at start.
    assert out.stdout.strip() == ""


def test_every_command_still_resolves() -> None:
    from click.testing import CliRunner

    from keyhouse.cli import COMMANDS, main

    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    for name in COMMANDS:
        assert name in result.output
        assert CliRunner().invoke(main, [name, "--help"]).exit_code == 0
