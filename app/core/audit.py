"""Audit events: who did what to which resource, naming changed fields but never values."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import DateTime, Index, String, func
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field

from app.core.context import request_id_var
from app.core.deferred import defer
from app.core.models import IdMixin, utcnow, uuid7

if TYPE_CHECKING:
    from app.core.principal import Principal


class AuditEvent(IdMixin, table=True):
    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_resource", "resource", "resource_id"),
        Index("ix_audit_events_at_id", "at", "id"),
    )

    at: datetime = Field(
        default_factory=utcnow,
        sa_type=DateTime(timezone=True),
        nullable=False,
        sa_column_kwargs={"server_default": func.now()},
    )
    actor_id: uuid.UUID | None = Field(default=None, nullable=True, index=True)
    actor_kind: str | None = Field(default=None, max_length=20, nullable=True)
    action: str = Field(max_length=40, nullable=False)
    resource: str = Field(max_length=60, nullable=False)
    resource_id: uuid.UUID | None = Field(default=None, nullable=True)
    changed_fields: list[str] = Field(
        default_factory=list,
        sa_type=ARRAY(String()),
        nullable=False,
    )
    request_id: str | None = Field(default=None, max_length=64, nullable=True)
    # Free text chosen by code, never by input that may hold personal data
    # (e.g. the declared purpose of an identified export).
    note: str | None = Field(default=None, max_length=500, nullable=True)


async def record(
    session: AsyncSession,
    principal: Principal | None,
    action: str,
    resource: str,
    resource_id: uuid.UUID | None = None,
    changed_fields: Iterable[str] = (),
    note: str | None = None,
    *,
    at_once: bool = False,
) -> None:
    """Add an audit event to the caller's transaction: written when it commits, with the
    change, in one statement with the transaction's other events (``app.core.deferred``);
    ``at_once``: written now (a later statement of the transaction reads it)."""
    await defer(
        session,
        AuditEvent.__table__,  # type: ignore[attr-defined]
        {
            "id": uuid7(),
            "at": utcnow(),
            "actor_id": principal.id if principal else None,
            "actor_kind": principal.kind if principal else None,
            "action": action,
            "resource": resource,
            "resource_id": resource_id,
            "changed_fields": sorted(set(changed_fields)),
            "request_id": request_id_var.get(),
            "note": note,
        },
        at_once=at_once,
    )
