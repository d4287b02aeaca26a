"""Field sync end to end (API.md §6): a device offline while the server changes too, every
conflict case, scope and unassignment, replayed and killed pushes, a late commit, 410."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from typing import Any

import httpx

from app.auth.models import Role
from app.core.models import uuid7
from app.sync.service import purge
from tests.factories import (
    ASSESSMENTS,
    COMMUNITIES,
    PEOPLE,
    PROGRAMS,
    YEAR_2025,
    activity_body,
    add_finding,
    create_assessment,
    make_indicator,
    make_person,
    make_program,
    post,
)
from tests.sync.conftest import SYNC, Device, server_state

PURPOSES = ["needs_assessment", "program_participation"]


def new_person(community_id: str, name: str, **extra: Any) -> dict[str, Any]:
    return {
        "community_id": community_id,
        "full_name": name,
        "sex": "female",
        "consent_purposes": PURPOSES,
        **extra,
    }


def upsert(
    resource: str, row_id: Any, data: dict[str, Any], base: int | None = None
) -> dict[str, Any]:
    mutation: dict[str, Any] = {
        "mutation_id": f"m-{uuid.uuid4().hex[:12]}",
        "resource": resource,
        "id": str(row_id),
        "op": "upsert",
        "data": data,
    }
    if base is not None:
        mutation["base_version"] = base
    return mutation


def delete(resource: str, row_id: Any, base: int | None = None) -> dict[str, Any]:
    mutation: dict[str, Any] = {
        "mutation_id": f"m-{uuid.uuid4().hex[:12]}",
        "resource": resource,
        "id": str(row_id),
        "op": "delete",
    }
    if base is not None:
        mutation["base_version"] = base
    return mutation


async def field_world(admin: httpx.AsyncClient, facilitator: httpx.AsyncClient, cid: str) -> dict:
    """An assessment with two findings, a program with an activity and an indicator."""
    assessment = await create_assessment(facilitator, cid)
    f1 = await add_finding(facilitator, assessment["id"], title="Air bersih sulit", severity=4)
    f2 = await add_finding(facilitator, assessment["id"], kind="need", title="Bidan desa")
    program = await make_program(admin, [cid], **YEAR_2025)
    activity = await post(facilitator, f"{PROGRAMS}/{program['id']}/activities", activity_body(cid))
    indicator = await make_indicator(admin, program["id"])
    return {
        "assessment": assessment,
        "f1": f1,
        "f2": f2,
        "program": program,
        "activity": activity,
        "indicator": indicator,
    }


async def test_offline_device_pushes_and_pulls_to_the_server_state(
    admin: httpx.AsyncClient,
    facilitator: httpx.AsyncClient,
    community: dict[str, Any],
    raw_db: Any,
) -> None:
    cid = community["id"]
    world = await field_world(admin, facilitator, cid)
    leaving = await make_person(facilitator, cid, name="Komang Ayu")
    device = Device(facilitator)
    await device.pull(limit=3)  # small pages: the first sync spans many
    assert world["f1"]["id"] in device.of("findings")
    assert leaving["id"] in device.of("people")

    # Offline on the device: two people, their participation, a ballot, a finding edited.
    p1, p2 = uuid7(), uuid7()
    aid, f1 = world["assessment"]["id"], world["f1"]
    edited_f1 = {k: f1[k] for k in ("kind", "category", "severity")} | {
        "title": "Air bersih sulit di musim kemarau",
        "assessment_id": aid,
    }
    mutations = [
        upsert("people", p1, new_person(cid, "Ni Luh Ketut Sari", nik="3204124506850003")),
        upsert("people", p2, new_person(cid, "Made Wirawan", sex="male")),
        upsert(
            "participation_records",
            uuid7(),
            {
                "person_id": str(p1),
                "assessment_id": aid,
                "date": "2026-11-20",
                "level": "consult",
                "role": "beneficiary",
            },
        ),
        upsert(
            "participation_records",
            uuid7(),
            {
                "person_id": str(p2),
                "activity_id": world["activity"]["id"],
                "date": "2025-03-01",
                "level": "involve",
                "role": "volunteer",
                "hours": 3,
            },
        ),
        upsert(
            "ballots",
            uuid7(),
            {"assessment_id": aid, "person_id": str(p1), "ranking": [f1["id"], world["f2"]["id"]]},
        ),
        upsert("findings", f1["id"], edited_f1, base=device.versions[("findings", f1["id"])]),
        upsert(
            "measurements",
            uuid7(),
            {
                "program_id": world["program"]["id"],
                "indicator_id": world["indicator"]["id"],
                "measured_on": "2025-06-30",
                "value": 35,
            },
        ),
    ]
    # Meanwhile on the server: a new person, another finding edited, a person deleted.
    server_person = await make_person(admin, cid, name="Wayan Sudiarta")
    r = await admin.patch(f"{ASSESSMENTS}/{aid}/findings/{world['f2']['id']}", json={"severity": 5})
    assert r.status_code == 200
    assert (await admin.delete(f"{PEOPLE}/{leaving['id']}")).status_code == 204

    results = await device.push(mutations)
    assert [r["status"] for r in results] == ["applied"] * len(mutations), results
    assert results[0]["id"] == str(p1) and results[0]["version"] == 1
    await device.pull()
    server = await server_state(facilitator)
    assert device.rows == server.rows
    assert device.versions == server.versions
    people_now = device.of("people")
    assert str(p1) in people_now and server_person["id"] in people_now
    assert leaving["id"] not in people_now
    assert people_now[str(p1)]["nik"] == "************0003"
    assert people_now[str(p1)]["participation_count"] == 1
    assert device.of("findings")[f1["id"]]["title"] == "Air bersih sulit di musim kemarau"
    assert device.of("findings")[world["f2"]["id"]]["severity"] == 5
    assert len(device.of("participation_records")) == 2
    assert len(device.of("ballots")) == 1
    assert len(device.of("measurements")) == 1
    # Exactly what GET answers the facilitator.
    r = await facilitator.get(f"{PEOPLE}/{p1}")
    assert r.json() == people_now[str(p1)]
    # The NIK is never on the device in clear.
    assert "3204124506850003" not in str(device.rows)
    # Everything the device wrote went through the rules and the audit.
    audited = await raw_db.fetchval(
        "SELECT count(*) FROM audit_events WHERE resource_id = $1 AND action = 'create'", p1
    )
    assert audited == 1


async def test_conflicts_and_rejections_never_stop_the_others(
    admin: httpx.AsyncClient,
    facilitator: httpx.AsyncClient,
    community: dict[str, Any],
    other_community: dict[str, Any],
    raw_db: Any,
) -> None:
    cid = community["id"]
    world = await field_world(admin, facilitator, cid)
    aid, f1 = world["assessment"]["id"], world["f1"]
    device = Device(facilitator)
    await device.pull()
    base = device.versions[("findings", f1["id"])]
    # The server changes the finding after the device read it.
    r = await admin.patch(
        f"{ASSESSMENTS}/{aid}/findings/{f1['id']}", json={"title": "Judul dari kantor"}
    )
    assert r.status_code == 200
    stranger = await make_person(admin, other_community["id"], name="Orang Lain")
    no_consent = await make_person(facilitator, cid, name="Tanpa Izin", purposes=())
    taken = uuid7()
    r = await facilitator.put(
        f"{PEOPLE}/{taken}", json=new_person(cid, "Putu Eka"), headers={"If-None-Match": "*"}
    )
    assert r.status_code == 201
    p_new = uuid7()
    edit = {"kind": "problem", "category": "health", "title": "Judul dari HP", "assessment_id": aid}
    mutations = [
        # 0 stale replace: conflict with the server's row
        upsert("findings", f1["id"], edit, base=base),
        # 1 the same id with another body: conflict
        upsert("people", taken, new_person(cid, "Bukan Putu")),
        # 2 the same id with the same body: applied, nothing new
        upsert("people", taken, new_person(cid, "Putu Eka")),
        # 3 a community outside the facilitator's scope: rejected
        upsert("people", uuid7(), new_person(other_community["id"], "Di Luar")),
        # 4 invalid data: rejected, naming the field
        upsert("people", uuid7(), new_person(cid, "Salah", sex="unknown")),
        # 5 no consent: rejected
        upsert(
            "participation_records",
            uuid7(),
            {
                "person_id": no_consent["id"],
                "assessment_id": aid,
                "date": "2026-11-20",
                "level": "inform",
                "role": "beneficiary",
            },
        ),
        # 6 a stale delete: conflict
        delete("findings", f1["id"], base=base),
        # 7 deleting someone outside the scope: rejected (not found)
        delete("people", stranger["id"]),
        # 8 still applied after all of the above, then used by 9
        upsert("people", p_new, new_person(cid, "Ketut Arya")),
        upsert(
            "participation_records",
            uuid7(),
            {
                "person_id": str(p_new),
                "assessment_id": aid,
                "date": "2026-11-21",
                "level": "empower",
                "role": "decision_maker",
            },
        ),
        # 10 replace without base_version on an existing row: conflict
        upsert("people", p_new, new_person(cid, "Ketut Arya Baru")),
    ]
    results = await device.push(mutations)
    statuses = [r["status"] for r in results]
    assert statuses == [
        "conflict",
        "conflict",
        "applied",
        "rejected",
        "rejected",
        "rejected",
        "conflict",
        "rejected",
        "applied",
        "applied",
        "conflict",
    ], results
    assert results[0]["current"]["title"] == "Judul dari kantor"
    assert results[0]["version"] == base + 1
    assert results[1]["current"]["full_name"] == "Putu Eka"
    assert results[4]["errors"][0]["loc"][:2] == ["data", "sex"]
    assert results[7]["errors"][0]["type"] == "not-found"
    assert "Orang Lain" not in str(results)
    # Nothing of a conflicting or rejected mutation was applied.
    title = await raw_db.fetchval("SELECT title FROM findings WHERE id = $1", uuid.UUID(f1["id"]))
    assert title == "Judul dari kantor"
    assert (
        await raw_db.fetchval("SELECT deleted_at FROM findings WHERE id = $1", uuid.UUID(f1["id"]))
        is None
    )
    names = {r["full_name"] for r in await raw_db.fetch("SELECT full_name FROM people")}
    assert names == {"Orang Lain", "Tanpa Izin", "Putu Eka", "Ketut Arya"}
    # The device resolves the conflict: it merges onto the server's row and retries.
    merged = edit | {"title": "Judul dari kantor (dicek di lapangan)"}
    results = await device.push([upsert("findings", f1["id"], merged, base=base + 1)])
    assert results[0]["status"] == "applied" and results[0]["version"] == base + 2


async def test_replayed_push_applies_nothing_twice(
    facilitator: httpx.AsyncClient, community: dict[str, Any], raw_db: Any
) -> None:
    device = Device(facilitator)
    person = uuid7()
    mutations = [
        upsert("people", person, new_person(community["id"], "Ni Made Rai")),
        upsert("people", uuid7(), new_person(community["id"], "Gede Putra", sex="male")),
        delete("people", person, base=1),
    ]
    first = await device.push(mutations)
    assert [r["status"] for r in first] == ["applied", "applied", "applied"]
    events = await raw_db.fetchval("SELECT count(*) FROM audit_events")
    again = await device.push(mutations)
    assert [r["status"] for r in again] == ["duplicate"] * 3
    assert [r["first_status"] for r in again] == ["applied"] * 3
    assert [r["id"] for r in again] == [r["id"] for r in first]
    assert [r["version"] for r in again] == [r["version"] for r in first]
    assert await raw_db.fetchval("SELECT count(*) FROM people") == 2
    assert await raw_db.fetchval("SELECT count(*) FROM audit_events") == events
    # Another device may use the same mutation ids: they are the device's own.
    other = Device(facilitator)
    results = await other.push([upsert("people", uuid7(), new_person(community["id"], "Lain"))])
    assert results[0]["status"] == "applied"
    # A mutation id repeated inside one push is a duplicate of the first.
    twice = upsert("people", uuid7(), new_person(community["id"], "Dua Kali"))
    results = await device.push([twice, twice])
    assert [r["status"] for r in results] == ["applied", "duplicate"]


async def test_killed_push_loses_nothing_and_applies_nothing_twice(
    facilitator: httpx.AsyncClient, community: dict[str, Any], raw_db: Any
) -> None:
    cid = community["id"]
    assessment = await create_assessment(facilitator, cid)
    aid = assessment["id"]
    device = Device(facilitator)
    mutations = [
        upsert("people", uuid7(), new_person(cid, "Ni Wayan Sri")),
        upsert("people", uuid7(), new_person(cid, "I Nyoman Darma", sex="male")),
        upsert(
            "findings",
            uuid7(),
            {"assessment_id": aid, "kind": "need", "category": "health", "title": "Posyandu"},
        ),
        upsert("people", uuid7(), new_person(cid, "Ni Kadek Ari")),
    ]
    # Another transaction holds the assessment: the push stops at the finding, midway.
    async with raw_db.acquire() as blocker:
        lock = blocker.transaction()
        await lock.start()
        await blocker.execute(
            "SELECT 1 FROM needs_assessments WHERE id = $1 FOR UPDATE", uuid.UUID(aid)
        )
        task = asyncio.create_task(device.push(mutations))
        for _ in range(100):
            waiting = await raw_db.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND datname = current_database()"
            )
            if waiting:
                break
            await asyncio.sleep(0.05)
        assert waiting, "the push never reached the locked assessment"
        task.cancel()  # the client goes away mid-push
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await lock.rollback()
    await asyncio.sleep(0.2)
    # Nothing was answered, nothing was kept.
    assert await raw_db.fetchval("SELECT count(*) FROM people") == 0
    assert await raw_db.fetchval("SELECT count(*) FROM sync_mutations") == 0
    results = await device.push(mutations)
    assert [r["status"] for r in results] == ["applied"] * 4
    results = await device.push(mutations)
    assert [r["status"] for r in results] == ["duplicate"] * 4
    assert await raw_db.fetchval("SELECT count(*) FROM people") == 3
    assert await raw_db.fetchval("SELECT count(*) FROM findings") == 1


async def test_facilitator_scope_unassignment_and_return(
    admin: httpx.AsyncClient,
    make_user: Any,
    as_user: Any,
    make_community: Any,
) -> None:
    c1, c2, c3 = [await make_community() for _ in range(3)]
    user = await make_user(Role.facilitator, communities=[uuid.UUID(c1["id"]), uuid.UUID(c2["id"])])
    field = as_user(user)
    for c in (c1, c2, c3):
        await make_person(admin, c["id"], name=f"Warga {c['name']}")
        await create_assessment(admin, c["id"])
    shared = await make_program(admin, [c2["id"], c3["id"]], **YEAR_2025)
    only_c3 = await make_program(admin, [c3["id"]], title="Program Desa Lain", **YEAR_2025)
    device = Device(field)
    changes = await device.pull()

    def communities_of(changes: list[dict[str, Any]]) -> set[str]:
        found = set()
        for change in changes:
            data = change.get("data") or {}
            if change["resource"] == "communities":
                found.add(change["id"])
            if "community_id" in data:
                found.add(data["community_id"])
        return found

    assert communities_of(changes) == {c1["id"], c2["id"]}
    assert shared["id"] in device.of("programs")
    assert only_c3["id"] not in device.of("programs")
    # Unassigned from c2: one leave_scope; the device drops c2; c2's changes stop coming.
    r = await admin.delete(f"{COMMUNITIES}/{c2['id']}/facilitators/{user.id}")
    assert r.status_code == 204
    await make_person(admin, c2["id"], name="Baru di Desa Dua")
    await make_person(admin, c3["id"], name="Baru di Desa Tiga")
    changes = await device.pull()
    assert {"resource": "communities", "id": c2["id"], "op": "leave_scope"} in [
        {k: c[k] for k in ("resource", "id", "op")} for c in changes
    ]
    assert communities_of(changes) <= {c2["id"]}  # only the leave_scope itself
    assert all(c["op"] != "upsert" for c in changes)
    assert (await server_state(field)).rows == device.rows
    assert {d["community_id"] for d in device.of("people").values()} == {c1["id"]}
    assert shared["id"] not in device.of("programs")
    # Assigned again: c2's rows come back as upserts, up to date.
    r = await admin.put(f"{COMMUNITIES}/{c2['id']}/facilitators/{user.id}")
    assert r.status_code in (200, 201, 204), r.text
    changes = await device.pull()
    assert communities_of(changes) == {c2["id"]}
    assert {d["community_id"] for d in device.of("people").values()} == {c1["id"], c2["id"]}
    assert shared["id"] in device.of("programs")
    assert (await server_state(field)).rows == device.rows
    # One community at a time.
    narrowed = await server_state(field, community_id=c1["id"])
    assert communities_of(
        [{"resource": k[0], "id": k[1], "data": v} for k, v in narrowed.rows.items()]
    ) == {c1["id"]}


async def test_a_late_commit_is_never_skipped(
    facilitator: httpx.AsyncClient, community: dict[str, Any], raw_db: Any
) -> None:
    cid = community["id"]
    device = Device(facilitator)
    await device.pull()
    late_id = uuid7()
    async with raw_db.acquire() as conn:
        long = conn.transaction()
        await long.start()
        # A long transaction writes first (a smaller position) and commits last.
        await conn.execute(
            "INSERT INTO people (id, community_id, full_name, sex, created_at, updated_at) "
            "VALUES ($1, $2, 'Ni Putu Lambat', 'female', now(), now())",
            late_id,
            uuid.UUID(cid),
        )
        early = await make_person(facilitator, cid, name="I Made Cepat")
        changes = await device.pull()
        # Nothing is handed out past the transaction still running.
        assert changes == []
        await long.commit()
    changes = await device.pull()
    assert {c["id"] for c in changes} == {str(late_id), early["id"]}
    assert str(late_id) in device.of("people")
    assert (await server_state(facilitator)).rows == device.rows


async def test_old_cursor_is_410_sync_reset(
    app: Any, facilitator: httpx.AsyncClient, community: dict[str, Any], raw_db: Any
) -> None:
    device = Device(facilitator)
    await device.pull()
    old = device.cursor
    await make_person(facilitator, community["id"], name="Ni Luh Putu")
    await raw_db.execute("UPDATE sync_changes SET changed_at = now() - interval '200 days'")
    async with app.state.database.sessions() as session:
        dropped, _ = await purge(session, change_days=180, mutation_days=30)
        await session.commit()
    assert dropped >= 1
    r = await facilitator.get(f"{SYNC}/changes", params={"cursor": old})
    assert r.status_code == 410
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["type"].endswith("/sync-reset")
    # Syncing again from the start works.
    assert (await server_state(facilitator)).of("people")


async def test_roles_cursors_and_limits(
    analyst: httpx.AsyncClient,
    partner: httpx.AsyncClient,
    facilitator: httpx.AsyncClient,
    community: dict[str, Any],
    other_community: dict[str, Any],
) -> None:
    for client in (analyst, partner):
        r = await client.get(f"{SYNC}/changes")
        assert r.status_code == 403
        assert r.headers["content-type"] == "application/problem+json"
        body = {"device_id": "hp-1", "mutations": [delete("people", uuid7())]}
        assert (await client.post(f"{SYNC}/push", json=body)).status_code == 403
    r = await facilitator.get(f"{SYNC}/changes", params={"cursor": "bm90LWEtY3Vyc29y"})
    assert r.status_code == 422
    r = await facilitator.get(f"{SYNC}/changes", params={"community_id": community["id"]})
    cursor = r.json()["next_cursor"]
    r = await facilitator.get(
        f"{SYNC}/changes", params={"cursor": cursor, "community_id": other_community["id"]}
    )
    assert r.status_code == 422
    too_many = [delete("people", uuid7()) for _ in range(501)]
    r = await facilitator.post(f"{SYNC}/push", json={"device_id": "hp-1", "mutations": too_many})
    assert r.status_code == 422
    r = await facilitator.post(
        f"{SYNC}/push",
        json={"device_id": "hp-1", "mutations": [{**delete("people", uuid7()), "op": "merge"}]},
    )
    assert r.status_code == 422
