"""Beyond one machine, measured (docs/scaling.md): the cost of running behind PgBouncer in
transaction mode, the connections a worker holds, and exports on a streaming replica.

    .venv/bin/python bench/scale.py [--seconds 8] [--communities 2000]

Starts its own primary and streaming replica (embedded PostgreSQL binaries, as
tests/scale/cluster.py does) and a PgBouncer 1.18 in transaction mode, then runs one
``berdaya serve`` (1 worker) at a time in three ways:

  direct      DATABASE_URL straight to PostgreSQL, statements kept prepared (the default)
  unprepared  straight to PostgreSQL, BERDAYA_DATABASE_PGBOUNCER=true (no kept statements):
              the cost of unnamed statements alone
  pgbouncer   through PgBouncer, BERDAYA_DATABASE_PGBOUNCER=true: what production pays

and drives GET by id, a list page and POST with 32 connections (wrk, or the Python driver).
It prints requests/s, p50 and p99, the server connections each configuration held at peak,
and an export's time and X-Served-By on the primary and on the replica.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import asyncpg
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import API, free_port, stop, wait_ready
from bench.driver import Load, drive
from tests.scale.cluster import bouncer_in_front, start_cluster

ADMIN = ("bench-admin@berdaya.id", "bench-sandi-rahasia-123")
CONNECTIONS = 32


def serve(data_dir: Path, port: int, env: dict[str, str]) -> Any:
    import subprocess

    berdaya = Path(sys.executable).with_name("berdaya")
    full = {
        **{k: v for k, v in os.environ.items() if not k.startswith("BERDAYA_")},
        "BERDAYA_DATA_DIR": str(data_dir),
        "BERDAYA_LOG_LEVEL": "WARNING",
        "BERDAYA_DISPATCHER": "external",
        "BERDAYA_ADMIN_EMAIL": ADMIN[0],
        "BERDAYA_ADMIN_PASSWORD": ADMIN[1],
        "BERDAYA_DB_POOL_SIZE": "20",
        "BERDAYA_DB_MAX_OVERFLOW": "0",
        **env,
    }
    return subprocess.Popen(
        [str(berdaya), "serve", "--port", str(port), "--workers", "1"],
        env=full,
        stdout=subprocess.DEVNULL,
    )


def token(base: str) -> str:
    r = httpx.post(
        f"{base}{API}/auth/token",
        data={"grant_type": "password", "username": ADMIN[0], "password": ADMIN[1]},
    )
    r.raise_for_status()
    return str(r.json()["access_token"])


async def seed(base: str, bearer: str, count: int) -> list[str]:
    headers = {"Authorization": f"Bearer {bearer}"}
    gate = asyncio.Semaphore(16)
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=60) as client:

        async def one(n: int) -> str:
            async with gate:
                r = await client.post(
                    f"{API}/communities",
                    json={
                        "name": f"Desa Bangku {n:05d}",
                        "kind": "desa",
                        "region_code": f"32.{n % 30 + 1:02d}.01.2001",
                        "population": 900 + n,
                    },
                )
                r.raise_for_status()
                return str(r.json()["id"])

        return list(await asyncio.gather(*(one(n) for n in range(count))))


async def connections_held(primary_url: str) -> int:
    conn = await asyncpg.connect(primary_url)
    try:
        return int(
            await conn.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' "
                "AND datname = 'berdaya' AND pid <> pg_backend_pid()"
            )
        )
    finally:
        await conn.close()


def scenario(base: str, bearer: str, ids: list[str], seconds: float) -> dict[str, Any]:
    auth = {"Authorization": f"Bearer {bearer}"}
    loads = {
        "GET /communities/{id}": Load("GET", [f"{API}/communities/{i}" for i in ids], None, auth),
        "GET /communities?limit=50": Load("GET", [f"{API}/communities?limit=50"], None, auth),
        "POST /communities": Load(
            "POST",
            [f"{API}/communities"],
            [
                json.dumps(
                    {"name": f"Desa Baru {n}", "kind": "desa", "region_code": "32.04.12.2001"}
                ).encode()
                for n in range(200_000)
            ],
            auth,
        ),
    }
    out = {}
    for name, load in loads.items():
        result = drive(base, load, seconds if load.method == "GET" else seconds / 2, CONNECTIONS)
        out[name] = {
            "rps": round(result.rps),
            "p50_ms": round(result.p50_ms, 1),
            "p99_ms": round(result.p99_ms, 1),
            "errors": result.errors,
        }
    return out


async def statement_cost(direct_url: str, pooled_url: str, runs: int = 3000) -> dict[str, Any]:
    """One connection, one GET-by-id statement run ``runs`` times in a row: microseconds
    per statement kept prepared (asyncpg's cache), unnamed (cache off: parsed on every
    run) and unnamed through PgBouncer. Less sensitive to a busy machine than a load run."""
    sql = "SELECT id, name, kind, region_code, population FROM communities WHERE id = $1"
    out: dict[str, Any] = {}
    for name, url, options in (
        ("kept_direct", direct_url, {}),
        ("unnamed_direct", direct_url, {"statement_cache_size": 0}),
        ("unnamed_pgbouncer", pooled_url, {"statement_cache_size": 0}),
    ):
        conn = await asyncpg.connect(url, **options)
        try:
            ids = [r["id"] for r in await conn.fetch("SELECT id FROM communities LIMIT 500")]
            for i in ids[:50]:
                await conn.fetchrow(sql, i)
            best = float("inf")
            for _ in range(3):
                started = time.perf_counter()
                for n in range(runs):
                    await conn.fetchrow(sql, ids[n % len(ids)])
                best = min(best, time.perf_counter() - started)
            out[name] = round(best / runs * 1e6, 1)
        finally:
            await conn.close()
    return out


async def wal_per_row(base: str, bearer: str, primary_url: str, people: int) -> dict[str, Any]:
    """WAL bytes written per participation record through the 1,000-row batch, and per
    single POST of a community (pg_current_wal_lsn before and after, nothing else
    writing; checkpoints' full-page images included as they fall)."""
    from tests.factories import (
        COMMUNITIES,
        RECORDS,
        UNTIL_3_MARCH,
        build_participation_world,
        make_activity,
        make_people,
        record,
    )

    headers = {"Authorization": f"Bearer {bearer}"}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=120) as admin:

        async def make_community(**overrides: Any) -> dict[str, Any]:
            body = {"name": "Desa WAL", "kind": "desa", "region_code": "32.04.12.2001"}
            r = await admin.post(COMMUNITIES, json={**body, **overrides})
            r.raise_for_status()
            made: dict[str, Any] = r.json()
            return made

        world = await build_participation_world(admin, make_community)
        persons = await make_people(admin, world.a, people)
        activities = [
            (await make_activity(admin, world.program, world.a, scheduled_end=UNTIL_3_MARCH))["id"]
            for _ in range(4)
        ]
        conn = await asyncpg.connect(primary_url)
        try:
            lsn = "SELECT pg_current_wal_lsn()::text"
            diff = "SELECT pg_wal_lsn_diff($1::text::pg_lsn, $2::text::pg_lsn)"
            before = await conn.fetchval(lsn)
            rows = 0
            for activity in activities:
                batch = [record(p, activity=activity) for p in persons]
                r = await admin.post(f"{RECORDS}/batch", json={"rows": batch})
                r.raise_for_status()
                rows += sum(1 for x in r.json()["results"] if x["status"] == "created")
            after = await conn.fetchval(lsn)
            per_record = float(await conn.fetchval(diff, after, before)) / max(rows, 1)
            before = await conn.fetchval(lsn)
            for n in range(200):
                await make_community(name=f"Desa WAL {n}")
            after = await conn.fetchval(lsn)
            per_post = float(await conn.fetchval(diff, after, before)) / 200
        finally:
            await conn.close()
    return {
        "records": rows,
        "wal_bytes_per_record_batch": round(per_record),
        "wal_bytes_per_community_post": round(per_post),
    }


def export_timing(base: str, bearer: str, rounds: int = 5) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {bearer}"}
    took, served, rows, lags = [], set(), 0, []
    with httpx.Client(base_url=base, headers=headers, timeout=120) as client:
        for _ in range(rounds):
            started = time.perf_counter()
            r = client.get(f"{API}/exports/communities")
            took.append(time.perf_counter() - started)
            r.raise_for_status()
            served.add(r.headers.get("x-served-by"))
            rows = r.text.count("\n")
            if "x-replica-lag-seconds" in r.headers:
                lags.append(float(r.headers["x-replica-lag-seconds"]))
    took.sort()
    return {
        "served_by": sorted(s for s in served if s),
        "rows": rows,
        "median_ms": round(took[len(took) // 2] * 1000, 1),
        "lag_s_max": max(lags) if lags else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--communities", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--people", type=int, default=250, help="rows per batch (WAL)")
    args = parser.parse_args()

    from app.cli import migrate
    from app.core.config import Settings
    from app.core.db import ensure_database

    cluster = start_cluster()
    bouncer, pooled_url = None, ""
    data_dir = Path(tempfile.mkdtemp(prefix="berdaya-bench-scale-"))
    results: dict[str, Any] = {}
    try:
        ensure_database(cluster.primary.url(), "berdaya")
        primary = cluster.primary.url("berdaya")
        migrate(Settings(_env_file=None, database_url=primary))
        bouncer, pooled_url = bouncer_in_front(primary, pool_size=20)
        setups = {
            "direct": {"DATABASE_URL": primary},
            "unprepared": {"DATABASE_URL": primary, "BERDAYA_DATABASE_PGBOUNCER": "true"},
            "pgbouncer": {
                "DATABASE_URL": pooled_url,
                "BERDAYA_DATABASE_PGBOUNCER": "true",
                "BERDAYA_DATABASE_DIRECT_URL": primary,
            },
        }
        ids: list[str] = []
        runs: dict[str, list[dict[str, Any]]] = {name: [] for name in setups}
        for round_ in range(args.rounds):  # interleaved: a busy moment hits all three
            for name, env in setups.items():
                port = free_port()
                proc = serve(data_dir, port, env)
                base = f"http://127.0.0.1:{port}"
                try:
                    wait_ready(base, "/readyz")
                    bearer = token(base)
                    if not ids:
                        ids = asyncio.run(seed(base, bearer, args.communities))
                    random.shuffle(ids)
                    run = scenario(base, bearer, ids[:1000], args.seconds)
                    run["server_connections_after"] = asyncio.run(connections_held(primary))
                    runs[name].append(run)
                finally:
                    stop(proc)
                print(f"round {round_ + 1}", name, json.dumps(runs[name][-1]), flush=True)
        if not args.rounds:  # --rounds 0: WAL, connections and exports only
            runs = {}
        for name, done in runs.items():  # the median run per scenario (by requests/s)
            results[name] = {
                key: sorted(
                    (r[key] for r in done), key=lambda v: v if isinstance(v, int) else v["rps"]
                )[len(done) // 2]
                for key in done[0]
            }
        if not ids:  # no load runs: seed through one server
            port = free_port()
            proc = serve(data_dir, port, setups["direct"])
            base = f"http://127.0.0.1:{port}"
            try:
                wait_ready(base, "/readyz")
                ids = asyncio.run(seed(base, token(base), args.communities))
            finally:
                stop(proc)
        results["statement_us"] = asyncio.run(statement_cost(primary, pooled_url))
        print("statement_us", results["statement_us"], flush=True)

        port = free_port()
        proc = serve(data_dir, port, setups["direct"])
        base = f"http://127.0.0.1:{port}"
        try:
            wait_ready(base, "/readyz")
            results["wal"] = asyncio.run(wal_per_row(base, token(base), primary, args.people))
        finally:
            stop(proc)
        print("wal", results["wal"], flush=True)

        asyncio.run(cluster.wait_replayed())
        for name, env in {
            "export_primary": {"DATABASE_URL": primary},
            "export_replica": {
                "DATABASE_URL": primary,
                "BERDAYA_DATABASE_REPLICA_URL": cluster.replica.url("berdaya"),
            },
        }.items():
            port = free_port()
            proc = serve(data_dir, port, env)
            base = f"http://127.0.0.1:{port}"
            try:
                wait_ready(base, "/readyz")
                results[name] = export_timing(base, token(base))
            finally:
                stop(proc)
            print(name, json.dumps(results[name]), flush=True)
    finally:
        if bouncer is not None:
            bouncer.close()
        cluster.close()

    print("\nBerdaya beyond one machine (1 worker, 32 connections, this machine)")
    print(f"{'scenario':28} " + " ".join(f"{n:>22}" for n in setups))
    for scenario_name in results.get("direct", {}):
        if not isinstance(results["direct"][scenario_name], dict):
            continue
        cells = []
        for name in setups:
            r = results[name][scenario_name]
            cells.append(f"{r['rps']:>7} r/s p50 {r['p50_ms']:>5} ms")
        print(f"{scenario_name:28} " + " ".join(f"{c:>22}" for c in cells))
    for name in setups if "direct" in results else ():
        held = results[name]["server_connections_after"]
        print(f"server connections held after the run ({name}): {held}")
    for name in ("export_primary", "export_replica"):
        print(name, results[name])
    print("microseconds per GET-by-id statement, one connection:", results["statement_us"])
    print("WAL:", results["wal"])
    out = Path(__file__).resolve().parent / "results"
    out.mkdir(exist_ok=True)
    (out / "scale.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
