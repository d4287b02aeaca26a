"""Participation records: every rule (contexts, community membership, dates, consent,
duplicates), CRUD with PATCH re-checks, soft delete and restore, filters and keyset paging,
the 1,000-row batch (per-row results, atomic, external ids, Idempotency-Key, concurrency,
limits), scoping by role, the people summary without N+1, the data export and the audit."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
import pytest

from app.auth.models import Role
from tests.conftest import captured

BASE = "/api/v1/participation-records"
BATCH = f"{BASE}/batch"
PEOPLE = "/api/v1/people"
PROGRAMS = "/api/v1/programs"
ASSESSMENTS = "/api/v1/needs-assessments"
BOTH = ["program_participation", "needs_assessment"]

MakeCommunity = Callable[..., Awaitable[dict[str, Any]]]
MakeUser = Callable[..., Awaitable[Any]]
AsUser = Callable[[Any], httpx.AsyncClient]


# --- helpers ----------------------------------------------------------------------------------


async def post(client: httpx.AsyncClient, url: str, body: dict[str, Any]) -> dict[str, Any]:
    r = await client.post(url, json=body)
    assert r.status_code == 201, r.text
    created: dict[str, Any] = r.json()
    return created


async def make_person(
    client: httpx.AsyncClient,
    community_id: str,
    purposes: list[str] | None = None,
    name: str = "Siti Aminah",
) -> str:
    body: dict[str, Any] = {"community_id": community_id, "full_name": name, "sex": "female"}
    if purposes is None:
        purposes = BOTH
    if purposes:
        body["consent_purposes"] = purposes
    return str((await post(client, PEOPLE, body))["id"])


async def make_people(client: httpx.AsyncClient, community_id: str, count: int) -> list[str]:
    gate = asyncio.Semaphore(8)

    async def one(n: int) -> str:
        async with gate:
            return await make_person(client, community_id, name=f"Warga {n:04d}")

    return list(await asyncio.gather(*(one(n) for n in range(count))))


async def make_activity(
    client: httpx.AsyncClient,
    program_id: str,
    community_id: str,
    start: str = "2025-03-01T09:00:00+07:00",
    end: str | None = "2025-03-03T17:00:00+07:00",
) -> str:
    body: dict[str, Any] = {
        "title": "Pelatihan pengelolaan keuangan",
        "kind": "training",
        "community_id": community_id,
        "scheduled_start": start,
    }
    if end is not None:
        body["scheduled_end"] = end
    return str((await post(client, f"{PROGRAMS}/{program_id}/activities", body))["id"])


async def make_program(client: httpx.AsyncClient, community_ids: list[str]) -> str:
    body = {
        "title": "Penguatan BUMDes",
        "community_ids": community_ids,
        "start_date": "2025-01-01",
        "end_date": "2025-12-31",
    }
    return str((await post(client, PROGRAMS, body))["id"])


def record(
    person: str, *, activity: str | None = None, assessment: str | None = None, **overrides: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "person_id": person,
        "date": "2025-03-01" if activity else "2025-02-10",
        "level": "involve",
        "role": "beneficiary",
    }
    if activity:
        body["activity_id"] = activity
    if assessment:
        body["assessment_id"] = assessment
    body.update(overrides)
    return body


async def count_records(raw_db: asyncpg.Pool, live_only: bool = False) -> int:
    sql = "SELECT count(*) FROM participation_records"
    if live_only:
        sql += " WHERE deleted_at IS NULL"
    return int(await raw_db.fetchval(sql))


def locs(response: httpx.Response) -> list[list[Any]]:
    return [issue["loc"] for issue in response.json().get("errors") or []]


@dataclass
class World:
    a: str  # community in the program, where the activity and the assessment are
    b: str  # second community of the program
    c: str  # community outside the program
    program: str
    activity: str  # in a, 2025-03-01 .. 2025-03-03 (Jakarta time)
    activity2: str  # same program, same schedule
    assessment: str  # in a, 2025-02-01 .. 2025-02-28
    p_a: str  # people with consent for both purposes
    p_b: str
    p_c: str
    p_none: str  # in a, no consent
    p_assess_only: str  # in a, consent for needs_assessment only


@pytest.fixture
async def world(admin: httpx.AsyncClient, make_community: MakeCommunity) -> World:
    a, b, c = [str((await make_community())["id"]) for _ in range(3)]
    program = await make_program(admin, [a, b])
    activity = await make_activity(admin, program, a)
    activity2 = await make_activity(admin, program, a)
    assessment = str(
        (
            await post(
                admin,
                ASSESSMENTS,
                {
                    "community_id": a,
                    "title": "Kajian kebutuhan air bersih",
                    "methods": ["survey"],
                    "started_on": "2025-02-01",
                    "completed_on": "2025-02-28",
                },
            )
        )["id"]
    )
    return World(
        a=a,
        b=b,
        c=c,
        program=program,
        activity=activity,
        activity2=activity2,
        assessment=assessment,
        p_a=await make_person(admin, a),
        p_b=await make_person(admin, b),
        p_c=await make_person(admin, c),
        p_none=await make_person(admin, a, purposes=[]),
        p_assess_only=await make_person(admin, a, purposes=["needs_assessment"]),
    )


# --- the rules, one by one --------------------------------------------------------------------


async def test_create_and_read(
    admin: httpx.AsyncClient, world: World, raw_db: asyncpg.Pool
) -> None:
    r = await admin.post(
        BASE, json=record(world.p_a, activity=world.activity, hours="2.5", notes="aktif bertanya")
    )
    assert r.status_code == 201, r.text
    created = r.json()
    assert r.headers["location"] == f"{BASE}/{created['id']}"
    assert r.headers["etag"]
    assert created["person_id"] == world.p_a
    assert created["person_key"]
    assert created["activity_id"] == world.activity and created["assessment_id"] is None
    assert created["community_id"] == world.a
    assert created["program_id"] == world.program
    assert created["hours"] == 2.5 and created["level"] == "involve"

    got = await admin.get(f"{BASE}/{created['id']}")
    assert got.status_code == 200 and got.json() == created
    assert (
        await admin.get(f"{BASE}/{created['id']}", headers={"If-None-Match": got.headers["etag"]})
    ).status_code == 304

    r = await admin.post(BASE, json=record(world.p_a, assessment=world.assessment))
    assert r.status_code == 201, r.text
    assert r.json()["program_id"] is None and r.json()["community_id"] == world.a
    # A person of the program's second community may join an activity held in the first.
    r = await admin.post(BASE, json=record(world.p_b, activity=world.activity))
    assert r.status_code == 201, r.text
    assert r.json()["community_id"] == world.b
    assert await count_records(raw_db) == 3


async def test_exactly_one_context(admin: httpx.AsyncClient, world: World) -> None:
    both = record(world.p_a, activity=world.activity, assessment=world.assessment)
    r = await admin.post(BASE, json=both)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    r = await admin.post(BASE, json=record(world.p_a))
    assert r.status_code == 422, r.text


async def test_unknown_context_or_person(admin: httpx.AsyncClient, world: World) -> None:
    r = await admin.post(BASE, json=record(world.p_a, activity=str(uuid.uuid4())))
    assert r.status_code == 422, r.text
    assert ["body", "activity_id"] in locs(r)
    r = await admin.post(BASE, json=record(world.p_a, assessment=str(uuid.uuid4())))
    assert r.status_code == 422, r.text
    assert ["body", "assessment_id"] in locs(r)
    r = await admin.post(BASE, json=record(str(uuid.uuid4()), activity=world.activity))
    assert r.status_code == 422, r.text
    assert ["body", "person_id"] in locs(r)


async def test_person_outside_the_context_communities(
    admin: httpx.AsyncClient, world: World
) -> None:
    r = await admin.post(BASE, json=record(world.p_c, activity=world.activity))
    assert r.status_code == 422, r.text
    assert ["body", "person_id"] in locs(r)
    # The assessment belongs to community a only: b (in the program) is outside it.
    r = await admin.post(BASE, json=record(world.p_b, assessment=world.assessment))
    assert r.status_code == 422, r.text
    assert ["body", "person_id"] in locs(r)


@pytest.mark.parametrize(
    ("context", "day", "ok"),
    [
        ("activity", "2025-02-28", False),
        ("activity", "2025-03-01", True),
        ("activity", "2025-03-03", True),
        ("activity", "2025-03-04", False),
        ("assessment", "2025-01-31", False),
        ("assessment", "2025-02-01", True),
        ("assessment", "2025-02-28", True),
        ("assessment", "2025-03-01", False),
    ],
)
async def test_date_within_the_schedule_or_period(
    admin: httpx.AsyncClient, world: World, context: str, day: str, ok: bool
) -> None:
    where = (
        {"activity": world.activity} if context == "activity" else {"assessment": world.assessment}
    )
    r = await admin.post(BASE, json=record(world.p_a, date=day, **where))
    if ok:
        assert r.status_code == 201, r.text
    else:
        assert r.status_code == 422, r.text
        assert ["body", "date"] in locs(r)


async def test_consent_is_required_for_the_purpose(admin: httpx.AsyncClient, world: World) -> None:
    r = await admin.post(BASE, json=record(world.p_none, activity=world.activity))
    assert r.status_code == 409, r.text
    # Consent for needs assessments only: fine for the assessment, not for the activity.
    r = await admin.post(BASE, json=record(world.p_assess_only, activity=world.activity))
    assert r.status_code == 409, r.text
    r = await admin.post(BASE, json=record(world.p_assess_only, assessment=world.assessment))
    assert r.status_code == 201, r.text

    r = await admin.patch(
        f"{PEOPLE}/{world.p_a}", json={"consent_withdrawn_at": datetime.now(UTC).isoformat()}
    )
    assert r.status_code == 200, r.text
    r = await admin.post(BASE, json=record(world.p_a, activity=world.activity))
    assert r.status_code == 409, r.text
    r = await admin.post(BASE, json=record(world.p_a, assessment=world.assessment))
    assert r.status_code == 409, r.text


async def test_one_record_per_person_and_context(
    admin: httpx.AsyncClient, coordinator: httpx.AsyncClient, world: World, raw_db: asyncpg.Pool
) -> None:
    assert (
        await admin.post(BASE, json=record(world.p_a, activity=world.activity))
    ).status_code == 201
    r = await coordinator.post(
        BASE, json=record(world.p_a, activity=world.activity, date="2025-03-02", level="empower")
    )
    assert r.status_code == 409, r.text
    assert (
        await admin.post(BASE, json=record(world.p_a, assessment=world.assessment))
    ).status_code == 201
    assert (
        await admin.post(BASE, json=record(world.p_a, assessment=world.assessment))
    ).status_code == 409
    # Another activity is another context.
    assert (
        await admin.post(BASE, json=record(world.p_a, activity=world.activity2))
    ).status_code == 201
    assert await count_records(raw_db) == 3


@pytest.mark.parametrize(
    "overrides",
    [
        {"level": "bogus"},
        {"role": "chief"},
        {"level": None},
        {"date": "01/03/2025"},
        {"hours": -1},
        {"hours": 1001},
        {"notes": "x" * 2001},
        {"person_id": "not-a-uuid"},
        {"external_id": "x"},  # batch-only field
        {"id": str(uuid.uuid4())},  # read-only field
        {"community_id": str(uuid.uuid4())},  # derived, never set
    ],
)
async def test_invalid_fields_are_422(
    admin: httpx.AsyncClient, world: World, raw_db: asyncpg.Pool, overrides: dict[str, Any]
) -> None:
    r = await admin.post(BASE, json=record(world.p_a, activity=world.activity, **overrides))
    assert r.status_code == 422, r.text
    assert r.json()["errors"]
    assert await count_records(raw_db) == 0


async def test_missing_required_fields_are_422(admin: httpx.AsyncClient, world: World) -> None:
    for name in ("person_id", "date", "level", "role"):
        body = record(world.p_a, activity=world.activity)
        del body[name]
        r = await admin.post(BASE, json=body)
        assert r.status_code == 422, r.text
        assert ["body", name] in locs(r)


# --- changes, soft delete, restore ------------------------------------------------------------


async def test_patch_rechecks_the_date(
    admin: httpx.AsyncClient, world: World, raw_db: asyncpg.Pool
) -> None:
    rid = (await post(admin, BASE, record(world.p_a, activity=world.activity)))["id"]
    url = f"{BASE}/{rid}"
    etag = (await admin.get(url)).headers["etag"]

    r = await admin.patch(url, json={"level": "collaborate", "hours": 3})
    assert r.status_code == 200, r.text
    assert r.json()["level"] == "collaborate" and r.json()["hours"] == 3
    assert r.json()["date"] == "2025-03-01"  # merge: untouched fields stay
    assert (
        await admin.patch(url, json={"role": "cadre"}, headers={"If-Match": etag})
    ).status_code == 412

    r = await admin.patch(url, json={"date": "2025-03-05"})
    assert r.status_code == 422, r.text
    assert ["body", "date"] in locs(r)
    r = await admin.patch(url, json={"date": "2025-03-03"})
    assert r.status_code == 200, r.text
    assert r.json()["date"] == "2025-03-03"

    for bad in (
        {"level": None},
        {"date": None},
        {"role": "chief"},
        {"person_id": world.p_b},
        {"activity_id": world.activity2},
    ):
        assert (await admin.patch(url, json=bad)).status_code == 422, bad
    row = await raw_db.fetchrow("SELECT * FROM participation_records WHERE id = $1", uuid.UUID(rid))
    assert row is not None
    assert str(row["date"]) == "2025-03-03" and row["level"] == "collaborate"

    # The assessment's period is re-checked as well.
    aid = (await post(admin, BASE, record(world.p_a, assessment=world.assessment)))["id"]
    assert (await admin.patch(f"{BASE}/{aid}", json={"date": "2025-03-10"})).status_code == 422
    assert (await admin.patch(f"{BASE}/{aid}", json={"date": "2025-02-20"})).status_code == 200


async def test_patch_rechecks_the_date_even_after_the_person_moved(
    admin: httpx.AsyncClient, world: World
) -> None:
    rid = (await post(admin, BASE, record(world.p_a, activity=world.activity)))["id"]
    r = await admin.patch(f"{PEOPLE}/{world.p_a}", json={"community_id": world.c})
    assert r.status_code == 200, r.text
    r = await admin.patch(f"{BASE}/{rid}", json={"date": "2030-01-01"})
    assert r.status_code == 422, r.text


async def test_soft_delete_and_restore(
    admin: httpx.AsyncClient,
    coordinator: httpx.AsyncClient,
    world: World,
    raw_db: asyncpg.Pool,
) -> None:
    rid = (await post(admin, BASE, record(world.p_a, activity=world.activity)))["id"]
    url = f"{BASE}/{rid}"
    assert (await coordinator.delete(url)).status_code == 204
    assert (await admin.get(url)).status_code == 404
    assert (await admin.delete(url)).status_code == 404
    assert rid not in [i["id"] for i in (await admin.get(BASE)).json()["items"]]
    row = await raw_db.fetchrow(
        "SELECT deleted_at FROM participation_records WHERE id = $1", uuid.UUID(rid)
    )
    assert row is not None and row["deleted_at"] is not None

    assert (await coordinator.post(f"{url}/restore")).status_code == 403
    r = await admin.post(f"{url}/restore")
    assert r.status_code == 200, r.text
    assert (await admin.get(url)).status_code == 200

    # Deleted, then recorded anew: restoring the old one would make a second live record.
    assert (await admin.delete(url)).status_code == 204
    new = await post(admin, BASE, record(world.p_a, activity=world.activity, date="2025-03-02"))
    assert (await coordinator.post(f"{url}/restore")).status_code == 403
    r = await admin.post(f"{url}/restore")
    assert r.status_code == 409, r.text
    assert (await admin.get(url)).status_code == 404
    assert (await admin.get(f"{BASE}/{new['id']}")).status_code == 200
    assert await count_records(raw_db, live_only=True) == 1

    # Restoring a record that is not deleted is a harmless no-op.
    r = await admin.post(f"{BASE}/{new['id']}/restore")
    assert r.status_code == 200, r.text
    # Unknown: 404.
    assert (await admin.post(f"{BASE}/{uuid.uuid4()}/restore")).status_code == 404


async def test_restore_refuses_an_external_id_taken_again(
    admin: httpx.AsyncClient, world: World
) -> None:
    first = (
        await admin.post(
            BATCH,
            json={
                "rows": [
                    record(world.p_a, activity=world.activity, external_id="sheet-1"),
                ]
            },
        )
    ).json()["results"][0]
    assert first["status"] == "created"
    assert (await admin.delete(f"{BASE}/{first['id']}")).status_code == 204
    # The same sheet row id now names another person's record.
    second = (
        await admin.post(
            BATCH,
            json={
                "rows": [
                    record(world.p_b, activity=world.activity, external_id="sheet-1"),
                ]
            },
        )
    ).json()["results"][0]
    assert second["status"] == "created", second
    r = await admin.post(f"{BASE}/{first['id']}/restore")
    assert r.status_code == 409, r.text


# --- lists: filters and keyset paging ---------------------------------------------------------


async def test_filters(admin: httpx.AsyncClient, world: World) -> None:
    program2 = await make_program(admin, [world.a])
    activity3 = await make_activity(admin, program2, world.a)
    ids = {}
    for name, body in {
        "r1": record(
            world.p_a,
            activity=world.activity,
            date="2025-03-01",
            level="inform",
            role="beneficiary",
        ),
        "r2": record(
            world.p_b, activity=world.activity, date="2025-03-02", level="consult", role="volunteer"
        ),
        "r3": record(
            world.p_a,
            assessment=world.assessment,
            date="2025-02-10",
            level="empower",
            role="speaker",
        ),
        "r4": record(
            world.p_a, activity=activity3, date="2025-03-03", level="collaborate", role="cadre"
        ),
    }.items():
        ids[(await post(admin, BASE, body))["id"]] = name

    async def names(**params: Any) -> set[str]:
        r = await admin.get(BASE, params=params)
        assert r.status_code == 200, r.text
        return {ids[i["id"]] for i in r.json()["items"]}

    assert await names() == {"r1", "r2", "r3", "r4"}
    assert await names(person_id=world.p_a) == {"r1", "r3", "r4"}
    assert await names(activity_id=world.activity) == {"r1", "r2"}
    assert await names(assessment_id=world.assessment) == {"r3"}
    assert await names(program_id=world.program) == {"r1", "r2"}
    assert await names(program_id=program2) == {"r4"}
    assert await names(community_id=world.b) == {"r2"}
    assert await names(community_id=world.c) == set()
    assert await names(level="empower") == {"r3"}
    assert await names(role="cadre") == {"r4"}
    assert await names(date_from="2025-03-02") == {"r2", "r4"}
    assert await names(date_to="2025-03-01") == {"r1", "r3"}
    assert await names(date_from="2025-03-01", date_to="2025-03-02") == {"r1", "r2"}
    assert await names(person_id=world.p_a, level="collaborate") == {"r4"}
    for bad in (
        {"level": "bogus"},
        {"role": "chief"},
        {"date_from": "yesterday"},
        {"person_id": "nope"},
        {"limit": 501},
    ):
        assert (await admin.get(BASE, params=bad)).status_code == 422, bad


async def test_keyset_paging(admin: httpx.AsyncClient, world: World) -> None:
    people = [world.p_a, world.p_b, world.p_assess_only]
    made = []
    for person in (world.p_a, world.p_b):
        for activity in (world.activity, world.activity2):
            made.append((await post(admin, BASE, record(person, activity=activity)))["id"])
    made.append((await post(admin, BASE, record(people[2], assessment=world.assessment)))["id"])

    seen: list[str] = []
    r = await admin.get(BASE, params={"limit": 2})
    pages = 0
    while True:
        assert r.status_code == 200, r.text
        page = r.json()
        assert len(page["items"]) <= 2
        seen.extend(i["id"] for i in page["items"])
        pages += 1
        if not page["next_cursor"]:
            assert "link" not in r.headers
            break
        assert 'rel="next"' in r.headers["link"]
        if pages == 1:
            # Inserting while paging does not shift the pages already seen.
            made.append(
                (await post(admin, BASE, record(world.p_a, assessment=world.assessment)))["id"]
            )
        r = await admin.get(BASE, params={"limit": 2, "cursor": page["next_cursor"]})
    assert seen == made  # oldest first, each once, nothing skipped
    assert pages == 3

    first = (await admin.get(BASE, params={"limit": 2})).json()
    r = await admin.get(
        BASE, params={"limit": 2, "cursor": first["next_cursor"], "person_id": world.p_a}
    )
    assert r.status_code == 422, r.text
    r = await admin.get(BASE, params={"sort": "-date", "limit": 10})
    assert r.status_code == 200, r.text
    dates = [i["date"] for i in r.json()["items"]]
    assert dates == sorted(dates, reverse=True)


# --- batch ------------------------------------------------------------------------------------


async def test_batch_per_row_results(
    admin: httpx.AsyncClient, world: World, raw_db: asyncpg.Pool
) -> None:
    pre_ext = await post(admin, BASE, record(world.p_b, activity=world.activity))
    seeded = (
        await admin.post(
            BATCH,
            json={
                "rows": [
                    record(world.p_b, activity=world.activity2, external_id="pre-1"),
                ]
            },
        )
    ).json()["results"][0]
    assert seeded["status"] == "created"
    pre_ctx = await post(admin, BASE, record(world.p_a, assessment=world.assessment))
    before = await count_records(raw_db)

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

    assert await count_records(raw_db) == before + 2
    for i in (0, 8):
        got = await admin.get(f"{BASE}/{results[i]['id']}")
        assert got.status_code == 200
        assert got.json()["external_id"] == rows[i].get("external_id")


async def test_batch_atomic(admin: httpx.AsyncClient, world: World, raw_db: asyncpg.Pool) -> None:
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
    assert await count_records(raw_db) == 0
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
    assert await count_records(raw_db) == 0

    good = [*rows[:2], record(world.p_a, assessment=world.assessment, external_id="a5")]
    r = await admin.post(BATCH, params={"atomic": "true"}, json={"rows": good})
    assert r.status_code == 200, r.text
    assert r.json()["atomic"] is True and r.json()["created"] == 3
    assert await count_records(raw_db) == 3


async def test_batch_reupload_creates_nothing_new(
    admin: httpx.AsyncClient, world: World, raw_db: asyncpg.Pool
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
    assert await count_records(raw_db) == 4


async def test_external_id_is_per_caller(
    admin: httpx.AsyncClient, coordinator: httpx.AsyncClient, world: World
) -> None:
    mine = (
        await admin.post(
            BATCH,
            json={
                "rows": [
                    record(world.p_a, activity=world.activity, external_id="row-1"),
                ]
            },
        )
    ).json()["results"][0]
    assert mine["status"] == "created"
    theirs = (
        await coordinator.post(
            BATCH,
            json={
                "rows": [
                    record(world.p_b, activity=world.activity, external_id="row-1"),
                ]
            },
        )
    ).json()["results"][0]
    assert theirs["status"] == "created" and theirs["id"] != mine["id"]
    # Their own re-upload is a duplicate of their own record, not of mine.
    again = (
        await coordinator.post(
            BATCH,
            json={
                "rows": [
                    record(world.p_b, activity=world.activity, external_id="row-1"),
                ]
            },
        )
    ).json()["results"][0]
    assert again["status"] == "duplicate" and again["id"] == theirs["id"]
    # The same person and context is still a duplicate across callers.
    same = (
        await coordinator.post(
            BATCH,
            json={
                "rows": [
                    record(world.p_a, activity=world.activity, external_id="row-x"),
                ]
            },
        )
    ).json()["results"][0]
    assert same["status"] == "duplicate" and same["id"] == mine["id"]


async def test_batch_limits(admin: httpx.AsyncClient, world: World, raw_db: asyncpg.Pool) -> None:
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
    assert await count_records(raw_db) == 0

    # 1,000 rows are accepted (here all duplicates of one row after the first).
    r = await admin.post(BATCH, json={"rows": [row] * 1000})
    assert r.status_code == 200, r.text
    assert r.json()["created"] == 1 and r.json()["duplicates"] == 999


async def test_batch_idempotency_key_replays(
    admin: httpx.AsyncClient, world: World, raw_db: asyncpg.Pool
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
    assert await count_records(raw_db) == 2
    other = await admin.post(BATCH, json={"rows": body["rows"][:1]}, headers=headers)
    assert other.status_code == 422, other.text


async def test_concurrent_identical_batches_create_each_record_once(
    admin: httpx.AsyncClient, world: World, raw_db: asyncpg.Pool
) -> None:
    people = await make_people(admin, world.a, 20)
    activities = [world.activity, world.activity2] + [
        await make_activity(admin, world.program, world.a) for _ in range(8)
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
    assert await count_records(raw_db) == 200
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
    admin: httpx.AsyncClient, world: World, raw_db: asyncpg.Pool
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


# --- who may see and write what ---------------------------------------------------------------


async def test_facilitator_scope(
    admin: httpx.AsyncClient,
    make_user: MakeUser,
    as_user: AsUser,
    world: World,
    raw_db: asyncpg.Pool,
) -> None:
    facilitator = as_user(await make_user(Role.facilitator, communities=[uuid.UUID(world.a)]))
    mine = await post(admin, BASE, record(world.p_a, activity=world.activity))
    other = await post(admin, BASE, record(world.p_b, activity=world.activity))

    assert (await facilitator.get(f"{BASE}/{mine['id']}")).status_code == 200
    assert (await facilitator.get(f"{BASE}/{other['id']}")).status_code == 404
    assert (
        await facilitator.patch(f"{BASE}/{other['id']}", json={"level": "empower"})
    ).status_code == 404
    assert (await facilitator.delete(f"{BASE}/{other['id']}")).status_code == 404
    listed = [i["id"] for i in (await facilitator.get(BASE)).json()["items"]]
    assert listed == [mine["id"]]
    assert (await facilitator.get(BASE, params={"community_id": world.b})).json()["items"] == []

    r = await facilitator.post(BASE, json=record(world.p_b, activity=world.activity2))
    assert r.status_code == 422, r.text
    r = await facilitator.post(BASE, json=record(world.p_a, activity=world.activity2))
    assert r.status_code == 201, r.text
    r = await facilitator.patch(f"{BASE}/{mine['id']}", json={"level": "empower"})
    assert r.status_code == 200, r.text

    r = await facilitator.post(
        BATCH,
        json={
            "rows": [
                record(world.p_b, assessment=world.assessment),
                record(world.p_a, assessment=world.assessment),
                record(world.p_b, activity=world.activity2),
            ]
        },
    )
    assert r.status_code == 200, r.text
    assert [x["status"] for x in r.json()["results"]] == ["error", "created", "error"]
    assert await count_records(raw_db) == 4
    assert (await facilitator.post(f"{BASE}/{mine['id']}/restore")).status_code == 403


async def test_analyst_and_partner(
    admin: httpx.AsyncClient,
    analyst: httpx.AsyncClient,
    make_user: MakeUser,
    as_user: AsUser,
    world: World,
) -> None:
    partner = as_user(await make_user(Role.partner))
    created = await post(admin, BASE, record(world.p_a, activity=world.activity))
    url = f"{BASE}/{created['id']}"

    r = await analyst.get(url)
    assert r.status_code == 200, r.text
    assert r.json()["person_id"] is None
    assert r.json()["person_key"] == created["person_key"] and created["person_key"]
    items = (await analyst.get(BASE)).json()["items"]
    assert [i["person_id"] for i in items] == [None]
    assert world.p_a not in (await analyst.get(BASE)).text
    assert (
        await analyst.post(BASE, json=record(world.p_b, activity=world.activity))
    ).status_code == 403
    assert (
        await analyst.post(BATCH, json={"rows": [record(world.p_b, activity=world.activity)]})
    ).status_code == 403
    assert (await analyst.patch(url, json={"level": "empower"})).status_code == 403
    assert (await analyst.delete(url)).status_code == 403

    assert (await partner.get(BASE)).status_code == 403
    assert (await partner.get(url)).status_code == 404
    assert (
        await partner.post(BASE, json=record(world.p_b, activity=world.activity))
    ).status_code == 403
    assert (
        await partner.post(BATCH, json={"rows": [record(world.p_b, activity=world.activity)]})
    ).status_code == 403

    anonymous = httpx.AsyncClient(transport=admin._transport, base_url="http://test")
    assert (await anonymous.get(BASE)).status_code == 401
    await anonymous.aclose()


# --- the people side: summary, N+1, data export ----------------------------------------------


async def test_people_expose_participation_summary(admin: httpx.AsyncClient, world: World) -> None:
    program2 = await make_program(admin, [world.a])
    activity3 = await make_activity(admin, program2, world.a)
    await post(admin, BASE, record(world.p_a, activity=world.activity, level="inform"))
    await post(admin, BASE, record(world.p_a, assessment=world.assessment, level="empower"))
    last = await post(admin, BASE, record(world.p_a, activity=activity3, level="collaborate"))
    await post(admin, BASE, record(world.p_b, activity=world.activity, level="consult"))

    person = (await admin.get(f"{PEOPLE}/{world.p_a}")).json()
    assert (person["participation_count"], person["highest_level"]) == (3, "empower")
    summary = {
        p["id"]: (p["participation_count"], p["highest_level"])
        for p in (await admin.get(PEOPLE, params={"limit": 500})).json()["items"]
    }
    assert summary[world.p_a] == (3, "empower")
    assert summary[world.p_b] == (1, "consult")
    assert summary[world.p_c] == (0, None)

    # Ordered by the IAP2 spectrum, not alphabetically: collaborate > consult.
    empower = [i for i in (await admin.get(BASE, params={"level": "empower"})).json()["items"]]
    assert (await admin.delete(f"{BASE}/{empower[0]['id']}")).status_code == 204
    person = (await admin.get(f"{PEOPLE}/{world.p_a}")).json()
    assert (person["participation_count"], person["highest_level"]) == (2, "collaborate")
    assert (await admin.delete(f"{BASE}/{last['id']}")).status_code == 204
    person = (await admin.get(f"{PEOPLE}/{world.p_a}")).json()
    assert (person["participation_count"], person["highest_level"]) == (1, "inform")


async def test_people_list_queries_do_not_grow_with_the_page(
    app: Any, admin: httpx.AsyncClient, world: World
) -> None:
    people = await make_people(admin, world.a, 50)
    rows = [
        record(p, activity=world.activity, level=lvl)
        for p, lvl in zip(
            people, ["inform", "consult", "involve", "collaborate", "empower"] * 10, strict=True
        )
    ]
    rows += [record(p, assessment=world.assessment) for p in people]
    r = await admin.post(BATCH, json={"rows": rows})
    assert r.status_code == 200 and r.json()["created"] == 100, r.text

    async def count(limit: int) -> int:
        with captured(app) as statements:
            response = await admin.get(PEOPLE, params={"limit": limit})
        assert response.status_code == 200, response.text
        items = response.json()["items"]
        assert len(items) == limit
        assert all(i["participation_count"] >= 0 for i in items)
        return len(statements)

    await count(5)  # warm up
    small, large = await count(5), await count(50)
    assert small == large, (small, large)
    assert small <= 10


async def test_data_export_includes_participation(admin: httpx.AsyncClient, world: World) -> None:
    one = await post(admin, BASE, record(world.p_a, activity=world.activity))
    two = await post(admin, BASE, record(world.p_a, assessment=world.assessment))
    await post(admin, BASE, record(world.p_b, activity=world.activity))
    r = await admin.get(f"{PEOPLE}/{world.p_a}/data-export")
    assert r.status_code == 200, r.text
    section = r.json()["sections"]["participation_records"]
    assert {s["id"] for s in section} == {one["id"], two["id"]}
    assert all(s["person_id"] == world.p_a for s in section)
    assert {s["activity_id"] for s in section} == {world.activity, None}
