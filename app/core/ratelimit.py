"""Per-principal rate limits for partner service accounts, shared by every worker.

A fixed window of one minute per service account, counted in PostgreSQL with one
upsert (``INSERT ... ON CONFLICT DO UPDATE ... RETURNING``), so the limit holds
across processes and hosts. Over the limit the caller gets 429 with ``Retry-After``
and the ``RateLimit-Limit`` / ``RateLimit-Remaining`` / ``RateLimit-Reset`` headers
(draft-ietf-httpapi-ratelimit-headers); under it, the same three headers.
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime

from fastapi import Response
from sqlalchemy import DateTime, Integer, case
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field, SQLModel

from app.core.errors import TooManyRequests
from app.core.i18n import M

WINDOW_SECONDS = 60


class RateLimitCounter(SQLModel, table=True):
    """One row per limited principal: the current window and the requests counted in it."""

    __tablename__ = "rate_limit_counters"

    principal_id: uuid.UUID = Field(primary_key=True)
    window_start: datetime = Field(sa_type=DateTime(timezone=True), nullable=False)
    count: int = Field(sa_type=Integer, nullable=False)


_table = RateLimitCounter.__table__  # type: ignore[attr-defined]


async def enforce(
    session: AsyncSession, principal_id: uuid.UUID, limit: int, response: Response | None = None
) -> None:
    """Count one request of ``principal_id``; 429 once the window's ``limit`` is used up.

    The counter is committed at once (its own short transaction on the request's
    session) so the row lock is not held for the rest of the request."""
    if limit <= 0:
        return
    now = time.time()
    window = int(now // WINDOW_SECONDS) * WINDOW_SECONDS
    window_start = datetime.fromtimestamp(window, UTC)
    stmt = insert(_table).values(principal_id=principal_id, window_start=window_start, count=1)
    upsert = stmt.on_conflict_do_update(
        index_elements=[_table.c.principal_id],
        set_={
            "count": case(
                (_table.c.window_start == stmt.excluded.window_start, _table.c.count + 1),
                else_=1,
            ),
            "window_start": stmt.excluded.window_start,
        },
    ).returning(_table.c.count)
    count = int((await session.execute(upsert)).scalar_one())
    await session.commit()
    reset = max(1, int(window + WINDOW_SECONDS - now + 0.999))
    headers = {
        "RateLimit-Limit": str(limit),
        "RateLimit-Remaining": str(max(0, limit - count)),
        "RateLimit-Reset": str(reset),
    }
    if count > limit:
        raise TooManyRequests(
            M.rate_limited(limit=limit),
            headers={**headers, "Retry-After": str(reset)},
        )
    if response is not None:
        response.headers.update(headers)
