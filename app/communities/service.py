"""Rules of communities: the IDM score and status of each yearly index, and who may be
assigned as a community's facilitator."""

from __future__ import annotations

import uuid
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.models import Role
from app.auth.repository import live_user_role
from app.communities.models import DevelopmentIndex, IdmStatus
from app.communities.repository import (
    add_facilitator,
    ensure_year_free,
    indices,
    remove_facilitator,
)
from app.communities.schemas import DevelopmentIndexCreate
from app.core import audit
from app.core.errors import Unprocessable
from app.core.principal import Principal

# Upper bounds (inclusive) of each status, from Permendesa PDTT 2/2016.
IDM_THRESHOLDS: tuple[tuple[Decimal, IdmStatus], ...] = (
    (Decimal("0.4907"), IdmStatus.sangat_tertinggal),
    (Decimal("0.5989"), IdmStatus.tertinggal),
    (Decimal("0.7072"), IdmStatus.berkembang),
    (Decimal("0.8155"), IdmStatus.maju),
)


def idm_score(iks: Decimal, ike: Decimal, ikl: Decimal) -> Decimal:
    """Exact decimal mean, rounded half-up to 4 places (no float drift at the boundaries)."""
    return ((iks + ike + ikl) / 3).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)


def idm_status(score: Decimal) -> IdmStatus:
    for upper, status in IDM_THRESHOLDS:
        if score <= upper:
            return status
    return IdmStatus.mandiri


def idm_fields(iks: Decimal, ike: Decimal, ikl: Decimal) -> dict[str, Any]:
    """The stored score and status: always derived from the three sub-indices, never sent."""
    score = idm_score(iks, ike, ikl)
    return {"idm_score": score, "idm_status": idm_status(score).value}


async def create_index(
    session: AsyncSession,
    principal: Principal,
    community_id: uuid.UUID,
    body: DevelopmentIndexCreate,
) -> DevelopmentIndex:
    """One index per community and year (409 otherwise)."""
    await ensure_year_free(session, community_id, body.year)
    return await indices.add(
        session,
        principal,
        DevelopmentIndex(
            community_id=community_id,
            year=body.year,
            iks=body.iks,
            ike=body.ike,
            ikl=body.ikl,
            **idm_fields(body.iks, body.ike, body.ikl),
        ),
    )


async def update_index(
    session: AsyncSession, principal: Principal, entry: DevelopmentIndex, changes: dict[str, Any]
) -> None:
    """Merge the changed sub-indices and derive the score and status again."""
    iks, ike, ikl = (changes.get(k, getattr(entry, k)) for k in ("iks", "ike", "ikl"))
    changes.update(idm_fields(iks, ike, ikl))
    await indices.apply_changes(session, principal, entry, changes)


async def assign_facilitator(
    session: AsyncSession, principal: Principal, community_id: uuid.UUID, user_id: uuid.UUID
) -> None:
    """Only a live facilitator may be assigned; assigning twice changes (and audits) nothing."""
    if await live_user_role(session, user_id) != Role.facilitator.value:
        raise Unprocessable("the user is not a facilitator", loc=["path", "user_id"])
    if await add_facilitator(session, community_id, user_id):
        await audit.record(
            session, principal, "assign", "community_facilitators", community_id, ["user_id"]
        )


async def unassign_facilitator(
    session: AsyncSession, principal: Principal, community_id: uuid.UUID, user_id: uuid.UUID
) -> None:
    await remove_facilitator(session, community_id, user_id)
    await audit.record(
        session, principal, "unassign", "community_facilitators", community_id, ["user_id"]
    )
