"""The needs-to-budget report on a hand-computed example, its filters and its scope."""

from __future__ import annotations

from typing import Any

import httpx

from tests.factories import REPORTS
from tests.helpers import assert_problem
from tests.planning.conftest import (
    PROPOSALS,
    World,
    add_funding,
    make_proposal,
    move,
    validated_world,
)

REPORT = f"{REPORTS}/needs-to-budget"
M = 1_000_000


async def _funded(client: httpx.AsyncClient, proposal_id: str, **line: Any) -> dict[str, Any]:
    return await add_funding(client, proposal_id, **line)


async def build_example(admin: httpx.AsyncClient, world: World) -> dict[str, str]:
    """The community ranked A, B, D, C, E, F, G (seven needs; G with no points still ranks
    7th). Five proposals:

    =====  =======  ==============  ============================================  ===========
    name   finding  estimated (Rp)  funding lines (planned / realised, Rp)         status
    =====  =======  ==============  ============================================  ===========
    P1     A        185 M           dana_desa 150 M / 140 M; swadaya 35 M / 35 M  realised
    P2     B         60 M           add 50 M / -                                  in_apbdes
    P3     D         90 M           -                                             deferred
                                                                                   (from RKP)
    P4     C         40 M           apbd 40 M / -                                 accommodated
    P5     -         10 M           -                                             rejected
    =====  =======  ==============  ============================================  ===========
    """
    cid, f = world.community["id"], world.findings
    p1 = await make_proposal(admin, cid, finding_ids=[f["A"]], estimated_cost_amount=185 * M)
    p2 = await make_proposal(admin, cid, finding_ids=[f["B"]], estimated_cost_amount=60 * M)
    p3 = await make_proposal(admin, cid, finding_ids=[f["D"]], estimated_cost_amount=90 * M)
    p4 = await make_proposal(admin, cid, finding_ids=[f["C"]], estimated_cost_amount=40 * M)
    p5 = await make_proposal(admin, cid, title="Gapura desa", estimated_cost_amount=10 * M)
    for p in (p1, p2, p3, p4):
        assert (await move(admin, p["id"], "agreed")).status_code == 200
    for p in (p1, p2, p3):
        assert (await move(admin, p["id"], "in_rkp_desa")).status_code == 200
    dd = await _funded(admin, p1["id"], planned_amount=150 * M, realised_amount=140 * M)
    await _funded(admin, p1["id"], source="swadaya", planned_amount=35 * M, realised_amount=35 * M)
    await _funded(admin, p2["id"], source="add", planned_amount=50 * M)
    for p in (p1, p2):
        assert (await move(admin, p["id"], "in_apbdes")).status_code == 200
    assert (await move(admin, p1["id"], "realised")).status_code == 200
    assert dd["realised_amount"] == 140 * M
    assert (await move(admin, p3["id"], "deferred")).status_code == 200
    assert (
        await move(admin, p4["id"], "forwarded", forum="musrenbang_kecamatan")
    ).status_code == 200
    await _funded(admin, p4["id"], source="apbd", planned_amount=40 * M)
    assert (await move(admin, p4["id"], "accommodated")).status_code == 200
    assert (
        await move(admin, p5["id"], "rejected", note="Bukan kewenangan desa")
    ).status_code == 200
    return {"p1": p1["id"], "p2": p2["id"], "p3": p3["id"], "p4": p4["id"], "p5": p5["id"]}


EXPECTED_FUNNEL = {
    "prioritised_needs": 7,  # A..G
    "needs_with_proposal": 4,  # A, B, D, C
    "proposals": 5,
    "agreed": 4,  # P1..P4
    "in_rkp_desa": 3,  # P1, P2, P3 (P3 deferred from it still counts)
    "in_apbdes": 2,  # P1, P2
    "realised": 1,  # P1
    "forwarded": 1,  # P4
    "accommodated": 1,  # P4
}
EXPECTED_AMOUNTS = {
    "estimated_cost_amount": 385 * M,  # 185 + 60 + 90 + 40 + 10
    "in_rkp_desa_estimated_amount": 335 * M,  # 185 + 60 + 90
    "planned_amount": 275 * M,  # 150 + 35 + 50 + 40
    "apbdes_planned_amount": 235 * M,  # the lines of P1 and P2: 150 + 35 + 50
    "realised_amount": 175 * M,  # 140 + 35
}
EXPECTED_SOURCES = {
    "add": {"proposals": 1, "planned_amount": 50 * M, "realised_amount": 0},
    "apbd": {"proposals": 1, "planned_amount": 40 * M, "realised_amount": 0},
    "dana_desa": {"proposals": 1, "planned_amount": 150 * M, "realised_amount": 140 * M},
    "swadaya": {"proposals": 1, "planned_amount": 35 * M, "realised_amount": 35 * M},
}


async def test_hand_computed_example(
    admin: httpx.AsyncClient, analyst: httpx.AsyncClient, world: World
) -> None:
    await build_example(admin, world)
    r = await analyst.get(REPORT)
    assert r.status_code == 200, r.text
    report = r.json()
    (community,) = report["communities"]
    assert community["community_id"] == world.community["id"]
    assert community["funnel"] == EXPECTED_FUNNEL
    assert community["amounts"] == EXPECTED_AMOUNTS
    assert community["by_source"] == EXPECTED_SOURCES
    # Top 3 ranked needs: A (realised), B (in APBDes), D (stopped in the RKP Desa): 2 of 3.
    assert community["top_needs"] == {"top": 3, "needs": 3, "reached_apbdes": 2, "share": 0.6667}
    assert community["by_status"] == {
        "draft": 0,
        "agreed": 0,
        "in_rkp_desa": 0,
        "in_apbdes": 1,
        "realised": 1,
        "forwarded": 0,
        "accommodated": 1,
        "not_accommodated": 0,
        "deferred": 1,
        "rejected": 1,
    }
    (region,) = report["regions"]
    assert region["region"] == "32" and region["region_name"] == "Jawa Barat"
    assert region["funnel"] == EXPECTED_FUNNEL and region["amounts"] == EXPECTED_AMOUNTS
    assert report["totals"]["top_needs"]["share"] == 0.6667
    # Top 1: A reached the budget (1 of 1); top 5 adds C (accommodated by the kabupaten,
    # not the APBDes) and E (no proposal): 2 of 5.
    one = (await analyst.get(REPORT, params={"top": 1})).json()["totals"]["top_needs"]
    assert (one["needs"], one["reached_apbdes"], one["share"]) == (1, 1, 1.0)
    five = (await analyst.get(REPORT, params={"top": 5})).json()["totals"]["top_needs"]
    assert (five["needs"], five["reached_apbdes"], five["share"]) == (5, 2, 0.4)


async def test_filters_regions_and_scope(
    admin: httpx.AsyncClient,
    analyst: httpx.AsyncClient,
    facilitator: httpx.AsyncClient,
    partner: httpx.AsyncClient,
    world: World,
    make_community: Any,
) -> None:
    ids = await build_example(admin, world)
    other = await validated_world(admin, await make_community(region_code="33.01.01.2001"))
    await make_proposal(
        admin,
        other.community["id"],
        finding_ids=[other.findings["A"]],
        estimated_cost_amount=7 * M,
        planning_year=2027,
    )
    report = (await analyst.get(REPORT)).json()
    assert [r["region"] for r in report["regions"]] == ["32", "33"]
    assert report["totals"]["funnel"]["proposals"] == 6
    assert report["totals"]["funnel"]["prioritised_needs"] == 14
    assert report["totals"]["top_needs"] == {
        "top": 3,
        "needs": 6,
        "reached_apbdes": 2,
        "share": 0.3333,
    }
    regency = (await analyst.get(REPORT, params={"group_by": "regency"})).json()
    assert [r["region"] for r in regency["regions"]] == ["32.04", "33.01"]
    only = (await analyst.get(REPORT, params={"region_code": "33"})).json()
    assert [c["community_id"] for c in only["communities"]] == [other.community["id"]]
    # Dates select planning years: 2027 holds only the other community's proposal.
    later = (await analyst.get(REPORT, params={"date_from": "2027-01-01"})).json()
    assert later["totals"]["funnel"]["proposals"] == 1
    assert later["totals"]["amounts"]["estimated_cost_amount"] == 7 * M
    # The facilitator of the first community sees that community only.
    mine = (await facilitator.get(REPORT)).json()
    assert [c["community_id"] for c in mine["communities"]] == [world.community["id"]]
    assert mine["totals"]["funnel"] == EXPECTED_FUNNEL
    assert_problem(await partner.get(REPORT), 403)
    assert_problem(await analyst.get(REPORT, params={"top": 0}), 422)
    assert_problem(
        await analyst.get(REPORT, params={"date_from": "2026-01-01", "date_to": "2025-01-01"}),
        422,
    )
    # A deleted proposal leaves the report.
    assert (await admin.delete(f"{PROPOSALS}/{ids['p5']}")).status_code == 204
    assert (await analyst.get(REPORT)).json()["totals"]["funnel"]["proposals"] == 5
