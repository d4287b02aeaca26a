"""Tables of field sync: the change log read by the changes feed, the mutations each
device pushed (answered again on a retry), and the purge horizon of the change log.

The change log is written by database triggers (migration 0011), not by the services:
every write to a synced table lands in it, whichever code path made it (PATCH, PUT,
batch upload, erasure, transitions, a CLI command), in the writing transaction.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, Index, Integer, func, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel


class SyncChange(SQLModel, table=True):
    """One committed change of a synced row, or of a facilitator's assignment.

    ``txid`` is the writing transaction (``pg_current_xact_id()``); the feed orders by
    ``(txid, seq)`` and hands out only positions below the oldest transaction still
    running, so a transaction that commits late can never be skipped."""

    __tablename__ = "sync_changes"
    __table_args__ = (
        Index("ix_sync_changes_txid_seq", "txid", "seq"),
        Index("ix_sync_changes_changed_at", "changed_at"),
    )

    seq: int | None = Field(
        default=None, sa_type=BigInteger, primary_key=True, sa_column_kwargs={"autoincrement": True}
    )
    txid: int = Field(
        sa_type=BigInteger,
        nullable=False,
        sa_column_kwargs={"server_default": text("(pg_current_xact_id()::text::bigint)")},
    )
    # communities, people, ..., or community_facilitators (scope entries)
    resource: str = Field(max_length=40, nullable=False)
    # The row's id; for scope entries the facilitator's user id.
    row_id: uuid.UUID = Field(nullable=False)
    # upsert | delete | move_out (the row left ``community_id``) | enter | leave
    op: str = Field(max_length=10, nullable=False)
    version: int = Field(sa_type=Integer, nullable=False)
    community_id: uuid.UUID | None = Field(default=None, nullable=True)
    program_id: uuid.UUID | None = Field(default=None, nullable=True)
    changed_at: datetime = Field(
        sa_type=DateTime(timezone=True),
        nullable=False,
        sa_column_kwargs={"server_default": func.now()},
    )


class SyncMutation(SQLModel, table=True):
    """A device's mutation and the answer it got: a retry gets the same answer."""

    __tablename__ = "sync_mutations"

    user_id: uuid.UUID = Field(primary_key=True)
    device_id: str = Field(primary_key=True, max_length=100)
    mutation_id: str = Field(primary_key=True, max_length=100)
    result: dict[str, Any] = Field(sa_type=JSONB, nullable=False)
    created_at: datetime = Field(
        sa_type=DateTime(timezone=True),
        nullable=False,
        index=True,
        sa_column_kwargs={"server_default": func.now()},
    )


class SyncHorizon(SQLModel, table=True):
    """The change log was purged up to this position: older cursors answer 410."""

    __tablename__ = "sync_horizon"

    id: int = Field(default=1, primary_key=True)
    txid: int = Field(sa_type=BigInteger, nullable=False)
    seq: int = Field(sa_type=BigInteger, nullable=False)
    purged_at: datetime = Field(sa_type=DateTime(timezone=True), nullable=False)
