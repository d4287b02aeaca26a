"""Every query of people: the scoped repository, the participation summary read with
each person, NIK uniqueness, and the records that point at a person (data-subject export).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.assessments.models import Ballot
from app.auth.policy import person_scope
from app.auth.repository import ScopedRepository
from app.core.errors import Conflict
from app.core.fastpath import among, fetch_views
from app.core.pagination import Keyset
from app.core.principal import Principal
from app.participation.models import LEVEL_ORDER, ParticipationRecord
from app.people.models import Person

LEVEL_RANK = case(
    {level: rank for rank, level in enumerate(LEVEL_ORDER)}, value=ParticipationRecord.level
)


_SUMMARY = (
    select(
        ParticipationRecord.person_id,
        func.count().label("records"),
        func.max(LEVEL_RANK).label("rank"),
    )
    .where(
        among(ParticipationRecord.person_id, "ids"),
        ParticipationRecord.deleted_at.is_(None),
    )
    .group_by(ParticipationRecord.person_id)
)


def _of_person(aggregate: Any, label: str) -> Any:
    return (
        select(aggregate)
        .where(ParticipationRecord.person_id == Person.id, ParticipationRecord.deleted_at.is_(None))
        .scalar_subquery()
        .label(label)
    )


# The same summary as columns of a read of people (GET by id, list pages): no query of
# its own (``PersonRepository.read_columns``).
SUMMARY_COLUMNS = (
    _of_person(func.count(), "participation_records"),
    _of_person(func.max(LEVEL_RANK), "participation_rank"),
)


async def participation_summary(
    session: AsyncSession, people: Sequence[Any]
) -> dict[uuid.UUID, tuple[int, str | None]]:
    """Count and highest IAP2 level per person: read with the people when they were read
    with ``SUMMARY_COLUMNS``, else in one grouped query (no N+1)."""
    if not people:
        return {}
    if all(hasattr(p, "participation_rank") for p in people):
        summary = [(p.id, p.participation_records, p.participation_rank) for p in people]
    else:
        rows = await fetch_views(session, _SUMMARY, {"ids": [p.id for p in people]})
        summary = [(row.person_id, row.records, row.rank) for row in rows]
    return {
        person_id: (records, LEVEL_ORDER[rank] if rank is not None else None)
        for person_id, records, rank in summary
    }


async def ensure_nik_free(
    session: AsyncSession, nik_hash: str | None, exclude: uuid.UUID | None = None
) -> None:
    """409 for a NIK already registered to a live person, without saying whose."""
    if nik_hash is None:
        return
    stmt = select(func.count()).where(Person.nik_hash == nik_hash, Person.deleted_at.is_(None))
    if exclude is not None:
        stmt = stmt.where(Person.id != exclude)
    if await session.scalar(stmt):
        raise Conflict("a person with this NIK is already registered")


class PersonRepository(ScopedRepository[Person]):
    model = Person
    resource = "people"
    label = "person"
    keyset = Keyset(
        columns={"created_at": Person.created_at, "updated_at": Person.updated_at},
        id_column=Person.id,  # type: ignore[arg-type]
    )

    def scope(self, principal: Principal) -> ColumnElement[bool]:
        return person_scope(principal, Person.community_id)

    def read_columns(self) -> tuple[Any, ...]:
        return SUMMARY_COLUMNS

    async def before_restore(self, session: AsyncSession, entity: Person) -> None:
        await ensure_nik_free(session, entity.nik_hash, exclude=entity.id)


people = PersonRepository()


async def records_of_person(session: AsyncSession, person_id: uuid.UUID) -> dict[str, Any]:
    """What other resources hold about a person (data-subject export), by resource."""
    ballots = await session.execute(
        select(Ballot).where(Ballot.person_id == person_id).order_by(Ballot.created_at)
    )
    records = await session.execute(
        select(ParticipationRecord)
        .where(ParticipationRecord.person_id == person_id)
        .order_by(ParticipationRecord.date, ParticipationRecord.id)
    )
    return {
        "ballots": [b.model_dump(mode="json", exclude={"version"}) for b in ballots.scalars()],
        "participation_records": [
            r.model_dump(mode="json", exclude={"created_by", "version"}) for r in records.scalars()
        ],
    }
