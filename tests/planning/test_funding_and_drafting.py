"""Funding lines and the proposal's totals; drafting proposals from the community's ranking."""

from __future__ import annotations

from typing import Any

import httpx

from app.auth.models import Role
from tests.factories import ASSESSMENTS, create_assessment
from tests.helpers import assert_422_at, assert_problem
from tests.planning.conftest import (
    PROPOSALS,
    World,
    add_funding,
    make_proposal,
    validated_world,
    walk,
)

# --- funding --------------------------------------------------------------------------------


async def test_funding_lines_and_totals(admin: httpx.AsyncClient, world: World) -> None:
    p = await make_proposal(admin, world.community["id"])
    url = f"{PROPOSALS}/{p['id']}/funding"
    r = await admin.post(
        url,
        json={
            "fiscal_year": 2026,
            "source": "dana_desa",
            "planned_amount": 150_000_000,
            "apbdes_ref": "2.3.01",
        },
    )
    assert r.status_code == 201, r.text
    dd = r.json()
    assert r.headers["Location"] == f"{url}/{dd['id']}" and r.headers["ETag"] == '"1"'
    swadaya = await add_funding(admin, p["id"], source="swadaya", planned_amount=35_000_000)
    got = (await admin.get(f"{PROPOSALS}/{p['id']}")).json()
    assert got["funding_planned_amount"] == 185_000_000 and got["funding_realised_amount"] == 0
    # One line per fiscal year and source.
    assert_problem(
        await admin.post(
            url, json={**{k: dd[k] for k in ("fiscal_year", "source")}, "planned_amount": 1}
        ),
        409,
    )
    await add_funding(admin, p["id"], fiscal_year=2027, planned_amount=10_000_000)
    # Realised, then totals follow.
    r = await admin.patch(f"{url}/{dd['id']}", json={"realised_amount": 149_500_000})
    assert r.status_code == 200 and r.headers["ETag"] == '"2"'
    got = (await admin.get(f"{PROPOSALS}/{p['id']}")).json()
    assert (got["funding_planned_amount"], got["funding_realised_amount"]) == (
        195_000_000,
        149_500_000,
    )
    # Deleting a line takes it out of the totals; restoring brings it back.
    assert (await admin.delete(f"{url}/{swadaya['id']}")).status_code == 204
    assert (await admin.get(f"{PROPOSALS}/{p['id']}")).json()["funding_planned_amount"] == (
        160_000_000
    )
    assert_problem(await admin.get(f"{url}/{swadaya['id']}"), 404)
    assert (await admin.post(f"{url}/{swadaya['id']}/restore")).status_code == 200
    assert (await admin.get(f"{PROPOSALS}/{p['id']}")).json()["funding_planned_amount"] == (
        195_000_000
    )
    assert len((await admin.get(url)).json()["items"]) == 3


async def test_funding_rules(admin: httpx.AsyncClient, world: World) -> None:
    p = await make_proposal(admin, world.community["id"])
    url = f"{PROPOSALS}/{p['id']}/funding"
    base = {"fiscal_year": 2026, "source": "dana_desa", "planned_amount": 100}
    assert_422_at(await admin.post(url, json={**base, "fiscal_year": 2025}), "body", "fiscal_year")
    assert_422_at(await admin.post(url, json={**base, "fiscal_year": 2033}), "body", "fiscal_year")
    assert_422_at(
        await admin.post(url, json={**base, "realised_amount": 101}), "body", "realised_amount"
    )
    assert_422_at(
        await admin.post(url, json={**base, "planned_amount": -1}), "body", "planned_amount"
    )
    assert_422_at(await admin.post(url, json={**base, "source": "hibah"}), "body", "source")
    line = await add_funding(admin, p["id"], planned_amount=100)
    r = await admin.patch(f"{url}/{line['id']}", json={"realised_amount": 101})
    assert_422_at(r, "body", "realised_amount")
    r = await admin.patch(
        f"{url}/{line['id']}", json={"realised_amount": 50}, headers={"If-Match": '"9"'}
    )
    assert_problem(r, 412)
    # No funding on what will not be carried out.
    rejected = await make_proposal(admin, world.community["id"], title="Gapura desa")
    await walk(admin, rejected["id"], "rejected")
    assert_problem(await admin.post(f"{PROPOSALS}/{rejected['id']}/funding", json=base), 409)
    # A line reached under another proposal's path is not found there.
    assert_problem(await admin.get(f"{PROPOSALS}/{rejected['id']}/funding/{line['id']}"), 404)


async def test_funding_writers(
    admin: httpx.AsyncClient,
    analyst: httpx.AsyncClient,
    facilitator: httpx.AsyncClient,
    world: World,
    make_community: Any,
) -> None:
    p = await make_proposal(admin, world.community["id"])
    url = f"{PROPOSALS}/{p['id']}/funding"
    body = {"fiscal_year": 2026, "source": "add", "planned_amount": 20_000_000}
    assert_problem(await analyst.post(url, json=body), 403)
    assert (await facilitator.post(url, json=body)).status_code == 201
    elsewhere = await make_proposal(admin, (await make_community())["id"])
    assert_problem(await facilitator.post(f"{PROPOSALS}/{elsewhere['id']}/funding", json=body), 404)


# --- drafting from the ranking --------------------------------------------------------------


async def test_drafts_follow_the_ranking_and_are_idempotent(
    admin: httpx.AsyncClient, world: World
) -> None:
    url = f"{ASSESSMENTS}/{world.assessment_id}/proposals"
    r = await admin.post(url, json={"top": 3, "planning_year": 2026})
    assert r.status_code == 200, r.text
    first = r.json()
    assert first["created"] == 3
    f = world.findings
    assert [i["finding_ids"] for i in first["items"]] == [[f["A"]], [f["B"]], [f["D"]]]
    assert [i["title"] for i in first["items"]] == [
        "Akses air bersih",
        "Bidan desa tidak ada",
        "Drainase tersumbat",
    ]
    # Bidang from the category: A education → 2, B social → 3, D infrastructure → 2.
    assert [i["bidang"] for i in first["items"]] == [2, 3, 2]
    assert {i["status"] for i in first["items"]} == {"draft"}
    assert {i["origin_forum"] for i in first["items"]} == {"musdes"}
    # Again: nothing new, the same proposals.
    again = (await admin.post(url, json={"top": 3, "planning_year": 2026})).json()
    assert again["created"] == 0
    assert [i["id"] for i in again["items"]] == [i["id"] for i in first["items"]]
    # A wider top adds only the next ones; a finding with no points is never drafted.
    wider = (await admin.post(url, json={"top": 50, "planning_year": 2026})).json()
    assert wider["created"] == 3  # C, E, F; G has no points
    assert len((await admin.get(PROPOSALS)).json()["items"]) == 6
    # Another year is another plan.
    other = (await admin.post(url, json={"top": 1, "planning_year": 2027})).json()
    assert other["created"] == 1 and other["items"][0]["finding_ids"] == [f["A"]]
    # A hand-made proposal of the year counts too.
    assert_problem(
        await admin.post(
            PROPOSALS,
            json={
                "community_id": world.community["id"],
                "title": "Air bersih",
                "planning_year": 2027,
                "finding_ids": [f["A"]],
                "origin_forum": "musdus",
                "bidang": 2,
                "estimated_cost_amount": 0,
                "proposed_funding_source": "dana_desa",
            },
        ),
        409,
    )


async def test_drafting_rules_and_scope(
    admin: httpx.AsyncClient,
    analyst: httpx.AsyncClient,
    partner: httpx.AsyncClient,
    make_user: Any,
    as_user: Any,
    world: World,
    make_community: Any,
) -> None:
    body = {"top": 3, "planning_year": 2026}
    unvalidated = await create_assessment(admin, world.community["id"])
    assert_problem(await admin.post(f"{ASSESSMENTS}/{unvalidated['id']}/proposals", json=body), 409)
    url = f"{ASSESSMENTS}/{world.assessment_id}/proposals"
    assert_422_at(await admin.post(url, json={"top": 0, "planning_year": 2026}), "body", "top")
    assert_422_at(await admin.post(url, json={"top": 3}), "body", "planning_year")
    assert_problem(await analyst.post(url, json=body), 403)
    assert_problem(await partner.post(url, json=body), 404)
    other = await make_community()
    stranger = as_user(await make_user(Role.facilitator, communities=[other["id"]]))
    assert_problem(await stranger.post(url, json=body), 404)
    assert (await admin.get(PROPOSALS)).json()["items"] == []
    own = as_user(await make_user(Role.facilitator, communities=[world.community["id"]]))
    assert (await own.post(url, json=body)).json()["created"] == 3


async def test_idempotency_key_replays_a_draft(admin: httpx.AsyncClient, world: World) -> None:
    url = f"{ASSESSMENTS}/{world.assessment_id}/proposals"
    headers = {"Idempotency-Key": "musdes-2025-krajan"}
    first = await admin.post(url, json={"top": 2, "planning_year": 2026}, headers=headers)
    replay = await admin.post(url, json={"top": 2, "planning_year": 2026}, headers=headers)
    assert replay.status_code == first.status_code == 200
    assert replay.json() == first.json()
    other = await admin.post(url, json={"top": 3, "planning_year": 2026}, headers=headers)
    assert_problem(other, 422)


async def test_second_community_is_separate(
    admin: httpx.AsyncClient, world: World, make_community: Any
) -> None:
    other = await validated_world(admin, await make_community())
    a = (
        await admin.post(
            f"{ASSESSMENTS}/{world.assessment_id}/proposals", json={"top": 1, "planning_year": 2026}
        )
    ).json()
    b = (
        await admin.post(
            f"{ASSESSMENTS}/{other.assessment_id}/proposals", json={"top": 1, "planning_year": 2026}
        )
    ).json()
    assert a["created"] == b["created"] == 1
    assert a["items"][0]["community_id"] != b["items"][0]["community_id"]
