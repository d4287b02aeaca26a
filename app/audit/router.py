"""``/audit-events`` for admins: who did what, when; field names only, never values."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from pydantic import AwareDatetime, BaseModel, ConfigDict
from sqlalchemy import select

from app.auth.deps import PrincipalDep, SessionDep
from app.auth.policy import READ, authorize
from app.core.audit import AuditEvent
from app.core.errors import problem_responses
from app.core.pagination import Keyset, ListParams, Page, list_params, paginate, set_link_header

router = APIRouter(prefix="/audit-events", tags=["audit"])

KEYSET = Keyset(columns={"at": AuditEvent.at}, id_column=AuditEvent.id, default="-at")  # type: ignore[arg-type]


class AuditEventRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    at: datetime
    actor_id: uuid.UUID | None
    actor_kind: str | None
    action: str
    resource: str
    resource_id: uuid.UUID | None
    changed_fields: list[str]
    request_id: str | None
    note: str | None


@router.get(
    "",
    name="audit-events-list",
    response_model=Page[AuditEventRead],
    summary="List audit events, newest first (sort: at, -at)",
    responses=problem_responses(401, 403, 422),
)
async def list_audit_events(
    request: Request,
    response: Response,
    session: SessionDep,
    principal: PrincipalDep,
    params: Annotated[ListParams, Depends(list_params)],
    actor_id: uuid.UUID | None = None,
    resource: str | None = None,
    resource_id: uuid.UUID | None = None,
    action: str | None = None,
    since: AwareDatetime | None = None,
    until: AwareDatetime | None = None,
) -> Page[AuditEventRead]:
    authorize(principal, "audit_events", READ)
    stmt = select(AuditEvent)
    if actor_id is not None:
        stmt = stmt.where(AuditEvent.actor_id == actor_id)
    if resource is not None:
        stmt = stmt.where(AuditEvent.resource == resource)
    if resource_id is not None:
        stmt = stmt.where(AuditEvent.resource_id == resource_id)
    if action is not None:
        stmt = stmt.where(AuditEvent.action == action)
    if since is not None:
        stmt = stmt.where(AuditEvent.at >= since)
    if until is not None:
        stmt = stmt.where(AuditEvent.at < until)
    rows, next_cursor = await paginate(
        session,
        stmt,
        keyset=KEYSET,
        params=params,
        filters={
            "actor_id": actor_id,
            "resource": resource,
            "resource_id": resource_id,
            "action": action,
            "since": since,
            "until": until,
        },
        updated_column=AuditEvent.at,
    )
    set_link_header(request, response, next_cursor)
    return Page(items=[AuditEventRead.model_validate(r) for r in rows], next_cursor=next_cursor)
