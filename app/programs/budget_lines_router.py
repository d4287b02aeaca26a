"""Endpoints of a program's budget lines (each change sums the program's budget again)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from app.auth.deps import PrincipalDep, SessionDep
from app.core.errors import problem_responses
from app.core.http import check_if_match, model_response
from app.core.pagination import ListParams, Page, list_params_for, set_link_header
from app.programs import service
from app.programs.repository import budget_lines, programs
from app.programs.schemas import BudgetLineCreate, BudgetLineRead, BudgetLineUpdate

router = APIRouter(prefix="/programs", tags=["programs"])


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
    params: Annotated[ListParams, Depends(list_params_for(budget_lines.keyset))],
) -> Page[BudgetLineRead]:
    await programs.get(session, principal, program_id)
    rows, next_cursor = await budget_lines.page_under(session, principal, program_id, params)
    set_link_header(request, response, next_cursor)
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
    program = await service.locked_program(session, principal, program_id, "budget_lines")
    entity = await service.create_budget_line(session, principal, program, body)
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
    entity = await budget_lines.get_under(session, principal, program_id, line_id)
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
    program = await service.locked_program(session, principal, program_id, "budget_lines")
    entity = await budget_lines.get_under(session, principal, program_id, line_id, for_update=True)
    check_if_match(request, entity.version)
    await service.update_budget_line(session, principal, program, entity, body)
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
    program = await service.locked_program(session, principal, program_id, "budget_lines", "delete")
    await budget_lines.get_under(session, principal, program_id, line_id)
    await service.delete_budget_line(session, principal, program, line_id, request)
    return Response(status_code=204)
