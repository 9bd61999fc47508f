"""The web UI's typed client is generated from frontend/openapi.json; this keeps that file
the admin API's real schema (regenerate with the command in the message)."""

from __future__ import annotations

import json
from pathlib import Path

from keyhouse.openapi import schema

COMMITTED = Path(__file__).resolve().parents[2] / "frontend" / "openapi.json"


def test_the_ui_client_schema_matches_the_admin_api() -> None:
    assert json.loads(COMMITTED.read_text()) == json.loads(json.dumps(schema())), (
        "frontend/openapi.json is stale: run `.venv/bin/python -m keyhouse.openapi > "
        "frontend/openapi.json && (cd frontend && npm run gen:api)`"
    )
