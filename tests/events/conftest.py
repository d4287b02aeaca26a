"""Fixtures of the event tests: the partners suite's two-sided world."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import asyncpg
import httpx
import pytest

from tests.factories import MakeCommunity, PartnerWorld, build_side


@pytest.fixture
async def world(admin: httpx.AsyncClient, make_community: MakeCommunity) -> PartnerWorld:
    return PartnerWorld(
        sides={
            "A": await build_side(admin, make_community, "A"),
            "B": await build_side(admin, make_community, "B"),
        }
    )


_POOL: list[asyncpg.Pool] = []


@pytest.fixture(autouse=True)
def _pool(raw_db: asyncpg.Pool) -> Iterator[None]:
    _POOL.append(raw_db)
    yield
    _POOL.clear()


async def settle(pool: asyncpg.Pool | None = None) -> None:
    """Wait until the feed's horizon (the oldest transaction still running on the whole
    server, which other test databases share) has passed every transaction begun so far."""
    db = pool or _POOL[0]
    target = await db.fetchval("SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint")
    for _ in range(600):
        horizon = await db.fetchval("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint")
        if horizon >= target:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("a transaction stayed open for 30 s")
