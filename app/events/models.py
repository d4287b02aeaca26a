"""The outbox table: one row per event, written in the transaction of the change.

Order and the feed's "never skip": every row stores the id of the transaction that wrote
it (``txid``, from ``pg_current_xact_id()``) and a sequence number (``seq``). The feed
orders by ``(txid, seq)`` and reads only rows whose transaction is older than the oldest
transaction still running (``pg_snapshot_xmin``): a transaction that commits late has a
``txid`` at or above that horizon, so it can never land behind a cursor already handed
out (see ``app.events.repository``).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Column, DateTime, Identity, Index, func, text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.dialects.postgresql import UUID as PGUUID
from sqlmodel import Field

from app.core.models import IdMixin, empty_dict, empty_list, utcnow

# The statement default of ``txid``: the writing transaction's 64-bit id (PostgreSQL 13+).
TXID_DEFAULT = "(pg_current_xact_id()::text)::bigint"
# What the dispatchers LISTEN on; a statement trigger on ``events`` notifies at commit.
EVENTS_CHANNEL = "berdaya_events"


class Event(IdMixin, table=True):
    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_txid_seq", "txid", "seq"),
        Index("ix_events_type_txid_seq", "type", "txid", "seq"),
    )

    seq: int | None = Field(
        default=None,
        sa_column=Column(BigInteger, Identity(always=False), nullable=False, unique=True),
    )
    txid: int | None = Field(
        default=None,
        sa_column=Column(BigInteger, nullable=False, server_default=text(TXID_DEFAULT)),
    )
    type: str = Field(max_length=60, nullable=False)
    occurred_at: datetime = Field(
        default_factory=utcnow,
        sa_type=DateTime(timezone=True),
        nullable=False,
        sa_column_kwargs={"server_default": func.now()},
    )
    data: dict[str, Any] = Field(default_factory=empty_dict, sa_type=JSONB, nullable=False)
    # Scope, read by the feed and by the dispatcher at send time (never sent out):
    # which resource family the event is about and the ids its visibility depends on.
    resource: str = Field(max_length=40, nullable=False)
    program_ids: list[uuid.UUID] = Field(
        default_factory=empty_list,
        sa_column=Column(
            ARRAY(PGUUID(as_uuid=True)), nullable=False, server_default=text("'{}'::uuid[]")
        ),
    )
    partner_id: uuid.UUID | None = Field(default=None, nullable=True)
    community_id: uuid.UUID | None = Field(default=None, nullable=True)


__all__ = ["EVENTS_CHANNEL", "TXID_DEFAULT", "Event"]
