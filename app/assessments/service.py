"""Community prioritisation: the modified Borda count, and keeping ``priority_rank`` current."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.assessments.models import RANKABLE_KINDS, Ballot, Finding


@dataclass
class Tally:
    finding: Finding
    points: int = 0
    votes: int = 0
    first_place_votes: int = 0


def modified_borda(
    findings: Sequence[Finding], rankings: Sequence[Sequence[uuid.UUID]]
) -> list[Tally]:
    """A ballot ranking k findings gives k points to its first, k-1 to the next, ... 1 to
    its last; unranked findings get 0. Ties: more first places, higher severity, title."""
    tallies = {f.id: Tally(f) for f in findings if f.kind in RANKABLE_KINDS}
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
    findings = (
        (
            await session.execute(
                select(Finding).where(
                    Finding.assessment_id == assessment_id, Finding.deleted_at.is_(None)
                )
            )
        )
        .scalars()
        .all()
    )
    rankings = (
        (
            await session.execute(
                select(Ballot.ranking).where(
                    Ballot.assessment_id == assessment_id, Ballot.deleted_at.is_(None)
                )
            )
        )
        .scalars()
        .all()
    )
    return modified_borda(findings, rankings), len(rankings)


async def refresh_priority_ranks(session: AsyncSession, assessment_id: uuid.UUID) -> None:
    """Write the ranks after a ballot or a finding changed (the caller holds the
    assessment's row lock, so concurrent ballots are applied one after another)."""
    tallies, ballots = await tally_assessment(session, assessment_id)
    await session.execute(
        update(Finding).where(Finding.assessment_id == assessment_id).values(priority_rank=None)
    )
    if ballots:
        for rank, tally in enumerate(tallies, start=1):
            tally.finding.priority_rank = rank
    await session.flush()
