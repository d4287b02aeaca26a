"""A request never waits on the database longer than BERDAYA_DB_REQUEST_TIMEOUT_SECONDS at a
time: a frozen server (SIGSTOP, not stopped: connections stay open and nothing answers)
costs a request that bound and a 503 with Retry-After, never a hang. Streams (exports)
get the bound per wait, not over the whole stream."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Awaitable
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import psutil
import pytest

from app.auth.models import Role, User
from app.core.config import Settings
from app.core.db import create_engine
from app.main import create_app
from tests.conftest import password_hash, token_for

COMMUNITIES = "/api/v1/communities"
BOUND = 1.0  # seconds


def _community() -> dict[str, Any]:
    return {"name": f"Desa {secrets.token_hex(3)}", "kind": "desa", "region_code": "32.04.12.2001"}


async def _server_processes(raw_db: asyncpg.Pool) -> list[psutil.Process]:
    """The postmaster and every backend of the test database: freezing them freezes the
    server for this test (other tests' databases get no new connection meanwhile)."""
    rows = await raw_db.fetch(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
        "AND pid <> pg_backend_pid()"
    )
    mine = await raw_db.fetchval("SELECT pg_backend_pid()")
    try:
        postmaster = psutil.Process(psutil.Process(mine).ppid())
        if not postmaster.name().startswith("postgres"):
            raise psutil.Error
    except psutil.Error:
        pytest.skip("the test database server is not a local process")
    return [postmaster, *(psutil.Process(r["pid"]) for r in rows)]


async def _timed(call: Awaitable[httpx.Response]) -> tuple[httpx.Response, float]:
    started = time.perf_counter()
    response = await call
    return response, time.perf_counter() - started


async def test_a_frozen_database_costs_a_request_the_bound_not_a_hang(
    database_url: str, tmp_path: Path, raw_db: asyncpg.Pool
) -> None:
    application = create_app(
        Settings(
            _env_file=None,  # type: ignore[call-arg]
            env="test",
            database_url=database_url,
            data_dir=tmp_path,
            db_request_timeout_seconds=BOUND,
            db_pool_timeout_seconds=BOUND,
            db_pool_size=3,
            db_max_overflow=0,
        )
    )
    async with application.router.lifespan_context(application):
        async with application.state.database.sessions() as session:
            user = User(
                email=f"admin-{secrets.token_hex(4)}@berdaya.id",
                full_name="Admin",
                role=Role.admin.value,
                password_hash=password_hash(),
            )
            session.add(user)
            await session.commit()
        transport = httpx.ASGITransport(app=application)
        headers = {"Authorization": f"Bearer {token_for(application, user.id)}"}
        async with httpx.AsyncClient(
            transport=transport, base_url="http://test", headers=headers
        ) as api:
            r = await api.post(COMMUNITIES, json=_community())
            assert r.status_code == 201, r.text
            one = f"{COMMUNITIES}/{r.json()['id']}"
            # every pooled connection open and idle: requests will hold one when it freezes
            assert {
                r.status_code for r in await asyncio.gather(*(api.get(one) for _ in range(3)))
            } == {200}

            frozen: list[psutil.Process] = []
            try:
                for process in await _server_processes(raw_db):
                    try:
                        process.suspend()
                    except psutil.AccessDenied:
                        pytest.skip("the test database server belongs to another user")
                    frozen.append(process)
                calls = [
                    *(api.get(COMMUNITIES) for _ in range(3)),
                    api.get(one),
                    *(api.post(COMMUNITIES, json=_community()) for _ in range(2)),
                    api.patch(one, json={"population": 5}),
                    api.get("/readyz"),
                ]
                results = await asyncio.wait_for(
                    asyncio.gather(*(_timed(call) for call in calls)), timeout=15
                )
            finally:
                for process in frozen:
                    process.resume()

            for response, took in results:
                assert response.status_code == 503, response.text
                assert response.headers["content-type"].startswith("application/problem+json")
                assert response.headers["retry-after"]
                # a wait for a pooled connection, then one wait on the server, at most
                assert took < 2 * BOUND + 1.5, (response.request.url, took)

            # thawed: full service again, without restarting anything
            deadline = time.monotonic() + 10
            while (r := await api.get(COMMUNITIES)).status_code != 200:
                assert time.monotonic() < deadline, r.text
                await asyncio.sleep(0.1)
            r = await api.post(COMMUNITIES, json=_community())
            assert r.status_code == 201, r.text
            assert (await api.get("/readyz")).status_code == 200


# --- streams: the bound is per wait --------------------------------------------------------------

ROWS = "SELECT repeat('x', 1000) FROM generate_series(1, 4000)"  # ~4 MB of COPY output


async def test_a_copy_slower_than_the_bound_in_total_is_not_cut(settings: Settings) -> None:
    """asyncpg counts a COPY's timeout over the whole copy, its consumer's time included;
    an export streamed to a slow client must not be cut at the bound."""
    engine = create_engine(settings, wait_seconds=0.5)
    try:
        async with engine.connect() as conn:
            raw = (await conn.get_raw_connection()).driver_connection
            pieces = 0

            async def slow_client(data: bytes) -> None:
                # Each pause is under the bound; four of them are over twice the bound in
                # total, however the server chunks its output (socket or TCP).
                nonlocal pieces
                pieces += 1
                if pieces <= 4:
                    await asyncio.sleep(0.3)

            started = time.perf_counter()
            await raw.copy_from_query(ROWS, output=slow_client)
            assert time.perf_counter() - started > 1.0  # twice the bound, in total
            assert pieces > 4
    finally:
        await engine.dispose()


async def test_a_copy_whose_server_stops_sending_times_out(settings: Settings) -> None:
    engine = create_engine(settings, wait_seconds=0.5)
    try:
        async with engine.connect() as conn:
            raw = (await conn.get_raw_connection()).driver_connection

            async def sink(data: bytes) -> None:
                pass

            started = time.perf_counter()
            with pytest.raises(TimeoutError):
                await raw.copy_from_query("SELECT pg_sleep(3)", output=sink)
            assert time.perf_counter() - started < 1.5
            await conn.invalidate()
    finally:
        await engine.dispose()
