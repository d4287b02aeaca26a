"""Field sync (API.md §6): the batch push of a device's mutations and the changes feed.

Push. Each mutation runs in its own SAVEPOINT through the same service functions as the
resource's PUT and DELETE (``app.core.conditional`` decides create / replace / conflict),
so every rule, scope and audit applies and one bad mutation never stops the others. Its
answer is remembered per (user, device, mutation_id) in the same transaction as its
effects: a push cut off before its commit left nothing, one cut off after it is answered
again (``duplicate``) and applies nothing twice. Pushes of one device run one at a time.

Changes feed. Without a cursor the caller's readable rows are read table by table in id
order (a first sync, constant work per page, nothing from the change log); then, and for
every later pull, the change log (written by triggers in each writing transaction) is read
in (txid, seq) order, and only below the oldest transaction still running: a transaction
that commits late has a txid at or above that horizon, so it is read on a later pull,
never skipped. Each entry is answered with the row as it is now, as a GET answers the
caller, when the entry is the row's latest version (older entries are superseded).
A facilitator's assignment removed is a ``leave_scope``; an assignment added makes the
next pages a first sync of that community, then the log resumes where it was.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

import orjson
from pydantic import BaseModel, ValidationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request

from app.assessments import service as assessments_service
from app.assessments.repository import findings
from app.assessments.schemas import AssessmentRead, BallotCreate, FindingCreate, FindingRead
from app.auth.policy import READ, WRITE, allowed
from app.communities.schemas import CommunityRead
from app.core.conditional import Condition, IdRetired, ids_taken
from app.core.errors import AppError, Forbidden, NotFound, PreconditionFailed, Unprocessable
from app.core.http import etag_of
from app.core.i18n import M
from app.core.models import utcnow
from app.core.pii import PersonalData
from app.core.principal import Principal
from app.participation import service as participation_service
from app.participation.models import ParticipationRecord
from app.participation.repository import records
from app.participation.schemas import RecordCreate
from app.people import service as people_service
from app.people.models import Person
from app.people.repository import people
from app.people.schemas import PersonCreate
from app.programs import service as programs_service
from app.programs.repository import activities, indicators, measurements
from app.programs.schemas import (
    ActivityCreate,
    ActivityRead,
    IndicatorRead,
    MeasurementCreate,
    MeasurementRead,
)
from app.sync import repository
from app.sync.repository import MAX_SEQ, SCOPE_RESOURCE
from app.sync.schemas import (
    SYNCED,
    Change,
    ChangesPage,
    Mutation,
    MutationResult,
    PushRequest,
    PushResult,
)


class SyncReset(AppError):
    status, slug = 410, "sync-reset"


def check_role(principal: Principal, action: str) -> None:
    """Field sync is for the roles that work in the field and keep data on a device
    (``app.auth.policy``: analysts use the exports, partners the events feed)."""
    if not allowed(principal, "sync", action):
        raise Forbidden(M.sync_roles_only)


# --- presenting rows as GET answers them ---------------------------------------------------

Present = Callable[[AsyncSession, Principal, PersonalData, Sequence[Any]], Awaitable[list[Any]]]


def _each(schema: type[BaseModel]) -> Present:
    async def present(
        session: AsyncSession, principal: Principal, personal: PersonalData, rows: Sequence[Any]
    ) -> list[Any]:
        return [schema.model_validate(row) for row in rows]

    return present


async def _people(
    session: AsyncSession, principal: Principal, personal: PersonalData, rows: Sequence[Any]
) -> list[Any]:
    return list(await people_service.views(session, rows, principal, personal))


async def _ballots(
    session: AsyncSession, principal: Principal, personal: PersonalData, rows: Sequence[Any]
) -> list[Any]:
    return [assessments_service.present_ballot(row, principal, personal) for row in rows]


async def _programs(
    session: AsyncSession, principal: Principal, personal: PersonalData, rows: Sequence[Any]
) -> list[Any]:
    return list(await programs_service.read_programs(session, list(rows)))


async def _records(
    session: AsyncSession, principal: Principal, personal: PersonalData, rows: Sequence[Any]
) -> list[Any]:
    return [participation_service.present(row, principal, personal) for row in rows]


PRESENTERS: dict[str, Present] = {
    "communities": _each(CommunityRead),
    "people": _people,
    "needs_assessments": _each(AssessmentRead),
    "findings": _each(FindingRead),
    "ballots": _ballots,
    "programs": _programs,
    "activities": _each(ActivityRead),
    "indicators": _each(IndicatorRead),
    "measurements": _each(MeasurementRead),
    "participation_records": _records,
}


async def presented(
    session: AsyncSession,
    principal: Principal,
    personal: PersonalData,
    resource: str,
    rows: Sequence[Any],
) -> list[dict[str, Any]]:
    models = await PRESENTERS[resource](session, principal, personal, rows)
    return [m.model_dump(mode="json") for m in models]


# --- push ------------------------------------------------------------------------------------


def _request_matching(base_version: int | None) -> Request:
    """The conditions of a mutation as the If-Match of the DELETE routes' own checks."""
    headers = [] if base_version is None else [(b"if-match", etag_of(base_version).encode())]
    return Request({"type": "http", "method": "DELETE", "headers": headers})


@dataclass
class Ctx:
    session: AsyncSession
    principal: Principal
    personal: PersonalData
    collision_limit: int


def _parents(data: dict[str, Any], *names: str) -> list[uuid.UUID]:
    values = []
    for name in names:
        try:
            values.append(uuid.UUID(str(data.pop(name))))
        except (KeyError, ValueError):
            raise Unprocessable(M.sync_parent_required(name=name), loc=["data", name]) from None
    return values


async def _upsert(ctx: Ctx, m: Mutation) -> tuple[uuid.UUID, int]:
    """The mutation through the resource's PUT; answers the row's id and version."""
    condition = Condition.from_base_version(m.base_version)
    data = dict(m.data or {})
    s, p = ctx.session, ctx.principal
    entity: Any
    if m.resource == "people":
        _, entity = await people_service.put(
            s,
            p,
            ctx.personal,
            m.id,
            PersonCreate.model_validate(data),
            condition,
            collision_limit=ctx.collision_limit,
        )
    elif m.resource == "participation_records":
        _, entity = await participation_service.put_record(
            s, p, ctx.personal, m.id, RecordCreate.model_validate(data), condition
        )
    elif m.resource == "findings":
        (aid,) = _parents(data, "assessment_id")
        body = FindingCreate.model_validate(data)
        _, entity = await assessments_service.put_finding(s, p, aid, m.id, body, condition)
    elif m.resource == "ballots":
        (aid,) = _parents(data, "assessment_id")
        ballot = BallotCreate.model_validate(data)
        _, entity = await assessments_service.put_ballot(
            s, p, ctx.personal, aid, ballot, condition, ballot_id=m.id
        )
    elif m.resource == "activities":
        (pid,) = _parents(data, "program_id")
        body_a = ActivityCreate.model_validate(data)
        _, entity = await programs_service.put_activity(s, p, pid, m.id, body_a, condition)
    else:  # measurements
        pid, iid = _parents(data, "program_id", "indicator_id")
        body_m = MeasurementCreate.model_validate(data)
        _, entity = await programs_service.put_measurement(s, p, pid, iid, m.id, body_m, condition)
    return entity.id, entity.version


async def _delete(ctx: Ctx, m: Mutation) -> tuple[uuid.UUID, int]:
    """The mutation through the resource's DELETE (same checks, same audit)."""
    s, p = ctx.session, ctx.principal
    request = _request_matching(m.base_version)
    entity: Any
    if m.resource == "people":
        person = await people.get(s, p, m.id)
        people_service.check_writable(p, person, "delete")
        entity = await people.soft_delete(s, p, m.id, request)
    elif m.resource == "participation_records":
        await participation_service.changeable(s, p, m.id, request, "delete")
        entity = await records.soft_delete(s, p, m.id, request)
    elif m.resource == "findings":
        finding = await findings.get(s, p, m.id)
        assessment = await assessments_service.writable(s, p, finding.assessment_id, None)
        await assessments_service.delete_finding(s, p, assessment, m.id, request)
        entity = await findings.get(s, p, m.id, include_deleted=True)
    elif m.resource == "ballots":
        ballot = await repository.ballot(s, p, m.id)
        if ballot is None:
            raise NotFound(M.ballot_not_found)
        assessment = await assessments_service.writable(s, p, ballot.assessment_id, None)
        if m.base_version is not None and ballot.version != m.base_version:
            raise PreconditionFailed(M.ballot_changed)
        await assessments_service.withdraw_ballot(s, p, assessment, ballot.person_id)
        entity = ballot
    elif m.resource == "activities":
        activity = await activities.get(s, p, m.id)
        await programs_service.locked_program(s, p, activity.program_id, "activities", "delete")
        programs_service.ensure_may_manage_activities(p, activity.community_id)
        entity = await activities.soft_delete(s, p, m.id, request)
    else:  # measurements
        measurement = await measurements.get(s, p, m.id)
        indicator = await indicators.get(s, p, measurement.indicator_id)
        await programs_service.locked_program(s, p, indicator.program_id, "measurements", "delete")
        entity = await measurements.soft_delete(s, p, m.id, request)
    return entity.id, entity.version


async def _current(ctx: Ctx, m: Mutation) -> dict[str, Any] | None:
    rows = await repository.rows_by_id(ctx.session, m.resource, ctx.principal, [m.id])
    row = rows.get(m.id)
    if row is None:
        return None
    return (await presented(ctx.session, ctx.principal, ctx.personal, m.resource, [row]))[0]


def _issues(exc: AppError) -> list[dict[str, Any]]:
    errors = exc.extra.get("errors")
    if errors:
        return list(errors)
    return [{"loc": [], "message": exc.detail or exc.slug, "type": exc.slug}]


async def _apply(ctx: Ctx, m: Mutation) -> MutationResult:
    """One mutation in its own savepoint: all of it, or nothing of it."""
    session = ctx.session
    savepoint = await session.begin_nested()
    try:
        if m.op == "upsert":
            if m.data is None:
                raise Unprocessable(M.sync_upsert_needs_data, loc=["data"])
            row_id, version = await _upsert(ctx, m)
        else:
            row_id, version = await _delete(ctx, m)
    except (AppError, ValidationError, IntegrityError) as exc:
        if savepoint.is_active:
            await savepoint.rollback()
        if isinstance(exc, AppError) and exc.after_rollback is not None:
            await exc.after_rollback(session)  # committed with the push
        return await _failed(ctx, m, exc)
    if savepoint.is_active:
        await savepoint.commit()
    return MutationResult(mutation_id=m.mutation_id, status="applied", id=row_id, version=version)


async def _failed(
    ctx: Ctx, m: Mutation, exc: AppError | ValidationError | IntegrityError
) -> MutationResult:
    """The result of a mutation that applied nothing: a conflict or a rejection."""
    if isinstance(exc, PreconditionFailed):
        return MutationResult(
            mutation_id=m.mutation_id,
            status="conflict",
            id=m.id,
            version=await _version(ctx, m),
            current=None
            if isinstance(exc, IdRetired)
            else exc.extra.get("current") or await _current(ctx, m),
        )
    if isinstance(exc, ValidationError):
        errors = [
            {
                "loc": ["data", *[p for p in e["loc"] if isinstance(p, str | int)]],
                "message": str(e["msg"]),
                "type": str(e["type"]),
            }
            for e in exc.errors()
        ]
    elif isinstance(exc, IntegrityError):
        errors = [{"loc": [], "message": "conflicts with stored data", "type": "conflict"}]
    else:
        errors = _issues(exc)
    return MutationResult.model_validate(
        {"mutation_id": m.mutation_id, "status": "rejected", "id": m.id, "errors": errors}
    )


# --- runs of creates ----------------------------------------------------------------------
# A device that worked offline pushes mostly new rows: people registered and their
# participation, often one person then their record, then the next. A run of consecutive
# creates of these two resources is applied at once, its people first, then its records:
# the resource's own create rules for each row (``create_new_ids``), one look-up per kind
# and one INSERT per resource, instead of a savepoint and five statements per mutation
# (measured: bench/sync_bench.py). People first changes nothing: a person's create never
# depends on a record, and a run ends before the create of a person that one of its
# records names (in order, that record would not find the person). Each mutation still
# gets its own result; ids already taken, and every mutation of a part whose INSERT
# fails, go through ``_apply`` one by one (tests/sync/test_push_runs.py).

CREATE_RUNS: dict[str, Any] = {"people": Person, "participation_records": ParticipationRecord}
CREATE_SCHEMAS: dict[str, type[BaseModel]] = {
    "people": PersonCreate,
    "participation_records": RecordCreate,
}


def _creates_in_run(m: Mutation) -> bool:
    """Whether a mutation may be applied within a run of creates."""
    if m.op != "upsert" or m.base_version is not None or m.data is None:
        return False
    # a NIK claim is serialised, limited and audited one at a time
    return m.resource in CREATE_RUNS and not (m.resource == "people" and m.data.get("nik"))


def _named_person(m: Mutation) -> str | None:
    if m.resource != "participation_records" or m.data is None:
        return None
    return str(m.data.get("person_id"))


def _run_from(mutations: Sequence[Mutation], start: int, seen: Mapping[str, Any]) -> list[Mutation]:
    """The mutations applied together from ``start``: a run of creates with distinct
    (resource, id) and mutation ids (a repeated one is answered as a duplicate after it),
    or just the one at ``start``."""
    run = [mutations[start]]
    if not _creates_in_run(run[0]):
        return run
    keys, mutation_ids = {(run[0].resource, run[0].id)}, {run[0].mutation_id}
    named = {_named_person(run[0])}
    for m in mutations[start + 1 :]:
        if (
            not _creates_in_run(m)
            or (m.resource, m.id) in keys
            or m.mutation_id in mutation_ids
            or m.mutation_id in seen
            or (m.resource == "people" and str(m.id) in named)
        ):
            break
        run.append(m)
        keys.add((m.resource, m.id))
        mutation_ids.add(m.mutation_id)
        named.add(_named_person(m))
    return run


async def _apply_run(ctx: Ctx, run: list[Mutation]) -> list[MutationResult]:
    if len(run) == 1:
        return [await _apply(ctx, run[0])]
    results: dict[str, MutationResult] = {}
    for resource in CREATE_RUNS:  # people first
        await _apply_creates(ctx, resource, [m for m in run if m.resource == resource], results)
    return [results[m.mutation_id] for m in run]


async def _apply_creates(
    ctx: Ctx, resource: str, creates: list[Mutation], results: dict[str, MutationResult]
) -> None:
    """Creates of one resource at once; the result of each into ``results``."""
    session = ctx.session
    taken = await ids_taken(session, CREATE_RUNS[resource], [m.id for m in creates])
    fresh: list[tuple[Mutation, Any]] = []
    for m in creates:
        if m.id in taken:
            continue
        try:
            fresh.append((m, CREATE_SCHEMAS[resource].model_validate(m.data)))
        except ValidationError as exc:
            results[m.mutation_id] = await _failed(ctx, m, exc)
    if fresh:
        items = [(m.id, body) for m, body in fresh]
        savepoint = await session.begin_nested()
        try:
            outcomes: Sequence[Any]
            if resource == "people":
                outcomes = await people_service.create_new_ids(
                    session, ctx.principal, ctx.personal, items
                )
            else:
                outcomes = await participation_service.create_new_ids(session, ctx.principal, items)
        except IntegrityError:  # e.g. an id taken meanwhile: each on its own below
            await savepoint.rollback()
        else:
            await savepoint.commit()
            for (m, _), outcome in zip(fresh, outcomes, strict=True):
                results[m.mutation_id] = (
                    await _failed(ctx, m, outcome)
                    if isinstance(outcome, AppError)
                    else MutationResult(
                        mutation_id=m.mutation_id, status="applied", id=m.id, version=1
                    )
                )
    for m in creates:
        if m.mutation_id not in results:
            results[m.mutation_id] = await _apply(ctx, m)


async def _version(ctx: Ctx, m: Mutation) -> int | None:
    rows = await repository.rows_by_id(ctx.session, m.resource, ctx.principal, [m.id])
    row = rows.get(m.id)
    return None if row is None else int(row.version)


# What is remembered of an answer, and answered again on a retry: never ``current`` (the
# row's data, kept for 30 days and answered without a scope check); the device pulls the
# row through the changes feed, which applies the caller's scope as it is then.
REMEMBERED = frozenset({"mutation_id", "status", "id", "version", "errors"})


def _remembered(result: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in result.items() if k in REMEMBERED}


async def push(
    session: AsyncSession,
    principal: Principal,
    personal: PersonalData,
    body: PushRequest,
    *,
    collision_limit: int,
) -> PushResult:
    check_role(principal, WRITE)
    await repository.lock_device(session, principal.id, body.device_id)
    seen = await repository.remembered(
        session, principal.id, body.device_id, [m.mutation_id for m in body.mutations]
    )
    ctx = Ctx(session, principal, personal, collision_limit)
    results: list[MutationResult] = []
    answered: dict[str, dict[str, Any]] = {}
    mutations, n = body.mutations, 0
    while n < len(mutations):
        first = seen.get(mutations[n].mutation_id)
        if first is not None:
            results.append(
                MutationResult.model_validate(
                    {**_remembered(first), "status": "duplicate", "first_status": first["status"]}
                )
            )
            n += 1
            continue
        run = _run_from(mutations, n, seen)
        for result in await _apply_run(ctx, run):
            stored = _remembered(result.model_dump(mode="json", exclude_none=True))
            answered[result.mutation_id] = seen[result.mutation_id] = stored
            results.append(result)
        n += len(run)
    # Remembered in the transaction of the mutations themselves, in one statement.
    await repository.remember(session, principal.id, body.device_id, answered)
    return PushResult(results=results)


# --- changes feed ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Cursor:
    """Where a device is: in a first sync (``table``/``after``; of one community when
    ``backfill``) that continues in the log after ``position``, or in the log."""

    position: tuple[int, int]
    snapshot: bool = False
    table: int = 0
    after: uuid.UUID | None = None
    backfill: uuid.UUID | None = None
    community: uuid.UUID | None = None

    def encode(self) -> str:
        raw: dict[str, Any] = {"p": list(self.position)}
        if self.snapshot:
            raw["t"] = self.table
            if self.after is not None:
                raw["k"] = str(self.after)
            if self.backfill is not None:
                raw["b"] = str(self.backfill)
        if self.community is not None:
            raw["c"] = str(self.community)
        return base64.urlsafe_b64encode(orjson.dumps(raw)).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str) -> Cursor:
        try:
            raw = orjson.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
            txid, seq = (int(v) for v in raw["p"])
            table = raw.get("t")

            def as_id(key: str) -> uuid.UUID | None:
                return uuid.UUID(raw[key]) if raw.get(key) is not None else None

            cursor = cls(
                position=(txid, seq),
                snapshot=table is not None,
                table=int(table or 0),
                after=as_id("k"),
                backfill=as_id("b"),
                community=as_id("c"),
            )
        except (binascii.Error, ValueError, TypeError, KeyError, orjson.JSONDecodeError):
            raise Unprocessable(M.cursor_invalid, loc=["query", "cursor"]) from None
        if not 0 <= cursor.table < len(SYNCED):
            raise Unprocessable(M.cursor_invalid, loc=["query", "cursor"])
        return cursor


async def changes(
    session: AsyncSession,
    principal: Principal,
    personal: PersonalData,
    *,
    cursor_text: str | None,
    limit: int,
    community_id: uuid.UUID | None,
) -> ChangesPage:
    check_role(principal, READ)
    purged = await repository.purged_through(session)
    if cursor_text is None:
        start = await repository.horizon(session)
        cursor = Cursor(position=(start - 1, MAX_SEQ), snapshot=True, community=community_id)
    else:
        cursor = Cursor.decode(cursor_text)
        if cursor.community != community_id:
            raise Unprocessable(M.sync_cursor_other_community, loc=["query", "cursor"])
    if purged is not None and cursor.position < purged:
        raise SyncReset(M.sync_reset)
    if cursor.snapshot:
        return await _snapshot_page(session, principal, personal, cursor, limit)
    return await _log_page(session, principal, personal, cursor, limit)


async def _snapshot_page(
    session: AsyncSession,
    principal: Principal,
    personal: PersonalData,
    cursor: Cursor,
    limit: int,
) -> ChangesPage:
    out: list[Change] = []
    table, after = cursor.table, cursor.after
    community = cursor.backfill or cursor.community
    while True:
        resource, wanted = SYNCED[table], limit - len(out)
        rows = await repository.rows_in_order(
            session, resource, principal, after, wanted, community
        )
        data = await presented(session, principal, personal, resource, rows)
        out.extend(
            Change(resource=resource, id=row.id, version=row.version, op="upsert", data=item)
            for row, item in zip(rows, data, strict=True)
        )
        if len(rows) == wanted:  # the page is full: this table goes on next time
            after = rows[-1].id
            break
        if table + 1 == len(SYNCED):  # the first sync is done: the log follows
            done = Cursor(position=cursor.position, community=cursor.community)
            return ChangesPage(changes=out, next_cursor=done.encode(), has_more=True)
        table, after = table + 1, None
    following = replace(cursor, table=table, after=after)
    return ChangesPage(changes=out, next_cursor=following.encode(), has_more=True)


async def _log_page(
    session: AsyncSession,
    principal: Principal,
    personal: PersonalData,
    cursor: Cursor,
    limit: int,
) -> ChangesPage:
    below = await repository.horizon(session)
    entries = await repository.log_after(
        session, principal, cursor.position, below, limit, cursor.community
    )
    # An assignment added: the next pages are a first sync of that community, after which
    # the log resumes right after the assignment.
    enter = next(
        (i for i, e in enumerate(entries) if e.resource == SCOPE_RESOURCE and e.op == "enter"),
        None,
    )
    taken = entries if enter is None else entries[:enter]
    rows: dict[str, dict[uuid.UUID, Any]] = {}
    for resource in SYNCED:
        ids = [e.row_id for e in taken if e.resource == resource and e.op != "move_out"]
        if ids:
            rows[resource] = await repository.rows_by_id(session, resource, principal, ids)
    out: list[Change] = []
    fresh: list[tuple[str, Any]] = []
    for entry in taken:
        if entry.resource == SCOPE_RESOURCE:  # "leave"
            out.append(Change(resource="communities", id=entry.community_id, op="leave_scope"))
            continue
        if entry.op == "move_out":
            out.append(
                Change(resource=entry.resource, id=entry.row_id, version=entry.version, op="delete")
            )
            continue
        row = rows.get(entry.resource, {}).get(entry.row_id)
        if row is None or row.version != entry.version:
            continue  # out of the caller's scope now, or superseded by a later entry
        if row.deleted_at is not None:
            out.append(Change(resource=entry.resource, id=row.id, version=row.version, op="delete"))
        else:
            out.append(Change(resource=entry.resource, id=row.id, version=row.version, op="upsert"))
            fresh.append((entry.resource, row))
    await _fill(session, principal, personal, out, fresh)
    if enter is not None:
        entry = entries[enter]
        following = Cursor(
            position=(entry.txid, entry.seq),
            snapshot=True,
            backfill=entry.community_id,
            community=cursor.community,
        )
        return ChangesPage(changes=out, next_cursor=following.encode(), has_more=True)
    if len(entries) == limit:
        last = entries[-1]
        following = replace(cursor, position=(last.txid, last.seq))
        return ChangesPage(changes=out, next_cursor=following.encode(), has_more=True)
    # Every entry below the horizon was read: the cursor moves up to it.
    position = max(cursor.position, (below - 1, MAX_SEQ))
    following = replace(cursor, position=position)
    return ChangesPage(changes=out, next_cursor=following.encode(), has_more=False)


async def _fill(
    session: AsyncSession,
    principal: Principal,
    personal: PersonalData,
    out: list[Change],
    fresh: list[tuple[str, Any]],
) -> None:
    """Present the upserted rows, each resource's rows at once (no N+1)."""
    by_resource: dict[str, list[Any]] = {}
    for resource, row in fresh:
        by_resource.setdefault(resource, []).append(row)
    data: dict[tuple[str, uuid.UUID], dict[str, Any]] = {}
    for resource, rows in by_resource.items():
        for row, item in zip(
            rows, await presented(session, principal, personal, resource, rows), strict=True
        ):
            data[(resource, row.id)] = item
    for change in out:
        if change.op == "upsert":
            change.data = data[(change.resource, change.id)]


# --- retention -------------------------------------------------------------------------------


async def purge(session: AsyncSession, *, change_days: int, mutation_days: int) -> tuple[int, int]:
    """Drop change log entries older than ``change_days`` (≥ 180: cursors older than what
    is kept answer 410) and remembered mutations older than ``mutation_days`` (≥ 30)."""
    if change_days < 180 or mutation_days < 30:
        raise Unprocessable(M.sync_retention_minimum)
    now = utcnow()
    changes_dropped = await repository.purge(session, now - timedelta(days=change_days))
    mutations_dropped = await repository.forget_mutations(
        session, now - timedelta(days=mutation_days)
    )
    return changes_dropped, mutations_dropped
