"""The OpenAPI schema tells the whole story: every error a route answers is documented
for it, with the error body the API really sends; If-Match is typed."""

from __future__ import annotations

import json
from typing import Any

from keyhouse.admin.error_docs import ErrorBody
from tests.api.conftest import CheckedClient, openai_key

JSON = dict[str, Any]


def _operations(schema: JSON) -> list[tuple[str, str, JSON]]:
    return [(m, p, op) for p, item in schema["paths"].items() for m, op in item.items()]


def test_every_error_status_uses_the_error_schema(client: CheckedClient) -> None:
    schema = client.app.openapi()  # type: ignore[attr-defined]
    for method, path, op in _operations(schema):
        errors = {s for s in op["responses"] if s[0] in "45"}
        assert "500" in errors, (method, path)
        for status in errors:
            ref = op["responses"][status]["content"]["application/json"]["schema"]["$ref"]
            assert ref.endswith("/ErrorBody"), (method, path, status)
    assert "HTTPValidationError" not in json.dumps(schema)  # FastAPI's shape is never sent


def test_if_match_is_typed(client: CheckedClient) -> None:
    schema = client.app.openapi()  # type: ignore[attr-defined]
    headers = [
        p
        for _, _, op in _operations(schema)
        for p in op.get("parameters", [])
        if p["name"].lower() == "if-match"
    ]
    assert len(headers) == 3  # key PATCH, rollback, endpoint PATCH
    for header in headers:
        typed = next(s for s in header["schema"]["anyOf"] if s.get("type") == "string")
        assert typed["pattern"] and header["description"]
    key = client.post("/api/v1/keys", json=openai_key()).json()
    r = client.patch(
        f"/api/v1/keys/{key['id']}", headers={"If-Match": "three"}, json={"description": "x"}
    )
    assert r.status_code == 422 and r.json()["error"]["fields"][0]["field"] == "if-match"
    assert (
        client.patch(
            f"/api/v1/keys/{key['id']}", headers={"If-Match": '"1"'}, json={"description": "x"}
        ).status_code
        == 200
    )


def test_each_error_a_route_answers_is_documented_for_it(client: CheckedClient) -> None:
    """Provoke the errors every route can give and check each against its documentation."""
    schema = client.app.openapi()  # type: ignore[attr-defined]
    key = client.post("/api/v1/keys", json=openai_key()).json()
    client.post(
        "/api/v1/endpoints", json={"name": "chat", "targets": [{"key_id": key["id"], "model": "m"}]}
    )
    seen: set[tuple[str, str, int]] = set()
    for method, path, op in _operations(schema):
        url = path.format(key_id="nope", endpoint_id="nope", token_id="nope")
        attempts: list[dict[str, Any]] = [{"headers": {"Authorization": "Bearer wrong"}}]
        if "{" in path:
            attempts.append({"json": {}} if "requestBody" in op else {})
        if "requestBody" in op:
            attempts += [
                {"content": b"{not json", "headers": {"content-type": "application/json"}},
                {"json": {"unknown_field": 1}},
            ]
        if path == "/api/v1/keys/{key_id}" and method == "patch":
            attempts.append(
                {
                    "url": f"/api/v1/keys/{key['id']}",
                    "json": {"description": "x"},
                    "headers": {"If-Match": "99"},
                }
            )
        if path == "/api/v1/keys/{key_id}" and method == "delete":
            attempts.append({"url": f"/api/v1/keys/{key['id']}"})
        for attempt in attempts:
            target = attempt.pop("url", url)
            r = client.request(method, target, **attempt)
            if r.status_code < 400:
                continue
            assert str(r.status_code) in op["responses"], (method, path, r.status_code, r.text)
            ErrorBody.model_validate(r.json())
            seen.add((method, path, r.status_code))
    statuses = {s for _, _, s in seen}
    assert {400, 401, 404, 409, 412, 422} <= statuses, statuses
