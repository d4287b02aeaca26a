"""Benchmark: streaming export of participation records against PostgreSQL's own COPY.

Starts a fresh embedded PostgreSQL (here, so the script holds a direct connection), runs
`berdaya serve` on a free port against it, fills it, then measures

  (a) `COPY (SELECT <the export's columns> ... ORDER BY updated_at, id) TO STDOUT` into a
      sink through asyncpg's `copy_from_query`: the floor, rows/s;
  (b) GET /api/v1/exports/participation-records?format=ndjson as an analyst, streamed and
      counted line by line, rows/s, while the server process's RSS is sampled every 50 ms;
  (c) the same as format=parquet (rows read from the file's footer), rows/s and peak RSS.

Prints both rates, their ratio and the server's peak RSS (targets: >= 0.5x the COPY rate,
peak RSS < 200 MB). Not a test: figures depend on the machine.

Volume is inserted with SQL, not through the API (1,000,000 rows over HTTP would take far
longer than the measurement): one community, one program and 100 activities are created
through the API (so they are valid), 10,000 people with valid values and consent through
one `INSERT ... SELECT generate_series`, then the records with another. A person takes
part once per activity (unique person, activity among live rows), so 10,000 people x 100
activities give up to 1,000,000 distinct pairs.

    .venv/bin/python bench/export_bench.py [--records 1000000]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import psutil
import pyarrow.parquet as pq
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
API = "/api/v1"
PEOPLE = 10_000
ACTIVITIES = 100

# The columns the export selects (app/exports/datasets.py, participation-records), with the
# pseudonym left out: COPY cannot compute the keyed hash, so it ships person_id instead.
COPY_SQL = """
SELECT id, created_at, updated_at, person_id, activity_id, assessment_id, community_id,
       program_id, date, level, role, hours, deleted_at
FROM participation_records WHERE deleted_at IS NULL ORDER BY updated_at, id
"""


class CpuMeter:
    """CPU seconds (user + system) spent by PostgreSQL (its live processes: the measured
    connections stay open until ``stop``), the server and this client between ``start`` and
    ``stop``: where the time goes when the 2-core machine is shared (wall-clock ratios move
    with the load; these show which side did the work)."""

    def __init__(self, data_dir: Path, server_pid: int) -> None:
        postmaster = int((data_dir / "pg" / "postmaster.pid").read_text().split()[0])
        self.postgres, self.server = psutil.Process(postmaster), psutil.Process(server_pid)
        self.began: dict[int, float] = {}
        self.report = ""

    def _now(self) -> dict[int, tuple[str, float]]:
        """pid -> (side, CPU seconds so far), per process (a new one counts from zero)."""
        out: dict[int, tuple[str, float]] = {}
        for side, root in (("postgres", self.postgres), ("server", self.server)):
            for p in [root, *root.children(recursive=True)]:
                try:
                    if side == "server" and "postgres" in p.name():
                        continue
                    times = p.cpu_times()
                    out[p.pid] = (side, times.user + times.system)
                except psutil.Error:
                    pass
        client = psutil.Process()
        times = client.cpu_times()
        out[client.pid] = ("client", times.user + times.system)
        return out

    def start(self) -> None:
        self.began = {pid: cpu for pid, (_, cpu) in self._now().items()}

    def stop(self) -> str:
        spent = {"postgres": 0.0, "server": 0.0, "client": 0.0}
        for pid, (side, cpu) in self._now().items():
            spent[side] += cpu - self.began.get(pid, 0.0)
        return ", ".join(f"{side} {seconds:.2f}" for side, seconds in spent.items())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def check(response: httpx.Response, status: int) -> dict[str, Any]:
    if response.status_code != status:
        sys.exit(
            f"{response.request.method} {response.request.url}: {response.status_code} "
            f"{response.text[:500]}"
        )
    body: dict[str, Any] = response.json()
    return body


def token(base: str, email: str, password: str) -> str:
    body = check(
        httpx.post(
            base + f"{API}/auth/token",
            data={"grant_type": "password", "username": email, "password": password},
        ),
        200,
    )
    return str(body["access_token"])


async def setup_api(base: str, admin_token: str) -> tuple[str, str, list[str]]:
    headers = {"Authorization": f"Bearer {admin_token}"}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=60) as client:
        community = check(
            await client.post(
                f"{API}/communities",
                json={"name": "Desa Bench", "kind": "desa", "region_code": "32.04.12.2001"},
            ),
            201,
        )["id"]
        program = check(
            await client.post(
                f"{API}/programs",
                json={
                    "title": "Bench program",
                    "community_ids": [community],
                    "start_date": "2025-01-01",
                    "end_date": "2025-12-31",
                },
            ),
            201,
        )["id"]
        activities = []
        for n in range(ACTIVITIES):
            body = {
                "title": f"Pelatihan {n}",
                "kind": "training",
                "community_id": community,
                "scheduled_start": "2025-03-01T09:00:00+07:00",
                "scheduled_end": "2025-03-01T17:00:00+07:00",
            }
            activities.append(
                check(await client.post(f"{API}/programs/{program}/activities", json=body), 201)[
                    "id"
                ]
            )
    return community, program, activities


async def fill(dsn: dict[str, Any], community: str, program: str, records: int) -> int:
    conn = await asyncpg.connect(**dsn)
    try:
        creator = await conn.fetchval("SELECT id FROM users ORDER BY created_at LIMIT 1")
        await conn.execute(
            """
            INSERT INTO people (id, created_at, updated_at, version, community_id, full_name, sex,
                                birth_year, birth_decade, disability, vulnerable_groups,
                                consent_purposes, consent_given_at)
            SELECT gen_random_uuid(), now(), now(), 1, $1::uuid, 'Warga Bench ' || g,
                   CASE WHEN g % 2 = 0 THEN 'female' ELSE 'male' END,
                   1950 + g % 60, (1950 + g % 60) / 10 * 10, g % 17 = 0, '{}',
                   ARRAY['program_participation'], now()
            FROM generate_series(1, $2) AS g
            """,
            community,
            PEOPLE,
        )
        # Record n: person n % PEOPLE, activity n / PEOPLE -> every (person, activity) once.
        await conn.execute(
            """
            WITH p AS (SELECT id, row_number() OVER (ORDER BY id) - 1 AS n FROM people),
                 a AS (SELECT id, row_number() OVER (ORDER BY id) - 1 AS n FROM activities)
            INSERT INTO participation_records
                (id, created_at, updated_at, version, person_id, activity_id, community_id,
                 program_id, date, level, role, hours, created_by)
            SELECT gen_random_uuid(), now() - g * interval '1 millisecond',
                   now() - g * interval '1 millisecond', 1, p.id, a.id, $1::uuid, $2::uuid,
                   DATE '2025-03-01',
                   (ARRAY['inform','consult','involve','collaborate','empower'])[g % 5 + 1],
                   (ARRAY['beneficiary','volunteer','cadre','speaker','decision_maker'])[g % 5 + 1],
                   (g % 8)::numeric, $4::uuid
            FROM generate_series(0, $3 - 1) AS g
            JOIN p ON p.n = g % $5
            JOIN a ON a.n = g / $5
            """,
            community,
            program,
            records,
            creator,
            PEOPLE,
        )
        await conn.execute("VACUUM ANALYZE participation_records")
        return int(await conn.fetchval("SELECT count(*) FROM participation_records"))
    finally:
        await conn.close()


async def copy_rate(dsn: dict[str, Any], meter: CpuMeter | None = None) -> tuple[int, float]:
    conn = await asyncpg.connect(**dsn)
    lines = 0

    async def sink(chunk: bytes) -> None:
        nonlocal lines
        lines += chunk.count(b"\n")

    try:
        began = time.perf_counter()
        await conn.copy_from_query(COPY_SQL, output=sink)
        elapsed = time.perf_counter() - began
        if meter is not None:
            meter.report = meter.stop()  # before the backend exits with the connection
        return lines, elapsed
    finally:
        await conn.close()


def export_rate(
    base: str, analyst_token: str, server_pid: int, fmt: str = "ndjson"
) -> tuple[int, float, float]:
    """Rows exported per second in ``fmt`` (NDJSON: lines counted as they stream; Parquet:
    the file kept and its rows read from the footer), with the server's peak RSS."""
    process = psutil.Process(server_pid)
    peak = 0
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not stop.is_set():
            try:
                rss = process.memory_info().rss
                for child in process.children(recursive=True):  # uvicorn workers, if any
                    if "postgres" not in child.name():
                        rss += child.memory_info().rss
                peak = max(peak, rss)
            except psutil.Error:
                pass
            stop.wait(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    lines = 0
    parquet_file = io.BytesIO()
    headers = {"Authorization": f"Bearer {analyst_token}"}
    try:
        began = time.perf_counter()
        with httpx.stream(
            "GET",
            base + f"{API}/exports/participation-records",
            params={"format": fmt},
            headers=headers,
            timeout=600,
        ) as response:
            if response.status_code != 200:
                sys.exit(f"export answered {response.status_code}")
            for chunk in response.iter_bytes():
                if fmt == "parquet":
                    parquet_file.write(chunk)
                else:
                    lines += chunk.count(b"\n")
        if fmt == "parquet":
            lines = pq.ParquetFile(parquet_file).metadata.num_rows
        elapsed = time.perf_counter() - began
    finally:
        stop.set()
        sampler.join()
    return lines, elapsed, peak / 2**20


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=1_000_000)
    args = parser.parse_args()
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    if args.records > PEOPLE * ACTIVITIES:
        sys.exit(f"at most {PEOPLE * ACTIVITIES} records (people x activities)")

    sys.path.insert(0, str(ROOT))
    from app.core.db import start_embedded

    data_dir = Path(tempfile.mkdtemp(prefix="berdaya-export-bench-"))
    database_url = start_embedded(data_dir)  # stops when this process exits
    parsed = make_url(database_url)
    dsn = {"host": parsed.query.get("host"), "user": "postgres", "database": parsed.database}

    port = free_port()
    password = secrets.token_urlsafe(16)
    env = {
        **os.environ,
        "BERDAYA_DATA_DIR": str(data_dir),
        "DATABASE_URL": database_url,
        "BERDAYA_ADMIN_EMAIL": "bench@berdaya.id",
        "BERDAYA_ADMIN_PASSWORD": password,
        "BERDAYA_LOG_LEVEL": "WARNING",
    }
    server = subprocess.Popen(
        [str(ROOT / ".venv/bin/berdaya"), "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        cwd=ROOT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                if httpx.get(base + "/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.5)
        else:
            sys.exit("the server did not start")
        admin_token = token(base, "bench@berdaya.id", password)
        community, program, _ = asyncio.run(setup_api(base, admin_token))
        analyst_password = secrets.token_urlsafe(16)
        check(
            httpx.post(
                base + f"{API}/users",
                headers={"Authorization": f"Bearer {admin_token}"},
                json={
                    "email": "analyst@berdaya.id",
                    "full_name": "Bench Analyst",
                    "role": "analyst",
                    "password": analyst_password,
                },
            ),
            201,
        )
        began = time.perf_counter()
        count = asyncio.run(fill(dsn, community, program, args.records))
        print(f"inserted {count:,} participation records in {time.perf_counter() - began:.1f} s")

        meter = CpuMeter(data_dir, server.pid)
        meter.start()
        copied, copy_s = asyncio.run(copy_rate(dsn, meter))
        copy_cpu = meter.report
        analyst_token = token(base, "analyst@berdaya.id", analyst_password)
        meter.start()
        exported, export_s, peak_mb = export_rate(base, analyst_token, server.pid)
        export_cpu = meter.stop()
        meter.start()
        parquet_rows, parquet_s, parquet_peak_mb = export_rate(
            base, analyst_token, server.pid, "parquet"
        )
        parquet_cpu = meter.stop()
        if copied != count or exported != count or parquet_rows != count:
            sys.exit(
                f"row counts differ: table {count}, COPY {copied}, export {exported}, "
                f"parquet {parquet_rows}"
            )
        parquet_rps = parquet_rows / parquet_s
        copy_rps, export_rps = copied / copy_s, exported / export_s
        ratio = export_rps / copy_rps
        print(f"{'scenario':<44}{'rows':>11}{'seconds':>9}{'rows/s':>11}")
        print(
            f"{'COPY (SELECT ...) TO STDOUT (floor)':<44}{copied:>11,}{copy_s:>9.2f}"
            f"{copy_rps:>11,.0f}"
        )
        print(
            f"{'GET /exports/participation-records ndjson':<44}{exported:>11,}{export_s:>9.2f}"
            f"{export_rps:>11,.0f}"
        )
        print(
            f"{'GET /exports/participation-records parquet':<44}{parquet_rows:>11,}"
            f"{parquet_s:>9.2f}{parquet_rps:>11,.0f}"
        )
        print(f"ratio export / COPY: {ratio:.2f}  (target >= 0.50)")
        print(f"ratio parquet / COPY: {parquet_rps / copy_rps:.2f}")
        print(f"server peak RSS during the export: {peak_mb:.0f} MB  (target < 200 MB)")
        print(f"server peak RSS during the parquet export: {parquet_peak_mb:.0f} MB")
        print(f"CPU seconds, COPY:    {copy_cpu}")
        print(f"CPU seconds, export:  {export_cpu}")
        print(f"CPU seconds, parquet: {parquet_cpu}")
        print(f"load average before the run: {load}")
        print("note: the client shares the machine with the server and PostgreSQL.")
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
