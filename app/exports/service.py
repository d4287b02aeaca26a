"""Exports as bytes: rows pseudonymised (or identified for admins), rendered as NDJSON, a
JSON array, CSV or Parquet (``app.exports.parquet``) and streamed in constant memory,
plus the data package describing them and the audit entry of each export.

A body is *started* before its response is: its first block of rows is read while an
error can still be answered as a problem (``open_body``), never as a 200 cut short.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Sequence
from contextlib import aclosing
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal
from urllib.parse import urlencode

import orjson
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from app.core import audit
from app.core.pii import PersonalData
from app.core.principal import Principal
from app.exports import parquet, repository
from app.exports.datasets import DATASETS, Dataset, ExportField
from app.exports.repository import COPY_DELIMITER, COPY_NULL, COPY_QUOTE, CopyColumn

VALUE_CACHE = 20_000  # distinct person ids remembered per pseudonym column (~4 MB at most)


def data_package(
    base_url: str, identified: bool = False, purpose: str | None = None
) -> dict[str, Any]:
    """The Frictionless descriptor of what the caller receives, from the definitions the
    rows use: the pseudonymised datasets, or (``identified``, admins) the identified ones,
    whose resource paths then carry ``identified=true`` and the ``purpose`` (only the
    datasets that have identified-only fields: the others are the same either way)."""
    resources = []
    for dataset in DATASETS.values():
        fields = dataset.emitted(identified)
        query = {"format": "csv"}
        if identified and len(fields) != len(dataset.emitted(False)):
            query |= {"identified": "true", "purpose": purpose or ""}
        resources.append(
            {
                "name": dataset.name,
                "title": dataset.title,
                "path": f"{base_url}/api/v1/exports/{dataset.name}?{urlencode(query)}",
                "format": "csv",
                "mediatype": "text/csv",
                "encoding": "utf-8",
                "profile": "tabular-data-resource",
                "schema": {
                    "fields": [
                        {
                            "name": f.name,
                            "type": f.type,
                            "description": f.description,
                            **({"format": "default"} if f.type != "array" else {}),
                            **({"berdaya:identified_only": True} if f.personal else {}),
                        }
                        for f in fields
                    ],
                    "primaryKey": [dataset.primary_key],
                    "foreignKeys": [
                        {
                            "fields": [fk.field],
                            "reference": {"resource": fk.dataset, "fields": [fk.reference]},
                        }
                        for fk in dataset.foreign_keys
                    ],
                    "missingValues": [""],
                },
            }
        )
    if identified:
        description = (
            "Identified (admins only): people carry their registry id, name, birth year, "
            "NIK and phone (blank for those who withdrew consent); each download is "
            "audited with its purpose. "
        )
    else:
        description = (
            "Pseudonymised: people appear as person_key (a keyed hash), with birth decade "
            "and age band; no name, NIK, phone or registry id. "
        )
    return {
        "profile": "tabular-data-package",
        "name": "berdaya-identified" if identified else "berdaya",
        "title": "Berdaya community-empowerment data",
        "description": description + "Arrays are JSON text in CSV. Also as format=ndjson, "
        "json or parquet. Pull incrementally with updated_since and include_deleted "
        "(which adds a deleted_at column).",
        "licenses": [{"name": "other-closed", "title": "Restricted: personal data under UU PDP"}],
        "resources": resources,
    }


async def audit_export(
    session: AsyncSession,
    principal: Principal,
    dataset: str,
    identified: bool,
    purpose: str | None,
) -> None:
    """Every export is audited; an identified one with its purpose."""
    await audit.record(
        session,
        principal,
        "export_identified" if identified else "export",
        "exports",
        changed_fields=[dataset],
        note=purpose if identified else None,
    )


@dataclass(frozen=True)
class Export:
    """What one export asks for."""

    dataset: Dataset
    format: Literal["ndjson", "json", "csv", "parquet"]
    identified: bool = False
    updated_since: datetime | None = None
    include_deleted: bool = False


async def open_body(
    conn: AsyncConnection, export: Export, personal: PersonalData
) -> AsyncIterator[bytes]:
    """The export's body with its first block already read, so the database has accepted
    the query before any header is sent: a failure raises here and is answered as a
    problem. The body owns ``conn`` (closed when it ends, fails or is closed)."""
    body = _body(conn, export, personal)
    try:
        first = await anext(body)
    except StopAsyncIteration:  # an empty NDJSON export: the body is done already
        first = b""
    return _resumed(first, body)


async def _resumed(first: bytes, body: AsyncGenerator[bytes]) -> AsyncIterator[bytes]:
    async with aclosing(body):
        if first:
            yield first
        async for chunk in body:
            yield chunk


async def _body(
    conn: AsyncConnection, export: Export, personal: PersonalData
) -> AsyncGenerator[bytes]:
    """The whole body in ``conn``'s snapshot; each stage closes the one it reads (the
    ``COPY`` stops before the connection goes back to the pool)."""
    try:
        lines: AsyncGenerator[bytes]
        if export.format == "csv":
            names = [f.name for f in export.dataset.emitted(export.identified)]
            if export.include_deleted:
                names.append("deleted_at")
            lines = _csv(_rows(conn, export, personal), names)
        elif export.format == "parquet":
            lines = _parquet(conn, export, personal)
        elif export.identified:
            lines = _ndjson(_rows(conn, export, personal))
        else:
            lines = _fast_ndjson(conn, export, personal)
        chunks = _json_array(lines) if export.format == "json" else lines
        async with aclosing(chunks):
            async for chunk in chunks:
                yield chunk
        await conn.commit()
    finally:
        await conn.close()


def _parquet(
    conn: AsyncConnection, export: Export, personal: PersonalData
) -> AsyncGenerator[bytes]:
    """Parquet: identified rows through the general path; pseudonymised ones as typed
    columns, a partition at a time (``app.exports.parquet``)."""
    dataset = export.dataset
    fields = dataset.emitted(export.identified)
    if export.identified:
        return parquet.stream(_rows(conn, export, personal), fields, export.include_deleted)
    partitions = repository.column_partitions(
        conn, dataset, export.updated_since, export.include_deleted
    )
    keys = {"id", dataset.primary_key}
    return parquet.stream_columns(
        partitions, fields, export.include_deleted, keys, personal.hasher.person_key
    )


# --- framing ----------------------------------------------------------------------------------


def _default(value: Any) -> Any:
    """orjson fallback: driver UUIDs as text, decimals as numbers."""
    if isinstance(value, Decimal):
        return float(value)
    return str(value)


def _dumps(value: Any) -> bytes:
    return orjson.dumps(value, default=_default)


async def _ndjson(partitions: AsyncGenerator[list[dict[str, Any]]]) -> AsyncGenerator[bytes]:
    async with aclosing(partitions):
        async for rows in partitions:
            yield b"".join(_dumps(r) + b"\n" for r in rows)


async def _json_array(lines: AsyncGenerator[bytes]) -> AsyncGenerator[bytes]:
    """NDJSON blocks as one JSON array: each block's lines joined by commas (JSON text has
    no raw newline). The opening bracket waits for the first block."""
    opening = b"["
    async with aclosing(lines):
        async for block in lines:
            if block:
                yield opening + block[:-1].replace(b"\n", b",")
                opening = b","
    yield b"]" if opening == b"," else b"[]"


def _csv_value(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, list):
        return _dumps(value).decode()
    if isinstance(value, datetime):
        return value.isoformat()
    text = value if isinstance(value, str) else None
    if text and text[0] in "=+-@\t\r":
        return "'" + text  # never a spreadsheet formula
    return str(value) if not isinstance(value, str | int | float | bool) else value


async def _csv(
    partitions: AsyncGenerator[list[dict[str, Any]]], names: list[str]
) -> AsyncGenerator[bytes]:
    """RFC 4180: CRLF after each record, so the writer quotes any value holding a CR or
    an LF (and, as always, a quote or a comma); the header goes with the first rows."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(names)
    async with aclosing(partitions):
        async for rows in partitions:
            writer.writerows([_csv_value(r.get(name)) for name in names] for r in rows)
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    if buffer.tell():  # no rows: the header alone
        yield buffer.getvalue().encode()


# --- the general path: rows as dicts, in Python -----------------------------------------------


def _value(f: ExportField, row: Any, personal: PersonalData) -> Any:
    if f.compute is not None:
        return f.compute(row, personal)
    if f.pseudonym_of is not None:  # the row holds the person id (repository._columns)
        person_id = row[f.name]
        return None if person_id is None else personal.hasher.person_key(person_id)
    return row[f.name]


async def _rows(
    conn: AsyncConnection, export: Export, personal: PersonalData
) -> AsyncGenerator[list[dict[str, Any]]]:
    dataset, identified = export.dataset, export.identified
    fields = dataset.emitted(identified)
    # Tombstones carry the emitted keys: id, and the primary key when it differs (people
    # pseudonymised: person_key only, their raw id being identified data).
    keys = [f for f in fields if f.name in ("id", dataset.primary_key)]
    partitions = repository.row_partitions(
        conn, dataset, identified, export.updated_since, export.include_deleted
    )
    async with aclosing(partitions):
        async for partition in partitions:
            out = []
            for row in partition:
                if row["_deleted_at"] is not None:
                    out.append(_tombstone(row, keys, personal))
                elif identified and dataset.name == "people" and _withdrawn(row):
                    out.append(_without_personal(row, fields, personal))
                else:
                    out.append({f.name: _value(f, row, personal) for f in fields})
            yield out


def _tombstone(row: Any, keys: list[ExportField], personal: PersonalData) -> dict[str, Any]:
    out = {f.name: _value(f, row, personal) for f in keys}
    out["deleted_at"] = row["_deleted_at"]
    out["updated_at"] = row["updated_at"]
    return out


def _withdrawn(row: Any) -> bool:
    """People who withdrew consent (or were erased) leave identified exports."""
    given, withdrawn = row["_consent_given_at"], row["_consent_withdrawn_at"]
    return given is None or (withdrawn is not None and withdrawn >= given)


def _without_personal(
    row: Any, fields: list[ExportField], personal: PersonalData
) -> dict[str, Any]:
    """Identifying values blanked; the registry id stays (the row's key for the admin)."""
    return {
        f.name: None if f.personal and f.name != "id" else _value(f, row, personal) for f in fields
    }


# --- the fast path: pseudonymised NDJSON from COPY, framed a whole block at a time -----------


class _Cached(dict[bytes, bytes]):
    """The COPY text of a value -> its JSON, converted on first sight (bounded): a person
    id -> its quoted ``person_key``. A person has many records, so most rows cost one
    dictionary lookup instead of an HMAC."""

    def __init__(self, convert: Callable[[bytes], bytes]) -> None:
        super().__init__()
        self.convert = convert

    def __missing__(self, text: bytes) -> bytes:
        if len(self) >= VALUE_CACHE:
            self.clear()
        value = self[text] = b"null" if text == COPY_NULL else self.convert(text)
        return value


def _json_key(name: str, first: bool) -> bytes:
    return (b"{" if first else b",") + orjson.dumps(name) + b":"


def _renderer(
    columns: Sequence[CopyColumn], keys: set[str], tombstones: bool, personal: PersonalData
) -> Callable[[bytes], bytes]:
    """The function turning complete ``COPY`` lines into NDJSON: each value poured into
    the row's constant JSON template. With ``tombstones`` the last column is
    ``deleted_at``: where it is not null, the row is written as its ``keys``,
    ``deleted_at`` and ``updated_at``."""
    width = len(columns)
    fields = columns[:-1] if tombstones else columns
    before: list[bytes] = []  # the row's constant JSON before each value
    close = b""  # what closes the previous value (its quote, when the template adds it)
    for n, column in enumerate(fields):
        before.append(close + _json_key(column.name, n == 0))
        close = b""
        if column.kind == "uuid":
            before[-1] += b'"'
            close = b'"'
    end = close + b"}\n"
    # what follows each value of a row: the last closes the row and opens the next one
    after = [*before[1:], end + before[0]]
    hasher = personal.hasher
    converters = {
        n: _Cached(lambda text: b'"%s"' % hasher.person_key(uuid.UUID(text.decode())).encode())
        for n, column in enumerate(columns)
        if column.kind == "person"
    }
    # a tombstone's members, in order: (its key, its column, quoted by the template)
    at = {c.name: n for n, c in enumerate(columns)}
    names = [c.name for c in fields if c.name in keys] + ["deleted_at", "updated_at"]
    members = [
        (_json_key(name, m == 0), at[name], columns[at[name]].kind == "uuid")
        for m, name in enumerate(names if tombstones else [])
    ]

    def live(values: list[bytes], rows: int) -> bytes:
        out = [before[0]] * (2 * len(values) + 1)  # constant, value, constant, ..., value
        out[1::2] = values
        out[2::2] = after * rows
        out[-1] = end
        return b"".join(out)

    def tombstone(values: list[bytes]) -> bytes:
        parts = [key + (b'"%s"' % values[n] if quoted else values[n]) for key, n, quoted in members]
        return b"".join(parts) + b"}\n"

    def render(block: bytes) -> bytes:
        values = block.replace(b"\n", COPY_DELIMITER).split(COPY_DELIMITER)
        values.pop()  # after the last newline
        rows, rest = divmod(len(values), width)
        if rest or COPY_QUOTE in block:  # impossible unless a value broke the contract
            raise RuntimeError("unexpected COPY output in an export")
        for n, converter in converters.items():
            values[n::width] = map(converter.__getitem__, values[n::width])
        if not tombstones:
            return live(values, rows) if rows else b""
        # runs of live rows rendered as one, each tombstone on its own
        dead = [r for r, text in enumerate(values[width - 1 :: width]) if text != COPY_NULL]
        parts, start = [], 0
        for r in [*dead, rows]:
            if r > start:
                run = values[start * width : r * width]
                del run[width - 1 :: width]
                parts.append(live(run, r - start))
            if r < rows:
                parts.append(tombstone(values[r * width : (r + 1) * width]))
            start = r + 1
        return b"".join(parts)

    return render


async def _fast_ndjson(
    conn: AsyncConnection, export: Export, personal: PersonalData
) -> AsyncGenerator[bytes]:
    """Pseudonymised NDJSON at close to COPY speed: the database renders each value;
    Python only frames whole blocks of them (and computes ``person_key``)."""
    dataset = export.dataset
    stmt, columns = repository.copy_statement(
        conn, dataset, export.updated_since, export.include_deleted
    )
    render = _renderer(columns, {"id", dataset.primary_key}, export.include_deleted, personal)
    blocks = repository.copy_blocks(conn, stmt)
    async with aclosing(blocks):
        async for block in blocks:
            yield render(block)
