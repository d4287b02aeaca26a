"""Every query of people: the scoped repository with its list filters and NIK lookup,
the participation summary read with each person, NIK uniqueness and the callers' recent
NIK collisions, the records that point at a person (data-subject export), the rows left
to re-encrypt, and age bands in SQL.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, case, func, or_, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.assessments.models import Ballot
from app.auth.policy import person_scope
from app.auth.repository import ScopedRepository
from app.core.audit import AuditEvent
from app.core.errors import Conflict
from app.core.fastpath import among, fetch_views
from app.core.pagination import Keyset
from app.core.principal import Principal
from app.participation.models import LEVEL_ORDER, ParticipationRecord
from app.people.models import Person, Sex, VulnerableGroup

# Upper bound (inclusive) of each age band but the last, "65+"; shared by the Python and
# the SQL forms so reports and exports count alike.
AGE_BANDS: tuple[tuple[int, str], ...] = (
    (14, "0-14"),
    (24, "15-24"),
    (34, "25-34"),
    (44, "35-44"),
    (54, "45-54"),
    (64, "55-64"),
)

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


# The audit action of an "already registered" answer (app.people.service.claim_nik).
NIK_COLLISION = "nik_collision"


class NikTaken(Conflict):
    """A NIK already registered to a live person (409, without saying whose)."""

    def __init__(self, detail: str = "a person with this NIK is already registered") -> None:
        super().__init__(detail)


async def nik_holder(
    session: AsyncSession, nik_hash: str, exclude: uuid.UUID | None = None
) -> uuid.UUID | None:
    """The live person registered under this NIK digest, in any community (unscoped: for
    the uniqueness rule and its audit entry, never for an answer)."""
    stmt = select(Person.id).where(Person.nik_hash == nik_hash, Person.deleted_at.is_(None))
    if exclude is not None:
        stmt = stmt.where(Person.id != exclude)
    holder: uuid.UUID | None = await session.scalar(stmt.limit(1))
    return holder


async def ensure_nik_free(
    session: AsyncSession, nik_hash: str | None, exclude: uuid.UUID | None = None
) -> None:
    """409 for a NIK already registered to a live person, without saying whose."""
    if nik_hash is not None and await nik_holder(session, nik_hash, exclude) is not None:
        raise NikTaken()


async def flush_unique(session: AsyncSession) -> None:
    """Flush; a NIK registered concurrently (the unique index) becomes ``NikTaken``, not a
    500. The failed transaction is rolled back — inside a savepoint (a sync push's
    mutation) only that savepoint — so the session can go on and record the collision.
    (A request opens no savepoint for it: ``begin_nested`` flushes pending changes before
    it starts, outside the savepoint.)"""
    try:
        await session.flush()
    except IntegrityError as exc:
        if "uq_people_nik_hash_live" in str(exc.orig):
            nested = session.get_nested_transaction()
            await (nested.rollback() if nested is not None else session.rollback())
            raise NikTaken() from None
        raise


async def lock_collisions(session: AsyncSession, actor_id: uuid.UUID) -> None:
    """Serialise one caller's NIK claims until its transaction ends, so parallel requests
    get exactly the collision limit (a transaction-level advisory lock)."""
    key = func.hashtextextended(f"{NIK_COLLISION}:{actor_id}", 0)
    await session.execute(select(func.pg_advisory_xact_lock(key)))


async def collision_edge(
    session: AsyncSession, actor_id: uuid.UUID, since: datetime, limit: int
) -> datetime | None:
    """When the caller's ``limit``-th most recent NIK collision since ``since`` happened;
    None while fewer remain (the audit trail is the counter: no table of its own)."""
    edge: datetime | None = await session.scalar(
        select(AuditEvent.at)
        .where(
            AuditEvent.action == NIK_COLLISION,
            AuditEvent.actor_id == actor_id,
            AuditEvent.at >= since,
        )
        .order_by(col(AuditEvent.at).desc())
        .offset(limit - 1)
        .limit(1)
    )
    return edge


class PersonRepository(ScopedRepository[Person]):
    model = Person
    resource = "people"
    label = "person"
    keyset = Keyset(
        columns={"created_at": Person.created_at, "updated_at": Person.updated_at},
        id_column=Person.id,
    )

    def scope(self, principal: Principal) -> ColumnElement[bool]:
        return person_scope(principal, Person.community_id)

    def read_columns(self) -> tuple[Any, ...]:
        return SUMMARY_COLUMNS

    @staticmethod
    def conditions(
        *,
        community_id: uuid.UUID | None,
        sex: Sex | None,
        disability: bool | None,
        vulnerable_group: VulnerableGroup | None,
        birth_year_min: int | None,
        birth_year_max: int | None,
        q: str | None,
    ) -> list[ColumnElement[bool]]:
        """The list filters (who may use which is the service's rule)."""
        conditions: list[ColumnElement[bool]] = []
        if community_id is not None:
            conditions.append(Person.community_id == community_id)
        if sex is not None:
            conditions.append(Person.sex == sex.value)
        if disability is not None:
            conditions.append(Person.disability == disability)
        if vulnerable_group is not None:
            conditions.append(col(Person.vulnerable_groups).contains([vulnerable_group.value]))
        if birth_year_min is not None:
            conditions.append(col(Person.birth_year) >= birth_year_min)
        if birth_year_max is not None:
            conditions.append(col(Person.birth_year) <= birth_year_max)
        if q is not None:
            conditions.append(col(Person.full_name).icontains(q, autoescape=True))
        return conditions

    async def with_nik_hash(
        self, session: AsyncSession, principal: Principal, nik_hash: str
    ) -> Sequence[Person]:
        """The live people the caller may see registered under this NIK digest."""
        stmt = self.base_query(principal).where(Person.nik_hash == nik_hash)
        return (await session.execute(stmt)).scalars().all()

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


async def not_under_key(session: AsyncSession, current_kid: str, batch: int) -> Sequence[Person]:
    """Up to ``batch`` people with a NIK or phone encrypted under another key than
    ``current_kid``, locked (rows other workers hold are skipped)."""
    current = f"v1.{current_kid}.%"
    stmt = (
        select(Person)
        .where(
            or_(
                Person.nik_ciphertext.is_not(None) & ~Person.nik_ciphertext.like(current),
                Person.phone_ciphertext.is_not(None) & ~Person.phone_ciphertext.like(current),
            )
        )
        .limit(batch)
        .with_for_update(skip_locked=True)
    )
    return (await session.execute(stmt)).scalars().all()


def age_band_sql(birth_year: Any, birth_decade: Any) -> ColumnElement[str]:
    """``service.age_band`` in SQL, the same bands (so rows can be built by the database)."""
    year = func.coalesce(birth_year, birth_decade + 5)
    age = func.extract("year", func.timezone("UTC", func.now())) - year
    return case(
        (year.is_(None), "unknown"),
        *[(age <= upper, label) for upper, label in AGE_BANDS],
        else_="65+",
    )


async def forget_sync_answers(session: AsyncSession, person_id: uuid.UUID) -> None:
    """An erasure: no answer field sync remembers about the person (``sync_mutations``,
    the table layer's) keeps more than its mutation id, status, id and version
    (``current`` is never stored; ``errors`` goes too)."""
    await session.execute(
        text(
            "UPDATE sync_mutations SET result = result - 'current' - 'errors' "
            "WHERE result->>'id' = :row_id"
        ),
        {"row_id": str(person_id)},
    )
