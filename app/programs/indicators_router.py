"""Endpoints of a program's indicators and their measurements."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from app.auth.deps import PrincipalDep, SessionDep
from app.core.conditional import (
    PUT_DESCRIPTION,
    Condition,
    IfMatchHeader,
    IfNoneMatchHeader,
    put_response,
    put_responses,
)
from app.core.errors import problem_responses
from app.core.http import check_if_match, model_response
from app.core.pagination import ListParams, Page, list_params_for, set_link_header
from app.programs import service
from app.programs.models import Indicator, Measurement
from app.programs.repository import indicators, measurements, programs
from app.programs.schemas import (
    IndicatorCreate,
    IndicatorRead,
    IndicatorUpdate,
    MeasurementCreate,
    MeasurementRead,
    MeasurementUpdate,
)

router = APIRouter(prefix="/programs", tags=["programs"])


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
    params: Annotated[ListParams, Depends(list_params_for(indicators.keyset))],
) -> Page[IndicatorRead]:
    await programs.get(session, principal, program_id)
    rows, next_cursor = await indicators.page_under(session, principal, program_id, params)
    set_link_header(request, response, next_cursor)
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
    await service.locked_program(session, principal, program_id, "indicators")
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
    entity = await indicators.get_under(session, principal, program_id, indicator_id)
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
    await service.locked_program(session, principal, program_id, "indicators")
    entity = await indicators.get_under(
        session, principal, program_id, indicator_id, for_update=True
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
    await service.locked_program(session, principal, program_id, "indicators", "delete")
    await indicators.get_under(session, principal, program_id, indicator_id)
    await indicators.soft_delete(session, principal, indicator_id, request)
    return Response(status_code=204)


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
    params: Annotated[ListParams, Depends(list_params_for(measurements.keyset))],
) -> Page[MeasurementRead]:
    await indicators.get_under(session, principal, program_id, indicator_id)
    rows, next_cursor = await measurements.page_under(session, principal, indicator_id, params)
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
    program = await service.locked_program(session, principal, program_id, "measurements")
    await indicators.get_under(session, principal, program_id, indicator_id)
    entity = await service.record_measurement(
        session, principal, program, Measurement(indicator_id=indicator_id, **body.model_dump())
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
    await indicators.get_under(session, principal, program_id, indicator_id)
    entity = await measurements.get_under(session, principal, indicator_id, measurement_id)
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
    program = await service.locked_program(session, principal, program_id, "measurements")
    await indicators.get_under(session, principal, program_id, indicator_id)
    entity = await measurements.get_under(
        session, principal, indicator_id, measurement_id, for_update=True
    )
    check_if_match(request, entity.version)
    await service.update_measurement(session, principal, program, entity, body)
    return model_response(request, MeasurementRead.model_validate(entity), version=entity.version)


@router.put(
    "/{program_id}/indicators/{indicator_id}/measurements/{measurement_id}",
    name="measurements-put",
    response_model=MeasurementRead,
    summary="Record or replace a measurement with a client-made id (offline-first clients)",
    description=PUT_DESCRIPTION,
    responses=put_responses(MeasurementRead, 401, 403, 404, 409, 422),
)
async def put_measurement(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    program_id: uuid.UUID,
    indicator_id: uuid.UUID,
    measurement_id: uuid.UUID,
    body: MeasurementCreate,
    if_match: IfMatchHeader = None,
    if_none_match: IfNoneMatchHeader = None,
) -> Response:
    outcome, entity = await service.put_measurement(
        session,
        principal,
        program_id,
        indicator_id,
        measurement_id,
        body,
        Condition.from_request(request),
    )
    return put_response(
        request,
        outcome,
        MeasurementRead.model_validate(entity),
        version=entity.version,
        location=f"/api/v1/programs/{program_id}/indicators/{indicator_id}"
        f"/measurements/{entity.id}",
    )


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
    await service.locked_program(session, principal, program_id, "measurements", "delete")
    await indicators.get_under(session, principal, program_id, indicator_id)
    await measurements.get_under(session, principal, indicator_id, measurement_id)
    await measurements.soft_delete(session, principal, measurement_id, request)
    return Response(status_code=204)
