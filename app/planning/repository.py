"""Every query of village planning: proposals (scoped through ``auth.policy``), their links,
planning transitions and funding lines."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, Select, delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.assessments.models import RANKABLE_KINDS, Finding, NeedsAssessment
from app.auth.policy import program_scope, proposal_scope
from app.auth.repository import ScopedRepository
from app.communities.models import Community
from app.core.errors import Conflict, NotFound
from app.core.i18n import M
from app.core.pagination import Keyset, ListParams, paginate
from app.core.principal import Principal
from app.planning.models import (
    PlanningProposal,
    ProposalFinding,
    ProposalFunding,
    ProposalProgram,
    ProposalStatus,
    ProposalTransition,
)
from app.programs.models import Program, ProgramCommunity

RESOURCE = "planning_proposals"
FUNDING = "proposal_funding"
TRANSITION_KEYSET = Keyset(
    columns={"created_at": ProposalTransition.created_at}, id_column=ProposalTransition.id
)


class ProposalRepository(ScopedRepository[PlanningProposal]):
    model = PlanningProposal
    resource = RESOURCE
    label = "planning proposal"
    keyset = Keyset(
        columns={
            "created_at": PlanningProposal.created_at,
            "updated_at": PlanningProposal.updated_at,
            "title": PlanningProposal.title,
            "planning_year": PlanningProposal.planning_year,
        },
        id_column=PlanningProposal.id,
    )

    def scope(self, principal: Principal) -> ColumnElement[bool]:
        return proposal_scope(principal, PlanningProposal.community_id, PlanningProposal.id)

    async def before_restore(self, session: AsyncSession, entity: PlanningProposal) -> None:
        await ensure_findings_free(
            session, entity.planning_year, await finding_ids_of(session, entity.id), entity.id
        )
        if entity.carried_over_from_id is not None and await carried_over_to(
            session, entity.carried_over_from_id
        ):
            raise Conflict(M.carried_over_again)

    async def search(
        self,
        session: AsyncSession,
        principal: Principal,
        params: ListParams,
        *,
        community_id: uuid.UUID | None,
        planning_year: int | None,
        status: ProposalStatus | None,
        bidang: int | None,
        program_id: uuid.UUID | None,
        finding_id: uuid.UUID | None,
        region_code: str | None,
    ) -> tuple[list[PlanningProposal], str | None]:
        p = PlanningProposal
        conditions: list[ColumnElement[bool]] = []
        if community_id is not None:
            conditions.append(p.community_id == community_id)
        if planning_year is not None:
            conditions.append(p.planning_year == planning_year)
        if status is not None:
            conditions.append(p.status == status.value)
        if bidang is not None:
            conditions.append(p.bidang == bidang)
        if program_id is not None:
            conditions.append(
                col(p.id).in_(
                    select(ProposalProgram.proposal_id).where(
                        ProposalProgram.program_id == program_id
                    )
                )
            )
        if finding_id is not None:
            conditions.append(
                col(p.id).in_(
                    select(ProposalFinding.proposal_id).where(
                        ProposalFinding.finding_id == finding_id
                    )
                )
            )
        if region_code is not None:
            conditions.append(
                col(p.community_id).in_(
                    select(Community.id).where(
                        col(Community.region_code).startswith(region_code, autoescape=True)
                    )
                )
            )
        return await self.page(
            session,
            principal,
            params,
            conditions=conditions,
            filters={
                "community_id": community_id,
                "planning_year": planning_year,
                "status": status,
                "bidang": bidang,
                "program_id": program_id,
                "finding_id": finding_id,
                "region_code": region_code,
            },
        )


class FundingRepository(ScopedRepository[ProposalFunding]):
    """Funding lines are seen through their proposal (same scope)."""

    model = ProposalFunding
    resource = FUNDING
    label = "funding line"
    keyset = Keyset(
        columns={
            "created_at": ProposalFunding.created_at,
            "updated_at": ProposalFunding.updated_at,
            "fiscal_year": ProposalFunding.fiscal_year,
        },
        id_column=ProposalFunding.id,
    )

    def base_query(self, principal: Principal, *, include_deleted: bool = False) -> Select[Any]:
        visible = select(PlanningProposal.id).where(
            proposal_scope(principal, PlanningProposal.community_id, PlanningProposal.id),
            PlanningProposal.deleted_at.is_(None),
        )
        stmt = select(ProposalFunding).where(col(ProposalFunding.proposal_id).in_(visible))
        if not include_deleted:
            stmt = stmt.where(ProposalFunding.deleted_at.is_(None))
        return stmt

    async def get_in(
        self,
        session: AsyncSession,
        principal: Principal,
        proposal_id: uuid.UUID,
        funding_id: uuid.UUID,
        *,
        for_update: bool = False,
        include_deleted: bool = False,
    ) -> ProposalFunding:
        """The line if it belongs to this proposal (else 404, as for an unseen one)."""
        entity = await self.get(
            session, principal, funding_id, for_update=for_update, include_deleted=include_deleted
        )
        if entity.proposal_id != proposal_id:
            raise NotFound(M.not_found(thing="funding line"))
        return entity

    async def before_restore(self, session: AsyncSession, entity: ProposalFunding) -> None:
        await ensure_funding_free(
            session, entity.proposal_id, entity.fiscal_year, entity.source, entity.id
        )

    async def of_proposal(
        self,
        session: AsyncSession,
        principal: Principal,
        params: ListParams,
        proposal_id: uuid.UUID,
    ) -> tuple[list[ProposalFunding], str | None]:
        return await self.page(
            session,
            principal,
            params,
            conditions=[col(ProposalFunding.proposal_id) == proposal_id],
            filters={"proposal_id": proposal_id},
        )


proposals = ProposalRepository()
funding = FundingRepository()


# --- links ---------------------------------------------------------------------------------


@dataclass
class Links:
    finding_ids: list[uuid.UUID] = field(default_factory=list)
    program_ids: list[uuid.UUID] = field(default_factory=list)
    carried_over_to_id: uuid.UUID | None = None


async def links_of(
    session: AsyncSession, proposal_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, Links]:
    """Findings, programs and the carry-over draft of each proposal, in one query each."""
    links = {pid: Links() for pid in proposal_ids}
    if not proposal_ids:
        return links
    ids = list(proposal_ids)
    for pid, fid in await session.execute(
        select(ProposalFinding.proposal_id, ProposalFinding.finding_id)
        .where(col(ProposalFinding.proposal_id).in_(ids))
        .order_by(ProposalFinding.finding_id)
    ):
        links[pid].finding_ids.append(fid)
    for pid, prog in await session.execute(
        select(ProposalProgram.proposal_id, ProposalProgram.program_id)
        .where(col(ProposalProgram.proposal_id).in_(ids))
        .order_by(ProposalProgram.program_id)
    ):
        links[pid].program_ids.append(prog)
    for source, draft in await session.execute(
        select(PlanningProposal.carried_over_from_id, PlanningProposal.id).where(
            col(PlanningProposal.carried_over_from_id).in_(ids),
            PlanningProposal.deleted_at.is_(None),
        )
    ):
        links[source].carried_over_to_id = draft
    return links


async def finding_ids_of(session: AsyncSession, proposal_id: uuid.UUID) -> list[uuid.UUID]:
    return list(
        (
            await session.execute(
                select(ProposalFinding.finding_id).where(ProposalFinding.proposal_id == proposal_id)
            )
        ).scalars()
    )


async def program_ids_of(session: AsyncSession, proposal_id: uuid.UUID) -> list[uuid.UUID]:
    return list(
        (
            await session.execute(
                select(ProposalProgram.program_id).where(ProposalProgram.proposal_id == proposal_id)
            )
        ).scalars()
    )


async def set_links(
    session: AsyncSession,
    proposal_id: uuid.UUID,
    *,
    finding_ids: Sequence[uuid.UUID] | None = None,
    program_ids: Sequence[uuid.UUID] | None = None,
) -> None:
    """Replace the given link sets (None leaves a set as it is)."""
    if finding_ids is not None:
        await session.execute(
            delete(ProposalFinding).where(ProposalFinding.proposal_id == proposal_id)
        )
        session.add_all(ProposalFinding(proposal_id=proposal_id, finding_id=f) for f in finding_ids)
    if program_ids is not None:
        await session.execute(
            delete(ProposalProgram).where(ProposalProgram.proposal_id == proposal_id)
        )
        session.add_all(ProposalProgram(proposal_id=proposal_id, program_id=p) for p in program_ids)
    await session.flush()


async def lock_community(session: AsyncSession, community_id: uuid.UUID) -> None:
    """Serialise the proposal writes of one community (the finding-per-year rule)."""
    await session.execute(
        select(Community.id).where(Community.id == community_id).with_for_update()
    )


async def eligible_findings(
    session: AsyncSession, community_id: uuid.UUID, finding_ids: Sequence[uuid.UUID]
) -> set[uuid.UUID]:
    """Of ``finding_ids``, the live problem and need findings of live, validated
    assessments of the community."""
    if not finding_ids:
        return set()
    rows = await session.execute(
        select(Finding.id)
        .join(NeedsAssessment, NeedsAssessment.id == Finding.assessment_id)
        .where(
            col(Finding.id).in_(list(finding_ids)),
            Finding.deleted_at.is_(None),
            col(Finding.kind).in_(RANKABLE_KINDS),
            NeedsAssessment.deleted_at.is_(None),
            NeedsAssessment.status == "validated",
            NeedsAssessment.community_id == community_id,
        )
    )
    return set(rows.scalars())


async def proposed_findings(
    session: AsyncSession,
    planning_year: int,
    finding_ids: Sequence[uuid.UUID],
    exclude: uuid.UUID | None = None,
) -> dict[uuid.UUID, uuid.UUID]:
    """Finding id → the live proposal of ``planning_year`` that already holds it."""
    if not finding_ids:
        return {}
    stmt = (
        select(ProposalFinding.finding_id, PlanningProposal.id)
        .join(PlanningProposal, PlanningProposal.id == ProposalFinding.proposal_id)
        .where(
            col(ProposalFinding.finding_id).in_(list(finding_ids)),
            PlanningProposal.planning_year == planning_year,
            PlanningProposal.deleted_at.is_(None),
        )
    )
    if exclude is not None:
        stmt = stmt.where(PlanningProposal.id != exclude)
    return {fid: pid for fid, pid in await session.execute(stmt)}


async def ensure_findings_free(
    session: AsyncSession,
    planning_year: int,
    finding_ids: Sequence[uuid.UUID],
    exclude: uuid.UUID | None = None,
) -> None:
    taken = await proposed_findings(session, planning_year, finding_ids, exclude)
    if taken:
        finding, proposal = next(iter(taken.items()))
        raise Conflict(
            M.finding_proposed_already(finding=finding, year=planning_year, proposal=proposal),
            extra={"proposal_id": str(proposal)},
        )


async def programs_in_community(
    session: AsyncSession,
    principal: Principal,
    community_id: uuid.UUID,
    program_ids: Sequence[uuid.UUID],
) -> set[uuid.UUID]:
    """Of ``program_ids``, the live, not cancelled programs the caller sees that include
    the community."""
    if not program_ids:
        return set()
    rows = await session.execute(
        select(Program.id)
        .join(ProgramCommunity, ProgramCommunity.program_id == Program.id)
        .where(
            col(Program.id).in_(list(program_ids)),
            Program.deleted_at.is_(None),
            Program.status != "cancelled",
            ProgramCommunity.community_id == community_id,
            program_scope(principal, Program.id),
        )
    )
    return set(rows.scalars())


async def carried_over_to(session: AsyncSession, proposal_id: uuid.UUID) -> uuid.UUID | None:
    result: uuid.UUID | None = await session.scalar(
        select(PlanningProposal.id).where(
            PlanningProposal.carried_over_from_id == proposal_id,
            PlanningProposal.deleted_at.is_(None),
        )
    )
    return result


async def insert_carry_over(session: AsyncSession, draft: PlanningProposal) -> None:
    """Insert in a savepoint: a second live carry-over (unique index) becomes a 409."""
    session.add(draft)
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError:
        raise Conflict(M.carried_over_once) from None


# --- transitions ---------------------------------------------------------------------------


async def last_decided_on(session: AsyncSession, proposal_id: uuid.UUID) -> Any:
    return await session.scalar(
        select(func.max(ProposalTransition.decided_on)).where(
            ProposalTransition.proposal_id == proposal_id
        )
    )


async def transitions_page(
    session: AsyncSession, proposal_id: uuid.UUID, params: ListParams
) -> tuple[Sequence[ProposalTransition], str | None]:
    stmt = select(ProposalTransition).where(
        ProposalTransition.proposal_id == proposal_id, ProposalTransition.deleted_at.is_(None)
    )
    return await paginate(
        session,
        stmt,
        keyset=TRANSITION_KEYSET,
        params=params,
        filters={"proposal_id": proposal_id},
        updated_column=ProposalTransition.updated_at,
    )


# --- funding -------------------------------------------------------------------------------


async def ensure_funding_free(
    session: AsyncSession,
    proposal_id: uuid.UUID,
    fiscal_year: int,
    source: str,
    exclude: uuid.UUID | None = None,
) -> None:
    stmt = select(func.count()).where(
        ProposalFunding.proposal_id == proposal_id,
        ProposalFunding.fiscal_year == fiscal_year,
        ProposalFunding.source == source,
        ProposalFunding.deleted_at.is_(None),
    )
    if exclude is not None:
        stmt = stmt.where(ProposalFunding.id != exclude)
    if await session.scalar(stmt):
        raise Conflict(M.funding_line_taken(source=source, fiscal_year=fiscal_year))


async def funding_totals(session: AsyncSession, proposal_id: uuid.UUID) -> tuple[int, int]:
    planned, realised = (
        await session.execute(
            select(
                func.coalesce(func.sum(ProposalFunding.planned_amount), 0),
                func.coalesce(func.sum(ProposalFunding.realised_amount), 0),
            ).where(
                ProposalFunding.proposal_id == proposal_id, ProposalFunding.deleted_at.is_(None)
            )
        )
    ).one()
    return int(planned), int(realised)


async def live_funding_count(session: AsyncSession, proposal_id: uuid.UUID) -> tuple[int, int]:
    """Live lines, and live lines with a realised amount above zero."""
    total, realised = (
        await session.execute(
            select(
                func.count(),
                func.count().filter(col(ProposalFunding.realised_amount) > 0),
            ).where(
                ProposalFunding.proposal_id == proposal_id, ProposalFunding.deleted_at.is_(None)
            )
        )
    ).one()
    return int(total), int(realised)


async def set_totals(session: AsyncSession, proposal: PlanningProposal) -> bool:
    """Bring the proposal's (locked) funding totals up to date; True when they changed."""
    planned, realised = await funding_totals(session, proposal.id)
    if (planned, realised) == (proposal.funding_planned_amount, proposal.funding_realised_amount):
        return False
    proposal.funding_planned_amount = planned
    proposal.funding_realised_amount = realised
    return True
