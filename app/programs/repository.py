"""Every query of programs and what hangs under them: activities, indicators with their
measurements, budget lines; the links of programs, their budget sum, their status history
and what the terms of reference (KAK) read. A child is visible when its program is
(``program_scope``)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from typing import Any, ClassVar, TypeVar

from sqlalchemy import ColumnElement, Select, delete, exists, func, select
from sqlalchemy.dialects.postgresql import distinct_on, insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel, col

from app.assessments.models import RANKABLE_KINDS, Finding, NeedsAssessment
from app.auth.models import User
from app.auth.policy import program_scope
from app.auth.repository import ScopedRepository
from app.communities.models import Community, CommunityFacilitator
from app.core import i18n
from app.core.errors import Conflict, NotFound
from app.core.pagination import Keyset, ListParams
from app.core.principal import Principal
from app.partners.models import Partner, Partnership, PartnershipStatus
from app.planning.models import PlanningProposal, ProposalProgram
from app.programs.models import (
    Activity,
    ActivityKind,
    ActivityStatus,
    BudgetLine,
    Indicator,
    Measurement,
    Program,
    ProgramCodeCounter,
    ProgramCommunity,
    ProgramFinding,
    ProgramStatus,
)

RESOURCE = "programs"
M = TypeVar("M", bound=SQLModel)


# --- program codes ---------------------------------------------------------------------------


async def bump_code_counter(session: AsyncSession, year: int) -> int:
    """The year's next number; the counter row stays locked until the transaction ends."""
    stmt = (
        insert(ProgramCodeCounter)
        .values(year=year, last_number=1)
        .on_conflict_do_update(
            index_elements=[col(ProgramCodeCounter.year)],
            set_={"last_number": ProgramCodeCounter.last_number + 1},
        )
        .returning(ProgramCodeCounter.last_number)
    )
    return (await session.execute(stmt)).scalar_one()


async def code_taken(session: AsyncSession, code: str, exclude: uuid.UUID | None = None) -> bool:
    """Codes are unique ignoring case (deleted programs keep theirs)."""
    stmt = select(func.count()).where(func.lower(Program.code) == code.lower())
    if exclude is not None:
        stmt = stmt.where(Program.id != exclude)
    return bool(await session.scalar(stmt))


async def ensure_code_free(
    session: AsyncSession, code: str, exclude: uuid.UUID | None = None
) -> None:
    if await code_taken(session, code, exclude):
        raise Conflict(i18n.M.program_code_taken)


async def insert_unique(session: AsyncSession, program: Program) -> None:
    """Insert in a savepoint so a concurrent duplicate code becomes a 409, not a 500."""
    try:
        async with session.begin_nested():
            session.add(program)
            await session.flush()
    except IntegrityError as exc:
        if "uq_programs_code" in str(exc.orig):
            raise Conflict(i18n.M.program_code_taken) from None
        raise


# --- links of programs -----------------------------------------------------------------------


async def live_community_ids(
    session: AsyncSession, community_ids: Sequence[uuid.UUID]
) -> set[uuid.UUID]:
    return set(
        (
            await session.execute(
                select(Community.id).where(
                    col(Community.id).in_(community_ids), Community.deleted_at.is_(None)
                )
            )
        ).scalars()
    )


async def addressable_finding_ids(
    session: AsyncSession, finding_ids: Sequence[uuid.UUID], community_ids: Sequence[uuid.UUID]
) -> set[uuid.UUID]:
    """Of ``finding_ids``, the live problems and needs of assessments in the communities."""
    return set(
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


async def activities_outside(
    session: AsyncSession, program_id: uuid.UUID, community_ids: Sequence[uuid.UUID]
) -> int:
    """How many live activities of the program are in none of ``community_ids``."""
    outside = await session.scalar(
        select(func.count()).where(
            Activity.program_id == program_id,
            Activity.deleted_at.is_(None),
            col(Activity.community_id).not_in(community_ids),
        )
    )
    return outside or 0


async def live_budget_total(session: AsyncSession, program_id: uuid.UUID) -> int:
    total = await session.scalar(
        select(func.coalesce(func.sum(BudgetLine.total_amount), 0)).where(
            BudgetLine.program_id == program_id, BudgetLine.deleted_at.is_(None)
        )
    )
    return int(total or 0)


# --- list filters ----------------------------------------------------------------------------


def program_conditions(
    *,
    status: ProgramStatus | None,
    community_id: uuid.UUID | None,
    region_code: str | None,
    coordinator_id: uuid.UUID | None,
    active_on: date | None,
    starts_from: date | None,
    starts_to: date | None,
    q: str | None,
) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if status is not None:
        conditions.append(Program.status == status.value)
    if community_id is not None:
        conditions.append(
            exists().where(
                ProgramCommunity.program_id == Program.id,
                ProgramCommunity.community_id == community_id,
            )
        )
    if region_code is not None:
        prefix = region_code
        conditions.append(
            exists()
            .where(ProgramCommunity.program_id == Program.id)
            .where(ProgramCommunity.community_id == Community.id)
            .where(col(Community.region_code).startswith(prefix, autoescape=True))
        )
    if coordinator_id is not None:
        conditions.append(Program.coordinator_id == coordinator_id)
    if active_on is not None:
        conditions.append(
            (col(Program.start_date).is_(None)) | (col(Program.start_date) <= active_on)
        )
        conditions.append((col(Program.end_date).is_(None)) | (col(Program.end_date) >= active_on))
    if starts_from is not None:
        conditions.append(col(Program.start_date) >= starts_from)
    if starts_to is not None:
        conditions.append(col(Program.start_date) <= starts_to)
    if q is not None:
        conditions.append(
            col(Program.title).icontains(q, autoescape=True)
            | col(Program.code).icontains(q, autoescape=True)
        )
    return conditions


def activity_conditions(
    *,
    community_id: uuid.UUID | None,
    kind: ActivityKind | None,
    status: ActivityStatus | None,
) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if community_id is not None:
        conditions.append(Activity.community_id == community_id)
    if kind is not None:
        conditions.append(Activity.kind == kind.value)
    if status is not None:
        conditions.append(Activity.status == status.value)
    return conditions


# --- what the terms of reference (KAK) read --------------------------------------------------


async def program_communities(session: AsyncSession, program_id: uuid.UUID) -> list[Community]:
    rows = await session.execute(
        select(Community)
        .join(ProgramCommunity, ProgramCommunity.community_id == Community.id)
        .where(ProgramCommunity.program_id == program_id)
        .order_by(Community.region_code, Community.name)
    )
    return list(rows.scalars().all())


async def addressed_findings(
    session: AsyncSession, program_id: uuid.UUID
) -> list[tuple[Finding, uuid.UUID]]:
    """The live findings a program addresses with their community, highest priority first."""
    rows = await session.execute(
        select(Finding, NeedsAssessment.community_id)
        .join(ProgramFinding, ProgramFinding.finding_id == Finding.id)
        .join(NeedsAssessment, NeedsAssessment.id == Finding.assessment_id)
        .where(ProgramFinding.program_id == program_id, Finding.deleted_at.is_(None))
        .order_by(col(Finding.priority_rank).asc().nulls_last(), Finding.title)
    )
    return [(finding, community_id) for finding, community_id in rows.all()]


async def planning_proposals_of(session: AsyncSession, program_id: uuid.UUID) -> list[Any]:
    """The live village planning proposals the program carries out, by year and title."""
    p = PlanningProposal
    rows = await session.execute(
        select(
            p.id,
            p.community_id,
            p.title,
            p.planning_year,
            p.bidang,
            p.status,
            p.estimated_cost_amount,
            p.funding_planned_amount,
            p.funding_realised_amount,
        )
        .join(ProposalProgram, ProposalProgram.proposal_id == p.id)
        .where(ProposalProgram.program_id == program_id, p.deleted_at.is_(None))
        .order_by(p.planning_year, p.title, p.id)
    )
    return list(rows.all())


async def _live_children(
    session: AsyncSession, model: type[Any], program_id: uuid.UUID, *order_by: Any
) -> list[Any]:
    rows = await session.execute(
        select(model)
        .where(model.program_id == program_id, model.deleted_at.is_(None))
        .order_by(*order_by)
    )
    return list(rows.scalars().all())


async def live_indicators(session: AsyncSession, program_id: uuid.UUID) -> list[Indicator]:
    return await _live_children(session, Indicator, program_id, Indicator.created_at, Indicator.id)


async def live_activities(session: AsyncSession, program_id: uuid.UUID) -> list[Activity]:
    return await _live_children(
        session, Activity, program_id, Activity.scheduled_start, Activity.id
    )


async def live_budget_lines(session: AsyncSession, program_id: uuid.UUID) -> list[BudgetLine]:
    return await _live_children(
        session, BudgetLine, program_id, BudgetLine.created_at, BudgetLine.id
    )


async def latest_values(
    session: AsyncSession, indicator_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, Any]:
    """The value of each indicator's latest live measurement."""
    return {
        indicator_id: value
        for indicator_id, value in await session.execute(
            select(Measurement.indicator_id, Measurement.value)
            .ext(distinct_on(Measurement.indicator_id))
            .where(
                col(Measurement.indicator_id).in_(indicator_ids),
                Measurement.deleted_at.is_(None),
            )
            .order_by(
                Measurement.indicator_id,
                col(Measurement.measured_on).desc(),
                col(Measurement.created_at).desc(),
            )
        )
    }


async def user_name(session: AsyncSession, user_id: uuid.UUID) -> str | None:
    return (
        await session.execute(select(User.full_name).where(User.id == user_id))
    ).scalar_one_or_none()


async def facilitators_of(
    session: AsyncSession, community_ids: Sequence[uuid.UUID]
) -> list[tuple[str, uuid.UUID]]:
    """Live facilitators' names with the community they serve, by name."""
    rows = await session.execute(
        select(User.full_name, CommunityFacilitator.community_id)
        .join(CommunityFacilitator, CommunityFacilitator.user_id == User.id)
        .where(
            col(CommunityFacilitator.community_id).in_(list(community_ids)),
            User.deleted_at.is_(None),
        )
        .order_by(User.full_name)
    )
    return [(name, community_id) for name, community_id in rows.all()]


async def program_partners(session: AsyncSession, program_id: uuid.UUID) -> list[dict[str, Any]]:
    """The partners of a program's live, non-terminated partnerships (the KAK names them)."""
    rows = await session.execute(
        select(Partner.name, Partner.kind, Partnership.role, Partnership.status)
        .join(Partnership, Partnership.partner_id == Partner.id)
        .where(
            Partnership.program_id == program_id,
            Partnership.deleted_at.is_(None),
            Partner.deleted_at.is_(None),
            Partnership.status != PartnershipStatus.terminated.value,
        )
        .order_by(Partner.name, Partnership.role)
    )
    return [{"name": n, "kind": k, "role": r, "status": s} for n, k, r, s in rows]


# --- scoped repositories ---------------------------------------------------------------------


class ProgramRepository(ScopedRepository[Program]):
    model = Program
    resource = RESOURCE
    label = "program"
    keyset = Keyset(
        columns={
            "created_at": Program.created_at,
            "updated_at": Program.updated_at,
            "code": Program.code,
            "title": Program.title,
        },
        id_column=Program.id,
    )

    def scope(self, principal: Principal) -> ColumnElement[bool]:
        return program_scope(principal, Program.id)

    async def before_restore(self, session: AsyncSession, entity: Program) -> None:
        await ensure_code_free(session, entity.code, exclude=entity.id)


class ChildRepository(ScopedRepository[M]):
    """A table whose rows hang under a parent row named by the ``parent`` column."""

    parent: ClassVar[str]

    async def get_under(
        self,
        session: AsyncSession,
        principal: Principal,
        parent_id: uuid.UUID,
        item_id: uuid.UUID,
        *,
        for_update: bool = False,
    ) -> M:
        """The visible row, 404 unless it hangs under ``parent_id``."""
        entity = await self.get(session, principal, item_id, for_update=for_update)
        if getattr(entity, self.parent) != parent_id:
            raise NotFound(i18n.M.not_found(thing=self.label))
        return entity

    async def page_under(
        self,
        session: AsyncSession,
        principal: Principal,
        parent_id: uuid.UUID,
        params: ListParams,
        conditions: Iterable[ColumnElement[bool]] = (),
        filters: Mapping[str, Any] | None = None,
    ) -> tuple[list[M], str | None]:
        """A list page of the rows under ``parent_id`` (the caller checked it is visible)."""
        return await self.page(
            session,
            principal,
            params,
            conditions=[getattr(self.model, self.parent) == parent_id, *conditions],
            filters={self.parent: parent_id, **(filters or {})},
        )


class ProgramChildRepository(ChildRepository[M]):
    """A table hanging under a program (``program_id``): visible when its program is."""

    parent = "program_id"

    def base_query(self, principal: Principal, *, include_deleted: bool = False) -> Select[Any]:
        visible = select(Program.id).where(
            program_scope(principal, Program.id), Program.deleted_at.is_(None)
        )
        stmt = select(self.model).where(self.model.program_id.in_(visible))
        if not include_deleted:
            stmt = stmt.where(self.model.deleted_at.is_(None))
        return stmt


class ActivityRepository(ProgramChildRepository[Activity]):
    model = Activity
    resource = "activities"
    label = "activity"
    keyset = Keyset(
        columns={
            "created_at": Activity.created_at,
            "updated_at": Activity.updated_at,
            "scheduled_start": Activity.scheduled_start,
            "title": Activity.title,
        },
        id_column=Activity.id,
    )


class IndicatorRepository(ProgramChildRepository[Indicator]):
    model = Indicator
    resource = "indicators"
    label = "indicator"
    keyset = Keyset(
        columns={
            "created_at": Indicator.created_at,
            "updated_at": Indicator.updated_at,
            "name": Indicator.name,
        },
        id_column=Indicator.id,
    )


class BudgetLineRepository(ProgramChildRepository[BudgetLine]):
    model = BudgetLine
    resource = "budget_lines"
    label = "budget line"
    keyset = Keyset(
        columns={"created_at": BudgetLine.created_at, "updated_at": BudgetLine.updated_at},
        id_column=BudgetLine.id,
    )


class MeasurementRepository(ChildRepository[Measurement]):
    model = Measurement
    resource = "measurements"
    label = "measurement"
    parent = "indicator_id"
    keyset = Keyset(
        columns={
            "created_at": Measurement.created_at,
            "updated_at": Measurement.updated_at,
            "measured_on": Measurement.measured_on,
        },
        id_column=Measurement.id,
        default="measured_on",
    )

    def base_query(self, principal: Principal, *, include_deleted: bool = False) -> Select[Any]:
        visible = (
            select(Indicator.id)
            .join(Program, Program.id == Indicator.program_id)
            .where(
                program_scope(principal, Program.id),
                Program.deleted_at.is_(None),
                Indicator.deleted_at.is_(None),
            )
        )
        stmt = select(Measurement).where(col(Measurement.indicator_id).in_(visible))
        if not include_deleted:
            stmt = stmt.where(Measurement.deleted_at.is_(None))
        return stmt


programs = ProgramRepository()
activities = ActivityRepository()
indicators = IndicatorRepository()
budget_lines = BudgetLineRepository()
measurements = MeasurementRepository()
