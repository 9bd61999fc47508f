"""Schemathesis over the admin API, on SQLite and PostgreSQL: whatever the schema allows
(and the near misses it generates), the answer is never a 5xx. Bounded per operation so
the whole run stays around a minute on a small machine."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.schemas import OpenApiSchema

from keyhouse.app import create_app
from keyhouse.services import Services
from keyhouse.settings import Settings
from keyhouse.testing.fakes.server import serve
from tests.api.conftest import openai_key
from tests.conftest import ADMIN_TOKEN

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
EXAMPLES_PER_OPERATION = 8  # per operation and mode (valid, and near misses)


@pytest.fixture
def admin_api(settings: Settings, services: Services) -> Iterator[tuple[OpenApiSchema, str]]:
    app = create_app(settings, services)
    with serve(app) as server:
        # A key and an endpoint, so the list routes answer with data, not empty lists.
        with httpx.Client(base_url=server.url, headers=AUTH) as api:
            key = api.post("/api/v1/keys", json=openai_key()).json()
            api.post(
                "/api/v1/endpoints",
                json={"name": "chat", "targets": [{"key_id": key["id"], "model": "gpt-4o"}]},
            )
        yield schemathesis.openapi.from_dict(app.openapi()), server.url


def test_no_admin_input_causes_a_5xx(admin_api: tuple[OpenApiSchema, str]) -> None:
    schema, base_url = admin_api
    operations = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result
        operations.append(result.ok())
    assert len(operations) >= 15  # every admin route, not a vacuous run
    seen: dict[str, int] = {}
    for operation, mode in itertools.product(operations, GenerationMode):

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def no_5xx(case: Any) -> None:
            response = case.call(base_url=base_url, headers=AUTH)
            assert response.status_code < 500, (
                case.method,
                case.formatted_path,
                response.text[:300],
            )
            seen[case.method] = seen.get(case.method, 0) + 1

        try:
            no_5xx()
        except Unsatisfiable:
            # An operation with no input (GET /providers) has no near miss to make.
            assert mode is GenerationMode.NEGATIVE, operation.label
    assert sum(seen.values()) >= len(operations)
