"""The participation report answers from rollups (app/reports/models.py); these tests hold
it to the raw computation over ``participation_records`` on randomised data.

Each phase changes the records in another way (single and multi-row inserts, soft deletes,
restores, changed dates/levels/roles/contexts, hard deletes, updates of uncounted columns,
API writes, batch writes, a person's erasure, corrections of sex and disability and a move
to another community) and then checks, for many filter combinations and two callers (an
admin and a facilitator of two communities), that ``GET /reports/participation`` equals
the same report computed straight from the raw rows, and that the rollup tables equal a
recomputation from scratch. A broken trigger or a sum that counts a person twice fails.
"""

from __future__ import annotations

import random
import uuid
from collections import Counter, defaultdict
from datetime import date, timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from app.auth.models import Role
from app.participation.models import LEVEL_ORDER, Level, ParticipationRole
from app.people.service import age_band
from tests.factories import (
    ASSESSMENTS,
    PEOPLE,
    RECORDS,
    REPORTS,
    AsUser,
    MakeCommunity,
    MakeUser,
    make_activity,
    make_person,
    make_program,
    post,
    record,
)

REGIONS = ["32.04.12.2001", "32.04.12.2002", "32.05.01.2001", "33.01.01.2001"]
LEVELS = [level.value for level in Level]
ROLES = [role.value for role in ParticipationRole]
FIRST_DAY = date(2025, 2, 1)
ON_DAY = "2025-03-10"  # the day of the first activity


class World:
    def __init__(self) -> None:
        self.communities: list[str] = []
        self.programs: list[str] = []
        # (activity_id or None, assessment_id or None, program_id or None)
        self.contexts: list[tuple[str | None, str | None, str | None]] = []
        self.people: list[str] = []
        self.admin_id = ""
        self.used: set[tuple[str, str]] = set()  # (person, context) pairs ever written


async def build(admin: httpx.AsyncClient, make_community: MakeCommunity) -> World:
    world = World()
    for n, region in enumerate(REGIONS):
        made = await make_community(name=f"Desa Acak {n}", region_code=region)
        world.communities.append(made["id"])
    c = world.communities
    p1 = (await make_program(admin, [c[0], c[1], c[2]], title="Air Bersih Desa"))["id"]
    p2 = (await make_program(admin, [c[2], c[3]], title="Posyandu Keliling"))["id"]
    world.programs = [p1, p2]
    for program, places in ((p1, c[:3]), (p2, c[2:])):
        for n, community in enumerate(places):
            for k in range(2):
                day = f"2025-0{3 + k}-{10 + n:02d}"
                activity = await make_activity(
                    admin,
                    program,
                    community,
                    title=f"Rembuk warga {n}-{k}",
                    scheduled_start=f"{day}T09:00:00+07:00",
                    scheduled_end=f"{day}T12:00:00+07:00",
                )
                world.contexts.append((activity["id"], None, program))
    assessment = await post(
        admin,
        ASSESSMENTS,
        {
            "community_id": c[3],
            "title": "Kajian kebutuhan Desa Acak",
            "methods": ["survey"],
            "started_on": "2025-02-10",
        },
    )
    world.contexts.append((None, assessment["id"], None))
    rng = random.Random(21)
    for n in range(18):
        extra: dict[str, Any] = {"disability": n % 5 == 0}
        if n % 4:
            extra["birth_year"] = 1950 + rng.randrange(60)
        made = await make_person(
            admin,
            c[n % 4],
            name=f"Warga Acak {n}",
            sex="female" if n % 3 else "male",
            purposes=["program_participation", "needs_assessment"],
            **extra,
        )
        world.people.append(made["id"])
    return world


async def community_of_context(raw_db: asyncpg.Pool, world: World) -> None:
    """Fill ``world.admin_id`` (the records' creator)."""
    world.admin_id = str(await raw_db.fetchval("SELECT id FROM users ORDER BY created_at LIMIT 1"))


def random_rows(world: World, rng: random.Random, count: int) -> list[tuple[Any, ...]]:
    """New (person, context) pairs never written before; any person, any community (a
    person may take part outside their own village), dates spread over five months."""
    rows: list[tuple[Any, ...]] = []
    for _ in range(count * 5):
        if len(rows) == count:
            break
        person = rng.choice(world.people)
        activity, assessment, program = rng.choice(world.contexts)
        key = (person, activity or assessment or "")
        if key in world.used:
            continue
        world.used.add(key)
        rows.append(
            (
                uuid.uuid4(),
                uuid.UUID(person),
                uuid.UUID(activity) if activity else None,
                uuid.UUID(assessment) if assessment else None,
                uuid.UUID(rng.choice(world.communities)),
                uuid.UUID(program) if program else None,
                FIRST_DAY + timedelta(days=rng.randrange(150)),
                rng.choice(LEVELS),
                rng.choice(ROLES),
                uuid.UUID(world.admin_id),
            )
        )
    return rows


INSERT = """
INSERT INTO participation_records (id, person_id, activity_id, assessment_id, community_id,
    program_id, date, level, role, created_by)
SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[], $5::uuid[], $6::uuid[],
    $7::date[], $8::text[], $9::text[], $10::uuid[])
"""


async def insert(raw_db: Any, rows: list[tuple[Any, ...]]) -> None:
    if rows:
        columns = [list(column) for column in zip(*rows, strict=True)]
        await raw_db.execute(INSERT, *columns)


async def ids(raw_db: Any, where: str) -> list[uuid.UUID]:
    return [r["id"] for r in await raw_db.fetch(f"SELECT id FROM participation_records {where}")]


# --- the raw computation (the report as it was computed before the rollups) -----------------


async def raw_report(
    raw_db: asyncpg.Pool, filters: dict[str, Any], scope: list[str] | None
) -> dict[str, Any]:
    conditions, args = ["r.deleted_at IS NULL"], []

    def arg(value: Any) -> str:
        args.append(value)
        return f"${len(args)}"

    if scope is not None:
        conditions.append(f"r.community_id = ANY({arg([uuid.UUID(s) for s in scope])}::uuid[])")
    if "community_id" in filters:
        conditions.append(f"r.community_id = {arg(uuid.UUID(filters['community_id']))}")
    if "region_code" in filters:
        conditions.append(
            "r.community_id IN (SELECT id FROM communities WHERE region_code LIKE "
            f"{arg(filters['region_code'] + '%')})"
        )
    if "program_id" in filters:
        conditions.append(f"r.program_id = {arg(uuid.UUID(filters['program_id']))}")
    if "date_from" in filters:
        conditions.append(f"r.date >= {arg(date.fromisoformat(filters['date_from']))}")
    if "date_to" in filters:
        conditions.append(f"r.date <= {arg(date.fromisoformat(filters['date_to']))}")
    where = " AND ".join(conditions)
    per_person = await raw_db.fetch(
        "SELECT p.sex, p.birth_year, p.birth_decade, p.disability, count(*) AS n, "
        "bool_or(r.role = 'decision_maker') AS decides "
        f"FROM participation_records r JOIN people p ON p.id = r.person_id WHERE {where} "
        "GROUP BY p.id",
        *args,
    )
    by_level_role = await raw_db.fetch(
        f"SELECT r.level, r.role, count(*) AS n FROM participation_records r WHERE {where} "
        "GROUP BY 1, 2",
        *args,
    )
    people: dict[str, Counter[str]] = defaultdict(Counter)
    records: dict[str, Counter[str]] = defaultdict(Counter)
    deciders = Counter[str]()
    for row in per_person:
        for dimension, value in (
            ("sex", row["sex"]),
            ("age_band", age_band(row["birth_year"], row["birth_decade"])),
            ("disability", "yes" if row["disability"] else "no"),
        ):
            people[dimension][value] += 1
            records[dimension][value] += row["n"]
        if row["decides"]:
            deciders[row["sex"]] += 1
    for row in by_level_role:
        records["level"][row["level"]] += row["n"]
        records["role"][row["role"]] += row["n"]

    def merged(dimension: str) -> dict[str, dict[str, int]]:
        keys = sorted(set(people[dimension]) | set(records[dimension]))
        return {k: {"people": people[dimension][k], "records": records[dimension][k]} for k in keys}

    total = sum(deciders.values())
    return {
        "people": len(per_person),
        "records": sum(row["n"] for row in per_person),
        "by_sex": merged("sex"),
        "by_age_band": merged("age_band"),
        "by_disability": merged("disability"),
        "records_by_level": {level: records["level"][level] for level in LEVEL_ORDER},
        "records_by_role": dict(sorted((k, v) for k, v in records["role"].items() if v)),
        "decision_makers": {
            "people": total,
            "women": deciders["female"],
            "women_share": round(deciders["female"] / total, 4) if total else None,
        },
    }


LIVE = """
SELECT community_id, coalesce(program_id, '00000000-0000-0000-0000-000000000000'::uuid) AS pk,
       person_id, date, level, role
FROM participation_records WHERE deleted_at IS NULL
"""
DAYS = """
array_agg(date ORDER BY date) AS days,
coalesce(array_agg(date ORDER BY date) FILTER (WHERE role = 'decision_maker'), '{}') AS dm_days
"""
MEMBERS = f"""
SELECT community_id, person_id, count(*)::int AS records,
       count(*) FILTER (WHERE role = 'decision_maker')::int AS dm_records, {DAYS}
FROM ({LIVE}) r GROUP BY 1, 2
"""
# (rollup query, recomputation from the raw rows); rows whose counts are all zero may stay
# in the rollups (sums ignore them), so they are left out of the comparison.
PAIRS = [
    (
        "SELECT community_id, program_key, day, level, role, records "
        "FROM report_participation_days WHERE records <> 0",
        f"SELECT community_id, pk, date, level, role, count(*) FROM ({LIVE}) r "
        "GROUP BY 1, 2, 3, 4, 5",
    ),
    (
        "SELECT community_id, program_key, level, role, records "
        "FROM report_participation_levels WHERE records <> 0",
        f"SELECT community_id, pk, level, role, count(*) FROM ({LIVE}) r GROUP BY 1, 2, 3, 4",
    ),
    (
        "SELECT community_id, program_key, month, level, role, records "
        "FROM report_participation_months WHERE records <> 0",
        "SELECT community_id, pk, date_trunc('month', date)::date, level, role, count(*) "
        f"FROM ({LIVE}) r GROUP BY 1, 2, 3, 4, 5",
    ),
    (
        "SELECT community_id, sex, eff_year, disability, month, records "
        "FROM report_participation_attr_months WHERE records <> 0",
        "SELECT r.community_id, p.sex, coalesce(p.birth_year, p.birth_decade + 5, -1), "
        "p.disability, date_trunc('month', r.date)::date, count(*) "
        f"FROM ({LIVE}) r JOIN people p ON p.id = r.person_id GROUP BY 1, 2, 3, 4, 5",
    ),
    (
        "SELECT community_id, program_key, person_id, records, dm_records, days, dm_days "
        "FROM report_participation_people",
        "SELECT community_id, pk, person_id, count(*)::int, "
        f"count(*) FILTER (WHERE role = 'decision_maker')::int, {DAYS} "
        f"FROM ({LIVE}) r GROUP BY 1, 2, 3",
    ),
    (
        "SELECT community_id, person_id, records, dm_records, days, dm_days "
        "FROM report_participation_members",
        MEMBERS,
    ),
    (
        "SELECT person_id, communities FROM report_participation_spread WHERE communities <> 0",
        f"SELECT person_id, count(*) FROM ({MEMBERS}) m GROUP BY 1",
    ),
    (
        "SELECT community_id, sex, eff_year, disability, people, records, dm_people "
        "FROM report_participation_groups WHERE (people, records, dm_people) <> (0, 0, 0)",
        "SELECT m.community_id, p.sex, coalesce(p.birth_year, p.birth_decade + 5, -1), "
        "p.disability, count(*), sum(m.records), count(*) FILTER (WHERE m.dm_records > 0) "
        f"FROM ({MEMBERS}) m JOIN people p ON p.id = m.person_id GROUP BY 1, 2, 3, 4",
    ),
    (
        "SELECT community_id, dm, sex, eff_year, disability, day, prev_day, people "
        "FROM report_participation_steps WHERE people <> 0",
        "SELECT m.community_id, k.dm, p.sex, coalesce(p.birth_year, p.birth_decade + 5, -1), "
        "p.disability, k.day, k.prev, count(*) "
        f"FROM ({MEMBERS}) m JOIN people p ON p.id = m.person_id CROSS JOIN LATERAL ("
        "  SELECT false AS dm, d AS day, lag(d, 1, '-infinity') OVER (ORDER BY d) AS prev"
        "  FROM unnest(m.days) d"
        "  UNION ALL"
        "  SELECT true, d, lag(d, 1, '-infinity') OVER (ORDER BY d) FROM unnest(m.dm_days) d"
        ") k GROUP BY 1, 2, 3, 4, 5, 6, 7",
    ),
]


async def assert_rollups_exact(raw_db: asyncpg.Pool) -> None:
    """Every maintained table holds exactly what a recomputation from scratch gives."""
    for rollup, recomputed in PAIRS:
        got = sorted(tuple(r) for r in await raw_db.fetch(rollup))
        want = sorted(tuple(r) for r in await raw_db.fetch(recomputed))
        assert got == want, rollup


def filter_sets(world: World) -> list[dict[str, Any]]:
    c, p = world.communities, world.programs
    return [
        {},
        {"community_id": c[0]},
        {"community_id": c[3]},
        {"region_code": "32"},
        {"region_code": "32.04"},
        {"region_code": "33"},
        {"program_id": p[0]},
        {"program_id": p[1]},
        {"date_from": "2025-03-15"},
        {"date_to": "2025-03-15"},
        {"date_from": "2025-03-01", "date_to": "2025-04-30"},
        {"date_from": "2025-04-02", "date_to": "2025-04-02"},
        {"date_from": "2026-01-01"},
        {"date_from": "2025-02-01", "date_to": "2025-05-31"},
        {"date_from": "2025-02-14", "date_to": "2025-05-03"},
        {"date_from": "2025-03-20", "date_to": "2025-04-10"},
        {"date_to": "2025-04-30"},
        {"region_code": "32", "date_from": "2025-03-01", "date_to": "2025-03-31"},
        {"program_id": p[0], "region_code": "32", "date_from": "2025-02-20"},
        {"community_id": c[2], "program_id": p[1], "date_to": "2025-05-31"},
    ]


async def assert_reports_match(
    raw_db: asyncpg.Pool,
    world: World,
    admin: httpx.AsyncClient,
    facilitator: httpx.AsyncClient,
) -> None:
    scope = [world.communities[0], world.communities[2]]
    for filters in filter_sets(world):
        for client, where in ((admin, None), (facilitator, scope)):
            response = await client.get(f"{REPORTS}/participation", params=filters)
            assert response.status_code == 200, response.text
            body = response.json()
            assert body.pop("as_of")
            assert body.pop("filters")["community_id"] == filters.get("community_id")
            assert body == await raw_report(raw_db, filters, where), (filters, where)


@pytest.fixture
async def setting(
    admin: httpx.AsyncClient,
    make_community: MakeCommunity,
    make_user: MakeUser,
    as_user: AsUser,
    raw_db: asyncpg.Pool,
) -> tuple[World, httpx.AsyncClient]:
    world = await build(admin, make_community)
    await community_of_context(raw_db, world)
    user = await make_user(
        Role.facilitator,
        communities=[uuid.UUID(world.communities[0]), uuid.UUID(world.communities[2])],
    )
    return world, as_user(user)


async def test_rollups_equal_the_raw_computation(
    admin: httpx.AsyncClient,
    raw_db: asyncpg.Pool,
    setting: tuple[World, httpx.AsyncClient],
) -> None:
    world, facilitator = setting
    rng = random.Random(2026)

    async def check() -> None:
        await assert_rollups_exact(raw_db)
        await assert_reports_match(raw_db, world, admin, facilitator)

    # 1. inserts: one statement of many rows, then single rows
    await insert(raw_db, random_rows(world, rng, 120))
    for row in random_rows(world, rng, 10):
        await insert(raw_db, [row])
    await check()

    # 2. soft deletes (one statement), restores of some of them, changed counted columns,
    # an update of uncounted columns only, hard deletes, all in one transaction
    live = await ids(raw_db, "WHERE deleted_at IS NULL ORDER BY id")
    deleted = rng.sample(live, 30)
    async with raw_db.acquire() as conn, conn.transaction():
        await conn.execute(
            "UPDATE participation_records SET deleted_at = now() WHERE id = ANY($1)", deleted
        )
        await conn.execute(
            "UPDATE participation_records SET deleted_at = NULL WHERE id = ANY($1)",
            deleted[:10],
        )
        for record_id in rng.sample(live, 20):
            await conn.execute(
                "UPDATE participation_records SET level = $2, role = $3, "
                "date = date + $4::int WHERE id = $1",
                record_id,
                rng.choice(LEVELS),
                rng.choice(ROLES),
                rng.randrange(-20, 20),
            )
        await conn.execute(
            "UPDATE participation_records SET community_id = $1 WHERE id = ANY($2)",
            uuid.UUID(world.communities[1]),
            rng.sample(live, 8),
        )
        await conn.execute(
            "UPDATE participation_records SET program_id = NULL WHERE id = ANY($1)",
            rng.sample(live, 5),
        )
        await conn.execute("UPDATE participation_records SET notes = 'dicatat ulang'")
        await conn.execute(
            "DELETE FROM participation_records WHERE id = ANY($1)", rng.sample(deleted[10:], 5)
        )
        await conn.execute(
            "DELETE FROM participation_records WHERE id = ANY($1)",
            rng.sample(await ids(conn, "WHERE deleted_at IS NULL"), 5),
        )
    await check()

    # 3. a rolled-back transaction leaves nothing behind, nor does a record inserted and
    # deleted within one transaction; the queue of pending deltas is empty after commits
    async with raw_db.acquire() as conn, conn.transaction():
        rows = random_rows(world, rng, 3)
        await insert(conn, rows)
        await conn.execute(
            "UPDATE participation_records SET date = date + 1 WHERE id = $1", rows[0][0]
        )
        await conn.execute("DELETE FROM participation_records WHERE id = $1", rows[1][0])
    assert await raw_db.fetchval("SELECT count(*) FROM report_participation_queue") == 0
    conn = await raw_db.acquire()
    try:
        transaction = conn.transaction()
        await transaction.start()
        await conn.execute("UPDATE participation_records SET deleted_at = now()")
        await transaction.rollback()
    finally:
        await raw_db.release(conn)
    await check()

    # 4. through the API: single and batch writes, a correction, delete and restore
    person, activity = world.people[0], world.contexts[0][0]  # held on 2025-03-10
    fresh = [p for p in world.people if (p, activity) not in world.used][:3]
    created = await post(
        admin, RECORDS, record(fresh[0], activity=activity, date=ON_DAY, role="decision_maker")
    )
    batch = await admin.post(
        f"{RECORDS}/batch",
        json={
            "rows": [record(p, activity=activity, date=ON_DAY, level="empower") for p in fresh[1:]]
        },
    )
    assert batch.status_code == 200, batch.text
    world.used.update((p, activity or "") for p in fresh)
    changed = await admin.patch(
        f"{RECORDS}/{created['id']}", json={"level": "collaborate", "role": "speaker"}
    )
    assert changed.status_code == 200, changed.text
    some = (await ids(raw_db, "WHERE deleted_at IS NULL ORDER BY id"))[:4]
    for record_id in some:
        assert (await admin.delete(f"{RECORDS}/{record_id}")).status_code == 204
    restored = await admin.post(f"{RECORDS}/{some[0]}/restore")
    assert restored.status_code == 200, restored.text
    await check()

    # 5. people change: erasure (birth year -> decade), sex and disability corrected, a
    # move to another community (their records keep the community they were made in)
    erased = await admin.post(f"{PEOPLE}/{world.people[1]}/erasure")
    assert erased.status_code == 200, erased.text
    fixed = await admin.patch(f"{PEOPLE}/{world.people[2]}", json={"sex": "male"})
    assert fixed.status_code == 200, fixed.text
    fixed = await admin.patch(f"{PEOPLE}/{world.people[3]}", json={"disability": True})
    assert fixed.status_code == 200, fixed.text
    moved = await admin.patch(f"{PEOPLE}/{person}", json={"community_id": world.communities[3]})
    assert moved.status_code == 200, moved.text
    await insert(raw_db, random_rows(world, rng, 15))
    await check()


async def test_truncate_empties_the_rollups(
    admin: httpx.AsyncClient,
    raw_db: asyncpg.Pool,
    setting: tuple[World, httpx.AsyncClient],
) -> None:
    world, _ = setting
    await insert(raw_db, random_rows(world, random.Random(5), 20))
    assert await raw_db.fetchval("SELECT count(*) FROM report_participation_people") > 0
    await raw_db.execute("TRUNCATE participation_records")
    assert await raw_db.fetchval("SELECT count(*) FROM report_participation_people") == 0
    assert await raw_db.fetchval("SELECT count(*) FROM report_participation_days") == 0


async def test_report_states_as_of(
    admin: httpx.AsyncClient, setting: tuple[World, httpx.AsyncClient]
) -> None:
    """Rollups are kept in the writing transaction: the answer is true as of the read."""
    response = await admin.get(f"{REPORTS}/participation")
    assert response.status_code == 200, response.text
    assert response.json()["as_of"].startswith(str(date.today().year))


@pytest.mark.parametrize(
    ("low", "high", "months", "head", "tail"),
    [
        # whole months only
        ("2025-01-01", "2025-12-31", ("2025-01-01", "2025-12-01"), None, None),
        # days at both ends around whole months
        (
            "2025-02-14",
            "2025-05-03",
            ("2025-03-01", "2025-04-01"),
            "2025-02-14..2025-02-28",
            "2025-05-01..2025-05-03",
        ),
        # no whole month: every day from the daily rollups, once
        ("2025-03-01", "2025-03-01", None, "2025-03-01..2025-03-01", None),
        ("2025-03-20", "2025-04-10", None, "2025-03-20..2025-04-10", None),
        # open ends (the repository's stand-ins) never overflow
        (
            "0001-01-02",
            "9999-12-30",
            ("0001-02-01", "9999-11-01"),
            "0001-01-02..0001-01-31",
            "9999-12-01..9999-12-30",
        ),
        ("9999-12-05", "9999-12-30", None, "9999-12-05..9999-12-30", None),
    ],
)
def test_date_span_splits_whole_months_and_end_days(
    low: str, high: str, months: Any, head: Any, tail: Any
) -> None:
    from app.reports.repository import _span

    span = _span(date.fromisoformat(low), date.fromisoformat(high))

    def part(bounds: tuple[date, date]) -> str | None:
        start, end = bounds
        return None if start > end else f"{start.isoformat()}..{end.isoformat()}"

    got_months = part((span.first_month, span.last_month))
    assert got_months == (f"{months[0]}..{months[1]}" if months else None)
    assert part(span.head) == head
    assert part(span.tail) == tail


async def test_plan_changing_filters_are_written_into_the_sql(
    app: Any, admin: httpx.AsyncClient
) -> None:
    """A region prefix and dates go into the statement's text, not bound: prepared
    statements switch to generic plans after five calls, measured 2-30x slower for them
    (app/reports/repository.py). A hostile prefix never gets that far (422)."""
    from sqlalchemy import event

    seen: list[str] = []

    def capture(_c: Any, _cur: Any, statement: str, *_: Any) -> None:
        seen.append(statement)

    engine = app.state.database.engine.sync_engine
    event.listen(engine, "before_cursor_execute", capture)
    try:
        response = await admin.get(
            f"{REPORTS}/participation",
            params={"region_code": "32.04", "date_from": "2025-03-15", "date_to": "2025-04-20"},
        )
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    assert response.status_code == 200, response.text
    text = "\n".join(seen)
    assert "LIKE '32.04%'" in text
    assert "'2025-03-15'" in text
    assert "'2025-04-20'" in text
    hostile = await admin.get(f"{REPORTS}/participation", params={"region_code": "32'; --"})
    assert hostile.status_code == 422
