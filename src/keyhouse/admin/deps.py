"""Typed dependencies shared by the admin routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request

from keyhouse.admin.auth import Admin, require_admin
from keyhouse.errors import BadRequest
from keyhouse.services import Services


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


IF_MATCH = r'^(W/)?"?[0-9]{1,18}"?$'


def if_match(
    if_match: Annotated[
        str | None,
        Header(
            pattern=IF_MATCH,
            max_length=24,
            description="The version the change applies to (the resource's `version`, as "
            "read); quotes and a weak marker are tolerated. If the resource has "
            "moved on, the answer is 412 and nothing changes.",
            examples=["3"],
        ),
    ] = None,
) -> int | None:
    """``If-Match: 3`` (quotes and a weak marker tolerated) → 3."""
    if if_match is None:
        return None
    raw = if_match.strip().removeprefix("W/").strip('"')
    try:
        return int(raw)
    except ValueError:
        raise BadRequest("If-Match must be the resource's version number.") from None


AdminDep = Annotated[Admin, Depends(require_admin)]
ServicesDep = Annotated[Services, Depends(get_services)]
IfMatchDep = Annotated[int | None, Depends(if_match)]
