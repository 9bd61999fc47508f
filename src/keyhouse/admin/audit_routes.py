"""``/api/v1/audit``: the audit trail, newest first."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy import select

from keyhouse.admin.deps import AdminDep, ServicesDep
from keyhouse.admin.schemas import AuditEvent, AuditList
from keyhouse.store.models import AuditEventRow

router = APIRouter(prefix="/api/v1")


@router.get("/audit", response_model=AuditList, tags=["audit"])
def list_audit(
    admin: AdminDep, services: ServicesDep, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> AuditList:
    with services.store.read() as session:
        rows = session.scalars(select(AuditEventRow).order_by(AuditEventRow.id.desc()).limit(limit))
        return AuditList(
            events=[
                AuditEvent(
                    id=r.id,
                    at=r.at,
                    actor=r.actor,
                    action=r.action,
                    target_type=r.target_type,
                    target_id=r.target_id,
                    target_name=r.target_name,
                    details=dict(r.details),
                )
                for r in rows
            ]
        )
