"""FastAPI dependencies: the database session and the calling principal.

``get_principal`` verifies the bearer token and reads the caller: a user
(``app.auth.caller_cache``: cached per worker for GETs, confirmed in the same statement
as the rows) or a partner's service account (``app.auth.service_accounts``).
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Request, Response
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import service_accounts
from app.auth.caller_cache import CallerCache, CallerRider, load_user
from app.auth.tokens import InvalidToken, TokenService
from app.core import ratelimit
from app.core.db import Database, get_session
from app.core.errors import Unauthorized
from app.core.fastpath import RIDER
from app.core.i18n import M
from app.core.middleware import RETRIED, RETRYABLE_METHODS
from app.core.principal import Principal

oauth2_scheme = OAuth2PasswordBearer(
    tokenUrl="/api/v1/auth/token", auto_error=False, scheme_name="OAuth2Password"
)

SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]


async def get_principal(
    request: Request,
    response: Response,
    session: SessionDep,
    token: Annotated[str | None, Depends(oauth2_scheme)],
) -> Principal:
    if not token:
        raise Unauthorized(M.auth_required)
    tokens: TokenService = request.app.state.tokens
    try:
        claims = tokens.verify(token)
        subject = uuid.UUID(claims.subject)
    except (InvalidToken, ValueError) as exc:
        raise Unauthorized(M.token_invalid) from exc
    callers: CallerCache = request.app.state.callers
    if request.method in RETRYABLE_METHODS and not request.scope["state"].get(RETRIED):
        cached = callers.get(subject, claims.issued_at)
        if cached is not None:
            session.info[RIDER] = CallerRider(cached, callers)
            request.state.principal_id = str(cached.id)
            return cached
    principal: Principal | None = None
    loaded = await load_user(session, subject, claims.issued_at)
    if loaded is not None:
        principal = loaded[0]
        callers.put(*loaded)
    else:
        principal = await service_accounts.load_principal(
            session, subject, claims.issued_at, claims.session_id
        )
    if principal is None:
        raise Unauthorized(M.token_invalid)
    request.state.principal_id = str(principal.id)
    if principal.kind == "service_account":  # partner systems: per-account rate limit
        limit = request.app.state.settings.partner_rate_limit_per_minute
        await ratelimit.enforce(session, principal.id, limit, response)
    return principal


PrincipalDep = Annotated[Principal, Depends(get_principal)]


async def current_subject(database: Database, tokens: TokenService, token: str) -> str | None:
    """The subject of a token that still holds (verified, caller active, not logged out),
    else None. For the idempotency store: it answers from memory only to a caller it
    has authenticated like any request (``app.core.idempotency``)."""
    try:
        claims = tokens.verify(token)
        subject = uuid.UUID(claims.subject)
    except (InvalidToken, ValueError):
        return None
    async with database.read_sessions() as session:
        if await load_user(session, subject, claims.issued_at) is not None:
            return claims.subject
        account = await service_accounts.load_principal(
            session, subject, claims.issued_at, claims.session_id
        )
    return claims.subject if account is not None else None
