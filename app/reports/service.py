"""The arithmetic of the reports: counts, shares, merges, indicator progress and IDM
movers, assembled from the rows of ``repository``."""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.communities.models import IDM_STATUS_ORDER, DevelopmentScheme
from app.core.errors import Unprocessable
from app.core.i18n import M
from app.core.principal import Principal
from app.core.regions import PROVINCES
from app.participation.models import LEVEL_ORDER
from app.people.service import age_band
from app.planning.models import ProposalStatus
from app.programs.models import Indicator
from app.programs.repository import programs
from app.reports import repository
from app.reports.schemas import Filters

DEVELOPMENT_SCHEMES = [scheme.value for scheme in DevelopmentScheme]


def filters_of(
    community_id: uuid.UUID | None,
    program_id: uuid.UUID | None,
    region_code: str | None,
    date_from: date | None,
    date_to: date | None,
) -> Filters:
    if date_from and date_to and date_to < date_from:
        raise Unprocessable(M.date_to_before_from, loc=["query", "date_to"])
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
        if people.get(key, 0) or records.get(key, 0)
    }


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


# --- participation --------------------------------------------------------------------------


async def participation(
    session: AsyncSession, principal: Principal, filters: Filters
) -> dict[str, Any]:
    """Counts from the rollups (``repository.participation``): each row is a group of
    people sharing sex, birth year (``eff_year``) and disability, so people add up
    distinctly once the extra counts of people spanning communities are taken back."""
    groups, extra, by_level_role, as_of = await repository.participation(
        session, principal, filters
    )
    people: dict[str, Counter[str]] = defaultdict(Counter)
    records: dict[str, Counter[str]] = defaultdict(Counter)
    decision_makers = Counter[str]()
    people_total = records_total = 0
    rows = [*groups, *((sex, y, dis, -n, 0, -dm) for sex, y, dis, n, dm in extra)]
    for sex, eff_year, disability, persons, count, deciders in rows:
        band = age_band(None if eff_year < 0 else eff_year, None)
        people_total += persons
        records_total += count
        for dimension, value in (
            ("sex", sex),
            ("age_band", band),
            ("disability", "yes" if disability else "no"),
        ):
            people[dimension][value] += persons
            records[dimension][value] += count
        decision_makers[sex] += deciders
    for level, role, count in by_level_role:
        records["level"][level] += count
        records["role"][role] += count
    total_dm = sum(decision_makers.values())
    return {
        "filters": filters.model_dump(mode="json"),
        "as_of": as_of.isoformat(),
        "people": people_total,
        "records": records_total,
        "by_sex": _merge(people["sex"], records["sex"]),
        "by_age_band": _merge(people["age_band"], records["age_band"]),
        "by_disability": _merge(people["disability"], records["disability"]),
        "records_by_level": {level: records["level"].get(level, 0) for level in LEVEL_ORDER},
        "records_by_role": dict(sorted((k, v) for k, v in records["role"].items() if v)),
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
    and the communities whose status changed between their last two years: for each scheme
    apart (IDM and Indeks Desa have their own scales: a move is only read within one), side
    by side under ``by_scheme``. The top-level ``status_counts`` and ``moved_*`` are the
    IDM ones, as before Indeks Desa existed."""
    rows = await repository.index_history(session, principal, filters)
    width = 2 if group_by == "province" else 5
    by_scheme = {
        scheme: _development_of([r[1:] for r in rows if r[0] == scheme], width, group_by)
        for scheme in DEVELOPMENT_SCHEMES
    }
    return {
        "filters": {**filters.model_dump(mode="json"), "group_by": group_by},
        **by_scheme["idm"],
        "by_scheme": by_scheme,
    }


def _development_of(rows: list[Any], width: int, group_by: str) -> dict[str, Any]:
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


# --- needs to budget ------------------------------------------------------------------------

# The stages of the funnel a proposal has reached once its record holds the status.
BUDGET_STAGES = ("agreed", "in_rkp_desa", "in_apbdes", "realised", "forwarded", "accommodated")


def _budget_bucket(top: int) -> dict[str, Any]:
    return {
        "funnel": {
            "prioritised_needs": 0,
            "needs_with_proposal": 0,
            "proposals": 0,
            **{stage: 0 for stage in BUDGET_STAGES},
        },
        "top_needs": {"top": top, "needs": 0, "reached_apbdes": 0, "share": None},
        "by_status": {status.value: 0 for status in ProposalStatus},
        "amounts": {
            "estimated_cost_amount": 0,
            "in_rkp_desa_estimated_amount": 0,
            "planned_amount": 0,
            "apbdes_planned_amount": 0,
            "realised_amount": 0,
        },
        "by_source": {},
    }


async def needs_to_budget(
    session: AsyncSession, principal: Principal, filters: Filters, top: int, group_by: str
) -> dict[str, Any]:
    """Whether the community's priorities reached the village plan and budget, per
    community, per region and in total: ranked needs → proposals → RKP Desa → APBDes →
    realised (a proposal counts at every stage its planning record reached), amounts by
    funding source, and the share of the top-``top`` ranked needs linked to a proposal
    that reached the APBDes."""
    width = 2 if group_by == "province" else 5
    needs = await repository.ranked_needs(session, principal, filters)
    proposals = await repository.proposals_for_budget(session, principal, filters)
    lines = await repository.funding_by_source(session, principal, filters)

    communities: dict[uuid.UUID, dict[str, Any]] = {}
    regions: dict[str, dict[str, Any]] = {}
    totals = _budget_bucket(top)

    def buckets(cid: uuid.UUID, name: str, code: str) -> list[dict[str, Any]]:
        community = communities.setdefault(
            cid,
            {"community_id": str(cid), "name": name, "region_code": code, **_budget_bucket(top)},
        )
        region = regions.setdefault(
            code[:width],
            {
                "region": code[:width],
                "region_name": PROVINCES.get(code[:width]) if group_by == "province" else None,
                **_budget_bucket(top),
            },
        )
        return [community, region, totals]

    proposed: set[uuid.UUID] = set()  # findings with a proposal
    budgeted: set[uuid.UUID] = set()  # findings with a proposal that reached the APBDes
    where: dict[uuid.UUID, tuple[uuid.UUID, str, str]] = {}
    reached_apbdes: set[uuid.UUID] = set()
    for cid, name, code, pid, status, estimated, finding_ids, reached in proposals:
        reached = set(reached or ())
        where[pid] = (cid, name, code)
        proposed.update(finding_ids or ())
        if "in_apbdes" in reached:
            budgeted.update(finding_ids or ())
            reached_apbdes.add(pid)
        for bucket in buckets(cid, name, code):
            bucket["funnel"]["proposals"] += 1
            for stage in BUDGET_STAGES:
                bucket["funnel"][stage] += stage in reached
            bucket["by_status"][status] += 1
            bucket["amounts"]["estimated_cost_amount"] += int(estimated)
            if "in_rkp_desa" in reached:
                bucket["amounts"]["in_rkp_desa_estimated_amount"] += int(estimated)
    for pid, source, planned, realised in lines:
        for bucket in buckets(*where[pid]):
            entry = bucket["by_source"].setdefault(
                source, {"proposals": 0, "planned_amount": 0, "realised_amount": 0}
            )
            entry["proposals"] += 1
            entry["planned_amount"] += int(planned)
            entry["realised_amount"] += int(realised)
            bucket["amounts"]["planned_amount"] += int(planned)
            bucket["amounts"]["realised_amount"] += int(realised)
            if pid in reached_apbdes:
                bucket["amounts"]["apbdes_planned_amount"] += int(planned)
    for cid, name, code, fid, rank in needs:
        for bucket in buckets(cid, name, code):
            bucket["funnel"]["prioritised_needs"] += 1
            bucket["funnel"]["needs_with_proposal"] += fid in proposed
            if rank <= top:
                bucket["top_needs"]["needs"] += 1
                bucket["top_needs"]["reached_apbdes"] += fid in budgeted
    for bucket in [*communities.values(), *regions.values(), totals]:
        share = bucket["top_needs"]
        share["share"] = _share(share["reached_apbdes"], share["needs"])
        bucket["by_source"] = dict(sorted(bucket["by_source"].items()))
    return {
        "filters": {**filters.model_dump(mode="json"), "top": top, "group_by": group_by},
        "communities": sorted(communities.values(), key=lambda c: (c["name"], c["community_id"])),
        "regions": [regions[key] for key in sorted(regions)],
        "totals": totals,
    }
