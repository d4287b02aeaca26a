"""The one query of audit events: a filtered keyset page, newest first by default."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.audit import AuditEvent
from app.core.pagination import Keyset, ListParams, paginate

KEYSET = Keyset(columns={"at": AuditEvent.at}, id_column=AuditEvent.id, default="-at")


async def page(
    session: AsyncSession,
    params: ListParams,
    *,
    actor_id: uuid.UUID | None = None,
    resource: str | None = None,
    resource_id: uuid.UUID | None = None,
    action: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> tuple[Sequence[AuditEvent], str | None]:
    stmt = select(AuditEvent)
    if actor_id is not None:
        stmt = stmt.where(AuditEvent.actor_id == actor_id)
    if resource is not None:
        stmt = stmt.where(AuditEvent.resource == resource)
    if resource_id is not None:
        stmt = stmt.where(AuditEvent.resource_id == resource_id)
    if action is not None:
        stmt = stmt.where(AuditEvent.action == action)
    if since is not None:
        stmt = stmt.where(AuditEvent.at >= since)
    if until is not None:
        stmt = stmt.where(AuditEvent.at < until)
    return await paginate(
        session,
        stmt,
        keyset=KEYSET,
        params=params,
        filters={
            "actor_id": actor_id,
            "resource": resource,
            "resource_id": resource_id,
            "action": action,
            "since": since,
            "until": until,
        },
        updated_column=AuditEvent.at,
    )
