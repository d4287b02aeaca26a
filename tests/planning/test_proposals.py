"""Planning proposals: fields, validation, one proposal per finding and year, ETags,
soft delete and restore, audit, and who sees and writes what."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from app.auth.models import Role
from tests.factories import (
    ASSESSMENTS,
    add_finding,
    create_assessment,
    make_partner,
    make_partnership,
    make_program,
)
from tests.helpers import assert_422_at, assert_problem, audit_events, id_set
from tests.planning.conftest import PROPOSALS, World, make_proposal, proposal_body


async def test_create_get_and_list(admin: httpx.AsyncClient, world: World) -> None:
    cid = world.community["id"]
    program = await make_program(admin, [cid])
    body = proposal_body(
        cid,
        finding_ids=[world.findings["A"]],
        program_ids=[program["id"]],
        beneficiaries={"female": 212, "male": 198, "poor_households": 41, "disability": 3},
        volume=1,
        unit="unit",
        kegiatan="Pembangunan sumber air bersih milik desa",
        proposed_by="Musyawarah Dusun Krajan",
    )
    r = await admin.post(PROPOSALS, json=body)
    assert r.status_code == 201, r.text
    created = r.json()
    assert r.headers["Location"] == f"{PROPOSALS}/{created['id']}"
    assert r.headers["ETag"] == '"1"'
    assert created["status"] == "draft"
    assert created["finding_ids"] == [world.findings["A"]]
    assert created["program_ids"] == [program["id"]]
    assert created["beneficiaries"] == body["beneficiaries"]
    assert created["funding_planned_amount"] == 0 == created["funding_realised_amount"]
    assert created["carried_over_from_id"] is None and created["carried_over_to_id"] is None
    got = await admin.get(f"{PROPOSALS}/{created['id']}")
    assert got.json() == created
    assert (
        await admin.get(f"{PROPOSALS}/{created['id']}", headers={"If-None-Match": '"1"'})
    ).status_code == 304
    other = await make_proposal(admin, cid, planning_year=2027, bidang=4)
    assert id_set(await admin.get(PROPOSALS, params={"planning_year": 2026})) == {created["id"]}
    assert id_set(await admin.get(PROPOSALS, params={"bidang": 4})) == {other["id"]}
    assert id_set(await admin.get(PROPOSALS, params={"program_id": program["id"]})) == {
        created["id"]
    }
    assert id_set(await admin.get(PROPOSALS, params={"finding_id": world.findings["A"]})) == {
        created["id"]
    }
    assert id_set(await admin.get(PROPOSALS, params={"region_code": "32.04"})) == {
        created["id"],
        other["id"],
    }
    assert id_set(await admin.get(PROPOSALS, params={"region_code": "33"})) == set()
    page = await admin.get(PROPOSALS, params={"sort": "-planning_year", "limit": 1})
    assert [i["id"] for i in page.json()["items"]] == [other["id"]]
    assert page.json()["next_cursor"] and 'rel="next"' in page.headers["Link"]


async def test_rules_of_the_fields(
    admin: httpx.AsyncClient, world: World, other_community: dict[str, Any]
) -> None:
    cid = world.community["id"]
    bad = [
        ({"bidang": 6}, ("body", "bidang")),
        ({"bidang": 0}, ("body", "bidang")),
        ({"estimated_cost_amount": -1}, ("body", "estimated_cost_amount")),
        ({"estimated_cost_amount": 1.5}, ("body", "estimated_cost_amount")),
        ({"planning_year": 2014}, ("body", "planning_year")),
        ({"planning_year": 2099}, ("body", "planning_year")),  # beyond the RPJM Desa
        ({"origin_forum": "rapat_rt"}, ("body", "origin_forum")),
        ({"proposed_funding_source": "hibah"}, ("body", "proposed_funding_source")),
        ({"status": "agreed"}, ("body", "status")),  # status only by transitions
        ({"funding_planned_amount": 5}, ("body", "funding_planned_amount")),
        ({"beneficiaries": {"female": -1}}, ("body", "beneficiaries", "female")),
        ({"community_id": str(uuid.uuid4())}, ("body", "community_id")),
        ({"finding_ids": [world.potential_id]}, ("body", "finding_ids", 0)),
        ({"finding_ids": [str(uuid.uuid4())]}, ("body", "finding_ids", 0)),
    ]
    for override, loc in bad:
        r = await admin.post(PROPOSALS, json={**proposal_body(cid), **override})
        assert_422_at(r, *loc)
    # A finding of an assessment not yet validated, or of another community.
    draft_assessment = await create_assessment(admin, cid)
    unvalidated = await add_finding(admin, draft_assessment["id"])
    r = await admin.post(PROPOSALS, json=proposal_body(cid, finding_ids=[unvalidated["id"]]))
    assert_422_at(r, "body", "finding_ids", 0)
    r = await admin.post(
        PROPOSALS,
        json=proposal_body(other_community["id"], finding_ids=[world.findings["A"]]),
    )
    assert_422_at(r, "body", "finding_ids", 0)
    # A program that does not include the community.
    elsewhere = await make_program(admin, [other_community["id"]])
    r = await admin.post(PROPOSALS, json=proposal_body(cid, program_ids=[elsewhere["id"]]))
    assert_422_at(r, "body", "program_ids", 0)
    assert (await admin.get(PROPOSALS)).json()["items"] == []


async def test_one_proposal_per_finding_and_year(admin: httpx.AsyncClient, world: World) -> None:
    cid, a = world.community["id"], world.findings["A"]
    first = await make_proposal(admin, cid, finding_ids=[a])
    r = await admin.post(PROPOSALS, json=proposal_body(cid, finding_ids=[a]))
    problem = assert_problem(r, 409)
    assert str(first["id"]) in problem["detail"]
    # Another year is another plan.
    await make_proposal(admin, cid, finding_ids=[a], planning_year=2027)
    # Patching a finding in that another proposal of the year holds is refused too.
    second = await make_proposal(admin, cid, finding_ids=[world.findings["B"]])
    r = await admin.patch(f"{PROPOSALS}/{second['id']}", json={"finding_ids": [a]})
    assert_problem(r, 409)
    # Once the first is deleted, its finding is free again.
    assert (await admin.delete(f"{PROPOSALS}/{first['id']}")).status_code == 204
    r = await admin.patch(f"{PROPOSALS}/{second['id']}", json={"finding_ids": [a]})
    assert r.status_code == 200 and r.json()["finding_ids"] == [a]
    # ... and restoring the first would give the finding two proposals for 2026.
    assert_problem(await admin.post(f"{PROPOSALS}/{first['id']}/restore"), 409)


async def test_patch_if_match_and_merge(admin: httpx.AsyncClient, world: World) -> None:
    p = await make_proposal(admin, world.community["id"], location="RT 02")
    url = f"{PROPOSALS}/{p['id']}"
    r = await admin.patch(url, json={"title": "Sumur bor"}, headers={"If-Match": '"9"'})
    assert_problem(r, 412)
    r = await admin.patch(url, json={"title": "Sumur bor"}, headers={"If-Match": '"1"'})
    assert r.status_code == 200 and r.headers["ETag"] == '"2"'
    assert r.json()["title"] == "Sumur bor" and r.json()["location"] == "RT 02"
    assert_422_at(await admin.patch(url, json={"bidang": None}), "body", "bidang")
    # The planning year changes only while the proposal is a draft.
    assert (await admin.patch(url, json={"planning_year": 2027})).status_code == 200
    await admin.post(f"{url}/transitions", json={"to": "agreed", "date": "2025-08-01"})
    assert_problem(await admin.patch(url, json={"planning_year": 2028}), 409)
    assert (await admin.get(url)).json()["planning_year"] == 2027


async def test_delete_restore_and_audit(
    admin: httpx.AsyncClient, coordinator: httpx.AsyncClient, world: World
) -> None:
    p = await make_proposal(coordinator, world.community["id"])
    url = f"{PROPOSALS}/{p['id']}"
    assert_problem(await coordinator.delete(url, headers={"If-Match": '"7"'}), 412)
    assert (await coordinator.delete(url)).status_code == 204
    assert_problem(await coordinator.get(url), 404)
    assert_problem(await coordinator.post(f"{url}/restore"), 403)
    r = await admin.post(f"{url}/restore")
    assert r.status_code == 200 and r.json()["id"] == p["id"]
    actions = [e["action"] for e in await audit_events(admin, "planning_proposals", p["id"])]
    assert sorted(actions) == ["create", "delete", "restore"]


async def test_facilitator_writes_in_own_community_only(
    admin: httpx.AsyncClient,
    facilitator: httpx.AsyncClient,
    world: World,
    other_community: dict[str, Any],
) -> None:
    mine = await make_proposal(facilitator, world.community["id"])
    theirs = await make_proposal(admin, other_community["id"])
    r = await facilitator.post(PROPOSALS, json=proposal_body(other_community["id"]))
    assert_422_at(r, "body", "community_id")
    assert id_set(await facilitator.get(PROPOSALS)) == {mine["id"]}
    for method, suffix, body in [
        ("GET", "", None),
        ("PATCH", "", {"title": "x"}),
        ("DELETE", "", None),
        ("POST", "/transitions", {"to": "agreed", "date": "2025-08-01"}),
        ("GET", "/funding", None),
        ("GET", "/transitions", None),
    ]:
        r = await facilitator.request(method, f"{PROPOSALS}/{theirs['id']}{suffix}", json=body)
        assert_problem(r, 404)
    assert (await admin.get(f"{PROPOSALS}/{theirs['id']}")).json()["title"] == theirs["title"]


async def test_analyst_reads_but_does_not_write(
    admin: httpx.AsyncClient, analyst: httpx.AsyncClient, world: World
) -> None:
    p = await make_proposal(admin, world.community["id"])
    assert (await analyst.get(f"{PROPOSALS}/{p['id']}")).status_code == 200
    assert id_set(await analyst.get(PROPOSALS)) == {p["id"]}
    assert_problem(await analyst.post(PROPOSALS, json=proposal_body(world.community["id"])), 403)
    assert_problem(await analyst.patch(f"{PROPOSALS}/{p['id']}", json={"title": "x"}), 403)
    assert_problem(await analyst.delete(f"{PROPOSALS}/{p['id']}"), 403)
    r = await analyst.post(
        f"{PROPOSALS}/{p['id']}/transitions", json={"to": "agreed", "date": "2025-08-01"}
    )
    assert_problem(r, 403)


async def test_partner_reads_proposals_of_its_programs_only(
    admin: httpx.AsyncClient, make_user: Any, as_user: Any, world: World
) -> None:
    cid = world.community["id"]
    partner_org = await make_partner(admin)
    program = await make_program(admin, [cid])
    await make_partnership(admin, partner_org["id"], program["id"])
    linked = await make_proposal(admin, cid, program_ids=[program["id"]])
    unlinked = await make_proposal(admin, cid, title="Jalan usaha tani")
    partner = as_user(await make_user(Role.partner, organization_id=uuid.UUID(partner_org["id"])))
    assert id_set(await partner.get(PROPOSALS)) == {linked["id"]}
    assert (await partner.get(f"{PROPOSALS}/{linked['id']}")).status_code == 200
    assert (await partner.get(f"{PROPOSALS}/{linked['id']}/funding")).status_code == 200
    assert_problem(await partner.get(f"{PROPOSALS}/{unlinked['id']}"), 404)
    assert_problem(await partner.patch(f"{PROPOSALS}/{linked['id']}", json={"title": "x"}), 403)
    # The planning record without its free-text notes (they may quote a villager) or who
    # recorded each move; staff see both.
    r = await admin.post(
        f"{PROPOSALS}/{linked['id']}/transitions",
        json={"to": "agreed", "date": "2025-08-01", "note": "Diusulkan Pak Sutrisno, RT 02"},
    )
    assert r.status_code == 200, r.text
    entries = (await partner.get(f"{PROPOSALS}/{linked['id']}/transitions")).json()["items"]
    assert [(e["to_status"], e["note"], e["actor_id"]) for e in entries] == [("agreed", None, None)]
    staff = (await admin.get(f"{PROPOSALS}/{linked['id']}/transitions")).json()["items"]
    assert staff[0]["note"] == "Diusulkan Pak Sutrisno, RT 02" and staff[0]["actor_id"]
    # A partner of no program of the community sees nothing.
    stranger = as_user(await make_user(Role.partner))
    assert (await stranger.get(PROPOSALS)).json()["items"] == []
    assert_problem(await stranger.get(f"{PROPOSALS}/{linked['id']}"), 404)
    # Partners never reach the assessment the proposal comes from.
    assert_problem(await partner.get(f"{ASSESSMENTS}/{world.assessment_id}"), 404)


async def test_beneficiaries_merge_like_the_rest_of_the_patch(
    admin: httpx.AsyncClient, world: World
) -> None:
    counts = {"female": 212, "male": 198, "poor_households": 41, "disability": 3}
    p = await make_proposal(admin, world.community["id"], beneficiaries=counts)
    url = f"{PROPOSALS}/{p['id']}"
    r = await admin.patch(url, json={"beneficiaries": {"female": 220, "disability": None}})
    assert r.json()["beneficiaries"] == {**counts, "female": 220, "disability": None}
    r = await admin.patch(url, json={"beneficiaries": None})
    assert set(r.json()["beneficiaries"].values()) == {None}
