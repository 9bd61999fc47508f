"""``/api/v1/limits/use``: use against every limit now (the lists show it)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request

from keyhouse.admin.deps import AdminDep, ServicesDep
from keyhouse.admin.schemas import LimitsUse, SubjectUse
from keyhouse.limits.admission import Limiter
from keyhouse.limits.store import LimitStoreError

router = APIRouter(prefix="/api/v1", tags=["limits"])


@router.get("/limits/use", response_model=LimitsUse)
async def limits_use(
    request: Request,
    admin: AdminDep,
    services: ServicesDep,
    scope: Annotated[Literal["token", "endpoint", "key"] | None, Query()] = None,
) -> LimitsUse:
    limiter: Limiter = request.app.state.limiter
    subjects = [
        s for s in services.registry.limited_subjects() if scope is None or s.scope == scope
    ]
    try:
        use = await limiter.use(subjects)
        reachable = True
    except LimitStoreError:
        use = [{"scope": s.scope, "id": s.id, "name": s.name} for s in subjects]
        reachable = False
    return LimitsUse(
        store=limiter.store.name,
        shared=limiter.store.shared,
        reachable=reachable,
        subjects=[SubjectUse.model_validate(u) for u in use],
    )
