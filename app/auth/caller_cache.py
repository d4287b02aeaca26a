"""The caller cache: a GET by a caller seen before costs one query, not two.

The contract says disabling a user or changing its role takes effect on the very next
request, so the user is read on every request. A write reads it first with its own
query (``load_user``). A GET whose caller this worker has seen before instead takes the
principal from ``CallerCache`` and reads the user's *stamp* (its whole state as one
text: role, organisation, active, logout time, email, name, assignments) as one more
column of its first row-reading statement (``CallerRider``, a ``Rider`` of
``app.core.fastpath``). If the stamp read then differs from the cached principal's, the
entry is dropped and the GET is answered again from the start with the user read fresh
(``RetryRequest``): 401 for a disabled user, the new scope for a changed one. A GET that
reads no rows that way confirms the stamp with its own query before answering.

tests/auth/test_caller_cache.py changes users behind the app's back to prove it.
"""

from __future__ import annotations

import math
import uuid
from typing import Any

from sqlalchemy import ColumnElement, Text, bindparam, cast, exists, func, select, tuple_
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from app.auth.models import User
from app.communities.models import CommunityFacilitator
from app.core.errors import RetryRequest
from app.core.fastpath import RIDER_LABEL, fetch_views
from app.core.principal import Principal, Role
from app.partners.models import Partner


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
    # A partner user's organisation deleted: no access (deleting also disables the user;
    # this holds whatever way the organisation went).
    (
        User.organization_id.is_(None)
        | exists().where(Partner.id == User.organization_id, Partner.deleted_at.is_(None))
    ).label("organization_live"),
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


async def load_user(
    session: AsyncSession, user_id: uuid.UUID, issued_at: float
) -> tuple[Principal, float] | None:
    """One query: the user, its state and its assignments, with the time before which
    its tokens are refused. The statement is built once and run on the driver: on every
    request's path, SQLAlchemy's per-execution work cost more than the query."""
    row = next(iter(await fetch_views(session, _USER_PRINCIPAL, {"user_id": user_id})), None)
    if row is None or not row.is_active or not row.organization_live:
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
