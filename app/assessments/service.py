"""Rules of needs assessments, findings and ballots, and community prioritisation: the
modified Borda count, and keeping ``priority_rank`` current."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

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
    BallotRead,
    FindingCreate,
    FindingRead,
    FindingUpdate,
)
from app.auth.models import Role
from app.auth.policy import WRITE, authorize, can_write_in_community
from app.auth.repository import live_user_role, touch
from app.communities.repository import communities
from app.core import audit
from app.core.conditional import (
    Condition,
    PutOutcome,
    body_digest,
    conditional_put,
    replacement,
)
from app.core.errors import Conflict, Forbidden, NotFound, Unprocessable
from app.core.http import check_if_match
from app.core.i18n import M
from app.core.models import uuid7
from app.core.pii import PersonalData
from app.core.principal import Principal
from app.core.transitions import TransitionRequest, check_move, record_transition
from app.events import emit
from app.people.models import Person
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
        raise Forbidden(M.assessments_forbidden)
    if request is not None:
        check_if_match(request, entity.version)
    return entity


async def check_facilitator(session: AsyncSession, user_id: uuid.UUID | None) -> None:
    if user_id is None:
        return
    if await live_user_role(session, user_id) != Role.facilitator.value:
        raise Unprocessable(M.facilitator_required, loc=["body", "facilitator_id"])


def check_dates(started: date | None, completed: date | None) -> None:
    if started and completed and completed < started:
        raise Unprocessable(M.completed_before_started, loc=["body", "completed_on"])


async def create_assessment(
    session: AsyncSession, principal: Principal, body: AssessmentCreate
) -> NeedsAssessment:
    try:
        await communities.get(session, principal, body.community_id)
    except NotFound:
        raise Unprocessable(M.community_not_found, loc=["body", "community_id"]) from None
    if not can_write_in_community(principal, body.community_id):
        raise Unprocessable(M.plan_forbidden, loc=["body", "community_id"])
    await check_facilitator(session, body.facilitator_id)
    check_dates(body.started_on, body.completed_on)
    values = body.model_dump(exclude_unset=True)
    values["methods"] = [m.value for m in body.methods]
    return await assessments.add(session, principal, NeedsAssessment(**values))


async def update_assessment(
    session: AsyncSession, principal: Principal, entity: NeedsAssessment, body: AssessmentUpdate
) -> None:
    if entity.status in CLOSED_FOR_BALLOTS:
        raise Conflict(M.assessment_frozen(status=entity.status))
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
            M.unknown_status(allowed=[s.value for s in AssessmentStatus]),
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
        raise Conflict(M.validation_needs_content)
    previous = entity.status
    await record_transition(session, principal, RESOURCE, entity, target, body.note)
    await emit.needs_assessment_status_changed(session, entity, previous)


# --- findings -------------------------------------------------------------------------------


def check_severity(kind: str, severity: int | None) -> None:
    if severity is not None and kind not in RANKABLE_KINDS:
        raise Unprocessable(M.severity_only_problems, loc=["body", "severity"])


def ensure_not_frozen(assessment: NeedsAssessment) -> None:
    if assessment.status == AssessmentStatus.validated:
        raise Conflict(M.findings_frozen)


async def create_finding(
    session: AsyncSession,
    principal: Principal,
    assessment: NeedsAssessment,
    body: FindingCreate,
    item_id: uuid.UUID | None = None,
) -> Finding:
    ensure_not_frozen(assessment)
    if assessment.status == AssessmentStatus.cancelled:
        raise Conflict(M.assessment_cancelled)
    check_severity(body.kind.value, body.severity)
    finding = Finding(assessment_id=assessment.id, **body.model_dump())
    if item_id is not None:
        finding.id = item_id
    entity = await findings.add(session, principal, finding)
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
        raise Conflict(M.ballots_closed(status=assessment.status))


async def cast_ballot(
    session: AsyncSession,
    principal: Principal,
    assessment: NeedsAssessment,
    body: BallotCreate,
    item_id: uuid.UUID | None = None,
) -> Ballot:
    """One person of the community, with consent, ranks the live problems and needs
    (``item_id``: a client-made id, sync push)."""
    person = await check_ballot(session, principal, assessment, body)
    ballot = Ballot(assessment_id=assessment.id, person_id=person.id, ranking=body.ranking)
    if item_id is not None:
        ballot.id = item_id
    await repository.insert_ballot(session, ballot)
    await audit.record(session, principal, "create", "ballots", ballot.id, ["person_id", "ranking"])
    await refresh_priority_ranks(session, assessment.id)
    return ballot


async def check_ballot(
    session: AsyncSession, principal: Principal, assessment: NeedsAssessment, body: BallotCreate
) -> Person:
    """The rules of a ballot, cast or replaced; answers the voter."""
    ensure_ballots_open(assessment)
    try:
        person = await people.get(session, principal, body.person_id)
    except NotFound:
        person = None
    if person is None or person.community_id != assessment.community_id:
        raise Unprocessable(M.voter_outside_community, loc=["body", "person_id"])
    if not has_active_consent(person, "needs_assessment"):
        raise Conflict(M.no_consent(purpose="needs_assessment"))
    if len(set(body.ranking)) != len(body.ranking):
        raise Unprocessable(M.ranking_repeats, loc=["body", "ranking"])
    rankable = await repository.rankable_finding_ids(session, assessment.id)
    strangers = [i for i, f in enumerate(body.ranking) if f not in rankable]
    if strangers:
        raise Unprocessable(
            M.ranking_strangers,
            loc=["body", "ranking", strangers[0]],
        )
    return person


async def withdraw_ballot(
    session: AsyncSession, principal: Principal, assessment: NeedsAssessment, person_id: uuid.UUID
) -> None:
    ensure_ballots_open(assessment)
    ballot = await repository.live_ballot(session, assessment.id, person_id)
    if ballot is None:
        raise NotFound(M.ballot_not_found)
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


# --- PUT with client-made ids (app.core.conditional) --------------------------------------


def present_ballot(ballot: Ballot, principal: Principal, personal: PersonalData) -> BallotRead:
    """A ballot as the caller may see it (analysts get ``person_key`` only)."""
    return BallotRead(
        id=ballot.id,
        assessment_id=ballot.assessment_id,
        person_id=None if principal.role is Role.analyst else ballot.person_id,
        person_key=personal.hasher.person_key(ballot.person_id),
        ranking=ballot.ranking,
        created_at=ballot.created_at,
    )


async def put_finding(
    session: AsyncSession,
    principal: Principal,
    assessment_id: uuid.UUID,
    finding_id: uuid.UUID,
    body: FindingCreate,
    condition: Condition,
) -> tuple[PutOutcome, Finding]:
    """The rules of ``create_finding`` and ``update_finding``."""
    assessment = await writable(session, principal, assessment_id, None)

    async def load() -> Finding | None:
        try:
            return await findings.get_in(
                session, principal, assessment_id, finding_id, for_update=True
            )
        except NotFound:
            return None

    async def current(entity: Finding) -> dict[str, Any]:
        return FindingRead.model_validate(entity).model_dump(mode="json")

    async def make() -> Finding:
        return await create_finding(session, principal, assessment, body, finding_id)

    async def replace(entity: Finding) -> None:
        patch = replacement(FindingUpdate, body)
        await update_finding(session, principal, assessment, entity, patch)

    return await conditional_put(
        session,
        condition,
        resource="findings",
        model=Finding,
        item_id=finding_id,
        digest=body_digest({"assessment_id": assessment_id}, body),
        load=load,
        present=current,
        create=make,
        replace=replace,
    )


async def replace_ballot(
    session: AsyncSession,
    principal: Principal,
    assessment: NeedsAssessment,
    ballot: Ballot,
    body: BallotCreate,
) -> None:
    """A new ranking for the same voter: the rules of a cast ballot."""
    await check_ballot(session, principal, assessment, body)
    if list(ballot.ranking) != list(body.ranking):
        ballot.ranking = list(body.ranking)
        touch(ballot)
        await session.flush()
        await audit.record(session, principal, "update", "ballots", ballot.id, ["ranking"])
        await refresh_priority_ranks(session, assessment.id)


async def put_ballot(
    session: AsyncSession,
    principal: Principal,
    personal: PersonalData,
    assessment_id: uuid.UUID,
    body: BallotCreate,
    condition: Condition,
    ballot_id: uuid.UUID | None = None,
) -> tuple[PutOutcome, Ballot]:
    """A voter's ballot is addressed by assessment and person; ``ballot_id`` is the id a
    new ballot gets (a device's own, in a sync push)."""
    assessment = await writable(session, principal, assessment_id, None)
    authorize(principal, "ballots", WRITE)
    existing = await repository.live_ballot(session, assessment_id, body.person_id)

    async def load() -> Ballot | None:
        return existing

    async def current(ballot: Ballot) -> dict[str, Any]:
        return present_ballot(ballot, principal, personal).model_dump(mode="json")

    async def make() -> Ballot:
        return await cast_ballot(session, principal, assessment, body, ballot_id or uuid7())

    async def replace(ballot: Ballot) -> None:
        await replace_ballot(session, principal, assessment, ballot, body)

    return await conditional_put(
        session,
        condition,
        resource="ballots",
        model=Ballot,
        item_id=existing.id if existing is not None else (ballot_id or uuid7()),
        digest=body_digest({"assessment_id": assessment_id}, body),
        load=load,
        present=current,
        create=make,
        replace=replace,
        by_id=False,
    )
