"""The admin API's error answers, in its OpenAPI schema: every status a route can answer,
each with the one error body ``keyhouse.http_errors`` renders.

Statuses follow from what a route has (a body, path parameters, an If-Match, the store),
so a new route is documented by being written; only 409 is declared where it happens.
"""

from __future__ import annotations

import inspect
from typing import Any

from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict

from keyhouse.admin.deps import if_match
from keyhouse.admin.schemas import Ref


class FieldProblem(BaseModel):
    field: str
    message: str


class ErrorDetail(BaseModel):
    # Some errors add details (a key in use lists its endpoints).
    model_config = ConfigDict(extra="allow")

    code: str
    message: str
    fields: list[FieldProblem] | None = None
    endpoints: list[Ref] | None = None


class ErrorBody(BaseModel):
    error: ErrorDetail


_WHY = {
    400: "The body is not valid JSON, or a header is malformed.",
    401: "The admin token (or a signed-in session) is missing or wrong.",
    404: "No such resource.",
    409: "The name is taken, or the resource is in use.",
    412: "If-Match names a version the resource is no longer at: reload and retry.",
    413: "The request body is too large.",
    422: "A field is not valid; `fields` lists every problem.",
    500: "Internal error (its details are logged, never shown).",
    503: "The database is unavailable; try again shortly.",
}


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route decorator: these statuses, with the error body."""
    return {s: {"model": ErrorBody, "description": _WHY[s]} for s in statuses}


def document(route: APIRoute) -> None:
    """Add every error status the route can answer to its OpenAPI responses."""
    statuses = {500}
    params = inspect.signature(route.endpoint).parameters
    if "admin" in params:
        statuses.add(401)
    if "services" in params:
        statuses.add(503)
    if route.body_field is not None:
        statuses |= {400, 413, 422}
    dependant = route.dependant
    if dependant.path_params:
        statuses |= {404, 422}
    if dependant.query_params or dependant.header_params:
        statuses.add(422)
    if any(d.call is if_match for d in dependant.dependencies):
        statuses |= {412, 422}
    for status, doc in errors(*sorted(statuses)).items():
        route.responses.setdefault(status, doc)
