"""Rules of participation records, shared by the single and the batch endpoints, and
the batch upload's orchestration (per-row results, atomic mode).

Every rule is checked for many rows at once on lookups read in a bounded number of
queries (``repository``), so a 1,000-row upload costs the same few round trips as one row.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, NoReturn

from fastapi import Request
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.models import Role
from app.auth.policy import WRITE, authorize, can_write_in_community
from app.core.conditional import (
    Condition,
    PutOutcome,
    body_digest,
    conditional_put,
    remember_creation,
    replacement,
)
from app.core.errors import AppError, Conflict, Forbidden, NotFound, Unprocessable
from app.core.i18n import M, current_language, render, validation_message
from app.core.pii import PersonalData
from app.core.principal import Principal
from app.participation import repository
from app.participation.models import ParticipationRecord
from app.participation.repository import RESOURCE, ContextKey, records
from app.participation.schemas import (
    BatchResult,
    BatchRow,
    BatchRowResult,
    RecordCreate,
    RecordRead,
    RecordUpdate,
)
from app.people.models import Person
from app.people.service import has_active_consent

PROGRAM_PURPOSE, ASSESSMENT_PURPOSE = "program_participation", "needs_assessment"


class RowProblem(Exception):
    """One row breaks a rule: ``status`` 422 (invalid) or 409 (conflicts with state)."""

    def __init__(self, status: int, detail: str, loc: Sequence[str | int] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.loc = list(loc or [])


@dataclass
class Context:
    """What a record points at, resolved: its community scope and allowed dates."""

    community_ids: set[uuid.UUID]
    home_community: uuid.UUID
    program_id: uuid.UUID | None
    first_day: date | None
    last_day: date | None
    purpose: str


@dataclass
class Lookups:
    people: dict[uuid.UUID, Person] = field(default_factory=dict)
    activities: dict[uuid.UUID, Context] = field(default_factory=dict)
    assessments: dict[uuid.UUID, Context] = field(default_factory=dict)


async def load_lookups(
    session: AsyncSession, principal: Principal, rows: Sequence[dict[str, Any]]
) -> Lookups:
    """People, activities and assessments referenced by ``rows``, as the caller sees them."""
    person_ids = {r["person_id"] for r in rows}
    activity_ids = {r["activity_id"] for r in rows if r.get("activity_id")}
    assessment_ids = {r["assessment_id"] for r in rows if r.get("assessment_id")}
    found = Lookups()
    if person_ids:
        people = await repository.people_for_rules(session, principal, person_ids)
        found.people = {p.id: p for p in people}
    if activity_ids:
        activities = await repository.activities_for_rules(session, principal, activity_ids)
        members = await repository.program_members(
            session, {activity.program_id for activity in activities}
        )
        for activity in activities:
            found.activities[activity.id] = Context(
                community_ids=members.get(activity.program_id, set()),
                home_community=activity.community_id,
                program_id=activity.program_id,
                first_day=activity.scheduled_start.date(),
                last_day=activity.scheduled_end.date() if activity.scheduled_end else None,
                purpose=PROGRAM_PURPOSE,
            )
    if assessment_ids:
        for a in await repository.assessments_for_rules(session, principal, assessment_ids):
            found.assessments[a.id] = Context(
                community_ids={a.community_id},
                home_community=a.community_id,
                program_id=None,
                first_day=a.started_on,
                last_day=a.completed_on,
                purpose=ASSESSMENT_PURPOSE,
            )
    return found


def check_row(principal: Principal, row: dict[str, Any], found: Lookups) -> tuple[Person, Context]:
    """Apply every rule to one row; raise ``RowProblem`` naming the field."""
    activity_id, assessment_id = row.get("activity_id"), row.get("assessment_id")
    if (activity_id is None) == (assessment_id is None):
        raise RowProblem(422, M.one_context, ["activity_id"])
    context = (
        found.activities.get(activity_id) if activity_id else found.assessments.get(assessment_id)
    )
    if context is None:
        name = "activity_id" if activity_id else "assessment_id"
        raise RowProblem(422, M.not_found(thing=name.removesuffix("_id")), [name])
    person = found.people.get(row["person_id"])
    if person is None:
        raise RowProblem(422, M.person_not_found, ["person_id"])
    if person.community_id not in context.community_ids:
        raise RowProblem(422, M.person_outside_context, ["person_id"])
    if not can_write_in_community(principal, person.community_id):
        raise RowProblem(403, M.participation_record_forbidden, ["person_id"])
    check_date(context, row["date"])
    if not has_active_consent(person, context.purpose):
        raise RowProblem(409, M.no_consent(purpose=context.purpose), ["person_id"])
    return person, context


def check_date(context: Context, day: date) -> None:
    if (context.first_day and day < context.first_day) or (
        context.last_day and day > context.last_day
    ):
        raise RowProblem(422, M.date_outside_context, ["date"])


def context_of(row: dict[str, Any], found: Lookups) -> Context | None:
    if row.get("activity_id"):
        return found.activities.get(row["activity_id"])
    return found.assessments.get(row.get("assessment_id"))


def record_values(
    principal: Principal, row: dict[str, Any], person: Person, context: Context
) -> dict[str, Any]:
    return {
        "person_id": person.id,
        "activity_id": row.get("activity_id"),
        "assessment_id": row.get("assessment_id"),
        "community_id": person.community_id,
        "program_id": context.program_id,
        "date": row["date"],
        "level": str(row["level"]),
        "role": str(row["role"]),
        "hours": row.get("hours"),
        "notes": row.get("notes"),
        "external_id": row.get("external_id"),
        "created_by": principal.id,
    }


def context_key(values: dict[str, Any]) -> ContextKey:
    return repository.key_of(
        values["person_id"], values.get("activity_id"), values.get("assessment_id")
    )


async def insert_records(
    session: AsyncSession, principal: Principal, values: Sequence[dict[str, Any]]
) -> dict[ContextKey, uuid.UUID]:
    """Insert, skipping rows a concurrent writer created first (unique indexes decide);
    returns the ids created, by person+context. One statement, plus one for the audit."""
    if not values:
        return {}
    created = await repository.insert_records(session, values)
    if created:
        await repository.audit_created(
            session,
            principal,
            list(created.values()),
            sorted(k for k in values[0] if k != "created_by"),
        )
    return created


# --- the endpoints' orchestration -----------------------------------------------------------


def problem_error(problem: RowProblem) -> AppError:
    """A single row's problem as the HTTP problem of its status."""
    if problem.status == 409:
        return Conflict(problem.detail)
    if problem.status == 403:
        return Forbidden(problem.detail)
    return Unprocessable(problem.detail, loc=["body", *problem.loc])


def raise_problem(problem: RowProblem) -> NoReturn:
    raise problem_error(problem)


async def create_record(
    session: AsyncSession,
    principal: Principal,
    body: RecordCreate,
    item_id: uuid.UUID | None = None,
) -> ParticipationRecord:
    """One record (``item_id``: a client-made id, PUT)."""
    row = body.model_dump()
    found = await load_lookups(session, principal, [row])
    try:
        person, context = check_row(principal, row, found)
    except RowProblem as problem:
        raise_problem(problem)
    values = record_values(principal, row, person, context)
    if item_id is not None:
        values["id"] = item_id
    created = await insert_records(session, principal, [values])
    if not created:
        raise Conflict(M.participation_duplicate)
    return await records.get(session, principal, next(iter(created.values())))


async def create_new_ids(
    session: AsyncSession, principal: Principal, items: Sequence[tuple[uuid.UUID, RecordCreate]]
) -> list[uuid.UUID | AppError]:
    """Many creates through ``put_record`` of ids nobody holds (a sync push's run of new
    records): the rules of ``create_record`` for each row, one look-up per kind and one
    INSERT for all. Answers, per item, its id or the problem its own create would raise."""
    authorize(principal, RESOURCE, WRITE)
    rows = [body.model_dump() for _, body in items]
    found = await load_lookups(session, principal, rows)
    outcomes: list[uuid.UUID | AppError] = []
    values: list[dict[str, Any]] = []
    for (item_id, _), row in zip(items, rows, strict=True):
        try:
            person, context = check_row(principal, row, found)
        except RowProblem as problem:
            outcomes.append(problem_error(problem))
            continue
        values.append({**record_values(principal, row, person, context), "id": item_id})
        outcomes.append(item_id)
    made = set((await insert_records(session, principal, values)).values())
    for n, (item_id, body) in enumerate(items):
        if isinstance(outcomes[n], AppError):
            continue
        if item_id in made:
            await remember_creation(session, RESOURCE, item_id, body_digest({}, body))
        else:  # its person already took part there (an earlier row, or a concurrent writer)
            outcomes[n] = Conflict(M.participation_duplicate)
    return outcomes


async def changeable(
    session: AsyncSession,
    principal: Principal,
    record_id: uuid.UUID,
    request: Request,
    action: str,
) -> ParticipationRecord:
    record = await records.get_for_change(session, principal, record_id, request, action)
    if not can_write_in_community(principal, record.community_id):
        raise Forbidden(M.participation_forbidden)
    return record


async def update_record(
    session: AsyncSession, principal: Principal, record: ParticipationRecord, body: RecordUpdate
) -> None:
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
        found = await load_lookups(session, principal, [row])
        context = context_of(row, found)
        if context is not None:
            # Only the date is re-checked: the person's later moves or consent changes
            # must not make an old record uneditable (nor skip this check).
            try:
                check_date(context, changes["date"])
            except RowProblem as problem:
                raise_problem(problem)
    await records.apply_changes(session, principal, record, changes)


def _row_error(
    index: int, detail: str, external_id: Any, errors: list[dict[str, Any]]
) -> BatchRowResult:
    return BatchRowResult(
        index=index, status="error", detail=detail, external_id=external_id, errors=errors
    )


def _parse_rows(
    raw_rows: list[Any], results: list[BatchRowResult | None]
) -> list[tuple[int, dict[str, Any]]]:
    """The rows that are valid as ``BatchRow``; the others get their error result."""
    parsed: list[tuple[int, dict[str, Any]]] = []
    for index, raw in enumerate(raw_rows):
        try:
            parsed.append((index, BatchRow.model_validate(raw).model_dump()))
        except ValidationError as exc:
            results[index] = _row_error(
                index,
                render(M.row_invalid),
                raw.get("external_id") if isinstance(raw, dict) else None,
                [
                    {
                        "loc": [
                            "body",
                            "rows",
                            index,
                            *[p for p in e["loc"] if isinstance(p, str | int)],
                        ],
                        "message": validation_message(e, current_language()),
                        "type": e["type"],
                    }
                    for e in exc.errors()
                ],
            )
    return parsed


async def upload_batch(
    session: AsyncSession, principal: Principal, raw_rows: list[Any], atomic: bool
) -> BatchResult:
    """Each row answered in order as created, duplicate or error; with ``atomic`` one
    error creates nothing (422 carrying the per-row results)."""
    results: list[BatchRowResult | None] = [None] * len(raw_rows)
    parsed = _parse_rows(raw_rows, results)
    found = await load_lookups(session, principal, [r for _, r in parsed])
    pending: list[tuple[int, dict[str, Any]]] = []
    for index, row in parsed:
        try:
            person, context = check_row(principal, row, found)
        except RowProblem as problem:
            results[index] = _row_error(
                index,
                render(problem.detail),
                row.get("external_id"),
                [
                    {
                        "loc": ["body", "rows", index, *problem.loc],
                        "message": render(problem.detail),
                        "type": {409: "conflict", 403: "forbidden"}.get(
                            problem.status, "value_error"
                        ),
                    }
                ],
            )
            continue
        pending.append((index, record_values(principal, row, person, context)))

    by_context, by_external = await repository.existing_records(
        session, principal, [v for _, v in pending]
    )
    to_insert: list[tuple[int, dict[str, Any]]] = []
    twins: list[tuple[int, int]] = []  # (row, earlier row of this batch it repeats)
    first_seen: dict[Any, int] = {}
    for index, values in pending:
        key = context_key(values)
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
                index=index, status="duplicate", detail=render(M.same_as_row(row=first))
            )
        raise Unprocessable(
            M.batch_rows_failed(count=errors),
            extra={"batch": _summary(atomic, results).model_dump(mode="json")},
        )
    created = await insert_records(session, principal, [v for _, v in to_insert])
    if len(created) < len(to_insert):
        # A concurrent upload created some of these first: they are duplicates now.
        by_context, _ = await repository.existing_records(
            session, principal, [v for _, v in to_insert]
        )
    for index, values in to_insert:
        key = context_key(values)
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
            external_id=_pending_external(pending, index),
            detail=render(M.same_as_row(row=first)),
        )
    return _summary(atomic, results)


def _pending_external(pending: list[tuple[int, dict[str, Any]]], index: int) -> str | None:
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


def present(
    record: ParticipationRecord, principal: Principal, personal: PersonalData
) -> RecordRead:
    """The record as the caller may see it (analysts get ``person_key`` only)."""
    data = record.model_dump()
    data["person_key"] = personal.hasher.person_key(record.person_id)
    if principal.role is Role.analyst:
        data["person_id"] = None
    return RecordRead.model_validate(data)


# Fixed by the create: a replacement may not move a record to another person or context.
_IDENTITY = ("person_id", "activity_id", "assessment_id")


async def put_record(
    session: AsyncSession,
    principal: Principal,
    personal: PersonalData,
    record_id: uuid.UUID,
    body: RecordCreate,
    condition: Condition,
) -> tuple[PutOutcome, ParticipationRecord]:
    """PUT with a client-made id (app.core.conditional): the rules of ``create_record``
    and ``update_record``."""
    authorize(principal, RESOURCE, WRITE)

    async def load() -> ParticipationRecord | None:
        try:
            return await records.get(session, principal, record_id, for_update=True)
        except NotFound:
            return None

    async def current(record: ParticipationRecord) -> dict[str, Any]:
        return present(record, principal, personal).model_dump(mode="json")

    async def make() -> ParticipationRecord:
        return await create_record(session, principal, body, record_id)

    async def replace(record: ParticipationRecord) -> None:
        if not can_write_in_community(principal, record.community_id):
            raise Forbidden(M.participation_forbidden)
        for name in _IDENTITY:
            if getattr(body, name) != getattr(record, name):
                raise Unprocessable(M.record_identity_fixed(name=name), loc=["body", name])
        await update_record(session, principal, record, replacement(RecordUpdate, body))

    return await conditional_put(
        session,
        condition,
        resource=RESOURCE,
        model=ParticipationRecord,
        item_id=record_id,
        digest=body_digest({}, body),
        load=load,
        present=current,
        create=make,
        replace=replace,
    )
