"""``keyhouse serve``'s app: the gateway, health and readiness answer before the admin
app is built; an admin request that comes sooner waits for it, then is served."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from keyhouse.runtime import Runtime
from keyhouse.services import Services
from keyhouse.serving import ServingApp
from keyhouse.settings import Settings
from keyhouse.testing.fakes.openai import create_app as openai_fake
from keyhouse.testing.fakes.server import ServerThread, serve
from tests.conftest import ADMIN_TOKEN
from tests.replicas import keyhouse_env, replica

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
CHAT = {"model": "chat", "messages": [{"role": "user", "content": "hi"}]}


class HeldBuild(ServingApp):
    """A ServingApp whose admin build waits until the test releases it."""

    def __init__(self, runtime: Runtime) -> None:
        super().__init__(runtime, tune_gc=False)
        self.release = threading.Event()
        self.build_started = threading.Event()

    def _build(self) -> Any:
        self.build_started.set()
        assert self.release.wait(30), "the test never released the build"
        return super()._build()


@pytest.fixture
def fake() -> Iterator[ServerThread]:
    with serve(openai_fake(api_key="sk-fake-serving")) as server:
        yield server


def _configure(services: Services, fake: ServerThread) -> str:
    """A key, an endpoint and a token, made by the services the admin API calls."""
    from keyhouse.admin.schemas import AccessTokenCreate, EndpointCreate, KeyCreate

    key = services.keys.create(
        KeyCreate.model_validate(
            {
                "name": "k",
                "provider": "openai_compatible",
                "credentials": {"api_key": "sk-fake-serving"},
                "config": {"base_url": fake.url + "/v1"},
            }
        ),
        "test",
    )
    services.endpoints.create(
        EndpointCreate.model_validate(
            {"name": "chat", "task": "chat", "targets": [{"key_id": key.id, "model": "gpt-4o"}]}
        ),
        "test",
    )
    return services.tokens.create(AccessTokenCreate(name="app"), "test").token


def test_gateway_and_health_answer_while_the_admin_app_is_still_being_built(
    settings: Settings, services: Services, fake: ServerThread
) -> None:
    token = _configure(services, fake)
    app = HeldBuild(Runtime(settings, services))
    with serve(app) as server, httpx.Client(base_url=server.url, timeout=30) as http:
        assert app.build_started.wait(10)
        health = http.get("/healthz")
        assert health.status_code == 200 and health.json() == {"status": "ok"}
        assert health.headers["x-content-type-options"] == "nosniff"
        ready = http.get("/readyz")
        assert ready.status_code == 200 and ready.json()["status"] == "ready"
        assert http.post("/healthz").status_code == 405
        chat = http.post(
            "/v1/chat/completions", json=CHAT, headers={"Authorization": f"Bearer {token}"}
        )
        assert chat.status_code == 200, chat.text
        assert chat.json()["choices"][0]["message"]["content"]

        # An admin request now waits for the build instead of failing.
        answers: list[httpx.Response] = []
        waiting = threading.Thread(
            target=lambda: answers.append(http.get("/api/v1/keys", headers=ADMIN))
        )
        waiting.start()
        waiting.join(0.5)
        assert waiting.is_alive() and not answers, "answered before the admin app existed"
        app.release.set()
        waiting.join(30)
        assert answers and answers[0].status_code == 200
        assert [k["name"] for k in answers[0].json()["keys"]] == ["k"]
        # Built once: the next admin request goes straight to it.
        assert http.get("/api/v1/endpoints", headers=ADMIN).status_code == 200
        assert http.get("/api/v1/keys").status_code == 401


def test_the_collector_is_tamed_only_once_the_admin_app_is_built(
    settings: Settings, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    tamed: list[bool] = []
    app = HeldBuild(Runtime(settings, services))
    app.tune_gc = True
    monkeypatch.setattr("keyhouse.serving.tame_gc", lambda: tamed.append(app._admin is not None))
    with serve(app) as server:
        assert app.build_started.wait(10)
        assert httpx.get(server.url + "/healthz").status_code == 200
        assert tamed == []
        app.release.set()
        assert httpx.get(server.url + "/api/v1/keys", headers=ADMIN).status_code == 200
    assert tamed == [True]


def test_a_failed_admin_build_leaves_the_gateway_serving(
    settings: Settings, services: Services, caplog: pytest.LogCaptureFixture
) -> None:
    class Broken(ServingApp):
        def _build(self) -> Any:
            raise RuntimeError("secret-looking text that must not be logged")

    with serve(Broken(Runtime(settings, services), tune_gc=False)) as server:
        admin = httpx.get(server.url + "/api/v1/keys", headers=ADMIN)
        assert admin.status_code == 500
        assert httpx.get(server.url + "/healthz").status_code == 200
    assert "the admin app could not be built: RuntimeError" in caplog.text
    assert "secret-looking" not in caplog.text


def _session_cookie(url: str, headers: dict[str, str]) -> str:
    answer = httpx.post(
        f"{url}/api/v1/session",
        json={"token": ADMIN_TOKEN},
        headers=headers,
        timeout=30,
    )
    assert answer.status_code == 204, answer.text
    return answer.headers["set-cookie"].lower()


@pytest.mark.parametrize(
    ("trusted", "forwarded_https_is_secure"), [(None, True), ("10.9.9.9", False)]
)
def test_serve_reads_the_forwarded_scheme_for_the_admin_app_from_trusted_peers_only(
    tmp_path: Path, trusted: str | None, forwarded_https_is_secure: bool
) -> None:
    """``serve`` runs uvicorn without its proxy-headers layer and gives it to the admin
    app alone: behind a TLS proxy on a trusted address (127.0.0.1 by default, or
    FORWARDED_ALLOW_IPS) the session cookie is still Secure; from any other peer the
    header is ignored."""
    home = tmp_path / "home"
    home.mkdir()
    env = keyhouse_env(home)
    env.pop("FORWARDED_ALLOW_IPS", None)  # not from the developer's shell
    if trusted is not None:
        env["FORWARDED_ALLOW_IPS"] = trusted
    with replica(env) as url:
        assert "secure" not in _session_cookie(url, {})
        forwarded = _session_cookie(url, {"x-forwarded-proto": "https"})
        assert ("; secure" in forwarded) is forwarded_https_is_secure, forwarded


def test_serve_does_not_name_its_server_software(tmp_path: Path) -> None:
    """No ``server: uvicorn`` on any answer (it tells a scanner which exploits to try);
    ``date`` stays, as HTTP asks of an origin server with a clock."""
    home = tmp_path / "home"
    home.mkdir()
    with replica(keyhouse_env(home)) as url, httpx.Client(base_url=url, timeout=30) as client:
        answers = [
            client.get("/healthz"),
            client.get("/v1/models"),  # the gateway: 401 without a token
            client.post("/v1/chat/completions", json=CHAT, headers=ADMIN),  # 404 model
            client.get("/api/v1/keys", headers=ADMIN),  # the admin app
            client.get("/"),  # the UI
        ]
    assert [a.status_code for a in answers] == [200, 401, 404, 200, 200]
    for answer in answers:
        assert "server" not in answer.headers, answer.request.url
        assert "date" in answer.headers
