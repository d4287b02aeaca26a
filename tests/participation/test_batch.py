"""The 1,000-row participation batch: per-row results, atomic, external ids per caller,
Idempotency-Key, concurrent identical batches, limits."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import asyncpg
import httpx

from tests.factories import (
    RECORDS,
    UNTIL_3_MARCH,
    ParticipationWorld,
    batch_one,
    make_activity,
    make_people,
    post,
    record,
)
from tests.helpers import count_rows, locs

BASE = RECORDS

BATCH = f"{BASE}/batch"


# --- batch ------------------------------------------------------------------------------------


async def test_batch_per_row_results(
    admin: httpx.AsyncClient, world: ParticipationWorld, raw_db: asyncpg.Pool
) -> None:
    pre_ext = await post(admin, BASE, record(world.p_b, activity=world.activity))
    seeded = await batch_one(
        admin, record(world.p_b, activity=world.activity2, external_id="pre-1")
    )
    assert seeded["status"] == "created"
    pre_ctx = await post(admin, BASE, record(world.p_a, assessment=world.assessment))
    before = await count_rows(raw_db, "participation_records")

    missing_person = record(world.p_a, activity=world.activity2)
    del missing_person["person_id"]
    rows: list[Any] = [
        record(world.p_a, activity=world.activity, external_id="r0"),  # 0 created
        # 1 duplicate by external id (same caller's earlier row), whatever else it says
        record(world.p_b, activity=world.activity2, external_id="pre-1", level="empower"),
        record(world.p_a, assessment=world.assessment),  # 2 duplicate by person+context
        record(world.p_a, activity=world.activity, date="2025-03-02"),  # 3 repeats row 0
        record(world.p_a, activity=world.activity2, level="bogus"),  # 4 invalid field
        missing_person,  # 5 invalid: no person
        record(world.p_c, activity=world.activity),  # 6 rule: outside the program
        record(world.p_none, activity=world.activity),  # 7 rule: no consent
        record(world.p_assess_only, assessment=world.assessment, external_id="r8"),  # 8
        record(world.p_a, activity=str(uuid.uuid4())),  # 9 rule: unknown activity
        record(world.p_a, activity=world.activity2, assessment=world.assessment),  # 10 both
        record(world.p_a, activity=world.activity2, date="2025-04-01"),  # 11 rule: date
        "not an object",  # 12 invalid
        record(world.p_b, activity=world.activity, external_id="r13"),  # 13 dup of pre_ext
        record(world.p_a, activity=world.activity2, external_id="r0"),  # 14 repeats ext of 0
    ]
    r = await admin.post(BATCH, json={"rows": rows})
    assert r.status_code == 200, r.text
    answer = r.json()
    results = answer["results"]
    assert [x["index"] for x in results] == list(range(len(rows)))
    statuses = [x["status"] for x in results]
    assert statuses == [
        "created",
        "duplicate",
        "duplicate",
        "duplicate",
        "error",
        "error",
        "error",
        "error",
        "created",
        "error",
        "error",
        "error",
        "error",
        "duplicate",
        "duplicate",
    ]
    assert answer["atomic"] is False
    assert (answer["created"], answer["duplicates"], answer["errors"]) == (2, 5, 8)

    assert results[1]["id"] == seeded["id"]
    assert results[2]["id"] == pre_ctx["id"]
    assert results[3]["id"] == results[0]["id"] and "row 0" in results[3]["detail"]
    assert results[13]["id"] == pre_ext["id"]
    assert results[14]["id"] == results[0]["id"]
    assert results[0]["external_id"] == "r0" and results[8]["external_id"] == "r8"

    def error_locs(i: int) -> list[list[Any]]:
        assert results[i]["id"] is None
        assert results[i]["detail"]
        return [e["loc"] for e in results[i]["errors"]]

    assert ["body", "rows", 4, "level"] in error_locs(4)
    assert ["body", "rows", 5, "person_id"] in error_locs(5)
    assert ["body", "rows", 6, "person_id"] in error_locs(6)
    assert results[7]["errors"][0]["type"] == "conflict"
    assert ["body", "rows", 9, "activity_id"] in error_locs(9)
    assert error_locs(10)
    assert ["body", "rows", 11, "date"] in error_locs(11)
    assert error_locs(12)

    assert await count_rows(raw_db, "participation_records") == before + 2
    for i in (0, 8):
        got = await admin.get(f"{BASE}/{results[i]['id']}")
        assert got.status_code == 200
        assert got.json()["external_id"] == rows[i].get("external_id")


async def test_batch_atomic(
    admin: httpx.AsyncClient, world: ParticipationWorld, raw_db: asyncpg.Pool
) -> None:
    rows = [
        record(world.p_a, activity=world.activity, external_id="a1"),
        record(world.p_b, activity=world.activity, external_id="a2"),
        record(world.p_a, activity=world.activity, external_id="a3"),  # repeats row 0
        record(world.p_c, activity=world.activity, external_id="a4"),  # outside: error
    ]
    r = await admin.post(BATCH, params={"atomic": "true"}, json={"rows": rows})
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    problem = r.json()
    assert "nothing was created" in problem["detail"]
    batch = problem["batch"]
    assert batch["atomic"] is True and batch["created"] == 0 and batch["errors"] == 1
    assert [x["index"] for x in batch["results"] if x["status"] == "error"] == [3]
    assert await count_rows(raw_db, "participation_records") == 0
    assert (
        int(
            await raw_db.fetchval(
                "SELECT count(*) FROM audit_events WHERE resource = 'participation_records'"
            )
        )
        == 0
    )

    # An invalid field is enough too.
    bad = [
        record(world.p_a, activity=world.activity),
        record(world.p_b, activity=world.activity, level="bogus"),
    ]
    r = await admin.post(BATCH, params={"atomic": "true"}, json={"rows": bad})
    assert r.status_code == 422, r.text
    assert await count_rows(raw_db, "participation_records") == 0

    good = [*rows[:2], record(world.p_a, assessment=world.assessment, external_id="a5")]
    r = await admin.post(BATCH, params={"atomic": "true"}, json={"rows": good})
    assert r.status_code == 200, r.text
    assert r.json()["atomic"] is True and r.json()["created"] == 3
    assert await count_rows(raw_db, "participation_records") == 3


async def test_batch_reupload_creates_nothing_new(
    admin: httpx.AsyncClient, world: ParticipationWorld, raw_db: asyncpg.Pool
) -> None:
    rows = [
        record(world.p_a, activity=world.activity, external_id="s-1"),
        record(world.p_b, activity=world.activity, external_id="s-2"),
        record(world.p_a, assessment=world.assessment, external_id="s-3"),
        record(world.p_assess_only, assessment=world.assessment),  # no external id
    ]
    first = await admin.post(BATCH, json={"rows": rows})
    assert first.status_code == 200, first.text
    assert first.json()["created"] == 4
    again = await admin.post(BATCH, json={"rows": rows})
    assert again.status_code == 200, again.text
    assert again.json()["created"] == 0 and again.json()["duplicates"] == 4
    assert [x["status"] for x in again.json()["results"]] == ["duplicate"] * 4
    assert [x["id"] for x in again.json()["results"]] == [x["id"] for x in first.json()["results"]]
    assert await count_rows(raw_db, "participation_records") == 4


async def test_external_id_is_per_caller(
    admin: httpx.AsyncClient, coordinator: httpx.AsyncClient, world: ParticipationWorld
) -> None:
    mine = await batch_one(admin, record(world.p_a, activity=world.activity, external_id="row-1"))
    assert mine["status"] == "created"
    theirs = await batch_one(
        coordinator, record(world.p_b, activity=world.activity, external_id="row-1")
    )
    assert theirs["status"] == "created" and theirs["id"] != mine["id"]
    # Their own re-upload is a duplicate of their own record, not of mine.
    again = await batch_one(
        coordinator, record(world.p_b, activity=world.activity, external_id="row-1")
    )
    assert again["status"] == "duplicate" and again["id"] == theirs["id"]
    # The same person and context is still a duplicate across callers.
    same = await batch_one(
        coordinator, record(world.p_a, activity=world.activity, external_id="row-x")
    )
    assert same["status"] == "duplicate" and same["id"] == mine["id"]


async def test_batch_limits(
    admin: httpx.AsyncClient, world: ParticipationWorld, raw_db: asyncpg.Pool
) -> None:
    row = record(world.p_a, activity=world.activity)
    r = await admin.post(BATCH, json={"rows": [row] * 1001})
    assert r.status_code == 422, r.text
    assert "1000" in r.json()["detail"] and "1001" in r.json()["detail"]
    assert ["body", "rows"] in locs(r)

    for body in ({"rows": []}, {}, {"rows": "x"}, {"rows": [row], "extra": 1}, [row]):
        r = await admin.post(BATCH, json=body)
        assert r.status_code == 422, (body, r.text)

    big = b'{"rows": [' + b" " * (10 * 1024 * 1024) + b"]}"
    r = await admin.post(BATCH, content=big, headers={"content-type": "application/json"})
    assert r.status_code == 413, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    # The single endpoint keeps the 1 MiB limit.
    r = await admin.post(
        BASE,
        content=b'{"x": "' + b"a" * (1024 * 1024) + b'"}',
        headers={"content-type": "application/json"},
    )
    assert r.status_code == 413, r.text
    assert await count_rows(raw_db, "participation_records") == 0

    # 1,000 rows are accepted (here all duplicates of one row after the first).
    r = await admin.post(BATCH, json={"rows": [row] * 1000})
    assert r.status_code == 200, r.text
    assert r.json()["created"] == 1 and r.json()["duplicates"] == 999


async def test_batch_idempotency_key_replays(
    admin: httpx.AsyncClient, world: ParticipationWorld, raw_db: asyncpg.Pool
) -> None:
    body = {
        "rows": [
            record(world.p_a, activity=world.activity),
            record(world.p_b, activity=world.activity),
        ]
    }
    headers = {"Idempotency-Key": "upload-2025-03-01"}
    first = await admin.post(BATCH, json=body, headers=headers)
    assert first.status_code == 200, first.text
    assert first.json()["created"] == 2
    replay = await admin.post(BATCH, json=body, headers=headers)
    assert replay.status_code == 200
    assert replay.headers.get("idempotent-replayed") == "true"
    assert replay.json() == first.json()  # still "created": the first answer, replayed
    assert await count_rows(raw_db, "participation_records") == 2
    other = await admin.post(BATCH, json={"rows": body["rows"][:1]}, headers=headers)
    assert other.status_code == 422, other.text


async def test_concurrent_identical_batches_create_each_record_once(
    admin: httpx.AsyncClient, world: ParticipationWorld, raw_db: asyncpg.Pool
) -> None:
    people = await make_people(admin, world.a, 20)
    activities = [world.activity, world.activity2] + [
        (await make_activity(admin, world.program, world.a, scheduled_end=UNTIL_3_MARCH))["id"]
        for _ in range(8)
    ]
    rows = [
        record(person, activity=activity, external_id=f"c-{i}-{j}")
        for i, person in enumerate(people)
        for j, activity in enumerate(activities)
    ]
    assert len(rows) == 200
    one, two = await asyncio.gather(
        admin.post(BATCH, json={"rows": rows}), admin.post(BATCH, json={"rows": rows})
    )
    assert one.status_code == 200, one.text
    assert two.status_code == 200, two.text
    assert await count_rows(raw_db, "participation_records") == 200
    created = 0
    for a, b in zip(one.json()["results"], two.json()["results"], strict=True):
        assert a["status"] in ("created", "duplicate") and b["status"] in ("created", "duplicate")
        assert a["id"] and a["id"] == b["id"]
        created += (a["status"] == "created") + (b["status"] == "created")
    assert created == 200
    audits = await raw_db.fetchval(
        "SELECT count(*) FROM audit_events WHERE resource = 'participation_records'"
    )
    assert audits == 200


async def test_batch_audit_one_event_per_created_record(
    admin: httpx.AsyncClient, world: ParticipationWorld, raw_db: asyncpg.Pool
) -> None:
    rows = [
        record(world.p_a, activity=world.activity),
        record(world.p_b, activity=world.activity),
        record(world.p_a, assessment=world.assessment),
        record(world.p_a, activity=world.activity),
    ]  # repeat: no audit
    r = await admin.post(BATCH, json={"rows": rows}, headers={"X-Request-ID": "batch-req-1"})
    assert r.status_code == 200, r.text
    created = {x["id"] for x in r.json()["results"] if x["status"] == "created"}
    assert len(created) == 3
    events = await raw_db.fetch(
        "SELECT *, a::text AS whole FROM audit_events a WHERE resource = 'participation_records'"
    )
    assert len(events) == 3
    assert {str(e["resource_id"]) for e in events} == created
    assert all(e["action"] == "create" and e["request_id"] == "batch-req-1" for e in events)
    assert all(e["actor_id"] is not None for e in events)
    assert all("Siti" not in e["whole"] for e in events)
