"""Endpoints of a program's activities."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from app.auth.deps import PrincipalDep, SessionDep
from app.core.conditional import (
    PUT_DESCRIPTION,
    Condition,
    IfMatchHeader,
    IfNoneMatchHeader,
    put_response,
    put_responses,
)
from app.core.errors import problem_responses
from app.core.http import check_if_match, model_response
from app.core.pagination import ListParams, Page, list_params_for, set_link_header
from app.programs import service
from app.programs.models import ActivityKind, ActivityStatus
from app.programs.repository import activities, activity_conditions, programs
from app.programs.schemas import ActivityCreate, ActivityRead, ActivityUpdate

router = APIRouter(prefix="/programs", tags=["programs"])


@router.get(
    "/{program_id}/activities",
    name="activities-list",
    response_model=Page[ActivityRead],
    summary="List activities (sort: created_at, updated_at, scheduled_start, title)",
    responses=problem_responses(401, 404, 422),
)
async def list_activities(
    request: Request,
    response: Response,
    session: SessionDep,
    principal: PrincipalDep,
    program_id: uuid.UUID,
    params: Annotated[ListParams, Depends(list_params_for(activities.keyset))],
    community_id: uuid.UUID | None = None,
    kind: ActivityKind | None = None,
    status: ActivityStatus | None = None,
) -> Page[ActivityRead]:
    filters = {"community_id": community_id, "kind": kind, "status": status}
    await programs.get(session, principal, program_id)
    rows, next_cursor = await activities.page_under(
        session,
        principal,
        program_id,
        params,
        activity_conditions(**filters),
        filters,
    )
    set_link_header(request, response, next_cursor)
    return Page(items=[ActivityRead.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.post(
    "/{program_id}/activities",
    name="activities-create",
    status_code=201,
    response_model=ActivityRead,
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def create_activity(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    program_id: uuid.UUID,
    body: ActivityCreate,
) -> Response:
    await service.locked_program(session, principal, program_id, "activities")
    entity = await service.create_activity(session, principal, program_id, body)
    return model_response(
        request,
        ActivityRead.model_validate(entity),
        version=entity.version,
        status_code=201,
        headers={"Location": f"/api/v1/programs/{program_id}/activities/{entity.id}"},
    )


@router.get(
    "/{program_id}/activities/{activity_id}",
    name="activities-get",
    response_model=ActivityRead,
    responses=problem_responses(401, 404),
)
async def get_activity(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    program_id: uuid.UUID,
    activity_id: uuid.UUID,
) -> Response:
    entity = await activities.get_under(session, principal, program_id, activity_id)
    return model_response(request, ActivityRead.model_validate(entity), version=entity.version)


@router.patch(
    "/{program_id}/activities/{activity_id}",
    name="activities-update",
    response_model=ActivityRead,
    responses=problem_responses(401, 403, 404, 409, 412, 422),
)
async def update_activity(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    program_id: uuid.UUID,
    activity_id: uuid.UUID,
    body: ActivityUpdate,
) -> Response:
    await service.locked_program(session, principal, program_id, "activities")
    entity = await activities.get_under(
        session, principal, program_id, activity_id, for_update=True
    )
    check_if_match(request, entity.version)
    await service.update_activity(session, principal, program_id, entity, body)
    return model_response(request, ActivityRead.model_validate(entity), version=entity.version)


@router.put(
    "/{program_id}/activities/{activity_id}",
    name="activities-put",
    response_model=ActivityRead,
    summary="Create or replace an activity with a client-made id (offline-first clients)",
    description=PUT_DESCRIPTION,
    responses=put_responses(ActivityRead, 401, 403, 404, 409, 422),
)
async def put_activity(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    program_id: uuid.UUID,
    activity_id: uuid.UUID,
    body: ActivityCreate,
    if_match: IfMatchHeader = None,
    if_none_match: IfNoneMatchHeader = None,
) -> Response:
    outcome, entity = await service.put_activity(
        session, principal, program_id, activity_id, body, Condition.from_request(request)
    )
    return put_response(
        request,
        outcome,
        ActivityRead.model_validate(entity),
        version=entity.version,
        location=f"/api/v1/programs/{program_id}/activities/{entity.id}",
    )


@router.delete(
    "/{program_id}/activities/{activity_id}",
    name="activities-delete",
    status_code=204,
    responses=problem_responses(401, 403, 404, 409, 412),
)
async def delete_activity(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    program_id: uuid.UUID,
    activity_id: uuid.UUID,
) -> Response:
    await service.locked_program(session, principal, program_id, "activities", "delete")
    entity = await activities.get_under(session, principal, program_id, activity_id)
    service.ensure_may_manage_activities(principal, entity.community_id)
    await activities.soft_delete(session, principal, activity_id, request)
    return Response(status_code=204)
