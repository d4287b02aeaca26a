"""Rules of programs and what hangs under them: codes, links to communities and findings,
the lifecycle, activities' communities and schedules, measurement dates, the budget sum."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.models import Role
from app.auth.policy import WRITE, authorize, can_write_in_community
from app.auth.repository import live_user_role
from app.core.conditional import (
    Condition,
    PutOutcome,
    body_digest,
    conditional_put,
    replacement,
)
from app.core.errors import Conflict, Forbidden, NotFound, Unprocessable
from app.core.i18n import M
from app.core.principal import Principal
from app.core.transitions import TransitionRequest, check_move, record_transition
from app.events import emit
from app.programs.models import (
    CLOSED_STATUSES,
    PROGRAM_MACHINE,
    Activity,
    BudgetLine,
    Measurement,
    Program,
    ProgramStatus,
)
from app.programs.repository import (
    RESOURCE,
    activities,
    activities_outside,
    addressable_finding_ids,
    budget_lines,
    bump_code_counter,
    code_taken,
    ensure_code_free,
    indicators,
    insert_unique,
    links_of,
    live_budget_total,
    live_community_ids,
    measurements,
    programs,
    replace_links,
)
from app.programs.schemas import (
    ActivityCreate,
    ActivityRead,
    ActivityUpdate,
    BudgetLineCreate,
    BudgetLineUpdate,
    MeasurementCreate,
    MeasurementRead,
    MeasurementUpdate,
    ProgramCreate,
    ProgramRead,
    ProgramUpdate,
)

# --- programs --------------------------------------------------------------------------------


async def next_code(session: AsyncSession, year: int | None = None) -> str:
    """``PRG-YYYY-NNNN``: the counter row is bumped (and locked) in the caller's
    transaction, so concurrent creates queue on it and get consecutive numbers."""
    year = year or datetime.now(UTC).year
    while True:
        number = await bump_code_counter(session, year)
        code = f"PRG-{year}-{number:04d}"
        if not await code_taken(session, code):
            return code  # skip numbers taken by hand-given codes (unique ignoring case)


async def check_communities(session: AsyncSession, community_ids: Sequence[uuid.UUID]) -> None:
    found = await live_community_ids(session, community_ids)
    missing = [i for i, cid in enumerate(community_ids) if cid not in found]
    if missing:
        raise Unprocessable(M.community_not_found, loc=["body", "community_ids", missing[0]])


async def check_findings(
    session: AsyncSession, finding_ids: Sequence[uuid.UUID], community_ids: Sequence[uuid.UUID]
) -> None:
    """Addressed findings must be problems or needs of assessments in the program's
    communities."""
    if not finding_ids:
        return
    found = await addressable_finding_ids(session, finding_ids, community_ids)
    strangers = [i for i, fid in enumerate(finding_ids) if fid not in found]
    if strangers:
        raise Unprocessable(
            M.findings_not_addressable,
            loc=["body", "addressed_finding_ids", strangers[0]],
        )


async def check_coordinator(session: AsyncSession, user_id: uuid.UUID | None) -> None:
    if user_id is None:
        return
    role = await live_user_role(session, user_id)
    if role not in (Role.coordinator.value, Role.admin.value):
        raise Unprocessable(M.coordinator_required, loc=["body", "coordinator_id"])


def check_dates(start: date | None, end: date | None) -> None:
    if start and end and end < start:
        raise Unprocessable(M.end_before_start, loc=["body", "end_date"])


async def check_activities_stay_inside(
    session: AsyncSession, program_id: uuid.UUID, community_ids: Sequence[uuid.UUID]
) -> None:
    if await activities_outside(session, program_id, community_ids):
        raise Conflict(M.activities_in_removed_community)


def ensure_open(program: Program) -> None:
    if program.status in CLOSED_STATUSES:
        raise Conflict(M.program_frozen(status=program.status))


async def read_programs(session: AsyncSession, rows: list[Program]) -> list[ProgramRead]:
    """Programs as answered, with their links read for all of them at once."""
    communities, findings = await links_of(session, [p.id for p in rows])
    return [
        ProgramRead.model_validate(
            {
                **p.model_dump(),
                "community_ids": communities[p.id],
                "addressed_finding_ids": findings[p.id],
            }
        )
        for p in rows
    ]


async def read_program(session: AsyncSession, program: Program) -> ProgramRead:
    return (await read_programs(session, [program]))[0]


async def create_program(
    session: AsyncSession, principal: Principal, body: ProgramCreate
) -> Program:
    await check_communities(session, body.community_ids)
    await check_findings(session, body.addressed_finding_ids, body.community_ids)
    await check_coordinator(session, body.coordinator_id)
    check_dates(body.start_date, body.end_date)
    if body.code:
        await ensure_code_free(session, body.code)
    values = body.model_dump(exclude={"community_ids", "addressed_finding_ids"})
    values["code"] = body.code or await next_code(session)
    program = Program(**values)
    await insert_unique(session, program)
    program = await programs.add(session, principal, program)
    await replace_links(session, program.id, body.community_ids, body.addressed_finding_ids)
    await emit.program_created(session, program)
    return program


async def update_program(
    session: AsyncSession, principal: Principal, program: Program, body: ProgramUpdate
) -> None:
    """Apply a patch to the locked program; link changes count as changes of the program."""
    ensure_open(program)
    changes = body.changes()
    community_ids = changes.pop("community_ids", None)
    finding_ids = changes.pop("addressed_finding_ids", None)
    current_communities, current_findings = await links_of(session, [program.id])
    if community_ids is not None:
        await check_communities(session, community_ids)
        await check_activities_stay_inside(session, program.id, community_ids)
    effective_communities = community_ids or current_communities[program.id]
    if finding_ids is not None or community_ids is not None:
        await check_findings(
            session,
            finding_ids if finding_ids is not None else current_findings[program.id],
            effective_communities,
        )
    if "coordinator_id" in changes:
        await check_coordinator(session, changes["coordinator_id"])
    check_dates(
        changes.get("start_date", program.start_date), changes.get("end_date", program.end_date)
    )
    links_changed = []
    if community_ids is not None and sorted(community_ids) != current_communities[program.id]:
        links_changed.append("community_ids")
    else:
        community_ids = None
    if finding_ids is not None and sorted(finding_ids) != current_findings[program.id]:
        links_changed.append("addressed_finding_ids")
    else:
        finding_ids = None
    await replace_links(session, program.id, community_ids, finding_ids)
    changed = await programs.apply_changes(
        session, principal, program, changes, also_changed=links_changed
    )
    await emit.program_updated(session, program, changed)


async def transition_program(
    session: AsyncSession, principal: Principal, program: Program, body: TransitionRequest
) -> None:
    """Move the locked program along its machine; a rejection must say why."""
    try:
        target = ProgramStatus(body.to).value
    except ValueError:
        raise Unprocessable(
            M.unknown_status(allowed=[s.value for s in ProgramStatus]),
            loc=["body", "to"],
        ) from None
    check_move(PROGRAM_MACHINE, program.status, target)
    if (
        program.status == ProgramStatus.submitted
        and target == ProgramStatus.draft
        and not body.note
    ):
        raise Unprocessable(M.rejection_needs_note, loc=["body", "note"])
    previous = program.status
    await record_transition(session, principal, RESOURCE, program, target, body.note)
    await emit.program_status_changed(session, program, previous)


# --- what hangs under a program --------------------------------------------------------------


async def locked_program(
    session: AsyncSession,
    principal: Principal,
    program_id: uuid.UUID,
    resource: str,
    action: str = WRITE,
) -> Program:
    """The visible program, locked; 403 when the role may not change ``resource``;
    409 when the program is closed."""
    program = await programs.get(session, principal, program_id, for_update=True)
    authorize(principal, resource, action)
    ensure_open(program)
    return program


# --- activities ------------------------------------------------------------------------------


def ensure_may_manage_activities(principal: Principal, community_id: uuid.UUID) -> None:
    if not can_write_in_community(principal, community_id):
        raise Forbidden(M.activities_forbidden)


async def check_activity_community(
    session: AsyncSession, principal: Principal, program_id: uuid.UUID, community_id: uuid.UUID
) -> None:
    communities, _ = await links_of(session, [program_id])
    if community_id not in communities[program_id]:
        raise Unprocessable(M.activity_community_outside, loc=["body", "community_id"])
    ensure_may_manage_activities(principal, community_id)


def check_schedule(start: Any, end: Any) -> None:
    if end is not None and start is not None and end < start:
        raise Unprocessable(M.scheduled_end_before_start, loc=["body", "scheduled_end"])


async def create_activity(
    session: AsyncSession,
    principal: Principal,
    program_id: uuid.UUID,
    body: ActivityCreate,
    item_id: uuid.UUID | None = None,
) -> Activity:
    await check_activity_community(session, principal, program_id, body.community_id)
    check_schedule(body.scheduled_start, body.scheduled_end)
    values = body.model_dump()
    values["kind"], values["status"] = body.kind.value, body.status.value
    if item_id is not None:  # a client-made id (PUT)
        values["id"] = item_id
    entity: Activity = await activities.add(
        session, principal, Activity(program_id=program_id, **values)
    )
    await emit.activity_changed(session, entity)
    return entity


async def update_activity(
    session: AsyncSession,
    principal: Principal,
    program_id: uuid.UUID,
    entity: Activity,
    body: ActivityUpdate,
) -> None:
    ensure_may_manage_activities(principal, entity.community_id)
    changes = body.changes()
    if "community_id" in changes:
        await check_activity_community(session, principal, program_id, changes["community_id"])
    check_schedule(
        changes.get("scheduled_start", entity.scheduled_start),
        changes.get("scheduled_end", entity.scheduled_end),
    )
    for name in ("kind", "status"):
        if name in changes:
            changes[name] = (
                changes[name].value if hasattr(changes[name], "value") else changes[name]
            )
    changed = await activities.apply_changes(session, principal, entity, changes)
    await emit.activity_changed(session, entity, changed)


# --- measurements ----------------------------------------------------------------------------


def check_measured_on(program: Program, measured_on: date) -> None:
    if (program.start_date and measured_on < program.start_date) or (
        program.end_date and measured_on > program.end_date
    ):
        raise Unprocessable(M.measured_outside_program, loc=["body", "measured_on"])


async def record_measurement(
    session: AsyncSession, principal: Principal, program: Program, entity: Measurement
) -> Measurement:
    """Add a measurement of the locked program (dates checked by the caller)."""
    check_measured_on(program, entity.measured_on)
    entity = await measurements.add(session, principal, entity)
    await emit.measurement_recorded(session, program.id, entity)
    return entity


async def update_measurement(
    session: AsyncSession,
    principal: Principal,
    program: Program,
    entity: Measurement,
    body: MeasurementUpdate,
) -> None:
    """Merge a patch into a measurement of the locked program."""
    changes = body.changes()
    if "measured_on" in changes:
        check_measured_on(program, changes["measured_on"])
    await measurements.apply_changes(session, principal, entity, changes)


# --- budget lines ----------------------------------------------------------------------------


def line_total(quantity: Decimal, unit_cost_amount: int) -> int:
    return int((quantity * unit_cost_amount).quantize(Decimal("1"), rounding=ROUND_HALF_UP))


async def refresh_budget(session: AsyncSession, program: Program) -> None:
    """``budget_amount`` is always the sum of the live lines (the program row is locked)."""
    program.budget_amount = await live_budget_total(session, program.id)
    await session.flush()


async def create_budget_line(
    session: AsyncSession, principal: Principal, program: Program, body: BudgetLineCreate
) -> BudgetLine:
    entity: BudgetLine = await budget_lines.add(
        session,
        principal,
        BudgetLine(
            program_id=program.id,
            **body.model_dump(),
            total_amount=line_total(body.quantity, body.unit_cost_amount),
        ),
    )
    await refresh_budget(session, program)
    await emit.budget_line_changed(session, program, entity, "created")
    return entity


async def update_budget_line(
    session: AsyncSession,
    principal: Principal,
    program: Program,
    entity: BudgetLine,
    body: BudgetLineUpdate,
) -> None:
    changes = body.changes()
    changes["total_amount"] = line_total(
        changes.get("quantity", entity.quantity),
        changes.get("unit_cost_amount", entity.unit_cost_amount),
    )
    changed = await budget_lines.apply_changes(session, principal, entity, changes)
    await refresh_budget(session, program)
    if changed:
        await emit.budget_line_changed(session, program, entity, "updated")


async def delete_budget_line(
    session: AsyncSession, principal: Principal, program: Program, line_id: Any, request: Any
) -> None:
    """Soft-delete a line of the locked program; the budget follows."""
    entity = await budget_lines.soft_delete(session, principal, line_id, request)
    await refresh_budget(session, program)
    await emit.budget_line_changed(session, program, entity, "deleted")


# --- PUT with client-made ids (app.core.conditional) --------------------------------------


async def put_activity(
    session: AsyncSession,
    principal: Principal,
    program_id: uuid.UUID,
    activity_id: uuid.UUID,
    body: ActivityCreate,
    condition: Condition,
) -> tuple[PutOutcome, Activity]:
    """The rules of ``create_activity`` and ``update_activity``."""
    await locked_program(session, principal, program_id, "activities")

    async def load() -> Activity | None:
        try:
            return await activities.get_under(
                session, principal, program_id, activity_id, for_update=True
            )
        except NotFound:
            return None

    async def current(entity: Activity) -> dict[str, Any]:
        return ActivityRead.model_validate(entity).model_dump(mode="json")

    async def make() -> Activity:
        return await create_activity(session, principal, program_id, body, activity_id)

    async def replace(entity: Activity) -> None:
        patch = replacement(ActivityUpdate, body)
        await update_activity(session, principal, program_id, entity, patch)

    return await conditional_put(
        session,
        condition,
        resource="activities",
        model=Activity,
        item_id=activity_id,
        digest=body_digest({"program_id": program_id}, body),
        load=load,
        present=current,
        create=make,
        replace=replace,
    )


async def put_measurement(
    session: AsyncSession,
    principal: Principal,
    program_id: uuid.UUID,
    indicator_id: uuid.UUID,
    measurement_id: uuid.UUID,
    body: MeasurementCreate,
    condition: Condition,
) -> tuple[PutOutcome, Measurement]:
    """The rules of ``record_measurement`` and ``update_measurement``."""
    program = await locked_program(session, principal, program_id, "measurements")
    await indicators.get_under(session, principal, program_id, indicator_id)

    async def load() -> Measurement | None:
        try:
            return await measurements.get_under(
                session, principal, indicator_id, measurement_id, for_update=True
            )
        except NotFound:
            return None

    async def current(entity: Measurement) -> dict[str, Any]:
        return MeasurementRead.model_validate(entity).model_dump(mode="json")

    async def make() -> Measurement:
        entity = Measurement(id=measurement_id, indicator_id=indicator_id, **body.model_dump())
        return await record_measurement(session, principal, program, entity)

    async def replace(entity: Measurement) -> None:
        patch = replacement(MeasurementUpdate, body)
        await update_measurement(session, principal, program, entity, patch)

    return await conditional_put(
        session,
        condition,
        resource="measurements",
        model=Measurement,
        item_id=measurement_id,
        digest=body_digest({"program_id": program_id, "indicator_id": indicator_id}, body),
        load=load,
        present=current,
        create=make,
        replace=replace,
    )
