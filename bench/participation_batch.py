"""Benchmark: POST /participation-records/batch with 1,000 rows.

Starts `berdaya serve` on a free port against a fresh embedded PostgreSQL (as
bench/run.py does), creates over HTTP one community, one program and 1,000 people
with consent (16 concurrent requests), then, on a fresh activity each round, times
a 1,000-row batch that creates every row and the same batch again (all duplicates).
Prints min / median / max seconds per batch. Not a test: timings depend on the machine.

    .venv/bin/python bench/participation_batch.py [--rounds 5] [--people 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
API = "/api/v1"


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


async def setup(client: httpx.AsyncClient, people: int) -> tuple[str, str, list[str]]:
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
    gate = asyncio.Semaphore(16)

    async def person(n: int) -> str:
        async with gate:
            body = {
                "community_id": community,
                "full_name": f"Warga Bench {n:05d}",
                "sex": "female" if n % 2 else "male",
                "consent_purposes": ["program_participation", "needs_assessment"],
            }
            return str(check(await client.post(f"{API}/people", json=body), 201)["id"])

    ids = await asyncio.gather(*(person(n) for n in range(people)))
    return community, program, list(ids)


async def activity(client: httpx.AsyncClient, program: str, community: str, n: int) -> str:
    body = {
        "title": f"Pelatihan {n}",
        "kind": "training",
        "community_id": community,
        "scheduled_start": "2025-03-01T09:00:00+07:00",
        "scheduled_end": "2025-03-01T17:00:00+07:00",
    }
    return str(
        check(await client.post(f"{API}/programs/{program}/activities", json=body), 201)["id"]
    )


async def timed_batch(client: httpx.AsyncClient, rows: list[dict[str, Any]], expect: str) -> float:
    started = time.perf_counter()
    response = await client.post(f"{API}/participation-records/batch", json={"rows": rows})
    elapsed = time.perf_counter() - started
    body = check(response, 200)
    wanted = {"created": body["created"], "duplicate": body["duplicates"]}[expect]
    if wanted != len(rows) or body["errors"]:
        sys.exit(
            f"expected {len(rows)} {expect}: got {body['created']} created, "
            f"{body['duplicates']} duplicates, {body['errors']} errors"
        )
    return elapsed


async def run(base: str, token: str, rounds: int, people: int) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=120) as client:
        began = time.perf_counter()
        community, program, person_ids = await setup(client, people)
        print(f"setup: {people} people in {time.perf_counter() - began:.1f} s")
        fresh: list[float] = []
        again: list[float] = []
        for n in range(rounds):
            activity_id = await activity(client, program, community, n)
            rows = [
                {
                    "person_id": pid,
                    "activity_id": activity_id,
                    "date": "2025-03-01",
                    "level": ("inform", "consult", "involve", "collaborate", "empower")[i % 5],
                    "role": "beneficiary",
                    "hours": 3,
                    "external_id": f"sheet-{n}-row-{i}",
                }
                for i, pid in enumerate(person_ids)
            ]
            fresh.append(await timed_batch(client, rows, "created"))
            again.append(await timed_batch(client, rows, "duplicate"))
    print(
        f"{'scenario (' + str(people) + ' rows, ' + str(rounds) + ' rounds)':<36}"
        f"{'min s':>8}{'median s':>10}{'max s':>8}"
    )
    for name, times in (("batch, all created", fresh), ("same batch, all duplicates", again)):
        print(f"{name:<36}{min(times):>8.3f}{statistics.median(times):>10.3f}{max(times):>8.3f}")
    print(
        "note: wall time at the client over loopback, including JSON (de)serialisation; "
        "the driver shares the machine with the server."
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--people", type=int, default=1000)
    args = parser.parse_args()

    data_dir = Path(tempfile.mkdtemp(prefix="berdaya-bench-"))
    port = free_port()
    password = secrets.token_urlsafe(16)
    env = {
        **os.environ,
        "BERDAYA_DATA_DIR": str(data_dir),
        "BERDAYA_ADMIN_EMAIL": "bench@berdaya.id",
        "BERDAYA_ADMIN_PASSWORD": password,
        "BERDAYA_LOG_LEVEL": "WARNING",
    }
    env.pop("DATABASE_URL", None)
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
        token = check(
            httpx.post(
                base + "/api/v1/auth/token",
                data={
                    "grant_type": "password",
                    "username": "bench@berdaya.id",
                    "password": password,
                },
            ),
            200,
        )["access_token"]
        asyncio.run(run(base, str(token), args.rounds, args.people))
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
