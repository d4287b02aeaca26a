"""Rules of participation records, shared by the single and the batch endpoints.

Every rule is checked for many rows at once with a bounded number of queries (one
per referenced table), so a 1,000-row upload costs the same few round trips as one row.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import and_, or_, select, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.assessments.models import NeedsAssessment
from app.auth.policy import can_write_in_community, person_scope, program_scope
from app.core.audit import AuditEvent
from app.core.context import request_id_var
from app.core.fastpath import among, fetch_views
from app.core.models import uuid7
from app.core.principal import Principal
from app.participation.models import ParticipationRecord
from app.people.models import Person
from app.people.service import has_active_consent
from app.programs.models import Activity, Program, ProgramCommunity

PROGRAM_PURPOSE, ASSESSMENT_PURPOSE = "program_participation", "needs_assessment"


class RowProblem(Exception):
    """One row breaks a rule: ``status`` 422 (invalid) or 409 (conflicts with state)."""

    def __init__(self, status: int, detail: str, loc: Sequence[str | int] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.loc = list(loc or [])


@dataclass
class Context:
    """What a record points at, resolved: its community scope and allowed dates."""

    community_ids: set[uuid.UUID]
    home_community: uuid.UUID
    program_id: uuid.UUID | None
    first_day: date | None
    last_day: date | None
    purpose: str


@dataclass
class Lookups:
    people: dict[uuid.UUID, Person] = field(default_factory=dict)
    activities: dict[uuid.UUID, Context] = field(default_factory=dict)
    assessments: dict[uuid.UUID, Context] = field(default_factory=dict)


_PROGRAM_MEMBERS = select(ProgramCommunity.program_id, ProgramCommunity.community_id).where(
    among(ProgramCommunity.program_id, "programs")
)


async def load_lookups(
    session: AsyncSession, principal: Principal, rows: Sequence[dict[str, Any]]
) -> Lookups:
    """People, activities and assessments referenced by ``rows``, as the caller sees them."""
    person_ids = {r["person_id"] for r in rows}
    activity_ids = {r["activity_id"] for r in rows if r.get("activity_id")}
    assessment_ids = {r["assessment_id"] for r in rows if r.get("assessment_id")}
    found = Lookups()
    if person_ids:
        people = await fetch_views(
            session,
            # What the rules read (not the personal fields), on the driver: the lookups
            # are most of the CPU of a single POST.
            select(
                Person.id,
                Person.community_id,
                Person.consent_given_at,
                Person.consent_withdrawn_at,
                Person.consent_purposes,
                Person.erased_at,
            ).where(
                among(Person.id, "people"),
                Person.deleted_at.is_(None),
                person_scope(principal, Person.community_id),
            ),
            {"people": list(person_ids)},
        )
        found.people = {p.id: p for p in people}
    if activity_ids:
        activities = await fetch_views(
            session,
            select(
                Activity.id,
                Activity.program_id,
                Activity.community_id,
                Activity.scheduled_start,
                Activity.scheduled_end,
            )
            .join(Program, Program.id == Activity.program_id)
            .where(
                among(Activity.id, "activities"),
                Activity.deleted_at.is_(None),
                program_scope(principal, Program.id),
                Program.deleted_at.is_(None),
            ),
            {"activities": list(activity_ids)},
        )
        program_ids = {activity.program_id for activity in activities}
        members: dict[uuid.UUID, set[uuid.UUID]] = {pid: set() for pid in program_ids}
        for link in await fetch_views(session, _PROGRAM_MEMBERS, {"programs": list(program_ids)}):
            members[link.program_id].add(link.community_id)
        for activity in activities:
            found.activities[activity.id] = Context(
                community_ids=members.get(activity.program_id, set()),
                home_community=activity.community_id,
                program_id=activity.program_id,
                first_day=activity.scheduled_start.date(),
                last_day=activity.scheduled_end.date() if activity.scheduled_end else None,
                purpose=PROGRAM_PURPOSE,
            )
    if assessment_ids:
        result = await session.execute(
            select(NeedsAssessment).where(
                col(NeedsAssessment.id).in_(assessment_ids),
                NeedsAssessment.deleted_at.is_(None),
                person_scope(principal, NeedsAssessment.community_id),
            )
        )
        for a in result.scalars():
            found.assessments[a.id] = Context(
                community_ids={a.community_id},
                home_community=a.community_id,
                program_id=None,
                first_day=a.started_on,
                last_day=a.completed_on,
                purpose=ASSESSMENT_PURPOSE,
            )
    return found


def check_row(principal: Principal, row: dict[str, Any], found: Lookups) -> tuple[Person, Context]:
    """Apply every rule to one row; raise ``RowProblem`` naming the field."""
    activity_id, assessment_id = row.get("activity_id"), row.get("assessment_id")
    if (activity_id is None) == (assessment_id is None):
        raise RowProblem(422, "give exactly one of activity_id and assessment_id", ["activity_id"])
    context = (
        found.activities.get(activity_id) if activity_id else found.assessments.get(assessment_id)
    )
    if context is None:
        name = "activity_id" if activity_id else "assessment_id"
        raise RowProblem(422, f"{name.removesuffix('_id')} not found", [name])
    person = found.people.get(row["person_id"])
    if person is None:
        raise RowProblem(422, "person not found", ["person_id"])
    if person.community_id not in context.community_ids:
        raise RowProblem(
            422, "the person does not belong to a community of this context", ["person_id"]
        )
    if not can_write_in_community(principal, person.community_id):
        raise RowProblem(403, "you may not record participation in this community", ["person_id"])
    check_date(context, row["date"])
    if not has_active_consent(person, context.purpose):
        raise RowProblem(
            409, f"the person has no active consent for {context.purpose}", ["person_id"]
        )
    return person, context


def check_date(context: Context, day: date) -> None:
    if (context.first_day and day < context.first_day) or (
        context.last_day and day > context.last_day
    ):
        raise RowProblem(
            422, "the date is outside the activity's schedule or the assessment's period", ["date"]
        )


def context_of(row: dict[str, Any], found: Lookups) -> Context | None:
    if row.get("activity_id"):
        return found.activities.get(row["activity_id"])
    return found.assessments.get(row.get("assessment_id"))  # type: ignore[arg-type]


async def live_twin(session: AsyncSession, record: ParticipationRecord) -> uuid.UUID | None:
    """Another live record that restoring ``record`` would collide with: the same person
    and context, or the same creator's external id (the unique indexes)."""
    same_context = (
        ParticipationRecord.activity_id == record.activity_id
        if record.activity_id
        else ParticipationRecord.assessment_id == record.assessment_id
    )
    conditions = [and_(ParticipationRecord.person_id == record.person_id, same_context)]
    if record.external_id:
        conditions.append(
            and_(
                ParticipationRecord.created_by == record.created_by,
                ParticipationRecord.external_id == record.external_id,
            )
        )
    found: uuid.UUID | None = await session.scalar(
        select(ParticipationRecord.id)
        .where(
            ParticipationRecord.deleted_at.is_(None),
            ParticipationRecord.id != record.id,
            or_(*conditions),
        )
        .limit(1)
    )
    return found


def record_values(
    principal: Principal, row: dict[str, Any], person: Person, context: Context
) -> dict[str, Any]:
    return {
        "person_id": person.id,
        "activity_id": row.get("activity_id"),
        "assessment_id": row.get("assessment_id"),
        "community_id": person.community_id,
        "program_id": context.program_id,
        "date": row["date"],
        "level": str(row["level"]),
        "role": str(row["role"]),
        "hours": row.get("hours"),
        "notes": row.get("notes"),
        "external_id": row.get("external_id"),
        "created_by": principal.id,
    }


def context_key(values: dict[str, Any]) -> tuple[uuid.UUID, str, uuid.UUID]:
    if values.get("activity_id"):
        return values["person_id"], "activity", values["activity_id"]
    return values["person_id"], "assessment", values["assessment_id"]


async def existing_records(
    session: AsyncSession, principal: Principal, values: Sequence[dict[str, Any]]
) -> tuple[dict[tuple[uuid.UUID, str, uuid.UUID], uuid.UUID], dict[str, uuid.UUID]]:
    """Live records that these rows would duplicate: by person+context, and by the
    caller's external ids."""
    by_activity = [(v["person_id"], v["activity_id"]) for v in values if v.get("activity_id")]
    by_assessment = [(v["person_id"], v["assessment_id"]) for v in values if v.get("assessment_id")]
    external = [v["external_id"] for v in values if v.get("external_id")]
    conditions = []
    if by_activity:
        conditions.append(
            tuple_(ParticipationRecord.person_id, ParticipationRecord.activity_id).in_(by_activity)
        )
    if by_assessment:
        conditions.append(
            tuple_(ParticipationRecord.person_id, ParticipationRecord.assessment_id).in_(
                by_assessment
            )
        )
    if external:
        conditions.append(
            and_(
                ParticipationRecord.created_by == principal.id,
                col(ParticipationRecord.external_id).in_(external),
            )
        )
    contexts: dict[tuple[uuid.UUID, str, uuid.UUID], uuid.UUID] = {}
    externals: dict[str, uuid.UUID] = {}
    if not conditions:
        return contexts, externals
    rows = await session.execute(
        select(
            ParticipationRecord.id,
            ParticipationRecord.person_id,
            ParticipationRecord.activity_id,
            ParticipationRecord.assessment_id,
            ParticipationRecord.external_id,
            ParticipationRecord.created_by,
        ).where(ParticipationRecord.deleted_at.is_(None), or_(*conditions))
    )
    for rid, person_id, activity_id, assessment_id, external_id, created_by in rows:
        key = (
            (person_id, "activity", activity_id)
            if activity_id
            else (person_id, "assessment", assessment_id)
        )
        contexts[key] = rid
        if external_id and created_by == principal.id:
            externals[external_id] = rid
    return contexts, externals


async def insert_records(
    session: AsyncSession, principal: Principal, values: Sequence[dict[str, Any]]
) -> dict[tuple[uuid.UUID, str, uuid.UUID], uuid.UUID]:
    """Insert, skipping rows a concurrent writer created first (unique indexes decide);
    returns the ids created, by person+context. One statement, plus one for the audit."""
    if not values:
        return {}
    rows = [{"id": uuid7(), **v} for v in values]
    # One statement compiled once for a single row, sent as an executemany: SQLAlchemy's
    # "insertmanyvalues" batches it into multi-row INSERTs without compiling a bind
    # parameter per value (compiling .values(rows) for 1,000 rows cost most of a second).
    table = ParticipationRecord.__table__  # type: ignore[attr-defined]
    result = await session.execute(
        insert(table)
        .on_conflict_do_nothing()
        .returning(table.c.id, table.c.person_id, table.c.activity_id, table.c.assessment_id),
        rows,
    )
    created = {}
    for rid, person_id, activity_id, assessment_id in result:
        key = (
            (person_id, "activity", activity_id)
            if activity_id
            else (person_id, "assessment", assessment_id)
        )
        created[key] = rid
    if created:
        request_id = request_id_var.get()
        await session.execute(
            insert(AuditEvent.__table__),  # type: ignore[attr-defined]
            [
                {
                    "id": uuid7(),
                    "actor_id": principal.id,
                    "actor_kind": principal.kind,
                    "action": "create",
                    "resource": "participation_records",
                    "resource_id": rid,
                    "changed_fields": sorted(k for k, v in values[0].items() if k != "created_by"),
                    "request_id": request_id,
                }
                for rid in created.values()
            ],
        )
    return created
