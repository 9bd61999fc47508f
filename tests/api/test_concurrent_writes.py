"""Twenty concurrent writers carrying the same If-Match: exactly one wins, every other one
gets 412, and the audit trail has one row per version — on SQLite and PostgreSQL."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from threading import Barrier

import httpx
from sqlalchemy import func, select

from keyhouse.services import Services
from keyhouse.store.models import AuditEventRow
from tests.api.conftest import openai_key
from tests.conftest import ADMIN_TOKEN

WRITERS = 20
ROUNDS = 3


def _race(url: str, send: Callable[[httpx.Client, int], httpx.Response]) -> Counter[int]:
    barrier = Barrier(WRITERS)
    clients = [
        httpx.Client(base_url=url, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=60)
        for _ in range(WRITERS)
    ]

    def one(i: int) -> int:
        barrier.wait()
        return send(clients[i], i).status_code

    try:
        with ThreadPoolExecutor(WRITERS) as pool:
            return Counter(pool.map(one, range(WRITERS)))
    finally:
        for c in clients:
            c.close()


def _audits(services: Services, action: str, target_id: str) -> int:
    with services.store.read() as session:
        return int(
            session.scalar(
                select(func.count())
                .select_from(AuditEventRow)
                .where(AuditEventRow.action == action, AuditEventRow.target_id == target_id)
            )
            or 0
        )


def _admin(url: str) -> httpx.Client:
    return httpx.Client(base_url=url, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})


def test_concurrent_key_patches_have_one_winner(server_url: str, services: Services) -> None:
    with _admin(server_url) as api:
        key = api.post("/api/v1/keys", json=openai_key()).json()
        for round_ in range(ROUNDS):
            version = api.get(f"/api/v1/keys/{key['id']}").json()["version"]
            answers = _race(
                server_url,
                lambda c, i: c.patch(
                    f"/api/v1/keys/{key['id']}",
                    headers={"If-Match": str(version)},
                    json={"description": f"round {round_} writer {i}"},
                ),
            )
            assert answers == Counter({200: 1, 412: WRITERS - 1}), answers
        final = api.get(f"/api/v1/keys/{key['id']}").json()
    assert final["version"] == 1 + ROUNDS
    assert _audits(services, "key.update", key["id"]) == ROUNDS


def test_concurrent_endpoint_patches_have_one_winner(server_url: str, services: Services) -> None:
    with _admin(server_url) as api:
        key = api.post("/api/v1/keys", json=openai_key()).json()
        ep = api.post(
            "/api/v1/endpoints",
            json={"name": "chat", "targets": [{"key_id": key["id"], "model": "gpt-4o"}]},
        ).json()
        for round_ in range(ROUNDS):
            version = api.get(f"/api/v1/endpoints/{ep['id']}").json()["version"]
            answers = _race(
                server_url,
                lambda c, i: c.patch(
                    f"/api/v1/endpoints/{ep['id']}",
                    headers={"If-Match": str(version)},
                    json={"description": f"round {round_} writer {i}"},
                ),
            )
            assert answers == Counter({200: 1, 412: WRITERS - 1}), answers
        final = api.get(f"/api/v1/endpoints/{ep['id']}").json()
    assert final["version"] == 1 + ROUNDS
    assert _audits(services, "endpoint.update", ep["id"]) == ROUNDS


def test_concurrent_key_rollbacks_have_one_winner(server_url: str, services: Services) -> None:
    with _admin(server_url) as api:
        key = api.post("/api/v1/keys", json=openai_key()).json()
        api.patch(
            f"/api/v1/keys/{key['id']}", json={"credentials": {"api_key": "sk-second-" + "b" * 30}}
        )
        version = api.get(f"/api/v1/keys/{key['id']}").json()["version"]
        answers = _race(
            server_url,
            lambda c, i: c.post(
                f"/api/v1/keys/{key['id']}/rollback",
                headers={"If-Match": str(version)},
                json={"version": 1},
            ),
        )
    assert answers == Counter({200: 1, 412: WRITERS - 1}), answers
    assert _audits(services, "key.rollback", key["id"]) == 1


def test_concurrent_token_deletes_have_one_winner(server_url: str, services: Services) -> None:
    with _admin(server_url) as api:
        token = api.post("/api/v1/access-tokens", json={"name": "app"}).json()
    answers = _race(server_url, lambda c, i: c.delete(f"/api/v1/access-tokens/{token['id']}"))
    assert answers == Counter({204: 1, 404: WRITERS - 1}), answers
    assert _audits(services, "access_token.delete", token["id"]) == 1
