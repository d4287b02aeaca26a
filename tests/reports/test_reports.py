"""Reports on a hand-built world with known answers: participation, program progress,
needs coverage, partnerships and development; filters echoed and applied; scoping by role
(facilitators their communities, partners only their programs' progress)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from app.auth.models import Role
from tests.factories import (
    ASSESSMENTS,
    PARTNERS,
    PARTNERSHIPS,
    PROGRAMS,
    RECORDS,
    REPORTS,
    AsUser,
    MakeCommunity,
    MakeUser,
    add_index,
    contribute,
    make_activity,
    make_partnership,
    make_person,
    move_ok,
    post,
)

THIS_YEAR = datetime.now(UTC).year
NO_FILTERS = {
    "community_id": None,
    "program_id": None,
    "region_code": None,
    "date_from": None,
    "date_to": None,
}


async def get(client: httpx.AsyncClient, url: str, **params: Any) -> dict[str, Any]:
    r = await client.get(url, params=params)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


@dataclass
class World:
    a: str  # Desa Alpha, 32.04.12.2001
    b: str  # Desa Beta, 33.01.01.2001
    c: str  # Desa Gamma, 32.04.12.2002
    p1: dict[str, Any]  # communities A and B: activities, indicators, partnerships
    p2: dict[str, Any]  # community A only: one NGO partnership
    p3: dict[str, Any]  # community C, no partners
    ngo: str
    findings: dict[str, str]


async def activity(
    admin: httpx.AsyncClient, program: str, community: str, day: str, title: str
) -> str:
    """An activity from 09:00 to 17:00 (Jakarta time) on one day."""
    created = await make_activity(
        admin,
        program,
        community,
        title=title,
        scheduled_start=f"{day}T09:00:00+07:00",
        scheduled_end=f"{day}T17:00:00+07:00",
    )
    return str(created["id"])


async def person(
    admin: httpx.AsyncClient, community: str, name: str, sex: str, age: int | None, **extra: Any
) -> str:
    if age is not None:
        extra["birth_year"] = THIS_YEAR - age
    purposes = ["program_participation", "needs_assessment"]
    created = await make_person(admin, community, name=name, sex=sex, purposes=purposes, **extra)
    return str(created["id"])


async def partnership(
    admin: httpx.AsyncClient, partner: str, program: str, commitment: int, role: str = "funder"
) -> str:
    """An active partnership through 2025."""
    created = await make_partnership(
        admin, partner, program, commitment_amount=commitment, role=role
    )
    await move_ok(admin, PARTNERSHIPS, created["id"], "active")
    return str(created["id"])


@pytest.fixture
async def world(admin: httpx.AsyncClient, make_community: MakeCommunity) -> World:
    a = (await make_community(name="Desa Alpha", region_code="32.04.12.2001"))["id"]
    b = (await make_community(name="Desa Beta", region_code="33.01.01.2001"))["id"]
    c = (await make_community(name="Desa Gamma", region_code="32.04.12.2002"))["id"]

    # needs: F1 need (5 points, rank 1), F2 problem (4, rank 2), F3 need (1, rank 3),
    # F4 a potential (never ranked)
    assessment = (
        await post(
            admin,
            ASSESSMENTS,
            {
                "community_id": a,
                "title": "Kajian kebutuhan Desa Alpha",
                "methods": ["survey"],
                "started_on": "2025-01-10",
            },
        )
    )["id"]
    findings = {}
    for key, kind, title, severity in (
        ("F1", "need", "Air bersih", 5),
        ("F2", "problem", "Jalan rusak", 3),
        ("F3", "need", "Pelatihan usaha", 2),
        ("F4", "potential", "Hutan bambu", None),
    ):
        body: dict[str, Any] = {"kind": kind, "category": "health", "title": title}
        if severity:
            body["severity"] = severity
        findings[key] = (await post(admin, f"{ASSESSMENTS}/{assessment}/findings", body))["id"]

    p1 = await post(
        admin,
        PROGRAMS,
        {
            "title": "Air bersih Alpha-Beta",
            "community_ids": [a, b],
            "addressed_finding_ids": [findings["F1"]],
            "start_date": "2025-01-01",
            "end_date": "2025-12-31",
        },
    )
    p2 = await post(
        admin,
        PROGRAMS,
        {
            "title": "Usaha Alpha",
            "community_ids": [a],
            "start_date": "2025-01-01",
            "end_date": "2025-12-31",
        },
    )
    p3 = await post(
        admin,
        PROGRAMS,
        {
            "title": "Gamma mandiri",
            "community_ids": [c],
            "start_date": "2025-01-01",
            "end_date": "2025-12-31",
        },
    )

    # participation
    act_a1 = await activity(admin, p1["id"], a, "2025-03-01", "Musyawarah 1")
    act_a2 = await activity(admin, p1["id"], a, "2025-04-01", "Musyawarah 2")
    act_b = await activity(admin, p1["id"], b, "2025-05-01", "Musyawarah Beta")
    act_cancelled = await activity(admin, p1["id"], b, "2025-06-01", "Batal")
    p_1 = await person(admin, a, "Ani", "female", 30, disability=True)
    p_2 = await person(admin, a, "Budi", "male", 40)
    p_3 = await person(admin, a, "Citra", "female", None)
    p_4 = await person(admin, b, "Dewi", "female", 60)
    for who, act, day, level, role in (
        (p_1, act_a1, "2025-03-01", "involve", "decision_maker"),
        (p_1, act_a2, "2025-04-01", "empower", "decision_maker"),
        (p_2, act_a1, "2025-03-01", "consult", "decision_maker"),
        (p_3, act_a1, "2025-03-01", "inform", "beneficiary"),
        (p_4, act_b, "2025-05-01", "collaborate", "decision_maker"),
    ):
        await post(
            admin,
            RECORDS,
            {"person_id": who, "activity_id": act, "date": day, "level": level, "role": role},
        )
    r = await admin.patch(f"{PROGRAMS}/{p1['id']}/activities/{act_a1}", json={"status": "done"})
    assert r.status_code == 200, r.text
    r = await admin.patch(
        f"{PROGRAMS}/{p1['id']}/activities/{act_cancelled}", json={"status": "cancelled"}
    )
    assert r.status_code == 200, r.text

    # ballots: p_1 [F1, F2, F3], p_2 [F2, F1], p_3 [F1]
    for who, ranking in ((p_1, ["F1", "F2", "F3"]), (p_2, ["F2", "F1"]), (p_3, ["F1"])):
        await post(
            admin,
            f"{ASSESSMENTS}/{assessment}/ballots",
            {"person_id": who, "ranking": [findings[k] for k in ranking]},
        )

    # progress: baseline 10, target 110, latest 60 -> 50.0; decrease 40 -> 20, latest 30 -> 50.0
    up = (
        await post(
            admin,
            f"{PROGRAMS}/{p1['id']}/indicators",
            {"name": "KK dengan air", "unit": "KK", "baseline": 10, "target": 110},
        )
    )["id"]
    for on, value in (("2025-02-01", 30), ("2025-03-01", 60)):
        await post(
            admin,
            f"{PROGRAMS}/{p1['id']}/indicators/{up}/measurements",
            {"measured_on": on, "value": value},
        )
    down = (
        await post(
            admin,
            f"{PROGRAMS}/{p1['id']}/indicators",
            {
                "name": "Kasus diare",
                "unit": "kasus",
                "baseline": 40,
                "target": 20,
                "direction": "decrease",
            },
        )
    )["id"]
    await post(
        admin,
        f"{PROGRAMS}/{p1['id']}/indicators/{down}/measurements",
        {"measured_on": "2025-03-01", "value": 30},
    )
    await post(
        admin,
        f"{PROGRAMS}/{p1['id']}/indicators",
        {"name": "Belum diukur", "unit": "unit", "baseline": 0, "target": 5},
    )
    await post(
        admin,
        f"{PROGRAMS}/{p1['id']}/budget-lines",
        {"description": "Pipa", "quantity": 10, "unit": "paket", "unit_cost_amount": 1_000_000},
    )

    # partnerships: P1 ngo 6M (2M given), local_government 4M (1M), private_sector 5M
    # terminated after giving 0.5M; P2 ngo 3M (1M)
    ngo = (await post(admin, PARTNERS, {"name": "Yayasan Tirta", "kind": "ngo"}))["id"]
    pemda = (await post(admin, PARTNERS, {"name": "Pemkab", "kind": "local_government"}))["id"]
    swasta = (await post(admin, PARTNERS, {"name": "PT Maju", "kind": "private_sector"}))["id"]
    ngo_p1 = await partnership(admin, ngo, p1["id"], 6_000_000)
    pemda_p1 = await partnership(admin, pemda, p1["id"], 4_000_000)
    swasta_p1 = await partnership(admin, swasta, p1["id"], 5_000_000)
    ngo_p2 = await partnership(admin, ngo, p2["id"], 3_000_000, role="implementer")
    await contribute(admin, ngo_p1, amount=2_000_000, contributed_on="2025-03-01")
    await contribute(admin, pemda_p1, amount=1_000_000, contributed_on="2025-04-01")
    await contribute(admin, swasta_p1, amount=500_000, contributed_on="2025-02-01")
    await contribute(admin, ngo_p2, amount=1_000_000, contributed_on="2025-06-01")
    r = await admin.post(f"{PARTNERSHIPS}/{swasta_p1}/transitions", json={"to": "terminated"})
    assert r.status_code == 200, r.text

    # development: A up (tertinggal -> berkembang), B down (maju -> berkembang), C stays
    for community, first, second in ((a, 0.55, 0.65), (b, 0.75, 0.62), (c, 0.45, 0.46)):
        await add_index(admin, community, year=2023, value=first)
        await add_index(admin, community, year=2024, value=second)

    return World(a=a, b=b, c=c, p1=p1, p2=p2, p3=p3, ngo=ngo, findings=findings)


# --- participation ----------------------------------------------------------------------------


async def test_participation_report(analyst: httpx.AsyncClient, world: World) -> None:
    report = await get(analyst, f"{REPORTS}/participation")
    assert report["filters"] == NO_FILTERS
    assert report["people"] == 4 and report["records"] == 5
    assert report["by_sex"] == {
        "female": {"people": 3, "records": 4},
        "male": {"people": 1, "records": 1},
    }
    assert report["by_age_band"] == {
        "25-34": {"people": 1, "records": 2},
        "35-44": {"people": 1, "records": 1},
        "55-64": {"people": 1, "records": 1},
        "unknown": {"people": 1, "records": 1},
    }
    assert report["by_disability"] == {
        "no": {"people": 3, "records": 3},
        "yes": {"people": 1, "records": 2},
    }
    assert report["records_by_level"] == {
        "inform": 1,
        "consult": 1,
        "involve": 1,
        "collaborate": 1,
        "empower": 1,
    }
    assert report["records_by_role"] == {"beneficiary": 1, "decision_maker": 4}
    assert report["decision_makers"] == {"people": 3, "women": 2, "women_share": 0.6667}


async def test_participation_filters(analyst: httpx.AsyncClient, world: World) -> None:
    report = await get(analyst, f"{REPORTS}/participation", community_id=world.a)
    assert report["filters"] == {**NO_FILTERS, "community_id": world.a}
    assert (report["people"], report["records"]) == (3, 4)
    assert report["decision_makers"] == {"people": 2, "women": 1, "women_share": 0.5}

    report = await get(analyst, f"{REPORTS}/participation", region_code="33")
    assert report["filters"] == {**NO_FILTERS, "region_code": "33"}
    assert (report["people"], report["records"]) == (1, 1)
    assert report["by_age_band"] == {"55-64": {"people": 1, "records": 1}}

    report = await get(analyst, f"{REPORTS}/participation", region_code="32.04")
    assert (report["people"], report["records"]) == (3, 4)

    report = await get(analyst, f"{REPORTS}/participation", date_from="2025-03-15")
    assert report["filters"] == {**NO_FILTERS, "date_from": "2025-03-15"}
    assert (report["people"], report["records"]) == (2, 2)
    assert report["records_by_level"]["empower"] == 1
    assert report["records_by_level"]["involve"] == 0

    report = await get(
        analyst, f"{REPORTS}/participation", date_from="2025-03-01", date_to="2025-03-01"
    )
    assert (report["people"], report["records"]) == (3, 3)

    report = await get(analyst, f"{REPORTS}/participation", program_id=world.p1["id"])
    assert report["filters"]["program_id"] == world.p1["id"]
    assert (report["people"], report["records"]) == (4, 5)
    report = await get(analyst, f"{REPORTS}/participation", program_id=world.p2["id"])
    assert (report["people"], report["records"]) == (0, 0)
    assert report["decision_makers"]["women_share"] is None


async def test_participation_is_scoped_for_facilitators(
    make_user: MakeUser, as_user: AsUser, world: World
) -> None:
    facilitator = as_user(await make_user(Role.facilitator, communities=[uuid.UUID(world.b)]))
    report = await get(facilitator, f"{REPORTS}/participation")
    assert (report["people"], report["records"]) == (1, 1)
    assert report["by_sex"] == {"female": {"people": 1, "records": 1}}
    # asking for another community gives nothing, not more
    report = await get(facilitator, f"{REPORTS}/participation", community_id=world.a)
    assert (report["people"], report["records"]) == (0, 0)
    development = await get(facilitator, f"{REPORTS}/development")
    assert {row["region"] for row in development["status_counts"]} == {"33"}


# --- program progress -------------------------------------------------------------------------


async def test_program_progress(coordinator: httpx.AsyncClient, world: World) -> None:
    report = await get(coordinator, f"{REPORTS}/programs/{world.p1['id']}/progress")
    assert report["program"]["id"] == world.p1["id"]
    assert report["program"]["code"] == world.p1["code"]
    by_name = {i["name"]: i for i in report["indicators"]}
    water = by_name["KK dengan air"]
    assert (water["baseline"], water["target"], water["latest_value"]) == (10.0, 110.0, 60.0)
    assert water["latest_measured_on"] == "2025-03-01"
    assert water["progress_percent"] == 50.0
    assert water["target_met"] is False
    diarrhoea = by_name["Kasus diare"]
    assert diarrhoea["progress_percent"] == 50.0 and diarrhoea["target_met"] is False
    unmeasured = by_name["Belum diukur"]
    assert unmeasured["latest_value"] is None and unmeasured["progress_percent"] is None
    assert report["activities"] == {"planned": 2, "done": 1, "cancelled": 1, "done_share": 0.3333}
    assert report["budget"] == {
        "budget_amount": 10_000_000,
        "committed_amount": 10_000_000,  # the terminated 5M commitment is excluded
        "contributed_amount": 3_500_000,  # money actually given counts
        "contributed_share_of_budget": 0.35,
        "contributed_share_of_commitments": 0.35,
    }

    empty = await get(coordinator, f"{REPORTS}/programs/{world.p3['id']}/progress")
    assert empty["indicators"] == []
    assert empty["activities"]["done_share"] is None
    assert empty["budget"]["committed_amount"] == 0
    assert empty["budget"]["contributed_share_of_budget"] is None

    r = await coordinator.get(f"{REPORTS}/programs/{uuid.uuid4()}/progress")
    assert r.status_code == 404


# --- needs coverage ---------------------------------------------------------------------------


async def test_needs_coverage(analyst: httpx.AsyncClient, world: World) -> None:
    report = await get(analyst, f"{REPORTS}/needs-coverage")
    assert report["filters"] == {**NO_FILTERS, "top": 3}
    (alpha,) = report["communities"]
    assert alpha["community_id"] == world.a and alpha["name"] == "Desa Alpha"
    needs = [(n["finding_id"], n["priority_rank"], n["addressed_by"]) for n in alpha["needs"]]
    assert needs == [
        (world.findings["F1"], 1, [world.p1["code"]]),
        (world.findings["F2"], 2, []),
        (world.findings["F3"], 3, []),
    ]
    assert world.findings["F4"] not in str(report)  # potentials are not needs
    unaddressed = [n["finding_id"] for n in report["unaddressed_top_needs"]]
    assert unaddressed == [world.findings["F2"], world.findings["F3"]]
    assert report["unaddressed_top_needs"][0]["community"] == "Desa Alpha"

    report = await get(analyst, f"{REPORTS}/needs-coverage", top=2)
    assert report["filters"]["top"] == 2
    assert [n["finding_id"] for n in report["unaddressed_top_needs"]] == [world.findings["F2"]]

    report = await get(analyst, f"{REPORTS}/needs-coverage", region_code="33")
    assert report["filters"]["region_code"] == "33"
    assert report["communities"] == [] and report["unaddressed_top_needs"] == []
    report = await get(analyst, f"{REPORTS}/needs-coverage", community_id=world.b)
    assert report["communities"] == []
    report = await get(analyst, f"{REPORTS}/needs-coverage", date_from="2025-02-01")
    assert report["communities"] == []
    report = await get(analyst, f"{REPORTS}/needs-coverage", date_to="2025-02-01")
    assert len(report["communities"]) == 1

    report = await get(analyst, f"{REPORTS}/needs-coverage", program_id=world.p1["id"])
    assert report["filters"]["program_id"] == world.p1["id"]
    (alpha,) = report["communities"]
    assert [n["finding_id"] for n in alpha["needs"]] == [world.findings["F1"]]


# --- partnerships -----------------------------------------------------------------------------


async def test_partnerships_report(analyst: httpx.AsyncClient, world: World) -> None:
    report = await get(analyst, f"{REPORTS}/partnerships")
    assert report["filters"] == NO_FILTERS
    assert report["by_partner_kind"] == {
        "local_government": {
            "partnerships": 1,
            "committed_amount": 4_000_000,
            "contributed_amount": 1_000_000,
        },
        "ngo": {"partnerships": 2, "committed_amount": 9_000_000, "contributed_amount": 3_000_000},
        "private_sector": {
            "partnerships": 1,
            "committed_amount": 0,  # terminated: its commitment no longer counts
            "contributed_amount": 500_000,
        },
    }
    by_program = {p["program_id"]: p for p in report["by_program"]}
    assert by_program[world.p1["id"]]["committed_amount"] == 10_000_000
    assert by_program[world.p1["id"]]["contributed_amount"] == 3_500_000
    assert by_program[world.p1["id"]]["partnerships"] == 3
    assert by_program[world.p1["id"]]["code"] == world.p1["code"]
    assert by_program[world.p2["id"]]["committed_amount"] == 3_000_000
    assert by_program[world.p2["id"]]["contributed_amount"] == 1_000_000
    assert world.p3["id"] not in by_program
    assert report["totals"] == {"committed_amount": 13_000_000, "contributed_amount": 4_500_000}


async def test_partnerships_report_filters(analyst: httpx.AsyncClient, world: World) -> None:
    report = await get(analyst, f"{REPORTS}/partnerships", region_code="33")
    assert report["filters"] == {**NO_FILTERS, "region_code": "33"}
    assert [p["program_id"] for p in report["by_program"]] == [world.p1["id"]]
    assert report["totals"] == {"committed_amount": 10_000_000, "contributed_amount": 3_500_000}

    report = await get(analyst, f"{REPORTS}/partnerships", community_id=world.a)
    assert {p["program_id"] for p in report["by_program"]} == {world.p1["id"], world.p2["id"]}
    report = await get(analyst, f"{REPORTS}/partnerships", community_id=world.c)
    assert report["by_program"] == [] and report["by_partner_kind"] == {}

    report = await get(analyst, f"{REPORTS}/partnerships", program_id=world.p2["id"])
    assert report["totals"] == {"committed_amount": 3_000_000, "contributed_amount": 1_000_000}
    assert list(report["by_partner_kind"]) == ["ngo"]

    report = await get(analyst, f"{REPORTS}/partnerships", date_from="2025-03-15")
    assert report["filters"]["date_from"] == "2025-03-15"
    assert report["totals"] == {"committed_amount": 13_000_000, "contributed_amount": 2_000_000}
    report = await get(
        analyst, f"{REPORTS}/partnerships", date_from="2025-02-01", date_to="2025-03-01"
    )
    assert report["totals"]["contributed_amount"] == 2_500_000


# --- development ------------------------------------------------------------------------------


async def test_development_report(analyst: httpx.AsyncClient, world: World) -> None:
    report = await get(analyst, f"{REPORTS}/development")
    assert report["filters"] == {**NO_FILTERS, "group_by": "province"}
    zero = {
        "sangat_tertinggal": 0,
        "tertinggal": 0,
        "berkembang": 0,
        "maju": 0,
        "mandiri": 0,
    }
    assert report["status_counts"] == [
        {
            "year": 2023,
            "region": "32",
            "region_name": "Jawa Barat",
            **zero,
            "tertinggal": 1,
            "sangat_tertinggal": 1,
        },
        {"year": 2023, "region": "33", "region_name": "Jawa Tengah", **zero, "maju": 1},
        {
            "year": 2024,
            "region": "32",
            "region_name": "Jawa Barat",
            **zero,
            "berkembang": 1,
            "sangat_tertinggal": 1,
        },
        {"year": 2024, "region": "33", "region_name": "Jawa Tengah", **zero, "berkembang": 1},
    ]
    (up,) = report["moved_up"]
    assert (up["community_id"], up["from_status"], up["to_status"]) == (
        world.a,
        "tertinggal",
        "berkembang",
    )
    assert (up["from_year"], up["to_year"]) == (2023, 2024)
    assert up["score_change"] == pytest.approx(0.1, abs=1e-4)
    (down,) = report["moved_down"]
    assert (down["community_id"], down["from_status"], down["to_status"]) == (
        world.b,
        "maju",
        "berkembang",
    )
    assert down["score_change"] == pytest.approx(-0.13, abs=1e-4)


async def test_development_report_filters(analyst: httpx.AsyncClient, world: World) -> None:
    report = await get(analyst, f"{REPORTS}/development", region_code="33")
    assert report["filters"]["region_code"] == "33"
    assert {row["region"] for row in report["status_counts"]} == {"33"}
    assert report["moved_up"] == [] and len(report["moved_down"]) == 1

    report = await get(analyst, f"{REPORTS}/development", community_id=world.a)
    assert [m["community_id"] for m in report["moved_up"]] == [world.a]
    assert report["moved_down"] == []

    report = await get(analyst, f"{REPORTS}/development", date_from="2024-01-01")
    assert {row["year"] for row in report["status_counts"]} == {2024}
    assert report["moved_up"] == [] and report["moved_down"] == []

    report = await get(analyst, f"{REPORTS}/development", program_id=world.p3["id"])
    assert sum(row["sangat_tertinggal"] for row in report["status_counts"]) == 2
    assert report["moved_up"] == [] and report["moved_down"] == []

    report = await get(analyst, f"{REPORTS}/development", group_by="regency")
    assert report["filters"]["group_by"] == "regency"
    assert {row["region"] for row in report["status_counts"]} == {"32.04", "33.01"}
    assert all(row["region_name"] is None for row in report["status_counts"])


# --- access and validation --------------------------------------------------------------------


ALL_REPORTS = ["participation", "needs-coverage", "partnerships", "development"]


async def test_partner_sees_only_its_programs_progress(
    make_user: MakeUser, as_user: AsUser, world: World
) -> None:
    partner = as_user(await make_user(Role.partner, organization_id=uuid.UUID(world.ngo)))
    for name in ALL_REPORTS:
        r = await partner.get(f"{REPORTS}/{name}")
        assert r.status_code == 403, (name, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
    report = await get(partner, f"{REPORTS}/programs/{world.p1['id']}/progress")
    assert report["budget"]["committed_amount"] == 10_000_000
    r = await partner.get(f"{REPORTS}/programs/{world.p3['id']}/progress")
    assert r.status_code == 404, r.text

    # another organisation, with no partnership at all, sees no progress
    stranger = as_user(await make_user(Role.partner))
    r = await stranger.get(f"{REPORTS}/programs/{world.p1['id']}/progress")
    assert r.status_code == 404


async def test_facilitator_progress_only_for_programs_touching_its_communities(
    make_user: MakeUser, as_user: AsUser, world: World
) -> None:
    facilitator = as_user(await make_user(Role.facilitator, communities=[uuid.UUID(world.c)]))
    assert (
        await facilitator.get(f"{REPORTS}/programs/{world.p3['id']}/progress")
    ).status_code == 200
    assert (
        await facilitator.get(f"{REPORTS}/programs/{world.p1['id']}/progress")
    ).status_code == 404


@pytest.mark.parametrize("region", ["3", "99", "32.4", "32-04", "abc", "32.04.12.2001.1"])
async def test_invalid_region_code(analyst: httpx.AsyncClient, region: str) -> None:
    for name in ALL_REPORTS:
        r = await analyst.get(f"{REPORTS}/{name}", params={"region_code": region})
        assert r.status_code == 422, (name, region, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")


async def test_invalid_dates_and_ids(analyst: httpx.AsyncClient) -> None:
    for name in ALL_REPORTS:
        r = await analyst.get(
            f"{REPORTS}/{name}", params={"date_from": "2025-05-01", "date_to": "2025-04-01"}
        )
        assert r.status_code == 422, name
        r = await analyst.get(f"{REPORTS}/{name}", params={"community_id": "nope"})
        assert r.status_code == 422, name
    r = await analyst.get(f"{REPORTS}/programs/not-a-uuid/progress")
    assert r.status_code == 422


async def test_anonymous_gets_401(client: httpx.AsyncClient) -> None:
    for name in ALL_REPORTS:
        assert (await client.get(f"{REPORTS}/{name}")).status_code == 401
