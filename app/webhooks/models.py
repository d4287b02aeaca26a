"""Webhook endpoints, their deliveries and the dispatchers' fan-out cursor."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
    Index,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlmodel import Field, SQLModel

from app.core.models import IdMixin, ResourceMixin, empty_list, enum_check, utcnow


class DeliveryStatus(StrEnum):
    pending = "pending"  # waiting for its (next) attempt
    delivering = "delivering"  # claimed by a dispatcher whose lease has not run out
    delivered = "delivered"  # the receiver answered 2xx
    failed = "failed"  # every attempt failed, or the receiver answered 410
    skipped = "skipped"  # the endpoint's organisation may no longer see the event


class WebhookEndpoint(ResourceMixin, table=True):
    __tablename__ = "webhook_endpoints"
    __table_args__ = (
        CheckConstraint("url ~ '^https?://'", name="url_http"),
        Index("ix_webhook_endpoints_organization_id", "organization_id"),
    )

    # The partner organisation it receives for; null: internal (sees every event).
    organization_id: uuid.UUID | None = Field(
        default=None, foreign_key="partners.id", nullable=True, ondelete="CASCADE"
    )
    url: str = Field(max_length=2000, nullable=False)
    event_types: list[str] = Field(
        default_factory=empty_list, sa_type=ARRAY(String(60)), nullable=False
    )
    description: str | None = Field(default=None, max_length=500, nullable=True)
    is_active: bool = Field(default=True, nullable=False)
    disabled_reason: str | None = Field(default=None, max_length=40, nullable=True)
    # Secrets (``whsec_…``) only encrypted (app.core.pii): a dump of the database cannot sign.
    secret_encrypted: str = Field(sa_type=Text, nullable=False)
    previous_secret_encrypted: str | None = Field(default=None, sa_type=Text, nullable=True)
    previous_secret_expires_at: datetime | None = Field(
        default=None, sa_type=DateTime(timezone=True), nullable=True
    )
    created_by: uuid.UUID | None = Field(default=None, nullable=True)
    # The first failure since the last success (null while healthy): 5 days → disabled.
    failing_since: datetime | None = Field(
        default=None, sa_type=DateTime(timezone=True), nullable=True
    )
    last_success_at: datetime | None = Field(
        default=None, sa_type=DateTime(timezone=True), nullable=True
    )


class WebhookDelivery(IdMixin, table=True):
    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        enum_check("status", DeliveryStatus),
        # One delivery per event and endpoint (the fan-out may run twice: nothing doubles).
        Index(
            "uq_webhook_deliveries_endpoint_event",
            "endpoint_id",
            "event_id",
            unique=True,
            postgresql_where=text("event_id IS NOT NULL"),
        ),
        Index("ix_webhook_deliveries_endpoint_created", "endpoint_id", "created_at", "id"),
        # What dispatchers claim: open deliveries by due time.
        Index(
            "ix_webhook_deliveries_due",
            "next_attempt_at",
            postgresql_where=text("status IN ('pending', 'delivering')"),
        ),
    )

    endpoint_id: uuid.UUID = Field(
        foreign_key="webhook_endpoints.id", nullable=False, ondelete="CASCADE"
    )
    # The event delivered (null for a ``ping``, whose body is kept in ``payload``).
    event_id: uuid.UUID | None = Field(
        default=None, foreign_key="events.id", nullable=True, ondelete="CASCADE"
    )
    payload: dict[str, Any] | None = Field(default=None, sa_type=JSONB, nullable=True)
    event_type: str = Field(max_length=60, nullable=False)
    status: str = Field(default=DeliveryStatus.pending.value, max_length=20, nullable=False)
    attempts: int = Field(default=0, nullable=False)
    next_attempt_at: datetime = Field(
        default_factory=utcnow,
        sa_type=DateTime(timezone=True),
        nullable=False,
        sa_column_kwargs={"server_default": func.now()},
    )
    lease_until: datetime | None = Field(
        default=None, sa_type=DateTime(timezone=True), nullable=True
    )
    lease_owner: str | None = Field(default=None, max_length=80, nullable=True)
    last_status_code: int | None = Field(default=None, nullable=True)
    last_error: str | None = Field(default=None, max_length=200, nullable=True)
    last_duration_ms: int | None = Field(default=None, nullable=True)
    # At most 1 KiB of the receiver's answer, as text.
    last_response: str | None = Field(default=None, max_length=1024, nullable=True)
    # Every attempt: {"at", "status_code", "duration_ms", "error"} (bounded, newest last).
    attempt_log: list[dict[str, Any]] = Field(
        default_factory=empty_list,
        sa_column=Column(JSONB, nullable=False, server_default=text("'[]'::jsonb")),
    )
    delivered_at: datetime | None = Field(
        default=None, sa_type=DateTime(timezone=True), nullable=True
    )
    created_at: datetime = Field(
        default_factory=utcnow,
        sa_type=DateTime(timezone=True),
        nullable=False,
        sa_column_kwargs={"server_default": func.now()},
    )
    updated_at: datetime = Field(
        default_factory=utcnow,
        sa_type=DateTime(timezone=True),
        nullable=False,
        sa_column_kwargs={"server_default": func.now()},
    )


class WebhookFanout(SQLModel, table=True):
    """One row: how far (``(txid, seq)`` of ``events``) deliveries have been made."""

    __tablename__ = "webhook_fanout"

    id: int = Field(default=1, primary_key=True)
    last_txid: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    last_seq: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
