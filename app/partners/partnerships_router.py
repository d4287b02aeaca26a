"""Endpoints of partnerships and their lifecycle transitions."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy import ColumnElement
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.deps import PrincipalDep, SessionDep
from app.auth.policy import WRITE, authorize
from app.core.errors import problem_responses
from app.core.http import model_response
from app.core.pagination import ListParams, Page, list_params_for, set_link_header
from app.core.transitions import TransitionRead, history
from app.partners import service
from app.partners.models import Partnership, PartnershipRole, PartnershipStatus
from app.partners.repository import contributed, partnerships
from app.partners.schemas import (
    PartnershipCreate,
    PartnershipRead,
    PartnershipTransition,
    PartnershipUpdate,
)

router = APIRouter(prefix="/partnerships", tags=["partnerships"])


async def _read_all(session: AsyncSession, rows: list[Partnership]) -> list[PartnershipRead]:
    """The answer shows each partnership with the sum of its contributions."""
    totals = await contributed(session, [r.id for r in rows])
    return [
        PartnershipRead.model_validate(
            {**r.model_dump(), "contributed_amount": totals.get(r.id, 0)}
        )
        for r in rows
    ]


async def _read(session: AsyncSession, row: Partnership) -> PartnershipRead:
    return (await _read_all(session, [row]))[0]


@router.get(
    "",
    name="partnerships-list",
    response_model=Page[PartnershipRead],
    summary="List partnerships (sort: created_at, updated_at)",
    responses=problem_responses(401, 422),
)
async def list_partnerships(
    request: Request,
    response: Response,
    session: SessionDep,
    principal: PrincipalDep,
    params: Annotated[ListParams, Depends(list_params_for(partnerships.keyset))],
    partner_id: uuid.UUID | None = None,
    program_id: uuid.UUID | None = None,
    role: PartnershipRole | None = None,
    status: PartnershipStatus | None = None,
) -> Page[PartnershipRead]:
    conditions: list[ColumnElement[bool]] = []
    if partner_id is not None:
        conditions.append(Partnership.partner_id == partner_id)
    if program_id is not None:
        conditions.append(Partnership.program_id == program_id)
    if role is not None:
        conditions.append(Partnership.role == role.value)
    if status is not None:
        conditions.append(Partnership.status == status.value)
    rows, next_cursor = await partnerships.page(
        session,
        principal,
        params,
        conditions=conditions,
        filters={
            "partner_id": partner_id,
            "program_id": program_id,
            "role": role,
            "status": status,
        },
    )
    set_link_header(request, response, next_cursor)
    return Page(items=await _read_all(session, rows), next_cursor=next_cursor)


@router.post(
    "",
    name="partnerships-create",
    status_code=201,
    response_model=PartnershipRead,
    responses=problem_responses(401, 403, 409, 422),
)
async def create_partnership(
    request: Request, session: SessionDep, principal: PrincipalDep, body: PartnershipCreate
) -> Response:
    authorize(principal, "partnerships", WRITE)
    entity = await service.create_partnership(session, principal, body)
    return model_response(
        request,
        await _read(session, entity),
        version=entity.version,
        status_code=201,
        headers={"Location": f"/api/v1/partnerships/{entity.id}"},
    )


@router.get(
    "/{partnership_id}",
    name="partnerships-get",
    response_model=PartnershipRead,
    responses=problem_responses(401, 404),
)
async def get_partnership(
    request: Request, session: SessionDep, principal: PrincipalDep, partnership_id: uuid.UUID
) -> Response:
    entity = await partnerships.get(session, principal, partnership_id)
    return model_response(request, await _read(session, entity), version=entity.version)


@router.patch(
    "/{partnership_id}",
    name="partnerships-update",
    response_model=PartnershipRead,
    responses=problem_responses(401, 403, 404, 409, 412, 422),
)
async def update_partnership(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    partnership_id: uuid.UUID,
    body: PartnershipUpdate,
) -> Response:
    entity = await partnerships.get_for_change(session, principal, partnership_id, request)
    changes = body.model_dump(exclude_unset=True)
    await service.update_partnership(session, principal, entity, changes)
    return model_response(request, await _read(session, entity), version=entity.version)


@router.delete(
    "/{partnership_id}",
    name="partnerships-delete",
    status_code=204,
    responses=problem_responses(401, 403, 404, 412),
)
async def delete_partnership(
    request: Request, session: SessionDep, principal: PrincipalDep, partnership_id: uuid.UUID
) -> Response:
    await partnerships.soft_delete(session, principal, partnership_id, request)
    return Response(status_code=204)


@router.post(
    "/{partnership_id}/restore",
    name="partnerships-restore",
    response_model=PartnershipRead,
    responses=problem_responses(401, 403, 404, 409),
)
async def restore_partnership(
    request: Request, session: SessionDep, principal: PrincipalDep, partnership_id: uuid.UUID
) -> Response:
    entity = await partnerships.restore(session, principal, partnership_id)
    return model_response(request, await _read(session, entity), version=entity.version)


@router.post(
    "/{partnership_id}/transitions",
    name="partnerships-transition",
    response_model=PartnershipRead,
    summary="proposed → active → completed, or terminated (coordinators and admins)",
    responses=problem_responses(401, 403, 404, 409, 412, 422),
)
async def transition_partnership(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    partnership_id: uuid.UUID,
    body: PartnershipTransition,
) -> Response:
    entity = await partnerships.get_for_change(session, principal, partnership_id, request)
    await service.transition_partnership(session, principal, entity, body)
    return model_response(request, await _read(session, entity), version=entity.version)


@router.get(
    "/{partnership_id}/transitions",
    name="partnerships-transitions-list",
    response_model=list[TransitionRead],
    responses=problem_responses(401, 404),
)
async def list_partnership_transitions(
    session: SessionDep, principal: PrincipalDep, partnership_id: uuid.UUID
) -> list[TransitionRead]:
    await partnerships.get(session, principal, partnership_id)
    rows = await history(session, "partnerships", partnership_id)
    return [TransitionRead.model_validate(r) for r in rows]
