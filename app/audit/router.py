"""``/audit-events`` for admins: who did what, when; field names only, never values."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from app.audit import repository
from app.audit.schemas import AuditEventRead
from app.auth.deps import PrincipalDep, SessionDep
from app.auth.policy import READ, authorize
from app.core.errors import problem_responses
from app.core.pagination import ListParams, Page, list_params_for, set_link_header
from app.core.schemas import NO_NUL_PATTERN
from app.core.timestamps import AwareTimestamp

router = APIRouter(prefix="/audit-events", tags=["audit"])


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
    params: Annotated[ListParams, Depends(list_params_for(repository.KEYSET))],
    actor_id: uuid.UUID | None = None,
    resource: Annotated[str | None, Query(pattern=NO_NUL_PATTERN)] = None,
    resource_id: uuid.UUID | None = None,
    action: Annotated[str | None, Query(pattern=NO_NUL_PATTERN)] = None,
    since: AwareTimestamp | None = None,
    until: AwareTimestamp | None = None,
) -> Page[AuditEventRead]:
    authorize(principal, "audit_events", READ)
    rows, next_cursor = await repository.page(
        session,
        params,
        actor_id=actor_id,
        resource=resource,
        resource_id=resource_id,
        action=action,
        since=since,
        until=until,
    )
    set_link_header(request, response, next_cursor)
    return Page(items=[AuditEventRead.model_validate(r) for r in rows], next_cursor=next_cursor)
