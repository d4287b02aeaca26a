"""Exports as Apache Parquet: typed columns (from each field's Frictionless type), written
one row group at a time and handed on as soon as it is written, so memory stays flat
however many rows a dataset has (a row group of ``ROW_GROUP_ROWS`` rows at most, held as
Arrow columns, not Python objects).

Pseudonymised exports read tuples PostgreSQL already converted for their columns
(``repository.column_partitions``: UUIDs as text, numbers as float8, timestamps and dates
as integers since the epoch) and turn each partition into Arrow columns at once;
identified ones use the general path's rows (``service._rows``). Tombstones
(``include_deleted``) keep their keys, ``updated_at`` and ``deleted_at``; the other
columns are null. Read back with pandas, polars, DuckDB or pyarrow: timestamps are UTC
microseconds, dates are dates, lists are lists of text (UUIDs as text, as in the other
formats).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator, Callable, Sequence
from contextlib import aclosing
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from app.exports.datasets import ExportField

MEDIA_TYPE = "application/vnd.apache.parquet"
ROW_GROUP_ROWS = 32_768  # rows per row group: large enough for readers, small in memory
COMPRESSION = "zstd"
PSEUDONYM_CACHE = 20_000  # distinct person ids remembered (as the NDJSON fast path)
TOMBSTONE_FIELDS = {"updated_at", "deleted_at"}  # kept in a tombstone, with its keys

ARROW_TYPES: dict[str, pa.DataType] = {
    "string": pa.string(),
    "integer": pa.int64(),
    "number": pa.float64(),
    "boolean": pa.bool_(),
    "date": pa.date32(),
    "datetime": pa.timestamp("us", tz="UTC"),
    "array": pa.list_(pa.string()),
}


def _text(value: Any) -> Any:
    return value if value is None or isinstance(value, str) else str(value)


def _texts(value: Any) -> Any:
    return None if value is None else [_text(item) for item in value]


def _number(value: Any) -> Any:
    return float(value) if isinstance(value, Decimal) else value


def _as_is(value: Any) -> Any:
    return value


# What a driver value becomes before Arrow takes it: UUIDs as text, decimals as floats.
CONVERTERS: dict[str, Callable[[Any], Any]] = {
    "string": _text,
    "array": _texts,
    "number": _number,
}


def schema(fields: Sequence[ExportField], include_deleted: bool) -> pa.Schema:
    """The file's schema: every emitted field typed, then ``deleted_at`` for tombstones."""
    columns = [
        pa.field(f.name, ARROW_TYPES[f.type], metadata={"description": f.description})
        for f in fields
    ]
    if include_deleted:
        columns.append(pa.field("deleted_at", ARROW_TYPES["datetime"]))
    return pa.schema(columns)


class _Sink:
    """The file-like object the writer writes into: it keeps what was written until
    ``drain`` hands it on, and counts the position (the footer's offsets need it)."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.position = 0
        self.closed = False

    def write(self, data: Any) -> int:
        chunk = bytes(data)
        self.chunks.append(chunk)
        self.position += len(chunk)
        return len(chunk)

    def tell(self) -> int:
        return self.position

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True

    def drain(self) -> bytes:
        out = b"".join(self.chunks)
        self.chunks.clear()
        return out


def _batch(rows: list[dict[str, Any]], target: pa.Schema) -> pa.RecordBatch:
    columns = []
    for column in target:
        convert = CONVERTERS.get(_kind(column.type), _as_is)
        values = [convert(row.get(column.name)) for row in rows]
        columns.append(pa.array(values, type=column.type))
    return pa.RecordBatch.from_arrays(columns, schema=target)


def _kind(arrow_type: pa.DataType) -> str:
    if pa.types.is_string(arrow_type):
        return "string"
    if pa.types.is_list(arrow_type):
        return "array"
    if pa.types.is_floating(arrow_type):
        return "number"
    return "other"


async def stream(
    partitions: AsyncGenerator[list[dict[str, Any]]],
    fields: Sequence[ExportField],
    include_deleted: bool,
) -> AsyncGenerator[bytes]:
    """The Parquet file of rows as dicts (the general path: identified exports)."""
    target = schema(fields, include_deleted)

    async def batches() -> AsyncGenerator[pa.RecordBatch]:
        async with aclosing(partitions):
            async for partition in partitions:
                yield _batch(partition, target)

    async with aclosing(_write(batches(), target)) as chunks:
        async for chunk in chunks:
            yield chunk


async def stream_columns(
    partitions: AsyncGenerator[Sequence[Sequence[Any]]],
    fields: Sequence[ExportField],
    include_deleted: bool,
    keys: set[str],
    person_key: Callable[[uuid.UUID], str],
) -> AsyncGenerator[bytes]:
    """The Parquet file of pseudonymised rows as tuples whose values PostgreSQL already
    converted (``repository.column_partitions``): each partition transposed into Arrow
    columns at once. A pseudonym column holds person ids as text: each distinct id is
    hashed once (a bounded cache across partitions). With ``include_deleted`` the last
    column is ``deleted_at``: a tombstone keeps its ``keys`` and ``updated_at`` only."""
    target = schema(fields, include_deleted)
    pseudonyms = {n for n, f in enumerate(fields) if f.pseudonym_of is not None}
    kept = {n for n, column in enumerate(target) if column.name in keys | TOMBSTONE_FIELDS}
    cache: dict[str, str] = {}

    def pseudonym(text: str) -> str:
        if len(cache) >= PSEUDONYM_CACHE:
            cache.clear()
        key = cache[text] = person_key(uuid.UUID(text))
        return key

    def pseudonymised(ids: pa.Array) -> pa.Array:
        encoded = ids.dictionary_encode()
        distinct = encoded.dictionary.to_pylist()
        hashed = pa.array([cache.get(i) or pseudonym(i) for i in distinct], pa.string())
        return hashed.take(encoded.indices)

    async def batches() -> AsyncGenerator[pa.RecordBatch]:
        async with aclosing(partitions):
            async for partition in partitions:
                if not partition:
                    continue
                values = list(zip(*partition, strict=True))
                arrays = [pa.array(values[n], type=column.type) for n, column in enumerate(target)]
                for n in pseudonyms:
                    arrays[n] = pseudonymised(arrays[n])
                if include_deleted:
                    dead = pc.is_valid(arrays[-1])
                    if pc.any(dead).as_py():
                        arrays = [
                            a if n in kept else pc.if_else(dead, pa.scalar(None, a.type), a)
                            for n, a in enumerate(arrays)
                        ]
                yield pa.RecordBatch.from_arrays(arrays, schema=target)

    async with aclosing(_write(batches(), target)) as chunks:
        async for chunk in chunks:
            yield chunk


async def _write(
    batches: AsyncGenerator[pa.RecordBatch], target: pa.Schema
) -> AsyncGenerator[bytes]:
    """Batches gathered into row groups of ``ROW_GROUP_ROWS`` rows, each written and
    handed on at once. Nothing is yielded before the first batch has been read (the
    query accepted), so a failing query is still answered as a problem."""
    sink = _Sink()
    writer: pq.ParquetWriter | None = None
    pending: list[pa.RecordBatch] = []
    rows = 0

    def write_group() -> bytes:
        nonlocal writer, rows
        if writer is None:
            writer = pq.ParquetWriter(sink, target, compression=COMPRESSION)
        if pending:
            writer.write_table(pa.Table.from_batches(pending, schema=target))
            pending.clear()
        rows = 0
        return sink.drain()

    try:
        async with aclosing(batches):
            async for batch in batches:
                if batch.num_rows:
                    pending.append(batch)
                    rows += batch.num_rows
                if rows >= ROW_GROUP_ROWS:
                    yield write_group()
        chunk = write_group()
        assert writer is not None
        writer.close()
        yield chunk + sink.drain()
    finally:
        if writer is not None and writer.is_open:  # closed early: the client left
            writer.close()
