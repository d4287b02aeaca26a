"""Programs: the lifecycle and who may move it, role rules on every sub-resource, code
generation under concurrency, scoping, filters, paging, ETags, soft delete and audit."""

from __future__ import annotations

import asyncio
import re
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from app.auth.models import Role
from app.programs.models import PROGRAM_MACHINE
from tests.factories import (
    HONOR,
    INDICATOR,
    PROGRAM_PATH_TO,
    PROGRAMS,
    AsUser,
    MakeCommunity,
    MakeUser,
    activity_body,
    activity_writes,
    budget_line_writes,
    indicator_writes,
    make_program,
    make_program_parts,
    measurement_writes,
    move,
    move_ok,
    post,
)
from tests.helpers import audit_events, collect, named

BASE = PROGRAMS

ALL_STATUSES = ["draft", "submitted", "approved", "active", "completed", "cancelled"]


# --- lifecycle ----------------------------------------------------------------------------------


async def test_full_lifecycle_and_history_in_order(world: Any) -> None:
    pid = world.pid
    assert world.program["status"] == "draft"
    etag = None
    for to in ["submitted", "approved", "active", "completed"]:
        r = await move(world.coord, BASE, pid, to, note=f"ke {to}")
        assert r.status_code == 200, r.text
        assert r.json()["status"] == to
        assert r.headers["etag"] != etag
        etag = r.headers["etag"]
    got = await world.coord.get(f"{BASE}/{pid}")
    assert got.json()["status"] == "completed"

    history = await world.coord.get(f"{BASE}/{pid}/transitions")
    assert history.status_code == 200, history.text
    rows = history.json()
    assert [(h["from_status"], h["to_status"]) for h in rows] == [
        ("draft", "submitted"),
        ("submitted", "approved"),
        ("approved", "active"),
        ("active", "completed"),
    ]
    assert all(h["actor_id"] == str(world.coordinator_user.id) for h in rows)
    assert [h["note"] for h in rows] == ["ke submitted", "ke approved", "ke active", "ke completed"]
    times = [datetime.fromisoformat(h["at"]) for h in rows]
    assert times == sorted(times)
    # Readable by those who see the program (the facilitator of a program community).
    assert (await world.fac_a.get(f"{BASE}/{pid}/transitions")).json() == rows


async def test_rejection_needs_a_note(world: Any) -> None:
    pid = world.pid
    await move_ok(world.coord, BASE, pid, "submitted")
    missing = await move(world.coord, BASE, pid, "draft")
    assert missing.status_code == 422, missing.text
    assert named(missing, "note")
    blank = await move(world.coord, BASE, pid, "draft", note="   ")
    assert blank.status_code == 422, blank.text
    assert (await world.coord.get(f"{BASE}/{pid}")).json()["status"] == "submitted"

    ok = await move(world.coord, BASE, pid, "draft", note="Anggaran belum rinci")
    assert ok.status_code == 200, ok.text
    assert ok.json()["status"] == "draft"
    rows = (await world.coord.get(f"{BASE}/{pid}/transitions")).json()
    assert rows[-1]["from_status"] == "submitted"
    assert rows[-1]["to_status"] == "draft"
    assert rows[-1]["note"] == "Anggaran belum rinci"
    # Resubmitting after a rejection works.
    assert (await move(world.coord, BASE, pid, "submitted")).status_code == 200


@pytest.mark.parametrize("state", ["draft", "submitted", "approved", "active"])
async def test_cancel_from_every_open_state(world: Any, state: str) -> None:
    await move_ok(world.coord, BASE, world.pid, *PROGRAM_PATH_TO[state])
    r = await move(world.coord, BASE, world.pid, "cancelled", note="Dana tidak turun")
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "cancelled"


async def test_every_illegal_move_is_409_naming_the_allowed_moves(
    world: Any, make_community: MakeCommunity
) -> None:
    for state in ALL_STATUSES:
        program = await make_program(world.coord, [world.a["id"]])
        await move_ok(world.coord, BASE, program["id"], *PROGRAM_PATH_TO[state])
        for target in ALL_STATUSES:
            if target in PROGRAM_MACHINE[state]:
                continue
            r = await move(world.coord, BASE, program["id"], target, note="x")
            assert r.status_code == 409, (state, target, r.text)
            assert r.headers["content-type"].startswith("application/problem+json")
            assert r.json()["allowed"] == sorted(PROGRAM_MACHINE[state]), (state, target)
        assert (await world.coord.get(f"{BASE}/{program['id']}")).json()["status"] == state
    unknown = await move(world.coord, BASE, world.pid, "archived")
    assert unknown.status_code == 422
    assert named(unknown, "to")


async def test_status_is_only_changed_through_transitions(world: Any) -> None:
    r = await world.coord.patch(f"{BASE}/{world.pid}", json={"status": "approved"})
    assert r.status_code == 422
    r = await world.coord.post(
        BASE, json={"title": "X", "community_ids": [world.a["id"]], "status": "active"}
    )
    assert r.status_code == 422


# --- roles --------------------------------------------------------------------------------------


async def test_only_coordinator_or_admin_move_programs(
    world: Any, admin: httpx.AsyncClient, analyst: httpx.AsyncClient
) -> None:
    pid = world.pid
    for client in (world.fac_a, analyst):
        for to in ("submitted", "cancelled"):
            r = await move(client, BASE, pid, to)
            assert r.status_code == 403, r.text
    await move_ok(world.coord, BASE, pid, "submitted")
    for client in (world.fac_a, analyst):
        for to in ("approved", "draft", "cancelled"):
            r = await move(client, BASE, pid, to, note="tidak")
            assert r.status_code == 403, (to, r.text)
    assert (await world.coord.get(f"{BASE}/{pid}")).json()["status"] == "submitted"
    r = await move(admin, BASE, pid, "approved")
    assert r.status_code == 200, r.text
    # A coordinator approves too.
    other = await make_program(admin, [world.a["id"]])
    await move_ok(admin, BASE, other["id"], "submitted")
    assert (await move(world.coord, BASE, other["id"], "approved")).status_code == 200


async def test_analyst_is_refused_every_write(
    world: Any, analyst: httpx.AsyncClient, admin: httpx.AsyncClient
) -> None:
    pid = world.pid
    activity, indicator, measurement, line, murl = await make_program_parts(
        world.coord, pid, world.a["id"]
    )
    # Reads are fine.
    assert (await analyst.get(f"{BASE}/{pid}")).status_code == 200
    assert (await analyst.get(f"{BASE}/{pid}/activities")).status_code == 200
    writes = [
        ("POST", BASE, {"title": "X", "community_ids": [world.a["id"]]}),
        ("PATCH", f"{BASE}/{pid}", {"title": "Y"}),
        ("DELETE", f"{BASE}/{pid}", None),
        ("POST", f"{BASE}/{pid}/transitions", {"to": "submitted"}),
        *activity_writes(pid, world.a["id"], activity["id"], {"title": "Y"}),
        *indicator_writes(pid, indicator["id"]),
        *measurement_writes(murl, measurement["id"]),
        *budget_line_writes(pid, line["id"]),
        ("POST", f"{BASE}/{pid}/restore", None),
    ]
    for method, url, body in writes:
        r = await analyst.request(method, url, json=body)
        assert r.status_code == 403, (method, url, r.status_code, r.text)
    after = (await admin.get(f"{BASE}/{pid}")).json()
    assert after["title"] == world.program["title"]
    assert after["status"] == "draft"
    assert after["budget_amount"] == 2000


async def test_facilitator_runs_activities_and_measurements_only(world: Any) -> None:
    pid, fac = world.pid, world.fac_a
    indicator = await post(world.coord, f"{BASE}/{pid}/indicators", INDICATOR)
    line = await post(world.coord, f"{BASE}/{pid}/budget-lines", HONOR)
    refused = [
        ("POST", BASE, {"title": "X", "community_ids": [world.a["id"]]}),
        ("PATCH", f"{BASE}/{pid}", {"title": "Y"}),
        ("DELETE", f"{BASE}/{pid}", None),
        *indicator_writes(pid, indicator["id"]),
        *budget_line_writes(pid, line["id"]),
    ]
    for method, url, body in refused:
        r = await fac.request(method, url, json=body)
        assert r.status_code == 403, (method, url, r.status_code, r.text)

    # Activities in its own community: create, patch, delete.
    activity = await post(fac, f"{BASE}/{pid}/activities", activity_body(world.a["id"]))
    assert activity["community_id"] == world.a["id"]
    r = await fac.patch(f"{BASE}/{pid}/activities/{activity['id']}", json={"status": "done"})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "done"
    # Measurements: create and patch.
    murl = f"{BASE}/{pid}/indicators/{indicator['id']}/measurements"
    measurement = await post(fac, murl, {"measured_on": "2025-02-01", "value": 12, "note": "RT 1"})
    r = await fac.patch(f"{murl}/{measurement['id']}", json={"value": 15})
    assert r.status_code == 200, r.text
    assert r.json()["value"] == 15

    # Community b belongs to the program but is not assigned to this facilitator.
    r = await fac.post(f"{BASE}/{pid}/activities", json=activity_body(world.b["id"]))
    assert r.status_code == 403, r.text
    theirs = await post(world.coord, f"{BASE}/{pid}/activities", activity_body(world.b["id"]))
    r = await fac.patch(f"{BASE}/{pid}/activities/{theirs['id']}", json={"title": "Diubah"})
    assert r.status_code == 403, r.text
    r = await fac.delete(f"{BASE}/{pid}/activities/{theirs['id']}")
    assert r.status_code == 403, r.text
    # Nor may it move its own activity into that community.
    r = await fac.patch(
        f"{BASE}/{pid}/activities/{activity['id']}", json={"community_id": world.b["id"]}
    )
    assert r.status_code == 403, r.text
    assert (await fac.delete(f"{BASE}/{pid}/activities/{activity['id']}")).status_code == 204


# --- codes ----------------------------------------------------------------------------------------


async def test_concurrent_creates_get_distinct_consecutive_codes(world: Any) -> None:
    year = datetime.now(UTC).year
    responses = await asyncio.gather(
        *(
            world.coord.post(BASE, json={"title": f"Program {i}", "community_ids": [world.a["id"]]})
            for i in range(20)
        )
    )
    assert all(r.status_code == 201 for r in responses), [r.text for r in responses]
    codes = [r.json()["code"] for r in responses]
    assert len(set(codes)) == 20
    pattern = re.compile(rf"^PRG-{year}-(\d{{4}})$")
    numbers = sorted(int(m.group(1)) for c in codes if (m := pattern.match(c)))
    assert len(numbers) == 20, codes
    # The world's program took the first number.
    assert world.program["code"] == f"PRG-{year}-0001"
    assert numbers == list(range(2, 22))


async def test_hand_given_codes(world: Any) -> None:
    year = datetime.now(UTC).year
    hand = await make_program(world.coord, [world.a["id"]], code="KAB-BDG/2025.01")
    assert hand["code"] == "KAB-BDG/2025.01"
    for duplicate in ("KAB-BDG/2025.01", "kab-bdg/2025.01", world.program["code"]):
        r = await world.coord.post(
            BASE, json={"title": "Dup", "community_ids": [world.a["id"]], "code": duplicate}
        )
        assert r.status_code == 409, (duplicate, r.text)
    # A number taken by hand is skipped by the generator.
    taken = await make_program(world.coord, [world.a["id"]], code=f"PRG-{year}-0002")
    assert taken["code"] == f"PRG-{year}-0002"
    generated = await make_program(world.coord, [world.a["id"]])
    assert generated["code"] == f"PRG-{year}-0003"
    # A lower-case hand-given code takes the number too (codes are unique ignoring case).
    await make_program(world.coord, [world.a["id"]], code=f"prg-{year}-0004")
    generated = await make_program(world.coord, [world.a["id"]])
    assert generated["code"] == f"PRG-{year}-0005"
    # Code cannot be changed by PATCH (not in the update schema).
    r = await world.coord.patch(f"{BASE}/{world.pid}", json={"code": "NEW"})
    assert r.status_code == 422


async def test_concurrent_duplicate_hand_given_codes_are_409_not_500(world: Any) -> None:
    responses = await asyncio.gather(
        *(
            world.coord.post(
                BASE,
                json={"title": f"Dup {i}", "community_ids": [world.a["id"]], "code": "DUP-01"},
            )
            for i in range(6)
        )
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201, 409, 409, 409, 409, 409], [r.text for r in responses]
    listed = (await world.coord.get(BASE, params={"q": "DUP-01"})).json()["items"]
    assert [p["code"] for p in listed] == ["DUP-01"]


# --- scoping -----------------------------------------------------------------------------------


async def test_other_facilitator_sees_nothing_of_the_program(world: Any) -> None:
    pid, coord = world.pid, world.coord
    activity, indicator, measurement, line, murl = await make_program_parts(
        coord, pid, world.a["id"]
    )
    await move_ok(coord, BASE, pid, "submitted")
    reads = [
        f"{BASE}/{pid}",
        f"{BASE}/{pid}/activities",
        f"{BASE}/{pid}/activities/{activity['id']}",
        f"{BASE}/{pid}/indicators",
        f"{BASE}/{pid}/indicators/{indicator['id']}",
        murl,
        f"{murl}/{measurement['id']}",
        f"{BASE}/{pid}/budget-lines",
        f"{BASE}/{pid}/budget-lines/{line['id']}",
        f"{BASE}/{pid}/transitions",
        f"{BASE}/{pid}/terms-of-reference",
    ]
    for url in reads:
        r = await world.fac_other.get(url)
        assert r.status_code == 404, (url, r.status_code)
        assert (await world.fac_a.get(url)).status_code == 200, url
    r = await world.fac_other.post(f"{BASE}/{pid}/transitions", json={"to": "approved"})
    assert r.status_code == 404
    r = await world.fac_other.post(murl, json={"measured_on": "2025-03-01", "value": 1})
    assert r.status_code == 404
    r = await world.fac_other.patch(
        f"{BASE}/{pid}/activities/{activity['id']}", json={"title": "Y"}
    )
    assert r.status_code == 404
    listed = await world.fac_other.get(BASE)
    assert listed.status_code == 200
    assert pid not in [p["id"] for p in listed.json()["items"]]
    assert pid in [p["id"] for p in (await world.fac_a.get(BASE)).json()["items"]]
    # Sub-resources addressed through the wrong program are not found either.
    other_program = await make_program(coord, [world.a["id"]])
    r = await coord.get(f"{BASE}/{other_program['id']}/activities/{activity['id']}")
    assert r.status_code == 404


async def test_partner_without_partnership_sees_no_programs(
    world: Any, make_user: MakeUser, as_user: AsUser
) -> None:
    partner = as_user(await make_user("partner"))
    r = await partner.get(BASE)
    assert r.status_code == 200, r.text
    assert r.json()["items"] == []
    for url in (
        f"{BASE}/{world.pid}",
        f"{BASE}/{world.pid}/activities",
        f"{BASE}/{world.pid}/terms-of-reference",
    ):
        assert (await partner.get(url)).status_code == 404, url
    r = await partner.post(BASE, json={"title": "X", "community_ids": [world.a["id"]]})
    assert r.status_code == 403


# --- filters and paging ------------------------------------------------------------------------


async def test_list_filters(world: Any, make_user: MakeUser, admin: httpx.AsyncClient) -> None:
    coord = world.coord
    other_coordinator = await make_user(Role.coordinator)
    p_other = await make_program(
        coord,
        [world.other["id"]],
        title="Jalan Usaha Tani",
        start_date="2026-01-01",
        end_date="2026-06-30",
        coordinator_id=str(other_coordinator.id),
    )
    p_open = await make_program(coord, [world.b["id"]], title="Posyandu Remaja")
    await move_ok(coord, BASE, p_open["id"], "submitted")

    async def ids(**params: Any) -> set[str]:
        r = await coord.get(BASE, params=params)
        assert r.status_code == 200, r.text
        return {p["id"] for p in r.json()["items"]}

    everything = {world.pid, p_other["id"], p_open["id"]}
    assert await ids() == everything
    assert await ids(status="submitted") == {p_open["id"]}
    assert await ids(status="draft") == {world.pid, p_other["id"]}
    assert await ids(community_id=world.b["id"]) == {world.pid, p_open["id"]}
    assert await ids(community_id=world.other["id"]) == {p_other["id"]}
    assert await ids(region_code="32") == {world.pid, p_open["id"]}
    assert await ids(region_code="32.04.12") == {world.pid, p_open["id"]}
    assert await ids(region_code="33.01") == {p_other["id"]}
    assert await ids(region_code="34") == set()
    assert await ids(coordinator_id=str(world.coordinator_user.id)) == {world.pid}
    assert await ids(coordinator_id=str(other_coordinator.id)) == {p_other["id"]}
    assert await ids(q="posyandu") == {p_open["id"]}
    assert await ids(q=world.program["code"]) == {world.pid}
    assert await ids(active_on="2025-06-01") == {world.pid, p_open["id"]}
    assert await ids(active_on="2026-03-01") == {p_other["id"], p_open["id"]}
    assert await ids(active_on="2027-01-01") == {p_open["id"]}
    for bad in (
        {"status": "archived"},
        {"region_code": "x"},
        {"active_on": "kemarin"},
        {"limit": 501},
        {"sort": "budget"},
    ):
        r = await coord.get(BASE, params=bad)
        assert r.status_code == 422, (bad, r.text)

    # coordinator_id must name a coordinator or admin.
    facilitator = await make_user(Role.facilitator)
    for who in (facilitator.id, uuid.uuid4()):
        r = await coord.post(
            BASE,
            json={"title": "X", "community_ids": [world.a["id"]], "coordinator_id": str(who)},
        )
        assert r.status_code == 422, r.text
        assert named(r, "coordinator_id")
        r = await coord.patch(f"{BASE}/{world.pid}", json={"coordinator_id": str(who)})
        assert r.status_code == 422, r.text
        assert named(r, "coordinator_id")
    admin_user = await make_user(Role.admin)
    r = await coord.patch(f"{BASE}/{world.pid}", json={"coordinator_id": str(admin_user.id)})
    assert r.status_code == 200, r.text
    assert r.json()["coordinator_id"] == str(admin_user.id)


async def test_keyset_pagination_of_programs_and_activities(world: Any) -> None:
    coord = world.coord
    for i in range(6):
        await make_program(coord, [world.a["id"]], title=f"Program {i:02d}")
    all_ids, pages = await collect(coord, BASE, {"limit": 2})
    assert len(all_ids) == 7
    assert len(set(all_ids)) == 7
    assert pages == 4
    titles_desc, _ = await collect(coord, BASE, {"limit": 3, "sort": "-title"})
    listing = (await coord.get(BASE, params={"limit": 500, "sort": "-title"})).json()["items"]
    assert titles_desc == [p["id"] for p in listing]
    assert [p["title"] for p in listing] == sorted((p["title"] for p in listing), reverse=True)

    first = await coord.get(BASE, params={"limit": 2})
    cursor = first.json()["next_cursor"]
    # Rows inserted meanwhile do not disturb the pages already walked.
    await make_program(coord, [world.a["id"]], title="Sisipan")
    rest, _ = await collect(coord, BASE, {"limit": 2, "cursor": cursor})
    assert not set(rest) & {p["id"] for p in first.json()["items"]}
    r = await coord.get(BASE, params={"limit": 2, "cursor": cursor, "status": "draft"})
    assert r.status_code == 422

    url = f"{BASE}/{world.pid}/activities"
    created = []
    for i in range(5):
        created.append(
            (
                await post(
                    coord,
                    url,
                    activity_body(
                        world.a["id"] if i % 2 else world.b["id"],
                        title=f"Kegiatan {i}",
                        scheduled_start=f"2025-0{5 - i}-01T09:00:00+07:00",
                        scheduled_end=None,
                    ),
                )
            )["id"]
        )
    ids, pages = await collect(coord, url, {"limit": 2})
    assert ids == created
    assert pages == 3
    by_start, _ = await collect(coord, url, {"limit": 2, "sort": "scheduled_start"})
    assert by_start == list(reversed(created))
    only_a, _ = await collect(coord, url, {"limit": 1, "community_id": world.a["id"]})
    assert only_a == [created[1], created[3]]
    page = (await coord.get(url, params={"limit": 2})).json()
    r = await coord.get(
        url, params={"limit": 2, "cursor": page["next_cursor"], "community_id": world.a["id"]}
    )
    assert r.status_code == 422


# --- concurrency, deletes, audit ----------------------------------------------------------------


async def test_etags_and_if_match(world: Any) -> None:
    url = f"{BASE}/{world.pid}"
    got = await world.coord.get(url)
    etag = got.headers["etag"]
    assert (await world.coord.get(url, headers={"If-None-Match": etag})).status_code == 304
    r = await world.coord.patch(url, json={"title": "Baru"}, headers={"If-Match": '"999"'})
    assert r.status_code == 412, r.text
    r = await world.coord.patch(url, json={"title": "Baru"}, headers={"If-Match": etag})
    assert r.status_code == 200, r.text
    new_etag = r.headers["etag"]
    assert new_etag != etag
    # The old ETag is now stale for transitions too.
    r = await move(world.coord, BASE, world.pid, "submitted", headers={"If-Match": etag})
    assert r.status_code == 412, r.text
    assert (await world.coord.get(url)).json()["status"] == "draft"
    r = await move(world.coord, BASE, world.pid, "submitted", headers={"If-Match": new_etag})
    assert r.status_code == 200, r.text
    r = await world.coord.patch(url, json={"title": "Lagi"}, headers={"If-Match": new_etag})
    assert r.status_code == 412


async def test_soft_delete_and_admin_restore(
    world: Any, admin: httpx.AsyncClient, raw_db: Any
) -> None:
    pid = world.pid
    await post(world.coord, f"{BASE}/{pid}/activities", activity_body(world.a["id"]))
    assert (await world.coord.delete(f"{BASE}/{pid}")).status_code == 204
    assert (await world.coord.get(f"{BASE}/{pid}")).status_code == 404
    assert (await world.coord.get(f"{BASE}/{pid}/activities")).status_code == 404
    assert (await world.fac_a.get(f"{BASE}/{pid}")).status_code == 404
    assert pid not in [p["id"] for p in (await world.coord.get(BASE)).json()["items"]]
    row = await raw_db.fetchrow("SELECT deleted_at FROM programs WHERE id = $1", uuid.UUID(pid))
    assert row["deleted_at"] is not None
    assert (await world.coord.post(f"{BASE}/{pid}/restore")).status_code == 403
    r = await admin.post(f"{BASE}/{pid}/restore")
    assert r.status_code == 200, r.text
    assert r.json()["code"] == world.program["code"]
    assert (await world.coord.get(f"{BASE}/{pid}")).status_code == 200
    assert len((await world.coord.get(f"{BASE}/{pid}/activities")).json()["items"]) == 1
    events = await audit_events(admin, "programs", pid)
    assert {"create", "delete", "restore"} <= {e["action"] for e in events}


async def test_audit_events_for_create_links_and_transitions(
    world: Any, admin: httpx.AsyncClient
) -> None:
    pid = world.pid
    r = await world.coord.patch(
        f"{BASE}/{pid}", json={"community_ids": [world.a["id"]], "title": "Judul baru"}
    )
    assert r.status_code == 200, r.text
    # The same links again are no change.
    r = await world.coord.patch(f"{BASE}/{pid}", json={"community_ids": [world.a["id"]]})
    assert r.status_code == 200
    await move_ok(world.coord, BASE, pid, "submitted")
    events = await audit_events(admin, "programs", pid)
    by_action: dict[str, list[dict[str, Any]]] = {}
    for e in events:
        by_action.setdefault(e["action"], []).append(e)
    assert len(by_action["create"]) == 1
    create = by_action["create"][0]
    assert create["actor_id"] == str(world.coordinator_user.id)
    assert "title" in create["changed_fields"]
    assert len(by_action["update"]) == 1
    assert set(by_action["update"][0]["changed_fields"]) == {"community_ids", "title"}
    assert len(by_action["transition"]) == 1
    assert by_action["transition"][0]["changed_fields"] == ["status"]
    assert by_action["transition"][0]["note"] == "draft->submitted"
