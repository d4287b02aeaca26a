"""Benchmark of field sync (API.md §6), beside the floor of plain asyncpg.

    .venv/bin/python bench/sync_bench.py [--data-dir bench/results/sync-data] [--quick] \
        [--communities 1000 --people 100000 --programs 2000 --activities-per-program 5 \
         --records 1000000] [--community-rows 10000] [--rounds 3]

Seeds the bench data set with ``bench/seed.py`` (the full 1,000 / 100,000 / 1,000,000 set
by default, about 3 minutes on 2 cores, kept for the next run; ``--quick`` a small one),
adds one community of
``--community-rows`` rows (half people, registered with the registry's own code so
NIK and phone are encrypted, half their participation records) with a facilitator
assigned to it, starts ``berdaya serve`` (one worker), and measures over HTTP:

* the facilitator's first full sync of that community (500 changes per page), with the
  server's RSS sampled after every page (memory stays flat while it streams);
* one changes page of 500 (a page of the change log after a push, and a first-sync page);
* a push of 500 mutations (250 new people, then a participation record of each), and the
  a replace of each of those rows, which no run of creates can take: every mutation on
  its own, the push's slowest shape (no target; printed beside the floor of the creates).

Each figure is printed beside its floor on the same database through plain asyncpg —
for the push a batch ``INSERT … ON CONFLICT DO NOTHING`` of the same rows, for the reads
a ``SELECT`` of the same rows — and the ratio. Not a test: timings depend on the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import API, free_port, rss_mb, start_berdaya, stop, wait_ready
from bench.seed import add_size_flags, plain_dsn, seed, sizes_of, token

FACILITATOR = "fasilitator.sinkron@berdaya.id"
PASSWORD = "kata-sandi-bench-sinkron"


def check(response: httpx.Response, *statuses: int) -> Any:
    if response.status_code not in statuses:
        raise SystemExit(
            f"{response.request.method} {response.request.url}: {response.status_code} "
            f"{response.text[:400]}"
        )
    return response.json() if response.content else None


async def add_people(database_url: str, data_dir: Path, community_id: str, count: int) -> None:
    """People of the sync community, through the registry's own rules (encrypted)."""
    from app import db_models  # noqa: F401
    from app.cli import _personal_data
    from app.core.config import Settings
    from app.core.db import Database, create_engine
    from app.people.models import Person
    from app.people.service import apply_personal_fields

    settings = Settings(_env_file=None, data_dir=data_dir, database_url=database_url)
    personal = _personal_data(settings)
    database = Database(create_engine(settings))
    try:
        for start in range(0, count, 2000):
            async with database.sessions() as session:
                for n in range(start, min(start + 2000, count)):
                    values: dict[str, Any] = {
                        "community_id": uuid.UUID(community_id),
                        "full_name": f"Warga Sinkron {n:05d}",
                        "sex": "female" if n % 2 else "male",
                        "birth_year": 1950 + n % 60,
                        "nik": f"3204{990000000000 + n:012d}",
                        "phone": f"0813{n:08d}",
                        "consent_purposes": ["program_participation", "needs_assessment"],
                        "consent_given_at": datetime(2025, 1, 1, tzinfo=UTC),
                    }
                    apply_personal_fields(values, personal)
                    session.add(Person(**values))
                await session.commit()
    finally:
        await database.dispose()


async def prepare(base: str, admin: str, info: dict[str, Any], rows: int, data_dir: Path) -> dict:
    """The sync community, its rows and its facilitator (kept in sync.json for reuse)."""
    marker = data_dir / "sync.json"
    if marker.exists():
        kept: dict[str, Any] = json.loads(marker.read_text())
        if kept.get("rows") == rows:
            return kept
        raise SystemExit(f"{data_dir} holds a sync community of {kept.get('rows')} rows")
    import asyncpg

    headers = {"Authorization": f"Bearer {admin}"}
    async with httpx.AsyncClient(base_url=base + API, headers=headers, timeout=120) as client:
        # The first sync reads the first community; the pushes write in the second, so
        # the first keeps its size from run to run.
        community, pushed = [
            check(
                await client.post(
                    "/communities",
                    json={"name": name, "kind": "desa", "region_code": "32.04.12.2001"},
                ),
                201,
            )["id"]
            for name in ("Desa Sinkron", "Desa Sinkron Dua")
        ]
        assessments = [
            check(
                await client.post(
                    "/needs-assessments",
                    json={"community_id": where, "title": title, "methods": ["survey"]},
                ),
                201,
            )["id"]
            for where, title in (
                (community, "Kajian air bersih"),
                (pushed, "Kajian kesehatan ibu dan anak"),
            )
        ]
        user = check(
            await client.post(
                "/users",
                json={
                    "email": FACILITATOR,
                    "full_name": "Fasilitator Sinkron",
                    "role": "facilitator",
                    "password": PASSWORD,
                },
            ),
            201,
        )["id"]
        for where in (community, pushed):
            check(await client.put(f"/communities/{where}/facilitators/{user}"), 200, 201, 204)
    people = rows // 2
    await add_people(info["database_url"], data_dir, community, people)
    conn = await asyncpg.connect(plain_dsn(info["database_url"]))
    try:
        admin_id = await conn.fetchval("SELECT id FROM users WHERE email = $1", info["admin_email"])
        await conn.execute(
            """
            INSERT INTO participation_records
                (id, created_at, updated_at, person_id, assessment_id, community_id, date,
                 level, role, created_by)
            SELECT gen_random_uuid(), now(), now(), p.id, $2::uuid, p.community_id,
                   date '2025-06-01', 'consult', 'beneficiary', $3::uuid
            FROM people p WHERE p.community_id = $1::uuid LIMIT $4
            """,
            uuid.UUID(community),
            uuid.UUID(assessments[0]),
            admin_id,
            rows - people,
        )
        await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()
    kept = {"rows": rows, "community": community, "pushed": pushed, "assessment": assessments[1]}
    marker.write_text(json.dumps(kept))
    return kept


def replacing(mutations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A replace of each row the mutations created (``base_version`` 1): a push that no run
    of creates can take, every mutation on its own (the push's slowest shape)."""
    out = []
    for m in mutations:
        data = dict(m["data"])
        if m["resource"] == "people":
            data["full_name"] += " (dicek)"
        else:
            data["level"] = "collaborate"
        out.append(
            {**m, "mutation_id": m["mutation_id"] + "-edit", "base_version": 1, "data": data}
        )
    return out


def mutations_of(community: str, assessment: str, round_no: int) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    people = [uuid.uuid4() for _ in range(250)]
    run = uuid.uuid4().hex[:8]  # mutation ids are a device's own: new ones on every run
    for n, pid in enumerate(people):
        out.append(
            {
                "mutation_id": f"{run}-{round_no}-p{n}",
                "resource": "people",
                "id": str(pid),
                "op": "upsert",
                "data": {
                    "community_id": community,
                    "full_name": f"Warga Baru {round_no}-{n}",
                    "sex": "female" if n % 2 else "male",
                    "consent_purposes": ["needs_assessment"],
                },
            }
        )
    for n, pid in enumerate(people):
        out.append(
            {
                "mutation_id": f"{run}-{round_no}-r{n}",
                "resource": "participation_records",
                "id": str(uuid.uuid4()),
                "op": "upsert",
                "data": {
                    "person_id": str(pid),
                    "assessment_id": assessment,
                    "date": "2025-06-02",
                    "level": "involve",
                    "role": "beneficiary",
                },
            }
        )
    return out


async def floor_insert(dsn: str, community: str, assessment: str, admin_id: Any) -> float:
    """The same 500 rows through one batch INSERT … ON CONFLICT per table (asyncpg)."""
    import asyncpg

    conn = await asyncpg.connect(dsn)
    try:
        people = [uuid.uuid4() for _ in range(250)]
        started = time.perf_counter()
        async with conn.transaction():
            await conn.executemany(
                "INSERT INTO people (id, community_id, full_name, sex, consent_purposes, "
                "consent_given_at, created_at, updated_at) "
                "VALUES ($1, $2, $3, $4, $5, now(), now(), now()) ON CONFLICT DO NOTHING",
                [
                    (pid, uuid.UUID(community), f"Lantai {n}", "female", ["needs_assessment"])
                    for n, pid in enumerate(people)
                ],
            )
            await conn.executemany(
                "INSERT INTO participation_records (id, person_id, assessment_id, community_id, "
                "date, level, role, created_by, created_at, updated_at) "
                "VALUES ($1, $2, $3, $4, date '2025-06-02', 'involve', 'beneficiary', $5, "
                "now(), now()) ON CONFLICT DO NOTHING",
                [
                    (uuid.uuid4(), pid, uuid.UUID(assessment), uuid.UUID(community), admin_id)
                    for pid in people
                ],
            )
        return time.perf_counter() - started
    finally:
        await conn.close()


async def floor_select(dsn: str, community: str, limit: int | None) -> float:
    import asyncpg

    conn = await asyncpg.connect(dsn)
    try:
        started = time.perf_counter()
        await conn.fetch(
            "SELECT * FROM people WHERE community_id = $1 ORDER BY id LIMIT $2",
            uuid.UUID(community),
            limit or 1_000_000,
        )
        if limit is None:
            await conn.fetch(
                "SELECT * FROM participation_records WHERE community_id = $1 ORDER BY id",
                uuid.UUID(community),
            )
        return time.perf_counter() - started
    finally:
        await conn.close()


async def run(args: argparse.Namespace, info: dict[str, Any]) -> None:
    port = free_port()
    server = start_berdaya(args.data_dir, info["database_url"], port, workers=1)
    base = f"http://127.0.0.1:{port}"
    dsn = plain_dsn(info["database_url"])
    try:
        wait_ready(base)
        admin = token(base, info["admin_password"])
        kept = await prepare(base, admin, info, args.community_rows, args.data_dir)
        async with httpx.AsyncClient(base_url=base, timeout=120) as anon:
            field = check(
                await anon.post(
                    f"{API}/auth/token",
                    data={"grant_type": "password", "username": FACILITATOR, "password": PASSWORD},
                ),
                200,
            )["access_token"]
        headers = {"Authorization": f"Bearer {field}"}
        async with httpx.AsyncClient(base_url=base + API, headers=headers, timeout=120) as client:
            await report(client, server.pid, dsn, kept, args.rounds)
    finally:
        stop(server)


async def full_sync(
    client: httpx.AsyncClient, pid: int, community: str
) -> tuple[float, int, int, list[float]]:
    cursor, rows, pages, rss = None, 0, 0, []
    started = time.perf_counter()
    while True:
        params: dict[str, Any] = {"limit": 500, "community_id": community}
        if cursor:
            params["cursor"] = cursor
        page = check(await client.get("/sync/changes", params=params), 200)
        rows += len(page["changes"])
        pages += 1
        cursor = page["next_cursor"]
        rss.append(rss_mb(pid))
        if not page["has_more"]:
            return time.perf_counter() - started, rows, pages, rss


async def report(
    client: httpx.AsyncClient, pid: int, dsn: str, kept: dict[str, Any], rounds: int
) -> None:
    import asyncpg

    community, pushed, assessment = kept["community"], kept["pushed"], kept["assessment"]
    syncs = [await full_sync(client, pid, community) for _ in range(rounds)]
    sync_s = statistics.median(s[0] for s in syncs)
    _, rows, pages, rss = syncs[-1]
    first_page = check(
        await client.get("/sync/changes", params={"limit": 500, "community_id": community}), 200
    )
    snapshot_pages = []
    for _ in range(rounds):
        started = time.perf_counter()
        check(
            await client.get(
                "/sync/changes",
                params={
                    "limit": 500,
                    "cursor": first_page["next_cursor"],
                    "community_id": community,
                },
            ),
            200,
        )
        snapshot_pages.append(time.perf_counter() - started)
    # A cursor at the end of the feed, then a push of creates: its 500 changes are one log
    # page (read before the replaces, which would supersede them).
    pushes: list[float] = []
    replace_pushes: list[float] = []
    log_pages: list[float] = []
    cursor = None
    for n in range(rounds):
        _, cursor = await end_cursor(client, cursor)
        created = mutations_of(pushed, assessment, n)
        pushes.append(await timed_push(client, created))
        started = time.perf_counter()
        page = check(
            await client.get("/sync/changes", params={"limit": 500, "cursor": cursor}), 200
        )
        log_pages.append(time.perf_counter() - started)
        replace_pushes.append(await timed_push(client, replacing(created)))
    log_count = len(page["changes"])
    conn = await asyncpg.connect(dsn)
    admin_id = await conn.fetchval("SELECT id FROM users WHERE role = 'admin' LIMIT 1")
    await conn.close()
    floor_push = statistics.median(
        [await floor_insert(dsn, pushed, assessment, admin_id) for _ in range(rounds)]
    )
    floor_page = statistics.median([await floor_select(dsn, community, 500) for _ in range(rounds)])
    floor_sync = statistics.median(
        [await floor_select(dsn, community, None) for _ in range(rounds)]
    )
    print(f"\nfirst full sync: {rows} rows in {pages} pages of 500 (median of {rounds})")
    print(f"server RSS per page (MB): min {min(rss):.0f}, max {max(rss):.0f}, last {rss[-1]:.0f}")
    print(f"{'scenario':<38}{'target':>9}{'median':>10}{'floor':>10}{'ratio':>8}  target")
    lines = [
        ("push of 500 mutations", "1 s", statistics.median(pushes), floor_push),
        ("  500 replaces of those rows", "-", statistics.median(replace_pushes), floor_push),
        (
            f"changes page, log ({log_count} changes)",
            "0.2 s",
            statistics.median(log_pages),
            floor_page,
        ),
        ("changes page, first sync (500)", "0.2 s", statistics.median(snapshot_pages), floor_page),
        (f"first full sync ({rows} rows)", "5 s", sync_s, floor_sync),
    ]
    for name, target, measured, floor in lines:
        mark = "" if target == "-" else ("met" if measured <= float(target[:-2]) else "NOT met")
        print(
            f"{name:<38}{target:>9}{measured:>9.3f}s{floor:>9.3f}s{measured / floor:>7.1f}x  {mark}"
        )


async def timed_push(client: httpx.AsyncClient, mutations: list[dict[str, Any]]) -> float:
    body = {"device_id": "bench-tablet", "mutations": mutations}
    started = time.perf_counter()
    result = check(await client.post("/sync/push", json=body), 200)
    elapsed = time.perf_counter() - started
    statuses = {r["status"] for r in result["results"]}
    if statuses != {"applied"}:
        raise SystemExit(f"push: {statuses} {result['results'][:2]}")
    return elapsed


async def end_cursor(client: httpx.AsyncClient, cursor: str | None = None) -> tuple[int, str]:
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 500}
        if cursor:
            params["cursor"] = cursor
        page = check(await client.get("/sync/changes", params=params), 200)
        cursor, pages = page["next_cursor"], pages + 1
        if not page["has_more"]:
            return pages, cursor


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=Path("bench/results/sync-data"))
    add_size_flags(parser)  # the bench data set: 1,000 / 100,000 / 1,000,000 by default
    parser.add_argument(
        "--quick", action="store_true", help="50 communities, 5,000 people, 20,000 records"
    )
    parser.add_argument("--community-rows", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if args.quick:
        args.communities, args.people, args.programs = 50, 5000, 100
        args.activities_per_program, args.records = 2, 20_000
        if args.data_dir == Path("bench/results/sync-data"):
            args.data_dir = Path("bench/results/sync-data-quick")
    sizes = sizes_of(args)
    print(f"bench data set sizes: {sizes}; sync community rows: {args.community_rows}")
    info = seed(args.data_dir, sizes)
    asyncio.run(run(args, info))


if __name__ == "__main__":
    main()
