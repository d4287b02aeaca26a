"""Every query of needs assessments, their findings and ballots (and the Borda inputs)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, Select, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.assessments.models import (
    RANKABLE_KINDS,
    AssessmentStatus,
    Ballot,
    Finding,
    FindingCategory,
    FindingKind,
    Method,
    NeedsAssessment,
)
from app.auth.policy import person_scope
from app.auth.repository import ScopedRepository
from app.core.errors import Conflict, NotFound
from app.core.i18n import M
from app.core.pagination import Keyset, ListParams, paginate
from app.core.principal import Principal

RESOURCE = "needs_assessments"
BALLOT_KEYSET = Keyset(columns={"created_at": Ballot.created_at}, id_column=Ballot.id)


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
        id_column=NeedsAssessment.id,
    )

    def scope(self, principal: Principal) -> ColumnElement[bool]:
        # Partners see no assessment: they hold people's own words and rankings.
        return person_scope(principal, NeedsAssessment.community_id)

    async def search(
        self,
        session: AsyncSession,
        principal: Principal,
        params: ListParams,
        *,
        community_id: uuid.UUID | None,
        status: AssessmentStatus | None,
        method: Method | None,
        facilitator_id: uuid.UUID | None,
        started_from: date | None,
        started_to: date | None,
    ) -> tuple[list[NeedsAssessment], str | None]:
        """A list page with the list's filters."""
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
        return await self.page(
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
        id_column=Finding.id,
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

    async def get_in(
        self,
        session: AsyncSession,
        principal: Principal,
        assessment_id: uuid.UUID,
        finding_id: uuid.UUID,
        *,
        for_update: bool = False,
    ) -> Finding:
        """The finding if it belongs to this assessment (else 404, as for an unseen one)."""
        entity = await self.get(session, principal, finding_id, for_update=for_update)
        if entity.assessment_id != assessment_id:
            raise NotFound(M.finding_not_found)
        return entity

    async def search(
        self,
        session: AsyncSession,
        principal: Principal,
        params: ListParams,
        *,
        assessment_id: uuid.UUID,
        kind: FindingKind | None,
        category: FindingCategory | None,
    ) -> tuple[list[Finding], str | None]:
        """A list page of one assessment's findings, with the list's filters."""
        conditions: list[ColumnElement[bool]] = [col(Finding.assessment_id) == assessment_id]
        if kind is not None:
            conditions.append(Finding.kind == kind.value)
        if category is not None:
            conditions.append(Finding.category == category.value)
        return await self.page(
            session,
            principal,
            params,
            conditions=conditions,
            filters={"assessment_id": assessment_id, "kind": kind, "category": category},
        )


assessments = AssessmentRepository()
findings = FindingRepository()


async def has_findings_and_ballots(session: AsyncSession, assessment_id: uuid.UUID) -> bool:
    finding_count = await session.scalar(
        select(func.count()).where(
            Finding.assessment_id == assessment_id, Finding.deleted_at.is_(None)
        )
    )
    ballot_count = await session.scalar(
        select(func.count()).where(
            Ballot.assessment_id == assessment_id, Ballot.deleted_at.is_(None)
        )
    )
    return bool(finding_count) and bool(ballot_count)


# --- ballots and the Borda inputs -----------------------------------------------------------


async def ballots_page(
    session: AsyncSession, assessment_id: uuid.UUID, params: ListParams
) -> tuple[Sequence[Ballot], str | None]:
    """A page of the live ballots of an assessment the caller has already been shown."""
    stmt = select(Ballot).where(Ballot.assessment_id == assessment_id, Ballot.deleted_at.is_(None))
    return await paginate(
        session,
        stmt,
        keyset=BALLOT_KEYSET,
        params=params,
        filters={"assessment_id": assessment_id},
        updated_column=Ballot.updated_at,
    )


async def live_ballot(
    session: AsyncSession, assessment_id: uuid.UUID, person_id: uuid.UUID
) -> Ballot | None:
    result = await session.execute(
        select(Ballot).where(
            Ballot.assessment_id == assessment_id,
            Ballot.person_id == person_id,
            Ballot.deleted_at.is_(None),
        )
    )
    return result.scalar_one_or_none()


async def insert_ballot(session: AsyncSession, ballot: Ballot) -> None:
    """Insert in a savepoint: a person's second ballot (unique index) becomes a 409."""
    session.add(ballot)
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError:
        raise Conflict(M.ballot_cast) from None


async def rankable_finding_ids(session: AsyncSession, assessment_id: uuid.UUID) -> set[uuid.UUID]:
    """The live problem and need findings a ballot may rank."""
    result = await session.execute(
        select(Finding.id).where(
            Finding.assessment_id == assessment_id,
            Finding.deleted_at.is_(None),
            col(Finding.kind).in_(RANKABLE_KINDS),
        )
    )
    return set(result.scalars())


async def live_findings(session: AsyncSession, assessment_id: uuid.UUID) -> Sequence[Finding]:
    result = await session.execute(
        select(Finding).where(Finding.assessment_id == assessment_id, Finding.deleted_at.is_(None))
    )
    return result.scalars().all()


async def live_rankings(
    session: AsyncSession, assessment_id: uuid.UUID
) -> Sequence[list[uuid.UUID]]:
    result = await session.execute(
        select(Ballot.ranking).where(
            Ballot.assessment_id == assessment_id, Ballot.deleted_at.is_(None)
        )
    )
    return result.scalars().all()


async def clear_priority_ranks(session: AsyncSession, assessment_id: uuid.UUID) -> None:
    await session.execute(
        update(Finding).where(Finding.assessment_id == assessment_id).values(priority_rank=None)
    )
