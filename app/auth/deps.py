"""FastAPI dependencies: the database session and the calling principal."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request, Response
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy import bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.models import Role, User
from app.auth.principal import Principal
from app.auth.tokens import InvalidToken, TokenService
from app.communities.models import CommunityFacilitator
from app.core import ratelimit
from app.core.db import fetch_views, get_session
from app.core.errors import Unauthorized

oauth2_scheme = OAuth2PasswordBearer(
    tokenUrl="/api/v1/auth/token", auto_error=False, scheme_name="OAuth2Password"
)

SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]

# Loaders for principals that are not users (service accounts register one).
PrincipalLoader = Callable[[AsyncSession, uuid.UUID, float], Awaitable[Principal | None]]
principal_loaders: list[PrincipalLoader] = []

_assigned = (
    select(func.coalesce(func.array_agg(CommunityFacilitator.community_id), []))
    .where(CommunityFacilitator.user_id == User.id)
    .scalar_subquery()
)


_USER_PRINCIPAL = select(
    User.id,
    User.role,
    User.organization_id,
    User.is_active,
    User.tokens_valid_after,
    User.email,
    User.full_name,
    _assigned.label("community_ids"),
).where(User.id == bindparam("user_id"), User.deleted_at.is_(None))


async def load_user_principal(
    session: AsyncSession, user_id: uuid.UUID, issued_at: float
) -> Principal | None:
    """One query: the user, its state and its assignments, read fresh on every request
    so that disabling a user or changing its role takes effect at once. The statement is
    built once and run on the driver: on every request's path, SQLAlchemy's
    per-execution work cost more than the query (bench/run.py)."""
    row = next(iter(await fetch_views(session, _USER_PRINCIPAL, {"user_id": user_id})), None)
    if row is None or not row.is_active:
        return None
    # iat carries microseconds (a NumericDate may be fractional): a token issued before a
    # logout is refused, one issued a moment after it is not.
    if row.tokens_valid_after is not None and issued_at < row.tokens_valid_after.timestamp():
        return None
    return Principal(
        id=row.id,
        kind="user",
        role=Role(row.role),
        organization_id=row.organization_id,
        community_ids=frozenset(row.community_ids or ()),
        email=row.email,
        full_name=row.full_name,
    )


async def get_principal(
    request: Request,
    response: Response,
    session: SessionDep,
    token: Annotated[str | None, Depends(oauth2_scheme)],
) -> Principal:
    if not token:
        raise Unauthorized("authentication required")
    tokens: TokenService = request.app.state.tokens
    try:
        claims = tokens.verify(token)
        subject = uuid.UUID(claims.subject)
    except (InvalidToken, ValueError) as exc:
        raise Unauthorized("the access token is invalid or expired") from exc
    principal = await load_user_principal(session, subject, claims.issued_at)
    for loader in principal_loaders:
        if principal is not None:
            break
        principal = await loader(session, subject, claims.issued_at)
    if principal is None:
        raise Unauthorized("the access token is invalid or expired")
    request.state.principal_id = str(principal.id)
    if principal.kind == "service_account":  # partner systems: per-account rate limit
        limit = request.app.state.settings.partner_rate_limit_per_minute
        await ratelimit.enforce(session, principal.id, limit, response)
    return principal


PrincipalDep = Annotated[Principal, Depends(get_principal)]
