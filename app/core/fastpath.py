"""The fast read path: statements compiled once and run straight on asyncpg.

Why it exists. On a GET by id or a list page, SQLAlchemy's per-execution work (building
the statement, computing its cache key, compiling-cache lookup, result processing)
cost more CPU than PostgreSQL's answer (bench/run.py; README "Performance"). So the
reads on every request's path (the caller, GET by id, list pages) skip that work; every
write and every other read still goes through the ordinary ``AsyncSession``.

How it works, in four pieces:

* ``fetch_views(session, stmt, params)`` compiles a SQLAlchemy select once per
  *shape* (its cache key), keeps the compiled SQL, and on each call fills in the bound
  values and runs the SQL with ``driver_fetch`` on the asyncpg connection under the
  session. Rows come back as ``RowView`` (read-only attribute access, like an entity).
  A shape the driver cannot run (expanding ``IN``) falls back to ``session.execute``.
* ``fetch_page(...)`` does the same for list pages without even building the full
  statement: the statement kept per caller plus each filter's own cache key make the
  shape, and the request's values are read from their bound parameters by name.
* ``driver_fetch`` runs SQL on the driver; a lost connection re-runs the statement
  through SQLAlchemy once, so the pool is invalidated exactly as for its own
  statements (then 503 and reconnect).
* A ``Rider`` is state read *in the same statement* as the first row-reading query:
  ``app.auth.caller_cache`` uses it to confirm a cached caller without a query of its
  own. ``confirm_rider`` settles a rider no read carried (called by ``get_session``).

Tests that break when this breaks: tests/platform/test_performance.py (EXPLAIN, statement
counts, kept statements taking each request's values) and tests/auth/test_caller_cache.py.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from sqlalchemy import ARRAY, Uuid, any_, bindparam
from sqlalchemy.ext.asyncio import AsyncSession


class Rider(Protocol):
    """State read in the same statement as a request's first driver read, not on its own.

    A GET whose caller was taken from a cache leaves one in ``session.info[RIDER]``:
    ``fetch_views`` adds ``column`` (labelled ``RIDER_LABEL``) to its statement and hands
    the value of the first row to ``settle``; a request that reads no row that way has
    ``confirm`` run (its own query) before its answer is sent. Both raise
    ``RetryRequest`` when the value says the answer was computed on stale state.
    """

    column: Any
    params: dict[str, Any]

    def settle(self, value: Any) -> None: ...

    async def confirm(self, session: AsyncSession) -> None: ...


RIDER = "rider"
RIDER_LABEL = "_rider"


async def confirm_rider(session: AsyncSession) -> None:
    """Settle a pending rider now, with its own query. For a GET whose effects reach
    beyond its answer (an audit entry committed, a connection held for streaming): they
    must not happen for a caller found stale later."""
    rider: Rider | None = session.info.pop(RIDER, None)
    if rider is not None:
        await rider.confirm(session)


class RowView:
    """Read-only attribute access to a driver record, where routers expect an ORM entity.

    GET routes present rows; they never change them. A view cannot be changed or
    flushed by mistake: setting an attribute raises.
    """

    __slots__ = ("_record",)

    def __init__(self, record: Any) -> None:
        object.__setattr__(self, "_record", record)

    def __getattr__(self, name: str) -> Any:
        try:
            return self._record[name]
        except KeyError:
            raise AttributeError(name) from None

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"a row read for presenting cannot be changed ({name})")

    def model_dump(self) -> dict[str, Any]:
        """The columns as a dict, like an entity's ``model_dump()`` (without a rider)."""
        values = dict(self._record)
        values.pop(RIDER_LABEL, None)
        return values


# Called with (sql, arguments) before each statement run on the driver: the driver path
# does not pass through SQLAlchemy's cursor events (tests capture statements with both).
driver_listeners: list[Callable[[str, Sequence[Any]], None]] = []


def _connection_lost(exc: BaseException, driver: Any) -> bool:
    """The connection broke (server restart, network), as opposed to the statement failing."""
    state = str(getattr(exc, "sqlstate", "") or "")
    return (
        driver.is_closed()
        or isinstance(exc, ConnectionError)
        or state.startswith(("08", "57P"))  # connection exception; admin/crash shutdown
    )


async def driver_fetch(session: AsyncSession, sql: str, arguments: Sequence[Any]) -> list[Any]:
    """Rows of ``sql`` run on the asyncpg connection under ``session``.

    For the statements on every request's path, where SQLAlchemy's per-execution work
    costs more than the query (bench/run.py). Only reads go this way. In a write session
    a read before SQLAlchemy's first statement runs before its ``BEGIN`` (read committed
    either way: nothing relies on sharing a snapshot with the writes; writes that need
    one lock the row through the session). A statement error is raised as asyncpg's
    (``app.core.errors`` reads its SQLSTATE like SQLAlchemy's); a lost connection sends
    the statement once more through SQLAlchemy, which then notices the disconnect and
    invalidates the pool exactly as for its own statements (503, then reconnect).
    """
    for listener in driver_listeners:
        listener(sql, arguments)
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    driver = raw.driver_connection
    try:
        records = await driver.fetch(sql, *arguments)
    except Exception as exc:
        if not _connection_lost(exc, driver):
            raise
        result = await connection.exec_driver_sql(sql, tuple(arguments))
        return [RowView(row._mapping) for row in result]
    return [RowView(record) for record in records]


_COMPILED_LIMIT = 2000
_compiled: dict[Any, Any] = {}
# A statement with the rider's column added, kept as long as the statement itself: its
# cache key is computed once, like the kept statement's own.
_carrying: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()


async def fetch_views(
    session: AsyncSession, stmt: Any, params: dict[str, Any] | None = None
) -> list[Any]:
    """Run a select on the driver; its rows as ``RowView``s (attributes by column name).

    Does what SQLAlchemy's compiled cache does (compile once per statement shape, then
    fill in each execution's bound values) and hands the SQL to ``driver_fetch``. The
    column types of the models (uuid, text, numeric, dates, arrays) come back from
    asyncpg as the same Python values SQLAlchemy gives. A statement that cannot be run
    this way (expanding ``IN`` lists: use ``= ANY(array)``) runs on the session, and a
    single-entity select then returns entities. ``params`` gives values to
    ``bindparam``s left without one (a statement kept and reused). A pending ``Rider``
    rides along with the first statement that runs on the driver.
    """
    rider: Rider | None = session.info.get(RIDER)
    if rider is not None:
        kept = _carrying.get(stmt)
        if kept is None or kept[0] is not rider.column:  # kept statements keep it too
            kept = _carrying[stmt] = (rider.column, stmt.add_columns(rider.column))
        carrying = kept[1]
        rows = await _fetch_compiled(session, carrying, {**(params or {}), **rider.params})
        if rows is not None:
            return _settled(session, rider, rows)
    rows = await _fetch_compiled(session, stmt, params)
    if rows is None:
        return list((await session.execute(stmt, params)).scalars().all())
    return rows


def _settled(session: AsyncSession, rider: Rider, rows: list[Any]) -> list[Any]:
    """``rows`` read with the rider's column: its value goes to the rider. No row, no
    value: the rider waits for the next read (or ``get_session``)."""
    if rows:
        del session.info[RIDER]
        rider.settle(rows[0]._record[RIDER_LABEL])
    return rows


async def _fetch_compiled(
    session: AsyncSession, stmt: Any, params: dict[str, Any] | None
) -> list[Any] | None:
    """``stmt`` run on the driver, compiled once per shape; None if it cannot run there."""
    key = stmt._generate_cache_key()
    compiled = _compiled.get(key.key) if key is not None else False
    if compiled is None:
        compiled = stmt.compile(dialect=session.bind.dialect, cache_key=key)
        if compiled.post_compile_params or compiled.literal_execute_params:
            compiled = False  # remembered: this shape is not for the driver
        if len(_compiled) >= _COMPILED_LIMIT:
            _compiled.clear()
        _compiled[key.key] = compiled
    if not compiled:
        return None
    values = compiled.construct_params(
        params, extracted_parameters=key.bindparams, escape_names=False
    )
    return await _run_compiled(session, compiled, values)


async def _run_compiled(session: AsyncSession, compiled: Any, values: dict[str, Any]) -> list[Any]:
    processors = compiled._bind_processors
    arguments = [
        processors[name](values[name]) if name in processors else values[name]
        for name in compiled.positiontup
    ]
    return await driver_fetch(session, compiled.string, arguments)


_pages: dict[Any, Any] = {}


async def fetch_page(
    session: AsyncSession,
    kept: Any,
    extend: Callable[[Any], Any],
    conditions: Sequence[Any],
    params: dict[str, Any],
    shape: Any,
) -> list[Any]:
    """Rows of ``extend(kept).where(*conditions)``, as ``fetch_views`` gives them, without
    building that statement or computing its whole cache key on every request.

    ``kept`` is a statement kept and reused (its cache key is computed once, on it);
    ``extend`` adds what ``shape`` names (order, LIMIT as a ``bindparam``); each
    condition's own cache key (cheap: a column, an operator, a value) completes the
    shape. The SQL is compiled once per complete shape, shared by every caller whose
    statement has it, and each request's values are taken from the bound parameters of
    ``kept`` and of its conditions, put in by name. For list pages, where building the
    statement and its cache key cost more than the query (bench/run.py).
    """
    keys = [kept._generate_cache_key(), *(c._generate_cache_key() for c in conditions)]
    rider: Rider | None = session.info.get(RIDER)
    if rider is not None:
        # The rider's column has bound values of its own (not all among ``params``): they
        # are put in by name like the conditions'. Without it the shape never compiled
        # and every page of a cached caller took the slow path (bench/run.py, py-spy).
        keys.append(rider.column._generate_cache_key())
    entry: Any = False
    if all(key is not None for key in keys):
        complete = (shape, rider.column if rider else None, *(key.key for key in keys))
        entry = _pages.get(complete)
        if entry is None:
            stmt = extend(kept).where(*conditions)
            if rider is not None:
                stmt = stmt.add_columns(rider.column)
            supplied = {*params, *(rider.params if rider else ())}
            entry = _compile_page(session, stmt, keys, supplied)
            if len(_pages) >= _COMPILED_LIMIT:
                _pages.clear()
            _pages[complete] = entry
    if not entry:
        return await fetch_views(session, extend(kept).where(*conditions), params)
    compiled, names = entry
    values = {**params, **(rider.params if rider else {})}
    for key, key_names in zip(keys, names, strict=True):
        for bound, name in zip(key.bindparams, key_names, strict=True):
            if not bound.required:  # one given no value here gets it from ``params``
                values[name] = bound.effective_value
    rows = await _run_compiled(
        session, compiled, compiled.construct_params(values, escape_names=False)
    )
    return rows if rider is None else _settled(session, rider, rows)


def _compile_page(session: AsyncSession, stmt: Any, keys: Sequence[Any], supplied: set[str]) -> Any:
    """The compiled page statement and, per cache key, the names in the SQL of its bound
    parameters; False when the statement cannot run on the driver this way, or when a
    parameter of the SQL would get its value from neither a key nor ``supplied`` (it
    would keep the value of the statement compiled here: another caller's, maybe)."""
    compiled = stmt.compile(dialect=session.bind.dialect)
    if compiled.post_compile_params or compiled.literal_execute_params:
        return False
    by_key = {bound.key: name for bound, name in compiled.bind_names.items()}
    try:
        names = [[by_key[bound.key] for bound in key.bindparams] for key in keys]
    except KeyError:  # a parameter rewritten on compiling: not this way
        return False
    if set(compiled.bind_names.values()) - {name for group in names for name in group} - supplied:
        return False
    return compiled, names


def among(column: Any, name: str) -> Any:
    """``column = ANY(:name)``: one bound array however many ids, so the statement keeps
    one shape and can run on the driver (``fetch_views``), unlike an expanding IN list."""
    return column == any_(bindparam(name, type_=ARRAY(Uuid())))
