"""FastAPI dependencies: the database session and the calling principal."""

from __future__ import annotations

import math
import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import Depends, Request, Response
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy import ColumnElement, Text, bindparam, cast, func, select, tuple_
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from app.auth.models import Role, User
from app.auth.principal import Principal
from app.auth.tokens import InvalidToken, TokenService
from app.communities.models import CommunityFacilitator
from app.core import ratelimit
from app.core.db import RIDER, RIDER_LABEL, fetch_views, get_session
from app.core.errors import RetryRequest, Unauthorized
from app.core.middleware import RETRIED, RETRYABLE_METHODS

oauth2_scheme = OAuth2PasswordBearer(
    tokenUrl="/api/v1/auth/token", auto_error=False, scheme_name="OAuth2Password"
)

SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]

# Loaders for principals that are not users (service accounts register one).
PrincipalLoader = Callable[[AsyncSession, uuid.UUID, float], Awaitable[Principal | None]]
principal_loaders: list[PrincipalLoader] = []


def caller_stamp(user: Any, links: Any) -> ColumnElement[str]:
    """The user's state that a principal is made of, as one text (a row's text form:
    every field quoted, so no two states share a stamp). ``user`` and ``links`` are the
    users and community_facilitators tables or aliases of them."""
    state = tuple_(
        user.role,
        user.organization_id,
        user.is_active,
        user.tokens_valid_after,
        user.email,
        user.full_name,
        assigned_communities(user, links),
    )
    return cast(state, Text)


def assigned_communities(user: Any, links: Any) -> Any:
    """The ids of the communities assigned to the user, in order (empty when none)."""
    ordered = aggregate_order_by(links.community_id, links.community_id)
    return (
        select(func.coalesce(func.array_agg(ordered), []))
        .where(links.user_id == user.id)
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
    assigned_communities(User, CommunityFacilitator).label("community_ids"),
    caller_stamp(User, CommunityFacilitator).label("stamp"),
).where(User.id == bindparam("user_id"), User.deleted_at.is_(None))

# The caller's stamp read now, as a column any statement can carry (aliases: the
# statement may itself read users; correlate(None): never tied to its rows).
_caller = aliased(User, name="caller")
_CALLER_STAMP = (
    select(caller_stamp(_caller, aliased(CommunityFacilitator, name="caller_links")))
    .where(_caller.id == bindparam("caller_id"), _caller.deleted_at.is_(None))
    .correlate(None)
    .scalar_subquery()
    .label(RIDER_LABEL)
)
_CALLER_STAMP_ALONE = select(_CALLER_STAMP)


async def _load_user(
    session: AsyncSession, user_id: uuid.UUID, issued_at: float
) -> tuple[Principal, float] | None:
    """One query: the user, its state and its assignments, with the time before which
    its tokens are refused. The statement is built once and run on the driver: on every
    request's path, SQLAlchemy's per-execution work cost more than the query."""
    row = next(iter(await fetch_views(session, _USER_PRINCIPAL, {"user_id": user_id})), None)
    if row is None or not row.is_active:
        return None
    # iat carries microseconds (a NumericDate may be fractional): a token issued before a
    # logout is refused, one issued a moment after it is not.
    valid_after = row.tokens_valid_after.timestamp() if row.tokens_valid_after else -math.inf
    if issued_at < valid_after:
        return None
    principal = Principal(
        id=row.id,
        kind="user",
        role=Role(row.role),
        organization_id=row.organization_id,
        community_ids=frozenset(row.community_ids or ()),
        email=row.email,
        full_name=row.full_name,
        stamp=row.stamp,
    )
    return principal, valid_after


class CallerCache:
    """The users behind recent GET requests, per worker, so that a GET costs one query.

    The contract: disabling a user or changing its role takes effect at once; the user
    is read on every request. A GET served from here still reads it: its first
    statement carries the user's stamp as one more column (``CallerRider``), read in
    the same snapshot as the rows it answers with. A stamp that differs (disabled,
    role, organisation, assignments, logout, password reset, deleted) drops the entry
    and the GET is answered again from the start with the user read fresh: 401 for a
    disabled user, the new scope for a changed one. Writes always read the user first.
    """

    LIMIT = 10_000

    def __init__(self) -> None:
        self._entries: dict[uuid.UUID, tuple[Principal, float]] = {}

    def get(self, user_id: uuid.UUID, issued_at: float) -> Principal | None:
        entry = self._entries.get(user_id)
        if entry is None or issued_at < entry[1]:  # a token older than a logout
            return None
        return entry[0]

    def put(self, principal: Principal, valid_after: float) -> None:
        if len(self._entries) >= self.LIMIT:
            self._entries.clear()
        self._entries[principal.id] = (principal, valid_after)

    def drop(self, user_id: uuid.UUID) -> None:
        self._entries.pop(user_id, None)


class CallerRider:
    """The check of a cached caller, carried by the request's first read (``Rider``)."""

    column = _CALLER_STAMP

    def __init__(self, principal: Principal, cache: CallerCache) -> None:
        self.principal = principal
        self.cache = cache
        self.params = {"caller_id": principal.id}

    def settle(self, stamp: str | None) -> None:
        if stamp is None or stamp != self.principal.stamp:
            self.cache.drop(self.principal.id)
            raise RetryRequest()

    async def confirm(self, session: AsyncSession) -> None:
        rows = await fetch_views(session, _CALLER_STAMP_ALONE, self.params)
        self.settle(rows[0]._record[RIDER_LABEL])


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
    callers: CallerCache = request.app.state.callers
    if request.method in RETRYABLE_METHODS and not request.scope["state"].get(RETRIED):
        cached = callers.get(subject, claims.issued_at)
        if cached is not None:
            session.info[RIDER] = CallerRider(cached, callers)
            request.state.principal_id = str(cached.id)
            return cached
    principal: Principal | None = None
    loaded = await _load_user(session, subject, claims.issued_at)
    if loaded is not None:
        principal = loaded[0]
        callers.put(*loaded)
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
