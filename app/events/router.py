"""GET /events: the pull feed of API.md §7."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Query, Request, Response

from app.auth.deps import PrincipalDep, SessionDep
from app.auth.policy import READ, authorize
from app.core.errors import problem_responses
from app.core.pagination import CURSOR_PATTERN, DEFAULT_LIMIT, MAX_LIMIT, set_link_header
from app.core.timestamps import AwareTimestamp
from app.events import repository
from app.events.outbox import EVENT_TYPES
from app.events.schemas import EventPage, EventRead

router = APIRouter(prefix="/events", tags=["events"])

EventType = Literal[tuple(EVENT_TYPES)]  # type: ignore[valid-type]


@router.get(
    "",
    name="events-list",
    response_model=EventPage,
    summary="Pull the events you may see (sort: sequence)",
    responses=problem_responses(401, 422),
)
async def list_events(
    request: Request,
    response: Response,
    session: SessionDep,
    principal: PrincipalDep,
    limit: int = Query(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT, description="Page size (1-500)."),
    cursor: str | None = Query(
        None,
        pattern=CURSOR_PATTERN,
        description="`next_cursor` or `resume_cursor` of an earlier answer, with the same "
        "`type`, `updated_since` and `sort`.",
    ),
    sort: Literal["sequence", "-sequence"] | None = Query(
        None,
        description="`sequence` (default): oldest first, in an order that never changes "
        "behind a cursor; `-sequence`: newest first.",
    ),
    type: list[EventType] | None = Query(  # type: ignore[valid-type]
        None, description="Only these event types (repeat the parameter for several)."
    ),
    updated_since: AwareTimestamp | None = Query(
        None, description="Only events that occurred at or after this RFC 3339 time."
    ),
) -> EventPage:
    """Every caller reads the events of what it may read through the REST API: admins,
    coordinators and analysts all; partners those about programs where their organisation
    has a non-terminated partnership and about their own partnerships and contributions;
    facilitators those of programs touching their communities and of their communities'
    needs assessments. Visibility is checked when you read, not when the event happened.

    Oldest first by default. Keep `resume_cursor` and pass it as `cursor` on your next
    pull: the feed reads only up to the oldest transaction still running, so an event
    committed late by a long transaction is never skipped (it may take until that
    transaction ends to appear). Errors: 401 without a valid token; 422 for a bad
    parameter or a cursor made with other filters."""
    authorize(principal, "events", READ)
    rows, next_cursor, resume = await repository.feed_page(
        session,
        principal,
        limit=limit,
        cursor=cursor,
        sort=sort or "sequence",
        types=type,
        since=updated_since,
    )
    set_link_header(request, response, next_cursor)
    return EventPage(
        items=[EventRead.model_validate(r) for r in rows],
        next_cursor=next_cursor,
        resume_cursor=resume,
    )
