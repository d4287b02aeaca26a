"""Endpoints of village planning (API.md §8): proposals, their status path, carry-over,
funding lines, and drafting proposals from a needs assessment's ranking."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from app.assessments.repository import assessments
from app.auth.deps import PrincipalDep, SessionDep
from app.auth.policy import WRITE, authorize
from app.core.errors import problem_responses
from app.core.http import check_if_match, model_response
from app.core.pagination import ListParams, Page, list_params_for, set_link_header
from app.core.regions import RegionPrefixQuery
from app.planning import repository, service
from app.planning.models import ProposalFunding, ProposalStatus
from app.planning.repository import TRANSITION_KEYSET, funding, proposals
from app.planning.schemas import (
    DraftRequest,
    DraftResult,
    FundingCreate,
    FundingRead,
    FundingUpdate,
    ProposalCreate,
    ProposalRead,
    ProposalTransitionRead,
    ProposalTransitionRequest,
    ProposalUpdate,
)

router = APIRouter(prefix="/planning-proposals", tags=["planning"])
drafting_router = APIRouter(prefix="/needs-assessments", tags=["planning"])

WHO_READS = (
    "Admins, coordinators and analysts read every proposal; facilitators those of their "
    "communities; partners those carried out by a program of their organisation. A "
    "proposal outside the caller's scope answers 404."
)
WHO_WRITES = (
    "Coordinators and admins write everywhere, facilitators in their communities (403 "
    "elsewhere); analysts and partners read only (403)."
)
PROPOSAL_BASE = "/api/v1/planning-proposals"


def _location(proposal_id: uuid.UUID) -> dict[str, str]:
    return {"Location": f"{PROPOSAL_BASE}/{proposal_id}"}


@router.get(
    "",
    name="planning-proposals-list",
    response_model=Page[ProposalRead],
    summary="List planning proposals (sort: created_at, updated_at, title, planning_year)",
    description=WHO_READS,
    responses=problem_responses(401, 422),
)
async def list_proposals(
    request: Request,
    response: Response,
    session: SessionDep,
    principal: PrincipalDep,
    params: Annotated[ListParams, Depends(list_params_for(proposals.keyset))],
    community_id: uuid.UUID | None = None,
    planning_year: Annotated[int | None, Query(ge=2015, le=2100)] = None,
    status: ProposalStatus | None = None,
    bidang: Annotated[int | None, Query(ge=1, le=5)] = None,
    program_id: uuid.UUID | None = None,
    finding_id: uuid.UUID | None = None,
    region_code: RegionPrefixQuery = None,
) -> Page[ProposalRead]:
    rows, next_cursor = await proposals.search(
        session,
        principal,
        params,
        community_id=community_id,
        planning_year=planning_year,
        status=status,
        bidang=bidang,
        program_id=program_id,
        finding_id=finding_id,
        region_code=region_code,
    )
    set_link_header(request, response, next_cursor)
    return Page(items=await service.present_all(session, rows), next_cursor=next_cursor)


@router.post(
    "",
    name="planning-proposals-create",
    status_code=201,
    response_model=ProposalRead,
    summary="Record a proposal (usulan) of a musyawarah",
    description=WHO_WRITES
    + " The proposal starts as a draft. finding_ids must be problem or need findings of "
    "validated assessments of the same community (422), and a finding has at most one "
    "live proposal per planning year (409); program_ids must be live programs that include "
    "the community (422); planning_year at most six years ahead (422).",
    responses=problem_responses(401, 403, 409, 422),
)
async def create_proposal(
    request: Request, session: SessionDep, principal: PrincipalDep, body: ProposalCreate
) -> Response:
    authorize(principal, repository.RESOURCE, WRITE)
    entity = await service.create_proposal(session, principal, body)
    return model_response(
        request,
        await service.present(session, entity),
        version=entity.version,
        status_code=201,
        headers=_location(entity.id),
    )


@router.get(
    "/{proposal_id}",
    name="planning-proposals-get",
    response_model=ProposalRead,
    summary="One planning proposal, with its funding totals",
    description=WHO_READS + " Answers an ETag; If-None-Match gives 304.",
    responses=problem_responses(401, 404),
)
async def get_proposal(
    request: Request, session: SessionDep, principal: PrincipalDep, proposal_id: uuid.UUID
) -> Response:
    entity = await proposals.get(session, principal, proposal_id)
    return model_response(request, await service.present(session, entity), version=entity.version)


@router.patch(
    "/{proposal_id}",
    name="planning-proposals-update",
    response_model=ProposalRead,
    summary="Change a proposal (merge patch)",
    description=WHO_WRITES
    + " Closed proposals (realised, accommodated, not_accommodated, deferred, rejected) "
    "no longer change (409); planning_year changes only while draft (409). The status "
    "changes only by transitions. If-Match → 412 when stale.",
    responses=problem_responses(401, 403, 404, 409, 412, 422),
)
async def update_proposal(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    proposal_id: uuid.UUID,
    body: ProposalUpdate,
) -> Response:
    entity = await service.writable(session, principal, proposal_id, request)
    await service.update_proposal(session, principal, entity, body)
    return model_response(request, await service.present(session, entity), version=entity.version)


@router.delete(
    "/{proposal_id}",
    name="planning-proposals-delete",
    status_code=204,
    summary="Delete a proposal (soft; admins may restore it)",
    description=WHO_WRITES + " If-Match → 412 when stale.",
    responses=problem_responses(401, 403, 404, 412),
)
async def delete_proposal(
    request: Request, session: SessionDep, principal: PrincipalDep, proposal_id: uuid.UUID
) -> Response:
    await service.writable(session, principal, proposal_id, None)
    await proposals.soft_delete(session, principal, proposal_id, request)
    return Response(status_code=204)


@router.post(
    "/{proposal_id}/restore",
    name="planning-proposals-restore",
    response_model=ProposalRead,
    summary="Restore a deleted proposal (admins)",
    description="Admins only (403). 409 when one of its findings has meanwhile got another "
    "proposal for the same year, or the proposal it continues was carried over again.",
    responses=problem_responses(401, 403, 404, 409),
)
async def restore_proposal(
    request: Request, session: SessionDep, principal: PrincipalDep, proposal_id: uuid.UUID
) -> Response:
    entity = await proposals.restore(session, principal, proposal_id)
    return model_response(request, await service.present(session, entity), version=entity.version)


@router.post(
    "/{proposal_id}/transitions",
    name="planning-proposals-transition",
    response_model=ProposalRead,
    summary="Move the status: draft → agreed → in_rkp_desa → in_apbdes → realised; agreed → "
    "forwarded → accommodated | not_accommodated; deferred; rejected",
    description=WHO_WRITES
    + " An illegal move is a 409 whose `allowed` lists the moves from the current status. "
    "`deferred` from agreed or in_rkp_desa; `rejected` (note required, 422) from every open "
    "status. `in_apbdes` needs a funding line and `realised` a realised amount (409). "
    "`date` is the forum's date: not in the future, not before the previous decision "
    "(422). The planning record (who, date, forum, document_ref, note) is kept.",
    responses=problem_responses(401, 403, 404, 409, 412, 422),
)
async def transition_proposal(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    proposal_id: uuid.UUID,
    body: ProposalTransitionRequest,
) -> Response:
    entity = await service.writable(session, principal, proposal_id, request)
    await service.transition(session, principal, entity, body)
    return model_response(request, await service.present(session, entity), version=entity.version)


@router.get(
    "/{proposal_id}/transitions",
    name="planning-proposals-transitions-list",
    response_model=Page[ProposalTransitionRead],
    summary="The proposal's planning record: every status change, oldest first (sort: created_at)",
    description=WHO_READS,
    responses=problem_responses(401, 404, 422),
)
async def list_transitions(
    request: Request,
    response: Response,
    session: SessionDep,
    principal: PrincipalDep,
    proposal_id: uuid.UUID,
    params: Annotated[ListParams, Depends(list_params_for(TRANSITION_KEYSET))],
) -> Page[ProposalTransitionRead]:
    await proposals.get(session, principal, proposal_id)
    rows, next_cursor = await repository.transitions_page(session, proposal_id, params)
    set_link_header(request, response, next_cursor)
    return Page(
        items=[service.transition_view(principal, r) for r in rows], next_cursor=next_cursor
    )


@router.post(
    "/{proposal_id}/carry-over",
    name="planning-proposals-carry-over",
    response_model=ProposalRead,
    summary="Carry a deferred proposal into next year's plan (a linked draft, once)",
    description=WHO_WRITES
    + " Only a deferred proposal (409); a second carry-over is a 409 naming the draft. "
    "Answers the new draft (planning_year + 1, carried_over_from_id set, the same findings "
    "and programs, no funding) with its Location.",
    responses=problem_responses(401, 403, 404, 409, 412),
)
async def carry_over(
    request: Request, session: SessionDep, principal: PrincipalDep, proposal_id: uuid.UUID
) -> Response:
    entity = await service.writable(session, principal, proposal_id, request)
    draft = await service.carry_over(session, principal, entity)
    return model_response(
        request,
        await service.present(session, draft),
        version=draft.version,
        headers=_location(draft.id),
    )


# --- funding -------------------------------------------------------------------------------


def _read_funding(line: ProposalFunding) -> FundingRead:
    return FundingRead.model_validate(line)


@router.get(
    "/{proposal_id}/funding",
    name="proposal-funding-list",
    response_model=Page[FundingRead],
    summary="A proposal's funding lines (sort: created_at, updated_at, fiscal_year)",
    description=WHO_READS,
    responses=problem_responses(401, 404, 422),
)
async def list_funding(
    request: Request,
    response: Response,
    session: SessionDep,
    principal: PrincipalDep,
    proposal_id: uuid.UUID,
    params: Annotated[ListParams, Depends(list_params_for(funding.keyset))],
) -> Page[FundingRead]:
    await proposals.get(session, principal, proposal_id)
    rows, next_cursor = await funding.of_proposal(session, principal, params, proposal_id)
    set_link_header(request, response, next_cursor)
    return Page(items=[_read_funding(r) for r in rows], next_cursor=next_cursor)


@router.post(
    "/{proposal_id}/funding",
    name="proposal-funding-create",
    status_code=201,
    response_model=FundingRead,
    summary="Record a funding line (fiscal year, source, planned and realised rupiah)",
    description=WHO_WRITES
    + " One live line per fiscal year and source (409); none on a rejected or "
    "not_accommodated proposal (409); fiscal_year from the planning year to six years "
    "after (422); realised_amount at most planned_amount (422). The proposal's totals "
    "follow.",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def create_funding(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    proposal_id: uuid.UUID,
    body: FundingCreate,
) -> Response:
    proposal = await service.writable(session, principal, proposal_id, None)
    line = await service.add_funding(session, principal, proposal, body)
    return model_response(
        request,
        _read_funding(line),
        version=line.version,
        status_code=201,
        headers={"Location": f"{PROPOSAL_BASE}/{proposal_id}/funding/{line.id}"},
    )


@router.get(
    "/{proposal_id}/funding/{funding_id}",
    name="proposal-funding-get",
    response_model=FundingRead,
    summary="One funding line",
    description=WHO_READS,
    responses=problem_responses(401, 404),
)
async def get_funding(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    proposal_id: uuid.UUID,
    funding_id: uuid.UUID,
) -> Response:
    line = await funding.get_in(session, principal, proposal_id, funding_id)
    return model_response(request, _read_funding(line), version=line.version)


@router.patch(
    "/{proposal_id}/funding/{funding_id}",
    name="proposal-funding-update",
    response_model=FundingRead,
    summary="Change a funding line (e.g. record what was realised)",
    description=WHO_WRITES
    + " realised_amount at most planned_amount (422). If-Match → 412 when stale.",
    responses=problem_responses(401, 403, 404, 409, 412, 422),
)
async def update_funding(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    proposal_id: uuid.UUID,
    funding_id: uuid.UUID,
    body: FundingUpdate,
) -> Response:
    proposal = await service.writable(session, principal, proposal_id, None)
    line = await funding.get_in(session, principal, proposal_id, funding_id, for_update=True)
    check_if_match(request, line.version)
    await service.update_funding(session, principal, proposal, line, body)
    return model_response(request, _read_funding(line), version=line.version)


@router.delete(
    "/{proposal_id}/funding/{funding_id}",
    name="proposal-funding-delete",
    status_code=204,
    summary="Delete a funding line (soft)",
    description=WHO_WRITES + " If-Match → 412 when stale.",
    responses=problem_responses(401, 403, 404, 412),
)
async def delete_funding(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    proposal_id: uuid.UUID,
    funding_id: uuid.UUID,
) -> Response:
    proposal = await service.writable(session, principal, proposal_id, None)
    await service.delete_funding(session, principal, proposal, funding_id, request)
    return Response(status_code=204)


@router.post(
    "/{proposal_id}/funding/{funding_id}/restore",
    name="proposal-funding-restore",
    response_model=FundingRead,
    summary="Restore a deleted funding line (admins)",
    description="Admins only (403); 409 when another live line has its year and source.",
    responses=problem_responses(401, 403, 404, 409),
)
async def restore_funding(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    proposal_id: uuid.UUID,
    funding_id: uuid.UUID,
) -> Response:
    proposal = await service.writable(session, principal, proposal_id, None)
    line = await service.restore_funding(session, principal, proposal, funding_id)
    return model_response(request, _read_funding(line), version=line.version)


# --- drafting from a ranking ----------------------------------------------------------------


@drafting_router.post(
    "/{assessment_id}/proposals",
    name="needs-assessments-draft-proposals",
    response_model=DraftResult,
    summary="Draft one planning proposal per top-ranked need of a validated assessment",
    description=WHO_WRITES
    + " Takes the modified-Borda ranking (GET …/priorities): the first `top` problems and "
    "needs with points become drafts for `planning_year` (title from the finding, bidang "
    "from its category, estimated cost 0 to fill in). Idempotent per finding and year: a "
    "finding that already has a proposal for the year keeps it, and a repeat creates "
    "nothing (`created` 0). The assessment must be validated (409).",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def draft_proposals(
    session: SessionDep, principal: PrincipalDep, assessment_id: uuid.UUID, body: DraftRequest
) -> DraftResult:
    assessment = await assessments.get(session, principal, assessment_id, for_update=True)
    rows, created = await service.draft_from_ranking(session, principal, assessment, body)
    return DraftResult(
        assessment_id=assessment_id,
        planning_year=body.planning_year,
        created=created,
        items=await service.present_all(session, rows),
    )
