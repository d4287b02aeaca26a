"""Endpoints of participation records, single and in batches of up to 1,000 rows."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Request, Response

from app.auth.deps import PrincipalDep, SessionDep
from app.auth.policy import READ, WRITE, authorize
from app.core.conditional import (
    PUT_DESCRIPTION,
    Condition,
    IfMatchHeader,
    IfNoneMatchHeader,
    put_response,
    put_responses,
)
from app.core.errors import Unprocessable, problem_responses
from app.core.http import model_response
from app.core.i18n import M
from app.core.pagination import ListParams, Page, list_params_for, set_link_header
from app.core.pii import PersonalDep
from app.core.schemas import IsoDate
from app.participation import service
from app.participation.models import Level, ParticipationRole
from app.participation.repository import RESOURCE, records
from app.participation.schemas import BatchResult, RecordCreate, RecordRead, RecordUpdate
from app.participation.service import present

router = APIRouter(prefix="/participation-records", tags=["participation"])


@router.get(
    "",
    name="participation-records-list",
    response_model=Page[RecordRead],
    summary="List participation records (sort: created_at, updated_at, date). Partners: 403.",
    responses=problem_responses(401, 403, 422),
)
async def list_records(
    request: Request,
    response: Response,
    session: SessionDep,
    principal: PrincipalDep,
    personal: PersonalDep,
    params: Annotated[ListParams, Depends(list_params_for(records.keyset))],
    person_id: uuid.UUID | None = None,
    activity_id: uuid.UUID | None = None,
    assessment_id: uuid.UUID | None = None,
    program_id: uuid.UUID | None = None,
    community_id: uuid.UUID | None = None,
    level: Level | None = None,
    role: ParticipationRole | None = None,
    date_from: Annotated[IsoDate | None, Query(description="On or after")] = None,
    date_to: Annotated[IsoDate | None, Query(description="On or before")] = None,
) -> Page[RecordRead]:
    authorize(principal, RESOURCE, READ)
    rows, next_cursor = await records.search(
        session,
        principal,
        params,
        person_id=person_id,
        activity_id=activity_id,
        assessment_id=assessment_id,
        program_id=program_id,
        community_id=community_id,
        level=level,
        role=role,
        date_from=date_from,
        date_to=date_to,
    )
    set_link_header(request, response, next_cursor)
    return Page(items=[present(r, principal, personal) for r in rows], next_cursor=next_cursor)


@router.post(
    "",
    name="participation-records-create",
    status_code=201,
    response_model=RecordRead,
    responses=problem_responses(401, 403, 409, 422),
)
async def create_record(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    personal: PersonalDep,
    body: RecordCreate,
) -> Response:
    authorize(principal, RESOURCE, WRITE)
    record = await service.create_record(session, principal, body)
    return model_response(
        request,
        present(record, principal, personal),
        version=record.version,
        status_code=201,
        headers={"Location": f"/api/v1/participation-records/{record.id}"},
    )


@router.post(
    "/batch",
    name="participation-records-batch",
    response_model=BatchResult,
    summary="Upload up to 1,000 records; per-row results; ?atomic=true for all-or-nothing",
    description=(
        "Each row is validated on its own and answered in order as `created`, `duplicate` "
        "(same `external_id` from you, or the same person and context: `id` points at the "
        "existing record) or `error` (with the problem). Re-sending the same sheet creates "
        "nothing new. With `atomic=true` one error creates nothing and answers 422 with "
        "the per-row results."
    ),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/BatchRequest"}}
            },
        }
    },
    responses={**problem_responses(401, 403, 413, 422), 200: {"description": "Per-row results"}},
)
async def batch_records(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    body: Annotated[dict[str, Any], Body(media_type="application/json")],
    atomic: bool = False,
) -> Response:
    authorize(principal, RESOURCE, WRITE)
    raw_rows = body.get("rows")
    if set(body) - {"rows"} or not isinstance(raw_rows, list) or not raw_rows:
        raise Unprocessable(M.batch_shape, loc=["body", "rows"])
    if len(raw_rows) > 1000:
        raise Unprocessable(M.batch_too_many(count=len(raw_rows)), loc=["body", "rows"])
    result = await service.upload_batch(session, principal, raw_rows, atomic)
    return model_response(request, result)


@router.get(
    "/{record_id}",
    name="participation-records-get",
    response_model=RecordRead,
    responses=problem_responses(401, 404),
)
async def get_record(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    personal: PersonalDep,
    record_id: uuid.UUID,
) -> Response:
    record = await records.get(session, principal, record_id)
    return model_response(request, present(record, principal, personal), version=record.version)


@router.patch(
    "/{record_id}",
    name="participation-records-update",
    response_model=RecordRead,
    responses=problem_responses(401, 403, 404, 412, 422),
)
async def update_record(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    personal: PersonalDep,
    record_id: uuid.UUID,
    body: RecordUpdate,
) -> Response:
    record = await service.changeable(session, principal, record_id, request, WRITE)
    await service.update_record(session, principal, record, body)
    return model_response(request, present(record, principal, personal), version=record.version)


@router.put(
    "/{record_id}",
    name="participation-records-put",
    response_model=RecordRead,
    summary="Record or replace participation with a client-made id (offline-first clients)",
    description=PUT_DESCRIPTION
    + " A replacement keeps person_id, activity_id and assessment_id (422 if they differ).",
    responses=put_responses(RecordRead, 401, 403, 404, 409, 422),
)
async def put_record(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    personal: PersonalDep,
    record_id: uuid.UUID,
    body: RecordCreate,
    if_match: IfMatchHeader = None,
    if_none_match: IfNoneMatchHeader = None,
) -> Response:
    outcome, record = await service.put_record(
        session, principal, personal, record_id, body, Condition.from_request(request)
    )
    return put_response(
        request,
        outcome,
        present(record, principal, personal),
        version=record.version,
        location=f"/api/v1/participation-records/{record.id}",
    )


@router.delete(
    "/{record_id}",
    name="participation-records-delete",
    status_code=204,
    responses=problem_responses(401, 403, 404, 412),
)
async def delete_record(
    request: Request, session: SessionDep, principal: PrincipalDep, record_id: uuid.UUID
) -> Response:
    await service.changeable(session, principal, record_id, request, "delete")
    await records.soft_delete(session, principal, record_id, request)
    return Response(status_code=204)


@router.post(
    "/{record_id}/restore",
    name="participation-records-restore",
    response_model=RecordRead,
    responses=problem_responses(401, 403, 404, 409),
)
async def restore_record(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    personal: PersonalDep,
    record_id: uuid.UUID,
) -> Response:
    record = await records.restore(session, principal, record_id)
    return model_response(request, present(record, principal, personal), version=record.version)
