"""A token endpoint that accepts the connection and never answers (a blackhole) fails the
call with a 502 naming the auth method within the endpoint's timeout, for every keyless
auth method of the catalog — never a hang, and the provider fake is never asked."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from keyhouse.app import create_app
from keyhouse.services import bootstrap
from keyhouse.testing.fakes.server import serve
from tests.cloud.keyless import (
    AMBIENT,
    AMBIENT_IDS,
    add_key,
    blackhole,
    chat,
    keyless_case,
    point_env,
    settings,
)

TIMEOUT = 2.0  # the endpoint's timeout_seconds
SLACK = 1.5  # scheduling on a shared machine, the answer's own way back


@pytest.mark.parametrize("key", AMBIENT, ids=AMBIENT_IDS)
def test_a_blackholed_token_endpoint_answers_502_within_the_timeout(
    key: tuple[str, str],
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    with keyless_case(key, request, monkeypatch, tmp_path) as case, blackhole() as hole:
        env, config = case.token_at(hole.url)
        point_env(monkeypatch, env)
        case.config.update(config)
        on = settings(tmp_path, ambient=True)
        services = bootstrap(on, migrate=True)
        with serve(create_app(on, services)) as server:
            token = add_key(server.url, case, timeout=TIMEOUT)
            before = case.reached()
            started = time.monotonic()
            r = chat(server.url, token)
            took = time.monotonic() - started
        services.store.dispose()
        assert r.status_code == 502, r.text
        error = r.json()["error"]
        assert error["code"] == "credential_refresh_failed"
        assert case.method in error["message"]
        assert took < TIMEOUT + SLACK, took
        assert hole.accepted >= 1  # the fetch did go there, and got no answer
        assert case.reached() == before  # nothing was sent without a credential
