"""Append-only rows written at commit, in one INSERT per table.

Why: every change writes side rows that nothing reads back in the same transaction (its
audit event, the digest of a PUT's body). Written as they are made, a sync push of 500
mutations spent 1,000 of its ~3,250 round trips on them; kept until the commit, they go
in one multi-row INSERT per table, in the order they were made, in the same transaction
as the change (a rollback loses them with it; nothing commits without them).

Savepoints: a row made inside a savepoint that rolls back is dropped with it (the list is
cut back to its length when the savepoint began); rolling back or closing the whole
transaction drops every row. Releasing a savepoint keeps its rows waiting for the commit.

Only sessions of ``DeferringSession`` (every session ``app.core.db.Database`` makes)
wait; on any other session ``defer`` inserts at once, so a row is never lost.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Table, event, insert
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, SessionTransaction

_KEY = "berdaya.deferred"


@dataclass
class _Pending:
    rows: list[tuple[Table, bool, dict[str, Any]]] = field(default_factory=list)
    marks: dict[SessionTransaction, int] = field(default_factory=dict)


class DeferringSession(Session):
    """A session whose root commit first writes the deferred rows."""

    def commit(self) -> None:
        write_deferred(self)
        super().commit()

    def rollback(self) -> None:
        _drop_all(self)  # also when no statement began a transaction yet
        super().rollback()

    def close(self) -> None:
        _drop_all(self)
        super().close()


def _drop_all(session: Session) -> None:
    pending = session.info.get(_KEY)
    if pending:
        pending.rows.clear()
        pending.marks.clear()


def _pending(session: Session) -> _Pending:
    pending = session.info.get(_KEY)
    if pending is None:
        pending = session.info[_KEY] = _Pending()
    return pending


async def defer(
    session: AsyncSession,
    table: Table,
    values: dict[str, Any],
    *,
    skip_conflict: bool = False,
    at_once: bool = False,
) -> None:
    """Write ``values`` into ``table`` when the transaction commits (``skip_conflict``:
    ``ON CONFLICT DO NOTHING``; ``at_once``: now, for a row read later in the transaction)."""
    if not at_once and isinstance(session.sync_session, DeferringSession):
        _pending(session.sync_session).rows.append((table, skip_conflict, values))
        return
    await session.execute(_statement(table, skip_conflict), [values])


def waiting(session: AsyncSession, table: Table) -> list[dict[str, Any]]:
    """The rows of ``table`` this transaction made that are not written yet (a read of
    that table inside the transaction must look here too)."""
    pending = session.sync_session.info.get(_KEY)
    if not pending:
        return []
    return [values for t, _, values in pending.rows if t is table]


def has_deferred(session: AsyncSession) -> bool:
    pending = session.sync_session.info.get(_KEY)
    return bool(pending and pending.rows)


def _statement(table: Table, skip_conflict: bool) -> Any:
    return pg_insert(table).on_conflict_do_nothing() if skip_conflict else insert(table)


def write_deferred(session: Session) -> None:
    """Insert the waiting rows, one executemany per table and conflict rule (SQLAlchemy's
    "insertmanyvalues" sends it as multi-row INSERTs)."""
    pending = session.info.get(_KEY)
    if not pending or not pending.rows:
        return
    groups: dict[tuple[Table, bool], list[dict[str, Any]]] = {}
    for table, skip_conflict, values in pending.rows:
        groups.setdefault((table, skip_conflict), []).append(values)
    pending.rows.clear()
    for (table, skip_conflict), rows in groups.items():
        session.execute(_statement(table, skip_conflict), rows)


@event.listens_for(DeferringSession, "after_transaction_create")
def _mark_savepoint(session: Session, transaction: SessionTransaction) -> None:
    if transaction.nested:
        pending = _pending(session)
        pending.marks[transaction] = len(pending.rows)


@event.listens_for(DeferringSession, "after_soft_rollback")
def _drop_rolled_back(session: Session, previous: SessionTransaction) -> None:
    pending = session.info.get(_KEY)
    if not pending:
        return
    boundary = previous
    while not boundary.nested and boundary.parent is not None:
        boundary = boundary.parent
    if boundary.nested:
        del pending.rows[pending.marks.get(boundary, len(pending.rows)) :]
    else:
        pending.rows.clear()


@event.listens_for(DeferringSession, "after_transaction_end")
def _forget(session: Session, transaction: SessionTransaction) -> None:
    pending = session.info.get(_KEY)
    if not pending:
        return
    # A savepoint's mark is kept until the whole transaction ends: its rollback event
    # comes after its end event.
    if transaction.parent is None:  # the whole transaction ended: committed or not
        _drop_all(session)
