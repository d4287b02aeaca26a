"""Every query on events: who may see which event, and the feed that never skips.

Visibility is the REST policy's (``app.auth.policy``), applied to the ids an event was
recorded with:

* programs, activities, indicators/measurements, budget lines: ``program_scope``;
* partnerships and contributions: ``partnership_scope`` (partners: their own
  organisation's, whatever the status; others: by program);
* needs assessments: the role must read assessments (never partners) and
  ``community_scope``;
* planning proposals: partners by their programs; others by ``community_scope``.

The horizon: rows are read only below ``pg_snapshot_xmin(pg_current_snapshot())``, the
oldest transaction still running. Every transaction that can still commit an event has a
transaction id at or above it, so ordering by ``(txid, seq)`` below the horizon gives a
prefix of the final order: a cursor never passes a row that commits later.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Sequence
from datetime import datetime

import orjson
from sqlalchemy import ColumnElement, and_, exists, false, func, or_, select, text, true, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.auth.policy import (
    READ,
    allowed,
    community_scope,
    organization_scope,
    program_scope,
)
from app.core.errors import Unprocessable
from app.core.i18n import M
from app.core.pagination import filter_digest
from app.core.principal import Principal, Role
from app.events.models import Event

# The oldest transaction id still running: nothing at or above it is read.
HORIZON = text("(pg_snapshot_xmin(pg_current_snapshot())::text)::bigint")


def _any_program(principal: Principal) -> ColumnElement[bool]:
    """One of the event's programs is visible to the caller."""
    pid = func.unnest(Event.program_ids).table_valued("pid").render_derived()
    return exists(select(1).select_from(pid).where(program_scope(principal, pid.c.pid)))


def event_scope(principal: Principal) -> ColumnElement[bool]:
    """The events the caller may see (see the module's docstring)."""
    if principal.role is Role.partner and principal.organization_id is None:
        return false()
    programs = (
        true()
        if principal.role in (Role.admin, Role.coordinator, Role.analyst)
        else _any_program(principal)
    )
    partner = principal.role is Role.partner
    rules = [
        and_(Event.resource == "programs", programs),
        and_(
            Event.resource == "partnerships",
            organization_scope(principal, col(Event.partner_id)) if partner else programs,
        ),
        and_(
            Event.resource == "planning_proposals",
            programs if partner else community_scope(principal, col(Event.community_id)),
        ),
    ]
    if allowed(principal, "needs_assessments", READ):
        rules.append(
            and_(
                Event.resource == "needs_assessments",
                community_scope(principal, col(Event.community_id)),
            )
        )
    return or_(*rules)


def encode_cursor(sort: str, digest: str, txid: int, seq: int) -> str:
    payload = orjson.dumps({"s": sort, "f": digest, "t": txid, "q": seq})
    return base64.urlsafe_b64encode(payload).decode().rstrip("=")


def decode_cursor(cursor: str, sort: str, digest: str) -> tuple[int, int]:
    try:
        data = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        txid, seq = data["t"], data["q"]
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (txid, seq)):
            raise ValueError("not integers")
        cursor_sort, cursor_digest = data["s"], data["f"]
    except Exception as exc:
        raise Unprocessable(M.cursor_invalid, loc=["query", "cursor"]) from exc
    if cursor_sort != sort or cursor_digest != digest:
        raise Unprocessable(M.cursor_other_filters, loc=["query", "cursor"])
    return txid, seq


async def feed_page(
    session: AsyncSession,
    principal: Principal,
    *,
    limit: int,
    cursor: str | None,
    sort: str,
    types: Sequence[str] | None,
    since: datetime | None,
) -> tuple[list[Event], str | None, str | None]:
    """One page of the caller's events in commit-safe order, the next cursor (None at the
    end of what is visible now) and, ascending, the cursor to resume from later (after
    the last event read; the given one when nothing new was read)."""
    descending = sort.startswith("-")
    digest = filter_digest({"type": ",".join(sorted(types)) if types else None, "since": since})
    conditions: list[ColumnElement[bool]] = [
        col(Event.txid) < HORIZON,
        event_scope(principal),
    ]
    if types:
        conditions.append(col(Event.type).in_(list(types)))
    if since is not None:
        conditions.append(col(Event.occurred_at) >= since)
    key = tuple_(col(Event.txid), col(Event.seq))
    if cursor:
        txid, seq = decode_cursor(cursor, sort, digest)
        conditions.append(key < tuple_(txid, seq) if descending else key > tuple_(txid, seq))
    order = (
        (col(Event.txid).desc(), col(Event.seq).desc())
        if descending
        else (col(Event.txid), col(Event.seq))
    )
    stmt = select(Event).where(*conditions).order_by(*order).limit(limit + 1)
    rows = list((await session.execute(stmt)).scalars())
    next_cursor = None
    full = len(rows) > limit
    rows = rows[:limit]
    resume = cursor if not descending else None
    if rows:
        last = rows[-1]
        assert last.txid is not None and last.seq is not None
        position = encode_cursor(sort, digest, last.txid, last.seq)
        next_cursor = position if full else None
        resume = position if not descending else None
    return rows, next_cursor, resume


async def visible_to(
    session: AsyncSession, principal: Principal, event_ids: Sequence[uuid.UUID]
) -> set[uuid.UUID]:
    """Which of these events the principal may see now."""
    if not event_ids:
        return set()
    rows = await session.execute(
        select(Event.id).where(col(Event.id).in_(list(event_ids)), event_scope(principal))
    )
    return {r[0] for r in rows}


def endpoint_principal(organization_id: uuid.UUID | None) -> Principal:
    """Who a webhook endpoint receives as: its partner organisation, or (internal
    endpoints, no organisation) an analyst-like reader of every event."""
    if organization_id is None:
        return Principal(id=uuid.UUID(int=0), kind="service_account", role=Role.analyst)
    return Principal(
        id=uuid.UUID(int=0),
        kind="service_account",
        role=Role.partner,
        organization_id=organization_id,
    )
