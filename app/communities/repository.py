"""Every query of communities, their facilitator assignments and development indices."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, delete, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.auth.models import User
from app.auth.policy import community_scope
from app.auth.repository import ScopedRepository
from app.communities.models import (
    Community,
    CommunityFacilitator,
    CommunityKind,
    DevelopmentIndex,
)
from app.core.errors import Conflict, NotFound
from app.core.i18n import M
from app.core.pagination import Keyset, ListParams
from app.core.principal import Principal


async def ensure_year_free(
    session: AsyncSession,
    community_id: uuid.UUID,
    year: int,
    scheme: str = "idm",
    exclude: uuid.UUID | None = None,
) -> None:
    """One live entry per community, year and scheme."""
    stmt = select(func.count()).where(
        DevelopmentIndex.community_id == community_id,
        DevelopmentIndex.year == year,
        DevelopmentIndex.scheme == scheme,
        DevelopmentIndex.deleted_at.is_(None),
    )
    if exclude is not None:
        stmt = stmt.where(DevelopmentIndex.id != exclude)
    if await session.scalar(stmt):
        raise Conflict(M.index_year_taken(scheme=scheme, year=year))


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
        id_column=Community.id,
    )

    def scope(self, principal: Principal) -> ColumnElement[bool]:
        return community_scope(principal, Community.id)

    @staticmethod
    def conditions(
        kind: CommunityKind | None, region_code: str | None, q: str | None
    ) -> list[ColumnElement[bool]]:
        """The list filters: kind, region code prefix, name search."""
        conditions: list[ColumnElement[bool]] = []
        if kind is not None:
            conditions.append(Community.kind == kind.value)
        if region_code is not None:
            conditions.append(col(Community.region_code).startswith(region_code, autoescape=True))
        if q is not None:
            conditions.append(col(Community.name).icontains(q, autoescape=True))
        return conditions


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
        id_column=DevelopmentIndex.id,
        default="year",
    )

    def scope(self, principal: Principal) -> ColumnElement[bool]:
        return community_scope(principal, DevelopmentIndex.community_id)

    async def before_restore(self, session: AsyncSession, entity: DevelopmentIndex) -> None:
        await ensure_year_free(session, entity.community_id, entity.year, entity.scheme)

    @staticmethod
    def check_community(entry: DevelopmentIndex, community_id: uuid.UUID) -> None:
        """An index reached under another community's path is not found there."""
        if entry.community_id != community_id:
            raise NotFound(M.not_found(thing="development index"))

    async def get_in_community(
        self,
        session: AsyncSession,
        principal: Principal,
        community_id: uuid.UUID,
        index_id: uuid.UUID,
    ) -> DevelopmentIndex:
        entry = await self.get(session, principal, index_id)
        self.check_community(entry, community_id)
        return entry

    async def page_of_community(
        self,
        session: AsyncSession,
        principal: Principal,
        params: ListParams,
        community_id: uuid.UUID,
    ) -> tuple[list[DevelopmentIndex], str | None]:
        return await self.page(
            session,
            principal,
            params,
            conditions=[col(DevelopmentIndex.community_id) == community_id],
            filters={"community_id": community_id},
        )


communities = CommunityRepository()
indices = DevelopmentIndexRepository()


# --- facilitator assignments ----------------------------------------------------------------


async def facilitators_of(session: AsyncSession, community_id: uuid.UUID) -> Sequence[Any]:
    """The live users assigned to the community, by name (rows of id, full_name, email)."""
    rows = await session.execute(
        select(User.id, User.full_name, User.email)
        .join(CommunityFacilitator, CommunityFacilitator.user_id == User.id)
        .where(CommunityFacilitator.community_id == community_id, User.deleted_at.is_(None))
        .order_by(User.full_name, User.id)
    )
    return rows.all()


async def add_facilitator(
    session: AsyncSession, community_id: uuid.UUID, user_id: uuid.UUID
) -> bool:
    """Assign the user; False when the assignment was already there."""
    result = await session.execute(
        insert(CommunityFacilitator)
        .values(community_id=community_id, user_id=user_id)
        .on_conflict_do_nothing()
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def remove_facilitator(
    session: AsyncSession, community_id: uuid.UUID, user_id: uuid.UUID
) -> None:
    await session.execute(
        delete(CommunityFacilitator).where(
            CommunityFacilitator.community_id == community_id,
            CommunityFacilitator.user_id == user_id,
        )
    )
