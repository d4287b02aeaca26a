"""The scoped repository every resource uses: find, list, create, patch, soft delete, restore.

A resource subclasses ``ScopedRepository`` and says three things: its table, its
name (for policy and audit), and ``scope(principal)`` — the SQL condition of the
rows the caller may see, taken from ``app.auth.policy``. Everything else (404
for out-of-scope or deleted rows, If-Match under a row lock, version bumps,
audit events, keyset lists) is written here once.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Any, ClassVar, Generic, TypeVar

from fastapi import Request
from sqlalchemy import ColumnElement, Select, bindparam, func, select, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel

from app.auth.models import User
from app.auth.policy import DELETE, RESTORE, WRITE, authorize
from app.core import audit, i18n
from app.core.errors import Conflict, NotFound
from app.core.fastpath import fetch_views
from app.core.http import check_if_match
from app.core.models import utcnow
from app.core.pagination import Keyset, ListParams, paginate
from app.core.principal import Principal

M = TypeVar("M", bound=SQLModel)
_KEPT_STATEMENTS = 4096


class ScopedRepository(Generic[M]):
    model: ClassVar[type[Any]]
    resource: ClassVar[str]
    label: ClassVar[str]  # singular, for messages: "community"
    keyset: ClassVar[Keyset]

    def __init__(self) -> None:
        # Statements per caller and purpose (``_kept``).
        self._statements: dict[tuple[Any, ...], Select[Any]] = {}

    def scope(self, principal: Principal) -> ColumnElement[bool]:
        """Rows the caller may see; override per resource with a rule from the policy."""
        return true()

    def read_columns(self) -> tuple[Any, ...]:
        """Labelled columns computed by the database beside each row that GET-by-id and
        list pages read (a summary the answer shows): no query of their own."""
        return ()

    def base_query(self, principal: Principal, *, include_deleted: bool = False) -> Select[Any]:
        stmt = select(self.model).where(self.scope(principal))
        if not include_deleted:
            stmt = stmt.where(self.model.deleted_at.is_(None))
        return stmt

    async def get(
        self,
        session: AsyncSession,
        principal: Principal,
        item_id: uuid.UUID,
        *,
        for_update: bool = False,
        include_deleted: bool = False,
    ) -> M:
        """The row if the caller may see it, else 404 (never 403: no existence leak).

        Without ``for_update`` the row is read for presenting: a read-only view read on
        the driver (``fetch_views``), not an entity in the session."""
        row: Any
        if for_update:
            stmt = self.base_query(principal, include_deleted=include_deleted).where(
                self.model.id == item_id
            )
            stmt = stmt.with_for_update(of=self.model)
            row = (await session.execute(stmt)).scalar_one_or_none()
        else:
            stmt = self._by_id(principal, include_deleted)
            row = next(iter(await fetch_views(session, stmt, {"item_id": item_id})), None)
        if row is None:
            raise NotFound(i18n.M.not_found(thing=self.label))
        return row

    def _by_id(self, principal: Principal, include_deleted: bool) -> Select[Any]:
        """The GET-by-id statement of this caller, the id a bound parameter."""
        return self._kept(
            ("by_id", include_deleted),
            principal,
            lambda: (
                self.base_query(principal, include_deleted=include_deleted)
                .where(self.model.id == bindparam("item_id"))
                .add_columns(*self.read_columns())
            ),
        )

    def _kept(
        self, purpose: tuple[Any, ...], principal: Principal, build: Callable[[], Select[Any]]
    ) -> Select[Any]:
        """A statement of this caller built once: the scope depends only on the principal's
        role, id and organisation (assignments are read in SQL, not taken from it)."""
        key = (*purpose, principal.role, principal.id, principal.organization_id)
        cache = self._statements
        stmt = cache.get(key)
        if stmt is None:
            if len(cache) >= _KEPT_STATEMENTS:
                cache.clear()
            stmt = cache[key] = build()
        return stmt

    async def page(
        self,
        session: AsyncSession,
        principal: Principal,
        params: ListParams,
        *,
        conditions: Iterable[ColumnElement[bool]] = (),
        filters: Mapping[str, Any] | None = None,
    ) -> tuple[list[M], str | None]:
        """A list page the caller may see; the statement without the filters and the
        cursor is kept per caller and compiled once per shape (``fetch_page``)."""
        base = self._kept(
            ("page",),
            principal,
            lambda: self.base_query(principal).add_columns(*self.read_columns()),
        )
        rows, next_cursor = await paginate(
            session,
            base,
            keyset=self.keyset,
            params=params,
            filters=filters or {},
            conditions=list(conditions),
            updated_column=self.model.updated_at,
            kept=True,
        )
        return list(rows), next_cursor

    async def add(
        self, session: AsyncSession, principal: Principal, entity: M, *, action: str = "create"
    ) -> M:
        session.add(entity)
        await session.flush()
        await audit.record(
            session,
            principal,
            action,
            self.resource,
            entity.id,  # type: ignore[attr-defined]
            changed_fields=entity.model_fields_set - {"id"},
        )
        return entity

    async def get_for_change(
        self,
        session: AsyncSession,
        principal: Principal,
        item_id: uuid.UUID,
        request: Request,
        action: str = WRITE,
    ) -> M:
        """Lock the row, then: 404 if unseen, 403 if the role may not, 412 if stale."""
        entity = await self.get(session, principal, item_id, for_update=True)
        authorize(principal, self.resource, action)
        check_if_match(request, entity.version)  # type: ignore[attr-defined]
        return entity

    async def apply_changes(
        self,
        session: AsyncSession,
        principal: Principal,
        entity: M,
        changes: Mapping[str, Any],
        *,
        action: str = "update",
        also_changed: Iterable[str] = (),
    ) -> list[str]:
        """Merge ``changes`` into the row; bump its version; audit the changed field names.

        ``also_changed`` names changes the caller made elsewhere (link tables) that count
        as a change of this resource."""
        changed = [field for field, value in changes.items() if getattr(entity, field) != value]
        for field in changed:
            setattr(entity, field, changes[field])
        changed.extend(also_changed)
        if changed:
            touch(entity)
            await session.flush()
            await audit.record(
                session,
                principal,
                action,
                self.resource,
                entity.id,  # type: ignore[attr-defined]
                changed_fields=changed,
            )
        return changed

    async def soft_delete(
        self, session: AsyncSession, principal: Principal, item_id: uuid.UUID, request: Request
    ) -> M:
        entity = await self.get_for_change(session, principal, item_id, request, DELETE)
        entity.deleted_at = utcnow()
        touch(entity)
        await session.flush()
        await audit.record(session, principal, "delete", self.resource, item_id)
        return entity

    async def restore(self, session: AsyncSession, principal: Principal, item_id: uuid.UUID) -> M:
        authorize(principal, self.resource, RESTORE)
        entity = await self.get(session, principal, item_id, for_update=True, include_deleted=True)
        if entity.deleted_at is not None:  # type: ignore[attr-defined]
            await self.before_restore(session, entity)
            entity.deleted_at = None
            touch(entity)
            await session.flush()
            await audit.record(session, principal, "restore", self.resource, item_id)
        return entity

    async def before_restore(self, session: AsyncSession, entity: M) -> None:
        """Hook: refuse a restore that would break a uniqueness rule (409)."""


def touch(entity: Any) -> None:
    entity.version = (entity.version or 0) + 1
    entity.updated_at = utcnow()


class UserRepository(ScopedRepository[User]):
    model = User
    resource = "users"
    label = "user"
    keyset = Keyset(
        columns={"created_at": User.created_at, "email": User.email, "updated_at": User.updated_at},
        id_column=User.id,
    )

    async def before_restore(self, session: AsyncSession, entity: User) -> None:
        taken = await session.scalar(
            select(func.count()).where(
                func.lower(User.email) == entity.email.lower(), User.deleted_at.is_(None)
            )
        )
        if taken:
            raise Conflict(i18n.M.email_taken_live)


users = UserRepository()


async def live_user_role(session: AsyncSession, user_id: uuid.UUID) -> str | None:
    """The role of a live user; None for an unknown or deleted one."""
    return await session.scalar(
        select(User.role).where(User.id == user_id, User.deleted_at.is_(None))
    )
