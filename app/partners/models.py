"""Tables: partner organisations, partnerships, contributions, service accounts."""

from __future__ import annotations

import uuid
from datetime import date
from enum import StrEnum

from sqlalchemy import BigInteger, CheckConstraint, Date, Index, Text, text
from sqlmodel import Field

from app.core.models import ResourceMixin, enum_check


class PartnerKind(StrEnum):
    local_government = "local_government"
    ngo = "ngo"
    private_sector = "private_sector"
    academia = "academia"
    community_organization = "community_organization"
    donor = "donor"
    other = "other"


class PartnershipRole(StrEnum):
    funder = "funder"
    implementer = "implementer"
    technical_support = "technical_support"
    in_kind_provider = "in_kind_provider"


class PartnershipStatus(StrEnum):
    proposed = "proposed"
    active = "active"
    completed = "completed"
    terminated = "terminated"


PARTNERSHIP_MACHINE: dict[str, set[str]] = {
    "proposed": {"active", "terminated"},
    "active": {"completed", "terminated"},
    "completed": set(),
    "terminated": set(),
}


class ContributionKind(StrEnum):
    funds = "funds"
    in_kind = "in_kind"
    expertise = "expertise"
    facilities = "facilities"


class Partner(ResourceMixin, table=True):
    __tablename__ = "partners"
    __table_args__ = (
        enum_check("kind", PartnerKind),
        Index("ix_partners_created_at_id", "created_at", "id"),
        Index("ix_partners_name_id", "name", "id"),
    )

    name: str = Field(max_length=300, nullable=False)
    kind: str = Field(max_length=30, nullable=False)
    contact_email: str | None = Field(default=None, max_length=254, nullable=True)
    website: str | None = Field(default=None, max_length=500, nullable=True)
    region_code: str | None = Field(default=None, max_length=13, nullable=True)
    description: str | None = Field(default=None, sa_type=Text, nullable=True)


class Partnership(ResourceMixin, table=True):
    __tablename__ = "partnerships"
    __table_args__ = (
        enum_check("role", PartnershipRole),
        enum_check("status", PartnershipStatus),
        CheckConstraint(
            "end_date IS NULL OR start_date IS NULL OR end_date >= start_date", name="dates_ordered"
        ),
        CheckConstraint(
            "commitment_amount IS NULL OR commitment_amount >= 0", name="commitment_non_negative"
        ),
        Index(
            "uq_partnerships_partner_program_role_live",
            "partner_id",
            "program_id",
            "role",
            unique=True,
            postgresql_where=text("deleted_at IS NULL"),
        ),
        Index("ix_partnerships_created_at_id", "created_at", "id"),
        Index("ix_partnerships_program_id", "program_id"),
    )

    partner_id: uuid.UUID = Field(foreign_key="partners.id", nullable=False)
    program_id: uuid.UUID = Field(foreign_key="programs.id", nullable=False)
    role: str = Field(max_length=30, nullable=False)
    agreement_ref: str | None = Field(default=None, max_length=200, nullable=True)
    start_date: date | None = Field(default=None, sa_type=Date, nullable=True)
    end_date: date | None = Field(default=None, sa_type=Date, nullable=True)
    commitment_amount: int | None = Field(default=None, sa_type=BigInteger, nullable=True)
    status: str = Field(
        default="proposed",
        max_length=20,
        nullable=False,
        sa_column_kwargs={"server_default": "proposed"},
    )


class Contribution(ResourceMixin, table=True):
    __tablename__ = "contributions"
    __table_args__ = (
        enum_check("kind", ContributionKind),
        CheckConstraint("amount >= 0", name="amount_non_negative"),
        Index(
            "ix_contributions_partnership_id_created_at_id", "partnership_id", "created_at", "id"
        ),
        Index("ix_contributions_created_at_id", "created_at", "id"),
    )

    partnership_id: uuid.UUID = Field(foreign_key="partnerships.id", nullable=False)
    kind: str = Field(max_length=20, nullable=False)
    amount: int = Field(sa_type=BigInteger, nullable=False)
    contributed_on: date = Field(sa_type=Date, nullable=False)
    description: str | None = Field(default=None, max_length=2000, nullable=True)
    recorded_by: uuid.UUID | None = Field(default=None, nullable=True)
