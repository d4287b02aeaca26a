"""Endpoints of service accounts: the OAuth2 clients of partner systems.

Secrets, grants and principals are ``app.auth.service_accounts``; these routes manage
the accounts and show a new secret once.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy import ColumnElement

from app.auth.deps import PrincipalDep, SessionDep
from app.auth.models import ServiceAccount
from app.auth.policy import READ, WRITE, authorize
from app.core.errors import problem_responses
from app.core.http import model_response
from app.core.pagination import ListParams, Page, list_params_for, set_link_header
from app.partners import service
from app.partners.repository import service_accounts
from app.partners.schemas import (
    ServiceAccountCreate,
    ServiceAccountRead,
    ServiceAccountRotate,
    ServiceAccountSecret,
    ServiceAccountUpdate,
)

router = APIRouter(prefix="/service-accounts", tags=["service-accounts"])


def _read_account(entity: ServiceAccount) -> ServiceAccountRead:
    return ServiceAccountRead.model_validate(entity)


def _with_secret(entity: ServiceAccount, secret: str) -> ServiceAccountSecret:
    return ServiceAccountSecret(**_read_account(entity).model_dump(), client_secret=secret)


@router.get(
    "",
    name="service-accounts-list",
    response_model=Page[ServiceAccountRead],
    responses=problem_responses(401, 403, 422),
)
async def list_accounts(
    request: Request,
    response: Response,
    session: SessionDep,
    principal: PrincipalDep,
    params: Annotated[ListParams, Depends(list_params_for(service_accounts.keyset))],
    organization_id: uuid.UUID | None = None,
) -> Page[ServiceAccountRead]:
    authorize(principal, "service_accounts", READ)
    conditions: list[ColumnElement[bool]] = []
    if organization_id is not None:
        conditions.append(ServiceAccount.organization_id == organization_id)
    rows, next_cursor = await service_accounts.page(
        session,
        principal,
        params,
        conditions=conditions,
        filters={"organization_id": organization_id},
    )
    set_link_header(request, response, next_cursor)
    return Page(items=[_read_account(r) for r in rows], next_cursor=next_cursor)


@router.post(
    "",
    name="service-accounts-create",
    status_code=201,
    response_model=ServiceAccountSecret,
    summary="Create a service account; the client_secret is shown only in this answer",
    responses=problem_responses(401, 403, 422),
)
async def create_account(
    request: Request, session: SessionDep, principal: PrincipalDep, body: ServiceAccountCreate
) -> Response:
    authorize(principal, "service_accounts", WRITE)
    entity, secret = await service.create_service_account(session, principal, body)
    return model_response(
        request,
        _with_secret(entity, secret),
        version=entity.version,
        status_code=201,
        headers={"Location": f"/api/v1/service-accounts/{entity.id}", "Cache-Control": "no-store"},
    )


@router.get(
    "/{account_id}",
    name="service-accounts-get",
    response_model=ServiceAccountRead,
    responses=problem_responses(401, 403, 404),
)
async def get_account(
    request: Request, session: SessionDep, principal: PrincipalDep, account_id: uuid.UUID
) -> Response:
    authorize(principal, "service_accounts", READ)
    entity = await service_accounts.get(session, principal, account_id)
    return model_response(request, _read_account(entity), version=entity.version)


@router.patch(
    "/{account_id}",
    name="service-accounts-update",
    response_model=ServiceAccountRead,
    responses=problem_responses(401, 403, 404, 412, 422),
)
async def update_account(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    account_id: uuid.UUID,
    body: ServiceAccountUpdate,
) -> Response:
    authorize(principal, "service_accounts", WRITE)
    entity = await service_accounts.get_for_change(session, principal, account_id, request)
    changes = body.changes()
    await service_accounts.apply_changes(session, principal, entity, changes)
    return model_response(request, _read_account(entity), version=entity.version)


@router.post(
    "/{account_id}/rotate",
    name="service-accounts-rotate",
    response_model=ServiceAccountSecret,
    summary="New secret (shown once); the old one works for the grace period (0: none)",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def rotate_account(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    account_id: uuid.UUID,
    body: ServiceAccountRotate | None = None,
) -> Response:
    authorize(principal, "service_accounts", WRITE)
    entity = await service_accounts.get(session, principal, account_id, for_update=True)
    grace = request.app.state.settings.service_account_rotation_grace_seconds
    if body is not None and body.grace_seconds is not None:
        grace = body.grace_seconds
    secret = await service.rotate_secret(session, principal, entity, grace)
    return model_response(
        request,
        _with_secret(entity, secret),
        version=entity.version,
        headers={"Cache-Control": "no-store"},
    )


@router.post(
    "/{account_id}/revoke",
    name="service-accounts-revoke",
    response_model=ServiceAccountRead,
    summary="Revoke: the account's tokens and secrets stop working at once",
    responses=problem_responses(401, 403, 404),
)
async def revoke_account(
    request: Request, session: SessionDep, principal: PrincipalDep, account_id: uuid.UUID
) -> Response:
    authorize(principal, "service_accounts", WRITE)
    entity = await service_accounts.get(session, principal, account_id, for_update=True)
    await service.revoke(session, principal, entity)
    return model_response(request, _read_account(entity), version=entity.version)


@router.delete(
    "/{account_id}",
    name="service-accounts-delete",
    status_code=204,
    responses=problem_responses(401, 403, 404, 412),
)
async def delete_account(
    request: Request, session: SessionDep, principal: PrincipalDep, account_id: uuid.UUID
) -> Response:
    authorize(principal, "service_accounts", WRITE)
    await service_accounts.soft_delete(session, principal, account_id, request)
    return Response(status_code=204)
