"""Every query of field sync: the change log and its horizon, the synced rows by id and
in id order (each through its resource's own scope), the devices' mutation memory."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, delete, func, or_, select, text, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.assessments.models import Ballot, Finding, NeedsAssessment
from app.assessments.repository import assessments, findings
from app.auth.policy import facilitator_communities, program_scope
from app.communities.models import Community
from app.communities.repository import communities
from app.core.fastpath import among, fetch_views
from app.core.models import utcnow
from app.core.principal import Principal, Role
from app.participation.models import ParticipationRecord
from app.participation.repository import records
from app.people.models import Person
from app.people.repository import SUMMARY_COLUMNS, people
from app.programs.models import Activity, Indicator, Measurement, Program, ProgramCommunity
from app.programs.repository import activities, indicators, measurements, programs
from app.sync.models import SyncChange, SyncHorizon, SyncMutation

SCOPE_RESOURCE = "community_facilitators"
MAX_SEQ = 2**62


def _programs_of(community_id: uuid.UUID) -> Select[Any]:
    return select(ProgramCommunity.program_id).where(ProgramCommunity.community_id == community_id)


def _ballot_query(principal: Principal, *, include_deleted: bool = False) -> Select[Any]:
    visible = assessments.base_query(principal).with_only_columns(NeedsAssessment.id)
    stmt = select(Ballot).where(col(Ballot.assessment_id).in_(visible))
    if not include_deleted:
        stmt = stmt.where(col(Ballot.deleted_at).is_(None))
    return stmt


@dataclass(frozen=True)
class Table:
    """A synced table: its rows as the caller may read them, and its rows of one community."""

    model: Any
    query: Callable[..., Select[Any]]  # (principal, include_deleted=...) -> select
    of_community: Callable[[uuid.UUID], ColumnElement[bool]]
    read_columns: tuple[Any, ...] = ()


TABLES: dict[str, Table] = {
    "communities": Table(Community, communities.base_query, lambda c: col(Community.id) == c),
    "people": Table(
        Person, people.base_query, lambda c: col(Person.community_id) == c, SUMMARY_COLUMNS
    ),
    "needs_assessments": Table(
        NeedsAssessment, assessments.base_query, lambda c: col(NeedsAssessment.community_id) == c
    ),
    "findings": Table(
        Finding,
        findings.base_query,
        lambda c: col(Finding.assessment_id).in_(
            select(NeedsAssessment.id).where(NeedsAssessment.community_id == c)
        ),
    ),
    "ballots": Table(
        Ballot,
        _ballot_query,
        lambda c: col(Ballot.assessment_id).in_(
            select(NeedsAssessment.id).where(NeedsAssessment.community_id == c)
        ),
    ),
    "programs": Table(Program, programs.base_query, lambda c: col(Program.id).in_(_programs_of(c))),
    "activities": Table(Activity, activities.base_query, lambda c: col(Activity.community_id) == c),
    "indicators": Table(
        Indicator, indicators.base_query, lambda c: col(Indicator.program_id).in_(_programs_of(c))
    ),
    "measurements": Table(
        Measurement,
        measurements.base_query,
        lambda c: col(Measurement.indicator_id).in_(
            select(Indicator.id).where(col(Indicator.program_id).in_(_programs_of(c)))
        ),
    ),
    "participation_records": Table(
        ParticipationRecord,
        records.base_query,
        lambda c: col(ParticipationRecord.community_id) == c,
    ),
}


# --- the synced rows ---------------------------------------------------------------------


async def rows_in_order(
    session: AsyncSession,
    resource: str,
    principal: Principal,
    after: uuid.UUID | None,
    limit: int,
    community_id: uuid.UUID | None,
) -> list[Any]:
    """Live rows the caller may read, in id order after ``after`` (a first sync)."""
    table = TABLES[resource]
    stmt = table.query(principal).add_columns(*table.read_columns)
    if after is not None:
        stmt = stmt.where(table.model.id > after)
    if community_id is not None:
        stmt = stmt.where(table.of_community(community_id))
    return await fetch_views(session, stmt.order_by(table.model.id).limit(limit))


async def rows_by_id(
    session: AsyncSession, resource: str, principal: Principal, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, Any]:
    """The rows (deleted ones too) the caller may read among ``ids``."""
    table = TABLES[resource]
    stmt = (
        table.query(principal, include_deleted=True)
        .add_columns(*table.read_columns)
        .where(among(table.model.id, "ids"))
    )
    return {row.id: row for row in await fetch_views(session, stmt, {"ids": list(ids)})}


async def ballot(session: AsyncSession, principal: Principal, ballot_id: uuid.UUID) -> Any:
    """A live ballot the caller may read, or None."""
    stmt = _ballot_query(principal).where(Ballot.id == ballot_id)
    return (await session.execute(stmt)).scalar_one_or_none()


# --- the change log ----------------------------------------------------------------------


async def horizon(session: AsyncSession) -> int:
    """A transaction id below every transaction of this database still running: each
    change written below it is committed (or rolled back) for good.

    ``pg_snapshot_xmin(pg_current_snapshot())`` would do, but it counts every database
    of the server (a long query elsewhere would hold every device back), so the running
    transactions of this database are read from ``pg_stat_activity`` — after the next
    transaction id was taken, and with the statistics snapshot cleared, so that none that
    started in between can be missed. Their 32-bit ids are widened with the epoch of the
    next id (all are within 2^31 of it). On a standby this is not valid: the feed is read
    on the primary."""
    top = int(
        await session.scalar(text("SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint"))
    )
    await session.execute(text("SELECT pg_stat_clear_snapshot()"))
    oldest = await session.scalar(
        text(
            "SELECT max((:top - backend_xid::text::bigint) % 4294967296 + 4294967296) "
            "% 4294967296 FROM pg_stat_activity "
            "WHERE datname = current_database() AND backend_xid IS NOT NULL"
        ),
        {"top": top},
    )
    return top if oldest is None else top - int(oldest)


async def purged_through(session: AsyncSession) -> tuple[int, int] | None:
    row = (await session.execute(select(SyncHorizon.txid, SyncHorizon.seq))).first()
    return None if row is None else (int(row[0]), int(row[1]))


def _log_scope(principal: Principal, community_id: uuid.UUID | None) -> ColumnElement[bool]:
    """A cheap superset of what the caller may read (each row's own scope decides when it
    is read), plus the caller's own assignment changes."""
    conditions: list[ColumnElement[bool]] = []
    if principal.role is Role.facilitator:
        mine = facilitator_communities(principal.id)
        conditions.append(col(SyncChange.community_id).in_(mine))
        conditions.append(
            col(SyncChange.program_id).in_(
                select(Program.id).where(program_scope(principal, Program.id))
            )
        )
        rows = or_(*conditions)
        own = and_(
            col(SyncChange.resource) == SCOPE_RESOURCE, col(SyncChange.row_id) == principal.id
        )
        synced = and_(col(SyncChange.resource) != SCOPE_RESOURCE, rows)
        scoped = or_(own, synced)
    else:
        scoped = col(SyncChange.resource) != SCOPE_RESOURCE
    if community_id is not None:
        scoped = and_(
            scoped,
            or_(
                col(SyncChange.community_id) == community_id,
                col(SyncChange.program_id).in_(_programs_of(community_id)),
            ),
        )
    return scoped


async def log_after(
    session: AsyncSession,
    principal: Principal,
    position: tuple[int, int],
    below_txid: int,
    limit: int,
    community_id: uuid.UUID | None,
) -> list[Any]:
    """Log entries after ``position`` written by transactions below ``below_txid``, in
    (txid, seq) order."""
    stmt = (
        select(
            SyncChange.txid,
            SyncChange.seq,
            SyncChange.resource,
            SyncChange.row_id,
            SyncChange.op,
            SyncChange.version,
            SyncChange.community_id,
        )
        .where(
            tuple_(SyncChange.txid, SyncChange.seq) > tuple_(position[0], position[1]),
            SyncChange.txid < below_txid,
            _log_scope(principal, community_id),
        )
        .order_by(SyncChange.txid, SyncChange.seq)
        .limit(limit)
    )
    return list((await session.execute(stmt)).all())


async def purge(session: AsyncSession, changes_before: datetime) -> int:
    """Drop the change log written before ``changes_before``; remember how far (older
    cursors then answer 410). Returns the entries dropped."""
    last = (
        await session.execute(
            select(SyncChange.txid, SyncChange.seq)
            .where(SyncChange.changed_at < changes_before)
            .order_by(col(SyncChange.txid).desc(), col(SyncChange.seq).desc())
            .limit(1)
        )
    ).first()
    if last is None:
        return 0
    txid, seq = int(last[0]), int(last[1])
    result = await session.execute(
        delete(SyncChange).where(tuple_(SyncChange.txid, SyncChange.seq) <= tuple_(txid, seq))
    )
    await session.execute(
        insert(SyncHorizon)
        .values(id=1, txid=txid, seq=seq, purged_at=utcnow())
        .on_conflict_do_update(
            index_elements=["id"], set_={"txid": txid, "seq": seq, "purged_at": utcnow()}
        )
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


# --- devices' mutations ------------------------------------------------------------------


async def lock_device(session: AsyncSession, user_id: uuid.UUID, device_id: str) -> None:
    """One push at a time per device: a retry waits for the first to end, then finds its
    mutations remembered."""
    await session.execute(
        select(func.pg_advisory_xact_lock(func.hashtextextended(f"sync:{user_id}:{device_id}", 0)))
    )


async def remembered(
    session: AsyncSession, user_id: uuid.UUID, device_id: str, mutation_ids: Sequence[str]
) -> dict[str, dict[str, Any]]:
    rows = await session.execute(
        select(SyncMutation.mutation_id, SyncMutation.result).where(
            SyncMutation.user_id == user_id,
            SyncMutation.device_id == device_id,
            col(SyncMutation.mutation_id).in_(list(mutation_ids)),
        )
    )
    return {mutation_id: result for mutation_id, result in rows.all()}


async def remember(
    session: AsyncSession, user_id: uuid.UUID, device_id: str, answers: dict[str, dict[str, Any]]
) -> None:
    if answers:
        await session.execute(
            insert(SyncMutation).values(
                [
                    {"user_id": user_id, "device_id": device_id, "mutation_id": m, "result": r}
                    for m, r in answers.items()
                ]
            )
        )


async def forget_mutations(session: AsyncSession, before: datetime) -> int:
    result = await session.execute(delete(SyncMutation).where(SyncMutation.created_at < before))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
