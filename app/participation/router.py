"""Endpoints of participation records, single and in batches of up to 1,000 rows."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Request, Response
from pydantic import ValidationError
from sqlalchemy import ColumnElement
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.auth.deps import PrincipalDep, SessionDep
from app.auth.models import Role
from app.auth.policy import READ, WRITE, authorize, can_write_in_community, person_scope
from app.auth.repository import ScopedRepository
from app.core.errors import (
    Conflict,
    Forbidden,
    Unprocessable,
    problem_responses,
)
from app.core.http import model_response
from app.core.pagination import Keyset, ListParams, Page, list_params, set_link_header
from app.core.pii import PersonalData, PersonalDep
from app.core.principal import Principal
from app.participation import service
from app.participation.models import Level, ParticipationRecord, ParticipationRole
from app.participation.schemas import (
    BatchResult,
    BatchRow,
    BatchRowResult,
    RecordCreate,
    RecordRead,
    RecordUpdate,
)

router = APIRouter(prefix="/participation-records", tags=["participation"])
RESOURCE = "participation_records"


class RecordRepository(ScopedRepository[ParticipationRecord]):
    model = ParticipationRecord
    resource = RESOURCE
    label = "participation record"
    keyset = Keyset(
        columns={
            "created_at": ParticipationRecord.created_at,
            "updated_at": ParticipationRecord.updated_at,
            "date": ParticipationRecord.date,
        },
        id_column=ParticipationRecord.id,  # type: ignore[arg-type]
    )

    def scope(self, principal: Principal) -> ColumnElement[bool]:
        # Records point at people: never visible to partners.
        return person_scope(principal, ParticipationRecord.community_id)

    async def before_restore(self, session: AsyncSession, entity: ParticipationRecord) -> None:
        if await service.live_twin(session, entity) is not None:
            raise Conflict(
                "another live record exists for this person and context, or with its external_id"
            )


records = RecordRepository()


def present(
    record: ParticipationRecord, principal: Principal, personal: PersonalData
) -> RecordRead:
    data = record.model_dump()
    data["person_key"] = personal.hasher.person_key(record.person_id)
    if principal.role is Role.analyst:
        data["person_id"] = None
    return RecordRead.model_validate(data)


@router.get(
    "",
    name="participation-records-list",
    response_model=Page[RecordRead],
    summary="List participation records (sort: created_at, updated_at, date). Partners: 403.",
    responses=problem_responses(401, 403, 422),
)
async def list_records(
    request: Request,
    response: Response,
    session: SessionDep,
    principal: PrincipalDep,
    personal: PersonalDep,
    params: Annotated[ListParams, Depends(list_params)],
    person_id: uuid.UUID | None = None,
    activity_id: uuid.UUID | None = None,
    assessment_id: uuid.UUID | None = None,
    program_id: uuid.UUID | None = None,
    community_id: uuid.UUID | None = None,
    level: Level | None = None,
    role: ParticipationRole | None = None,
    date_from: Annotated[date | None, Query(description="On or after")] = None,
    date_to: Annotated[date | None, Query(description="On or before")] = None,
) -> Page[RecordRead]:
    authorize(principal, RESOURCE, READ)
    conditions: list[ColumnElement[bool]] = []
    for column, value in (
        (ParticipationRecord.person_id, person_id),
        (ParticipationRecord.activity_id, activity_id),
        (ParticipationRecord.assessment_id, assessment_id),
        (ParticipationRecord.program_id, program_id),
        (ParticipationRecord.community_id, community_id),
    ):
        if value is not None:
            conditions.append(col(column) == value)
    if level is not None:
        conditions.append(ParticipationRecord.level == level.value)
    if role is not None:
        conditions.append(ParticipationRecord.role == role.value)
    if date_from is not None:
        conditions.append(col(ParticipationRecord.date) >= date_from)
    if date_to is not None:
        conditions.append(col(ParticipationRecord.date) <= date_to)
    rows, next_cursor = await records.page(
        session,
        principal,
        params,
        conditions=conditions,
        filters={
            "person_id": person_id,
            "activity_id": activity_id,
            "assessment_id": assessment_id,
            "program_id": program_id,
            "community_id": community_id,
            "level": level,
            "role": role,
            "date_from": date_from,
            "date_to": date_to,
        },
    )
    set_link_header(request, response, next_cursor)
    return Page(items=[present(r, principal, personal) for r in rows], next_cursor=next_cursor)


def _raise_row_problem(problem: service.RowProblem) -> None:
    loc = ["body", *problem.loc]
    if problem.status == 409:
        raise Conflict(problem.detail)
    if problem.status == 403:
        raise Forbidden(problem.detail)
    raise Unprocessable(problem.detail, loc=loc)


@router.post(
    "",
    name="participation-records-create",
    status_code=201,
    response_model=RecordRead,
    responses=problem_responses(401, 403, 409, 422),
)
async def create_record(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    personal: PersonalDep,
    body: RecordCreate,
) -> Response:
    authorize(principal, RESOURCE, WRITE)
    row = body.model_dump()
    found = await service.load_lookups(session, principal, [row])
    try:
        person, context = service.check_row(principal, row, found)
    except service.RowProblem as problem:
        _raise_row_problem(problem)
        raise
    values = service.record_values(principal, row, person, context)
    created = await service.insert_records(session, principal, [values])
    if not created:
        raise Conflict("this person already has a record for this activity or assessment")
    record = await records.get(session, principal, next(iter(created.values())))
    return model_response(
        request,
        present(record, principal, personal),
        version=record.version,
        status_code=201,
        headers={"Location": f"/api/v1/participation-records/{record.id}"},
    )


@router.post(
    "/batch",
    name="participation-records-batch",
    response_model=BatchResult,
    summary="Upload up to 1,000 records; per-row results; ?atomic=true for all-or-nothing",
    description=(
        "Each row is validated on its own and answered in order as `created`, `duplicate` "
        "(same `external_id` from you, or the same person and context: `id` points at the "
        "existing record) or `error` (with the problem). Re-sending the same sheet creates "
        "nothing new. With `atomic=true` one error creates nothing and answers 422 with "
        "the per-row results."
    ),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/BatchRequest"}}
            },
        }
    },
    responses={**problem_responses(401, 403, 413, 422), 200: {"description": "Per-row results"}},
)
async def batch_records(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    body: Annotated[dict[str, Any], Body(media_type="application/json")],
    atomic: bool = False,
) -> Response:
    authorize(principal, RESOURCE, WRITE)
    raw_rows = body.get("rows")
    if set(body) - {"rows"} or not isinstance(raw_rows, list) or not raw_rows:
        raise Unprocessable(
            'the body must be {"rows": [...]} with 1 to 1000 rows', loc=["body", "rows"]
        )
    if len(raw_rows) > 1000:
        raise Unprocessable(
            f"a batch holds at most 1000 rows, got {len(raw_rows)}", loc=["body", "rows"]
        )
    results: list[BatchRowResult | None] = [None] * len(raw_rows)
    parsed: list[tuple[int, dict[str, Any]]] = []
    for index, raw in enumerate(raw_rows):
        try:
            parsed.append((index, BatchRow.model_validate(raw).model_dump()))
        except ValidationError as exc:
            results[index] = BatchRowResult(
                index=index,
                status="error",
                detail="the row is not valid",
                external_id=raw.get("external_id") if isinstance(raw, dict) else None,
                errors=[
                    {
                        "loc": [
                            "body",
                            "rows",
                            index,
                            *[p for p in e["loc"] if isinstance(p, str | int)],
                        ],
                        "message": e["msg"],
                        "type": e["type"],
                    }
                    for e in exc.errors()
                ],
            )
    found = await service.load_lookups(session, principal, [r for _, r in parsed])
    pending: list[tuple[int, dict[str, Any]]] = []
    for index, row in parsed:
        try:
            person, context = service.check_row(principal, row, found)
        except service.RowProblem as problem:
            results[index] = BatchRowResult(
                index=index,
                status="error",
                detail=problem.detail,
                external_id=row.get("external_id"),
                errors=[
                    {
                        "loc": ["body", "rows", index, *problem.loc],
                        "message": problem.detail,
                        "type": {409: "conflict", 403: "forbidden"}.get(
                            problem.status, "value_error"
                        ),
                    }
                ],
            )
            continue
        pending.append((index, service.record_values(principal, row, person, context)))

    by_context, by_external = await service.existing_records(
        session, principal, [v for _, v in pending]
    )
    to_insert: list[tuple[int, dict[str, Any]]] = []
    twins: list[tuple[int, int]] = []  # (row, earlier row of this batch it repeats)
    first_seen: dict[Any, int] = {}
    for index, values in pending:
        key = service.context_key(values)
        external_id = values.get("external_id")
        existing = (by_external.get(external_id) if external_id else None) or by_context.get(key)
        if existing is not None:
            results[index] = BatchRowResult(
                index=index, status="duplicate", id=existing, external_id=external_id
            )
        elif key in first_seen or (external_id and ("ext", external_id) in first_seen):
            twins.append((index, first_seen.get(key, first_seen.get(("ext", external_id), 0))))
        else:
            first_seen[key] = index
            if external_id:
                first_seen[("ext", external_id)] = index
            to_insert.append((index, values))

    errors = sum(1 for r in results if r is not None and r.status == "error")
    if atomic and errors:
        for index, first in twins:
            results[index] = BatchRowResult(
                index=index, status="duplicate", detail=f"same as row {first}"
            )
        raise Unprocessable(
            f"{errors} row(s) have errors; nothing was created (atomic)",
            extra={"batch": _summary(atomic, results).model_dump(mode="json")},
        )
    created = await service.insert_records(session, principal, [v for _, v in to_insert])
    if len(created) < len(to_insert):
        # A concurrent upload created some of these first: they are duplicates now.
        by_context, _ = await service.existing_records(
            session, principal, [v for _, v in to_insert]
        )
    for index, values in to_insert:
        key = service.context_key(values)
        results[index] = BatchRowResult(
            index=index,
            status="created" if key in created else "duplicate",
            id=created.get(key) or by_context.get(key),
            external_id=values.get("external_id"),
        )
    for index, first in twins:
        earlier = results[first]
        results[index] = BatchRowResult(
            index=index,
            status="duplicate",
            id=earlier.id if earlier else None,
            external_id=pending_external(pending, index),
            detail=f"same as row {first}",
        )
    return model_response(request, _summary(atomic, results))


def pending_external(pending: list[tuple[int, dict[str, Any]]], index: int) -> str | None:
    return next((v.get("external_id") for i, v in pending if i == index), None)


def _summary(atomic: bool, results: list[BatchRowResult | None]) -> BatchResult:
    done = [r for r in results if r is not None]
    return BatchResult(
        atomic=atomic,
        created=sum(r.status == "created" for r in done),
        duplicates=sum(r.status == "duplicate" for r in done),
        errors=sum(r.status == "error" for r in done),
        results=done,
    )


@router.get(
    "/{record_id}",
    name="participation-records-get",
    response_model=RecordRead,
    responses=problem_responses(401, 404),
)
async def get_record(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    personal: PersonalDep,
    record_id: uuid.UUID,
) -> Response:
    record = await records.get(session, principal, record_id)
    return model_response(request, present(record, principal, personal), version=record.version)


async def _changeable(
    session: AsyncSession,
    principal: Principal,
    record_id: uuid.UUID,
    request: Request,
    action: str,
) -> ParticipationRecord:
    record = await records.get_for_change(session, principal, record_id, request, action)
    if not can_write_in_community(principal, record.community_id):
        raise Forbidden("you may not change participation in this community")
    return record


@router.patch(
    "/{record_id}",
    name="participation-records-update",
    response_model=RecordRead,
    responses=problem_responses(401, 403, 404, 412, 422),
)
async def update_record(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    personal: PersonalDep,
    record_id: uuid.UUID,
    body: RecordUpdate,
) -> Response:
    record = await _changeable(session, principal, record_id, request, WRITE)
    changes = body.changes()
    for name in ("level", "role"):
        if name in changes:
            changes[name] = str(changes[name])
    if "date" in changes:
        row = {
            "person_id": record.person_id,
            "activity_id": record.activity_id,
            "assessment_id": record.assessment_id,
            "date": changes["date"],
        }
        found = await service.load_lookups(session, principal, [row])
        context = service.context_of(row, found)
        if context is not None:
            # Only the date is re-checked: the person's later moves or consent changes
            # must not make an old record uneditable (nor skip this check).
            try:
                service.check_date(context, changes["date"])
            except service.RowProblem as problem:
                _raise_row_problem(problem)
    await records.apply_changes(session, principal, record, changes)
    return model_response(request, present(record, principal, personal), version=record.version)


@router.delete(
    "/{record_id}",
    name="participation-records-delete",
    status_code=204,
    responses=problem_responses(401, 403, 404, 412),
)
async def delete_record(
    request: Request, session: SessionDep, principal: PrincipalDep, record_id: uuid.UUID
) -> Response:
    await _changeable(session, principal, record_id, request, "delete")
    await records.soft_delete(session, principal, record_id, request)
    return Response(status_code=204)


@router.post(
    "/{record_id}/restore",
    name="participation-records-restore",
    response_model=RecordRead,
    responses=problem_responses(401, 403, 404, 409),
)
async def restore_record(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    personal: PersonalDep,
    record_id: uuid.UUID,
) -> Response:
    record = await records.restore(session, principal, record_id)
    return model_response(request, present(record, principal, personal), version=record.version)
