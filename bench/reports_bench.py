"""Report latency at 1M and 5M participation records (issue 21).

    .venv/bin/python bench/reports_bench.py                 # 1M (the data set of run.py)
    .venv/bin/python bench/reports_bench.py --sizes 1m 5m   # both; 5M seeds ~10 min once

Every report the API serves is timed through HTTP as ``make run`` serves it (one worker),
one request at a time (a dashboard opening, not a load test): a few warm-up calls, then
``--rounds`` timed calls per scenario, cycling over random communities and programs.
Targets: p95 <= 300 ms at 1M records, and p95 at 5M no more than 2x p95 at 1M.

The 5M data set keeps the 1M set's communities, people and programs and gives each
program five times the activities (``--activities-per-program 25``): five times the
records per person, which is how a deployment grows over the years. For the before/after
figure, the raw computation the rollups replaced (the national participation report
grouped from ``participation_records``) is timed in SQL on the same database.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import API, ROOT, free_port, start_berdaya, stop, wait_ready
from bench.seed import plain_dsn, seed, token

P95_TARGET_MS = 300.0
GROWTH_TARGET = 2.0
PRESETS: dict[str, dict[str, int]] = {
    "1m": {
        "communities": 1000,
        "people": 100_000,
        "programs": 2000,
        "activities_per_program": 5,
        "records": 1_000_000,
    },
    "5m": {
        "communities": 1000,
        "people": 100_000,
        "programs": 2000,
        "activities_per_program": 25,
        "records": 5_000_000,
    },
}
DEFAULT_DIRS = {
    "1m": ROOT / "bench" / "results" / "data",
    "5m": ROOT / "bench" / "results" / "data-5m",
}

# The computation the rollups replaced (app/reports/repository.py before issue 21).
RAW_NATIONAL = """
SELECT count(*), sum(n) FROM (
    SELECT p.id, count(*) AS n, array_agg(DISTINCT r.role)
    FROM participation_records r JOIN people p ON p.id = r.person_id
    WHERE r.deleted_at IS NULL GROUP BY p.id
) per_person
"""


async def _ids(database_url: str) -> dict[str, Any]:
    import asyncpg

    conn = await asyncpg.connect(plain_dsn(database_url))
    try:
        communities = [
            str(r["id"])
            for r in await conn.fetch("SELECT id FROM communities ORDER BY random() LIMIT 50")
        ]
        programs = [
            str(r["id"])
            for r in await conn.fetch("SELECT id FROM programs ORDER BY random() LIMIT 50")
        ]
        raw = []
        for _ in range(3):
            began = time.perf_counter()
            await conn.fetch(RAW_NATIONAL)
            raw.append((time.perf_counter() - began) * 1000)
        rollup_rows = (
            await conn.fetchval("SELECT count(*) FROM report_participation_people"),
            await conn.fetchval("SELECT count(*) FROM report_participation_days"),
        )
    finally:
        await conn.close()
    return {
        "communities": communities,
        "programs": programs,
        "raw_national_ms": statistics.median(raw),
        "rollup_rows": rollup_rows,
    }


def scenarios(ids: dict[str, Any]) -> dict[str, list[str]]:
    """Name -> the request paths (cycled) of each scenario."""
    part = f"{API}/reports/participation"
    quarter = "date_from=2025-04-01&date_to=2025-06-30"
    return {
        "participation, national": [part],
        "participation, one province": [f"{part}?region_code=32"],
        "participation, one regency": [f"{part}?region_code=32.07"],
        "participation, one community": [f"{part}?community_id={c}" for c in ids["communities"]],
        "participation, one program": [f"{part}?program_id={p}" for p in ids["programs"]],
        "participation, national, a year": [f"{part}?date_from=2025-01-01&date_to=2025-12-31"],
        "participation, national, a quarter": [f"{part}?{quarter}"],
        "participation, province, a quarter": [f"{part}?region_code=32&{quarter}"],
        "program progress": [f"{API}/reports/programs/{p}/progress" for p in ids["programs"]],
        "needs coverage, national": [f"{API}/reports/needs-coverage"],
        "partnerships, national": [f"{API}/reports/partnerships"],
        "development, national": [f"{API}/reports/development"],
        "needs to budget, national": [f"{API}/reports/needs-to-budget"],
    }


def time_paths(client: httpx.Client, paths: list[str], rounds: int) -> dict[str, float] | None:
    for n in range(3):
        response = client.get(paths[n % len(paths)])
        if response.status_code == 404 and "needs-to-budget" in paths[0]:
            return None  # not served by this build
        if response.status_code != 200:
            raise SystemExit(f"GET {paths[0]}: {response.status_code} {response.text[:300]}")
    times = []
    for n in range(rounds):
        began = time.perf_counter()
        response = client.get(paths[n % len(paths)])
        times.append((time.perf_counter() - began) * 1000)
        if response.status_code != 200:
            raise SystemExit(f"GET {paths[n % len(paths)]}: {response.status_code}")
    times.sort()
    return {
        "p50_ms": statistics.median(times),
        "p95_ms": times[min(len(times) - 1, round(0.95 * len(times)) - 1)],
        "max_ms": times[-1],
        "n": len(times),
    }


def measure(label: str, data_dir: Path, sizes: dict[str, int], rounds: int) -> dict[str, Any]:
    info = seed(data_dir, sizes)
    database_url = info["database_url"]
    port = free_port()
    server = start_berdaya(data_dir, database_url, port, workers=1)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base, timeout=900)  # the first start on an old data set backfills rollups
        ids = asyncio.run(_ids(database_url))
        headers = {"Authorization": f"Bearer {token(base, info['admin_password'])}"}
        timed: dict[str, Any] = {}
        with httpx.Client(base_url=base, headers=headers, timeout=120) as client:
            for name, paths in scenarios(ids).items():
                result = time_paths(client, paths, rounds)
                if result is not None:
                    timed[name] = result
                    print(
                        f"  [{label}] {name:<40} p50 {result['p50_ms']:8.1f} ms  "
                        f"p95 {result['p95_ms']:8.1f} ms",
                        flush=True,
                    )
    finally:
        stop(server)
    return {
        "sizes": sizes,
        "raw_national_ms": ids["raw_national_ms"],
        "rollup_rows": ids["rollup_rows"],
        "scenarios": timed,
    }


def measure_all(labels: list[str], dirs: dict[str, Path], rounds: int) -> dict[str, Any]:
    return {label: measure(label, dirs[label], PRESETS[label], rounds) for label in labels}


def print_report(results: dict[str, Any]) -> dict[str, bool]:
    """Print the figures with their targets; returns target name -> met."""
    met: dict[str, bool] = {}
    if not results:
        return met
    print("\nReports (GET, one at a time, 1 worker; p95 target <= 300 ms; 5M/1M <= 2x)")
    for label, result in results.items():
        s = result["sizes"]
        people_rows, day_rows = result["rollup_rows"]
        print(
            f"  data {label}: {s['records']} records, {s['people']} people, "
            f"{s['communities']} communities, {s['programs']} programs x "
            f"{s['activities_per_program']} activities; rollup rows: {people_rows} "
            f"person, {day_rows} day; the raw national computation they replace: "
            f"{result['raw_national_ms']:.0f} ms"
        )
    small, big = results.get("1m"), results.get("5m")
    head = f"  {'report':<42}{'size':>5}{'p50 ms':>9}{'p95 ms':>9}  target"
    print(head)
    for label, result in results.items():
        for name, t in result["scenarios"].items():
            ok = t["p95_ms"] <= P95_TARGET_MS
            met[f"report {name} p95 <= 300 ms ({label})"] = ok
            note = f"p95<=300ms {'MET' if ok else 'NOT MET'}"
            if label == "5m" and small and name in small["scenarios"]:
                growth = t["p95_ms"] / small["scenarios"][name]["p95_ms"]
                grew = growth <= GROWTH_TARGET
                met[f"report {name} 1M->5M <= 2x"] = grew
                note += f"; 1M->5M {growth:.2f}x <=2x {'MET' if grew else 'NOT MET'}"
            print(f"  {name:<42}{label:>5}{t['p50_ms']:>9.1f}{t['p95_ms']:>9.1f}  {note}")
    if small and not big:
        print("  5M not measured in this run (bench/reports_bench.py --sizes 1m 5m)")
    return met


def main() -> None:
    parser = argparse.ArgumentParser(description="report latency at 1M and 5M records")
    parser.add_argument("--sizes", nargs="+", choices=sorted(PRESETS), default=["1m"])
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--data-dir-1m", type=Path, default=DEFAULT_DIRS["1m"])
    parser.add_argument("--data-dir-5m", type=Path, default=DEFAULT_DIRS["5m"])
    args = parser.parse_args()
    dirs = {"1m": args.data_dir_1m, "5m": args.data_dir_5m}
    results = measure_all(args.sizes, dirs, args.rounds)
    met = print_report(results)
    print(f"\nreport targets met: {sum(met.values())}/{len(met)}")


if __name__ == "__main__":
    main()
