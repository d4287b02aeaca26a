"""Rules of village planning: proposals and their links, the status path from the
musyawarah to the budget (with its planning record), carry-over, drafting from the
community's ranking, and funding lines with the proposal's totals.

Events: ``_event`` is the one place this package records an outbox event; it is called
where a status changes (``transition``) and where funding is recorded (``add_funding`` /
``update_funding``).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncSession

from app.assessments.models import AssessmentStatus, FindingCategory, NeedsAssessment
from app.assessments.service import tally_assessment
from app.auth.policy import WRITE, authorize, can_write_in_community
from app.communities.repository import communities
from app.core import audit
from app.core.errors import Conflict, Forbidden, NotFound, Unprocessable
from app.core.http import check_if_match
from app.core.i18n import M
from app.core.principal import Principal, Role
from app.core.transitions import check_move, record_transition
from app.events.outbox import record_event
from app.planning import repository
from app.planning.models import (
    OPEN_STATUSES,
    PROPOSAL_MACHINE,
    UNFUNDABLE,
    PlanningProposal,
    ProposalFunding,
    ProposalStatus,
    ProposalTransition,
)
from app.planning.repository import RESOURCE, funding, proposals
from app.planning.schemas import (
    BeneficiariesRead,
    DraftRequest,
    FundingCreate,
    FundingUpdate,
    ProposalCreate,
    ProposalRead,
    ProposalTransitionRead,
    ProposalTransitionRequest,
    ProposalUpdate,
)

API = "/api/v1"


def transition_view(principal: Principal, row: Any) -> ProposalTransitionRead:
    """One entry of the planning record. Partners do not get the free-text note (it may
    quote a villager) nor who recorded it: partners never see personal data (API.md §4)."""
    view = ProposalTransitionRead.model_validate(row)
    if principal.role is Role.partner:
        view = view.model_copy(update={"note": None, "actor_id": None})
    return view


# How far ahead a proposal may plan: the village medium-term plan (RPJM Desa) spans six
# years (Permendagri 114/2014).
YEARS_AHEAD = 6
# The APBDes field a drafted proposal starts in, by the finding's category (Permendagri
# 20/2018): education, health, infrastructure and environment are village development
# (2), social life community building (3), the economy community empowerment (4),
# governance village administration (1). The village changes it in the musyawarah.
BIDANG_OF_CATEGORY = {
    FindingCategory.governance.value: 1,
    FindingCategory.education.value: 2,
    FindingCategory.health.value: 2,
    FindingCategory.infrastructure.value: 2,
    FindingCategory.environment.value: 2,
    FindingCategory.other.value: 2,
    FindingCategory.social.value: 3,
    FindingCategory.economy.value: 4,
}
_BENEFICIARIES = ("female", "male", "poor_households", "disability")


def href(proposal_id: uuid.UUID) -> str:
    return f"{API}/planning-proposals/{proposal_id}"


# --- reading -------------------------------------------------------------------------------


def _read(entity: Any, links: repository.Links) -> ProposalRead:
    return ProposalRead(
        id=entity.id,
        created_at=entity.created_at,
        updated_at=entity.updated_at,
        community_id=entity.community_id,
        title=entity.title,
        planning_year=entity.planning_year,
        finding_ids=links.finding_ids,
        origin_forum=entity.origin_forum,
        proposed_by=entity.proposed_by,
        bidang=entity.bidang,
        kegiatan=entity.kegiatan,
        location=entity.location,
        volume=float(entity.volume) if entity.volume is not None else None,
        unit=entity.unit,
        beneficiaries=BeneficiariesRead(
            **{k: getattr(entity, f"beneficiaries_{k}") for k in _BENEFICIARIES}
        ),
        estimated_cost_amount=entity.estimated_cost_amount,
        proposed_funding_source=entity.proposed_funding_source,
        program_ids=links.program_ids,
        status=entity.status,
        carried_over_from_id=entity.carried_over_from_id,
        carried_over_to_id=links.carried_over_to_id,
        funding_planned_amount=entity.funding_planned_amount,
        funding_realised_amount=entity.funding_realised_amount,
    )


async def present(session: AsyncSession, entity: Any) -> ProposalRead:
    links = await repository.links_of(session, [entity.id])
    return _read(entity, links[entity.id])


async def present_all(session: AsyncSession, rows: Sequence[Any]) -> list[ProposalRead]:
    links = await repository.links_of(session, [r.id for r in rows])
    return [_read(r, links[r.id]) for r in rows]


# --- writing -------------------------------------------------------------------------------


async def writable(
    session: AsyncSession,
    principal: Principal,
    proposal_id: uuid.UUID,
    request: Request | None,
) -> PlanningProposal:
    """Lock the proposal for a change to it or to what hangs under it: 404 unseen, 403
    when the caller may not write there, 412 when stale."""
    entity = await proposals.get(session, principal, proposal_id, for_update=True)
    authorize(principal, RESOURCE, WRITE)
    if not can_write_in_community(principal, entity.community_id):
        raise Forbidden(M.proposals_forbidden)
    if request is not None:
        check_if_match(request, entity.version)
    return entity


def _check_year(planning_year: int, loc: str = "planning_year") -> None:
    latest = datetime.now(UTC).year + YEARS_AHEAD
    if planning_year > latest:
        raise Unprocessable(
            M.planning_year_too_far(latest=latest),
            loc=["body", loc],
        )


async def _check_findings(
    session: AsyncSession, community_id: uuid.UUID, finding_ids: Sequence[uuid.UUID]
) -> None:
    eligible = await repository.eligible_findings(session, community_id, finding_ids)
    strangers = [i for i, f in enumerate(finding_ids) if f not in eligible]
    if strangers:
        raise Unprocessable(
            M.proposal_findings_invalid,
            loc=["body", "finding_ids", strangers[0]],
        )


async def _check_programs(
    session: AsyncSession,
    principal: Principal,
    community_id: uuid.UUID,
    program_ids: Sequence[uuid.UUID],
) -> None:
    found = await repository.programs_in_community(session, principal, community_id, program_ids)
    strangers = [i for i, p in enumerate(program_ids) if p not in found]
    if strangers:
        raise Unprocessable(
            M.proposal_programs_invalid,
            loc=["body", "program_ids", strangers[0]],
        )


_REPEATS = {"finding_ids": M.finding_ids_repeat, "program_ids": M.program_ids_repeat}


def _distinct(values: Sequence[uuid.UUID], name: str) -> None:
    if len(set(values)) != len(values):
        raise Unprocessable(_REPEATS[name], loc=["body", name])


def _flat(values: dict[str, Any]) -> dict[str, Any]:
    """The table's columns from the wire fields (beneficiaries as four counts)."""
    out = {k: v for k, v in values.items() if k not in ("finding_ids", "program_ids")}
    if "beneficiaries" in out:
        # A merge patch merges the object too: only the counts given change; null clears all.
        given = out.pop("beneficiaries")
        for key in _BENEFICIARIES:
            if given is None or key in given:
                out[f"beneficiaries_{key}"] = None if given is None else given[key]
    for key in ("origin_forum", "proposed_funding_source"):
        if key in out and out[key] is not None:
            out[key] = str(getattr(out[key], "value", out[key]))
    return out


async def create_proposal(
    session: AsyncSession, principal: Principal, body: ProposalCreate
) -> PlanningProposal:
    try:
        await communities.get(session, principal, body.community_id)
    except NotFound:
        raise Unprocessable(M.community_not_found, loc=["body", "community_id"]) from None
    if not can_write_in_community(principal, body.community_id):
        raise Unprocessable(M.planning_forbidden_here, loc=["body", "community_id"])
    _check_year(body.planning_year)
    _distinct(body.finding_ids, "finding_ids")
    _distinct(body.program_ids, "program_ids")
    await _check_findings(session, body.community_id, body.finding_ids)
    await _check_programs(session, principal, body.community_id, body.program_ids)
    await repository.lock_community(session, body.community_id)
    await repository.ensure_findings_free(session, body.planning_year, body.finding_ids)
    entity = PlanningProposal(**_flat(body.model_dump(exclude_unset=False)))
    entity = await proposals.add(session, principal, entity)
    await repository.set_links(
        session, entity.id, finding_ids=body.finding_ids, program_ids=body.program_ids
    )
    return entity


async def update_proposal(
    session: AsyncSession, principal: Principal, entity: PlanningProposal, body: ProposalUpdate
) -> None:
    if entity.status not in OPEN_STATUSES:
        raise Conflict(M.proposal_closed(status=entity.status))
    changes = body.changes()
    year = changes.get("planning_year", entity.planning_year)
    if year != entity.planning_year:
        if entity.status != ProposalStatus.draft:
            raise Conflict(M.planning_year_draft_only)
        _check_year(year)
    also: list[str] = []
    finding_ids = changes.get("finding_ids")
    program_ids = changes.get("program_ids")
    if finding_ids is not None:
        _distinct(finding_ids, "finding_ids")
        await _check_findings(session, entity.community_id, finding_ids)
    if program_ids is not None:
        _distinct(program_ids, "program_ids")
        await _check_programs(session, principal, entity.community_id, program_ids)
    if finding_ids is not None or year != entity.planning_year:
        await repository.lock_community(session, entity.community_id)
        current = finding_ids
        if current is None:
            current = await repository.finding_ids_of(session, entity.id)
        await repository.ensure_findings_free(session, year, current, exclude=entity.id)
    if finding_ids is not None and set(finding_ids) != set(
        await repository.finding_ids_of(session, entity.id)
    ):
        await repository.set_links(session, entity.id, finding_ids=finding_ids)
        also.append("finding_ids")
    if program_ids is not None and set(program_ids) != set(
        await repository.program_ids_of(session, entity.id)
    ):
        await repository.set_links(session, entity.id, program_ids=program_ids)
        also.append("program_ids")
    await proposals.apply_changes(session, principal, entity, _flat(changes), also_changed=also)


# --- the status path -----------------------------------------------------------------------


async def transition(
    session: AsyncSession,
    principal: Principal,
    entity: PlanningProposal,
    body: ProposalTransitionRequest,
) -> None:
    """Move the status (409 with ``allowed`` for an illegal move) and keep the planning
    record: who, when (the forum's date), which forum, which document, why."""
    target = body.to.value
    check_move(PROPOSAL_MACHINE, entity.status, target)
    if target == ProposalStatus.rejected and not (body.note and body.note.strip()):
        raise Unprocessable(M.rejection_needs_note, loc=["body", "note"])
    today = datetime.now(UTC).date()
    if body.date > today + timedelta(days=1):  # a day of slack for time zones east of UTC
        raise Unprocessable(M.decision_in_future, loc=["body", "date"])
    last = await repository.last_decided_on(session, entity.id)
    if last is not None and body.date < last:
        raise Unprocessable(
            M.decision_before_previous(previous=last.isoformat()), loc=["body", "date"]
        )
    if target in (ProposalStatus.in_apbdes, ProposalStatus.realised):
        lines, realised = await repository.live_funding_count(session, entity.id)
        if target == ProposalStatus.in_apbdes and not lines:
            raise Conflict(M.apbdes_needs_funding)
        if target == ProposalStatus.realised and not realised:
            raise Conflict(M.realised_needs_amount)
    previous = entity.status
    await record_transition(session, principal, RESOURCE, entity, target, body.note)
    session.add(
        ProposalTransition(
            proposal_id=entity.id,
            from_status=previous,
            to_status=target,
            decided_on=body.date,
            forum=body.forum.value if body.forum else None,
            document_ref=body.document_ref,
            note=body.note,
            actor_id=principal.id,
        )
    )
    await session.flush()
    await _event(
        session,
        "planning_proposal.status_changed",
        entity,
        {"from": previous, "to": target, "date": body.date, "forum": body.forum},
    )


async def carry_over(
    session: AsyncSession, principal: Principal, entity: PlanningProposal
) -> PlanningProposal:
    """A deferred proposal becomes a draft of the next planning year, linked to it (once)."""
    if entity.status != ProposalStatus.deferred:
        raise Conflict(M.carry_over_deferred_only)
    existing = await repository.carried_over_to(session, entity.id)
    if existing is not None:
        raise Conflict(
            M.carried_over_already(draft=existing),
            extra={"proposal_id": str(existing)},
        )
    year = entity.planning_year + 1
    finding_ids = await repository.finding_ids_of(session, entity.id)
    program_ids = await repository.program_ids_of(session, entity.id)
    await repository.lock_community(session, entity.community_id)
    await repository.ensure_findings_free(session, year, finding_ids)
    copied = {
        name: getattr(entity, name)
        for name in (
            "community_id",
            "title",
            "origin_forum",
            "proposed_by",
            "bidang",
            "kegiatan",
            "location",
            "volume",
            "unit",
            "estimated_cost_amount",
            "proposed_funding_source",
            *(f"beneficiaries_{k}" for k in _BENEFICIARIES),
        )
    }
    draft = PlanningProposal(**copied, planning_year=year, carried_over_from_id=entity.id)
    await repository.insert_carry_over(session, draft)
    await audit.record(
        session, principal, "carry_over", RESOURCE, draft.id, ["carried_over_from_id"]
    )
    await repository.set_links(session, draft.id, finding_ids=finding_ids, program_ids=program_ids)
    return draft


# --- drafting from the community's ranking -------------------------------------------------


async def draft_from_ranking(
    session: AsyncSession,
    principal: Principal,
    assessment: NeedsAssessment,
    body: DraftRequest,
) -> tuple[list[PlanningProposal], int]:
    """One draft per top-ranked need (modified Borda count, ranks 1..top with points) of a
    validated assessment; a finding that already has a proposal for the year keeps it.
    Returns the proposals by rank and how many were made now."""
    authorize(principal, RESOURCE, WRITE)
    if not can_write_in_community(principal, assessment.community_id):
        raise Forbidden(M.planning_forbidden_here)
    if assessment.status != AssessmentStatus.validated:
        raise Conflict(M.draft_needs_validated)
    _check_year(body.planning_year)
    tallies, _ = await tally_assessment(session, assessment.id)
    top = [t for t in tallies[: body.top] if t.points > 0]
    await repository.lock_community(session, assessment.community_id)
    taken = await repository.proposed_findings(
        session, body.planning_year, [t.finding.id for t in top]
    )
    result: list[PlanningProposal] = []
    created = 0
    for tally in top:
        finding = tally.finding
        if finding.id in taken:
            result.append(await proposals.get(session, principal, taken[finding.id]))
            continue
        entity = await proposals.add(
            session,
            principal,
            PlanningProposal(
                community_id=assessment.community_id,
                title=finding.title,
                planning_year=body.planning_year,
                origin_forum=body.origin_forum.value,
                bidang=BIDANG_OF_CATEGORY.get(finding.category, 2),
                estimated_cost_amount=0,
                proposed_funding_source=body.proposed_funding_source.value,
            ),
        )
        await repository.set_links(session, entity.id, finding_ids=[finding.id])
        created += 1
        result.append(entity)
    return result, created


# --- funding -------------------------------------------------------------------------------


def _check_fiscal_year(proposal: PlanningProposal, fiscal_year: int) -> None:
    if not proposal.planning_year <= fiscal_year <= proposal.planning_year + YEARS_AHEAD:
        raise Unprocessable(
            M.fiscal_year_range(
                first=proposal.planning_year, last=proposal.planning_year + YEARS_AHEAD
            ),
            loc=["body", "fiscal_year"],
        )


def _check_realised(planned: int, realised: int | None) -> None:
    if realised is not None and realised > planned:
        raise Unprocessable(M.realised_above_planned, loc=["body", "realised_amount"])


def _ensure_fundable(proposal: PlanningProposal) -> None:
    if proposal.status in UNFUNDABLE:
        raise Conflict(M.proposal_unfundable(status=proposal.status))


async def _after_funding(
    session: AsyncSession, principal: Principal, proposal: PlanningProposal, line: ProposalFunding
) -> None:
    """Totals of the proposal follow its lines (a change of the proposal: version, audit)."""
    if await repository.set_totals(session, proposal):
        await proposals.apply_changes(
            session,
            principal,
            proposal,
            {},
            also_changed=["funding_planned_amount", "funding_realised_amount"],
        )
    await _event(
        session,
        "planning_proposal.funded",
        proposal,
        {
            "funding_id": line.id,
            "fiscal_year": line.fiscal_year,
            "source": line.source,
            "planned_amount": line.planned_amount,
            "realised_amount": line.realised_amount,
            "deleted": line.deleted_at is not None,
        },
    )


async def add_funding(
    session: AsyncSession, principal: Principal, proposal: PlanningProposal, body: FundingCreate
) -> ProposalFunding:
    _ensure_fundable(proposal)
    _check_fiscal_year(proposal, body.fiscal_year)
    _check_realised(body.planned_amount, body.realised_amount)
    await repository.ensure_funding_free(session, proposal.id, body.fiscal_year, body.source.value)
    values = body.model_dump()
    values["source"] = body.source.value
    line = await funding.add(session, principal, ProposalFunding(proposal_id=proposal.id, **values))
    await _after_funding(session, principal, proposal, line)
    return line


async def update_funding(
    session: AsyncSession,
    principal: Principal,
    proposal: PlanningProposal,
    line: ProposalFunding,
    body: FundingUpdate,
) -> None:
    _ensure_fundable(proposal)
    changes = body.changes()
    _check_realised(
        changes.get("planned_amount", line.planned_amount),
        changes.get("realised_amount", line.realised_amount),
    )
    if await funding.apply_changes(session, principal, line, changes):
        await _after_funding(session, principal, proposal, line)


async def delete_funding(
    session: AsyncSession,
    principal: Principal,
    proposal: PlanningProposal,
    funding_id: uuid.UUID,
    request: Request,
) -> None:
    await funding.get_in(session, principal, proposal.id, funding_id)
    line = await funding.soft_delete(session, principal, funding_id, request)
    await _after_funding(session, principal, proposal, line)


async def restore_funding(
    session: AsyncSession,
    principal: Principal,
    proposal: PlanningProposal,
    funding_id: uuid.UUID,
) -> ProposalFunding:
    await funding.get_in(session, principal, proposal.id, funding_id, include_deleted=True)
    line = await funding.restore(session, principal, funding_id)
    await _after_funding(session, principal, proposal, line)
    return line


# --- events --------------------------------------------------------------------------------


async def _event(
    session: AsyncSession, type: str, proposal: PlanningProposal, extra: dict[str, Any]
) -> None:
    """The one hook of this package into the outbox (API.md §7): ids, statuses, amounts
    and dates only; never notes or names (a note may quote a villager)."""
    program_ids = await repository.program_ids_of(session, proposal.id)
    await record_event(
        session,
        type,
        {
            "id": proposal.id,
            "href": href(proposal.id),
            "community_id": proposal.community_id,
            "planning_year": proposal.planning_year,
            "status": proposal.status,
            "version": proposal.version,
            **{k: v for k, v in extra.items() if v is not None},
        },
        community_id=proposal.community_id,
        program_ids=program_ids,
    )
