"""Endpoints of partner organisations."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy import ColumnElement
from sqlmodel import col

from app.auth.deps import PrincipalDep, SessionDep
from app.auth.policy import WRITE, authorize
from app.core.errors import problem_responses
from app.core.http import model_response
from app.core.pagination import ListParams, Page, list_params_for, set_link_header
from app.core.regions import RegionPrefixQuery
from app.core.schemas import TEXT_PATTERN
from app.partners import service
from app.partners.models import Partner, PartnerKind
from app.partners.repository import partners
from app.partners.schemas import PartnerCreate, PartnerRead, PartnerUpdate

router = APIRouter(prefix="/partners", tags=["partners"])


@router.get(
    "",
    name="partners-list",
    response_model=Page[PartnerRead],
    summary="List partner organisations (sort: created_at, updated_at, name)",
    responses=problem_responses(401, 422),
)
async def list_partners(
    request: Request,
    response: Response,
    session: SessionDep,
    principal: PrincipalDep,
    params: Annotated[ListParams, Depends(list_params_for(partners.keyset))],
    kind: PartnerKind | None = None,
    region_code: RegionPrefixQuery = None,
    q: Annotated[str | None, Query(min_length=1, max_length=100, pattern=TEXT_PATTERN)] = None,
) -> Page[PartnerRead]:
    conditions: list[ColumnElement[bool]] = []
    if kind is not None:
        conditions.append(Partner.kind == kind.value)
    if region_code is not None:
        conditions.append(col(Partner.region_code).startswith(region_code, autoescape=True))
    if q is not None:
        conditions.append(col(Partner.name).icontains(q, autoescape=True))
    rows, next_cursor = await partners.page(
        session,
        principal,
        params,
        conditions=conditions,
        filters={"kind": kind, "region_code": region_code, "q": q},
    )
    set_link_header(request, response, next_cursor)
    return Page(items=[PartnerRead.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.post(
    "",
    name="partners-create",
    status_code=201,
    response_model=PartnerRead,
    responses=problem_responses(401, 403, 422),
)
async def create_partner(
    request: Request, session: SessionDep, principal: PrincipalDep, body: PartnerCreate
) -> Response:
    authorize(principal, "partners", WRITE)
    entity = await partners.add(session, principal, Partner(**service.plain(body.model_dump())))
    return model_response(
        request,
        PartnerRead.model_validate(entity),
        version=entity.version,
        status_code=201,
        headers={"Location": f"/api/v1/partners/{entity.id}"},
    )


@router.get(
    "/{partner_id}",
    name="partners-get",
    response_model=PartnerRead,
    responses=problem_responses(401, 404),
)
async def get_partner(
    request: Request, session: SessionDep, principal: PrincipalDep, partner_id: uuid.UUID
) -> Response:
    entity = await partners.get(session, principal, partner_id)
    return model_response(request, PartnerRead.model_validate(entity), version=entity.version)


@router.patch(
    "/{partner_id}",
    name="partners-update",
    response_model=PartnerRead,
    responses=problem_responses(401, 403, 404, 412, 422),
)
async def update_partner(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    partner_id: uuid.UUID,
    body: PartnerUpdate,
) -> Response:
    entity = await partners.get_for_change(session, principal, partner_id, request)
    changes = service.plain(body.changes())
    await partners.apply_changes(session, principal, entity, changes)
    return model_response(request, PartnerRead.model_validate(entity), version=entity.version)


@router.delete(
    "/{partner_id}",
    name="partners-delete",
    status_code=204,
    responses=problem_responses(401, 403, 404, 412),
)
async def delete_partner(
    request: Request, session: SessionDep, principal: PrincipalDep, partner_id: uuid.UUID
) -> Response:
    await service.delete_partner(session, principal, partner_id, request)
    return Response(status_code=204)


@router.post(
    "/{partner_id}/restore",
    name="partners-restore",
    response_model=PartnerRead,
    responses=problem_responses(401, 403, 404),
)
async def restore_partner(
    request: Request, session: SessionDep, principal: PrincipalDep, partner_id: uuid.UUID
) -> Response:
    entity = await partners.restore(session, principal, partner_id)
    return model_response(request, PartnerRead.model_validate(entity), version=entity.version)
