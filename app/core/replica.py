"""Reads that may be served by a streaming replica: exports and reports (API.md §9).

``Reads.open()`` hands out a connection for one heavy read, on the replica
(``BERDAYA_DATABASE_REPLICA_URL``) when it is reachable, is a standby and is fresh enough,
otherwise on the primary; ``ReadRoute.headers()`` tells the client which one served it
(``X-Served-By``) and, from a replica, how far behind it was (``X-Replica-Lag-Seconds``).

The high-water mark on a standby
--------------------------------
An export tells the client where its next incremental pull starts: the instant before
which every change is visible to it. On the primary that is ``least(now(), start of the
oldest transaction still running)`` (``HIGH_WATER_SQL``): a transaction running now may
commit later rows stamped with its earlier start. A standby cannot compute it: it knows
nothing of the primary's running transactions' start times (``pg_stat_activity`` there
lists the standby's own sessions), and it cannot assign transaction ids
(``txid_current()`` fails in recovery).

So the mark is taken **on the primary**, paired with the primary's WAL insert position
taken *after* it (``Mark``): every transaction that started before the mark had finished
when the mark was read (else it would have been the oldest one running), so its commit
record lies before that WAL position. On the replica the WAL position replayed is read
*before* the export's snapshot is taken (a separate transaction on the same connection);
once it has reached the mark's position, every such transaction is visible in the
snapshot, and the mark holds there exactly as it does on the primary. Marks are
remembered (the last ``REMEMBERED``): a replica slightly behind the newest mark may use
an older one it has replayed (a pull then starts a little earlier: rows come at least
once, never skipped). tests/scale/test_replica.py proves it against a real streaming
replica, with a transaction held open across the export.

The lag is measured the same way and without comparing clocks: it is the age (on this
process's monotonic clock) of the newest mark the replica has replayed; with no such mark,
the time since the last transaction it replayed committed (an upper bound).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import Depends, Request, Response
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from app.core.config import Settings
from app.core.db import create_engine, get_session

log = logging.getLogger("berdaya.replica")

SERVED_BY_HEADER = "X-Served-By"
LAG_HEADER = "X-Replica-Lag-Seconds"

# The instant up to which every committed change is visible: now, or the start of the
# oldest transaction still running (its rows may land later with an older updated_at).
HIGH_WATER_SQL = text(
    "SELECT least(now(), coalesce((SELECT min(xact_start) FROM pg_stat_activity "
    "WHERE datname = current_database() AND pid <> pg_backend_pid() "
    "AND xact_start IS NOT NULL AND state <> 'idle'), now()))"
)
_WAL_POSITION_SQL = text("SELECT pg_current_wal_insert_lsn()::text")
_PROBE_SQL = text(
    "SELECT pg_is_in_recovery(), pg_last_wal_replay_lsn()::text, "
    "extract(epoch FROM clock_timestamp() - pg_last_xact_replay_timestamp())::float8"
)

# The two headers, as the OpenAPI document describes them on every answer they are on.
SERVED_BY_HEADERS: dict[str, Any] = {
    SERVED_BY_HEADER: {
        "description": "Which database served the answer (the replica falls back to the "
        "primary when it is unreachable or lags more than the configured limit)",
        "schema": {"type": "string", "enum": ["replica", "primary"]},
    },
    LAG_HEADER: {
        "description": "From the replica only: how far behind the primary it was, in seconds",
        "schema": {"type": "string", "pattern": r"^\d+\.\d{3}$", "example": "0.042"},
    },
}
SERVED_BY_RESPONSES: dict[int | str, dict[str, Any]] = {200: {"headers": SERVED_BY_HEADERS}}

REMEMBERED = 64  # marks kept per process
CATCH_UP_SECONDS = 1.0  # the longest a read waits for the replica to replay its mark
LAGGING_CATCH_UP_SECONDS = 0.2  # the same, when the replica was found lagging lately
POLL_SECONDS = 0.02
COOL_DOWN_SECONDS = 5.0  # after the replica failed, reads skip it this long


def lsn_value(lsn: str) -> int:
    """A ``pg_lsn`` text (``16/B374D848``) as an integer that orders like the position."""
    high, _, low = lsn.partition("/")
    return (int(high, 16) << 32) | int(low, 16)


@dataclass(frozen=True)
class Mark:
    """The primary's high-water mark and its WAL insert position read just after it."""

    high_water: datetime
    lsn: int
    taken: float  # time.monotonic() when read


@dataclass
class ReadRoute:
    """A connection for one heavy read and where it goes. The caller owns ``connection``
    (it must close it). On a replica, ``mark`` is a mark its snapshots are sure to hold."""

    connection: AsyncConnection | None  # None: the primary, not connected for the caller
    served_by: Literal["replica", "primary"]
    lag_seconds: float | None = None
    mark: Mark | None = None

    def headers(self) -> dict[str, str]:
        headers: dict[str, str] = {SERVED_BY_HEADER: self.served_by}
        if self.served_by == "replica" and self.lag_seconds is not None:
            headers[LAG_HEADER] = f"{self.lag_seconds:.3f}"
        return headers


@dataclass(frozen=True)
class _Probe:
    in_recovery: bool
    replayed: int | None
    since_last_replay: float | None


class Reads:
    """Chooses the database for exports and reports: the replica when it is fit, else the
    primary. One per app (``app.state.reads``), holding the replica's engine."""

    def __init__(
        self, primary: AsyncEngine, replica: AsyncEngine | None, max_lag_seconds: float
    ) -> None:
        self.primary = primary
        self.replica = replica
        self.max_lag = max_lag_seconds
        self._marks: deque[Mark] = deque(maxlen=REMEMBERED)
        self._skip_until = 0.0
        self._lagged_at = float("-inf")

    async def dispose(self) -> None:
        if self.replica is not None:
            await self.replica.dispose()

    async def mark(self) -> Mark:
        """The primary's high-water mark, then its WAL position (in that order: see the
        module's docstring), on a connection of its own outside any transaction."""
        async with self.primary.connect() as conn:
            auto = await conn.execution_options(isolation_level="AUTOCOMMIT")
            high_water = (await auto.execute(HIGH_WATER_SQL)).scalar_one()
            position = (await auto.execute(_WAL_POSITION_SQL)).scalar_one()
        mark = Mark(high_water, lsn_value(position), time.monotonic())
        self._marks.append(mark)
        return mark

    async def open(self, *, need_mark: bool, connect_primary: bool = True) -> ReadRoute:
        """A connection on the replica when it is reachable, a standby, no more than
        ``max_lag`` behind and (``need_mark``: for an export) holds a known mark; on the
        primary otherwise (not connected unless ``connect_primary``). No transaction is
        open on the connection handed out."""
        if self.replica is None or time.monotonic() < self._skip_until:
            return await self._primary(connect_primary)
        mark = await self.mark()
        try:
            conn = await self.replica.connect()
        except Exception as exc:
            return await self._failed("unreachable", exc, connect_primary)
        try:
            route = await self._on_replica(conn, mark, need_mark)
        except Exception as exc:
            with contextlib.suppress(Exception):
                await conn.invalidate()
            return await self._failed("probe failed", exc, connect_primary)
        if route is None:
            await conn.close()
            return await self._primary(connect_primary)
        return route

    async def _primary(self, connect: bool) -> ReadRoute:
        return ReadRoute(await self.primary.connect() if connect else None, "primary")

    async def _failed(self, why: str, exc: BaseException, connect: bool) -> ReadRoute:
        self._skip_until = time.monotonic() + COOL_DOWN_SECONDS
        log.warning("replica %s (%s): reading on the primary", why, type(exc).__name__)
        return await self._primary(connect)

    async def _probe(self, conn: AsyncConnection) -> _Probe:
        """Where the replica's replay is. Its transaction ends here, so a snapshot taken
        next on this connection is later than the position read."""
        row = (await conn.execute(_PROBE_SQL)).one()
        await conn.rollback()
        in_recovery, replayed, since = row
        return _Probe(bool(in_recovery), lsn_value(replayed) if replayed else None, since)

    async def _on_replica(
        self, conn: AsyncConnection, mark: Mark, need_mark: bool
    ) -> ReadRoute | None:
        probe = await self._probe(conn)
        if not probe.in_recovery or probe.replayed is None:
            log.warning("the replica is not a standby: reading on the primary")
            return None
        # A replica a moment behind the mark catches up within milliseconds: wait for it a
        # little (less when it was found too far behind lately: each read would wait).
        wait = CATCH_UP_SECONDS
        if time.monotonic() - self._lagged_at < COOL_DOWN_SECONDS:
            wait = LAGGING_CATCH_UP_SECONDS
        deadline = time.monotonic() + min(wait, self.max_lag)
        while True:
            now = time.monotonic()
            if probe.replayed >= mark.lsn:  # everything the primary had at the mark
                return ReadRoute(conn, "replica", now - mark.taken, mark)
            older = self._newest_replayed(probe.replayed)
            if older is not None and now - older.taken <= self.max_lag:
                return ReadRoute(conn, "replica", now - older.taken, older)
            if now >= deadline:
                break
            await asyncio.sleep(POLL_SECONDS)
            probe = await self._probe(conn)
            if not probe.in_recovery or probe.replayed is None:
                return None
        # Not caught up. A report needs no mark: the time since the replica's last replayed
        # commit bounds how stale it is (an export needs a mark it holds: none here).
        since = probe.since_last_replay
        if not need_mark and since is not None and since <= self.max_lag:
            return ReadRoute(conn, "replica", since)
        self._lagged_at = time.monotonic()
        log.info("replica behind by more than %.1f s: reading on the primary", self.max_lag)
        return None

    def _newest_replayed(self, replayed: int) -> Mark | None:
        fit = [m for m in self._marks if m.lsn <= replayed]
        return max(fit, key=lambda m: m.lsn) if fit else None


def create_reads(settings: Settings, primary: AsyncEngine) -> Reads:
    """``Reads`` for the settings: with the replica's engine when a replica is given."""
    replica = (
        create_engine(settings, settings.database_replica_url)
        if settings.database_replica_url
        else None
    )
    return Reads(primary, replica, settings.replica_max_lag_seconds)


async def get_read_session(
    request: Request,
    response: Response,
    session: Annotated[AsyncSession, Depends(get_session, scope="function")],
) -> AsyncIterator[AsyncSession]:
    """The session a report reads in: on the replica when ``Reads`` finds it fit, else
    the request's own session on the primary. The answer's headers say which served it.
    The caller is still read (and a cached one confirmed) on the primary: a user
    disabled there is refused at once, however far behind the replica is."""
    reads: Reads = request.app.state.reads
    route = await reads.open(need_mark=False, connect_primary=False)
    response.headers.update(route.headers())
    if route.connection is None:
        yield session
        return
    try:
        async with AsyncSession(bind=route.connection, expire_on_commit=False) as replica:
            yield replica
    finally:
        await route.connection.close()


ReadSessionDep = Annotated[AsyncSession, Depends(get_read_session, scope="function")]
