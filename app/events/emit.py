"""The body of each event type of the catalogue, built from the changed row.

One function per kind of change, called by the one service function where that change
happens. Bodies carry ids, hrefs, changed field *names* and non-personal values only:
never free text that may hold a person's words (notes, descriptions, summaries).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.assessments.models import NeedsAssessment
from app.events.outbox import record_event
from app.partners.models import Contribution, Partnership
from app.programs.models import Activity, BudgetLine, Measurement, Program

API = "/api/v1"


def _program_href(program_id: uuid.UUID) -> str:
    return f"{API}/programs/{program_id}"


async def program_created(session: AsyncSession, program: Program) -> None:
    await record_event(
        session,
        "program.created",
        {
            "id": program.id,
            "href": _program_href(program.id),
            "code": program.code,
            "title": program.title,
            "status": program.status,
            "start_date": program.start_date,
            "end_date": program.end_date,
        },
        program_ids=[program.id],
    )


async def program_updated(session: AsyncSession, program: Program, changed: Iterable[str]) -> None:
    fields = sorted(set(changed))
    if fields:
        await record_event(
            session,
            "program.updated",
            {
                "id": program.id,
                "href": _program_href(program.id),
                "changed_fields": fields,
                "version": program.version,
            },
            program_ids=[program.id],
        )


async def program_status_changed(session: AsyncSession, program: Program, previous: str) -> None:
    await record_event(
        session,
        "program.status_changed",
        {
            "id": program.id,
            "href": _program_href(program.id),
            "from": previous,
            "to": program.status,
            "version": program.version,
        },
        program_ids=[program.id],
    )


async def activity_changed(
    session: AsyncSession, activity: Activity, changed: Iterable[str] | None = None
) -> None:
    """``activity.created`` (``changed`` None) or ``activity.updated``."""
    data: dict[str, Any] = {
        "id": activity.id,
        "href": f"{_program_href(activity.program_id)}/activities/{activity.id}",
        "program_id": activity.program_id,
        "community_id": activity.community_id,
        "kind": activity.kind,
        "status": activity.status,
        "scheduled_start": activity.scheduled_start,
    }
    if changed is not None:
        fields = sorted(set(changed))
        if not fields:
            return
        data["changed_fields"] = fields
        data["version"] = activity.version
    # No title: an activity's title is free text that may name a villager (events carry
    # ids, field names and non-personal values only).
    await record_event(
        session,
        "activity.created" if changed is None else "activity.updated",
        data,
        program_ids=[activity.program_id],
    )


async def measurement_recorded(
    session: AsyncSession, program_id: uuid.UUID, measurement: Measurement
) -> None:
    await record_event(
        session,
        "measurement.recorded",
        {
            "id": measurement.id,
            "href": f"{_program_href(program_id)}/indicators/{measurement.indicator_id}"
            f"/measurements/{measurement.id}",
            "program_id": program_id,
            "indicator_id": measurement.indicator_id,
            "measured_on": measurement.measured_on,
            "value": str(measurement.value),
        },
        program_ids=[program_id],
    )


async def budget_line_changed(
    session: AsyncSession, program: Program, line: BudgetLine, change: str
) -> None:
    """``change``: ``created``, ``updated`` or ``deleted``; the program's new total."""
    await record_event(
        session,
        "budget_line.changed",
        {
            "id": line.id,
            "href": f"{_program_href(program.id)}/budget-lines/{line.id}",
            "program_id": program.id,
            "change": change,
            "total_amount": line.total_amount,
            "budget_amount": program.budget_amount,
        },
        program_ids=[program.id],
    )


def _partnership_body(entity: Partnership) -> dict[str, Any]:
    return {
        "id": entity.id,
        "href": f"{API}/partnerships/{entity.id}",
        "partner_id": entity.partner_id,
        "program_id": entity.program_id,
        "role": entity.role,
        "status": entity.status,
    }


async def partnership_created(session: AsyncSession, entity: Partnership) -> None:
    data = _partnership_body(entity) | {"commitment_amount": entity.commitment_amount}
    await record_event(
        session,
        "partnership.created",
        data,
        program_ids=[entity.program_id],
        partner_id=entity.partner_id,
    )


async def partnership_status_changed(
    session: AsyncSession, entity: Partnership, previous: str
) -> None:
    data = _partnership_body(entity) | {"from": previous, "to": entity.status}
    await record_event(
        session,
        "partnership.status_changed",
        data,
        program_ids=[entity.program_id],
        partner_id=entity.partner_id,
    )


async def contribution_changed(
    session: AsyncSession,
    partnership: Partnership,
    entity: Contribution,
    changed: Iterable[str] | None = None,
) -> None:
    """``contribution.recorded`` (``changed`` None) or ``contribution.updated``."""
    data: dict[str, Any] = {
        "id": entity.id,
        "href": f"{API}/partnerships/{partnership.id}/contributions/{entity.id}",
        "partnership_id": partnership.id,
        "partner_id": partnership.partner_id,
        "program_id": partnership.program_id,
        "kind": entity.kind,
        "amount": entity.amount,
        "contributed_on": entity.contributed_on,
    }
    if changed is not None:
        fields = sorted(set(changed))
        if not fields:
            return
        data["changed_fields"] = fields
        data["version"] = entity.version
    await record_event(
        session,
        "contribution.recorded" if changed is None else "contribution.updated",
        data,
        program_ids=[partnership.program_id],
        partner_id=partnership.partner_id,
    )


async def needs_assessment_status_changed(
    session: AsyncSession, entity: NeedsAssessment, previous: str
) -> None:
    await record_event(
        session,
        "needs_assessment.status_changed",
        {
            "id": entity.id,
            "href": f"{API}/needs-assessments/{entity.id}",
            "community_id": entity.community_id,
            "from": previous,
            "to": entity.status,
            "version": entity.version,
        },
        community_id=entity.community_id,
    )
