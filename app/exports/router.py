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
from collections.abc import AsyncIterator
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import AwareDatetime
from sqlalchemy import Text, case, func, literal, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.auth.deps import PrincipalDep, SessionDep
from app.auth.models import Role
from app.auth.policy import READ, authorize
from app.core import audit
from app.core.errors import Forbidden, NotFound, Unprocessable, problem_responses
from app.exports.datasets import DATASETS, HIDDEN, PAD_SETTINGS, Dataset
from app.people.service import PersonalData

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


def _json_row_sql(dataset: Dataset) -> Any:
    """One text column per row, rendered by PostgreSQL: the pseudonymised row as JSON, or
    its tombstone (the row's keys, ``deleted_at`` and ``updated_at``)."""
    fields = _emit_fields(dataset, identified=False)

    def pairs(selected: list[Any]) -> list[Any]:
        out: list[Any] = []
        for f in selected:
            out += [literal(f.name), f.expr]
        return out

    row = func.json_build_object(*pairs(fields))
    keys = [f for f in fields if f.name in ("id", dataset.primary_key)]
    tombstone = func.json_build_object(
        *pairs(keys),
        literal("deleted_at"),
        dataset.deleted_column,
        literal("updated_at"),
        dataset.updated_column,
    )
    return func.cast(case((dataset.deleted_column.is_not(None), tombstone), else_=row), Text)


async def _raw_partitions(conn: AsyncConnection, stmt: Any) -> AsyncIterator[list[Any]]:
    """Rows of ``stmt`` straight from asyncpg's server-side cursor: the driver's records,
    without SQLAlchemy's per-row result processing (the rows are one text column)."""
    compiled = stmt.compile(dialect=conn.dialect)
    params = [compiled.params[name] for name in (compiled.positiontup or [])]
    raw = (await conn.get_raw_connection()).driver_connection
    cursor = raw.cursor(compiled.string, *params, prefetch=PARTITION)
    batch: list[Any] = []
    async for record in cursor:
        batch.append(record)
        if len(batch) >= PARTITION:
            yield batch
            batch = []
    if batch:
        yield batch


async def _copy_lines(conn: AsyncConnection, stmt: Any) -> AsyncIterator[bytes]:
    """The rows of a one-text-column ``stmt`` as newline-ended lines, straight from
    ``COPY ... TO STDOUT``: no Python work per row at all. CSV mode with a quote and a
    delimiter that rendered JSON never contains (it escapes control characters) passes the
    text through verbatim; ~64 KiB chunks keep memory flat, the queue gives backpressure."""
    compiled = stmt.compile(dialect=conn.dialect)
    params = [compiled.params[name] for name in (compiled.positiontup or [])]
    raw = (await conn.get_raw_connection()).driver_connection
    queue: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize=16)
    pending = bytearray()

    async def sink(data: bytes) -> None:
        pending.extend(data)
        if len(pending) >= 65536:
            await queue.put(bytes(pending))
            pending.clear()

    async def copy() -> None:
        try:
            await raw.copy_from_query(
                compiled.string,
                *params,
                output=sink,
                format="csv",
                delimiter="\x02",
                quote="\x01",
            )
            if pending:
                await queue.put(bytes(pending))
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
    renders each row (``person_key`` included); Python only frames the text."""
    try:
        stmt = select(_json_row_sql(dataset)).order_by(dataset.updated_column, dataset.id_column)
        if updated_since is not None:
            stmt = stmt.where(dataset.updated_column >= updated_since)
        if not include_deleted:
            stmt = stmt.where(dataset.deleted_column.is_(None))
        if fmt == "ndjson":
            async for chunk in _copy_lines(conn, stmt):
                yield chunk
        else:
            first = True
            yield b"["
            async for partition in _raw_partitions(conn, stmt):
                rows = ",".join(row[0] for row in partition)
                if rows:
                    yield (rows if first else "," + rows).encode()
                    first = False
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
