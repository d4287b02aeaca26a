"""Every query of the reports: aggregates over indexed columns, scoped like every read
(``community_scope``/``program_scope``), with the report filters as conditions."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Date,
    String,
    and_,
    bindparam,
    case,
    cast,
    exists,
    func,
    literal,
    literal_column,
    or_,
    select,
    true,
    union_all,
)
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.assessments.models import RANKABLE_KINDS, Finding, NeedsAssessment
from app.auth.policy import community_scope, program_scope
from app.communities.models import Community, DevelopmentIndex
from app.core.principal import Principal
from app.partners.models import Contribution, Partner, Partnership, PartnershipStatus
from app.people.models import Person
from app.planning.models import (
    PlanningProposal,
    ProposalFinding,
    ProposalFunding,
    ProposalProgram,
    ProposalTransition,
)
from app.programs.models import (
    Activity,
    Indicator,
    Measurement,
    Program,
    ProgramCommunity,
    ProgramFinding,
)
from app.reports.models import (
    ReportParticipationAttrMonth,
    ReportParticipationDay,
    ReportParticipationGroup,
    ReportParticipationLevel,
    ReportParticipationMember,
    ReportParticipationMonth,
    ReportParticipationPerson,
    ReportParticipationSpread,
    ReportParticipationStep,
)
from app.reports.schemas import Filters

# Report filters that change the best plan (a region prefix, dates) are written into the
# SQL text rather than bound: a prepared statement switches to a generic plan after five
# calls, and for these filters that plan was measured 2-30x slower than a custom one.
# The values are rendered by SQLAlchemy's literal processors (quoted, escaped).


def _prefix(region_code: str) -> Any:
    escaped = region_code.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return bindparam(None, escaped + "%", type_=String(), literal_execute=True)


def _d(value: date) -> Any:
    return cast(bindparam(None, value, type_=Date(), literal_execute=True), Date())


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
                    col(Community.region_code).like(_prefix(filters.region_code), escape="\\")
                )
            )
        )
    return conditions


# --- participation --------------------------------------------------------------------------
# Answered from the rollups of app/reports/models.py (kept by triggers in the writing
# transaction), never from the raw records: that module explains how people stay distinct.

# Open ends of a date range (asyncpg sends date.min/date.max as -infinity/infinity, and
# -infinity is the previous day of a person's first step).
_EARLIEST, _LATEST = date(1, 1, 2), date(9999, 12, 30)


def _columns(model: Any) -> Any:
    """The columns of a rollup table, for Core queries."""
    return model.__table__.c


def _sum(column: Any, where: Any = None) -> Any:
    total = func.sum(column) if where is None else func.sum(column).filter(where)
    return cast(func.coalesce(total, 0), BigInteger)


async def participation(
    session: AsyncSession, principal: Principal, filters: Filters
) -> tuple[Sequence[Any], Sequence[Any], Sequence[Any], datetime]:
    """Live records in the filters, from the rollups: (sex, eff_year, disability, people,
    records, decision makers) groups; the extra counts of people found in several of the
    chosen communities, to subtract (sex, eff_year, disability, people, decision makers);
    records per (IAP2 level, role); and the moment the answer is true as of."""
    dated = filters.date_from is not None or filters.date_to is not None
    low, high = filters.date_from or _EARLIEST, filters.date_to or _LATEST
    extra: Sequence[Any] = ()
    if filters.program_id is not None:
        groups = await _program_groups(session, principal, filters, dated, low, high)
    else:
        groups = await _community_groups(session, principal, filters, dated, low, high)
        extra = await _spread_extra(session, principal, filters, dated, low, high)
    by_level_role = await _levels(session, principal, filters, dated, low, high)
    # On a streaming replica the data is as recent as the last transaction replayed.
    as_of: datetime = await session.scalar(
        select(
            case(
                (
                    func.pg_is_in_recovery(),
                    func.coalesce(func.pg_last_xact_replay_timestamp(), func.now()),
                ),
                else_=func.statement_timestamp(),
            )
        )
    )  # type: ignore[assignment]
    return groups, extra, by_level_role, as_of


async def _community_groups(
    session: AsyncSession,
    principal: Principal,
    filters: Filters,
    dated: bool,
    low: date,
    high: date,
) -> Sequence[Any]:
    if not dated:
        g = _columns(ReportParticipationGroup)
        query = select(
            g.sex, g.eff_year, g.disability, _sum(g.people), _sum(g.records), _sum(g.dm_people)
        ).where(*_community_conditions(principal, filters, g.community_id))
        return (await session.execute(query.group_by(g.sex, g.eff_year, g.disability))).all()
    # Within dates: people (and decision makers) from the steps crossing ``low`` (found
    # through the GiST index on their span), records from the whole months inside the
    # range plus the steps (one per record) of the days at either end.
    s = _columns(ReportParticipationStep)
    a = _columns(ReportParticipationAttrMonth)
    span = _span(low, high)
    zero = literal(0)
    crossing = select(
        s.sex,
        s.eff_year,
        s.disability,
        _sum(s.people, ~s.dm).label("people"),
        zero.label("records"),
        _sum(s.people, s.dm).label("deciders"),
    ).where(
        *_community_conditions(principal, filters, s.community_id),
        func.daterange(s.prev_day, s.day, literal_column("'(]'")).op("@>")(_d(low)),
        s.day <= _d(high),
    )
    months = select(a.sex, a.eff_year, a.disability, zero, _sum(a.records), zero).where(
        *_community_conditions(principal, filters, a.community_id),
        a.month.between(_d(span.first_month), _d(span.last_month)),
    )
    ends = select(s.sex, s.eff_year, s.disability, zero, _sum(s.people), zero).where(
        *_community_conditions(principal, filters, s.community_id),
        ~s.dm,
        or_(s.day.between(*map(_d, span.head)), s.day.between(*map(_d, span.tail))),
    )
    parts = union_all(
        *(
            q.group_by(q.selected_columns[0], q.selected_columns[1], q.selected_columns[2])
            for q in (crossing, months, ends)
        )
    ).subquery()
    c = parts.c
    return (
        await session.execute(
            select(
                c.sex,
                c.eff_year,
                c.disability,
                _sum(c.people),
                _sum(c.records),
                _sum(c.deciders),
            ).group_by(c.sex, c.eff_year, c.disability)
        )
    ).all()


@dataclass(frozen=True)
class _Span:
    """A date range as whole months (read from the monthly rollups) and the days before
    and after them (from the daily ones); an empty part has its start after its end."""

    first_month: date
    last_month: date
    head: tuple[date, date]
    tail: tuple[date, date]


_NOTHING = (date(2, 1, 1), date(1, 1, 1))  # an empty BETWEEN


def _span(low: date, high: date) -> _Span:
    one_day = timedelta(days=1)
    try:
        first = low if low.day == 1 else (low.replace(day=28) + timedelta(days=4)).replace(day=1)
    except OverflowError:
        first = high + one_day
    after = high + one_day
    end = after if after.day == 1 else high.replace(day=1)  # the day after the whole months
    if first >= end:
        return _Span(*_NOTHING, (low, high), _NOTHING)
    last_month = (end - one_day).replace(day=1)
    return _Span(first, last_month, (low, first - one_day), (end, high))


def _has_day(days: Any, low: date, high: date) -> Any:
    day = func.unnest(days).column_valued("day")
    return exists(select(literal(1)).where(day.between(_d(low), _d(high))))


async def _spread_extra(
    session: AsyncSession,
    principal: Principal,
    filters: Filters,
    dated: bool,
    low: date,
    high: date,
) -> Sequence[Any]:
    """People with records in several of the chosen communities were counted once in each:
    how many counts to take back (the few people whose records span communities)."""
    m = _columns(ReportParticipationMember)
    spread = _columns(ReportParticipationSpread)
    # Start from those few people (a materialised CTE), never from every member row.
    several = (
        select(spread.person_id)
        .where(spread.communities > 1)
        .cte("several")
        .prefix_with("MATERIALIZED")
    )
    inside: Any = _has_day(m.days, low, high) if dated else true()
    deciding: Any = _has_day(m.dm_days, low, high) if dated else m.dm_records > 0
    per_person = (
        select(
            m.person_id,
            func.count().filter(inside).label("k"),
            func.count().filter(and_(inside, deciding)).label("dk"),
        )
        .select_from(several)
        .join(ReportParticipationMember, m.person_id == several.c.person_id)
        .where(*_community_conditions(principal, filters, m.community_id))
        .group_by(m.person_id)
        .having(func.count().filter(inside) > 1)
        .subquery()
    )
    return (
        await session.execute(
            select(
                Person.sex,
                func.report_eff_year(Person.birth_year, Person.birth_decade),
                Person.disability,
                _sum(per_person.c.k - 1),
                _sum(func.greatest(per_person.c.dk - 1, 0)),
            )
            .join(per_person, per_person.c.person_id == Person.id)
            .group_by(Person.sex, Person.birth_year, Person.birth_decade, Person.disability)
        )
    ).all()


async def _program_groups(
    session: AsyncSession,
    principal: Principal,
    filters: Filters,
    dated: bool,
    low: date,
    high: date,
) -> Sequence[Any]:
    """One program: its (community, person) rows grouped by person at read time (a
    program spans a few communities)."""
    m = _columns(ReportParticipationPerson)
    conditions = [
        *_community_conditions(principal, filters, m.community_id),
        m.program_key == filters.program_id,
    ]
    if dated:
        first, last = m.days[1], m.days[func.cardinality(m.days)]
        conditions += [first <= _d(high), last >= _d(low)]
        day = func.unnest(m.days).column_valued("day")
        records: Any = case(
            (and_(first >= _d(low), last <= _d(high)), m.records),
            else_=select(func.count()).where(day.between(_d(low), _d(high))).scalar_subquery(),
        )
        decides: Any = and_(m.dm_records > 0, _has_day(m.dm_days, low, high))
    else:
        records, decides = m.records, m.dm_records > 0
    per_person = (
        select(
            m.person_id,
            func.sum(records).label("records"),
            func.bool_or(decides).label("decides"),
        )
        .where(*conditions)
        .group_by(m.person_id)
        .subquery()
    )
    eff_year = func.report_eff_year(Person.birth_year, Person.birth_decade)
    return (
        await session.execute(
            select(
                Person.sex,
                eff_year,
                Person.disability,
                func.count(),
                _sum(per_person.c.records),
                func.count().filter(per_person.c.decides),
            )
            .join(per_person, per_person.c.person_id == Person.id)
            .where(per_person.c.records > 0)
            .group_by(Person.sex, eff_year, Person.disability)
        )
    ).all()


async def _levels(
    session: AsyncSession,
    principal: Principal,
    filters: Filters,
    dated: bool,
    low: date,
    high: date,
) -> Sequence[Any]:
    def conditions(t: Any) -> list[ColumnElement[bool]]:
        found = _community_conditions(principal, filters, t.community_id)
        if filters.program_id is not None:
            found.append(t.program_key == filters.program_id)
        return found

    if not dated:
        t = _columns(ReportParticipationLevel)
        query = select(t.level, t.role, _sum(t.records)).where(*conditions(t))
        return (await session.execute(query.group_by(t.level, t.role))).all()
    span = _span(low, high)
    m, d = _columns(ReportParticipationMonth), _columns(ReportParticipationDay)
    parts = union_all(
        select(m.level, m.role, m.records).where(
            *conditions(m), m.month.between(_d(span.first_month), _d(span.last_month))
        ),
        select(d.level, d.role, d.records).where(
            *conditions(d),
            or_(d.day.between(*map(_d, span.head)), d.day.between(*map(_d, span.tail))),
        ),
    ).subquery()
    c = parts.c
    query = select(c.level, c.role, _sum(c.records)).group_by(c.level, c.role)
    return (await session.execute(query)).all()


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
    by scheme, community and year."""
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
                DevelopmentIndex.scheme,
                DevelopmentIndex.community_id,
                Community.name,
                Community.region_code,
                DevelopmentIndex.year,
                # IDM: the derived score and status; Indeks Desa: the published ones.
                func.coalesce(DevelopmentIndex.idm_score, DevelopmentIndex.score),
                func.coalesce(DevelopmentIndex.idm_status, DevelopmentIndex.status),
            )
            .join(Community, Community.id == DevelopmentIndex.community_id)
            .where(*conditions)
            .order_by(DevelopmentIndex.scheme, DevelopmentIndex.community_id, DevelopmentIndex.year)
        )
    ).all()


# --- needs to budget ------------------------------------------------------------------------


def _proposal_conditions(principal: Principal, filters: Filters) -> list[ColumnElement[bool]]:
    """Live proposals in the filters (planning years from the dates; a program filter keeps
    the proposals it carries out)."""
    p = PlanningProposal
    conditions = [
        col(p.deleted_at).is_(None),
        *_community_conditions(principal, filters, p.community_id),
    ]
    if filters.program_id is not None:
        conditions.append(
            col(p.id).in_(
                select(ProposalProgram.proposal_id).where(
                    ProposalProgram.program_id == filters.program_id
                )
            )
        )
    if filters.date_from is not None:
        conditions.append(p.planning_year >= filters.date_from.year)
    if filters.date_to is not None:
        conditions.append(p.planning_year <= filters.date_to.year)
    return conditions


async def ranked_needs(
    session: AsyncSession, principal: Principal, filters: Filters
) -> Sequence[Any]:
    """The community-ranked problems and needs (validated, live assessments) of the
    communities in the filters: community, finding, rank."""
    conditions = [
        col(Finding.deleted_at).is_(None),
        col(NeedsAssessment.deleted_at).is_(None),
        NeedsAssessment.status == "validated",
        col(Finding.kind).in_(RANKABLE_KINDS),
        col(Finding.priority_rank).is_not(None),
        *_community_conditions(principal, filters, NeedsAssessment.community_id),
    ]
    if filters.program_id is not None:
        conditions.append(
            col(NeedsAssessment.community_id).in_(
                select(ProgramCommunity.community_id).where(
                    ProgramCommunity.program_id == filters.program_id
                )
            )
        )
    rows = await session.execute(
        select(
            NeedsAssessment.community_id,
            Community.name,
            Community.region_code,
            Finding.id,
            Finding.priority_rank,
        )
        .join(NeedsAssessment, NeedsAssessment.id == Finding.assessment_id)
        .join(Community, Community.id == NeedsAssessment.community_id)
        .where(*conditions, col(Community.deleted_at).is_(None))
    )
    return rows.all()


async def proposals_for_budget(
    session: AsyncSession, principal: Principal, filters: Filters
) -> Sequence[Any]:
    """Live proposals in the filters: community, status, estimated cost, findings, and every
    status the proposal has reached (its planning record: a proposal deferred from the RKP
    Desa was in it)."""
    p = PlanningProposal
    findings = (
        select(func.array_agg(ProposalFinding.finding_id))
        .where(ProposalFinding.proposal_id == p.id)
        .scalar_subquery()
    )
    reached = (
        select(func.array_agg(func.distinct(ProposalTransition.to_status)))
        .where(ProposalTransition.proposal_id == p.id, col(ProposalTransition.deleted_at).is_(None))
        .scalar_subquery()
    )
    rows = await session.execute(
        select(
            p.community_id,
            Community.name,
            Community.region_code,
            p.id,
            p.status,
            p.estimated_cost_amount,
            findings,
            reached,
        )
        .join(Community, Community.id == p.community_id)
        .where(*_proposal_conditions(principal, filters))
        .order_by(Community.name, p.community_id)
    )
    return rows.all()


async def funding_by_source(
    session: AsyncSession, principal: Principal, filters: Filters
) -> Sequence[Any]:
    """Live funding lines of the proposals in the filters, summed per proposal and source:
    planned and realised rupiah."""
    f = ProposalFunding
    rows = await session.execute(
        select(
            f.proposal_id,
            f.source,
            func.sum(f.planned_amount),
            func.coalesce(func.sum(f.realised_amount), 0),
        )
        .join(PlanningProposal, PlanningProposal.id == f.proposal_id)
        .where(col(f.deleted_at).is_(None), *_proposal_conditions(principal, filters))
        .group_by(f.proposal_id, f.source)
    )
    return rows.all()
