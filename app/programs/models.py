"""Tables: programs, their communities and addressed findings, activities, indicators,
measurements and budget lines (RAB)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    Index,
    Numeric,
    String,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlmodel import Field, SQLModel

from app.core.models import ResourceMixin, empty_list, enum_check


class ProgramStatus(StrEnum):
    draft = "draft"
    submitted = "submitted"
    approved = "approved"
    active = "active"
    completed = "completed"
    cancelled = "cancelled"


PROGRAM_MACHINE: dict[str, set[str]] = {
    "draft": {"submitted", "cancelled"},
    "submitted": {"approved", "draft", "cancelled"},
    "approved": {"active", "cancelled"},
    "active": {"completed", "cancelled"},
    "completed": set(),
    "cancelled": set(),
}
CLOSED_STATUSES = {ProgramStatus.completed.value, ProgramStatus.cancelled.value}


class ActivityKind(StrEnum):
    training = "training"
    mentoring = "mentoring"
    deliberation = "deliberation"
    infrastructure = "infrastructure"
    outreach = "outreach"
    monitoring = "monitoring"
    other = "other"


class ActivityStatus(StrEnum):
    planned = "planned"
    done = "done"
    cancelled = "cancelled"


class Direction(StrEnum):
    increase = "increase"
    decrease = "decrease"


class Program(ResourceMixin, table=True):
    __tablename__ = "programs"
    __table_args__ = (
        enum_check("status", ProgramStatus),
        CheckConstraint(
            "end_date IS NULL OR start_date IS NULL OR end_date >= start_date", name="dates_ordered"
        ),
        Index("ix_programs_created_at_id", "created_at", "id"),
        Index("ix_programs_status_created_at_id", "status", "created_at", "id"),
        # Codes are unique ignoring case (PRG-2026-0001 and prg-2026-0001 are one code).
        Index("uq_programs_code_lower", text("lower(code)"), unique=True),
    )

    code: str = Field(max_length=40, nullable=False, unique=True)
    title: str = Field(max_length=300, nullable=False)
    summary: str | None = Field(default=None, sa_type=Text, nullable=True)
    background: str | None = Field(default=None, sa_type=Text, nullable=True)
    objectives: list[str] = Field(
        default_factory=empty_list,
        sa_type=ARRAY(String()),
        nullable=False,
        sa_column_kwargs={"server_default": "{}"},
    )
    target_beneficiaries: int | None = Field(default=None, nullable=True)
    beneficiaries_description: str | None = Field(default=None, max_length=2000, nullable=True)
    start_date: date | None = Field(default=None, sa_type=Date, nullable=True)
    end_date: date | None = Field(default=None, sa_type=Date, nullable=True)
    funding_source: str | None = Field(default=None, max_length=300, nullable=True)
    coordinator_id: uuid.UUID | None = Field(
        default=None, foreign_key="users.id", nullable=True, index=True
    )
    status: str = Field(
        default="draft", max_length=20, nullable=False, sa_column_kwargs={"server_default": "draft"}
    )
    # Always the sum of the live budget lines; maintained by the service, never set.
    budget_amount: int = Field(
        default=0,
        sa_type=BigInteger,
        nullable=False,
        sa_column_kwargs={"server_default": "0"},
    )


class ProgramCommunity(SQLModel, table=True):
    __tablename__ = "program_communities"

    program_id: uuid.UUID = Field(foreign_key="programs.id", primary_key=True, ondelete="CASCADE")
    community_id: uuid.UUID = Field(foreign_key="communities.id", primary_key=True, index=True)


class ProgramFinding(SQLModel, table=True):
    __tablename__ = "program_findings"

    program_id: uuid.UUID = Field(foreign_key="programs.id", primary_key=True, ondelete="CASCADE")
    finding_id: uuid.UUID = Field(foreign_key="findings.id", primary_key=True, index=True)


class ProgramCodeCounter(SQLModel, table=True):
    """Last number used per year for PRG-YYYY-NNNN; bumped inside the creating transaction,
    so concurrent creates get consecutive numbers and a rolled-back create leaves no gap."""

    __tablename__ = "program_code_counters"

    year: int = Field(primary_key=True)
    last_number: int = Field(default=0, nullable=False)


class Activity(ResourceMixin, table=True):
    __tablename__ = "activities"
    __table_args__ = (
        enum_check("kind", ActivityKind),
        enum_check("status", ActivityStatus),
        CheckConstraint(
            "scheduled_end IS NULL OR scheduled_end >= scheduled_start", name="schedule_ordered"
        ),
        Index("ix_activities_program_id_created_at_id", "program_id", "created_at", "id"),
        Index("ix_activities_community_id", "community_id"),
    )

    program_id: uuid.UUID = Field(foreign_key="programs.id", nullable=False)
    community_id: uuid.UUID = Field(foreign_key="communities.id", nullable=False)
    title: str = Field(max_length=300, nullable=False)
    kind: str = Field(max_length=20, nullable=False)
    description: str | None = Field(default=None, sa_type=Text, nullable=True)
    scheduled_start: datetime = Field(sa_type=DateTime(timezone=True), nullable=False)
    scheduled_end: datetime | None = Field(
        default=None,
        sa_type=DateTime(timezone=True),
        nullable=True,
    )
    location: str | None = Field(default=None, max_length=300, nullable=True)
    status: str = Field(
        default="planned",
        max_length=20,
        nullable=False,
        sa_column_kwargs={"server_default": "planned"},
    )


class Indicator(ResourceMixin, table=True):
    __tablename__ = "indicators"
    __table_args__ = (
        enum_check("direction", Direction),
        Index("ix_indicators_program_id_created_at_id", "program_id", "created_at", "id"),
    )

    program_id: uuid.UUID = Field(foreign_key="programs.id", nullable=False)
    name: str = Field(max_length=300, nullable=False)
    unit: str = Field(max_length=60, nullable=False)
    baseline: Decimal = Field(sa_type=Numeric(18, 4), nullable=False)
    target: Decimal = Field(sa_type=Numeric(18, 4), nullable=False)
    direction: str = Field(
        default="increase",
        max_length=10,
        nullable=False,
        sa_column_kwargs={"server_default": "increase"},
    )


class Measurement(ResourceMixin, table=True):
    __tablename__ = "measurements"
    __table_args__ = (
        Index("ix_measurements_indicator_id_created_at_id", "indicator_id", "created_at", "id"),
    )

    indicator_id: uuid.UUID = Field(foreign_key="indicators.id", nullable=False)
    measured_on: date = Field(sa_type=Date, nullable=False)
    value: Decimal = Field(sa_type=Numeric(18, 4), nullable=False)
    note: str | None = Field(default=None, max_length=2000, nullable=True)


class BudgetLine(ResourceMixin, table=True):
    __tablename__ = "budget_lines"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("unit_cost_amount >= 0", name="unit_cost_non_negative"),
        Index("ix_budget_lines_program_id_created_at_id", "program_id", "created_at", "id"),
    )

    program_id: uuid.UUID = Field(foreign_key="programs.id", nullable=False)
    description: str = Field(max_length=500, nullable=False)
    quantity: Decimal = Field(sa_type=Numeric(14, 2), nullable=False)
    unit: str = Field(max_length=60, nullable=False)
    unit_cost_amount: int = Field(sa_type=BigInteger, nullable=False)
    total_amount: int = Field(sa_type=BigInteger, nullable=False)
