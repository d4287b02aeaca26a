"""Endpoints: the OAuth2 token endpoint, revoke, me, JWKS, and /users for admins."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request, Response

from app.auth import service, service_accounts
from app.auth.deps import PrincipalDep, SessionDep, oauth2_scheme
from app.auth.models import Role, User
from app.auth.passwords import hash_password
from app.auth.policy import READ, WRITE, authorize
from app.auth.repository import users
from app.auth.schemas import Me, TokenResponse, UserCreate, UserRead, UserUpdate
from app.core.errors import BadRequest, Unprocessable, problem_responses
from app.core.http import model_response
from app.core.i18n import M
from app.core.pagination import ListParams, Page, list_params_for, set_link_header

router = APIRouter(prefix="/auth", tags=["auth"])
users_router = APIRouter(prefix="/users", tags=["users"])
jwks_router = APIRouter(tags=["auth"])

GRANT_TYPES = ("password", "refresh_token", "client_credentials")


@router.post(
    "/token",
    name="auth-token",
    response_model=TokenResponse,
    summary="Get an access token (OAuth2 password, refresh_token or client_credentials grant)",
    responses=problem_responses(400, 401, 422, 429),
)
async def token(
    request: Request,
    session: SessionDep,
    grant_type: Annotated[str, Form(examples=["password"])],
    username: Annotated[str | None, Form()] = None,
    password: Annotated[str | None, Form()] = None,
    refresh_token: Annotated[str | None, Form()] = None,
    client_id: Annotated[str | None, Form()] = None,
    client_secret: Annotated[str | None, Form()] = None,
) -> Response:
    settings = request.app.state.settings
    tokens = request.app.state.tokens
    address = request.client.host if request.client else None
    if grant_type == "password":
        if not username or not password:
            raise BadRequest(M.password_grant_fields)
        issued = await service.password_grant(
            session, tokens, settings, username, password, address
        )
    elif grant_type == "refresh_token":
        if not refresh_token:
            raise BadRequest(M.refresh_grant_fields)
        issued = await service.refresh_grant(session, tokens, settings, refresh_token)
    elif grant_type == "client_credentials":
        issued = await service_accounts.client_credentials_grant(
            session, tokens, settings, client_id, client_secret, address
        )
    else:
        raise BadRequest(M.grant_unsupported(grants=list(GRANT_TYPES)))
    body = TokenResponse(
        access_token=issued.access_token,
        expires_in=issued.expires_in,
        refresh_token=issued.refresh_token,
    )
    return model_response(request, body, headers={"Cache-Control": "no-store"})


@router.post(
    "/revoke",
    name="auth-revoke",
    status_code=204,
    summary="Log out: revoke the refresh token's family and the caller's access tokens",
    responses=problem_responses(401),
)
async def revoke(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    bearer: Annotated[str | None, Depends(oauth2_scheme)],
    token: Annotated[str | None, Form(description="The refresh token to revoke.")] = None,
) -> Response:
    # The principal verified the bearer token: this reads its claims from the cache.
    claims = request.app.state.tokens.verify(bearer or "")
    await service.logout(session, principal, token, claims.session_id)
    return Response(status_code=204)


@router.get("/me", name="auth-me", response_model=Me, responses=problem_responses(401))
async def me(principal: PrincipalDep) -> Me:
    return Me(
        id=principal.id,
        kind=principal.kind,
        role=principal.role,
        email=principal.email,
        full_name=principal.full_name,
        organization_id=principal.organization_id,
        community_ids=sorted(principal.community_ids),
    )


@jwks_router.get("/.well-known/jwks.json", name="jwks", summary="Public keys of access tokens")
async def jwks(request: Request) -> dict[str, Any]:
    result: dict[str, Any] = request.app.state.tokens.jwks()
    return result


@users_router.get(
    "",
    name="users-list",
    response_model=Page[UserRead],
    responses=problem_responses(401, 403, 422),
)
async def list_users(
    request: Request,
    response: Response,
    session: SessionDep,
    principal: PrincipalDep,
    params: Annotated[ListParams, Depends(list_params_for(users.keyset))],
    role: Role | None = None,
    organization_id: uuid.UUID | None = None,
    is_active: bool | None = None,
) -> Page[UserRead]:
    authorize(principal, "users", READ)
    conditions = []
    if role is not None:
        conditions.append(User.role == role.value)
    if organization_id is not None:
        conditions.append(User.organization_id == organization_id)
    if is_active is not None:
        conditions.append(User.is_active == is_active)
    rows, next_cursor = await users.page(
        session,
        principal,
        params,
        conditions=conditions,
        filters={"role": role, "organization_id": organization_id, "is_active": is_active},
    )
    set_link_header(request, response, next_cursor)
    return Page(items=[UserRead.model_validate(r) for r in rows], next_cursor=next_cursor)


@users_router.post(
    "",
    name="users-create",
    status_code=201,
    response_model=UserRead,
    responses=problem_responses(401, 403, 409, 422),
)
async def create_user(
    request: Request, session: SessionDep, principal: PrincipalDep, body: UserCreate
) -> Response:
    authorize(principal, "users", WRITE)
    user = await service.create_user(
        session,
        email=body.email,
        full_name=body.full_name,
        role=body.role,
        password=body.password,
        organization_id=body.organization_id,
        actor=principal,
    )
    user.is_active = body.is_active
    return model_response(
        request,
        UserRead.model_validate(user),
        version=user.version,
        status_code=201,
        headers={"Location": f"/api/v1/users/{user.id}"},
    )


@users_router.get(
    "/{user_id}",
    name="users-get",
    response_model=UserRead,
    responses=problem_responses(401, 403, 404),
)
async def get_user(
    request: Request, session: SessionDep, principal: PrincipalDep, user_id: uuid.UUID
) -> Response:
    authorize(principal, "users", READ)
    user = await users.get(session, principal, user_id)
    return model_response(request, UserRead.model_validate(user), version=user.version)


@users_router.patch(
    "/{user_id}",
    name="users-update",
    response_model=UserRead,
    responses=problem_responses(401, 403, 404, 412, 422),
)
async def update_user(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    user_id: uuid.UUID,
    body: UserUpdate,
) -> Response:
    authorize(principal, "users", WRITE)
    user = await users.get_for_change(session, principal, user_id, request)
    changes = body.changes()
    if "password" in changes:
        changes["password_hash"] = hash_password(changes.pop("password"))
    role = Role(changes.get("role", user.role))
    organization_id = changes.get("organization_id", user.organization_id)
    if (role is Role.partner) != (organization_id is not None):
        raise Unprocessable(
            M.partner_users_and_only_they,
            loc=["body", "organization_id"],
        )
    if "organization_id" in changes:
        await service.check_organization(session, changes["organization_id"])
    if "role" in changes:
        changes["role"] = role.value
    if user.id == principal.id and ("role" in changes or changes.get("is_active") is False):
        raise Unprocessable(M.admin_self_demote, loc=["body"])
    changed = await users.apply_changes(session, principal, user, changes)
    if {"password_hash", "is_active"} & set(changed):
        await service.end_sessions(session, user.id)
    return model_response(request, UserRead.model_validate(user), version=user.version)


@users_router.delete(
    "/{user_id}",
    name="users-delete",
    status_code=204,
    responses=problem_responses(401, 403, 404, 412),
)
async def delete_user(
    request: Request, session: SessionDep, principal: PrincipalDep, user_id: uuid.UUID
) -> Response:
    authorize(principal, "users", WRITE)
    if user_id == principal.id:
        raise Unprocessable(M.admin_self_delete, loc=["path", "user_id"])
    await users.soft_delete(session, principal, user_id, request)
    return Response(status_code=204)


@users_router.post(
    "/{user_id}/restore",
    name="users-restore",
    response_model=UserRead,
    responses=problem_responses(401, 403, 404, 409),
)
async def restore_user(
    request: Request, session: SessionDep, principal: PrincipalDep, user_id: uuid.UUID
) -> Response:
    user = await users.restore(session, principal, user_id)
    return model_response(request, UserRead.model_validate(user), version=user.version)
