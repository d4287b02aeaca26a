"""``/exports``: the data package and every dataset streamed in constant memory.

Rows come from a server-side cursor in ``updated_at, id`` order (so a pull can
resume), are serialised one partition at a time and sent as they are read.
``X-Export-High-Water-Mark`` tells where the next incremental pull should start.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import AwareDatetime
from sqlalchemy import (
    Integer,
    Text,
    Uuid,
    case,
    cast,
    func,
    literal_column,
    select,
    text,
    true,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from app.auth.deps import PrincipalDep, SessionDep
from app.auth.models import Role
from app.auth.policy import READ, authorize
from app.core import audit
from app.core.errors import Forbidden, NotFound, Unprocessable, problem_responses
from app.core.fastpath import confirm_rider
from app.core.pii import PersonalData
from app.exports.datasets import DATASETS, HIDDEN, PAD_SETTINGS, Dataset

router = APIRouter(prefix="/exports", tags=["exports"])

MEDIA_TYPES = {"ndjson": "application/x-ndjson", "json": "application/json", "csv": "text/csv"}
PARTITION = 1000
HIGH_WATER_HEADER = "X-Export-High-Water-Mark"

# The instant up to which every committed change is visible: now, or the start of the
# oldest transaction still running (its rows may land later with an older updated_at).
_HIGH_WATER_SQL = text(
    "SELECT least(now(), coalesce((SELECT min(xact_start) FROM pg_stat_activity "
    "WHERE datname = current_database() AND pid <> pg_backend_pid() "
    "AND xact_start IS NOT NULL AND state <> 'idle'), now()))"
)


def data_package(base_url: str) -> dict[str, Any]:
    resources = []
    for dataset in DATASETS.values():
        resources.append(
            {
                "name": dataset.name,
                "title": dataset.title,
                "path": f"{base_url}/api/v1/exports/{dataset.name}?format=csv",
                "format": "csv",
                "mediatype": "text/csv",
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
                        for f in dataset.fields
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
    return {
        "profile": "tabular-data-package",
        "name": "berdaya",
        "title": "Berdaya community-empowerment data",
        "description": "Pseudonymised by default: people appear as person_key; arrays are "
        "JSON text in CSV. Pull incrementally with updated_since and include_deleted.",
        "licenses": [{"name": "other-closed", "title": "Restricted: personal data under UU PDP"}],
        "resources": resources,
    }


@router.get(
    "",
    name="exports-datapackage",
    summary="Frictionless data package describing every dataset (fields, keys)",
    responses=problem_responses(401, 403),
)
async def get_data_package(request: Request, principal: PrincipalDep) -> dict[str, Any]:
    authorize(principal, "exports", READ)
    return data_package(str(request.base_url).rstrip("/"))


def _columns(dataset: Dataset, identified: bool) -> list[Any]:
    columns = [
        f.expr.label(f.name)
        for f in dataset.fields
        if f.expr is not None and (identified or not f.personal)
    ]
    return columns + HIDDEN.get(dataset.name, []) + [dataset.deleted_column.label("_deleted_at")]


def _emit_fields(dataset: Dataset, identified: bool) -> list[Any]:
    return [f for f in dataset.fields if identified or not f.personal]


def _default(value: Any) -> Any:
    """orjson fallback: driver UUIDs as text, decimals as numbers."""
    if isinstance(value, Decimal):
        return float(value)
    return str(value)


def _dumps(value: Any) -> bytes:
    return orjson.dumps(value, default=_default)


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


async def _rows(
    conn: AsyncConnection,
    dataset: Dataset,
    identified: bool,
    updated_since: datetime | None,
    include_deleted: bool,
    personal: PersonalData,
) -> AsyncIterator[list[dict[str, Any]]]:
    stmt = select(*_columns(dataset, identified)).order_by(
        dataset.updated_column, dataset.id_column
    )
    if updated_since is not None:
        stmt = stmt.where(dataset.updated_column >= updated_since)
    if not include_deleted:
        stmt = stmt.where(dataset.deleted_column.is_(None))
    fields = _emit_fields(dataset, identified)
    # Tombstones carry the emitted keys: id, and the primary key when it differs (people
    # pseudonymised: person_key only, their raw id being identified data).
    keys = [f for f in fields if f.name in ("id", dataset.primary_key)]
    result = await conn.stream(stmt.execution_options(yield_per=PARTITION))
    async for partition in result.mappings().partitions(PARTITION):
        out = []
        for row in partition:
            if row["_deleted_at"] is not None:
                out.append(_tombstone(row, keys, personal))
                continue
            if identified and dataset.name == "people" and _withdrawn(row):
                out.append(_without_personal(row, fields, personal))
                continue
            out.append(
                {f.name: (f.compute(row, personal) if f.compute else row[f.name]) for f in fields}
            )
        yield out


def _tombstone(row: Any, keys: list[Any], personal: PersonalData) -> dict[str, Any]:
    out = {f.name: (f.compute(row, personal) if f.compute else row[f.name]) for f in keys}
    out["deleted_at"] = row["_deleted_at"]
    out["updated_at"] = row["updated_at"]
    return out


def _withdrawn(row: Any) -> bool:
    """People who withdrew consent (or were erased) leave identified exports."""
    given, withdrawn = row["_consent_given_at"], row["_consent_withdrawn_at"]
    return given is None or (withdrawn is not None and withdrawn >= given)


def _without_personal(row: Any, fields: list[Any], personal: PersonalData) -> dict[str, Any]:
    """Identifying values blanked; the registry id stays (the row's key for the admin)."""
    return {
        f.name: (
            None
            if f.personal and f.name != "id"
            else f.compute(row, personal)
            if f.compute
            else row[f.name]
        )
        for f in fields
    }


# --- the fast path: pseudonymised NDJSON / JSON rendered by PostgreSQL, framed by COPY ----
#
# Rows without tombstones (the common, large pulls) come from a multi-column
# ``COPY ... (FORMAT csv)`` of each value already in its JSON form (``to_json`` where
# escaping or formatting is needed, the plain text of UUIDs and integers otherwise); the
# server pours the values into the row's constant JSON template, a whole chunk at a time,
# and computes ``person_key`` once per distinct person. With tombstones, PostgreSQL renders
# each row as one JSON text (``_json_row_sql``). Both equal ``json_build_object``'s rows
# once parsed (tests/test_exports.py compares them on hostile values).

# JSON_SCALAR (PostgreSQL 17+) renders exactly as to_json, but looks the type up once
# per query instead of once per value (~20% of the database's work here).
JSON_SCALAR_SINCE = (17,)
COPY_CHUNK = 1 << 18  # raw COPY bytes rendered and sent at a time
# CSV-mode COPY settings: a quote and a delimiter no value contains (``to_json`` escapes
# every control character; UUIDs and numbers have none), so values are never quoted and
# pass through verbatim; NULL is written as JSON's null (a value that is the text "null"
# would be quoted: none can be, and quoting is checked).
COPY_QUOTE, COPY_DELIMITER, COPY_NULL = b"\x01", b"\x02", b"null"
VALUE_CACHE = 20_000  # distinct values remembered per converted column (~4 MB at most)


def _sql_string(value: str) -> Any:
    """One of our own constants (JSON punctuation, field names) as an SQL string literal:
    inlined, so it costs neither a parameter nor a lookup."""
    return literal_column("'" + value.replace("'", "''") + "'", Text)


def _json_key(name: str, first: bool) -> str:
    return ("{" if first else ",") + orjson.dumps(name).decode() + ":"


def _plain(expr: Any) -> bool:
    """Types whose text form is their JSON as it is (UUIDs once quoted): no ``to_json``."""
    return isinstance(expr.type, Uuid | Integer)


def _concat(parts: list[Any]) -> Any:
    """``concat()`` of constant strings and SQL expressions, adjacent constants merged.
    (``concat`` renders each argument with its output function into one buffer: much
    cheaper than a chain of ``||`` or ``json_build_object``'s per-value type lookups.)"""
    merged: list[Any] = []
    for part in parts:
        if isinstance(part, str) and merged and isinstance(merged[-1], str):
            merged[-1] += part
        else:
            merged.append(part)
    args = [_sql_string(part) if isinstance(part, str) else part for part in merged]
    while len(args) > 100:  # a PostgreSQL function takes at most 100 arguments
        args = [func.concat(*args[i : i + 100]) for i in range(0, len(args), 100)]
    return func.concat(*args)


def _json_value(expr: Any, to_json: Any) -> list[Any]:
    """``expr`` as JSON text exactly as ``to_json`` (so ``json_build_object``) renders it,
    as parts for ``_concat``; NULL is ``null``."""
    nullable = getattr(expr, "nullable", True)  # columns know; expressions may be NULL
    if _plain(expr):
        text_ = cast(expr, Text)
        if isinstance(expr.type, Uuid):
            text_ = _sql_string('"') + text_ + _sql_string('"')
            if not nullable:
                return ['"', expr, '"']
        elif not nullable:
            return [expr]
        return [case((expr.is_(None), _sql_string("null")), else_=text_)]
    value = to_json(expr)
    return [func.coalesce(cast(value, Text), _sql_string("null")) if nullable else value]


def _json_object(pairs: list[tuple[str, list[Any]]]) -> Any:
    """A compact JSON object of ``(name, value parts)``, in order, as one text expression."""
    parts: list[Any] = []
    for n, (name, value) in enumerate(pairs):
        parts += [_json_key(name, n == 0), *value]
    return _concat([*parts, "}"])


def _json_row_sql(dataset: Dataset, to_json: Any) -> Any:
    """``SELECT`` of one text column per row, rendered by PostgreSQL: the pseudonymised row
    as JSON, or its tombstone (the row's keys, ``deleted_at`` and ``updated_at``)."""
    fields = _emit_fields(dataset, identified=False)
    source: Any = dataset.table
    values: dict[str, list[Any]] = {}
    for f in fields:
        if f.pseudonym_of is not None and f.pseudonym_of is not dataset.id_column:
            # A LATERAL subquery kept whole (OFFSET 0) is parameterised by the person id:
            # PostgreSQL memoizes it, so a key (two SHA-256) is computed once per person.
            memo = (
                select(_concat(_json_value(f.expr, to_json)).label("v"))
                .correlate(dataset.table)
                .offset(0)
                .lateral(f"_memo_{f.name}")
            )
            source = source.outerjoin(memo, true())
            values[f.name] = [memo.c.v]
        else:
            values[f.name] = _json_value(f.expr, to_json)
    row = _json_object([(f.name, values[f.name]) for f in fields])
    tombstone = _json_object(
        [(f.name, values[f.name]) for f in fields if f.name in ("id", dataset.primary_key)]
        + [
            ("deleted_at", _json_value(dataset.deleted_column, to_json)),
            ("updated_at", _json_value(dataset.updated_column, to_json)),
        ]
    )
    return select(case((dataset.deleted_column.is_not(None), tombstone), else_=row)).select_from(
        source
    )


class _Cached(dict[bytes, bytes]):
    """The COPY text of a value -> its JSON, converted on first sight (bounded): a person
    id -> its quoted ``person_key``. A person has many records, so most rows cost one
    dictionary lookup instead of two SHA-256 rounds in the database."""

    def __init__(self, convert: Callable[[bytes], bytes]) -> None:
        super().__init__()
        self.convert = convert

    def __missing__(self, text: bytes) -> bytes:
        if len(self) >= VALUE_CACHE:
            self.clear()
        value = self[text] = b"null" if text == COPY_NULL else self.convert(text)
        return value


def _json_template(
    dataset: Dataset, personal: PersonalData, to_json: Any
) -> tuple[list[Any], list[bytes], bytes, dict[int, _Cached]]:
    """The fast path's ``COPY`` columns (each value in its JSON form, or the text of a UUID
    or a person id), the row's constant JSON before each value and after the last, and the
    converters of the columns the server finishes (by position)."""
    columns: list[Any] = []
    before: list[str] = []
    converters: dict[int, _Cached] = {}
    hasher = personal.hasher
    close = ""  # what closes the previous value (its quote, when the template adds it)
    for n, f in enumerate(_emit_fields(dataset, identified=False)):
        before.append(close + _json_key(f.name, n == 0))
        close = ""
        if f.pseudonym_of is not None:
            columns.append(f.pseudonym_of)
            converters[n] = _Cached(
                lambda text: b'"%s"' % hasher.person_key(uuid.UUID(text.decode())).encode()
            )
        elif isinstance(f.expr.type, Uuid) and not getattr(f.expr, "nullable", True):
            columns.append(f.expr)  # quoted by the template
            before[-1] += '"'
            close = '"'
        elif isinstance(f.expr.type, Uuid):  # quoted in SQL, so that NULL stays NULL
            columns.append(_sql_string('"') + cast(f.expr, Text) + _sql_string('"'))
        else:
            columns.append(f.expr if _plain(f.expr) else to_json(f.expr))
    return columns, [b.encode() for b in before], (close + "}\n").encode(), converters


def _renderer(
    dataset: Dataset, personal: PersonalData, to_json: Any
) -> tuple[Any, Callable[[bytes], bytes]]:
    """The ``COPY`` statement and the function turning its complete lines into NDJSON."""
    columns, before, end, converters = _json_template(dataset, personal, to_json)
    width = len(columns)
    # what follows each value of a row: the last closes the row and opens the next one
    after = [*before[1:], end + before[0]]

    def render(block: bytes) -> bytes:
        values = block.replace(b"\n", COPY_DELIMITER).split(COPY_DELIMITER)
        values.pop()  # after the last newline
        rows, rest = divmod(len(values), width)
        if rest or COPY_QUOTE in block:  # impossible unless a value broke the contract
            raise RuntimeError("unexpected COPY output in an export")
        for n, converter in converters.items():
            values[n::width] = map(converter.__getitem__, values[n::width])
        out = [before[0]] * (2 * len(values) + 1)  # constant, value, constant, ..., value
        out[1::2] = values
        out[2::2] = after * rows
        out[-1] = end
        return b"".join(out)

    return select(*columns), render


async def _copy_lines(
    conn: AsyncConnection, stmt: Any, render: Callable[[bytes], bytes] | None = None
) -> AsyncIterator[bytes]:
    """The rows of ``stmt`` streamed from ``COPY ... TO STDOUT`` (CSV mode with the
    settings above), ``render``-ed ~256 KiB of whole lines at a time; memory stays flat and
    the queue gives backpressure. Without ``render``, the lines of a one-column ``stmt``."""
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
            await queue.put(render(block) if render else block)

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

    task = asyncio.create_task(copy())
    try:
        while (chunk := await queue.get()) is not None:
            yield chunk
        await task  # re-raise a failed COPY (the body is then cut short)
    finally:
        if not task.done():
            task.cancel()
            with contextlib.suppress(BaseException):
                await task


async def _fast_stream(
    conn: AsyncConnection,
    dataset: Dataset,
    fmt: str,
    updated_since: datetime | None,
    include_deleted: bool,
    personal: PersonalData,
) -> AsyncIterator[bytes]:
    """NDJSON or a JSON array of pseudonymised rows at close to COPY speed: the database
    renders each value; Python only frames whole chunks of them."""
    try:
        version = conn.dialect.server_version_info or (0,)
        to_json = func.json_scalar if version >= JSON_SCALAR_SINCE else func.to_json
        render: Callable[[bytes], bytes] | None = None
        if include_deleted:
            stmt = _json_row_sql(dataset, to_json)
        else:
            stmt, render = _renderer(dataset, personal, to_json)
            stmt = stmt.select_from(dataset.table).where(dataset.deleted_column.is_(None))
        stmt = stmt.order_by(dataset.updated_column, dataset.id_column)
        if updated_since is not None:
            stmt = stmt.where(dataset.updated_column >= updated_since)
        first = True
        if fmt == "json":
            yield b"["
        async for chunk in _copy_lines(conn, stmt, render):
            if fmt == "json":  # the lines joined by commas (JSON text has no raw newline)
                chunk = (b"" if first else b",") + chunk[:-1].replace(b"\n", b",")
                first = False
            yield chunk
        if fmt == "json":
            yield b"]"
        await conn.commit()
    finally:
        await conn.close()


async def _stream(
    conn: AsyncConnection,
    dataset: Dataset,
    fmt: str,
    identified: bool,
    updated_since: datetime | None,
    include_deleted: bool,
    personal: PersonalData,
) -> AsyncIterator[bytes]:
    try:
        fields = [f.name for f in _emit_fields(dataset, identified)]
        first = True
        if fmt == "json":
            yield b"["
        if fmt == "csv":
            buffer = io.StringIO()
            writer = csv.writer(buffer, lineterminator="\n")
            writer.writerow([*fields, "deleted_at"] if include_deleted else fields)
            yield buffer.getvalue().encode()
        async for rows in _rows(
            conn, dataset, identified, updated_since, include_deleted, personal
        ):
            if fmt == "ndjson":
                yield b"".join(_dumps(r) + b"\n" for r in rows)
            elif fmt == "json":
                chunk = b",".join(_dumps(r) for r in rows)
                if chunk:
                    yield (b"" if first else b",") + chunk
                    first = False
            else:
                buffer = io.StringIO()
                writer = csv.writer(buffer, lineterminator="\n")
                for r in rows:
                    values = [_csv_value(r.get(name)) for name in fields]
                    if include_deleted:
                        values.append(_csv_value(r.get("deleted_at")))
                    writer.writerow(values)
                yield buffer.getvalue().encode()
        if fmt == "json":
            yield b"]"
        await conn.commit()
    finally:
        await conn.close()


@router.get(
    "/{dataset}",
    name="exports-dataset",
    summary="Stream one dataset as NDJSON (default), a JSON array or CSV",
    description=(
        "Rows are ordered by `updated_at, id`. `updated_since` is inclusive; "
        "`include_deleted=true` adds tombstones `{id, deleted_at, updated_at}` (people: "
        "`person_key` instead of `id`). The "
        "`X-Export-High-Water-Mark` header is the `updated_since` to use next time. People "
        "are pseudonymised (`person_key`, birth decade, age band) unless an admin asks "
        "`identified=true&purpose=...`, which is audited."
    ),
    responses={
        **problem_responses(401, 403, 404, 422),
        200: {
            "content": {"application/x-ndjson": {}, "text/csv": {}, "application/json": {}},
            "description": "The rows",
        },
    },
)
async def export_dataset(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    dataset: str,
    format: Literal["ndjson", "json", "csv"] = "ndjson",
    updated_since: Annotated[
        AwareDatetime | None, Query(description="Inclusive, RFC 3339 with offset")
    ] = None,
    include_deleted: bool = False,
    identified: bool = False,
    purpose: Annotated[
        str | None,
        Query(min_length=5, max_length=300, description="Why identified data is needed (audited)"),
    ] = None,
) -> Response:
    authorize(principal, "exports", READ)
    definition = DATASETS.get(dataset)
    if definition is None:
        raise NotFound(f"no dataset '{dataset}'; see GET /api/v1/exports")
    if identified:
        if principal.role is not Role.admin:
            raise Forbidden("only admins may export identified data")
        if not purpose:
            raise Unprocessable("identified exports need a purpose", loc=["query", "purpose"])
    await confirm_rider(session)  # before the audit entry and the streaming connection
    await audit.record(
        session,
        principal,
        "export_identified" if identified else "export",
        "exports",
        changed_fields=[dataset],
        note=purpose if identified else None,
    )
    await session.commit()
    engine = request.app.state.database.engine
    conn = await engine.connect()
    try:
        await conn.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"))
        high_water = (await conn.execute(_HIGH_WATER_SQL)).scalar_one()
        # person_key is computed in SQL from the pseudonym key's HMAC pads, set for this
        # transaction only and passed as parameters (never in SQL text or logs).
        ipad, opad = request.app.state.personal_data.hasher.pseudonym_pads()
        await conn.execute(
            text("SELECT set_config(:i_name, :ipad, true), set_config(:o_name, :opad, true)"),
            {"i_name": PAD_SETTINGS[0], "ipad": ipad, "o_name": PAD_SETTINGS[1], "opad": opad},
        )
    except BaseException:
        await conn.close()
        raise
    personal: PersonalData = request.app.state.personal_data
    body = (
        _fast_stream(conn, definition, format, updated_since, include_deleted, personal)
        if format != "csv" and not identified
        else _stream(conn, definition, format, identified, updated_since, include_deleted, personal)
    )
    return StreamingResponse(
        body,
        media_type=MEDIA_TYPES[format] + ("; charset=utf-8" if format == "csv" else ""),
        headers={
            HIGH_WATER_HEADER: high_water.isoformat(),
            "Cache-Control": "no-store",
            "Content-Disposition": f'inline; filename="{dataset}.{format}"',
        },
    )
