"""Endpoints of a program itself: CRUD, restore, lifecycle transitions with their history,
and the generated terms of reference (KAK)."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.deps import PrincipalDep, SessionDep
from app.auth.policy import APPROVE, WRITE, authorize
from app.core.errors import problem_responses
from app.core.http import check_if_match, model_response
from app.core.pagination import ListParams, Page, list_params_for, set_link_header
from app.core.regions import RegionPrefixQuery
from app.core.schemas import TEXT_PATTERN, IsoDate
from app.core.transitions import TransitionRead, history
from app.programs import service
from app.programs.models import Program, ProgramStatus
from app.programs.repository import RESOURCE, program_conditions, programs
from app.programs.schemas import (
    ProgramCreate,
    ProgramRead,
    ProgramTransition,
    ProgramUpdate,
    TermsOfReference,
)
from app.programs.terms import build_terms, render_markdown

router = APIRouter(prefix="/programs", tags=["programs"])


async def _answer(request: Request, session: AsyncSession, program: Program) -> Response:
    return model_response(
        request, await service.read_program(session, program), version=program.version
    )


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
    params: Annotated[ListParams, Depends(list_params_for(programs.keyset))],
    status: ProgramStatus | None = None,
    community_id: uuid.UUID | None = None,
    region_code: RegionPrefixQuery = None,
    coordinator_id: uuid.UUID | None = None,
    active_on: Annotated[
        IsoDate | None, Query(description="Programs whose [start_date, end_date] contains it")
    ] = None,
    starts_from: IsoDate | None = None,
    starts_to: IsoDate | None = None,
    q: Annotated[str | None, Query(min_length=1, max_length=100, pattern=TEXT_PATTERN)] = None,
) -> Page[ProgramRead]:
    filters = {
        "status": status,
        "community_id": community_id,
        "region_code": region_code,
        "coordinator_id": coordinator_id,
        "active_on": active_on,
        "starts_from": starts_from,
        "starts_to": starts_to,
        "q": q,
    }
    rows, next_cursor = await programs.page(
        session, principal, params, conditions=program_conditions(**filters), filters=filters
    )
    set_link_header(request, response, next_cursor)
    return Page(items=await service.read_programs(session, rows), next_cursor=next_cursor)


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
    program = await service.create_program(session, principal, body)
    return model_response(
        request,
        await service.read_program(session, program),
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
    return await _answer(request, session, program)


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
    await service.update_program(session, principal, program, body)
    return await _answer(request, session, program)


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
    return await _answer(request, session, program)


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
    body: ProgramTransition,
) -> Response:
    program = await programs.get(session, principal, program_id, for_update=True)
    authorize(principal, RESOURCE, APPROVE if body.to == ProgramStatus.approved else WRITE)
    check_if_match(request, program.version)
    await service.transition_program(session, principal, program, body)
    return await _answer(request, session, program)


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
    rows = await history(session, RESOURCE, program_id)
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
    lang: Annotated[
        Literal["id", "en"],
        Query(description="The document's language: headings, labels of values, dates"),
    ] = "id",
) -> Response:
    program = await programs.get(session, principal, program_id)
    document = await build_terms(session, program, lang)
    language = {"Content-Language": lang}  # the document's, whatever Accept-Language says
    if "text/markdown" in request.headers.get("accept", ""):
        return Response(
            render_markdown(document), media_type="text/markdown; charset=utf-8", headers=language
        )
    return model_response(request, document, headers=language)
