"""An upstream that echoes the key, whole or in part, in its error text and headers: the
caller and every log line see neither the key nor any 8+ character fragment of it, for
every provider and auth method of the catalog (docs/security.md tests 10 and 11)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from keyhouse.providers.catalog import AuthMethod, ProviderSpec
from tests.api.catalog_bodies import METHODS, key_body
from tests.api.conftest import CheckedClient
from tests.api.echo_upstream import echo_upstream, leaked

WITH_SECRETS = [(p, m) for p, m in METHODS if m.secret_fields]


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def log_lines() -> Iterator[list[str]]:
    handler = _Lines()
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    yield handler.lines
    root.removeHandler(handler)


def _pointed_at(provider: ProviderSpec, method: AuthMethod, url: str) -> dict[str, Any]:
    """A valid key for this method whose every URL (and token URI) is the echo."""
    body = key_body(provider, method, "echoed")
    for f in method.config_fields:
        if f.kind == "url":
            body["config"][f.name] = url
    for f in method.secret_fields:
        if f.kind == "json":
            info = json.loads(body["credentials"][f.name])
            body["credentials"][f.name] = json.dumps({**info, "token_uri": url + "/token"})
    return body


def _exercise(client: CheckedClient, body: dict[str, Any]) -> list[Any]:
    key = client.post("/api/v1/keys", json=body)
    assert key.status_code == 201, key.text
    key_id = key.json()["id"]
    client.post(
        "/api/v1/endpoints", json={"name": "echoed", "targets": [{"key_id": key_id, "model": "m"}]}
    )
    token = client.post("/api/v1/access-tokens", json={"name": "app"}).json()["token"]
    return [
        client.post(f"/api/v1/keys/{key_id}/verify"),
        client.post(
            "/v1/chat/completions",
            headers={"Authorization": f"Bearer {token}"},
            json={"model": "echoed", "messages": [{"role": "user", "content": "hi"}]},
        ),
    ]


@pytest.mark.parametrize(
    ("provider", "method"), WITH_SECRETS, ids=[f"{p.id}/{m.id}" for p, m in WITH_SECRETS]
)
def test_an_echoed_secret_is_redacted_for_the_caller_and_the_log(
    client: CheckedClient,
    log_lines: list[str],
    provider: ProviderSpec,
    method: AuthMethod,
    database_url: str,
) -> None:
    if not database_url.startswith("sqlite"):
        pytest.skip("the store plays no part here")
    secrets: list[str] = []
    with echo_upstream(secrets) as url:
        body = _pointed_at(provider, method, url)
        secrets += body["credentials"].values()
        answers = _exercise(client, body)
    for answer in answers:
        assert answer.status_code < 500 or answer.status_code in (502, 503), answer.text
        assert leaked(answer.text, secrets) == [], answer.text
    assert answers[0].json()["status"] != "ok"
    assert log_lines, "nothing was logged: the check would be vacuous"
    assert [line for line in log_lines if leaked(line, secrets)] == []
