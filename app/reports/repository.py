"""Every query of the reports: aggregates over indexed columns, scoped like every read
(``community_scope``/``program_scope``), with the report filters as conditions."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, and_, func, select, true
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.assessments.models import RANKABLE_KINDS, Finding, NeedsAssessment
from app.auth.policy import community_scope, program_scope
from app.communities.models import Community, DevelopmentIndex
from app.core.principal import Principal
from app.participation.models import ParticipationRecord
from app.partners.models import Contribution, Partner, Partnership, PartnershipStatus
from app.people.models import Person
from app.programs.models import (
    Activity,
    Indicator,
    Measurement,
    Program,
    ProgramCommunity,
    ProgramFinding,
)
from app.reports.schemas import Filters


def _community_conditions(
    principal: Principal, filters: Filters, community_column: Any
) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [community_scope(principal, community_column)]
    if filters.community_id is not None:
        conditions.append(community_column == filters.community_id)
    if filters.region_code is not None:
        conditions.append(
            community_column.in_(
                select(Community.id).where(
                    col(Community.region_code).startswith(filters.region_code, autoescape=True)
                )
            )
        )
    return conditions


# --- participation --------------------------------------------------------------------------


async def participation(
    session: AsyncSession, principal: Principal, filters: Filters
) -> tuple[Sequence[Any], Sequence[Any]]:
    """Live records in the filters: per person (sex, birth year and decade, disability,
    record count, roles), and counts by IAP2 level and role."""
    r = ParticipationRecord
    conditions = [
        col(r.deleted_at).is_(None),
        *_community_conditions(principal, filters, r.community_id),
    ]
    if filters.program_id is not None:
        conditions.append(r.program_id == filters.program_id)
    if filters.date_from is not None:
        conditions.append(col(r.date) >= filters.date_from)
    if filters.date_to is not None:
        conditions.append(col(r.date) <= filters.date_to)
    per_person = await session.execute(
        select(
            Person.sex,
            Person.birth_year,
            Person.birth_decade,
            Person.disability,
            func.count(),
            func.array_agg(func.distinct(r.role)),
        )
        .join(Person, Person.id == r.person_id)
        .where(*conditions)
        .group_by(Person.id)
    )
    by_level_role = await session.execute(
        select(r.level, r.role, func.count(), func.count(func.distinct(r.person_id)))
        .where(*conditions)
        .group_by(r.level, r.role)
    )
    return per_person.all(), by_level_role.all()


# --- program progress -----------------------------------------------------------------------


async def live_indicators(session: AsyncSession, program_id: uuid.UUID) -> Sequence[Indicator]:
    return (
        (
            await session.execute(
                select(Indicator)
                .where(Indicator.program_id == program_id, col(Indicator.deleted_at).is_(None))
                .order_by(Indicator.created_at, Indicator.id)
            )
        )
        .scalars()
        .all()
    )


async def latest_measurements(
    session: AsyncSession, indicator_ids: list[uuid.UUID]
) -> dict[uuid.UUID, tuple[Decimal, date]]:
    """The latest live value and date of each indicator (by measurement date, then entry)."""
    return {
        iid: (value, on)
        for iid, value, on in await session.execute(
            select(Measurement.indicator_id, Measurement.value, Measurement.measured_on)
            .ext(distinct_on(Measurement.indicator_id))
            .where(
                col(Measurement.indicator_id).in_(indicator_ids),
                col(Measurement.deleted_at).is_(None),
            )
            .order_by(
                Measurement.indicator_id,
                col(Measurement.measured_on).desc(),
                col(Measurement.created_at).desc(),
            )
        )
    }


async def activity_counts(session: AsyncSession, program_id: uuid.UUID) -> dict[str, int]:
    """Live activities of the program by status."""
    return dict(
        (
            await session.execute(
                select(Activity.status, func.count())
                .where(Activity.program_id == program_id, col(Activity.deleted_at).is_(None))
                .group_by(Activity.status)
            )
        ).all()
    )


async def committed_and_contributed(
    session: AsyncSession, program_id: uuid.UUID
) -> tuple[int, int]:
    """What the program's live, non-terminated partnerships committed, and what all its
    live partnerships contributed."""
    committed, contributed = (
        await session.execute(
            select(
                func.coalesce(func.sum(Partnership.commitment_amount), 0),
                select(func.coalesce(func.sum(Contribution.amount), 0))
                .join(Partnership, Partnership.id == Contribution.partnership_id)
                .where(
                    Partnership.program_id == program_id,
                    col(Contribution.deleted_at).is_(None),
                    col(Partnership.deleted_at).is_(None),
                )
                .scalar_subquery(),
            ).where(
                Partnership.program_id == program_id,
                col(Partnership.deleted_at).is_(None),
                Partnership.status != PartnershipStatus.terminated.value,
            )
        )
    ).one()
    return int(committed), int(contributed)


# --- needs coverage -------------------------------------------------------------------------


async def prioritised_needs(
    session: AsyncSession, principal: Principal, filters: Filters
) -> Sequence[Any]:
    """Rankable findings of live assessments with the codes of the live programs the
    caller sees that address each, by community name and rank."""
    conditions = [
        col(Finding.deleted_at).is_(None),
        col(NeedsAssessment.deleted_at).is_(None),
        NeedsAssessment.status != "cancelled",
        col(Finding.kind).in_(RANKABLE_KINDS),
        *_community_conditions(principal, filters, NeedsAssessment.community_id),
    ]
    if filters.date_from is not None:
        conditions.append(col(NeedsAssessment.started_on) >= filters.date_from)
    if filters.date_to is not None:
        conditions.append(col(NeedsAssessment.started_on) <= filters.date_to)
    live_program = and_(
        col(Program.deleted_at).is_(None),
        Program.status != "cancelled",
        program_scope(principal, Program.id),
    )
    rows = await session.execute(
        select(
            Community.id,
            Community.name,
            Community.region_code,
            Finding.id,
            Finding.title,
            Finding.kind,
            Finding.category,
            Finding.severity,
            Finding.priority_rank,
            func.array_remove(func.array_agg(Program.code), None),
        )
        .join(NeedsAssessment, NeedsAssessment.id == Finding.assessment_id)
        .join(Community, Community.id == NeedsAssessment.community_id)
        .outerjoin(ProgramFinding, ProgramFinding.finding_id == Finding.id)
        .outerjoin(Program, and_(Program.id == ProgramFinding.program_id, live_program))
        .where(*conditions)
        .group_by(Community.id, Finding.id)
        .order_by(Community.name, col(Finding.priority_rank).asc().nulls_last(), Finding.title)
    )
    return rows.all()


# --- partnerships ---------------------------------------------------------------------------


async def partnerships(
    session: AsyncSession, principal: Principal, filters: Filters
) -> Sequence[Any]:
    """Live partnerships of the programs the caller sees: partner kind, program, status,
    commitment, and the contributions made in the date filters."""
    conditions: list[ColumnElement[bool]] = [
        col(Partnership.deleted_at).is_(None),
        col(Partner.deleted_at).is_(None),
        col(Program.deleted_at).is_(None),
        program_scope(principal, Program.id),
    ]
    community_id, region_code = filters.community_id, filters.region_code
    if filters.program_id is not None:
        conditions.append(Program.id == filters.program_id)
    if community_id is not None or region_code is not None:
        conditions.append(
            col(Program.id).in_(
                select(ProgramCommunity.program_id)
                .join(Community, Community.id == ProgramCommunity.community_id)
                .where(
                    Community.id == community_id if community_id else true(),
                    col(Community.region_code).startswith(region_code, autoescape=True)
                    if region_code
                    else true(),
                )
            )
        )
    contribution_filter = [
        col(Contribution.deleted_at).is_(None),
        Contribution.partnership_id == Partnership.id,
    ]
    if filters.date_from is not None:
        contribution_filter.append(col(Contribution.contributed_on) >= filters.date_from)
    if filters.date_to is not None:
        contribution_filter.append(col(Contribution.contributed_on) <= filters.date_to)
    contributed = (
        select(func.coalesce(func.sum(Contribution.amount), 0))
        .where(*contribution_filter)
        .scalar_subquery()
    )
    rows = await session.execute(
        select(
            Partner.kind,
            Program.id,
            Program.code,
            Program.title,
            Partnership.status,
            Partnership.commitment_amount,
            contributed,
        )
        .join(Partner, Partner.id == Partnership.partner_id)
        .join(Program, Program.id == Partnership.program_id)
        .where(*conditions)
    )
    return rows.all()


# --- development ----------------------------------------------------------------------------


async def index_history(
    session: AsyncSession, principal: Principal, filters: Filters
) -> Sequence[Any]:
    """Live development indices of live communities in the filters (years from the dates),
    by community and year."""
    conditions = [
        col(DevelopmentIndex.deleted_at).is_(None),
        col(Community.deleted_at).is_(None),
        *_community_conditions(principal, filters, DevelopmentIndex.community_id),
    ]
    if filters.program_id is not None:
        conditions.append(
            col(DevelopmentIndex.community_id).in_(
                select(ProgramCommunity.community_id).where(
                    ProgramCommunity.program_id == filters.program_id
                )
            )
        )
    if filters.date_from is not None:
        conditions.append(DevelopmentIndex.year >= filters.date_from.year)
    if filters.date_to is not None:
        conditions.append(DevelopmentIndex.year <= filters.date_to.year)
    return (
        await session.execute(
            select(
                DevelopmentIndex.community_id,
                Community.name,
                Community.region_code,
                DevelopmentIndex.year,
                DevelopmentIndex.idm_score,
                DevelopmentIndex.idm_status,
            )
            .join(Community, Community.id == DevelopmentIndex.community_id)
            .where(*conditions)
            .order_by(DevelopmentIndex.community_id, DevelopmentIndex.year)
        )
    ).all()
