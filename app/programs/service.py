"""Rules of programs: codes, links to communities and findings, the budget sum."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.assessments.models import RANKABLE_KINDS, Finding, NeedsAssessment
from app.auth.models import Role, User
from app.communities.models import Community
from app.core.errors import Conflict, Unprocessable
from app.programs.models import (
    CLOSED_STATUSES,
    Activity,
    BudgetLine,
    Program,
    ProgramCodeCounter,
    ProgramCommunity,
    ProgramFinding,
)


async def next_code(session: AsyncSession, year: int | None = None) -> str:
    """``PRG-YYYY-NNNN``: the counter row is bumped (and locked) in the caller's
    transaction, so concurrent creates queue on it and get consecutive numbers."""
    year = year or datetime.now(UTC).year
    while True:
        number = await session.scalar(
            insert(ProgramCodeCounter)
            .values(year=year, last_number=1)
            .on_conflict_do_update(
                index_elements=[ProgramCodeCounter.year],
                set_={"last_number": ProgramCodeCounter.last_number + 1},
            )
            .returning(ProgramCodeCounter.last_number)
        )
        code = f"PRG-{year}-{number:04d}"
        taken = select(func.count()).where(func.lower(Program.code) == code.lower())
        if not await session.scalar(taken):
            return code  # skip numbers taken by hand-given codes (unique ignoring case)


async def ensure_code_free(
    session: AsyncSession, code: str, exclude: uuid.UUID | None = None
) -> None:
    stmt = select(func.count()).where(func.lower(Program.code) == code.lower())
    if exclude is not None:
        stmt = stmt.where(Program.id != exclude)
    if await session.scalar(stmt):
        raise Conflict("a program with this code already exists")


async def insert_unique(session: AsyncSession, program: Program) -> None:
    """Insert in a savepoint so a concurrent duplicate code becomes a 409, not a 500."""
    try:
        async with session.begin_nested():
            session.add(program)
            await session.flush()
    except IntegrityError as exc:
        if "uq_programs_code" in str(exc.orig):
            raise Conflict("a program with this code already exists") from None
        raise


async def check_communities(session: AsyncSession, community_ids: Sequence[uuid.UUID]) -> None:
    found = set(
        (
            await session.execute(
                select(Community.id).where(
                    col(Community.id).in_(community_ids), Community.deleted_at.is_(None)
                )
            )
        ).scalars()
    )
    missing = [i for i, cid in enumerate(community_ids) if cid not in found]
    if missing:
        raise Unprocessable("community not found", loc=["body", "community_ids", missing[0]])


async def check_findings(
    session: AsyncSession, finding_ids: Sequence[uuid.UUID], community_ids: Sequence[uuid.UUID]
) -> None:
    """Addressed findings must be problems or needs of assessments in the program's
    communities."""
    if not finding_ids:
        return
    found = set(
        (
            await session.execute(
                select(Finding.id)
                .join(NeedsAssessment, NeedsAssessment.id == Finding.assessment_id)
                .where(
                    col(Finding.id).in_(finding_ids),
                    Finding.deleted_at.is_(None),
                    NeedsAssessment.deleted_at.is_(None),
                    col(NeedsAssessment.community_id).in_(community_ids),
                    col(Finding.kind).in_(RANKABLE_KINDS),
                )
            )
        ).scalars()
    )
    strangers = [i for i, fid in enumerate(finding_ids) if fid not in found]
    if strangers:
        raise Unprocessable(
            "addressed findings must be problems or needs found in the program's communities",
            loc=["body", "addressed_finding_ids", strangers[0]],
        )


async def check_coordinator(session: AsyncSession, user_id: uuid.UUID | None) -> None:
    if user_id is None:
        return
    role = await session.scalar(
        select(User.role).where(User.id == user_id, User.deleted_at.is_(None))
    )
    if role not in (Role.coordinator.value, Role.admin.value):
        raise Unprocessable(
            "coordinator_id must name a coordinator or admin", loc=["body", "coordinator_id"]
        )


def check_dates(start: date | None, end: date | None) -> None:
    if start and end and end < start:
        raise Unprocessable("end_date is before start_date", loc=["body", "end_date"])


async def replace_links(
    session: AsyncSession,
    program_id: uuid.UUID,
    community_ids: Sequence[uuid.UUID] | None,
    finding_ids: Sequence[uuid.UUID] | None,
) -> None:
    if community_ids is not None:
        await session.execute(
            delete(ProgramCommunity).where(ProgramCommunity.program_id == program_id)
        )
        session.add_all(
            ProgramCommunity(program_id=program_id, community_id=c) for c in community_ids
        )
    if finding_ids is not None:
        await session.execute(delete(ProgramFinding).where(ProgramFinding.program_id == program_id))
        session.add_all(ProgramFinding(program_id=program_id, finding_id=f) for f in finding_ids)
    await session.flush()


async def links_of(
    session: AsyncSession, program_ids: Sequence[uuid.UUID]
) -> tuple[dict[uuid.UUID, list[uuid.UUID]], dict[uuid.UUID, list[uuid.UUID]]]:
    """Communities and findings of many programs in two queries (no N+1 on lists)."""
    communities: dict[uuid.UUID, list[uuid.UUID]] = {pid: [] for pid in program_ids}
    findings: dict[uuid.UUID, list[uuid.UUID]] = {pid: [] for pid in program_ids}
    if not program_ids:
        return communities, findings
    for pid, cid in await session.execute(
        select(ProgramCommunity.program_id, ProgramCommunity.community_id)
        .where(col(ProgramCommunity.program_id).in_(program_ids))
        .order_by(ProgramCommunity.community_id)
    ):
        communities[pid].append(cid)
    for pid, fid in await session.execute(
        select(ProgramFinding.program_id, ProgramFinding.finding_id)
        .where(col(ProgramFinding.program_id).in_(program_ids))
        .order_by(ProgramFinding.finding_id)
    ):
        findings[pid].append(fid)
    return communities, findings


async def check_activities_stay_inside(
    session: AsyncSession, program_id: uuid.UUID, community_ids: Sequence[uuid.UUID]
) -> None:
    outside = await session.scalar(
        select(func.count()).where(
            Activity.program_id == program_id,
            Activity.deleted_at.is_(None),
            col(Activity.community_id).not_in(community_ids),
        )
    )
    if outside:
        raise Conflict("activities take place in a community being removed; move them first")


def line_total(quantity: Decimal, unit_cost_amount: int) -> int:
    return int((quantity * unit_cost_amount).quantize(Decimal("1"), rounding=ROUND_HALF_UP))


async def refresh_budget(session: AsyncSession, program: Program) -> None:
    """``budget_amount`` is always the sum of the live lines (the program row is locked)."""
    total = await session.scalar(
        select(func.coalesce(func.sum(BudgetLine.total_amount), 0)).where(
            BudgetLine.program_id == program.id, BudgetLine.deleted_at.is_(None)
        )
    )
    program.budget_amount = int(total or 0)
    await session.flush()


def ensure_open(program: Program) -> None:
    if program.status in CLOSED_STATUSES:
        raise Conflict(f"the program is {program.status}: it can no longer change")
