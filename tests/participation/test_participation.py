"""Participation records: every rule (contexts, community membership, dates, consent,
duplicates), CRUD with PATCH re-checks, soft delete and restore, filters and keyset paging,
scoping by role, the people summary without N+1, the data export and the audit."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
import pytest

from app.auth.models import Role
from tests.factories import (
    PEOPLE,
    RECORDS,
    UNTIL_3_MARCH,
    YEAR_2025,
    AsUser,
    MakeUser,
    ParticipationWorld,
    batch_one,
    make_activity,
    make_people,
    make_program,
    post,
    record,
)
from tests.helpers import captured, count_rows, locs

BASE = RECORDS

BATCH = f"{BASE}/batch"


# --- the rules, one by one --------------------------------------------------------------------


async def test_create_and_read(
    admin: httpx.AsyncClient, world: ParticipationWorld, raw_db: asyncpg.Pool
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
    assert await count_rows(raw_db, "participation_records") == 3


async def test_exactly_one_context(admin: httpx.AsyncClient, world: ParticipationWorld) -> None:
    both = record(world.p_a, activity=world.activity, assessment=world.assessment)
    r = await admin.post(BASE, json=both)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    r = await admin.post(BASE, json=record(world.p_a))
    assert r.status_code == 422, r.text


async def test_unknown_context_or_person(
    admin: httpx.AsyncClient, world: ParticipationWorld
) -> None:
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
    admin: httpx.AsyncClient, world: ParticipationWorld
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
    admin: httpx.AsyncClient, world: ParticipationWorld, context: str, day: str, ok: bool
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


async def test_consent_is_required_for_the_purpose(
    admin: httpx.AsyncClient, world: ParticipationWorld
) -> None:
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
    admin: httpx.AsyncClient,
    coordinator: httpx.AsyncClient,
    world: ParticipationWorld,
    raw_db: asyncpg.Pool,
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
    assert await count_rows(raw_db, "participation_records") == 3


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
    admin: httpx.AsyncClient,
    world: ParticipationWorld,
    raw_db: asyncpg.Pool,
    overrides: dict[str, Any],
) -> None:
    r = await admin.post(BASE, json=record(world.p_a, activity=world.activity, **overrides))
    assert r.status_code == 422, r.text
    assert r.json()["errors"]
    assert await count_rows(raw_db, "participation_records") == 0


async def test_missing_required_fields_are_422(
    admin: httpx.AsyncClient, world: ParticipationWorld
) -> None:
    for name in ("person_id", "date", "level", "role"):
        body = record(world.p_a, activity=world.activity)
        del body[name]
        r = await admin.post(BASE, json=body)
        assert r.status_code == 422, r.text
        assert ["body", name] in locs(r)


# --- changes, soft delete, restore ------------------------------------------------------------


async def test_patch_rechecks_the_date(
    admin: httpx.AsyncClient, world: ParticipationWorld, raw_db: asyncpg.Pool
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
    admin: httpx.AsyncClient, world: ParticipationWorld
) -> None:
    rid = (await post(admin, BASE, record(world.p_a, activity=world.activity)))["id"]
    r = await admin.patch(f"{PEOPLE}/{world.p_a}", json={"community_id": world.c})
    assert r.status_code == 200, r.text
    r = await admin.patch(f"{BASE}/{rid}", json={"date": "2030-01-01"})
    assert r.status_code == 422, r.text


async def test_soft_delete_and_restore(
    admin: httpx.AsyncClient,
    coordinator: httpx.AsyncClient,
    world: ParticipationWorld,
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
    assert await count_rows(raw_db, "participation_records", live_only=True) == 1

    # Restoring a record that is not deleted is a harmless no-op.
    r = await admin.post(f"{BASE}/{new['id']}/restore")
    assert r.status_code == 200, r.text
    # Unknown: 404.
    assert (await admin.post(f"{BASE}/{uuid.uuid4()}/restore")).status_code == 404


async def test_restore_refuses_an_external_id_taken_again(
    admin: httpx.AsyncClient, world: ParticipationWorld
) -> None:
    first = await batch_one(
        admin, record(world.p_a, activity=world.activity, external_id="sheet-1")
    )
    assert first["status"] == "created"
    assert (await admin.delete(f"{BASE}/{first['id']}")).status_code == 204
    # The same sheet row id now names another person's record.
    second = await batch_one(
        admin, record(world.p_b, activity=world.activity, external_id="sheet-1")
    )
    assert second["status"] == "created", second
    r = await admin.post(f"{BASE}/{first['id']}/restore")
    assert r.status_code == 409, r.text


# --- lists: filters and keyset paging ---------------------------------------------------------


async def test_filters(admin: httpx.AsyncClient, world: ParticipationWorld) -> None:
    program2 = (await make_program(admin, [world.a], **YEAR_2025))["id"]
    activity3 = (await make_activity(admin, program2, world.a, scheduled_end=UNTIL_3_MARCH))["id"]
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


async def test_keyset_paging(admin: httpx.AsyncClient, world: ParticipationWorld) -> None:
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


# --- who may see and write what ---------------------------------------------------------------


async def test_facilitator_scope(
    admin: httpx.AsyncClient,
    make_user: MakeUser,
    as_user: AsUser,
    world: ParticipationWorld,
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
    assert await count_rows(raw_db, "participation_records") == 4
    assert (await facilitator.post(f"{BASE}/{mine['id']}/restore")).status_code == 403


async def test_analyst_and_partner(
    admin: httpx.AsyncClient,
    analyst: httpx.AsyncClient,
    make_user: MakeUser,
    as_user: AsUser,
    world: ParticipationWorld,
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


async def test_people_expose_participation_summary(
    admin: httpx.AsyncClient, world: ParticipationWorld
) -> None:
    program2 = (await make_program(admin, [world.a], **YEAR_2025))["id"]
    activity3 = (await make_activity(admin, program2, world.a, scheduled_end=UNTIL_3_MARCH))["id"]
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
    app: Any, admin: httpx.AsyncClient, world: ParticipationWorld
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


async def test_data_export_includes_participation(
    admin: httpx.AsyncClient, world: ParticipationWorld
) -> None:
    one = await post(admin, BASE, record(world.p_a, activity=world.activity))
    two = await post(admin, BASE, record(world.p_a, assessment=world.assessment))
    await post(admin, BASE, record(world.p_b, activity=world.activity))
    r = await admin.get(f"{PEOPLE}/{world.p_a}/data-export")
    assert r.status_code == 200, r.text
    section = r.json()["sections"]["participation_records"]
    assert {s["id"] for s in section} == {one["id"], two["id"]}
    assert all(s["person_id"] == world.p_a for s in section)
    assert {s["activity_id"] for s in section} == {world.activity, None}
