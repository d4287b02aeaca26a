"""Every query of communities and their development indices."""

from __future__ import annotations

import uuid

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.policy import community_scope
from app.auth.repository import ScopedRepository
from app.communities.models import Community, DevelopmentIndex
from app.core.errors import Conflict
from app.core.pagination import Keyset
from app.core.principal import Principal


async def ensure_year_free(
    session: AsyncSession, community_id: uuid.UUID, year: int, exclude: uuid.UUID | None = None
) -> None:
    stmt = select(func.count()).where(
        DevelopmentIndex.community_id == community_id,
        DevelopmentIndex.year == year,
        DevelopmentIndex.deleted_at.is_(None),
    )
    if exclude is not None:
        stmt = stmt.where(DevelopmentIndex.id != exclude)
    if await session.scalar(stmt):
        raise Conflict(f"this community already has a development index for {year}")


class CommunityRepository(ScopedRepository[Community]):
    model = Community
    resource = "communities"
    label = "community"
    keyset = Keyset(
        columns={
            "created_at": Community.created_at,
            "updated_at": Community.updated_at,
            "name": Community.name,
        },
        id_column=Community.id,  # type: ignore[arg-type]
    )

    def scope(self, principal: Principal) -> ColumnElement[bool]:
        return community_scope(principal, Community.id)


class DevelopmentIndexRepository(ScopedRepository[DevelopmentIndex]):
    model = DevelopmentIndex
    resource = "development_indices"
    label = "development index"
    keyset = Keyset(
        columns={
            "created_at": DevelopmentIndex.created_at,
            "updated_at": DevelopmentIndex.updated_at,
            "year": DevelopmentIndex.year,
        },
        id_column=DevelopmentIndex.id,  # type: ignore[arg-type]
        default="year",
    )

    def scope(self, principal: Principal) -> ColumnElement[bool]:
        return community_scope(principal, DevelopmentIndex.community_id)

    async def before_restore(self, session: AsyncSession, entity: DevelopmentIndex) -> None:
        await ensure_year_free(session, entity.community_id, entity.year)


communities = CommunityRepository()
indices = DevelopmentIndexRepository()
