"""Endpoints of programs: the program, its lifecycle, activities, indicators with
measurements, budget lines, and the generated terms of reference (KAK)."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy import ColumnElement, exists, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.auth.deps import PrincipalDep, SessionDep
from app.auth.policy import APPROVE, WRITE, authorize, can_write_in_community
from app.communities.models import Community
from app.core.errors import Forbidden, NotFound, Unprocessable, problem_responses
from app.core.http import check_if_match, model_response
from app.core.pagination import (
    ListParams,
    Page,
    list_params,
    set_link_header,
)
from app.core.principal import Principal
from app.core.regions import RegionPrefixQuery
from app.core.transitions import (
    StatusTransition,
    TransitionRead,
    TransitionRequest,
    check_move,
    record_transition,
)
from app.programs import service
from app.programs.models import (
    PROGRAM_MACHINE,
    Activity,
    ActivityKind,
    ActivityStatus,
    BudgetLine,
    Indicator,
    Measurement,
    Program,
    ProgramCommunity,
    ProgramStatus,
)
from app.programs.repository import (
    activities,
    budget_lines,
    indicators,
    measurements,
    programs,
)
from app.programs.schemas import (
    ActivityCreate,
    ActivityRead,
    ActivityUpdate,
    BudgetLineCreate,
    BudgetLineRead,
    BudgetLineUpdate,
    IndicatorCreate,
    IndicatorRead,
    IndicatorUpdate,
    MeasurementCreate,
    MeasurementRead,
    MeasurementUpdate,
    ProgramCreate,
    ProgramRead,
    ProgramUpdate,
    TermsOfReference,
)
from app.programs.terms import build_terms, render_markdown

router = APIRouter(prefix="/programs", tags=["programs"])

RESOURCE = "programs"


async def _read_many(session: AsyncSession, rows: list[Program]) -> list[ProgramRead]:
    communities, findings = await service.links_of(session, [p.id for p in rows])
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


async def _read(session: AsyncSession, program: Program) -> ProgramRead:
    return (await _read_many(session, [program]))[0]


async def _locked_program(
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
    service.ensure_open(program)
    return program


# --- programs -------------------------------------------------------------------------------


@router.get(
    "",
    name="programs-list",
    response_model=Page[ProgramRead],
    summary="List programs (sort: created_at, updated_at, code, title)",
    responses=problem_responses(401, 422),
)
async def list_programs(
    request: Request,
    response: Response,
    session: SessionDep,
    principal: PrincipalDep,
    params: Annotated[ListParams, Depends(list_params)],
    status: ProgramStatus | None = None,
    community_id: uuid.UUID | None = None,
    region_code: RegionPrefixQuery = None,
    coordinator_id: uuid.UUID | None = None,
    active_on: Annotated[
        date | None, Query(description="Programs whose [start_date, end_date] contains it")
    ] = None,
    starts_from: date | None = None,
    starts_to: date | None = None,
    q: Annotated[str | None, Query(min_length=1, max_length=100)] = None,
) -> Page[ProgramRead]:
    conditions: list[ColumnElement[bool]] = []
    if status is not None:
        conditions.append(Program.status == status.value)
    if community_id is not None:
        conditions.append(
            exists().where(
                ProgramCommunity.program_id == Program.id,
                ProgramCommunity.community_id == community_id,
            )
        )
    if region_code is not None:
        prefix = region_code
        conditions.append(
            exists()
            .where(ProgramCommunity.program_id == Program.id)
            .where(ProgramCommunity.community_id == Community.id)
            .where(col(Community.region_code).startswith(prefix, autoescape=True))
        )
    if coordinator_id is not None:
        conditions.append(Program.coordinator_id == coordinator_id)
    if active_on is not None:
        conditions.append(
            (col(Program.start_date).is_(None)) | (col(Program.start_date) <= active_on)
        )
        conditions.append((col(Program.end_date).is_(None)) | (col(Program.end_date) >= active_on))
    if starts_from is not None:
        conditions.append(col(Program.start_date) >= starts_from)
    if starts_to is not None:
        conditions.append(col(Program.start_date) <= starts_to)
    if q is not None:
        conditions.append(
            col(Program.title).icontains(q, autoescape=True)
            | col(Program.code).icontains(q, autoescape=True)
        )
    rows, next_cursor = await programs.page(
        session,
        principal,
        params,
        conditions=conditions,
        filters={
            "status": status,
            "community_id": community_id,
            "region_code": region_code,
            "coordinator_id": coordinator_id,
            "active_on": active_on,
            "starts_from": starts_from,
            "starts_to": starts_to,
            "q": q,
        },
    )
    set_link_header(request, response, next_cursor)
    return Page(items=await _read_many(session, rows), next_cursor=next_cursor)


@router.post(
    "",
    name="programs-create",
    status_code=201,
    response_model=ProgramRead,
    responses=problem_responses(401, 403, 409, 422),
)
async def create_program(
    request: Request, session: SessionDep, principal: PrincipalDep, body: ProgramCreate
) -> Response:
    authorize(principal, RESOURCE, WRITE)
    await service.check_communities(session, body.community_ids)
    await service.check_findings(session, body.addressed_finding_ids, body.community_ids)
    await service.check_coordinator(session, body.coordinator_id)
    service.check_dates(body.start_date, body.end_date)
    if body.code:
        await service.ensure_code_free(session, body.code)
    values = body.model_dump(exclude={"community_ids", "addressed_finding_ids"})
    values["code"] = body.code or await service.next_code(session)
    program = Program(**values)
    await service.insert_unique(session, program)
    program = await programs.add(session, principal, program)
    await service.replace_links(session, program.id, body.community_ids, body.addressed_finding_ids)
    return model_response(
        request,
        await _read(session, program),
        version=program.version,
        status_code=201,
        headers={"Location": f"/api/v1/programs/{program.id}"},
    )


@router.get(
    "/{program_id}",
    name="programs-get",
    response_model=ProgramRead,
    responses=problem_responses(401, 404),
)
async def get_program(
    request: Request, session: SessionDep, principal: PrincipalDep, program_id: uuid.UUID
) -> Response:
    program = await programs.get(session, principal, program_id)
    return model_response(request, await _read(session, program), version=program.version)


@router.patch(
    "/{program_id}",
    name="programs-update",
    response_model=ProgramRead,
    responses=problem_responses(401, 403, 404, 409, 412, 422),
)
async def update_program(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    program_id: uuid.UUID,
    body: ProgramUpdate,
) -> Response:
    program = await programs.get_for_change(session, principal, program_id, request)
    service.ensure_open(program)
    changes = body.changes()
    community_ids = changes.pop("community_ids", None)
    finding_ids = changes.pop("addressed_finding_ids", None)
    current_communities, current_findings = await service.links_of(session, [program.id])
    if community_ids is not None:
        await service.check_communities(session, community_ids)
        await service.check_activities_stay_inside(session, program.id, community_ids)
    effective_communities = community_ids or current_communities[program.id]
    if finding_ids is not None or community_ids is not None:
        await service.check_findings(
            session,
            finding_ids if finding_ids is not None else current_findings[program.id],
            effective_communities,
        )
    if "coordinator_id" in changes:
        await service.check_coordinator(session, changes["coordinator_id"])
    service.check_dates(
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
    await service.replace_links(session, program.id, community_ids, finding_ids)
    await programs.apply_changes(session, principal, program, changes, also_changed=links_changed)
    return model_response(request, await _read(session, program), version=program.version)


@router.delete(
    "/{program_id}",
    name="programs-delete",
    status_code=204,
    responses=problem_responses(401, 403, 404, 412),
)
async def delete_program(
    request: Request, session: SessionDep, principal: PrincipalDep, program_id: uuid.UUID
) -> Response:
    await programs.soft_delete(session, principal, program_id, request)
    return Response(status_code=204)


@router.post(
    "/{program_id}/restore",
    name="programs-restore",
    response_model=ProgramRead,
    responses=problem_responses(401, 403, 404, 409),
)
async def restore_program(
    request: Request, session: SessionDep, principal: PrincipalDep, program_id: uuid.UUID
) -> Response:
    program = await programs.restore(session, principal, program_id)
    return model_response(request, await _read(session, program), version=program.version)


@router.post(
    "/{program_id}/transitions",
    name="programs-transition",
    response_model=ProgramRead,
    summary="draft → submitted → approved → active → completed; submitted → draft "
    "(rejection); cancelled from any open state",
    responses=problem_responses(401, 403, 404, 409, 412, 422),
)
async def transition_program(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    program_id: uuid.UUID,
    body: TransitionRequest,
) -> Response:
    program = await programs.get(session, principal, program_id, for_update=True)
    authorize(principal, RESOURCE, APPROVE if body.to == ProgramStatus.approved else WRITE)
    check_if_match(request, program.version)
    try:
        target = ProgramStatus(body.to).value
    except ValueError:
        raise Unprocessable(
            f"unknown status; one of: {', '.join(s.value for s in ProgramStatus)}",
            loc=["body", "to"],
        ) from None
    check_move(PROGRAM_MACHINE, program.status, target)
    if (
        program.status == ProgramStatus.submitted
        and target == ProgramStatus.draft
        and not body.note
    ):
        raise Unprocessable("a rejection needs a note saying why", loc=["body", "note"])
    await record_transition(session, principal, RESOURCE, program, target, body.note)
    return model_response(request, await _read(session, program), version=program.version)


@router.get(
    "/{program_id}/transitions",
    name="programs-transitions-list",
    response_model=list[TransitionRead],
    summary="The program's status history, oldest first",
    responses=problem_responses(401, 404),
)
async def list_program_transitions(
    session: SessionDep, principal: PrincipalDep, program_id: uuid.UUID
) -> list[TransitionRead]:
    await programs.get(session, principal, program_id)
    rows = (
        await session.execute(
            select(StatusTransition)
            .where(
                StatusTransition.resource == RESOURCE, StatusTransition.resource_id == program_id
            )
            .order_by(StatusTransition.at, StatusTransition.id)
        )
    ).scalars()
    return [TransitionRead.model_validate(r) for r in rows]


@router.get(
    "/{program_id}/terms-of-reference",
    name="programs-terms-of-reference",
    response_model=TermsOfReference,
    summary="The KAK (Kerangka Acuan Kerja) as JSON sections, or Markdown with "
    "Accept: text/markdown",
    responses={
        **problem_responses(401, 404),
        200: {
            "content": {"text/markdown": {"schema": {"type": "string"}}},
            "description": "The terms of reference",
        },
    },
)
async def terms_of_reference(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    program_id: uuid.UUID,
    lang: Annotated[Literal["id", "en"], Query(description="Headings language")] = "id",
) -> Response:
    program = await programs.get(session, principal, program_id)
    document = await build_terms(session, program, lang)
    if "text/markdown" in request.headers.get("accept", ""):
        return Response(render_markdown(document), media_type="text/markdown; charset=utf-8")
    return model_response(request, document)


# --- shared helpers for sub-resources ------------------------------------------------------


async def _child_of(
    repo: Any,
    session: AsyncSession,
    principal: Principal,
    program_id: uuid.UUID,
    item_id: uuid.UUID,
    *,
    for_update: bool = False,
) -> Any:
    entity = await repo.get(session, principal, item_id, for_update=for_update)
    if entity.program_id != program_id:
        raise NotFound(f"{repo.label} not found")
    return entity


async def _list_children(
    repo: Any,
    request: Request,
    response: Response,
    session: AsyncSession,
    principal: Principal,
    program_id: uuid.UUID,
    params: ListParams,
    conditions: list[ColumnElement[bool]],
    filters: dict[str, Any],
) -> tuple[list[Any], str | None]:
    await programs.get(session, principal, program_id)
    rows, next_cursor = await repo.page(
        session,
        principal,
        params,
        conditions=[repo.model.program_id == program_id, *conditions],
        filters={"program_id": program_id, **filters},
    )
    set_link_header(request, response, next_cursor)
    return rows, next_cursor


# --- activities ----------------------------------------------------------------------------


async def _check_activity_community(
    session: AsyncSession, principal: Principal, program_id: uuid.UUID, community_id: uuid.UUID
) -> None:
    communities, _ = await service.links_of(session, [program_id])
    if community_id not in communities[program_id]:
        raise Unprocessable(
            "the activity's community must be one of the program's", loc=["body", "community_id"]
        )
    if not can_write_in_community(principal, community_id):
        raise Forbidden("you may not manage activities in this community")


def _check_schedule(start: Any, end: Any) -> None:
    if end is not None and start is not None and end < start:
        raise Unprocessable(
            "scheduled_end is before scheduled_start", loc=["body", "scheduled_end"]
        )


@router.get(
    "/{program_id}/activities",
    name="activities-list",
    response_model=Page[ActivityRead],
    summary="List activities (sort: created_at, updated_at, scheduled_start, title)",
    responses=problem_responses(401, 404, 422),
)
async def list_activities(
    request: Request,
    response: Response,
    session: SessionDep,
    principal: PrincipalDep,
    program_id: uuid.UUID,
    params: Annotated[ListParams, Depends(list_params)],
    community_id: uuid.UUID | None = None,
    kind: ActivityKind | None = None,
    status: ActivityStatus | None = None,
) -> Page[ActivityRead]:
    conditions: list[ColumnElement[bool]] = []
    if community_id is not None:
        conditions.append(Activity.community_id == community_id)
    if kind is not None:
        conditions.append(Activity.kind == kind.value)
    if status is not None:
        conditions.append(Activity.status == status.value)
    rows, next_cursor = await _list_children(
        activities,
        request,
        response,
        session,
        principal,
        program_id,
        params,
        conditions,
        {"community_id": community_id, "kind": kind, "status": status},
    )
    return Page(items=[ActivityRead.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.post(
    "/{program_id}/activities",
    name="activities-create",
    status_code=201,
    response_model=ActivityRead,
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def create_activity(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    program_id: uuid.UUID,
    body: ActivityCreate,
) -> Response:
    await _locked_program(session, principal, program_id, "activities")
    await _check_activity_community(session, principal, program_id, body.community_id)
    _check_schedule(body.scheduled_start, body.scheduled_end)
    values = body.model_dump()
    values["kind"], values["status"] = body.kind.value, body.status.value
    entity = await activities.add(session, principal, Activity(program_id=program_id, **values))
    return model_response(
        request,
        ActivityRead.model_validate(entity),
        version=entity.version,
        status_code=201,
        headers={"Location": f"/api/v1/programs/{program_id}/activities/{entity.id}"},
    )


@router.get(
    "/{program_id}/activities/{activity_id}",
    name="activities-get",
    response_model=ActivityRead,
    responses=problem_responses(401, 404),
)
async def get_activity(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    program_id: uuid.UUID,
    activity_id: uuid.UUID,
) -> Response:
    entity = await _child_of(activities, session, principal, program_id, activity_id)
    return model_response(request, ActivityRead.model_validate(entity), version=entity.version)


@router.patch(
    "/{program_id}/activities/{activity_id}",
    name="activities-update",
    response_model=ActivityRead,
    responses=problem_responses(401, 403, 404, 409, 412, 422),
)
async def update_activity(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    program_id: uuid.UUID,
    activity_id: uuid.UUID,
    body: ActivityUpdate,
) -> Response:
    await _locked_program(session, principal, program_id, "activities")
    entity = await _child_of(
        activities, session, principal, program_id, activity_id, for_update=True
    )
    check_if_match(request, entity.version)
    if not can_write_in_community(principal, entity.community_id):
        raise Forbidden("you may not manage activities in this community")
    changes = body.changes()
    if "community_id" in changes:
        await _check_activity_community(session, principal, program_id, changes["community_id"])
    _check_schedule(
        changes.get("scheduled_start", entity.scheduled_start),
        changes.get("scheduled_end", entity.scheduled_end),
    )
    for name in ("kind", "status"):
        if name in changes:
            changes[name] = (
                changes[name].value if hasattr(changes[name], "value") else changes[name]
            )
    await activities.apply_changes(session, principal, entity, changes)
    return model_response(request, ActivityRead.model_validate(entity), version=entity.version)


@router.delete(
    "/{program_id}/activities/{activity_id}",
    name="activities-delete",
    status_code=204,
    responses=problem_responses(401, 403, 404, 409, 412),
)
async def delete_activity(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    program_id: uuid.UUID,
    activity_id: uuid.UUID,
) -> Response:
    await _locked_program(session, principal, program_id, "activities", "delete")
    entity = await _child_of(activities, session, principal, program_id, activity_id)
    if not can_write_in_community(principal, entity.community_id):
        raise Forbidden("you may not manage activities in this community")
    await activities.soft_delete(session, principal, activity_id, request)
    return Response(status_code=204)


# --- indicators and measurements -----------------------------------------------------------


@router.get(
    "/{program_id}/indicators",
    name="indicators-list",
    response_model=Page[IndicatorRead],
    summary="List indicators (sort: created_at, updated_at, name)",
    responses=problem_responses(401, 404, 422),
)
async def list_indicators(
    request: Request,
    response: Response,
    session: SessionDep,
    principal: PrincipalDep,
    program_id: uuid.UUID,
    params: Annotated[ListParams, Depends(list_params)],
) -> Page[IndicatorRead]:
    rows, next_cursor = await _list_children(
        indicators, request, response, session, principal, program_id, params, [], {}
    )
    return Page(items=[IndicatorRead.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.post(
    "/{program_id}/indicators",
    name="indicators-create",
    status_code=201,
    response_model=IndicatorRead,
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def create_indicator(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    program_id: uuid.UUID,
    body: IndicatorCreate,
) -> Response:
    await _locked_program(session, principal, program_id, "indicators")
    values = body.model_dump()
    values["direction"] = body.direction.value
    entity = await indicators.add(session, principal, Indicator(program_id=program_id, **values))
    return model_response(
        request,
        IndicatorRead.model_validate(entity),
        version=entity.version,
        status_code=201,
        headers={"Location": f"/api/v1/programs/{program_id}/indicators/{entity.id}"},
    )


@router.get(
    "/{program_id}/indicators/{indicator_id}",
    name="indicators-get",
    response_model=IndicatorRead,
    responses=problem_responses(401, 404),
)
async def get_indicator(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    program_id: uuid.UUID,
    indicator_id: uuid.UUID,
) -> Response:
    entity = await _child_of(indicators, session, principal, program_id, indicator_id)
    return model_response(request, IndicatorRead.model_validate(entity), version=entity.version)


@router.patch(
    "/{program_id}/indicators/{indicator_id}",
    name="indicators-update",
    response_model=IndicatorRead,
    responses=problem_responses(401, 403, 404, 409, 412, 422),
)
async def update_indicator(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    program_id: uuid.UUID,
    indicator_id: uuid.UUID,
    body: IndicatorUpdate,
) -> Response:
    await _locked_program(session, principal, program_id, "indicators")
    entity = await _child_of(
        indicators, session, principal, program_id, indicator_id, for_update=True
    )
    check_if_match(request, entity.version)
    changes = body.changes()
    if "direction" in changes:
        changes["direction"] = changes["direction"].value
    await indicators.apply_changes(session, principal, entity, changes)
    return model_response(request, IndicatorRead.model_validate(entity), version=entity.version)


@router.delete(
    "/{program_id}/indicators/{indicator_id}",
    name="indicators-delete",
    status_code=204,
    responses=problem_responses(401, 403, 404, 409, 412),
)
async def delete_indicator(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    program_id: uuid.UUID,
    indicator_id: uuid.UUID,
) -> Response:
    await _locked_program(session, principal, program_id, "indicators", "delete")
    await _child_of(indicators, session, principal, program_id, indicator_id)
    await indicators.soft_delete(session, principal, indicator_id, request)
    return Response(status_code=204)


async def _measurement_indicator(
    session: AsyncSession, principal: Principal, program_id: uuid.UUID, indicator_id: uuid.UUID
) -> Indicator:
    indicator: Indicator = await _child_of(indicators, session, principal, program_id, indicator_id)
    return indicator


def _check_measured_on(program: Program, measured_on: date) -> None:
    if (program.start_date and measured_on < program.start_date) or (
        program.end_date and measured_on > program.end_date
    ):
        raise Unprocessable(
            "measured_on must fall within the program's dates", loc=["body", "measured_on"]
        )


@router.get(
    "/{program_id}/indicators/{indicator_id}/measurements",
    name="measurements-list",
    response_model=Page[MeasurementRead],
    summary="List measurements (sort: measured_on, created_at, updated_at)",
    responses=problem_responses(401, 404, 422),
)
async def list_measurements(
    request: Request,
    response: Response,
    session: SessionDep,
    principal: PrincipalDep,
    program_id: uuid.UUID,
    indicator_id: uuid.UUID,
    params: Annotated[ListParams, Depends(list_params)],
) -> Page[MeasurementRead]:
    await _measurement_indicator(session, principal, program_id, indicator_id)
    rows, next_cursor = await measurements.page(
        session,
        principal,
        params,
        conditions=[Measurement.indicator_id == indicator_id],
        filters={"indicator_id": indicator_id},
    )
    set_link_header(request, response, next_cursor)
    return Page(items=[MeasurementRead.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.post(
    "/{program_id}/indicators/{indicator_id}/measurements",
    name="measurements-create",
    status_code=201,
    response_model=MeasurementRead,
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def create_measurement(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    program_id: uuid.UUID,
    indicator_id: uuid.UUID,
    body: MeasurementCreate,
) -> Response:
    program = await _locked_program(session, principal, program_id, "measurements")
    await _measurement_indicator(session, principal, program_id, indicator_id)
    _check_measured_on(program, body.measured_on)
    entity = await measurements.add(
        session, principal, Measurement(indicator_id=indicator_id, **body.model_dump())
    )
    return model_response(
        request,
        MeasurementRead.model_validate(entity),
        version=entity.version,
        status_code=201,
        headers={
            "Location": f"/api/v1/programs/{program_id}/indicators/{indicator_id}"
            f"/measurements/{entity.id}"
        },
    )


async def _measurement_of(
    session: AsyncSession,
    principal: Principal,
    indicator_id: uuid.UUID,
    measurement_id: uuid.UUID,
    *,
    for_update: bool = False,
) -> Measurement:
    entity = await measurements.get(session, principal, measurement_id, for_update=for_update)
    if entity.indicator_id != indicator_id:
        raise NotFound("measurement not found")
    return entity


@router.get(
    "/{program_id}/indicators/{indicator_id}/measurements/{measurement_id}",
    name="measurements-get",
    response_model=MeasurementRead,
    responses=problem_responses(401, 404),
)
async def get_measurement(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    program_id: uuid.UUID,
    indicator_id: uuid.UUID,
    measurement_id: uuid.UUID,
) -> Response:
    await _measurement_indicator(session, principal, program_id, indicator_id)
    entity = await _measurement_of(session, principal, indicator_id, measurement_id)
    return model_response(request, MeasurementRead.model_validate(entity), version=entity.version)


@router.patch(
    "/{program_id}/indicators/{indicator_id}/measurements/{measurement_id}",
    name="measurements-update",
    response_model=MeasurementRead,
    responses=problem_responses(401, 403, 404, 409, 412, 422),
)
async def update_measurement(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    program_id: uuid.UUID,
    indicator_id: uuid.UUID,
    measurement_id: uuid.UUID,
    body: MeasurementUpdate,
) -> Response:
    program = await _locked_program(session, principal, program_id, "measurements")
    await _measurement_indicator(session, principal, program_id, indicator_id)
    entity = await _measurement_of(
        session, principal, indicator_id, measurement_id, for_update=True
    )
    check_if_match(request, entity.version)
    changes = body.changes()
    if "measured_on" in changes:
        _check_measured_on(program, changes["measured_on"])
    await measurements.apply_changes(session, principal, entity, changes)
    return model_response(request, MeasurementRead.model_validate(entity), version=entity.version)


@router.delete(
    "/{program_id}/indicators/{indicator_id}/measurements/{measurement_id}",
    name="measurements-delete",
    status_code=204,
    responses=problem_responses(401, 403, 404, 409, 412),
)
async def delete_measurement(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    program_id: uuid.UUID,
    indicator_id: uuid.UUID,
    measurement_id: uuid.UUID,
) -> Response:
    await _locked_program(session, principal, program_id, "measurements", "delete")
    await _measurement_indicator(session, principal, program_id, indicator_id)
    await _measurement_of(session, principal, indicator_id, measurement_id)
    await measurements.soft_delete(session, principal, measurement_id, request)
    return Response(status_code=204)


# --- budget lines --------------------------------------------------------------------------


@router.get(
    "/{program_id}/budget-lines",
    name="budget-lines-list",
    response_model=Page[BudgetLineRead],
    summary="List budget lines (sort: created_at, updated_at)",
    responses=problem_responses(401, 404, 422),
)
async def list_budget_lines(
    request: Request,
    response: Response,
    session: SessionDep,
    principal: PrincipalDep,
    program_id: uuid.UUID,
    params: Annotated[ListParams, Depends(list_params)],
) -> Page[BudgetLineRead]:
    rows, next_cursor = await _list_children(
        budget_lines, request, response, session, principal, program_id, params, [], {}
    )
    return Page(items=[BudgetLineRead.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.post(
    "/{program_id}/budget-lines",
    name="budget-lines-create",
    status_code=201,
    response_model=BudgetLineRead,
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def create_budget_line(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    program_id: uuid.UUID,
    body: BudgetLineCreate,
) -> Response:
    program = await _locked_program(session, principal, program_id, "budget_lines")
    entity = await budget_lines.add(
        session,
        principal,
        BudgetLine(
            program_id=program_id,
            **body.model_dump(),
            total_amount=service.line_total(body.quantity, body.unit_cost_amount),
        ),
    )
    await service.refresh_budget(session, program)
    return model_response(
        request,
        BudgetLineRead.model_validate(entity),
        version=entity.version,
        status_code=201,
        headers={"Location": f"/api/v1/programs/{program_id}/budget-lines/{entity.id}"},
    )


@router.get(
    "/{program_id}/budget-lines/{line_id}",
    name="budget-lines-get",
    response_model=BudgetLineRead,
    responses=problem_responses(401, 404),
)
async def get_budget_line(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    program_id: uuid.UUID,
    line_id: uuid.UUID,
) -> Response:
    entity = await _child_of(budget_lines, session, principal, program_id, line_id)
    return model_response(request, BudgetLineRead.model_validate(entity), version=entity.version)


@router.patch(
    "/{program_id}/budget-lines/{line_id}",
    name="budget-lines-update",
    response_model=BudgetLineRead,
    responses=problem_responses(401, 403, 404, 409, 412, 422),
)
async def update_budget_line(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    program_id: uuid.UUID,
    line_id: uuid.UUID,
    body: BudgetLineUpdate,
) -> Response:
    program = await _locked_program(session, principal, program_id, "budget_lines")
    entity = await _child_of(budget_lines, session, principal, program_id, line_id, for_update=True)
    check_if_match(request, entity.version)
    changes = body.changes()
    changes["total_amount"] = service.line_total(
        changes.get("quantity", entity.quantity),
        changes.get("unit_cost_amount", entity.unit_cost_amount),
    )
    await budget_lines.apply_changes(session, principal, entity, changes)
    await service.refresh_budget(session, program)
    return model_response(request, BudgetLineRead.model_validate(entity), version=entity.version)


@router.delete(
    "/{program_id}/budget-lines/{line_id}",
    name="budget-lines-delete",
    status_code=204,
    responses=problem_responses(401, 403, 404, 409, 412),
)
async def delete_budget_line(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    program_id: uuid.UUID,
    line_id: uuid.UUID,
) -> Response:
    program = await _locked_program(session, principal, program_id, "budget_lines", "delete")
    await _child_of(budget_lines, session, principal, program_id, line_id)
    await budget_lines.soft_delete(session, principal, line_id, request)
    await service.refresh_budget(session, program)
    return Response(status_code=204)
