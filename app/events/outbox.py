"""Record an event in the caller's transaction (the outbox of API.md §7).

Usage, from the one service function where the change happens, after the change::

    from app.events.outbox import record_event

    await record_event(
        session,
        "planning_proposal.status_changed",
        {"id": str(proposal.id), "href": f"/api/v1/planning-proposals/{proposal.id}",
         "from": "agreed", "to": "in_rkp_desa"},
        community_id=proposal.community_id,
        program_ids=proposal.program_ids,
    )

The row is only added to the session: it is flushed and committed with the change, so a
request that fails after the change (rollback) emits nothing, and a committed change
always has its event. Commit wakes the dispatchers (a trigger NOTIFYs at commit).

Rules for ``data``: ids, changed field *names* and non-personal values only (statuses,
amounts, dates, titles of programs). Never names, NIK, phone numbers or anything about a
person or a participation record. ``id`` and ``href`` are required.

Scope keywords decide who may see the event (feed and webhooks), the same way the REST
policy decides who may read the resource:

* ``program_ids``: the programs the thing belongs to (programs, activities,
  measurements, budget lines, partnerships, contributions, linked planning proposals);
* ``partner_id``: the partner organisation of a partnership or contribution;
* ``community_id``: the community of a needs assessment or planning proposal.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.events.models import Event

# Every type of API.md §7 and the resource family whose visibility rule applies.
EVENT_TYPES: dict[str, str] = {
    "program.created": "programs",
    "program.updated": "programs",
    "program.status_changed": "programs",
    "activity.created": "programs",
    "activity.updated": "programs",
    "measurement.recorded": "programs",
    "budget_line.changed": "programs",
    "partnership.created": "partnerships",
    "partnership.status_changed": "partnerships",
    "contribution.recorded": "partnerships",
    "contribution.updated": "partnerships",
    "needs_assessment.status_changed": "needs_assessments",
    "planning_proposal.status_changed": "planning_proposals",
    "planning_proposal.funded": "planning_proposals",
}


def _plain(value: Any) -> Any:
    """JSON-ready copy of ``data`` (UUIDs, dates and enums as strings)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


async def record_event(
    session: AsyncSession,
    type: str,
    data: Mapping[str, Any],
    *,
    program_ids: Iterable[uuid.UUID] = (),
    partner_id: uuid.UUID | None = None,
    community_id: uuid.UUID | None = None,
) -> Event:
    """Add one event to the caller's transaction; returns the (unflushed) row.

    Raises ``ValueError`` for a type that is not in the catalogue or ``data`` without
    ``id`` and ``href`` (a programming error, never a client's).
    """
    resource = EVENT_TYPES.get(type)
    if resource is None:
        raise ValueError(f"unknown event type {type!r}")
    if "id" not in data or "href" not in data:
        raise ValueError("event data needs 'id' and 'href'")
    event = Event(
        type=type,
        data=_plain(data),
        resource=resource,
        program_ids=sorted(set(program_ids), key=str),
        partner_id=partner_id,
        community_id=community_id,
    )
    session.add(event)
    return event
