"""Status lifecycles: one state-machine helper and one history table for every resource.

A resource declares its machine as ``{from_status: {allowed next statuses}}``; a
transition locks the row, checks the move (409 naming the allowed moves), runs the
resource's own preconditions, writes the history row and the audit event.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import DateTime, Index, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field as SQLField
from sqlmodel import col

from app.core import audit
from app.core.errors import Conflict
from app.core.i18n import Labelled, M, vocabulary_of
from app.core.models import IdMixin, utcnow
from app.core.principal import Principal
from app.core.schemas import InputModel


class StatusTransition(IdMixin, table=True):
    __tablename__ = "status_transitions"
    __table_args__ = (Index("ix_status_transitions_resource", "resource", "resource_id", "at"),)

    resource: str = SQLField(max_length=60, nullable=False)
    resource_id: uuid.UUID = SQLField(nullable=False)
    from_status: str = SQLField(max_length=30, nullable=False)
    to_status: str = SQLField(max_length=30, nullable=False)
    actor_id: uuid.UUID | None = SQLField(default=None, nullable=True)
    note: str | None = SQLField(default=None, max_length=2000, nullable=True)
    at: datetime = SQLField(
        default_factory=utcnow,
        sa_type=DateTime(timezone=True),
        nullable=False,
        sa_column_kwargs={"server_default": func.now()},
    )


class TransitionRequest(InputModel):
    to: str = Field(examples=["in_progress"])
    note: str | None = Field(default=None, max_length=2000)


class TransitionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    from_status: str
    to_status: str
    actor_id: uuid.UUID | None
    note: str | None
    at: datetime


def check_move(machine: Mapping[str, set[str]], current: str, target: str) -> None:
    allowed = sorted(machine.get(current, set()))
    if target not in allowed:
        # The states by their labels in the message; ``allowed`` keeps the values.
        enum = vocabulary_of(set(machine).union(*machine.values())) or ""
        here, there = Labelled(enum, current), Labelled(enum, target)
        raise Conflict(
            M.move_not_allowed(
                current=here, target=there, allowed=[Labelled(enum, a) for a in allowed]
            )
            if allowed
            else M.move_none_allowed(current=here, target=there),
            extra={"allowed": allowed},
        )


async def record_transition(
    session: AsyncSession,
    principal: Principal,
    resource: str,
    entity: Any,
    target: str,
    note: str | None = None,
) -> None:
    """Set the status (the caller holds the row lock) and write history and audit."""
    previous = entity.status
    entity.status = target
    entity.version += 1
    entity.updated_at = utcnow()
    session.add(
        StatusTransition(
            resource=resource,
            resource_id=entity.id,
            from_status=previous,
            to_status=target,
            actor_id=principal.id,
            note=note,
        )
    )
    await session.flush()
    await audit.record(
        session,
        principal,
        "transition",
        resource,
        entity.id,
        ["status"],
        note=f"{previous}->{target}",
    )


async def history(
    session: AsyncSession, resource: str, resource_id: uuid.UUID
) -> list[StatusTransition]:
    """The status history of one thing, oldest first."""
    rows = await session.execute(
        select(StatusTransition)
        .where(StatusTransition.resource == resource, StatusTransition.resource_id == resource_id)
        .order_by(col(StatusTransition.at), col(StatusTransition.id))
    )
    return list(rows.scalars())
