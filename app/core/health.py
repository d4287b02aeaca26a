"""Liveness and readiness, outside /api/v1 and without auth."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel
from sqlalchemy import text

from app.core.errors import problem_response, problem_responses
from app.core.i18n import M

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: str
    database: str | None = None
    migration: str | None = None


@router.get("/healthz", name="healthz", response_model=Health)
async def healthz() -> Health:
    return Health(status="ok")


@router.get("/readyz", name="readyz", response_model=Health, responses=problem_responses())
async def readyz(request: Request) -> Response:
    """Ready when the database answers and its schema is at the migrations' head."""
    expected: str = request.app.state.migration_head
    try:
        async with request.app.state.database.engine.connect() as conn:
            current = (
                await conn.execute(text("SELECT version_num FROM alembic_version"))
            ).scalar_one_or_none()
    except Exception:
        return problem_response(
            request,
            503,
            slug="service-unavailable",
            detail=M.database_unreachable,
            headers={"Retry-After": "2"},
        )
    if current != expected:
        return problem_response(
            request,
            503,
            slug="service-unavailable",
            detail=M.schema_behind,
        )
    body = Health(status="ok", database="ok", migration=current)
    return Response(body.model_dump_json(), media_type="application/json")
