"""Endpoints of needs assessments, findings, ballots and priorities."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from app.assessments import repository, service
from app.assessments.models import (
    AssessmentStatus,
    Ballot,
    Finding,
    FindingCategory,
    FindingKind,
    Method,
    NeedsAssessment,
)
from app.assessments.repository import RESOURCE, assessments, findings
from app.assessments.schemas import (
    AssessmentCreate,
    AssessmentRead,
    AssessmentTransition,
    AssessmentUpdate,
    BallotCreate,
    BallotRead,
    FindingCreate,
    FindingRead,
    FindingUpdate,
    Priorities,
    PriorityRead,
)
from app.auth.deps import PrincipalDep, SessionDep
from app.auth.policy import WRITE, authorize
from app.core.conditional import (
    PUT_DESCRIPTION,
    Condition,
    IfMatchHeader,
    IfNoneMatchHeader,
    put_response,
    put_responses,
)
from app.core.errors import Unprocessable, problem_responses
from app.core.http import check_if_match, model_response
from app.core.i18n import M
from app.core.pagination import ListParams, Page, list_params_for, set_link_header
from app.core.pii import PersonalDep
from app.core.principal import Principal
from app.core.schemas import IsoDate

router = APIRouter(prefix="/needs-assessments", tags=["needs-assessments"])


def _read(entity: NeedsAssessment) -> AssessmentRead:
    return AssessmentRead.model_validate(entity)


@router.get(
    "",
    name="needs-assessments-list",
    response_model=Page[AssessmentRead],
    summary="List needs assessments (sort: created_at, updated_at, title)",
    responses=problem_responses(401, 422),
)
async def list_assessments(
    request: Request,
    response: Response,
    session: SessionDep,
    principal: PrincipalDep,
    params: Annotated[ListParams, Depends(list_params_for(assessments.keyset))],
    community_id: uuid.UUID | None = None,
    status: AssessmentStatus | None = None,
    method: Method | None = None,
    facilitator_id: uuid.UUID | None = None,
    started_from: Annotated[IsoDate | None, Query(description="started_on on or after")] = None,
    started_to: Annotated[IsoDate | None, Query(description="started_on on or before")] = None,
) -> Page[AssessmentRead]:
    rows, next_cursor = await assessments.search(
        session,
        principal,
        params,
        community_id=community_id,
        status=status,
        method=method,
        facilitator_id=facilitator_id,
        started_from=started_from,
        started_to=started_to,
    )
    set_link_header(request, response, next_cursor)
    return Page(items=[_read(r) for r in rows], next_cursor=next_cursor)


@router.post(
    "",
    name="needs-assessments-create",
    status_code=201,
    response_model=AssessmentRead,
    responses=problem_responses(401, 403, 422),
)
async def create_assessment(
    request: Request, session: SessionDep, principal: PrincipalDep, body: AssessmentCreate
) -> Response:
    authorize(principal, RESOURCE, WRITE)
    entity = await service.create_assessment(session, principal, body)
    return model_response(
        request,
        _read(entity),
        version=entity.version,
        status_code=201,
        headers={"Location": f"/api/v1/needs-assessments/{entity.id}"},
    )


@router.get(
    "/{assessment_id}",
    name="needs-assessments-get",
    response_model=AssessmentRead,
    responses=problem_responses(401, 404),
)
async def get_assessment(
    request: Request, session: SessionDep, principal: PrincipalDep, assessment_id: uuid.UUID
) -> Response:
    entity = await assessments.get(session, principal, assessment_id)
    return model_response(request, _read(entity), version=entity.version)


@router.patch(
    "/{assessment_id}",
    name="needs-assessments-update",
    response_model=AssessmentRead,
    responses=problem_responses(401, 403, 404, 409, 412, 422),
)
async def update_assessment(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    assessment_id: uuid.UUID,
    body: AssessmentUpdate,
) -> Response:
    entity = await service.writable(session, principal, assessment_id, request)
    await service.update_assessment(session, principal, entity, body)
    return model_response(request, _read(entity), version=entity.version)


@router.delete(
    "/{assessment_id}",
    name="needs-assessments-delete",
    status_code=204,
    responses=problem_responses(401, 403, 404, 412),
)
async def delete_assessment(
    request: Request, session: SessionDep, principal: PrincipalDep, assessment_id: uuid.UUID
) -> Response:
    await service.writable(session, principal, assessment_id, None)
    await assessments.soft_delete(session, principal, assessment_id, request)
    return Response(status_code=204)


@router.post(
    "/{assessment_id}/restore",
    name="needs-assessments-restore",
    response_model=AssessmentRead,
    responses=problem_responses(401, 403, 404),
)
async def restore_assessment(
    request: Request, session: SessionDep, principal: PrincipalDep, assessment_id: uuid.UUID
) -> Response:
    entity = await assessments.restore(session, principal, assessment_id)
    return model_response(request, _read(entity), version=entity.version)


@router.post(
    "/{assessment_id}/transitions",
    name="needs-assessments-transition",
    response_model=AssessmentRead,
    summary="Move the status: planned → in_progress → completed → validated, or cancelled",
    responses=problem_responses(401, 403, 404, 409, 412, 422),
)
async def transition_assessment(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    assessment_id: uuid.UUID,
    body: AssessmentTransition,
) -> Response:
    entity = await service.writable(session, principal, assessment_id, request)
    await service.transition(session, principal, entity, body)
    return model_response(request, _read(entity), version=entity.version)


# --- findings -------------------------------------------------------------------------------


def _read_finding(entity: Finding) -> FindingRead:
    return FindingRead.model_validate(entity)


@router.get(
    "/{assessment_id}/findings",
    name="findings-list",
    response_model=Page[FindingRead],
    summary="List an assessment's findings (sort: created_at, updated_at, title)",
    responses=problem_responses(401, 404, 422),
)
async def list_findings(
    request: Request,
    response: Response,
    session: SessionDep,
    principal: PrincipalDep,
    assessment_id: uuid.UUID,
    params: Annotated[ListParams, Depends(list_params_for(findings.keyset))],
    kind: FindingKind | None = None,
    category: FindingCategory | None = None,
) -> Page[FindingRead]:
    await assessments.get(session, principal, assessment_id)
    rows, next_cursor = await findings.search(
        session, principal, params, assessment_id=assessment_id, kind=kind, category=category
    )
    set_link_header(request, response, next_cursor)
    return Page(items=[_read_finding(r) for r in rows], next_cursor=next_cursor)


@router.post(
    "/{assessment_id}/findings",
    name="findings-create",
    status_code=201,
    response_model=FindingRead,
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def create_finding(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    assessment_id: uuid.UUID,
    body: FindingCreate,
) -> Response:
    assessment = await service.writable(session, principal, assessment_id, None)
    entity = await service.create_finding(session, principal, assessment, body)
    return model_response(
        request,
        _read_finding(entity),
        version=entity.version,
        status_code=201,
        headers={"Location": f"/api/v1/needs-assessments/{assessment_id}/findings/{entity.id}"},
    )


@router.get(
    "/{assessment_id}/findings/{finding_id}",
    name="findings-get",
    response_model=FindingRead,
    responses=problem_responses(401, 404),
)
async def get_finding(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    assessment_id: uuid.UUID,
    finding_id: uuid.UUID,
) -> Response:
    entity = await findings.get_in(session, principal, assessment_id, finding_id)
    return model_response(request, _read_finding(entity), version=entity.version)


@router.patch(
    "/{assessment_id}/findings/{finding_id}",
    name="findings-update",
    response_model=FindingRead,
    responses=problem_responses(401, 403, 404, 409, 412, 422),
)
async def update_finding(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    assessment_id: uuid.UUID,
    finding_id: uuid.UUID,
    body: FindingUpdate,
) -> Response:
    assessment = await service.writable(session, principal, assessment_id, None)
    entity = await findings.get_in(session, principal, assessment_id, finding_id, for_update=True)
    check_if_match(request, entity.version)
    await service.update_finding(session, principal, assessment, entity, body)
    return model_response(request, _read_finding(entity), version=entity.version)


@router.put(
    "/{assessment_id}/findings/{finding_id}",
    name="findings-put",
    response_model=FindingRead,
    summary="Create or replace a finding with a client-made id (offline-first clients)",
    description=PUT_DESCRIPTION,
    responses=put_responses(FindingRead, 401, 403, 404, 409, 422),
)
async def put_finding(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    assessment_id: uuid.UUID,
    finding_id: uuid.UUID,
    body: FindingCreate,
    if_match: IfMatchHeader = None,
    if_none_match: IfNoneMatchHeader = None,
) -> Response:
    outcome, entity = await service.put_finding(
        session, principal, assessment_id, finding_id, body, Condition.from_request(request)
    )
    return put_response(
        request,
        outcome,
        _read_finding(entity),
        version=entity.version,
        location=f"/api/v1/needs-assessments/{assessment_id}/findings/{entity.id}",
    )


@router.delete(
    "/{assessment_id}/findings/{finding_id}",
    name="findings-delete",
    status_code=204,
    responses=problem_responses(401, 403, 404, 409, 412),
)
async def delete_finding(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    assessment_id: uuid.UUID,
    finding_id: uuid.UUID,
) -> Response:
    assessment = await service.writable(session, principal, assessment_id, None)
    await service.delete_finding(session, principal, assessment, finding_id, request)
    return Response(status_code=204)


# --- ballots and priorities -----------------------------------------------------------------


def _read_ballot(ballot: Ballot, principal: Principal, personal: PersonalDep) -> BallotRead:
    return service.present_ballot(ballot, principal, personal)


@router.get(
    "/{assessment_id}/ballots",
    name="ballots-list",
    response_model=Page[BallotRead],
    summary="List the ballots cast (sort: created_at)",
    responses=problem_responses(401, 404, 422),
)
async def list_ballots(
    request: Request,
    response: Response,
    session: SessionDep,
    principal: PrincipalDep,
    personal: PersonalDep,
    assessment_id: uuid.UUID,
    params: Annotated[ListParams, Depends(list_params_for(repository.BALLOT_KEYSET))],
) -> Page[BallotRead]:
    await assessments.get(session, principal, assessment_id)
    rows, next_cursor = await repository.ballots_page(session, assessment_id, params)
    set_link_header(request, response, next_cursor)
    return Page(items=[_read_ballot(b, principal, personal) for b in rows], next_cursor=next_cursor)


@router.post(
    "/{assessment_id}/ballots",
    name="ballots-create",
    status_code=201,
    response_model=BallotRead,
    summary="Cast one person's ranking of the problems and needs",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def cast_ballot(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    personal: PersonalDep,
    assessment_id: uuid.UUID,
    body: BallotCreate,
) -> Response:
    assessment = await service.writable(session, principal, assessment_id, None)
    authorize(principal, "ballots", WRITE)
    ballot = await service.cast_ballot(session, principal, assessment, body)
    return model_response(
        request,
        _read_ballot(ballot, principal, personal),
        version=ballot.version,
        status_code=201,
    )


@router.put(
    "/{assessment_id}/ballots/{person_id}",
    name="ballots-put",
    response_model=BallotRead,
    summary="Cast or replace a person's ballot (offline-first clients)",
    description=PUT_DESCRIPTION
    + " A ballot is addressed by its voter: `person_id` in the body must be the path's"
    " (422 otherwise). Replacing is a new ranking under the same rules, until the"
    " assessment is validated.",
    responses=put_responses(BallotRead, 401, 403, 404, 409, 422),
)
async def put_ballot(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    personal: PersonalDep,
    assessment_id: uuid.UUID,
    person_id: uuid.UUID,
    body: BallotCreate,
    if_match: IfMatchHeader = None,
    if_none_match: IfNoneMatchHeader = None,
) -> Response:
    if body.person_id != person_id:
        raise Unprocessable(M.ballot_person_not_path, loc=["body", "person_id"])
    outcome, ballot = await service.put_ballot(
        session, principal, personal, assessment_id, body, Condition.from_request(request)
    )
    return put_response(
        request,
        outcome,
        _read_ballot(ballot, principal, personal),
        version=ballot.version,
        location=f"/api/v1/needs-assessments/{assessment_id}/ballots/{person_id}",
    )


@router.delete(
    "/{assessment_id}/ballots/{person_id}",
    name="ballots-withdraw",
    status_code=204,
    summary="Withdraw a person's ballot (until the assessment is validated)",
    responses=problem_responses(401, 403, 404, 409),
)
async def withdraw_ballot(
    session: SessionDep, principal: PrincipalDep, assessment_id: uuid.UUID, person_id: uuid.UUID
) -> Response:
    assessment = await service.writable(session, principal, assessment_id, None)
    authorize(principal, "ballots", WRITE)
    await service.withdraw_ballot(session, principal, assessment, person_id)
    return Response(status_code=204)


@router.get(
    "/{assessment_id}/priorities",
    name="needs-assessments-priorities",
    response_model=Priorities,
    summary="Problems and needs ranked by the modified Borda count of the ballots",
    responses=problem_responses(401, 404),
)
async def priorities(
    session: SessionDep, principal: PrincipalDep, assessment_id: uuid.UUID
) -> Priorities:
    await assessments.get(session, principal, assessment_id)
    tallies, ballots = await service.tally_assessment(session, assessment_id)
    return Priorities(
        assessment_id=assessment_id,
        ballots=ballots,
        items=[
            PriorityRead(
                rank=rank,
                finding_id=t.finding.id,
                title=t.finding.title,
                kind=t.finding.kind,
                category=t.finding.category,
                severity=t.finding.severity,
                points=t.points,
                votes=t.votes,
                first_place_votes=t.first_place_votes,
            )
            for rank, t in enumerate(tallies, start=1)
        ],
    )
