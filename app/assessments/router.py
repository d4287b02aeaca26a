"""Endpoints of needs assessments, findings, ballots and priorities."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.assessments import service
from app.assessments.models import (
    ASSESSMENT_MACHINE,
    RANKABLE_KINDS,
    AssessmentStatus,
    Ballot,
    Finding,
    FindingCategory,
    FindingKind,
    Method,
    NeedsAssessment,
)
from app.assessments.schemas import (
    AssessmentCreate,
    AssessmentRead,
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
from app.auth.models import Role, User
from app.auth.policy import WRITE, authorize, can_write_in_community, person_scope
from app.auth.repository import ScopedRepository, touch
from app.communities.repository import communities
from app.core import audit
from app.core.errors import Conflict, Forbidden, NotFound, Unprocessable, problem_responses
from app.core.http import check_if_match, model_response
from app.core.pagination import (
    Keyset,
    ListParams,
    Page,
    list_params,
    paginate,
    set_link_header,
)
from app.core.pii import PersonalDep
from app.core.principal import Principal
from app.core.transitions import TransitionRequest, check_move, record_transition
from app.people.models import Person
from app.people.service import has_active_consent

router = APIRouter(prefix="/needs-assessments", tags=["needs-assessments"])

RESOURCE = "needs_assessments"
BALLOT_KEYSET = Keyset(columns={"created_at": Ballot.created_at}, id_column=Ballot.id)  # type: ignore[arg-type]
CLOSED_FOR_BALLOTS = {AssessmentStatus.validated.value, AssessmentStatus.cancelled.value}


class AssessmentRepository(ScopedRepository[NeedsAssessment]):
    model = NeedsAssessment
    resource = RESOURCE
    label = "needs assessment"
    keyset = Keyset(
        columns={
            "created_at": NeedsAssessment.created_at,
            "updated_at": NeedsAssessment.updated_at,
            "title": NeedsAssessment.title,
        },
        id_column=NeedsAssessment.id,  # type: ignore[arg-type]
    )

    def scope(self, principal: Principal) -> ColumnElement[bool]:
        # Partners see no assessment: they hold people's own words and rankings.
        return person_scope(principal, NeedsAssessment.community_id)


class FindingRepository(ScopedRepository[Finding]):
    model = Finding
    resource = "findings"
    label = "finding"
    keyset = Keyset(
        columns={
            "created_at": Finding.created_at,
            "updated_at": Finding.updated_at,
            "title": Finding.title,
        },
        id_column=Finding.id,  # type: ignore[arg-type]
    )

    def base_query(self, principal: Principal, *, include_deleted: bool = False) -> Select[Any]:
        visible = select(NeedsAssessment.id).where(
            person_scope(principal, NeedsAssessment.community_id),
            NeedsAssessment.deleted_at.is_(None),
        )
        stmt = select(Finding).where(col(Finding.assessment_id).in_(visible))
        if not include_deleted:
            stmt = stmt.where(Finding.deleted_at.is_(None))
        return stmt


assessments = AssessmentRepository()
findings = FindingRepository()


def _read(entity: NeedsAssessment) -> AssessmentRead:
    return AssessmentRead.model_validate(entity)


async def _check_facilitator(session: AsyncSession, user_id: uuid.UUID | None) -> None:
    if user_id is None:
        return
    role = await session.scalar(
        select(User.role).where(User.id == user_id, User.deleted_at.is_(None))
    )
    if role != Role.facilitator.value:
        raise Unprocessable(
            "facilitator_id must name a facilitator", loc=["body", "facilitator_id"]
        )


def _check_dates(started: date | None, completed: date | None) -> None:
    if started and completed and completed < started:
        raise Unprocessable("completed_on is before started_on", loc=["body", "completed_on"])


async def _writable(
    session: AsyncSession,
    principal: Principal,
    assessment_id: uuid.UUID,
    request: Request | None,
) -> NeedsAssessment:
    """Lock the assessment for a change to it or to what hangs under it."""
    entity = await assessments.get(session, principal, assessment_id, for_update=True)
    authorize(principal, RESOURCE, WRITE)
    if not can_write_in_community(principal, entity.community_id):
        raise Forbidden("you may not change assessments of this community")
    if request is not None:
        check_if_match(request, entity.version)
    return entity


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
    params: Annotated[ListParams, Depends(list_params)],
    community_id: uuid.UUID | None = None,
    status: AssessmentStatus | None = None,
    method: Method | None = None,
    facilitator_id: uuid.UUID | None = None,
    started_from: Annotated[date | None, Query(description="started_on on or after")] = None,
    started_to: Annotated[date | None, Query(description="started_on on or before")] = None,
) -> Page[AssessmentRead]:
    conditions: list[ColumnElement[bool]] = []
    if community_id is not None:
        conditions.append(NeedsAssessment.community_id == community_id)
    if status is not None:
        conditions.append(NeedsAssessment.status == status.value)
    if method is not None:
        conditions.append(col(NeedsAssessment.methods).contains([method.value]))
    if facilitator_id is not None:
        conditions.append(NeedsAssessment.facilitator_id == facilitator_id)
    if started_from is not None:
        conditions.append(col(NeedsAssessment.started_on) >= started_from)
    if started_to is not None:
        conditions.append(col(NeedsAssessment.started_on) <= started_to)
    rows, next_cursor = await assessments.page(
        session,
        principal,
        params,
        conditions=conditions,
        filters={
            "community_id": community_id,
            "status": status,
            "method": method,
            "facilitator_id": facilitator_id,
            "started_from": started_from,
            "started_to": started_to,
        },
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
    try:
        await communities.get(session, principal, body.community_id)
    except NotFound:
        raise Unprocessable("community not found", loc=["body", "community_id"]) from None
    if not can_write_in_community(principal, body.community_id):
        raise Unprocessable(
            "you may not plan assessments in this community", loc=["body", "community_id"]
        )
    await _check_facilitator(session, body.facilitator_id)
    _check_dates(body.started_on, body.completed_on)
    values = body.model_dump(exclude_unset=True)
    values["methods"] = [m.value for m in body.methods]
    entity = await assessments.add(session, principal, NeedsAssessment(**values))
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
    entity = await _writable(session, principal, assessment_id, request)
    if entity.status in CLOSED_FOR_BALLOTS:
        raise Conflict(f"a {entity.status} assessment can no longer change")
    changes = body.changes()
    if "methods" in changes:
        changes["methods"] = [Method(m).value for m in changes["methods"]]
    if "facilitator_id" in changes:
        await _check_facilitator(session, changes["facilitator_id"])
    _check_dates(
        changes.get("started_on", entity.started_on),
        changes.get("completed_on", entity.completed_on),
    )
    await assessments.apply_changes(session, principal, entity, changes)
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
    await _writable(session, principal, assessment_id, None)
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
    body: TransitionRequest,
) -> Response:
    entity = await _writable(session, principal, assessment_id, request)
    try:
        target = AssessmentStatus(body.to).value
    except ValueError:
        raise Unprocessable(
            f"unknown status; one of: {', '.join(s.value for s in AssessmentStatus)}",
            loc=["body", "to"],
        ) from None
    check_move(ASSESSMENT_MACHINE, entity.status, target)
    today = datetime.now(UTC).date()
    # Dates the transitions fill in never contradict dates already given.
    if target == AssessmentStatus.in_progress and entity.started_on is None:
        entity.started_on = min(today, entity.completed_on or today)
    if target == AssessmentStatus.completed and entity.completed_on is None:
        entity.completed_on = max(today, entity.started_on or today)
    if target == AssessmentStatus.validated:
        finding_count = await session.scalar(
            select(func.count()).where(
                Finding.assessment_id == entity.id, Finding.deleted_at.is_(None)
            )
        )
        ballot_count = await session.scalar(
            select(func.count()).where(
                Ballot.assessment_id == entity.id, Ballot.deleted_at.is_(None)
            )
        )
        if not finding_count or not ballot_count:
            raise Conflict("validation needs at least one finding and one ballot")
    await record_transition(session, principal, RESOURCE, entity, target, body.note)
    return model_response(request, _read(entity), version=entity.version)


# --- findings -------------------------------------------------------------------------------


def _read_finding(entity: Finding) -> FindingRead:
    return FindingRead.model_validate(entity)


async def _finding_in(
    session: AsyncSession,
    principal: Principal,
    assessment_id: uuid.UUID,
    finding_id: uuid.UUID,
    *,
    for_update: bool = False,
) -> Finding:
    entity = await findings.get(session, principal, finding_id, for_update=for_update)
    if entity.assessment_id != assessment_id:
        raise NotFound("finding not found")
    return entity


def _check_severity(kind: str, severity: int | None) -> None:
    if severity is not None and kind not in RANKABLE_KINDS:
        raise Unprocessable("severity applies to problems and needs only", loc=["body", "severity"])


def _ensure_not_frozen(assessment: NeedsAssessment) -> None:
    if assessment.status == AssessmentStatus.validated:
        raise Conflict("the assessment is validated: its findings are frozen")


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
    params: Annotated[ListParams, Depends(list_params)],
    kind: FindingKind | None = None,
    category: FindingCategory | None = None,
) -> Page[FindingRead]:
    await assessments.get(session, principal, assessment_id)
    conditions: list[ColumnElement[bool]] = [Finding.assessment_id == assessment_id]
    if kind is not None:
        conditions.append(Finding.kind == kind.value)
    if category is not None:
        conditions.append(Finding.category == category.value)
    rows, next_cursor = await findings.page(
        session,
        principal,
        params,
        conditions=conditions,
        filters={"assessment_id": assessment_id, "kind": kind, "category": category},
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
    assessment = await _writable(session, principal, assessment_id, None)
    _ensure_not_frozen(assessment)
    if assessment.status == AssessmentStatus.cancelled:
        raise Conflict("the assessment is cancelled")
    _check_severity(body.kind.value, body.severity)
    entity = await findings.add(
        session, principal, Finding(assessment_id=assessment_id, **body.model_dump())
    )
    await service.refresh_priority_ranks(session, assessment_id)
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
    entity = await _finding_in(session, principal, assessment_id, finding_id)
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
    assessment = await _writable(session, principal, assessment_id, None)
    entity = await _finding_in(session, principal, assessment_id, finding_id, for_update=True)
    check_if_match(request, entity.version)
    _ensure_not_frozen(assessment)
    changes = body.changes()
    kind = FindingKind(changes.get("kind", entity.kind)).value
    if "kind" in changes:
        changes["kind"] = kind
    if "category" in changes:
        changes["category"] = FindingCategory(changes["category"]).value
    _check_severity(kind, changes.get("severity", entity.severity))
    changed = await findings.apply_changes(session, principal, entity, changes)
    if {"kind", "severity", "title"} & set(changed):
        await service.refresh_priority_ranks(session, assessment_id)
    return model_response(request, _read_finding(entity), version=entity.version)


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
    assessment = await _writable(session, principal, assessment_id, None)
    await _finding_in(session, principal, assessment_id, finding_id)
    _ensure_not_frozen(assessment)
    await findings.soft_delete(session, principal, finding_id, request)
    await service.refresh_priority_ranks(session, assessment_id)
    return Response(status_code=204)


# --- ballots and priorities -----------------------------------------------------------------


def _read_ballot(ballot: Ballot, principal: Principal, personal: PersonalDep) -> BallotRead:
    return BallotRead(
        id=ballot.id,
        assessment_id=ballot.assessment_id,
        person_id=None if principal.role is Role.analyst else ballot.person_id,
        person_key=personal.hasher.person_key(ballot.person_id),
        ranking=ballot.ranking,
        created_at=ballot.created_at,
    )


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
    params: Annotated[ListParams, Depends(list_params)],
) -> Page[BallotRead]:
    await assessments.get(session, principal, assessment_id)
    stmt = select(Ballot).where(Ballot.assessment_id == assessment_id, Ballot.deleted_at.is_(None))
    rows, next_cursor = await paginate(
        session,
        stmt,
        keyset=BALLOT_KEYSET,
        params=params,
        filters={"assessment_id": assessment_id},
        updated_column=Ballot.updated_at,
    )
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
    assessment = await _writable(session, principal, assessment_id, None)
    authorize(principal, "ballots", WRITE)
    if assessment.status in CLOSED_FOR_BALLOTS:
        raise Conflict(f"ballots are closed: the assessment is {assessment.status}")
    person = (
        await session.execute(
            select(Person).where(
                Person.id == body.person_id,
                Person.deleted_at.is_(None),
                person_scope(principal, Person.community_id),
            )
        )
    ).scalar_one_or_none()
    if person is None or person.community_id != assessment.community_id:
        raise Unprocessable(
            "the person must belong to the assessment's community", loc=["body", "person_id"]
        )
    if not has_active_consent(person, "needs_assessment"):
        raise Conflict("the person has no active consent for needs_assessment")
    if len(set(body.ranking)) != len(body.ranking):
        raise Unprocessable(
            "a finding may appear at most once in a ranking", loc=["body", "ranking"]
        )
    rankable = set(
        (
            await session.execute(
                select(Finding.id).where(
                    Finding.assessment_id == assessment_id,
                    Finding.deleted_at.is_(None),
                    col(Finding.kind).in_(RANKABLE_KINDS),
                )
            )
        ).scalars()
    )
    strangers = [i for i, f in enumerate(body.ranking) if f not in rankable]
    if strangers:
        raise Unprocessable(
            "the ranking may only hold this assessment's problem and need findings",
            loc=["body", "ranking", strangers[0]],
        )
    ballot = Ballot(assessment_id=assessment_id, person_id=person.id, ranking=body.ranking)
    session.add(ballot)
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError:
        raise Conflict("this person has already cast a ballot in this assessment") from None
    await audit.record(session, principal, "create", "ballots", ballot.id, ["person_id", "ranking"])
    await service.refresh_priority_ranks(session, assessment_id)
    return model_response(
        request,
        _read_ballot(ballot, principal, personal),
        version=ballot.version,
        status_code=201,
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
    assessment = await _writable(session, principal, assessment_id, None)
    authorize(principal, "ballots", WRITE)
    if assessment.status in CLOSED_FOR_BALLOTS:
        raise Conflict(f"ballots are closed: the assessment is {assessment.status}")
    ballot = (
        await session.execute(
            select(Ballot).where(
                Ballot.assessment_id == assessment_id,
                Ballot.person_id == person_id,
                Ballot.deleted_at.is_(None),
            )
        )
    ).scalar_one_or_none()
    if ballot is None:
        raise NotFound("ballot not found")
    ballot.deleted_at = datetime.now(UTC)
    touch(ballot)
    await session.flush()
    await audit.record(session, principal, "delete", "ballots", ballot.id)
    await service.refresh_priority_ranks(session, assessment_id)
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
                kind=t.finding.kind,  # type: ignore[arg-type]
                category=t.finding.category,  # type: ignore[arg-type]
                severity=t.finding.severity,
                points=t.points,
                votes=t.votes,
                first_place_votes=t.first_place_votes,
            )
            for rank, t in enumerate(tallies, start=1)
        ],
    )
