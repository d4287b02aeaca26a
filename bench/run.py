"""A first load benchmark: authenticated GET of one community by random id.

Starts `berdaya serve` on a free port against a fresh embedded PostgreSQL, seeds
communities through the API, then drives it with an asyncio httpx client (N
concurrent connections for a fixed time) and prints requests/s, p50, p99 and errors.
The full benchmark suite with a floor app and ratios is the Performance issue's work.

    python bench/run.py [--seconds 10] [--concurrency 32] [--communities 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def seed(base: str, token: str, count: int) -> list[str]:
    headers = {"Authorization": f"Bearer {token}"}
    ids: list[str] = []
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30) as client:
        for start in range(0, count, 50):
            batch = [
                client.post(
                    "/api/v1/communities",
                    json={
                        "name": f"Desa Bench {n:05d}",
                        "kind": "desa",
                        "region_code": "32.04.12.2001",
                        "population": 1000 + n,
                    },
                )
                for n in range(start, min(start + 50, count))
            ]
            for response in await asyncio.gather(*batch):
                response.raise_for_status()
                ids.append(response.json()["id"])
    return ids


async def drive(base: str, token: str, ids: list[str], seconds: float, concurrency: int) -> None:
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=base, headers=headers, limits=limits) as client:

        async def worker() -> None:
            nonlocal errors
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                response = await client.get(f"/api/v1/communities/{random.choice(ids)}")
                latencies.append(time.perf_counter() - started)
                if response.status_code != 200:
                    errors += 1

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - began
    latencies.sort()
    p50 = statistics.median(latencies) * 1000
    p99 = latencies[int(len(latencies) * 0.99) - 1] * 1000
    print(f"{'scenario':<34}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'errors':>8}")
    print(
        f"{'GET /communities/{id} (auth)':<34}{len(latencies) / elapsed:>10.0f}"
        f"{p50:>10.2f}{p99:>10.2f}{errors:>8}"
    )
    print("note: the driver shares the machine with the server; figures are a lower bound.")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--communities", type=int, default=1000)
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
        token = httpx.post(
            base + "/api/v1/auth/token",
            data={
                "grant_type": "password",
                "username": "bench@berdaya.id",
                "password": password,
            },
        ).json()["access_token"]
        ids = asyncio.run(seed(base, token, args.communities))
        asyncio.run(drive(base, token, ids, args.seconds, args.concurrency))
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
