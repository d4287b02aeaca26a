"""The arithmetic of the reports: counts, shares, merges, indicator progress and IDM
movers, assembled from the rows of ``repository``."""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.communities.models import IDM_STATUS_ORDER
from app.core.errors import Unprocessable
from app.core.principal import Principal
from app.core.regions import PROVINCES
from app.participation.models import LEVEL_ORDER
from app.people.service import age_band
from app.programs.models import Indicator
from app.programs.repository import programs
from app.reports import repository
from app.reports.schemas import Filters


def filters_of(
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


def _merge(people: Counter[str], records: Counter[str]) -> dict[str, dict[str, int]]:
    return {
        key: {"people": people.get(key, 0), "records": records.get(key, 0)}
        for key in sorted(set(people) | set(records))
    }


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


# --- participation --------------------------------------------------------------------------


async def participation(
    session: AsyncSession, principal: Principal, filters: Filters
) -> dict[str, Any]:
    per_person, by_level_role = await repository.participation(session, principal, filters)
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


# --- program progress -----------------------------------------------------------------------


async def program_progress(
    session: AsyncSession, principal: Principal, program_id: uuid.UUID
) -> dict[str, Any]:
    program = await programs.get(session, principal, program_id)
    indicators = await repository.live_indicators(session, program_id)
    latest = await repository.latest_measurements(session, [i.id for i in indicators])
    activity_counts = await repository.activity_counts(session, program_id)
    committed, contributed = await repository.committed_and_contributed(session, program_id)
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
            "committed_amount": committed,
            "contributed_amount": contributed,
            "contributed_share_of_budget": _share(contributed, program.budget_amount),
            "contributed_share_of_commitments": _share(contributed, committed),
        },
    }


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


async def needs_coverage(
    session: AsyncSession, principal: Principal, filters: Filters, top: int
) -> dict[str, Any]:
    """Needs by community; a need ranked within ``top`` that no program addresses is listed
    apart. With a program filter, only the needs that program addresses remain."""
    rows = await repository.prioritised_needs(session, principal, filters)
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
    if filters.program_id is not None:
        program = await programs.get(session, principal, filters.program_id)
        for entry in communities.values():
            entry["needs"] = [n for n in entry["needs"] if program.code in n["addressed_by"]]
    return {
        "filters": {**filters.model_dump(mode="json"), "top": top},
        "communities": list(communities.values()),
        "unaddressed_top_needs": unaddressed,
    }


# --- partnerships ---------------------------------------------------------------------------


async def partnerships(
    session: AsyncSession, principal: Principal, filters: Filters
) -> dict[str, Any]:
    """Sums by partner kind and by program; a terminated partnership commits nothing."""
    rows = await repository.partnerships(session, principal, filters)
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


async def development(
    session: AsyncSession, principal: Principal, filters: Filters, group_by: str
) -> dict[str, Any]:
    """Status counts per year and region (province: 2 characters of the code, regency: 5),
    and the communities whose status changed between their last two years."""
    rows = await repository.index_history(session, principal, filters)
    width = 2 if group_by == "province" else 5
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
