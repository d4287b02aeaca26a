"""Every query of partners, partnerships, contributions and service accounts.

A contribution is visible when its partnership is (``partnership_scope``).
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.auth.models import ServiceAccount
from app.auth.policy import organization_scope, partnership_scope
from app.auth.repository import ScopedRepository
from app.core.errors import Conflict, NotFound
from app.core.i18n import M
from app.core.pagination import Keyset
from app.core.principal import Principal
from app.partners.models import Contribution, Partner, Partnership

DUPLICATE_ROLE = M.duplicate_partner_role


async def ensure_unique(
    session: AsyncSession,
    partner_id: uuid.UUID,
    program_id: uuid.UUID,
    role: str,
    exclude: uuid.UUID | None = None,
) -> None:
    """One live partnership per partner, program and role (409 otherwise)."""
    stmt = select(func.count()).where(
        Partnership.partner_id == partner_id,
        Partnership.program_id == program_id,
        Partnership.role == role,
        Partnership.deleted_at.is_(None),
    )
    if exclude is not None:
        stmt = stmt.where(Partnership.id != exclude)
    if await session.scalar(stmt):
        raise Conflict(DUPLICATE_ROLE)


async def contributed(session: AsyncSession, ids: list[uuid.UUID]) -> dict[uuid.UUID, int]:
    """The sum of the live contributions of each partnership, in one query."""
    if not ids:
        return {}
    rows = await session.execute(
        select(Contribution.partnership_id, func.coalesce(func.sum(Contribution.amount), 0))
        .where(col(Contribution.partnership_id).in_(ids), Contribution.deleted_at.is_(None))
        .group_by(Contribution.partnership_id)
    )
    return {pid: int(total) for pid, total in rows}


class PartnerRepository(ScopedRepository[Partner]):
    model = Partner
    resource = "partners"
    label = "partner"
    keyset = Keyset(
        columns={
            "created_at": Partner.created_at,
            "updated_at": Partner.updated_at,
            "name": Partner.name,
        },
        id_column=Partner.id,
    )

    def scope(self, principal: Principal) -> ColumnElement[bool]:
        return organization_scope(principal, Partner.id)


class PartnershipRepository(ScopedRepository[Partnership]):
    model = Partnership
    resource = "partnerships"
    label = "partnership"
    keyset = Keyset(
        columns={"created_at": Partnership.created_at, "updated_at": Partnership.updated_at},
        id_column=Partnership.id,
    )

    def scope(self, principal: Principal) -> ColumnElement[bool]:
        return partnership_scope(principal, Partnership.partner_id, Partnership.program_id)

    async def before_restore(self, session: AsyncSession, entity: Partnership) -> None:
        await ensure_unique(session, entity.partner_id, entity.program_id, entity.role)


class ContributionRepository(ScopedRepository[Contribution]):
    model = Contribution
    resource = "contributions"
    label = "contribution"
    keyset = Keyset(
        columns={
            "created_at": Contribution.created_at,
            "updated_at": Contribution.updated_at,
            "contributed_on": Contribution.contributed_on,
        },
        id_column=Contribution.id,
    )

    def base_query(self, principal: Principal, *, include_deleted: bool = False) -> Select[Any]:
        visible = select(Partnership.id).where(
            partnership_scope(principal, Partnership.partner_id, Partnership.program_id),
            Partnership.deleted_at.is_(None),
        )
        stmt = select(Contribution).where(col(Contribution.partnership_id).in_(visible))
        if not include_deleted:
            stmt = stmt.where(Contribution.deleted_at.is_(None))
        return stmt

    async def get_in(
        self,
        session: AsyncSession,
        principal: Principal,
        partnership_id: uuid.UUID,
        contribution_id: uuid.UUID,
        *,
        for_update: bool = False,
    ) -> Contribution:
        """The contribution if it belongs to this partnership (404 otherwise)."""
        entity = await self.get(session, principal, contribution_id, for_update=for_update)
        if entity.partnership_id != partnership_id:
            raise NotFound(M.contribution_not_found)
        return entity


class ServiceAccountRepository(ScopedRepository[ServiceAccount]):
    model = ServiceAccount
    resource = "service_accounts"
    label = "service account"
    keyset = Keyset(
        columns={"created_at": ServiceAccount.created_at, "updated_at": ServiceAccount.updated_at},
        id_column=ServiceAccount.id,
    )


partners = PartnerRepository()
partnerships = PartnershipRepository()
contributions = ContributionRepository()
service_accounts = ServiceAccountRepository()
