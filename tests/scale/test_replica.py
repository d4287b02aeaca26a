"""Exports and reports on a real streaming replica (API.md §9): served there when it is fit,
by the primary when it lags past the limit or is down, and an incremental pull misses
nothing across the switches, including a row written by a transaction that was still open
when the replica served the export (the high-water mark on a standby: app/core/replica.py).
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import httpx
import pytest

from app.core.replica import lsn_value
from tests.factories import COMMUNITIES, EXPORTS, REPORTS
from tests.scale.cluster import Cluster, free_port
from tests.scale.conftest import DATABASE, MAX_LAG

EXPORT = f"{EXPORTS}/communities"


@pytest.fixture(autouse=True)
async def _clean_tables() -> AsyncIterator[None]:
    """These tests bring their own servers; the shared test database is not touched."""
    yield


async def new_community(client: httpx.AsyncClient, name: str | None = None) -> str:
    body = {
        "name": name or f"Desa Replika {secrets.token_hex(3)}",
        "kind": "desa",
        "region_code": "32.04.12.2001",
        "population": 1450,
    }
    r = await client.post(COMMUNITIES, json=body)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


async def pull(client: httpx.AsyncClient, since: str | None = None) -> tuple[dict[str, Any], Any]:
    """One incremental pull of communities: rows by id, and the answer."""
    params = {"updated_since": since} if since else {}
    r = await client.get(EXPORT, params=params)
    assert r.status_code == 200, r.text
    rows = [json.loads(line) for line in r.text.splitlines() if line.strip()]
    return {row["id"]: row for row in rows}, r


def served_by(response: httpx.Response) -> str:
    return response.headers["x-served-by"]


def test_lsn_text_orders_like_the_position() -> None:
    assert lsn_value("0/16B3748") < lsn_value("0/16B3750") < lsn_value("1/0")
    assert lsn_value("16/B374D848") == (0x16 << 32) | 0xB374D848


async def test_export_and_report_served_by_the_replica(
    cluster: Cluster, admin_on: httpx.AsyncClient
) -> None:
    made = {await new_community(admin_on) for _ in range(3)}
    await cluster.wait_replayed()
    rows, r = await pull(admin_on)
    assert served_by(r) == "replica"
    assert 0 <= float(r.headers["x-replica-lag-seconds"]) < MAX_LAG
    assert made <= rows.keys()
    assert r.headers["x-export-high-water-mark"]

    for name in ("development", "participation"):
        report = await admin_on.get(f"{REPORTS}/{name}")
        assert report.status_code == 200, report.text
        assert served_by(report) == "replica"
        assert 0 <= float(report.headers["x-replica-lag-seconds"]) < MAX_LAG


async def test_high_water_mark_on_the_standby_waits_for_an_open_transaction(
    cluster: Cluster, admin_on: httpx.AsyncClient
) -> None:
    """A transaction open on the primary while the replica serves an export: its row is
    stamped with its start, before rows committed meanwhile. The mark the replica answers
    with is no later than that start, so the next pull (after the commit) brings the row."""
    held = await new_community(admin_on, "Desa Tertahan")
    await cluster.wait_replayed()
    writer = await cluster.primary.connect(DATABASE)
    try:
        transaction = writer.transaction()
        await transaction.start()
        started: datetime = await writer.fetchval("SELECT now()")
        await writer.execute(
            "UPDATE communities SET name = 'Desa Tertahan Baru', updated_at = now(), "
            "version = version + 1 WHERE id = $1",
            held,
        )
        await asyncio.sleep(0.05)
        later = await new_community(admin_on)  # committed after the open one started
        await cluster.wait_replayed()
        rows, r = await pull(admin_on)
        assert served_by(r) == "replica"
        high_water = datetime.fromisoformat(r.headers["x-export-high-water-mark"])
        assert high_water <= started  # not the replica's clock, nor its last replay
        assert later in rows and rows[held]["name"] == "Desa Tertahan"
        await transaction.commit()
    finally:
        await writer.close()
    await cluster.wait_replayed()
    rows, r = await pull(admin_on, high_water.isoformat())
    assert served_by(r) == "replica"
    assert rows[held]["name"] == "Desa Tertahan Baru"  # not skipped


async def test_lagging_replica_falls_back_and_the_pull_misses_nothing(
    cluster: Cluster, admin_on: httpx.AsyncClient
) -> None:
    await new_community(admin_on)
    await cluster.wait_replayed()
    first, r = await pull(admin_on)
    assert served_by(r) == "replica"
    mark = r.headers["x-export-high-water-mark"]

    replica = await cluster.replica.connect(DATABASE)
    try:
        await replica.execute("SELECT pg_wal_replay_pause()")
        during = await new_community(admin_on)
        await asyncio.sleep(MAX_LAG + 0.3)  # the replica is now further behind than allowed
        rows, r = await pull(admin_on, mark)
        assert served_by(r) == "primary"
        assert "x-replica-lag-seconds" not in r.headers
        assert during in rows  # the primary has it
        report = await admin_on.get(f"{REPORTS}/development")
        assert report.status_code == 200 and served_by(report) == "primary"
        mark = r.headers["x-export-high-water-mark"]
        # the replica really has not replayed it
        assert await replica.fetchval("SELECT count(*) FROM communities WHERE id = $1", during) == 0
    finally:
        await replica.execute("SELECT pg_wal_replay_resume()")
        await replica.close()

    after = await new_community(admin_on)
    await cluster.wait_replayed()
    rows, r = await pull(admin_on, mark)
    assert served_by(r) == "replica"
    assert after in rows
    everything, _ = await pull(admin_on)
    assert set(everything) >= set(first) | {during, after}


async def test_stopped_replica_falls_back_and_comes_back(
    cluster: Cluster, admin_on: httpx.AsyncClient, replica_app: Any
) -> None:
    seen: set[str] = set()
    rows, r = await pull(admin_on)
    assert served_by(r) == "replica"
    seen |= rows.keys()
    mark = r.headers["x-export-high-water-mark"]

    cluster.replica.stop("fast")
    try:
        written = await new_community(admin_on)
        rows, r = await pull(admin_on, mark)
        assert served_by(r) == "primary"
        assert written in rows
        seen |= rows.keys()
        mark = r.headers["x-export-high-water-mark"]
        report = await admin_on.get(f"{REPORTS}/development")
        assert report.status_code == 200 and served_by(report) == "primary"
        again = await new_community(admin_on)
    finally:
        cluster.replica.start()
    await cluster.wait_replayed()
    replica_app.state.reads._skip_until = 0.0  # the cool-down after a failure, cut short
    rows, r = await pull(admin_on, mark)
    assert served_by(r) == "replica"
    assert again in rows
    seen |= rows.keys()

    primary = await cluster.primary.connect(DATABASE)
    try:
        every = {str(i) for i in await primary.fetchval("SELECT array_agg(id) FROM communities")}
    finally:
        await primary.close()
    assert every == seen  # three pulls across two switches: nothing missed


async def test_a_replica_url_that_is_no_standby_or_unreachable_is_not_used(
    cluster: Cluster, replica_app: Any
) -> None:
    """A replica URL pointing at a primary (say, after a promotion) or at nothing: the
    reads go to the primary; an unreachable replica is skipped for a while after."""
    from app.core.db import create_engine
    from app.core.replica import Reads

    settings = replica_app.state.settings
    primary = replica_app.state.database.engine
    not_standby = create_engine(settings, cluster.primary.url(DATABASE))
    nowhere = create_engine(settings, f"postgresql://postgres@127.0.0.1:{free_port()}/x")
    try:
        for replica in (not_standby, nowhere):
            reads = Reads(primary, replica, max_lag_seconds=30)
            route = await reads.open(need_mark=True)
            try:
                assert route.served_by == "primary" and route.mark is None
                assert route.headers() == {"X-Served-By": "primary"}
            finally:
                assert route.connection is not None
                await route.connection.close()
        assert reads._skip_until > 0  # the unreachable one: skipped for the cool-down
        skipped = await reads.open(need_mark=False, connect_primary=False)
        assert skipped.served_by == "primary" and skipped.connection is None
    finally:
        await not_standby.dispose()
        await nowhere.dispose()
