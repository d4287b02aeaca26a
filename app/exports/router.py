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
from app.core.i18n import M
from app.core.pii import PersonalData
from app.core.principal import Principal, Role
from app.core.replica import SERVED_BY_HEADERS
from app.core.schemas import TEXT_PATTERN
from app.core.timestamps import AwareTimestamp
from app.exports import parquet, repository, service
from app.exports.datasets import DATASETS

router = APIRouter(prefix="/exports", tags=["exports"])

MEDIA_TYPES = {
    "ndjson": "application/x-ndjson",
    "json": "application/json",
    "csv": "text/csv",
    "parquet": parquet.MEDIA_TYPE,
}
HIGH_WATER_HEADER = "X-Export-High-Water-Mark"


PURPOSE_QUERY = Query(
    min_length=5,
    max_length=300,
    pattern=TEXT_PATTERN,
    description="Why identified data is needed (audited); required with `identified=true`",
    examples=["Verifikasi penerima BLT Desa Sukamaju 2025"],
)


@router.get(
    "",
    name="exports-datapackage",
    summary="Frictionless data package describing what the caller receives",
    description=(
        "Analysts and admins. The `datapackage.json` of every dataset as the caller "
        "receives it: fields in the order of the CSV header, types, primary and foreign "
        "keys (across datasets), so the Frictionless validator passes on the downloaded "
        "CSVs. By default the pseudonymised datasets (people as `person_key`, birth decade "
        "and age band). `identified=true&purpose=...` (admins only, 403 otherwise; 422 "
        "without a purpose) describes the identified datasets instead, and their paths carry "
        "the same `identified` and `purpose` (each download is audited; the package itself "
        "discloses nothing)."
    ),
    responses=problem_responses(401, 403, 422),
)
async def get_data_package(
    request: Request,
    principal: PrincipalDep,
    identified: bool = False,
    purpose: Annotated[str | None, PURPOSE_QUERY] = None,
) -> dict[str, Any]:
    authorize(principal, "exports", READ)
    _check_identified(principal, identified, purpose)
    return service.data_package(str(request.base_url).rstrip("/"), identified, purpose)


def _check_identified(principal: Principal, identified: bool, purpose: str | None) -> None:
    if identified:
        if principal.role is not Role.admin:
            raise Forbidden(M.identified_admins_only)
        if not purpose:
            raise Unprocessable(M.identified_needs_purpose, loc=["query", "purpose"])


@router.get(
    "/{dataset}",
    name="exports-dataset",
    summary="Stream one dataset as NDJSON (default), a JSON array, CSV or Parquet",
    description=(
        "Rows are ordered by `updated_at, id`. `updated_since` is inclusive; "
        "`include_deleted=true` adds tombstones `{id, deleted_at, updated_at}` (people: "
        "`person_key` instead of `id`). The "
        "`X-Export-High-Water-Mark` header is the `updated_since` to use next time. People "
        "are pseudonymised (`person_key`, birth decade, age band) unless an admin asks "
        "`identified=true&purpose=...`, which is audited (403 for anyone else, 422 "
        "without a purpose). `format=parquet`: typed columns (timestamps UTC, dates, "
        "integers, floats, booleans, lists of text), written in row groups of 32,768 rows; "
        "tombstones have null in every other column. 404 for an unknown dataset."
    ),
    responses={
        **problem_responses(401, 403, 404, 422),
        200: {
            "content": {
                "application/x-ndjson": {},
                "text/csv": {},
                "application/json": {},
                parquet.MEDIA_TYPE: {},
            },
            "description": "The rows",
            "headers": SERVED_BY_HEADERS,
        },
    },
)
async def export_dataset(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    dataset: str,
    format: Literal["ndjson", "json", "csv", "parquet"] = "ndjson",
    updated_since: Annotated[
        AwareTimestamp | None, Query(description="Inclusive, RFC 3339 with offset")
    ] = None,
    include_deleted: bool = False,
    identified: bool = False,
    purpose: Annotated[str | None, PURPOSE_QUERY] = None,
) -> Response:
    authorize(principal, "exports", READ)
    definition = DATASETS.get(dataset)
    if definition is None:
        raise NotFound(M.dataset_unknown(dataset=dataset))
    _check_identified(principal, identified, purpose)
    await confirm_rider(session)  # before the audit entry and the streaming connection
    await service.audit_export(session, principal, dataset, identified, purpose)
    await session.commit()
    route = await request.app.state.reads.open(need_mark=True)
    conn, high_water = await repository.open_snapshot(route)
    personal: PersonalData = request.app.state.personal_data
    export = service.Export(definition, format, identified, updated_since, include_deleted)
    body = await service.open_body(conn, export, personal)
    return StreamingResponse(
        body,
        media_type=MEDIA_TYPES[format] + ("; charset=utf-8" if format == "csv" else ""),
        headers={
            HIGH_WATER_HEADER: high_water.isoformat(),
            **route.headers(),
            "Cache-Control": "no-store",
            "Content-Disposition": f'inline; filename="{dataset}.{format}"',
        },
    )
