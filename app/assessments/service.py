"""Rules of needs assessments, findings and ballots, and community prioritisation: the
modified Borda count, and keeping ``priority_rank`` current."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncSession

from app.assessments import repository
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
from app.assessments.repository import RESOURCE, assessments, findings
from app.assessments.schemas import (
    AssessmentCreate,
    AssessmentUpdate,
    BallotCreate,
    FindingCreate,
    FindingUpdate,
)
from app.auth.models import Role
from app.auth.policy import WRITE, authorize, can_write_in_community
from app.auth.repository import live_user_role, touch
from app.communities.repository import communities
from app.core import audit
from app.core.errors import Conflict, Forbidden, NotFound, Unprocessable
from app.core.http import check_if_match
from app.core.principal import Principal
from app.core.transitions import TransitionRequest, check_move, record_transition
from app.people.repository import people
from app.people.service import has_active_consent

CLOSED_FOR_BALLOTS = {AssessmentStatus.validated.value, AssessmentStatus.cancelled.value}


# --- assessments ----------------------------------------------------------------------------


async def writable(
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


async def check_facilitator(session: AsyncSession, user_id: uuid.UUID | None) -> None:
    if user_id is None:
        return
    if await live_user_role(session, user_id) != Role.facilitator.value:
        raise Unprocessable(
            "facilitator_id must name a facilitator", loc=["body", "facilitator_id"]
        )


def check_dates(started: date | None, completed: date | None) -> None:
    if started and completed and completed < started:
        raise Unprocessable("completed_on is before started_on", loc=["body", "completed_on"])


async def create_assessment(
    session: AsyncSession, principal: Principal, body: AssessmentCreate
) -> NeedsAssessment:
    try:
        await communities.get(session, principal, body.community_id)
    except NotFound:
        raise Unprocessable("community not found", loc=["body", "community_id"]) from None
    if not can_write_in_community(principal, body.community_id):
        raise Unprocessable(
            "you may not plan assessments in this community", loc=["body", "community_id"]
        )
    await check_facilitator(session, body.facilitator_id)
    check_dates(body.started_on, body.completed_on)
    values = body.model_dump(exclude_unset=True)
    values["methods"] = [m.value for m in body.methods]
    return await assessments.add(session, principal, NeedsAssessment(**values))


async def update_assessment(
    session: AsyncSession, principal: Principal, entity: NeedsAssessment, body: AssessmentUpdate
) -> None:
    if entity.status in CLOSED_FOR_BALLOTS:
        raise Conflict(f"a {entity.status} assessment can no longer change")
    changes = body.changes()
    if "methods" in changes:
        changes["methods"] = [Method(m).value for m in changes["methods"]]
    if "facilitator_id" in changes:
        await check_facilitator(session, changes["facilitator_id"])
    check_dates(
        changes.get("started_on", entity.started_on),
        changes.get("completed_on", entity.completed_on),
    )
    await assessments.apply_changes(session, principal, entity, changes)


async def transition(
    session: AsyncSession, principal: Principal, entity: NeedsAssessment, body: TransitionRequest
) -> None:
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
    if target == AssessmentStatus.validated and not await repository.has_findings_and_ballots(
        session, entity.id
    ):
        raise Conflict("validation needs at least one finding and one ballot")
    await record_transition(session, principal, RESOURCE, entity, target, body.note)


# --- findings -------------------------------------------------------------------------------


def check_severity(kind: str, severity: int | None) -> None:
    if severity is not None and kind not in RANKABLE_KINDS:
        raise Unprocessable("severity applies to problems and needs only", loc=["body", "severity"])


def ensure_not_frozen(assessment: NeedsAssessment) -> None:
    if assessment.status == AssessmentStatus.validated:
        raise Conflict("the assessment is validated: its findings are frozen")


async def create_finding(
    session: AsyncSession, principal: Principal, assessment: NeedsAssessment, body: FindingCreate
) -> Finding:
    ensure_not_frozen(assessment)
    if assessment.status == AssessmentStatus.cancelled:
        raise Conflict("the assessment is cancelled")
    check_severity(body.kind.value, body.severity)
    entity = await findings.add(
        session, principal, Finding(assessment_id=assessment.id, **body.model_dump())
    )
    await refresh_priority_ranks(session, assessment.id)
    return entity


async def update_finding(
    session: AsyncSession,
    principal: Principal,
    assessment: NeedsAssessment,
    entity: Finding,
    body: FindingUpdate,
) -> None:
    ensure_not_frozen(assessment)
    changes = body.changes()
    kind = FindingKind(changes.get("kind", entity.kind)).value
    if "kind" in changes:
        changes["kind"] = kind
    if "category" in changes:
        changes["category"] = FindingCategory(changes["category"]).value
    check_severity(kind, changes.get("severity", entity.severity))
    changed = await findings.apply_changes(session, principal, entity, changes)
    if {"kind", "severity", "title"} & set(changed):
        await refresh_priority_ranks(session, assessment.id)


async def delete_finding(
    session: AsyncSession,
    principal: Principal,
    assessment: NeedsAssessment,
    finding_id: uuid.UUID,
    request: Request,
) -> None:
    await findings.get_in(session, principal, assessment.id, finding_id)
    ensure_not_frozen(assessment)
    await findings.soft_delete(session, principal, finding_id, request)
    await refresh_priority_ranks(session, assessment.id)


# --- ballots --------------------------------------------------------------------------------


def ensure_ballots_open(assessment: NeedsAssessment) -> None:
    if assessment.status in CLOSED_FOR_BALLOTS:
        raise Conflict(f"ballots are closed: the assessment is {assessment.status}")


async def cast_ballot(
    session: AsyncSession, principal: Principal, assessment: NeedsAssessment, body: BallotCreate
) -> Ballot:
    """One person of the community, with consent, ranks the live problems and needs."""
    ensure_ballots_open(assessment)
    try:
        person = await people.get(session, principal, body.person_id)
    except NotFound:
        person = None
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
    rankable = await repository.rankable_finding_ids(session, assessment.id)
    strangers = [i for i, f in enumerate(body.ranking) if f not in rankable]
    if strangers:
        raise Unprocessable(
            "the ranking may only hold this assessment's problem and need findings",
            loc=["body", "ranking", strangers[0]],
        )
    ballot = Ballot(assessment_id=assessment.id, person_id=person.id, ranking=body.ranking)
    await repository.insert_ballot(session, ballot)
    await audit.record(session, principal, "create", "ballots", ballot.id, ["person_id", "ranking"])
    await refresh_priority_ranks(session, assessment.id)
    return ballot


async def withdraw_ballot(
    session: AsyncSession, principal: Principal, assessment: NeedsAssessment, person_id: uuid.UUID
) -> None:
    ensure_ballots_open(assessment)
    ballot = await repository.live_ballot(session, assessment.id, person_id)
    if ballot is None:
        raise NotFound("ballot not found")
    ballot.deleted_at = datetime.now(UTC)
    touch(ballot)
    await session.flush()
    await audit.record(session, principal, "delete", "ballots", ballot.id)
    await refresh_priority_ranks(session, assessment.id)


# --- priorities -----------------------------------------------------------------------------


@dataclass
class Tally:
    finding: Finding
    points: int = 0
    votes: int = 0
    first_place_votes: int = 0


def modified_borda(
    candidates: Sequence[Finding], rankings: Sequence[Sequence[uuid.UUID]]
) -> list[Tally]:
    """A ballot ranking k findings gives k points to its first, k-1 to the next, ... 1 to
    its last; unranked findings get 0. Ties: more first places, higher severity, title."""
    tallies = {f.id: Tally(f) for f in candidates if f.kind in RANKABLE_KINDS}
    for ranking in rankings:
        k = len(ranking)
        for position, finding_id in enumerate(ranking):
            tally = tallies.get(finding_id)
            if tally is None:  # a finding deleted after the ballot was cast
                continue
            tally.points += k - position
            tally.votes += 1
            if position == 0:
                tally.first_place_votes += 1
    return sorted(
        tallies.values(),
        key=lambda t: (
            -t.points,
            -t.first_place_votes,
            -(t.finding.severity or 0),
            t.finding.title,
            str(t.finding.id),
        ),
    )


async def tally_assessment(
    session: AsyncSession, assessment_id: uuid.UUID
) -> tuple[list[Tally], int]:
    live = await repository.live_findings(session, assessment_id)
    rankings = await repository.live_rankings(session, assessment_id)
    return modified_borda(live, rankings), len(rankings)


async def refresh_priority_ranks(session: AsyncSession, assessment_id: uuid.UUID) -> None:
    """Write the ranks after a ballot or a finding changed (the caller holds the
    assessment's row lock, so concurrent ballots are applied one after another)."""
    tallies, ballots = await tally_assessment(session, assessment_id)
    await repository.clear_priority_ranks(session, assessment_id)
    if ballots:
        for rank, tally in enumerate(tallies, start=1):
            tally.finding.priority_rank = rank
    await session.flush()
