"""Rules of partners: partnership dates, uniqueness and lifecycle, contribution rules,
service-account creation, rotation and revocation. Flushes, never commits."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import Request
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import service as auth_service
from app.auth import service_accounts as accounts
from app.auth.models import Role, ServiceAccount
from app.auth.repository import touch
from app.core import audit
from app.core.errors import Conflict, Forbidden, NotFound, Unprocessable
from app.core.i18n import M
from app.core.models import utcnow
from app.core.principal import Principal
from app.core.transitions import TransitionRequest, check_move, record_transition
from app.events import emit
from app.partners.models import (
    PARTNERSHIP_MACHINE,
    Contribution,
    Partnership,
    PartnershipStatus,
)
from app.partners.repository import (
    DUPLICATE_ROLE,
    contributions,
    ensure_unique,
    partners,
    partnerships,
    service_accounts,
)
from app.partners.schemas import ContributionCreate, PartnershipCreate, ServiceAccountCreate
from app.programs.repository import programs


def plain(values: dict[str, Any]) -> dict[str, Any]:
    """Enums and URLs as the text stored in the table."""
    return {
        k: (v.value if hasattr(v, "value") else str(v) if k == "website" and v else v)
        for k, v in values.items()
    }


# --- partnerships ---------------------------------------------------------------------------


def check_dates(start: Any, end: Any) -> None:
    if start and end and end < start:
        raise Unprocessable(M.end_before_start, loc=["body", "end_date"])


async def create_partnership(
    session: AsyncSession, principal: Principal, body: PartnershipCreate
) -> Partnership:
    """Partner and program must be visible (422), one role per partner and program (409)."""
    try:
        await partners.get(session, principal, body.partner_id)
    except NotFound:
        raise Unprocessable(M.partner_not_found, loc=["body", "partner_id"]) from None
    try:
        await programs.get(session, principal, body.program_id)
    except NotFound:
        raise Unprocessable(M.program_not_found, loc=["body", "program_id"]) from None
    check_dates(body.start_date, body.end_date)
    await ensure_unique(session, body.partner_id, body.program_id, body.role.value)
    entity = Partnership(**plain(body.model_dump()))
    session.add(entity)
    try:
        # A concurrent insert passes the count above; the unique index catches it.
        async with session.begin_nested():
            await session.flush()
    except IntegrityError:
        raise Conflict(DUPLICATE_ROLE) from None
    entity = await partnerships.add(session, principal, entity)
    await emit.partnership_created(session, entity)
    return entity


async def update_partnership(
    session: AsyncSession, principal: Principal, entity: Partnership, changes: dict[str, Any]
) -> None:
    """A completed or terminated partnership is frozen; the dates stay ordered."""
    if entity.status in (PartnershipStatus.completed, PartnershipStatus.terminated):
        raise Conflict(M.partnership_frozen(status=entity.status))
    check_dates(
        changes.get("start_date", entity.start_date), changes.get("end_date", entity.end_date)
    )
    await partnerships.apply_changes(session, principal, entity, changes)


async def transition_partnership(
    session: AsyncSession, principal: Principal, entity: Partnership, body: TransitionRequest
) -> None:
    """Move along ``PARTNERSHIP_MACHINE`` (the caller holds the row lock)."""
    try:
        target = PartnershipStatus(body.to).value
    except ValueError:
        raise Unprocessable(
            M.unknown_status(allowed=[s.value for s in PartnershipStatus]),
            loc=["body", "to"],
        ) from None
    check_move(PARTNERSHIP_MACHINE, entity.status, target)
    previous = entity.status
    await record_transition(session, principal, "partnerships", entity, target, body.note)
    await emit.partnership_status_changed(session, entity, previous)


# --- contributions --------------------------------------------------------------------------


def check_contribution(partnership: Partnership, principal: Principal, on: Any) -> None:
    """Contributions go to live partnerships (partners: active ones), within their dates."""
    if partnership.status == PartnershipStatus.terminated:
        raise Conflict(M.partnership_terminated)
    if principal.role is Role.partner and partnership.status != PartnershipStatus.active:
        raise Conflict(M.partner_active_only)
    if partnership.status == PartnershipStatus.proposed:
        raise Conflict(M.partnership_not_active)
    if (partnership.start_date and on < partnership.start_date) or (
        partnership.end_date and on > partnership.end_date
    ):
        raise Unprocessable(
            M.contribution_outside_dates,
            loc=["body", "contributed_on"],
        )


def check_recorder(principal: Principal, entity: Contribution) -> None:
    if principal.role is Role.partner and entity.recorded_by != principal.id:
        raise Forbidden(M.own_contributions_only)


async def record_contribution(
    session: AsyncSession, principal: Principal, partnership: Partnership, body: ContributionCreate
) -> Contribution:
    check_contribution(partnership, principal, body.contributed_on)
    entity = await contributions.add(
        session,
        principal,
        Contribution(
            partnership_id=partnership.id, recorded_by=principal.id, **plain(body.model_dump())
        ),
    )
    await emit.contribution_changed(session, partnership, entity)
    return entity


async def update_contribution(
    session: AsyncSession,
    principal: Principal,
    partnership: Partnership,
    entity: Contribution,
    changes: dict[str, Any],
) -> None:
    check_contribution(partnership, principal, changes.get("contributed_on", entity.contributed_on))
    changed = await contributions.apply_changes(session, principal, entity, changes)
    await emit.contribution_changed(session, partnership, entity, changed)


# --- service accounts -----------------------------------------------------------------------


async def create_service_account(
    session: AsyncSession, principal: Principal, body: ServiceAccountCreate
) -> tuple[ServiceAccount, str]:
    """A partner account belongs to a visible partner organisation, other roles to none.
    Returns the account and its secret (shown once)."""
    if body.role == Role.partner.value:
        if body.organization_id is None:
            raise Unprocessable(
                M.partner_account_needs_org,
                loc=["body", "organization_id"],
            )
        try:
            await partners.get(session, principal, body.organization_id)
        except NotFound:
            raise Unprocessable(M.partner_org_not_found, loc=["body", "organization_id"]) from None
    elif body.organization_id is not None:
        raise Unprocessable(M.only_partner_accounts_org, loc=["body", "organization_id"])
    secret, digest = accounts.new_secret()
    entity = await service_accounts.add(
        session,
        principal,
        ServiceAccount(
            name=body.name,
            organization_id=body.organization_id,
            role=body.role,
            client_id=accounts.new_client_id(),
            secret_hash=digest,
        ),
    )
    return entity, secret


async def rotate_secret(
    session: AsyncSession, principal: Principal, entity: ServiceAccount, grace_seconds: int
) -> str:
    """A new secret (returned, shown once); the old one works for ``grace_seconds``."""
    if entity.revoked_at is not None:
        raise Conflict(M.service_account_revoked)
    secret = accounts.rotate(entity, grace_seconds)
    touch(entity)
    await session.flush()
    await audit.record(
        session, principal, "rotate", "service_accounts", entity.id, ["client_secret"]
    )
    return secret


async def revoke(session: AsyncSession, principal: Principal, entity: ServiceAccount) -> None:
    """Idempotent: revoking again keeps the first revocation time."""
    if entity.revoked_at is None:
        entity.revoked_at = utcnow()
        touch(entity)
        await session.flush()
        await audit.record(
            session, principal, "revoke", "service_accounts", entity.id, ["revoked_at"]
        )


async def delete_partner(
    session: AsyncSession, principal: Principal, partner_id: uuid.UUID, request: Request
) -> None:
    """Soft delete, and every access through the organisation ends at once: its users are
    disabled, its service accounts revoked (a restore brings none of them back)."""
    await partners.soft_delete(session, principal, partner_id, request)
    await auth_service.end_organization_access(session, partner_id, principal)
