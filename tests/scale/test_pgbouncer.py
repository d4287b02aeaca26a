"""The API through a real PgBouncer 1.18 in transaction mode (API.md §9): reads on the fast
path, writes with If-Match and Idempotency-Key, the participation batch, exports (COPY and
a server-side cursor), reports and concurrency, with PgBouncer holding only two server
connections, so consecutive transactions of one client land on different servers.

``BERDAYA_DATABASE_PGBOUNCER=true`` turns kept prepared statements off (app/core/db.py).
The first test shows why, on the driver alone: a kept statement meets a server connection
that never prepared it, or one where another client's statement has its name.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from typing import Any

import asyncpg
import httpx
import pytest

from app.core.config import Settings
from app.main import create_app
from tests.factories import (
    COMMUNITIES,
    EXPORTS,
    RECORDS,
    REPORTS,
    MakeUser,
    build_participation_world,
    record,
    token_for,
)
from tests.scale.cluster import Bouncer, bouncer_in_front

SERVER_CONNECTIONS = 2


@pytest.fixture(scope="module")
def bouncer(database_url: str) -> Iterator[tuple[Bouncer, str]]:
    started, url = bouncer_in_front(database_url, pool_size=SERVER_CONNECTIONS)
    try:
        yield started, url
    finally:
        started.close()


@pytest.fixture(scope="module")
async def pooled_app(settings: Settings, bouncer: tuple[Bouncer, str]) -> AsyncIterator[Any]:
    """The app on the test database through PgBouncer (the shared app's keys and data
    folder, so tokens of either work on both)."""
    pooled = settings.model_copy(
        update={
            "database_url": bouncer[1],
            "database_pgbouncer": True,
            "database_direct_url": settings.database_url,
            "db_pool_size": 10,
            "db_max_overflow": 0,
        }
    )
    application = create_app(pooled)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def pooled_admin(pooled_app: Any, make_user: MakeUser) -> AsyncIterator[httpx.AsyncClient]:
    user = await make_user("admin")
    transport = httpx.ASGITransport(app=pooled_app, client=("10.4.4.4", 1234))
    headers = {"Authorization": f"Bearer {token_for(pooled_app, user.id)}"}
    async with httpx.AsyncClient(
        transport=transport, base_url="http://test", headers=headers
    ) as client:
        yield client


async def test_kept_statements_break_behind_transaction_pooling_unnamed_ones_do_not(
    bouncer: tuple[Bouncer, str],
) -> None:
    """A statement prepared in one transaction is used again while another client holds
    that server connection: with asyncpg's statement cache, the second run goes to a server
    connection that never prepared it; with the cache off (unnamed statements parsed in the
    same message as their execution), it works wherever it lands."""
    url = bouncer[1]

    async def second_run_elsewhere(**options: Any) -> None:
        client = await asyncpg.connect(url, **options)
        other = await asyncpg.connect(url, statement_cache_size=0)
        try:
            assert await client.fetchval("SELECT $1::int * 2", 21) == 42
            holding = other.transaction()
            await holding.start()
            await other.fetchval("SELECT 1")  # pins a server connection, the idle one
            try:
                assert await client.fetchval("SELECT $1::int * 2", 4) == 8
            finally:
                await holding.rollback()
        finally:
            await client.close()
            await other.close()

    with pytest.raises(asyncpg.PostgresError, match="prepared statement"):
        await second_run_elsewhere()  # asyncpg's default: kept, named statements
    await second_run_elsewhere(statement_cache_size=0)


async def test_reads_writes_batch_exports_reports_through_pgbouncer(
    pooled_admin: httpx.AsyncClient, bouncer: tuple[Bouncer, str], raw_db: asyncpg.Pool
) -> None:
    admin = pooled_admin
    before = _transactions(bouncer[0])

    async def make_community(**overrides: Any) -> dict[str, Any]:
        body = {"name": "Desa Lewat Bouncer", "kind": "desa", "region_code": "32.04.12.2001"}
        r = await admin.post(COMMUNITIES, json={**body, **overrides})
        assert r.status_code == 201, r.text
        created: dict[str, Any] = r.json()
        return created

    world = await build_participation_world(admin, make_community)
    # reads on the fast path, each statement once more, from other server connections
    for _ in range(3):
        r = await admin.get(f"{COMMUNITIES}/{world.a}")
        assert r.status_code == 200, r.text
        page = await admin.get(COMMUNITIES, params={"limit": 2})
        assert page.status_code == 200 and len(page.json()["items"]) == 2
    # a conditional write, and an idempotent one replayed
    etag = r.headers["etag"]
    r = await admin.patch(
        f"{COMMUNITIES}/{world.a}", json={"population": 2100}, headers={"If-Match": etag}
    )
    assert r.status_code == 200, r.text
    stale = await admin.patch(
        f"{COMMUNITIES}/{world.a}", json={"population": 1}, headers={"If-Match": etag}
    )
    assert stale.status_code == 412
    key = {"Idempotency-Key": "lewat-bouncer-1"}
    body = {"name": "Desa Idempoten", "kind": "desa", "region_code": "32.04.12.2001"}
    first = await admin.post(COMMUNITIES, json=body, headers=key)
    again = await admin.post(COMMUNITIES, json=body, headers=key)
    assert first.status_code == again.status_code == 201
    assert first.json()["id"] == again.json()["id"]
    # the batch: created, duplicate and refused rows in one transaction
    rows = [
        record(world.p_a, activity=world.activity, external_id="b-1"),
        record(world.p_a, activity=world.activity, external_id="b-1"),
        record(world.p_c, activity=world.activity),
    ]
    r = await admin.post(f"{RECORDS}/batch", json={"rows": rows})
    assert r.status_code == 200, r.text
    statuses = [row["status"] for row in r.json()["results"]]
    assert statuses[0] == "created" and statuses[1] != "created" and statuses[2] != "created"
    # exports: the COPY path (NDJSON) and the cursor path (CSV), in one snapshot each
    r = await admin.get(f"{EXPORTS}/participation-records")
    assert r.status_code == 200, r.text
    assert len([line for line in r.text.splitlines() if line]) == 1
    assert r.headers["x-served-by"] == "primary"
    r = await admin.get(f"{EXPORTS}/communities", params={"format": "csv"})
    assert r.status_code == 200 and r.text.count("\r\n") == 1 + 4
    exported = await admin.get(f"{EXPORTS}/people", params={"format": "json"})
    assert exported.status_code == 200 and len(json.loads(exported.text)) == 5
    report = await admin.get(f"{REPORTS}/participation")
    assert report.status_code == 200, report.text
    assert await raw_db.fetchval("SELECT count(*) FROM participation_records") == 1
    assert _transactions(bouncer[0]) > before + 20  # it all went through PgBouncer


async def test_concurrent_requests_through_two_server_connections(
    pooled_admin: httpx.AsyncClient, raw_db: asyncpg.Pool
) -> None:
    body = {"name": "Desa Serentak", "kind": "desa", "region_code": "32.04.12.2001"}
    seed = await pooled_admin.post(COMMUNITIES, json=body)
    assert seed.status_code == 201
    url = f"{COMMUNITIES}/{seed.json()['id']}"
    counter = itertools.count()

    async def one(kind: int) -> int:
        if kind == 0:
            r = await pooled_admin.post(COMMUNITIES, json={**body, "population": next(counter)})
        elif kind == 1:
            r = await pooled_admin.get(url)
        else:
            r = await pooled_admin.get(COMMUNITIES, params={"limit": 5})
        return r.status_code

    statuses = Counter(await asyncio.gather(*(one(n % 3) for n in range(90))))
    assert statuses == {201: 30, 200: 60}, statuses
    assert await raw_db.fetchval("SELECT count(*) FROM communities") == 31


def _transactions(bouncer: Bouncer) -> int:
    return sum(int(row["total_xact_count"]) for row in bouncer.show("STATS"))
