"""The Berdaya benchmark: seeded data, a floor app, a load driver, ratios and targets.

    .venv/bin/python bench/run.py            # full: 1,000 communities ... 1,000,000 records
    .venv/bin/python bench/run.py --quick    # a few minutes: a tenth of the data, short runs

1. Seeds (or reuses) a data set in ``--data-dir`` (see bench/seed.py for how).
2. Starts Berdaya (``berdaya serve``) and the floor (bench/floor.py: FastAPI + asyncpg +
   orjson, no auth) against the same database, with 1 worker, then with 2.
3. Checks the driver's headroom (wrk, or the Python fallback, against the floor's static
   /ping: if it serves far more than any scenario, the driver is not the bottleneck).
4. Drives each scenario on the floor and on Berdaya, in turn, with 32 connections,
   and prints requests/s, p50, p99, errors, the ratio to the floor and the targets.
5. Times the 1,000-row batch, and samples Berdaya's RSS during a 60 s run.

Results are also written to bench/results/latest.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import statistics
import sys
import time
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import reports_bench
from bench.common import (
    API,
    ROOT,
    free_port,
    rss_mb,
    start_berdaya,
    start_floor,
    start_peer,
    stop,
    wait_ready,
)
from bench.driver import Load, Result, drive, ensure_wrk
from bench.seed import add_size_flags, plain_dsn, seed, sizes_of, token

POST_ACTIVITIES = 4  # per POST run: people x 4 distinct bodies outlast a 10 s run
LEVELS = ("inform", "consult", "involve", "collaborate", "empower")
GET_SCENARIOS = ("community", "person", "first_page", "deep_page")
LABELS = {
    "community": "GET /communities/{id}",
    "person": "GET /people/{id} (masked)",
    "first_page": "GET /participation-records?community_id",
    "deep_page": "  same, 1,000 pages deep (cursor)",
    "post_single": "POST /participation-records",
}


async def prepare(database_url: str, pages_deep: int, limit: int) -> dict[str, Any]:
    """Ids and cursors the scenarios use, read straight from the database."""
    import asyncpg

    from app.core.pagination import _make_cursor, filter_digest

    conn = await asyncpg.connect(plain_dsn(database_url))
    try:
        communities = [
            str(r["id"])
            for r in await conn.fetch(
                "SELECT id FROM communities WHERE deleted_at IS NULL ORDER BY random() LIMIT 1000"
            )
        ]
        people = [
            str(r["id"])
            for r in await conn.fetch(
                "SELECT id FROM people WHERE deleted_at IS NULL ORDER BY random() LIMIT 1000"
            )
        ]
        admin_id = await conn.fetchval("SELECT id FROM users WHERE role = 'admin' LIMIT 1")
        total = await conn.fetchval(
            "SELECT count(*) FROM participation_records WHERE deleted_at IS NULL"
        )
        depth = min(pages_deep * limit, max(0, total - 2 * limit - 200))
        rows = await conn.fetch(
            "SELECT created_at, id FROM participation_records WHERE deleted_at IS NULL "
            "ORDER BY created_at, id OFFSET $1 LIMIT 200",
            depth,
        )
    finally:
        await conn.close()
    # Exactly the cursor the API hands out for an unfiltered list sorted by created_at.
    digest = filter_digest({"updated_since": None, "sort": "created_at"})
    cursors = [_make_cursor("created_at", digest, r["created_at"], r["id"]) for r in rows]
    return {
        "communities": communities,
        "people": people,
        "cursors": cursors,
        "depth_rows": depth,
        "admin_id": str(admin_id),
    }


def sessions(database_url: str, settle: float = 0.0) -> int:
    """PostgreSQL sessions ever opened on the database (pg_stat_database.sessions), this
    reading's own included. ``settle``: wait first, so that the backends of a run just
    ended have reported (their statistics are flushed about once a second)."""
    import asyncpg

    time.sleep(settle)

    async def read() -> int:
        conn = await asyncpg.connect(plain_dsn(database_url))
        try:
            return int(
                await conn.fetchval(
                    "SELECT sessions FROM pg_stat_database WHERE datname = current_database()"
                )
            )
        finally:
            await conn.close()

    return asyncio.run(read())


def api(base: str, bearer: str, method: str, path: str, body: Any = None) -> Any:
    response = httpx.request(
        method,
        base + API + path,
        json=body,
        headers={"Authorization": f"Bearer {bearer}"},
        timeout=120,
    )
    if response.status_code >= 300:
        raise SystemExit(f"{method} {path}: {response.status_code} {response.text[:300]}")
    return response.json()


def write_fixtures(base: str, bearer: str, database_url: str, count: int) -> dict[str, Any]:
    """A program over 200 communities with fresh activities: every POST creates a new
    record (a person once per activity), for each server and worker count."""
    import asyncpg

    async def community_ids() -> list[str]:
        conn = await asyncpg.connect(plain_dsn(database_url))
        try:
            rows = await conn.fetch(
                "SELECT id FROM communities WHERE deleted_at IS NULL ORDER BY id LIMIT 200"
            )
            return [str(r["id"]) for r in rows]
        finally:
            await conn.close()

    communities = asyncio.run(community_ids())
    program = api(
        base,
        bearer,
        "POST",
        "/programs",
        {
            "title": f"Bench writes {datetime.now().isoformat(timespec='seconds')}",
            "community_ids": communities,
            "start_date": "2025-01-01",
            "end_date": "2025-12-31",
        },
    )["id"]
    activities = [
        api(
            base,
            bearer,
            "POST",
            f"/programs/{program}/activities",
            {
                "title": f"Bench {n}",
                "kind": "training",
                "community_id": communities[0],
                "scheduled_start": "2025-03-01T09:00:00+07:00",
                "scheduled_end": "2025-03-01T17:00:00+07:00",
            },
        )["id"]
        for n in range(count)
    ]

    async def people() -> list[str]:
        conn = await asyncpg.connect(plain_dsn(database_url))
        try:
            rows = await conn.fetch(
                "SELECT id FROM people WHERE deleted_at IS NULL AND community_id = ANY($1::uuid[])"
                " ORDER BY id",
                communities,
            )
            return [str(r["id"]) for r in rows]
        finally:
            await conn.close()

    return {"activities": activities, "people": asyncio.run(people())}


# External ids are unique per creator among live rows and the data set is reused between
# runs: each run tags its own.
RUN_TAG = datetime.now().strftime("%Y%m%d%H%M%S")


def record_body(person: str, activity: str, n: int, tag: str | None = None) -> dict[str, Any]:
    """A participation record; batch rows carry an ``external_id`` (``tag``), a single
    POST does not (the contract accepts it in batch rows only)."""
    body: dict[str, Any] = {
        "person_id": person,
        "activity_id": activity,
        "date": "2025-03-01",
        "level": LEVELS[n % 5],
        "role": "beneficiary",
        "hours": 3,
    }
    if tag is not None:
        body["external_id"] = f"bench-{RUN_TAG}-{tag}-{n}"
    return body


def loads(prefix: str, inputs: dict[str, Any], limit: int) -> dict[str, Load]:
    return {
        "community": Load("GET", [f"{prefix}/communities/{i}" for i in inputs["communities"]]),
        "person": Load("GET", [f"{prefix}/people/{i}" for i in inputs["people"]]),
        "first_page": Load(
            "GET",
            [
                f"{prefix}/participation-records?community_id={i}&limit={limit}"
                for i in inputs["communities"]
            ],
        ),
        "deep_page": Load(
            "GET",
            [f"{prefix}/participation-records?cursor={c}&limit={limit}" for c in inputs["cursors"]],
        ),
    }


def start_template_peer(
    database_url: str, inputs: dict[str, Any]
) -> tuple[Any, str, dict[str, str]]:
    """The template-style peer (bench/peer.py), one worker, started for its scenario
    only (its pool's connections would crowd the server's 100 in the next ones); its
    process, base URL and the admin's bearer header it accepts."""
    from jose import jwt

    secret, port = secrets.token_urlsafe(32), free_port()
    peer = start_peer(plain_dsn(database_url), secret, port, 1)
    base = f"http://127.0.0.1:{port}"
    wait_ready(base, "/ping")
    bearer = jwt.encode({"sub": inputs["admin_id"]}, secret, algorithm="HS256")
    return peer, base, {"Authorization": f"Bearer {bearer}"}


def with_headers(load: Load, headers: dict[str, str] | None) -> Load:
    return Load(load.method, load.paths, load.bodies, headers)


def time_batches(
    base: str,
    path: str,
    headers: dict[str, str],
    activities: list[str],
    people: list[str],
    tag: str,
) -> list[float]:
    times = []
    with httpx.Client(base_url=base, headers=headers, timeout=120) as client:
        for n, activity in enumerate(activities):
            rows = [record_body(p, activity, i, f"{tag}{n}") for i, p in enumerate(people[:1000])]
            started = time.perf_counter()
            response = client.post(path, json={"rows": rows})
            times.append(time.perf_counter() - started)
            if response.status_code != 200:
                raise SystemExit(f"batch: {response.status_code} {response.text[:300]}")
    return times


def fmt(result: Result | None) -> str:
    if result is None:
        return f"{'':>9}{'':>9}{'':>9}{'':>7}"
    return f"{result.rps:>9.0f}{result.p50_ms:>9.2f}{result.p99_ms:>9.2f}{result.errors:>7}"


def main() -> None:
    parser = argparse.ArgumentParser(description="Berdaya benchmark (see bench/run.py)")
    parser.add_argument("--quick", action="store_true", help="a tenth of the data, short runs")
    parser.add_argument("--seconds", type=float, default=None, help="per scenario (10; quick 4)")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument(
        "--workers", type=int, nargs="+", default=[1, 2], help="uvicorn worker counts to run"
    )
    parser.add_argument("--rss-seconds", type=float, default=None, help="60; quick 15")
    parser.add_argument("--batch-rounds", type=int, default=None, help="5; quick 3")
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--python-driver", action="store_true", help="do not use wrk")
    parser.add_argument(
        "--reports-5m",
        action="store_true",
        help="also time the reports at 5M records (seeds bench/results/data-5m once)",
    )
    add_size_flags(parser)
    args = parser.parse_args()
    if args.quick:
        for name, full in (
            ("communities", 1000),
            ("people", 100_000),
            ("programs", 2000),
            ("records", 1_000_000),
        ):
            if getattr(args, name) == full:
                setattr(args, name, full // 10)
    seconds = args.seconds or (4 if args.quick else 10)
    rss_seconds = args.rss_seconds or (15 if args.quick else 60)
    rounds = args.batch_rounds or (3 if args.quick else 5)
    sizes = sizes_of(args)
    data_dir = args.data_dir or ROOT / "bench" / "results" / (
        "data-quick" if args.quick else "data"
    )
    limit = 50

    info = seed(data_dir, sizes)
    database_url = info["database_url"]
    inputs = asyncio.run(prepare(database_url, 1000, limit))
    prefer_wrk = not args.python_driver
    driver_name = "wrk" if prefer_wrk and ensure_wrk() else "python (asyncio, raw HTTP/1.1)"
    warmup = 2.0
    results: dict[str, Any] = {
        "when": datetime.now().isoformat(timespec="seconds"),
        "sizes": sizes,
        "driver": driver_name,
        "connections": args.connections,
        "seconds": seconds,
        "deep_offset_rows": inputs["depth_rows"],
        "runs": {},
    }
    fixtures: dict[str, Any] | None = None
    batch: dict[str, list[float]] = {}
    rss: list[tuple[float, float]] = []
    for workers in args.workers:
        fport, bport = free_port(), free_port()
        floor = start_floor(plain_dsn(database_url), fport, workers)
        server = start_berdaya(data_dir, database_url, bport, workers)
        fbase, bbase = f"http://127.0.0.1:{fport}", f"http://127.0.0.1:{bport}"
        run: dict[str, Any] = {}
        try:
            wait_ready(fbase, "/ping")
            wait_ready(bbase)
            bearer = token(bbase, info["admin_password"])
            if fixtures is None:
                fixtures = write_fixtures(
                    bbase,
                    bearer,
                    database_url,
                    2 * len(args.workers) * POST_ACTIVITIES + 2 * rounds,
                )
            headroom = drive(
                fbase, Load("GET", ["/ping"]), seconds, args.connections, prefer_wrk=prefer_wrk
            )
            run["driver_headroom_rps"] = headroom.rps
            print(
                f"\n[{workers} worker(s)] driver {driver_name}: {headroom.rps:.0f} req/s on a "
                "static /ping of the floor (its ceiling on this machine)",
                flush=True,
            )
            floor_loads = loads("", inputs, limit)
            for name in GET_SCENARIOS:
                bearer = token(bbase, info["admin_password"])
                auth = {"Authorization": f"Bearer {bearer}"}
                berdaya_load = with_headers(loads(API, inputs, limit)[name], auth)
                pair = {}
                opened = {}
                contenders = [("floor", fbase, floor_loads[name]), ("berdaya", bbase, berdaya_load)]
                peer = None
                if name == "community" and workers == 1:  # the template-style peer too
                    peer, pbase, peer_auth = start_template_peer(database_url, inputs)
                    contenders.append(("peer", pbase, with_headers(floor_loads[name], peer_auth)))
                for who, base, load in contenders:
                    drive(base, load, warmup, args.connections, prefer_wrk=prefer_wrk)
                    before = sessions(database_url)
                    pair[who] = drive(base, load, seconds, args.connections, prefer_wrk=prefer_wrk)
                    opened[who] = sessions(database_url, settle=1.5) - before - 1
                if peer is not None:  # its connections closed before the next scenario
                    stop(peer)
                run[name] = {k: asdict(v) for k, v in pair.items()}
                run[name]["sessions_opened"] = opened
                peer_text = f" | peer{fmt(pair['peer'])}" if "peer" in pair else ""
                print(
                    f"  {LABELS[name]:<44}{fmt(pair['floor'])} |{fmt(pair['berdaya'])}{peer_text}",
                    flush=True,
                )
            # POST single: each run on fresh activities, each body a new (person, activity)
            # pair, enough of them that no body is sent twice (a repeat would be a 409).
            bearer = token(bbase, info["admin_password"])
            auth = {"Authorization": f"Bearer {bearer}"}
            pair = {}
            for who, base, path in (
                ("floor", fbase, "/participation-records"),
                ("berdaya", bbase, f"{API}/participation-records"),
            ):
                people = fixtures["people"]
                activities = [fixtures["activities"].pop() for _ in range(POST_ACTIVITIES)]
                bodies = [
                    json.dumps(
                        record_body(people[n % len(people)], activities[n // len(people)], n)
                    ).encode()
                    for n in range(len(people) * POST_ACTIVITIES)
                ]
                load = Load("POST", [path], bodies, auth if who == "berdaya" else None)
                pair[who] = drive(base, load, seconds, args.connections, prefer_wrk=prefer_wrk)
            run["post_single"] = {k: asdict(v) for k, v in pair.items()}
            print(
                f"  {LABELS['post_single']:<44}{fmt(pair['floor'])} |{fmt(pair['berdaya'])}",
                flush=True,
            )
            if workers == args.workers[0]:
                for who, base, path, headers in (
                    ("floor", fbase, "/participation-records/batch", {}),
                    ("berdaya", bbase, f"{API}/participation-records/batch", auth),
                ):
                    acts = [fixtures["activities"].pop() for _ in range(rounds)]
                    batch[who] = time_batches(base, path, headers, acts, fixtures["people"], who)
                print(
                    f"  1,000-row batch, median of {rounds}: floor "
                    f"{statistics.median(batch['floor']):.3f} s | berdaya "
                    f"{statistics.median(batch['berdaya']):.3f} s",
                    flush=True,
                )
                # RSS over a long GET run (the driver in a thread; sample every 5 s).
                import threading

                bearer = token(bbase, info["admin_password"])
                load = with_headers(
                    loads(API, inputs, limit)["person"], {"Authorization": f"Bearer {bearer}"}
                )
                began = time.perf_counter()
                worker = threading.Thread(
                    target=drive,
                    args=(bbase, load, rss_seconds, args.connections),
                    kwargs={"prefer_wrk": prefer_wrk},
                )
                worker.start()
                while worker.is_alive():
                    rss.append(
                        (round(time.perf_counter() - began, 1), round(rss_mb(server.pid), 1))
                    )
                    worker.join(timeout=5)
                rss.append((round(time.perf_counter() - began, 1), round(rss_mb(server.pid), 1)))
                print(
                    f"  RSS (MB) over {rss_seconds:.0f} s of GET /people/{{id}}: {rss}", flush=True
                )
        finally:
            stop(server)
            stop(floor)
        results["runs"][str(workers)] = run
    results["batch_seconds"] = batch
    results["rss_mb"] = rss
    # Reports one request at a time on this data set, and at 5M when seeded or asked for.
    label = "1m" if sizes == reports_bench.PRESETS["1m"] else "this run"
    results["reports"] = {label: reports_bench.measure(label, data_dir, sizes, 40)}
    five = reports_bench.DEFAULT_DIRS["5m"]
    if args.reports_5m or (five / "bench.json").exists():
        results["reports"]["5m"] = reports_bench.measure(
            "5m", five, reports_bench.PRESETS["5m"], 40
        )
    report(results)
    out = ROOT / "bench" / "results" / ("latest-quick.json" if args.quick else "latest.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(f"\nwritten to {out.relative_to(ROOT)}")


def report(results: dict[str, Any]) -> None:
    sizes = results["sizes"]
    print(
        f"\nBerdaya benchmark, {results['when']}; data: {sizes['communities']} communities, "
        f"{sizes['people']} people, {sizes['programs']} programs x "
        f"{sizes['activities_per_program']} activities, {sizes['records']} records; "
        f"driver {results['driver']}, {results['connections']} connections, "
        f"{results['seconds']:.0f} s per scenario; deep page at row {results['deep_offset_rows']}"
    )
    head = (
        f"{'scenario':<44}{'w':>2}{'floor r/s':>10}{'r/s':>8}{'ratio':>7}{'p50 ms':>8}"
        f"{'p99 ms':>8}{'p99/p50':>8}{'errors':>7}  target"
    )
    print(head)
    print("-" * len(head))
    met: dict[str, bool] = {}
    for workers, run in results["runs"].items():
        first = run["first_page"]["berdaya"]
        for name in (*GET_SCENARIOS, "post_single"):
            floor, ours = run[name]["floor"], run[name]["berdaya"]
            ratio = ours["rps"] / floor["rps"] if floor["rps"] else 0.0
            spread = ours["p99_ms"] / ours["p50_ms"] if ours["p50_ms"] else 0.0
            targets = []
            if name in ("community", "person", "first_page"):
                ok = ratio >= 0.6
                targets.append(f">=0.6x floor {'MET' if ok else 'NOT MET'}")
                met[f"{name} >= 0.6x floor (w={workers})"] = ok
            if name in ("community", "person") and workers == "1":  # issue 21
                ok = ratio >= 0.4
                targets.append(f">=0.4x floor {'MET' if ok else 'NOT MET'}")
                met[f"{name} >= 0.4x floor (w=1)"] = ok
            if name == "first_page":  # issue 21: lists cost no more than GET by id
                by_id = run["community"]["berdaya"]["rps"] / run["community"]["floor"]["rps"]
                ok = ratio * 1.2 >= by_id
                targets.append(f"ratio within 1.2x of GET by id's {'MET' if ok else 'NOT MET'}")
                met[f"first page ratio within 1.2x of GET by id's (w={workers})"] = ok
            if name == "post_single":  # issue 21
                ok = ratio >= 0.3
                targets.append(f">=0.3x floor {'MET' if ok else 'NOT MET'}")
                met[f"POST single >= 0.3x floor (w={workers})"] = ok
            if name == "deep_page":
                ok = ours["p50_ms"] <= 1.2 * first["p50_ms"] and ours["rps"] * 1.2 >= first["rps"]
                targets.append(f"within 1.2x of first page {'MET' if ok else 'NOT MET'}")
                met[f"deep page within 1.2x of first (w={workers})"] = ok
            ok = spread <= 3.0
            targets.append(f"p99<=3xp50 {'MET' if ok else 'NOT MET'}")
            met[f"{name} p99 <= 3x p50 (w={workers})"] = ok
            opened = run[name].get("sessions_opened", {}).get("berdaya")
            if opened is not None:  # the pool does not churn: no session opened under load
                ok = opened <= 0
                targets.append(f"{opened} new PG sessions, 0 {'MET' if ok else 'NOT MET'}")
                met[f"{name} no new PostgreSQL sessions under load (w={workers})"] = ok
            print(
                f"{LABELS[name]:<44}{workers:>2}{floor['rps']:>10.0f}{ours['rps']:>8.0f}"
                f"{ratio:>7.2f}{ours['p50_ms']:>8.2f}{ours['p99_ms']:>8.2f}{spread:>8.1f}"
                f"{ours['errors']:>7}  {'; '.join(targets)}"
            )
        ceiling = run["driver_headroom_rps"]
        print(f"{'  (driver ceiling: static /ping of the floor)':<46}{ceiling:>10.0f}")
    batch = results["batch_seconds"]
    if batch:
        median = statistics.median(batch["berdaya"])
        met["1,000-row batch < 1 s"] = median < 1.0
        print(
            f"{'POST /participation-records/batch (1,000 rows)':<46}"
            f"floor {statistics.median(batch['floor']):.3f} s, berdaya median {median:.3f} s "
            f"(min {min(batch['berdaya']):.3f}, max {max(batch['berdaya']):.3f})  "
            f"target < 1 s {'MET' if median < 1.0 else 'NOT MET'}; "
            f"<= 0.3 s {'MET' if median <= 0.3 else 'NOT MET'}"
        )
        met["1,000-row batch <= 0.3 s"] = median <= 0.3
    rss = results["rss_mb"]
    if len(rss) >= 3:
        settled = rss[1][1]  # after the first 5 s of load
        growth = (rss[-1][1] - settled) / settled if settled else 0.0
        met["RSS steady"] = growth <= 0.10
        print(
            f"{'server RSS under load':<46}{settled:.0f} MB at 5 s -> {rss[-1][1]:.0f} MB at "
            f"{rss[-1][0]:.0f} s ({growth:+.1%})  target steady (<= +10%) "
            f"{'MET' if growth <= 0.10 else 'NOT MET'}"
        )
    for workers, run in results["runs"].items():
        peer = run["community"].get("peer")
        if peer and peer["rps"]:
            times = run["community"]["berdaya"]["rps"] / peer["rps"]
            ok = times >= 3.0
            met[f"GET by id >= 3x the template-style peer (w={workers})"] = ok
            print(
                f"{'template-style peer, GET /communities/{id}':<44}{workers:>2}"
                f"{peer['rps']:>10.0f} r/s (sync SQLModel Session.get, psycopg): Berdaya "
                f"{times:.2f}x  target >=3x {'MET' if ok else 'NOT MET'}"
            )
    met.update(reports_bench.print_report(results.get("reports", {})))
    print(f"\ntargets met: {sum(met.values())}/{len(met)}")
    for name, ok in met.items():
        if not ok:
            print(f"  not met: {name}")
    results["targets"] = met


if __name__ == "__main__":
    main()
