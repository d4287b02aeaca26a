"""Seed a realistic data set for the benchmark.

    .venv/bin/python bench/seed.py --data-dir bench/results/data \
        [--communities 1000 --people 100000 --programs 2000 --activities-per-program 5 \
         --records 1000000]

How each part is written, and why:

* communities, programs and activities: through the HTTP API of a running Berdaya
  (validation, scoping, audit events, the program-community links), 32 requests at a time.
* people: through the project's own code in-process: ``Person`` models built with the
  registry's rules (``people.service.apply_personal_fields`` encrypts NIK and phone and
  computes the NIK digest and birth decade with the instance's keys), added with the ORM
  in chunks of 2,000. 100,000 POST /people would take several minutes on 2 cores for no
  added coverage: the rules are the same code.
* participation records: raw SQL ``INSERT ... SELECT`` (every person takes part in the
  activities held in their community, up to ``--records`` rows). One million rows through
  the batch endpoint would take ~1,000 requests of ~0.5 s; the batch endpoint is measured
  by the benchmark itself. The SQL writes what ``participation.service.record_values``
  would (community and program derived from the activity, a live consented person, a date
  inside the schedule) but no audit event per seeded row. ``created_at`` is spread over
  time so keyset pages are realistic. Ends with ``VACUUM ANALYZE``.

The data folder keeps the embedded PostgreSQL, the instance secrets and ``bench.json``
(admin credentials and the sizes seeded); a second run with the same sizes reuses it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import secrets
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import API, free_port, start_berdaya, stop, wait_ready

ADMIN_EMAIL = "bench@berdaya.id"
SIZES = ("communities", "people", "programs", "activities_per_program", "records")


def add_size_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--communities", type=int, default=1000)
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--programs", type=int, default=2000)
    parser.add_argument("--activities-per-program", type=int, default=5)
    parser.add_argument("--records", type=int, default=1_000_000)


def sizes_of(args: argparse.Namespace) -> dict[str, int]:
    return {name: int(getattr(args, name)) for name in SIZES}


def start_database(data_dir: Path) -> str:
    """Start the embedded PostgreSQL of ``data_dir`` in this process; its asyncpg URL."""
    from app.core.db import start_embedded

    return start_embedded(data_dir.resolve())


def plain_dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


def token(base: str, password: str) -> str:
    response = httpx.post(
        base + f"{API}/auth/token",
        data={"grant_type": "password", "username": ADMIN_EMAIL, "password": password},
        timeout=30,
    )
    response.raise_for_status()
    return str(response.json()["access_token"])


async def _post_all(
    client: httpx.AsyncClient, path: str, bodies: list[dict[str, Any]], label: str
) -> list[str]:
    gate = asyncio.Semaphore(32)
    done = 0
    began = time.perf_counter()

    async def one(body: dict[str, Any]) -> str:
        nonlocal done
        async with gate:
            for attempt in range(5):
                response = await client.post(path, json=body)
                if response.status_code == 201:
                    break
                if response.status_code != 503 or attempt == 4:
                    raise SystemExit(f"POST {path}: {response.status_code} {response.text[:300]}")
                await asyncio.sleep(0.5)
            done += 1
            if done % 2000 == 0:
                print(f"  {label}: {done}/{len(bodies)}", flush=True)
            return str(response.json()["id"])

    ids = await asyncio.gather(*(one(b) for b in bodies))
    print(f"  {label}: {len(bodies)} in {time.perf_counter() - began:.1f} s", flush=True)
    return list(ids)


async def seed_over_api(base: str, bearer: str, sizes: dict[str, int]) -> None:
    headers = {"Authorization": f"Bearer {bearer}"}
    limits = httpx.Limits(max_connections=32, max_keepalive_connections=32)
    async with httpx.AsyncClient(
        base_url=base + API, headers=headers, timeout=60, limits=limits
    ) as client:
        kinds = ("desa", "kelurahan")
        communities = await _post_all(
            client,
            "/communities",
            [
                {
                    "name": f"Desa Bench {n:05d}",
                    "kind": kinds[n % 2],
                    "region_code": f"32.{1 + n % 30:02d}.{1 + n % 40:02d}.{2001 + n % 900:04d}",
                    "population": 800 + (n * 37) % 5000,
                    "households": 200 + (n * 13) % 1500,
                }
                for n in range(sizes["communities"])
            ],
            "communities",
        )
        count = len(communities)
        programs = await _post_all(
            client,
            "/programs",
            [
                {
                    "title": f"Program Bench {n:05d}",
                    "community_ids": [communities[n % count], communities[(n + 1) % count]]
                    if count > 1
                    else [communities[0]],
                    "start_date": "2025-01-01",
                    "end_date": "2025-12-31",
                    "objectives": ["Meningkatkan akses air bersih"],
                }
                for n in range(sizes["programs"])
            ],
            "programs",
        )
        bodies: list[tuple[str, dict[str, Any]]] = []
        for n, program in enumerate(programs):
            for k in range(sizes["activities_per_program"]):
                day = 1 + (n + k * 29) % 300
                start = datetime(2025, 1, 1, 9, tzinfo=UTC) + timedelta(days=day)
                bodies.append(
                    (
                        program,
                        {
                            "title": f"Pelatihan {n}-{k}",
                            "kind": "training",
                            "community_id": communities[(n + k % 2) % count]
                            if count > 1
                            else communities[0],
                            "scheduled_start": start.isoformat(),
                            "scheduled_end": (start + timedelta(hours=6)).isoformat(),
                        },
                    )
                )
        gate = asyncio.Semaphore(32)
        began = time.perf_counter()

        async def activity(program: str, body: dict[str, Any]) -> None:
            async with gate:
                response = await client.post(f"/programs/{program}/activities", json=body)
                if response.status_code != 201:
                    raise SystemExit(f"activity: {response.status_code} {response.text[:300]}")

        await asyncio.gather(*(activity(p, b) for p, b in bodies))
        print(f"  activities: {len(bodies)} in {time.perf_counter() - began:.1f} s", flush=True)


async def seed_people(data_dir: Path, database_url: str, count: int) -> None:
    from app import db_models  # noqa: F401
    from app.cli import _personal_data
    from app.communities.models import Community
    from app.core.config import Settings
    from app.core.db import Database, create_engine
    from app.people.models import Person
    from app.people.service import apply_personal_fields

    settings = Settings(_env_file=None, data_dir=data_dir, database_url=database_url)  # type: ignore[call-arg]
    personal = _personal_data(settings)
    database = Database(create_engine(settings))
    rng = random.Random(7)
    given = [
        "Siti",
        "Budi",
        "Dewi",
        "Agus",
        "Wati",
        "Yusuf",
        "Rina",
        "Hendra",
        "Ani",
        "Joko",
    ]
    family = ["Aminah", "Santoso", "Lestari", "Hidayat", "Rahayu", "Saputra", "Wijaya", "Utami"]
    began = time.perf_counter()
    try:
        async with database.sessions() as session:
            from sqlalchemy import select

            community_ids = list(
                (await session.execute(select(Community.id).order_by(Community.id))).scalars()
            )
        chunk = 2000
        for start in range(0, count, chunk):
            async with database.sessions() as session:
                for n in range(start, min(start + chunk, count)):
                    values: dict[str, Any] = {
                        "community_id": community_ids[n % len(community_ids)],
                        "full_name": f"{rng.choice(given)} {rng.choice(family)} {n}",
                        "sex": "female" if n % 2 else "male",
                        "birth_year": 1950 + n % 60,
                        "nik": f"3204{n:012d}",
                        "phone": f"0812{n:08d}",
                        "disability": n % 23 == 0,
                        "vulnerable_groups": ["elderly"] if n % 60 < 5 else [],
                        "consent_purposes": ["program_participation", "needs_assessment"],
                        "consent_given_at": datetime(2025, 1, 1, tzinfo=UTC),
                    }
                    apply_personal_fields(values, personal)
                    session.add(Person(**values))
                await session.commit()
            if (start + chunk) % 20000 == 0:
                print(f"  people: {start + chunk}/{count}", flush=True)
    finally:
        await database.dispose()
    print(f"  people: {count} in {time.perf_counter() - began:.1f} s", flush=True)


async def seed_records(database_url: str, count: int, admin_id: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(plain_dsn(database_url))
    began = time.perf_counter()
    try:
        # Raw SQL for volume (see the module docstring). The values follow the rules of
        # participation.service: community and program from the activity, a consented
        # person of that community, the activity's day; levels spread over IAP2.
        await conn.execute(
            """
            INSERT INTO participation_records
                (id, created_at, updated_at, person_id, activity_id, community_id,
                 program_id, date, level, role, hours, created_by)
            SELECT uuidv7(), ts, ts, person_id, activity_id, community_id, program_id, day,
                   (ARRAY['inform','consult','involve','collaborate','empower'])[1 + n % 5],
                   (ARRAY['beneficiary','beneficiary','beneficiary','volunteer','cadre'])
                       [1 + n % 5],
                   2 + n % 4, $2::uuid
            FROM (
                SELECT p.id AS person_id, a.id AS activity_id, p.community_id,
                       a.program_id, a.scheduled_start::date AS day,
                       row_number() OVER () AS n,
                       timestamptz '2025-01-01' + (row_number() OVER ()) * interval '20 s' AS ts
                FROM activities a
                JOIN people p ON p.community_id = a.community_id AND p.deleted_at IS NULL
                WHERE a.deleted_at IS NULL
                LIMIT $1
            ) rows
            """,
            count,
            admin_id,
        )
        print(f"  records: {count} in {time.perf_counter() - began:.1f} s", flush=True)
        began = time.perf_counter()
        await conn.execute("VACUUM ANALYZE")
        print(f"  vacuum analyze: {time.perf_counter() - began:.1f} s", flush=True)
    finally:
        await conn.close()


def seed(data_dir: Path, sizes: dict[str, int]) -> dict[str, Any]:
    """Seed ``data_dir`` (or reuse it when it holds the same sizes); returns its bench.json."""
    data_dir.mkdir(parents=True, exist_ok=True)
    marker = data_dir / "bench.json"
    database_url = start_database(data_dir)
    if marker.exists():
        info: dict[str, Any] = json.loads(marker.read_text())
        if info.get("sizes") == sizes:
            print(f"reusing the data set in {data_dir}", flush=True)
            info["database_url"] = database_url
            return info
        raise SystemExit(
            f"{data_dir} holds another data set ({info.get('sizes')}); use another --data-dir"
        )
    password = secrets.token_urlsafe(16)
    import os

    os.environ["BERDAYA_ADMIN_EMAIL"] = ADMIN_EMAIL
    os.environ["BERDAYA_ADMIN_PASSWORD"] = password
    port = free_port()
    began = time.perf_counter()
    print(f"seeding {sizes} into {data_dir}", flush=True)
    server = start_berdaya(data_dir, database_url, port, workers=1)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base)
        bearer = token(base, password)
        asyncio.run(seed_over_api(base, bearer, sizes))
    finally:
        stop(server)
    asyncio.run(seed_people(data_dir, database_url, sizes["people"]))

    async def admin_id() -> str:
        import asyncpg

        conn = await asyncpg.connect(plain_dsn(database_url))
        try:
            return str(await conn.fetchval("SELECT id FROM users WHERE email = $1", ADMIN_EMAIL))
        finally:
            await conn.close()

    asyncio.run(seed_records(database_url, sizes["records"], asyncio.run(admin_id())))
    info = {"sizes": sizes, "admin_email": ADMIN_EMAIL, "admin_password": password}
    marker.write_text(json.dumps(info))
    print(f"seeded in {time.perf_counter() - began:.0f} s", flush=True)
    return {**info, "database_url": database_url}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=Path("bench/results/data"))
    add_size_flags(parser)
    args = parser.parse_args()
    seed(args.data_dir, sizes_of(args))


if __name__ == "__main__":
    main()
