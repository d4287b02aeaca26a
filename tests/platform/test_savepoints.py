"""Savepoints under one name (app.core.db) and rows written at commit (app.core.deferred):
what is rolled back is gone, what is released stays, and nothing waits past the end."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import pytest
from sqlalchemy import text

from app.core import audit
from app.core.deferred import has_deferred, waiting


async def audited(raw_db: asyncpg.Pool, marker: str) -> list[str]:
    rows = await raw_db.fetch(
        "SELECT action FROM audit_events WHERE note = $1 ORDER BY at, id", marker
    )
    return [r["action"] for r in rows]


async def note(session: Any, action: str, marker: str) -> None:
    await audit.record(session, None, action, "tests", uuid.uuid4(), note=marker)


async def test_rolled_back_savepoints_drop_their_rows_released_ones_keep_them(
    app: Any, raw_db: asyncpg.Pool
) -> None:
    marker = uuid.uuid4().hex
    async with app.state.database.sessions() as session:
        await note(session, "before", marker)
        kept = await session.begin_nested()
        await note(session, "released", marker)
        await kept.commit()
        dropped = await session.begin_nested()
        await note(session, "rolled-back", marker)
        inner = await session.begin_nested()
        await note(session, "inner-released", marker)
        await inner.commit()
        await dropped.rollback()
        assert [r["action"] for r in waiting(session, audit.AuditEvent.__table__)] == [
            "before",
            "released",
        ]
        # nothing is written before the commit
        assert await audited(raw_db, marker) == []
        await session.commit()
        assert not has_deferred(session)
    assert await audited(raw_db, marker) == ["before", "released"]


async def test_a_rolled_back_transaction_writes_nothing_later(
    app: Any, raw_db: asyncpg.Pool
) -> None:
    marker = uuid.uuid4().hex
    async with app.state.database.sessions() as session:
        await note(session, "lost", marker)
        await session.rollback()
        assert not has_deferred(session)
        await note(session, "second", marker)
        await session.commit()
    async with app.state.database.sessions() as session:
        await note(session, "never-committed", marker)  # closed without a commit
    assert await audited(raw_db, marker) == ["second"]


async def test_one_savepoint_name_nests_like_numbered_ones(app: Any, raw_db: asyncpg.Pool) -> None:
    """An outer savepoint rolled back while an inner one was rolled back before it (an
    error crossing two ``begin_nested`` blocks) undoes the outer block's own writes too."""
    marker = uuid.uuid4().hex
    table = f"savepoint_probe_{marker[:8]}"
    await raw_db.execute(f"CREATE TABLE {table} (step text)")
    try:
        async with app.state.database.sessions() as session:
            await session.execute(text(f"INSERT INTO {table} VALUES ('before')"))
            with pytest.raises(RuntimeError):
                async with session.begin_nested():
                    await session.execute(text(f"INSERT INTO {table} VALUES ('outer')"))
                    async with session.begin_nested():
                        await session.execute(text(f"INSERT INTO {table} VALUES ('inner')"))
                        raise RuntimeError("fails inside both")
            async with session.begin_nested():
                await session.execute(text(f"INSERT INTO {table} VALUES ('after')"))
            await session.commit()
        rows = await raw_db.fetch(f"SELECT step FROM {table} ORDER BY step")
        assert [r["step"] for r in rows] == ["after", "before"]
    finally:
        await raw_db.execute(f"DROP TABLE {table}")
