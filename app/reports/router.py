"""``/reports``: the few answers program officers and donors need without an analyst.

Each report is one or two aggregate queries over indexed columns, scoped like every
read (facilitators see their communities; partners only the progress of their
programs), and echoes the filters it applied.
"""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from datetime import date
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel
from sqlalchemy import ColumnElement, and_, func, select, true
from sqlalchemy.dialects.postgresql import distinct_on
from sqlmodel import col

from app.assessments.models import RANKABLE_KINDS, Finding, NeedsAssessment
from app.auth.deps import PrincipalDep, SessionDep
from app.auth.models import Role
from app.auth.policy import READ, authorize, community_scope, program_scope
from app.communities.models import IDM_STATUS_ORDER, Community, DevelopmentIndex
from app.core.errors import Forbidden, Unprocessable, problem_responses
from app.core.principal import Principal
from app.core.regions import PROVINCES, RegionPrefixQuery
from app.exports.datasets import age_band
from app.participation.models import LEVEL_ORDER, ParticipationRecord
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
from app.programs.repository import programs

router = APIRouter(prefix="/reports", tags=["reports"])


class Filters(BaseModel):
    community_id: uuid.UUID | None = None
    program_id: uuid.UUID | None = None
    region_code: str | None = None
    date_from: date | None = None
    date_to: date | None = None


def _filters(
    community_id: uuid.UUID | None,
    program_id: uuid.UUID | None,
    region_code: str | None,
    date_from: date | None,
    date_to: date | None,
) -> Filters:
    if date_from and date_to and date_to < date_from:
        raise Unprocessable("date_to is before date_from", loc=["query", "date_to"])
    return Filters(
        community_id=community_id,
        program_id=program_id,
        region_code=region_code,
        date_from=date_from,
        date_to=date_to,
    )


def _no_partners(principal: Principal) -> None:
    authorize(principal, "reports", READ)
    if principal.role is Role.partner:
        raise Forbidden("partners may read the progress reports of their programs only")


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


CommunityQ = Annotated[uuid.UUID | None, Query(description="Only this community")]
ProgramQ = Annotated[uuid.UUID | None, Query(description="Only this program")]
RegionQ = RegionPrefixQuery
FromQ = Annotated[date | None, Query(description="On or after")]
ToQ = Annotated[date | None, Query(description="On or before")]


# --- participation --------------------------------------------------------------------------


@router.get(
    "/participation",
    name="reports-participation",
    summary="Who took part and how deeply: people and records by sex, age band, "
    "disability, IAP2 level and role",
    responses=problem_responses(401, 403, 422),
)
async def participation_report(
    session: SessionDep,
    principal: PrincipalDep,
    community_id: CommunityQ = None,
    program_id: ProgramQ = None,
    region_code: RegionQ = None,
    date_from: FromQ = None,
    date_to: ToQ = None,
) -> dict[str, Any]:
    _no_partners(principal)
    filters = _filters(community_id, program_id, region_code, date_from, date_to)
    r = ParticipationRecord
    conditions = [
        col(r.deleted_at).is_(None),
        *_community_conditions(principal, filters, r.community_id),
    ]
    if program_id is not None:
        conditions.append(r.program_id == program_id)
    if date_from is not None:
        conditions.append(col(r.date) >= date_from)
    if date_to is not None:
        conditions.append(col(r.date) <= date_to)
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
    people: dict[str, Counter[str]] = defaultdict(Counter)
    records: dict[str, Counter[str]] = defaultdict(Counter)
    decision_makers = Counter[str]()
    people_total = records_total = 0
    for sex, birth_year, birth_decade, disability, count, roles in per_person:
        band = age_band(birth_year, birth_decade)
        people_total += 1
        records_total += count
        for dimension, value in (
            ("sex", sex),
            ("age_band", band),
            ("disability", "yes" if disability else "no"),
        ):
            people[dimension][value] += 1
            records[dimension][value] += count
        if "decision_maker" in (roles or []):
            decision_makers[sex] += 1
    by_level_role = await session.execute(
        select(r.level, r.role, func.count(), func.count(func.distinct(r.person_id)))
        .where(*conditions)
        .group_by(r.level, r.role)
    )
    for level, role, count, _ in by_level_role:
        records["level"][level] += count
        records["role"][role] += count
    total_dm = sum(decision_makers.values())
    return {
        "filters": filters.model_dump(mode="json"),
        "people": people_total,
        "records": records_total,
        "by_sex": _merge(people["sex"], records["sex"]),
        "by_age_band": _merge(people["age_band"], records["age_band"]),
        "by_disability": _merge(people["disability"], records["disability"]),
        "records_by_level": {level: records["level"].get(level, 0) for level in LEVEL_ORDER},
        "records_by_role": dict(sorted(records["role"].items())),
        "decision_makers": {
            "people": total_dm,
            "women": decision_makers.get("female", 0),
            "women_share": round(decision_makers.get("female", 0) / total_dm, 4)
            if total_dm
            else None,
        },
    }


def _merge(people: Counter[str], records: Counter[str]) -> dict[str, dict[str, int]]:
    return {
        key: {"people": people.get(key, 0), "records": records.get(key, 0)}
        for key in sorted(set(people) | set(records))
    }


# --- program progress -----------------------------------------------------------------------


@router.get(
    "/programs/{program_id}/progress",
    name="reports-program-progress",
    summary="Indicators against targets, activities done, budget against commitments and "
    "contributions",
    responses=problem_responses(401, 403, 404),
)
async def program_progress(
    session: SessionDep, principal: PrincipalDep, program_id: uuid.UUID
) -> dict[str, Any]:
    authorize(principal, "reports", READ)
    program = await programs.get(session, principal, program_id)
    indicators = (
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
    latest = {
        iid: (value, on)
        for iid, value, on in await session.execute(
            select(Measurement.indicator_id, Measurement.value, Measurement.measured_on)
            .ext(distinct_on(Measurement.indicator_id))
            .where(
                col(Measurement.indicator_id).in_([i.id for i in indicators]),
                col(Measurement.deleted_at).is_(None),
            )
            .order_by(
                Measurement.indicator_id,
                col(Measurement.measured_on).desc(),
                col(Measurement.created_at).desc(),
            )
        )
    }
    activity_counts: dict[str, int] = dict(
        (
            await session.execute(
                select(Activity.status, func.count())
                .where(Activity.program_id == program_id, col(Activity.deleted_at).is_(None))
                .group_by(Activity.status)
            )
        ).all()
    )
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
    return {
        "program": {
            "id": str(program.id),
            "code": program.code,
            "title": program.title,
            "status": program.status,
        },
        "indicators": [_indicator_progress(i, latest.get(i.id)) for i in indicators],
        "activities": {
            "planned": activity_counts.get("planned", 0),
            "done": activity_counts.get("done", 0),
            "cancelled": activity_counts.get("cancelled", 0),
            "done_share": _share(
                activity_counts.get("done", 0),
                activity_counts.get("done", 0) + activity_counts.get("planned", 0),
            ),
        },
        "budget": {
            "budget_amount": program.budget_amount,
            "committed_amount": int(committed),
            "contributed_amount": int(contributed),
            "contributed_share_of_budget": _share(int(contributed), program.budget_amount),
            "contributed_share_of_commitments": _share(int(contributed), int(committed)),
        },
    }


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _indicator_progress(
    indicator: Indicator, latest: tuple[Decimal, date] | None
) -> dict[str, Any]:
    baseline, target = indicator.baseline, indicator.target
    value = latest[0] if latest else None
    progress = None
    if value is not None and target != baseline:
        progress = round(float((value - baseline) / (target - baseline) * 100), 2)
    return {
        "id": str(indicator.id),
        "name": indicator.name,
        "unit": indicator.unit,
        "direction": indicator.direction,
        "baseline": float(baseline),
        "target": float(target),
        "latest_value": float(value) if value is not None else None,
        "latest_measured_on": latest[1].isoformat() if latest else None,
        "progress_percent": progress,
        "target_met": None
        if value is None
        else (value >= target if indicator.direction == "increase" else value <= target),
    }


# --- needs coverage -------------------------------------------------------------------------


@router.get(
    "/needs-coverage",
    name="reports-needs-coverage",
    summary="Prioritised needs per community, the programs that address each, and the "
    "top-ranked needs nothing addresses yet",
    responses=problem_responses(401, 403, 422),
)
async def needs_coverage(
    session: SessionDep,
    principal: PrincipalDep,
    community_id: CommunityQ = None,
    program_id: ProgramQ = None,
    region_code: RegionQ = None,
    date_from: FromQ = None,
    date_to: ToQ = None,
    top: Annotated[int, Query(ge=1, le=50, description="How many top ranks count")] = 3,
) -> dict[str, Any]:
    _no_partners(principal)
    filters = _filters(community_id, program_id, region_code, date_from, date_to)
    conditions = [
        col(Finding.deleted_at).is_(None),
        col(NeedsAssessment.deleted_at).is_(None),
        NeedsAssessment.status != "cancelled",
        col(Finding.kind).in_(RANKABLE_KINDS),
        *_community_conditions(principal, filters, NeedsAssessment.community_id),
    ]
    if date_from is not None:
        conditions.append(col(NeedsAssessment.started_on) >= date_from)
    if date_to is not None:
        conditions.append(col(NeedsAssessment.started_on) <= date_to)
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
    communities: dict[uuid.UUID, dict[str, Any]] = {}
    unaddressed = []
    for cid, cname, code, fid, title, kind, category, severity, rank, codes in rows:
        entry = communities.setdefault(
            cid, {"community_id": str(cid), "name": cname, "region_code": code, "needs": []}
        )
        need = {
            "finding_id": str(fid),
            "title": title,
            "kind": kind,
            "category": category,
            "severity": severity,
            "priority_rank": rank,
            "addressed_by": sorted(codes),
        }
        entry["needs"].append(need)
        if rank is not None and rank <= top and not codes:
            unaddressed.append({"community": cname, **need})
    if program_id is not None:
        program = await programs.get(session, principal, program_id)
        for entry in communities.values():
            entry["needs"] = [n for n in entry["needs"] if program.code in n["addressed_by"]]
    return {
        "filters": {**filters.model_dump(mode="json"), "top": top},
        "communities": list(communities.values()),
        "unaddressed_top_needs": unaddressed,
    }


# --- partnerships ---------------------------------------------------------------------------


@router.get(
    "/partnerships",
    name="reports-partnerships",
    summary="Commitments and contributions by partner kind and by program",
    responses=problem_responses(401, 403, 422),
)
async def partnerships_report(
    session: SessionDep,
    principal: PrincipalDep,
    community_id: CommunityQ = None,
    program_id: ProgramQ = None,
    region_code: RegionQ = None,
    date_from: FromQ = None,
    date_to: ToQ = None,
) -> dict[str, Any]:
    _no_partners(principal)
    filters = _filters(community_id, program_id, region_code, date_from, date_to)
    conditions: list[ColumnElement[bool]] = [
        col(Partnership.deleted_at).is_(None),
        col(Partner.deleted_at).is_(None),
        col(Program.deleted_at).is_(None),
        program_scope(principal, Program.id),
    ]
    if program_id is not None:
        conditions.append(Program.id == program_id)
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
    if date_from is not None:
        contribution_filter.append(col(Contribution.contributed_on) >= date_from)
    if date_to is not None:
        contribution_filter.append(col(Contribution.contributed_on) <= date_to)
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
    by_kind: dict[str, dict[str, int]] = {}
    by_program: dict[uuid.UUID, dict[str, Any]] = {}
    for kind, pid, code, title, status, commitment, given in rows:
        committed = int(commitment or 0) if status != "terminated" else 0
        k = by_kind.setdefault(
            kind, {"partnerships": 0, "committed_amount": 0, "contributed_amount": 0}
        )
        p = by_program.setdefault(
            pid,
            {
                "program_id": str(pid),
                "code": code,
                "title": title,
                "partnerships": 0,
                "committed_amount": 0,
                "contributed_amount": 0,
            },
        )
        for bucket in (k, p):
            bucket["partnerships"] += 1
            bucket["committed_amount"] += committed
            bucket["contributed_amount"] += int(given)
    return {
        "filters": filters.model_dump(mode="json"),
        "by_partner_kind": dict(sorted(by_kind.items())),
        "by_program": sorted(by_program.values(), key=lambda p: p["code"]),
        "totals": {
            "committed_amount": sum(k["committed_amount"] for k in by_kind.values()),
            "contributed_amount": sum(k["contributed_amount"] for k in by_kind.values()),
        },
    }


# --- development ----------------------------------------------------------------------------


@router.get(
    "/development",
    name="reports-development",
    summary="IDM status counts per year and region, and communities that moved up or down",
    responses=problem_responses(401, 403, 422),
)
async def development_report(
    session: SessionDep,
    principal: PrincipalDep,
    community_id: CommunityQ = None,
    program_id: ProgramQ = None,
    region_code: RegionQ = None,
    date_from: FromQ = None,
    date_to: ToQ = None,
    group_by: Annotated[str, Query(pattern="^(province|regency)$")] = "province",
) -> dict[str, Any]:
    _no_partners(principal)
    filters = _filters(community_id, program_id, region_code, date_from, date_to)
    conditions = [
        col(DevelopmentIndex.deleted_at).is_(None),
        col(Community.deleted_at).is_(None),
        *_community_conditions(principal, filters, DevelopmentIndex.community_id),
    ]
    if program_id is not None:
        conditions.append(
            col(DevelopmentIndex.community_id).in_(
                select(ProgramCommunity.community_id).where(
                    ProgramCommunity.program_id == program_id
                )
            )
        )
    if date_from is not None:
        conditions.append(DevelopmentIndex.year >= date_from.year)
    if date_to is not None:
        conditions.append(DevelopmentIndex.year <= date_to.year)
    width = 2 if group_by == "province" else 5
    rows = (
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
    counts: dict[tuple[int, str], Counter[str]] = defaultdict(Counter)
    history: dict[uuid.UUID, list[Any]] = defaultdict(list)
    for cid, name, code, year, score, status in rows:
        counts[(year, code[:width])][status] += 1
        history[cid].append((year, status, score, name, code))
    movers = []
    for cid, entries in history.items():
        if len(entries) < 2:
            continue
        (y0, s0, sc0, name, code), (y1, s1, sc1, _, _) = entries[-2], entries[-1]
        change = IDM_STATUS_ORDER.index(s1) - IDM_STATUS_ORDER.index(s0)
        if change:
            movers.append(
                {
                    "community_id": str(cid),
                    "name": name,
                    "region_code": code,
                    "from_year": y0,
                    "from_status": s0,
                    "to_year": y1,
                    "to_status": s1,
                    "score_change": round(float(sc1 - sc0), 4),
                    "direction": "up" if change > 0 else "down",
                }
            )
    return {
        "filters": {**filters.model_dump(mode="json"), "group_by": group_by},
        "status_counts": [
            {
                "year": year,
                "region": region,
                "region_name": PROVINCES.get(region) if group_by == "province" else None,
                **{status: counter.get(status, 0) for status in IDM_STATUS_ORDER},
            }
            for (year, region), counter in sorted(counts.items())
        ],
        "moved_up": [m for m in movers if m["direction"] == "up"],
        "moved_down": [m for m in movers if m["direction"] == "down"],
    }
