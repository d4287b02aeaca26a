"""Endpoints of the contributions recorded on a partnership."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy import ColumnElement
from sqlmodel import col

from app.auth.deps import PrincipalDep, SessionDep
from app.auth.policy import WRITE, authorize
from app.core.errors import problem_responses
from app.core.http import check_if_match, model_response
from app.core.pagination import ListParams, Page, list_params_for, set_link_header
from app.partners import service
from app.partners.models import Contribution, ContributionKind
from app.partners.repository import contributions, partnerships
from app.partners.schemas import ContributionCreate, ContributionRead, ContributionUpdate

# Under /partnerships, listed in the same tag: a contribution exists only in its partnership.
router = APIRouter(prefix="/partnerships", tags=["partnerships"])


@router.get(
    "/{partnership_id}/contributions",
    name="contributions-list",
    response_model=Page[ContributionRead],
    summary="List contributions (sort: created_at, updated_at, contributed_on)",
    responses=problem_responses(401, 404, 422),
)
async def list_contributions(
    request: Request,
    response: Response,
    session: SessionDep,
    principal: PrincipalDep,
    partnership_id: uuid.UUID,
    params: Annotated[ListParams, Depends(list_params_for(contributions.keyset))],
    kind: ContributionKind | None = None,
) -> Page[ContributionRead]:
    await partnerships.get(session, principal, partnership_id)
    conditions: list[ColumnElement[bool]] = [col(Contribution.partnership_id) == partnership_id]
    if kind is not None:
        conditions.append(Contribution.kind == kind.value)
    rows, next_cursor = await contributions.page(
        session,
        principal,
        params,
        conditions=conditions,
        filters={"partnership_id": partnership_id, "kind": kind},
    )
    set_link_header(request, response, next_cursor)
    return Page(items=[ContributionRead.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.post(
    "/{partnership_id}/contributions",
    name="contributions-create",
    status_code=201,
    response_model=ContributionRead,
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def create_contribution(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    partnership_id: uuid.UUID,
    body: ContributionCreate,
) -> Response:
    partnership = await partnerships.get(session, principal, partnership_id, for_update=True)
    authorize(principal, "contributions", WRITE)
    entity = await service.record_contribution(session, principal, partnership, body)
    return model_response(
        request,
        ContributionRead.model_validate(entity),
        version=entity.version,
        status_code=201,
        headers={"Location": f"/api/v1/partnerships/{partnership_id}/contributions/{entity.id}"},
    )


@router.get(
    "/{partnership_id}/contributions/{contribution_id}",
    name="contributions-get",
    response_model=ContributionRead,
    responses=problem_responses(401, 404),
)
async def get_contribution(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    partnership_id: uuid.UUID,
    contribution_id: uuid.UUID,
) -> Response:
    entity = await contributions.get_in(session, principal, partnership_id, contribution_id)
    return model_response(request, ContributionRead.model_validate(entity), version=entity.version)


@router.patch(
    "/{partnership_id}/contributions/{contribution_id}",
    name="contributions-update",
    response_model=ContributionRead,
    responses=problem_responses(401, 403, 404, 409, 412, 422),
)
async def update_contribution(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    partnership_id: uuid.UUID,
    contribution_id: uuid.UUID,
    body: ContributionUpdate,
) -> Response:
    partnership = await partnerships.get(session, principal, partnership_id, for_update=True)
    entity = await contributions.get_in(
        session, principal, partnership_id, contribution_id, for_update=True
    )
    authorize(principal, "contributions", WRITE)
    service.check_recorder(principal, entity)
    check_if_match(request, entity.version)
    changes = service.plain(body.changes())
    await service.update_contribution(session, principal, partnership, entity, changes)
    return model_response(request, ContributionRead.model_validate(entity), version=entity.version)


@router.delete(
    "/{partnership_id}/contributions/{contribution_id}",
    name="contributions-delete",
    status_code=204,
    responses=problem_responses(401, 403, 404, 412),
)
async def delete_contribution(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    partnership_id: uuid.UUID,
    contribution_id: uuid.UUID,
) -> Response:
    await contributions.get_in(session, principal, partnership_id, contribution_id)
    await contributions.soft_delete(session, principal, contribution_id, request)
    return Response(status_code=204)
