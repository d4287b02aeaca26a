"""The status path of a proposal: every state reachable, illegal moves answered with the
allowed ones, the planning record, rejection notes, budget preconditions, carry-over."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from app.planning.models import PROPOSAL_MACHINE
from tests.helpers import assert_422_at, assert_problem
from tests.planning.conftest import (
    CLOSED,
    OPEN,
    PATH_TO,
    PROPOSALS,
    World,
    add_funding,
    make_proposal,
    move,
    walk,
)


@pytest.mark.parametrize("status", list(PATH_TO))
async def test_every_status_is_reached_and_every_other_move_refused(
    admin: httpx.AsyncClient, world: World, status: str
) -> None:
    p = await make_proposal(admin, world.community["id"])
    body = await walk(admin, p["id"], status)
    assert body["status"] == status
    allowed = sorted(PROPOSAL_MACHINE[status])
    for target in PROPOSAL_MACHINE:
        if target in allowed:
            continue
        r = await move(admin, p["id"], target)
        problem = assert_problem(r, 409)
        assert problem["allowed"] == allowed
    after = (await admin.get(f"{PROPOSALS}/{p['id']}")).json()
    assert after["status"] == status and after["updated_at"] == body["updated_at"]
    assert (status in CLOSED) == (not allowed)


async def test_planning_record_keeps_who_when_where_and_which_document(
    admin: httpx.AsyncClient, world: World, raw_db: Any
) -> None:
    p = await make_proposal(admin, world.community["id"])
    r = await move(
        admin,
        p["id"],
        "agreed",
        date="2025-07-10",
        forum="musrenbang_desa",
        document_ref="BA Musrenbang Desa No. 140/12/VII/2025",
        note="Prioritas 1 Musrenbang Desa",
    )
    assert r.status_code == 200 and r.headers["ETag"] == '"2"'
    await move(admin, p["id"], "in_rkp_desa", date="2025-09-18", forum="musdes")
    history = (await admin.get(f"{PROPOSALS}/{p['id']}/transitions")).json()["items"]
    assert [(h["from_status"], h["to_status"], h["date"], h["forum"]) for h in history] == [
        ("draft", "agreed", "2025-07-10", "musrenbang_desa"),
        ("agreed", "in_rkp_desa", "2025-09-18", "musdes"),
    ]
    assert history[0]["document_ref"] == "BA Musrenbang Desa No. 140/12/VII/2025"
    assert history[0]["note"] == "Prioritas 1 Musrenbang Desa"
    assert history[0]["actor_id"] and history[0]["actor_id"] == history[1]["actor_id"]
    # The generic status trail and the audit trail have the move too (never the note).
    rows = await raw_db.fetch(
        "SELECT to_status FROM status_transitions WHERE resource_id = $1 ORDER BY at",
        uuid.UUID(p["id"]),
    )
    assert [r["to_status"] for r in rows] == ["agreed", "in_rkp_desa"]
    notes = await raw_db.fetch(
        "SELECT note FROM audit_events WHERE resource_id = $1 AND action = 'transition'",
        uuid.UUID(p["id"]),
    )
    assert sorted(n["note"] for n in notes) == ["agreed->in_rkp_desa", "draft->agreed"]


@pytest.mark.parametrize("status", OPEN)
async def test_rejection_needs_a_note_from_every_open_state(
    admin: httpx.AsyncClient, world: World, status: str
) -> None:
    p = await make_proposal(admin, world.community["id"])
    await walk(admin, p["id"], status)
    for note in (None, "   "):
        body = {"to": "rejected", "date": "2025-09-20"}
        if note is not None:
            body["note"] = note
        r = await admin.post(f"{PROPOSALS}/{p['id']}/transitions", json=body)
        assert_422_at(r, "body", "note")
    r = await move(admin, p["id"], "rejected", note="Di luar kewenangan desa")
    assert r.status_code == 200 and r.json()["status"] == "rejected"


async def test_budget_steps_need_funding(admin: httpx.AsyncClient, world: World) -> None:
    p = await make_proposal(admin, world.community["id"])
    await walk(admin, p["id"], "in_rkp_desa")
    assert_problem(await move(admin, p["id"], "in_apbdes"), 409)
    line = await add_funding(admin, p["id"])
    assert (await move(admin, p["id"], "in_apbdes")).status_code == 200
    assert_problem(await move(admin, p["id"], "realised"), 409)
    await admin.patch(
        f"{PROPOSALS}/{p['id']}/funding/{line['id']}", json={"realised_amount": 100_000_000}
    )
    r = await move(admin, p["id"], "realised")
    assert r.status_code == 200 and r.json()["funding_realised_amount"] == 100_000_000
    # A closed proposal no longer changes.
    assert_problem(await admin.patch(f"{PROPOSALS}/{p['id']}", json={"title": "x"}), 409)


async def test_dates_of_decisions(admin: httpx.AsyncClient, world: World) -> None:
    p = await make_proposal(admin, world.community["id"])
    future = (datetime.now(UTC).date() + timedelta(days=3)).isoformat()
    assert_422_at(await move(admin, p["id"], "agreed", date=future), "body", "date")
    assert_422_at(await move(admin, p["id"], "agreed", date="2025-13-01"), "body", "date")
    assert (await move(admin, p["id"], "agreed", date="2025-07-10")).status_code == 200
    # Not before the previous decision.
    assert_422_at(await move(admin, p["id"], "in_rkp_desa", date="2025-07-09"), "body", "date")
    assert (await move(admin, p["id"], "in_rkp_desa", date="2025-07-10")).status_code == 200
    r = await admin.post(f"{PROPOSALS}/{p['id']}/transitions", json={"to": "deferred"})
    assert_422_at(r, "body", "date")
    assert_422_at(await move(admin, p["id"], "nowhere"), "body", "to")


async def test_stale_if_match_changes_nothing(admin: httpx.AsyncClient, world: World) -> None:
    p = await make_proposal(admin, world.community["id"])
    r = await admin.post(
        f"{PROPOSALS}/{p['id']}/transitions",
        json={"to": "agreed", "date": "2025-07-10"},
        headers={"If-Match": '"5"'},
    )
    assert_problem(r, 412)
    assert (await admin.get(f"{PROPOSALS}/{p['id']}")).json()["status"] == "draft"


async def test_carry_over_makes_next_years_linked_draft_once(
    admin: httpx.AsyncClient, world: World
) -> None:
    cid = world.community["id"]
    p = await make_proposal(admin, cid, finding_ids=[world.findings["A"]], location="RT 03")
    url = f"{PROPOSALS}/{p['id']}"
    assert_problem(await admin.post(f"{url}/carry-over"), 409)  # a draft is not deferred
    await walk(admin, p["id"], "deferred")
    r = await admin.post(f"{url}/carry-over")
    assert r.status_code == 200, r.text
    draft = r.json()
    assert r.headers["Location"] == f"{PROPOSALS}/{draft['id']}"
    assert draft["status"] == "draft" and draft["planning_year"] == 2027
    assert draft["carried_over_from_id"] == p["id"]
    assert draft["finding_ids"] == [world.findings["A"]] and draft["location"] == "RT 03"
    assert draft["funding_planned_amount"] == 0
    assert (await admin.get(url)).json()["carried_over_to_id"] == draft["id"]
    problem = assert_problem(await admin.post(f"{url}/carry-over"), 409)
    assert draft["id"] in problem["detail"]
    assert len((await admin.get(PROPOSALS, params={"planning_year": 2027})).json()["items"]) == 1


async def test_events_are_recorded_for_status_and_funding(
    admin: httpx.AsyncClient, world: World, raw_db: Any
) -> None:
    p = await make_proposal(admin, world.community["id"])
    await walk(admin, p["id"], "in_apbdes")
    rows = await raw_db.fetch(
        "SELECT type, data FROM events WHERE data->>'id' = $1 ORDER BY seq", p["id"]
    )
    types = [r["type"] for r in rows]
    assert types.count("planning_proposal.status_changed") == 3
    assert types.count("planning_proposal.funded") == 1
    assert all("note" not in r["data"] for r in rows)
