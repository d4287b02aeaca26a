"""The floor: the least a Python web app can do to serve the benchmark's requests.

FastAPI + an asyncpg pool + orjson, reading and writing the same tables as Berdaya, with
no authentication, scoping, ETags, validation of references or audit. Berdaya's figures
are reported as ratios of this app's, measured in the same run on the same machine.

    FLOOR_DSN=postgresql://... uvicorn floor:app --app-dir bench --port 8001
"""

from __future__ import annotations

import base64
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date, datetime
from typing import Any

import asyncpg
import orjson
from fastapi import FastAPI, Request, Response

COMMUNITY = (
    "SELECT id, created_at, updated_at, name, kind, region_code, description, population, "
    "households, latitude, longitude, potentials, version FROM communities "
    "WHERE id = $1 AND deleted_at IS NULL"
)
PERSON = (
    "SELECT id, created_at, updated_at, community_id, full_name, sex, birth_year, birth_decade, "
    "disability, vulnerable_groups, consent_purposes, version FROM people "
    "WHERE id = $1 AND deleted_at IS NULL"
)
RECORD_COLUMNS = (
    "id, created_at, updated_at, person_id, activity_id, assessment_id, community_id, "
    "program_id, date, level, role, hours, notes, external_id, version"
)
FIRST_PAGE = (
    f"SELECT {RECORD_COLUMNS} FROM participation_records "
    "WHERE community_id = $1 AND deleted_at IS NULL ORDER BY created_at, id LIMIT $2"
)
NEXT_PAGE = (
    f"SELECT {RECORD_COLUMNS} FROM participation_records "
    "WHERE deleted_at IS NULL AND (created_at, id) > ($1, $2) ORDER BY created_at, id LIMIT $3"
)
INSERT = (
    f"INSERT INTO participation_records (id, person_id, activity_id, community_id, program_id, "
    f"date, level, role, hours, external_id, created_by) "
    f"SELECT $1, p.id, a.id, p.community_id, a.program_id, $4, $5, $6, $7, $8, $9 "
    f"FROM people p, activities a WHERE p.id = $2 AND a.id = $3 "
    f"ON CONFLICT DO NOTHING RETURNING {RECORD_COLUMNS}"
)
NIL = uuid.UUID(int=0)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    app.state.pool = await asyncpg.create_pool(os.environ["FLOOR_DSN"], min_size=4, max_size=20)
    yield
    await app.state.pool.close()


app = FastAPI(lifespan=lifespan)


def _json(data: Any, status: int = 200) -> Response:
    return Response(
        orjson.dumps(data, default=str), status_code=status, media_type="application/json"
    )


@app.get("/ping")
async def ping() -> Response:
    return Response(b'{"ok":true}', media_type="application/json")


@app.get("/communities/{item_id}")
async def community(item_id: uuid.UUID) -> Response:
    row = await app.state.pool.fetchrow(COMMUNITY, item_id)
    return _json(dict(row)) if row else _json({"detail": "not found"}, 404)


@app.get("/people/{item_id}")
async def person(item_id: uuid.UUID) -> Response:
    row = await app.state.pool.fetchrow(PERSON, item_id)
    return _json(dict(row)) if row else _json({"detail": "not found"}, 404)


def _cursor(row: Any) -> str:
    payload = orjson.dumps({"v": row["created_at"].isoformat(), "i": str(row["id"])})
    return base64.urlsafe_b64encode(payload).decode().rstrip("=")


@app.get("/participation-records")
async def records(
    community_id: uuid.UUID | None = None, cursor: str | None = None, limit: int = 50
) -> Response:
    if cursor:
        data = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        after = datetime.fromisoformat(data["v"])
        rows = await app.state.pool.fetch(NEXT_PAGE, after, uuid.UUID(data["i"]), limit + 1)
    else:
        rows = await app.state.pool.fetch(FIRST_PAGE, community_id, limit + 1)
    items = [dict(r) for r in rows[:limit]]
    nxt = _cursor(rows[limit - 1]) if len(rows) > limit else None
    return _json({"items": items, "next_cursor": nxt})


def _values(row: dict[str, Any]) -> tuple[Any, ...]:
    return (
        uuid.uuid4(),
        uuid.UUID(row["person_id"]),
        uuid.UUID(row["activity_id"]),
        date.fromisoformat(row["date"]),
        row["level"],
        row["role"],
        row.get("hours"),
        row.get("external_id"),
        NIL,
    )


@app.post("/participation-records")
async def create(request: Request) -> Response:
    body = orjson.loads(await request.body())
    row = await app.state.pool.fetchrow(INSERT, *_values(body))
    return _json(dict(row) if row else {"detail": "duplicate"}, 201 if row else 409)


@app.post("/participation-records/batch")
async def batch(request: Request) -> Response:
    body = orjson.loads(await request.body())
    async with app.state.pool.acquire() as conn, conn.transaction():
        await conn.executemany(INSERT.split(" RETURNING")[0], [_values(r) for r in body["rows"]])
    return _json({"rows": len(body["rows"])})
