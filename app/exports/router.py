"""``/exports``: the data package and every dataset streamed in constant memory.

Rows come in ``updated_at, id`` order (so a pull can resume) and are sent as they are
read (``app.exports.service``, queries in ``app.exports.repository``).
``X-Export-High-Water-Mark`` tells where the next incremental pull should start.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import StreamingResponse

from app.auth.deps import PrincipalDep, SessionDep
from app.auth.policy import READ, authorize
from app.core.errors import Forbidden, NotFound, Unprocessable, problem_responses
from app.core.fastpath import confirm_rider
from app.core.pii import PersonalData
from app.core.principal import Role
from app.core.schemas import TEXT_PATTERN
from app.core.timestamps import AwareTimestamp
from app.exports import repository, service
from app.exports.datasets import DATASETS

router = APIRouter(prefix="/exports", tags=["exports"])

MEDIA_TYPES = {"ndjson": "application/x-ndjson", "json": "application/json", "csv": "text/csv"}
HIGH_WATER_HEADER = "X-Export-High-Water-Mark"


@router.get(
    "",
    name="exports-datapackage",
    summary="Frictionless data package describing every dataset (fields, keys)",
    responses=problem_responses(401, 403),
)
async def get_data_package(request: Request, principal: PrincipalDep) -> dict[str, Any]:
    authorize(principal, "exports", READ)
    return service.data_package(str(request.base_url).rstrip("/"))


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
        AwareTimestamp | None, Query(description="Inclusive, RFC 3339 with offset")
    ] = None,
    include_deleted: bool = False,
    identified: bool = False,
    purpose: Annotated[
        str | None,
        Query(
            min_length=5,
            max_length=300,
            pattern=TEXT_PATTERN,
            description="Why identified data is needed (audited)",
        ),
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
    await service.audit_export(session, principal, dataset, identified, purpose)
    await session.commit()
    conn, high_water = await repository.open_snapshot(request.app.state.database.engine)
    personal: PersonalData = request.app.state.personal_data
    export = service.Export(definition, format, identified, updated_since, include_deleted)
    body = await service.open_body(conn, export, personal)
    return StreamingResponse(
        body,
        media_type=MEDIA_TYPES[format] + ("; charset=utf-8" if format == "csv" else ""),
        headers={
            HIGH_WATER_HEADER: high_water.isoformat(),
            "Cache-Control": "no-store",
            "Content-Disposition": f'inline; filename="{dataset}.{format}"',
        },
    )
