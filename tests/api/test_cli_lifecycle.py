"""``keyhouse keys versions / rollback / verify / list --due`` against a real server."""

from __future__ import annotations

from datetime import timedelta

from keyhouse.services import Services
from keyhouse.store.models import ApiKeyRow
from keyhouse.testing.fakes.openai import create_app as openai_fake
from keyhouse.testing.fakes.server import serve
from tests.api.conftest import Run
from tests.api.test_cli import key_json, secret_of
from tests.conftest import CANARY

GOOD = "sk-good-upstream-" + "g" * 24


def test_versions_rollback_and_verify(run: Run, services: Services) -> None:
    with serve(openai_fake(api_key=GOOD)) as fake:
        created = run(
            "keys",
            "create",
            "svc",
            "-p",
            "openai_compatible",
            "-c",
            f"base_url={fake.url}/v1",
            "--stdin",
            input=GOOD,
        )
        assert created.exit_code == 0, created.output
        ok = run("keys", "verify", "svc")
        assert ok.exit_code == 0 and ok.stdout.startswith("ok:")
        assert run("keys", "update", "svc", "--stdin", input=CANARY).exit_code == 0
        rejected = run("keys", "verify", "svc")
        assert rejected.exit_code == 1 and rejected.stdout.startswith("rejected:")
        listing = run("keys", "versions", "svc")
        assert listing.exit_code == 0
        lines = listing.stdout.splitlines()
        assert lines[1].split()[0:2] == ["2", "(current)"] and lines[2].split()[0] == "1"
        back = run("keys", "rollback", "svc", "1")
        assert back.exit_code == 0, back.output
        assert "version 3" in back.stdout
        key_id = str(key_json(run, "svc")["id"])
        assert secret_of(services, key_id) == GOOD
        assert run("keys", "verify", "svc").exit_code == 0


def test_list_due_shows_only_keys_due_for_rotation(run: Run, services: Services) -> None:
    for name, days in (("fresh", "90"), ("stale", "30")):
        r = run(
            "keys",
            "create",
            name,
            "-p",
            "openai",
            "--rotate-after-days",
            days,
            "--stdin",
            input=CANARY,
        )
        assert r.exit_code == 0, r.output
    assert run("keys", "list", "--due").stderr.strip() == "No API keys due for rotation."
    stale_id = str(key_json(run, "stale")["id"])
    with services.store.write() as session:
        row = session.get(ApiKeyRow, stale_id)
        assert row is not None
        row.credential_updated_at -= timedelta(days=45)
    due = run("keys", "list", "--due")
    assert due.exit_code == 0
    names = [line.split()[0] for line in due.stdout.splitlines()[1:]]
    assert names == ["stale"]
    assert "45d (rotation due)" in due.stdout
    assert run("keys", "update", "stale", "--rotate-after-days", "0").exit_code == 0
    assert run("keys", "list", "--due").stdout == ""
