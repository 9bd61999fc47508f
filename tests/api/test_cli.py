"""The ``keys`` / ``endpoints`` / ``tokens`` commands against a real in-process server.

Every invocation goes through ``run``, which fails the test if any output carries the
canary secret, so the masking and "never from argv" rules are checked on every command.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from keyhouse.cli.client import CliError
from keyhouse.cli.endpoints import parse_target
from keyhouse.cli.key_input import parse_stdin, resolve_method
from keyhouse.services import Services
from tests.api.conftest import Run, make_runner
from tests.conftest import ADMIN_TOKEN, CANARY

AKID = "AKIAIOSFODNN7EXAMPLE"
UNREACHABLE = "http://127.0.0.1:9"


@pytest.fixture
def offline() -> Run:
    """For commands that must fail before any request: nothing listens on port 9, so a
    command that did reach for the server would say "cannot reach" instead."""
    return make_runner(UNREACHABLE)


@pytest.fixture
def tty(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pretend stdin is a terminal, so the commands prompt (CliRunner's stdin is not)."""
    monkeypatch.setattr("keyhouse.cli.client.interactive", lambda: True)


def secret_of(services: Services, key_id: str, field: str = "api_key") -> str:
    return services.registry.credential(key_id).secrets[field]


def key_json(run: Run, name: str) -> dict[str, object]:
    result = run("keys", "get", name, "--json")
    assert result.exit_code == 0, result.output
    data: dict[str, object] = json.loads(result.stdout)
    return data


def make_key(run: Run, name: str, provider: str = "openai", *extra: str) -> str:
    result = run(
        "keys", "create", name, "--provider", provider, "--stdin", *extra, input=CANARY + "\n"
    )
    assert result.exit_code == 0, result.output
    return str(key_json(run, name)["id"])


# --- creating keys --------------------------------------------------------------------


def test_create_from_stdin_value_stdin_json_and_secret_file(
    run: Run, services: Services, tmp_path: Path
) -> None:
    result = run("keys", "create", "main", "-p", "openai", "--stdin", input=CANARY + "\n")
    assert result.exit_code == 0, result.output
    assert result.stdout == "Created key main (openai/api_key): api_key=sk-…7Q7Q\n"
    key_id = str(key_json(run, "main")["id"])
    assert secret_of(services, key_id) == CANARY  # stripped of the newline

    payload = json.dumps({"aws_access_key_id": AKID, "aws_secret_access_key": CANARY})
    result = run(
        "keys",
        "create",
        "aws",
        "-p",
        "bedrock",
        "--config",
        "region=us-east-1",
        "--stdin",
        input=payload,
    )
    assert result.exit_code == 0, result.output
    key = key_json(run, "aws")
    assert key["masked"] == {"aws_access_key_id": "AKIA…MPLE", "aws_secret_access_key": "sk-…7Q7Q"}
    assert key["config"] == {"region": "us-east-1"}
    assert secret_of(services, str(key["id"]), "aws_secret_access_key") == CANARY

    secret = tmp_path / "azure.key"
    secret.write_text(CANARY + "\n")
    result = run(
        "keys",
        "create",
        "azure",
        "-p",
        "openai",
        "-m",
        "azure",
        "-c",
        "endpoint_url=https://my-resource.openai.azure.com",
        "--secret-file",
        f"api_key={secret}",
        "-d",
        "team azure",
    )
    assert result.exit_code == 0, result.output
    key = key_json(run, "azure")
    # The catalog default is filled in, as the web form does.
    assert key["config"] == {
        "endpoint_url": "https://my-resource.openai.azure.com",
        "api_version": "2024-10-21",
    }
    assert key["description"] == "team azure"
    assert secret_of(services, str(key["id"])) == CANARY


def test_bare_stdin_value_is_refused_when_ambiguous(offline: Run) -> None:
    result = offline(
        "keys", "create", "aws", "-p", "bedrock", "-c", "region=us-east-1", "--stdin", input=CANARY
    )
    assert result.exit_code == 2
    assert "several secret fields" in result.stderr
    assert "aws_access_key_id" in result.stderr


def test_create_and_update_prompt_for_secrets_at_a_terminal(
    run: Run, services: Services, tty: None
) -> None:
    result = run("keys", "create", "prompted", "-p", "anthropic", input=CANARY + "\n")
    assert result.exit_code == 0, result.output
    assert "API key (api_key):" in result.output
    key_id = str(key_json(run, "prompted")["id"])
    assert secret_of(services, key_id) == CANARY

    new_secret = "sk-ant-" + "N" * 30
    result = run("keys", "update", "prompted", "--secret", "api_key", input=new_secret + "\n")
    assert result.exit_code == 0, result.output
    assert new_secret not in result.output  # a hidden prompt does not echo
    assert "used by 0 endpoint(s)" in result.stdout
    assert secret_of(services, key_id) == new_secret


def test_missing_secret_without_a_terminal_is_a_clear_error(offline: Run) -> None:
    result = offline("keys", "create", "nokey", "-p", "openai")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: missing required secret: api_key")
    assert "--secret-file" in result.stderr


def test_bad_provider_and_auth_method_are_explained(offline: Run) -> None:
    result = offline("keys", "create", "x", "-p", "openia", "--stdin", input=CANARY)
    assert result.exit_code == 2
    assert "error: unknown provider 'openia'" in result.stderr
    assert "anthropic" in result.stderr
    result = offline("keys", "create", "x", "-p", "openai", "-m", "oauth", "--stdin", input=CANARY)
    assert result.exit_code == 2
    assert "openai has no auth method 'oauth'" in result.stderr
    assert "azure_entra_id" in result.stderr and "client_secret" in result.stderr


def test_secrets_cannot_be_given_on_the_command_line(offline: Run) -> None:
    result = offline("keys", "create", "x", "-p", "openai", "--api-key", CANARY)
    assert result.exit_code == 2
    assert "No such option" in result.output and "--api-key" in result.output
    result = offline("keys", "create", "x", "-p", "openai", "--config", f"api_key={CANARY}")
    assert result.exit_code == 2
    assert "api_key is a secret field" in result.stderr
    result = offline("keys", "list", "--token", ADMIN_TOKEN)
    assert result.exit_code == 2
    assert "No such option" in result.output and "--token" in result.output


# --- reading keys ---------------------------------------------------------------------


def test_list_and_get_show_masks_and_endpoints(run: Run) -> None:
    key_id = make_key(run, "main")
    make_key(run, "claude", "anthropic")
    assert run("endpoints", "create", "chat", "-t", "main:gpt-4o-mini").exit_code == 0

    listing = run("keys", "list")
    assert listing.exit_code == 0, listing.output
    header, *rows = listing.stdout.splitlines()
    assert header.split() == [
        "NAME",
        "PROVIDER",
        "AUTH",
        "METHOD",
        "CREDENTIAL",
        "ENDPOINTS",
        "AGE",
        "UPDATED",
    ]
    assert [row.split()[:5] for row in rows] == [
        ["claude", "anthropic", "api_key", "api_key=sk-…7Q7Q", "-"],
        ["main", "openai", "api_key", "api_key=sk-…7Q7Q", "chat"],
    ]

    only = run("keys", "list", "--provider", "anthropic", "--json")
    assert [k["name"] for k in json.loads(only.stdout)] == ["claude"]
    assert [k["name"] for k in json.loads(run("keys", "list", "-s", "mai", "--json").stdout)] == [
        "main"
    ]

    for ref in ("main", key_id):
        shown = run("keys", "get", ref)
        assert shown.exit_code == 0
        assert f"id:             {key_id}" in shown.stdout
        assert "credential:     api_key=sk-…7Q7Q" in shown.stdout
        assert "endpoints:      chat" in shown.stdout
    missing = run("keys", "get", "nope")
    assert missing.exit_code == 1
    assert missing.stderr == "error: not_found: no API key named 'nope'\n"


# --- updating keys --------------------------------------------------------------------


def test_update_secret_config_and_name(run: Run, services: Services, tmp_path: Path) -> None:
    key_id = make_key(run, "main")
    assert run("endpoints", "create", "chat", "-t", "main:gpt-4o").exit_code == 0
    new_secret = CANARY[::-1] + "ZZZZ"

    result = run("keys", "update", "main", "--stdin", input=new_secret)
    assert result.exit_code == 0, result.output
    assert result.stdout == "Updated key main (version 2); used by 1 endpoint(s): chat\n"
    assert secret_of(services, key_id) == new_secret
    assert key_json(run, "main")["masked"] == {"api_key": "…ZZZZ"}

    result = run("keys", "update", key_id, "-c", "organization=org-42", "-d", "prod")
    assert result.exit_code == 0, result.output
    key = key_json(run, "main")
    assert key["config"] == {"organization": "org-42"} and key["description"] == "prod"

    assert run("keys", "update", "main", "--unset-config", "organization").exit_code == 0
    assert key_json(run, "main")["config"] == {}

    result = run("keys", "update", "main", "--name", "renamed")
    assert result.exit_code == 0, result.output
    assert key_json(run, "renamed")["id"] == key_id
    assert run("keys", "get", "main").exit_code == 1
    assert secret_of(services, key_id) == new_secret  # kept when not mentioned


def test_update_errors_are_one_clear_line_per_problem(run: Run) -> None:
    make_key(run, "main")
    moved = run("keys", "update", "main", "-c", "base_url=https://elsewhere.example/v1")
    assert moved.exit_code == 2
    assert moved.stderr.startswith("error: changing base_url requires re-entering: api_key")

    result = run("keys", "update", "main", "--name", "no spaces allowed", "-d", "x" * 501)
    assert result.exit_code == 1
    first, *fields = result.stderr.splitlines()
    assert first.startswith("error: validation_error: ")
    assert {f.split(":")[0].strip() for f in fields} >= {"name", "description"}

    stale = run("keys", "update", "main", "-d", "x", "--if-match", "7")
    assert stale.exit_code == 1
    assert stale.stderr.startswith("error: version_mismatch: ")
    assert run("keys", "update", "main", "-d", "x", "--if-match", "1").exit_code == 0

    nothing = run("keys", "update", "main")
    assert nothing.exit_code == 2 and "nothing to change" in nothing.stderr


# --- deleting keys --------------------------------------------------------------------


def test_delete_in_use_lists_endpoints_and_force_deletes(run: Run) -> None:
    make_key(run, "main")
    assert run("endpoints", "create", "chat", "-t", "main:gpt-4o").exit_code == 0
    assert run("endpoints", "create", "chat2", "-t", "main:gpt-4o-mini").exit_code == 0

    refused = run("keys", "delete", "main", "--yes")
    assert refused.exit_code == 1
    assert refused.stderr.startswith("error: key_in_use: ")
    assert "endpoint chat\n" in refused.stderr and "endpoint chat2\n" in refused.stderr
    assert run("keys", "get", "main").exit_code == 0

    declined = run("keys", "delete", "main", "--force", input="n\n")
    assert declined.exit_code == 1
    assert run("keys", "get", "main").exit_code == 0

    forced = run("keys", "delete", "main", "--force", input="y\n")
    assert forced.exit_code == 0, forced.output
    assert "Deleted key main" in forced.stdout
    assert run("keys", "get", "main").exit_code == 1
    assert "(no key):gpt-4o" in run("endpoints", "get", "chat").stdout


# --- endpoints ------------------------------------------------------------------------


def test_endpoints_with_two_targets(run: Run) -> None:
    main_id = make_key(run, "main")
    claude_id = make_key(run, "claude", "anthropic")
    result = run(
        "endpoints",
        "create",
        "chat",
        "-t",
        "main:gpt-4o:3",
        "-t",
        f"{claude_id}:claude-sonnet-4-5:fallback",
        "--timeout",
        "30",
        "--max-retries",
        "2",
    )
    assert result.exit_code == 0, result.output
    assert "main:gpt-4o:3, claude:claude-sonnet-4-5:fallback" in result.stdout

    got = json.loads(run("endpoints", "get", "chat", "--json").stdout)
    assert [(t["key_id"], t["model"], t["weight"], t["role"]) for t in got["targets"]] == [
        (main_id, "gpt-4o", 3, "primary"),
        (claude_id, "claude-sonnet-4-5", 1, "fallback"),
    ]
    assert got["timeout_seconds"] == 30 and got["max_retries"] == 2

    listing = run("endpoints", "list").stdout
    assert "main:gpt-4o:3, claude:claude-sonnet-4-5:fallback" in listing
    assert "30s" in listing

    updated = run(
        "endpoints", "update", got["id"], "-t", "claude:claude-haiku-4-5", "--name", "chat-b"
    )
    assert updated.exit_code == 0, updated.output
    got = json.loads(run("endpoints", "get", "chat-b", "--json").stdout)
    assert [t["model"] for t in got["targets"]] == ["claude-haiku-4-5"]

    unknown = run("endpoints", "create", "x", "-t", "ghost:gpt-4o")
    assert unknown.exit_code == 1 and "no API key named 'ghost'" in unknown.stderr
    assert run("endpoints", "delete", "chat-b", "--yes").exit_code == 0
    assert run("endpoints", "list", "--json").stdout.strip() == "[]"


# --- access tokens --------------------------------------------------------------------


def test_tokens_create_list_delete(run: Run) -> None:
    make_key(run, "main")
    assert run("endpoints", "create", "chat", "-t", "main:gpt-4o").exit_code == 0

    created = run("tokens", "create", "app", "-q", "-e", "chat")
    assert created.exit_code == 0, created.output
    token = created.stdout.strip()
    assert created.stdout == token + "\n" and token.startswith("kh_")
    assert created.stderr == ""
    loud = run("tokens", "create", "other")
    assert loud.stdout.count("\n") == 1 and "shown only now" in loud.stderr

    listing = run("tokens", "list")
    assert listing.exit_code == 0
    assert token not in listing.output
    assert "app" in listing.stdout and token[:8] in listing.stdout
    assert "all endpoints" in listing.stdout

    assert run("tokens", "delete", "app", "--yes").exit_code == 0
    names = [t["name"] for t in json.loads(run("tokens", "list", "--json").stdout)]
    assert names == ["other"]
    bad = run("tokens", "create", "x", "-e", "ghost")
    assert bad.exit_code == 1 and "endpoints.0:" in bad.stderr


# --- the admin token ------------------------------------------------------------------


def test_admin_token_sources(run: Run, tmp_path: Path) -> None:
    wrong = run("keys", "list", env={"KEYHOUSE_ADMIN_TOKEN": "kh_admin_wrong"})
    assert wrong.exit_code == 1 and wrong.stderr.startswith("error: unauthorized: ")

    token_file = tmp_path / "admin-token"
    token_file.write_text(ADMIN_TOKEN + "\n")
    from_file = run(
        "keys", "list", "--token-file", str(token_file), env={"KEYHOUSE_ADMIN_TOKEN": None}
    )
    assert from_file.exit_code == 0, from_file.output


def test_no_admin_token_and_no_server(offline: Run) -> None:
    missing = offline("keys", "list", env={"KEYHOUSE_ADMIN_TOKEN": None})
    assert missing.exit_code == 2
    assert missing.stderr.startswith("error: no admin token: set KEYHOUSE_ADMIN_TOKEN")
    down = offline("keys", "list")
    assert down.exit_code == 1
    assert down.stderr == f"error: cannot reach Keyhouse at {UNREACHABLE}: ConnectError\n"


# --- pure parsing (no server) ---------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("k:gpt-4o", ("k", "gpt-4o", 1, "primary")),
        ("k:gpt-4o:5:fallback", ("k", "gpt-4o", 5, "fallback")),
        ("k:llama3:8b", ("k", "llama3:8b", 1, "primary")),
        ("k:anthropic.claude-v2:0", ("k", "anthropic.claude-v2:0", 1, "primary")),
        ("k:amazon.nova-v1:1:1", ("k", "amazon.nova-v1:1", 1, "primary")),
    ],
)
def test_parse_target(text: str, parsed: tuple[str, str, int, str]) -> None:
    t = parse_target(text)
    assert (t["key"], t["model"], t["weight"], t["role"]) == parsed


@pytest.mark.parametrize("text", ["k", "k:", ":gpt-4o", "k::fallback"])
def test_parse_target_rejects(text: str) -> None:
    with pytest.raises(CliError):
        parse_target(text)


def test_parse_stdin_for_a_service_account_document() -> None:
    _, method = resolve_method("vertex_ai", None)
    document = json.dumps({"type": "service_account", "client_email": "a@b.iam"})
    assert parse_stdin(method, document + "\n") == {"service_account_json": document}
    wrapped = json.dumps({"service_account_json": {"type": "service_account"}})
    assert parse_stdin(method, wrapped) == {
        "service_account_json": json.dumps({"type": "service_account"})
    }


def test_top_level_help_lists_every_command_without_importing_them() -> None:
    """``keyhouse --help`` reads the summaries in keyhouse/cli/__init__.py; each must be
    its command's own short help, and listing them must not load the commands."""
    import subprocess
    import sys

    import click

    from keyhouse.cli import COMMANDS, SUMMARIES, main

    ctx = click.Context(main)
    assert set(SUMMARIES) == set(COMMANDS)
    for name in COMMANDS:
        command = main.get_command(ctx, name)
        assert command is not None
        assert SUMMARIES[name] == command.get_short_help_str(limit=1000), name
    code = (
        "import sys\n"
        "from keyhouse.cli import main\n"
        "try:\n"
        "    main(['--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "print('LOADED', sorted(m for m in sys.modules if m.startswith('keyhouse.cli.')"
        " or m.split('.')[0] in ('sqlalchemy', 'pydantic')))\n"
    )
    shown = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert shown.returncode == 0, shown.stderr
    for name in COMMANDS:
        assert name in shown.stdout
    assert shown.stdout.splitlines()[-1] == "LOADED []"
