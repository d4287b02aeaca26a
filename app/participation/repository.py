"""Every query of participation records, and the reads of what a record points at.

Each read serves many rows at once (one query per referenced table), so a 1,000-row
upload costs the same few round trips as one row.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, select, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.assessments.models import NeedsAssessment
from app.assessments.repository import assessments
from app.auth.policy import person_scope, program_scope
from app.auth.repository import ScopedRepository
from app.core import audit
from app.core.errors import Conflict
from app.core.fastpath import among, fetch_views
from app.core.i18n import M
from app.core.models import uuid7
from app.core.pagination import Keyset, ListParams
from app.core.principal import Principal
from app.participation.models import Level, ParticipationRecord, ParticipationRole
from app.people.models import Person
from app.programs.models import Activity, Program, ProgramCommunity

RESOURCE = "participation_records"

# A record's person and context: what the unique indexes (and duplicates) are about.
ContextKey = tuple[uuid.UUID, str, uuid.UUID]


def key_of(
    person_id: uuid.UUID, activity_id: uuid.UUID | None, assessment_id: uuid.UUID | None
) -> ContextKey:
    if activity_id:
        return person_id, "activity", activity_id
    return person_id, "assessment", assessment_id  # type: ignore[return-value]


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


class RecordRepository(ScopedRepository[ParticipationRecord]):
    model = ParticipationRecord
    resource = RESOURCE
    label = "participation record"
    keyset = Keyset(
        columns={
            "created_at": ParticipationRecord.created_at,
            "updated_at": ParticipationRecord.updated_at,
            "date": ParticipationRecord.date,
        },
        id_column=ParticipationRecord.id,
    )

    def scope(self, principal: Principal) -> ColumnElement[bool]:
        # Records point at people: never visible to partners.
        return person_scope(principal, ParticipationRecord.community_id)

    async def before_restore(self, session: AsyncSession, entity: ParticipationRecord) -> None:
        if await live_twin(session, entity) is not None:
            raise Conflict(M.participation_live_duplicate)

    async def search(
        self,
        session: AsyncSession,
        principal: Principal,
        params: ListParams,
        *,
        person_id: uuid.UUID | None,
        activity_id: uuid.UUID | None,
        assessment_id: uuid.UUID | None,
        program_id: uuid.UUID | None,
        community_id: uuid.UUID | None,
        level: Level | None,
        role: ParticipationRole | None,
        date_from: date | None,
        date_to: date | None,
    ) -> tuple[list[ParticipationRecord], str | None]:
        """A list page with the list's filters."""
        conditions: list[ColumnElement[bool]] = []
        for column, value in (
            (ParticipationRecord.person_id, person_id),
            (ParticipationRecord.activity_id, activity_id),
            (ParticipationRecord.assessment_id, assessment_id),
            (ParticipationRecord.program_id, program_id),
            (ParticipationRecord.community_id, community_id),
        ):
            if value is not None:
                conditions.append(col(column) == value)
        if level is not None:
            conditions.append(ParticipationRecord.level == level.value)
        if role is not None:
            conditions.append(ParticipationRecord.role == role.value)
        if date_from is not None:
            conditions.append(col(ParticipationRecord.date) >= date_from)
        if date_to is not None:
            conditions.append(col(ParticipationRecord.date) <= date_to)
        return await self.page(
            session,
            principal,
            params,
            conditions=conditions,
            filters={
                "person_id": person_id,
                "activity_id": activity_id,
                "assessment_id": assessment_id,
                "program_id": program_id,
                "community_id": community_id,
                "level": level,
                "role": role,
                "date_from": date_from,
                "date_to": date_to,
            },
        )


records = RecordRepository()


# --- what the rows point at, as the caller sees it -------------------------------------------


async def people_for_rules(
    session: AsyncSession, principal: Principal, person_ids: set[uuid.UUID]
) -> Sequence[Any]:
    return await fetch_views(
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


async def activities_for_rules(
    session: AsyncSession, principal: Principal, activity_ids: set[uuid.UUID]
) -> Sequence[Any]:
    return await fetch_views(
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


_PROGRAM_MEMBERS = select(ProgramCommunity.program_id, ProgramCommunity.community_id).where(
    among(ProgramCommunity.program_id, "programs")
)


async def program_members(
    session: AsyncSession, program_ids: set[uuid.UUID]
) -> dict[uuid.UUID, set[uuid.UUID]]:
    """The communities of each program."""
    members: dict[uuid.UUID, set[uuid.UUID]] = {pid: set() for pid in program_ids}
    for link in await fetch_views(session, _PROGRAM_MEMBERS, {"programs": list(program_ids)}):
        members[link.program_id].add(link.community_id)
    return members


async def assessments_for_rules(
    session: AsyncSession, principal: Principal, assessment_ids: set[uuid.UUID]
) -> Sequence[NeedsAssessment]:
    result = await session.execute(
        assessments.base_query(principal).where(col(NeedsAssessment.id).in_(assessment_ids))
    )
    return result.scalars().all()


# --- duplicates and inserts ----------------------------------------------------------------


async def existing_records(
    session: AsyncSession, principal: Principal, values: Sequence[dict[str, Any]]
) -> tuple[dict[ContextKey, uuid.UUID], dict[str, uuid.UUID]]:
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
    contexts: dict[ContextKey, uuid.UUID] = {}
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
        contexts[key_of(person_id, activity_id, assessment_id)] = rid
        if external_id and created_by == principal.id:
            externals[external_id] = rid
    return contexts, externals


async def insert_records(
    session: AsyncSession, values: Sequence[dict[str, Any]]
) -> dict[ContextKey, uuid.UUID]:
    """Insert in one statement, skipping rows a concurrent writer created first (unique
    indexes decide); returns the ids created, by person+context."""
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
    return {
        key_of(person_id, activity_id, assessment_id): rid
        for rid, person_id, activity_id, assessment_id in result
    }


async def audit_created(
    session: AsyncSession,
    principal: Principal,
    ids: Sequence[uuid.UUID],
    changed_fields: Sequence[str],
) -> None:
    """The audit events of a bulk insert (written at commit in one statement with the
    transaction's other events, ``app.core.deferred``)."""
    for rid in ids:
        await audit.record(session, principal, "create", RESOURCE, rid, changed_fields)
