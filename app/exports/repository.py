"""Every query of the exports: the snapshot an export reads in, the rows of the general path
(a server-side cursor) and the fast path's ``COPY`` (its statement and its stream).

Rows always come in ``updated_at, id`` order, so a pull can resume where it stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import (
    ARRAY,
    BigInteger,
    Float,
    Integer,
    RowMapping,
    Text,
    Uuid,
    cast,
    func,
    literal_column,
    select,
    text,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from app.core.fastpath import driver_listeners
from app.core.replica import HIGH_WATER_SQL, ReadRoute
from app.exports.datasets import HIDDEN, Dataset, ExportField

PARTITION = 1000  # rows fetched (and rendered) at a time on the general path


async def open_snapshot(route: ReadRoute) -> tuple[AsyncConnection, datetime]:
    """The route's connection (the export outlives the request's session) in a
    repeatable-read, read-only transaction, and the high-water mark that holds in it: read
    in the snapshot on the primary; on a replica, the primary's mark the route checked the
    replica had replayed before this snapshot (``app.core.replica``). The caller owns the
    connection: it must close it."""
    conn = route.connection
    assert conn is not None, "open the route with connect_primary"
    try:
        await conn.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"))
        if route.mark is not None:
            return conn, route.mark.high_water
        high_water = (await conn.execute(HIGH_WATER_SQL)).scalar_one()
    except BaseException:
        await conn.close()
        raise
    return conn, high_water


# --- the general path: a server-side cursor, one partition at a time ------------------------


def _columns(dataset: Dataset, identified: bool) -> list[Any]:
    """The emitted fields' columns by their names, the hidden ones and ``_deleted_at``. A
    pseudonym's column is the person id it is computed from (in Python, by the service:
    the pseudonym key never reaches the database)."""
    columns = [
        (f.pseudonym_of if f.pseudonym_of is not None else f.expr).label(f.name)
        for f in dataset.emitted(identified)
        if f.expr is not None  # None: computed in Python from hidden columns
    ]
    return columns + HIDDEN.get(dataset.name, []) + [dataset.deleted_column.label("_deleted_at")]


async def row_partitions(
    conn: AsyncConnection,
    dataset: Dataset,
    identified: bool,
    updated_since: datetime | None,
    include_deleted: bool,
) -> AsyncGenerator[Sequence[RowMapping]]:
    """The rows of ``_columns``, ``PARTITION`` at a time."""
    stmt = select(*_columns(dataset, identified))
    if not include_deleted:
        stmt = stmt.where(dataset.deleted_column.is_(None))
    stmt = _ordered(stmt, dataset, updated_since)
    result = await conn.stream(stmt.execution_options(yield_per=PARTITION))
    async for partition in result.mappings().partitions(PARTITION):
        yield partition


def _ordered(stmt: Any, dataset: Dataset, updated_since: datetime | None) -> Any:
    stmt = stmt.order_by(dataset.updated_column, dataset.id_column)
    if updated_since is not None:
        stmt = stmt.where(dataset.updated_column >= updated_since)
    return stmt


# --- the fast path: pseudonymised NDJSON / JSON, values rendered by PostgreSQL -------------
#
# A multi-column ``COPY ... (FORMAT csv)`` of each value already in its JSON form
# (``to_json`` where escaping or formatting is needed, the plain text of UUIDs and integers
# otherwise); the service pours the values into the row's constant JSON template, a whole
# chunk at a time, and computes ``person_key`` once per distinct person (in Python: the
# pseudonym key, or anything derived from it, never goes to the database, whose log may
# hold every statement and parameter). With ``include_deleted`` a last column holds
# ``deleted_at`` (JSON null for live rows): the service writes tombstones from it. The
# rows equal ``json_build_object``'s once parsed (tests/exports/test_exports.py compares
# them on hostile values).

# JSON_SCALAR (PostgreSQL 17+) renders exactly as to_json, but looks the type up once
# per query instead of once per value (~20% of the database's work here).
JSON_SCALAR_SINCE = (17,)
COPY_CHUNK = 1 << 18  # raw COPY bytes read before they are handed on, whole lines
# CSV-mode COPY settings: a quote and a delimiter no value contains (``to_json`` escapes
# every control character; UUIDs and numbers have none), so values are never quoted and
# pass through verbatim; NULL is written as JSON's null (a value that is the text "null"
# would be quoted: none can be, and quoting is checked).
COPY_QUOTE, COPY_DELIMITER, COPY_NULL = b"\x01", b"\x02", b"null"


def _sql_string(value: str) -> Any:
    """One of our own constants (a JSON quote) as an SQL string literal: inlined, so it
    costs neither a parameter nor a lookup."""
    return literal_column("'" + value.replace("'", "''") + "'", Text)


def _plain(expr: Any) -> bool:
    """Types whose text form is their JSON as it is (UUIDs once quoted): no ``to_json``."""
    return isinstance(expr.type, Uuid | Integer)


@dataclass(frozen=True)
class CopyColumn:
    """What the ``COPY`` text of one column is: ``json``, the value's JSON as it is;
    ``uuid``, a UUID (never NULL) the template quotes; ``person``, a person id whose
    ``person_key`` the service computes."""

    name: str
    kind: Literal["json", "uuid", "person"]


def copy_statement(
    conn: AsyncConnection,
    dataset: Dataset,
    updated_since: datetime | None,
    include_deleted: bool,
) -> tuple[Any, list[CopyColumn]]:
    """The fast path's ``SELECT``: one column per pseudonymised field, in order, then
    ``deleted_at`` with ``include_deleted``."""
    version = conn.dialect.server_version_info or (0,)
    to_json = func.json_scalar if version >= JSON_SCALAR_SINCE else func.to_json
    columns: list[Any] = []
    described: list[CopyColumn] = []
    for f in dataset.emitted(identified=False):
        if f.pseudonym_of is not None:
            columns.append(f.pseudonym_of)
            described.append(CopyColumn(f.name, "person"))
        elif isinstance(f.expr.type, Uuid) and not getattr(f.expr, "nullable", True):
            columns.append(f.expr)
            described.append(CopyColumn(f.name, "uuid"))
        elif isinstance(f.expr.type, Uuid):  # quoted in SQL, so that NULL stays NULL
            columns.append(_sql_string('"') + cast(f.expr, Text) + _sql_string('"'))
            described.append(CopyColumn(f.name, "json"))
        else:
            columns.append(f.expr if _plain(f.expr) else to_json(f.expr))
            described.append(CopyColumn(f.name, "json"))
    stmt = select(*columns).select_from(dataset.table)
    if include_deleted:
        stmt = stmt.add_columns(to_json(dataset.deleted_column))
        described.append(CopyColumn("deleted_at", "json"))
    else:
        stmt = stmt.where(dataset.deleted_column.is_(None))
    return _ordered(stmt, dataset, updated_since), described


async def copy_blocks(conn: AsyncConnection, stmt: Any) -> AsyncGenerator[bytes]:
    """The rows of ``stmt`` streamed from ``COPY ... TO STDOUT`` (CSV mode with the
    settings above), ~256 KiB of whole lines at a time; memory stays flat and the queue
    gives backpressure."""
    compiled = stmt.compile(dialect=conn.dialect)
    params = [compiled.params[name] for name in (compiled.positiontup or [])]
    raw = (await conn.get_raw_connection()).driver_connection
    queue: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize=8)
    pending = bytearray()

    async def flush(final: bool) -> None:
        cut = len(pending) if final else pending.rfind(b"\n") + 1
        if cut:
            with memoryview(pending) as view:
                block = bytes(view[:cut])
            del pending[:cut]
            await queue.put(block)

    async def sink(data: bytes) -> None:
        pending.extend(data)
        if len(pending) >= COPY_CHUNK:
            await flush(final=False)

    async def copy() -> None:
        try:
            await raw.copy_from_query(
                compiled.string,
                *params,
                output=sink,
                format="csv",
                delimiter=COPY_DELIMITER.decode(),
                quote=COPY_QUOTE.decode(),
                null=COPY_NULL.decode(),
            )
            await flush(final=True)
        finally:
            await queue.put(None)

    for listener in driver_listeners:  # COPY runs on the driver, unseen by SQLAlchemy
        listener(compiled.string, params)
    task = asyncio.create_task(copy())
    try:
        while (chunk := await queue.get()) is not None:
            yield chunk
        await task  # re-raise a failed COPY
    finally:
        if not task.done():
            task.cancel()
            with contextlib.suppress(BaseException):
                await task


# --- Parquet, pseudonymised: rows as tuples already in their column types -------------------
#
# PostgreSQL converts each value into what its Arrow column takes without a Python object
# per value that costs: UUIDs as text, numbers as float8, lists as text[], timestamps as
# microseconds since the epoch (bigint) and dates as days since it (integer), which Arrow
# reinterprets as timestamp[us, UTC] and date32 at no cost. Read with the driver's cursor
# a partition at a time (asyncpg records, decoded in C).

COLUMN_PARTITION = 10_000  # rows fetched (and turned into Arrow columns) at a time
_EPOCH_DATE: Any = literal_column("DATE '1970-01-01'")


def _typed(f: ExportField) -> Any:
    """A field as its Parquet column wants it (a pseudonym's column is its person id as
    text: the service computes ``person_key``; the key never reaches the database)."""
    source = f.pseudonym_of if f.pseudonym_of is not None else f.expr
    if f.type == "string" or f.pseudonym_of is not None:
        return cast(source, Text)
    if f.type == "number":
        return cast(source, Float)
    if f.type == "array":
        return cast(source, ARRAY(Text))
    if f.type == "datetime":
        return _epoch_microseconds(source)
    if f.type == "date":
        return cast(source.op("-")(_EPOCH_DATE), Integer)
    return source


def _epoch_microseconds(timestamp: Any) -> Any:
    return cast(func.extract("epoch", timestamp) * 1_000_000, BigInteger)


async def column_partitions(
    conn: AsyncConnection,
    dataset: Dataset,
    updated_since: datetime | None,
    include_deleted: bool,
) -> AsyncGenerator[list[Sequence[Any]]]:
    """The pseudonymised fields in order (then ``deleted_at`` with ``include_deleted``),
    ``COLUMN_PARTITION`` rows at a time, in the export's order, in ``conn``'s
    transaction."""
    columns = [_typed(f).label(f.name) for f in dataset.emitted(identified=False)]
    stmt = select(*columns).select_from(dataset.table)
    if include_deleted:
        stmt = stmt.add_columns(_epoch_microseconds(dataset.deleted_column).label("deleted_at"))
    else:
        stmt = stmt.where(dataset.deleted_column.is_(None))
    stmt = _ordered(stmt, dataset, updated_since)
    compiled = stmt.compile(dialect=conn.dialect)
    params = [compiled.params[name] for name in (compiled.positiontup or [])]
    raw = (await conn.get_raw_connection()).driver_connection
    for listener in driver_listeners:  # run on the driver, unseen by SQLAlchemy
        listener(compiled.string, params)
    cursor = await raw.cursor(compiled.string, *params)
    while rows := await cursor.fetch(COLUMN_PARTITION):
        yield rows
