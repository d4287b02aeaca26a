"""The participant registry. NIK and phone are stored only encrypted (app.core.pii)."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import DateTime, Index, String, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlmodel import Field

from app.core.models import ResourceMixin, empty_list, enum_check


class Sex(StrEnum):
    female = "female"
    male = "male"


class ConsentPurpose(StrEnum):
    program_participation = "program_participation"
    needs_assessment = "needs_assessment"
    contact = "contact"
    analytics = "analytics"


class VulnerableGroup(StrEnum):
    elderly = "elderly"
    youth = "youth"
    female_headed_household = "female_headed_household"
    poor_household = "poor_household"
    indigenous = "indigenous"
    pregnant_or_nursing = "pregnant_or_nursing"
    chronic_illness = "chronic_illness"
    other = "other"


class Person(ResourceMixin, table=True):
    __tablename__ = "people"
    __table_args__ = (
        enum_check("sex", Sex),
        # One live registration per NIK; erased and deleted people free it.
        Index(
            "uq_people_nik_hash_live",
            "nik_hash",
            unique=True,
            postgresql_where=text("deleted_at IS NULL AND nik_hash IS NOT NULL"),
        ),
        Index("ix_people_created_at_id", "created_at", "id"),
        Index("ix_people_community_id_created_at_id", "community_id", "created_at", "id"),
    )

    community_id: uuid.UUID = Field(foreign_key="communities.id", nullable=False)
    full_name: str | None = Field(default=None, max_length=200, nullable=True)
    sex: str = Field(max_length=10, nullable=False)
    birth_year: int | None = Field(default=None, nullable=True)
    # Kept after erasure, when the exact year is removed.
    birth_decade: int | None = Field(default=None, nullable=True)
    nik_ciphertext: str | None = Field(default=None, max_length=200, nullable=True)
    nik_hash: str | None = Field(default=None, max_length=64, nullable=True)
    phone_ciphertext: str | None = Field(default=None, max_length=200, nullable=True)
    disability: bool = Field(
        default=False, nullable=False, sa_column_kwargs={"server_default": "false"}
    )
    vulnerable_groups: list[str] = Field(
        default_factory=empty_list,
        sa_type=ARRAY(String()),
        nullable=False,
        sa_column_kwargs={"server_default": "{}"},
    )
    consent_purposes: list[str] = Field(
        default_factory=empty_list,
        sa_type=ARRAY(String()),
        nullable=False,
        sa_column_kwargs={"server_default": "{}"},
    )
    consent_given_at: datetime | None = Field(
        default=None,
        sa_type=DateTime(timezone=True),
        nullable=True,
    )
    consent_withdrawn_at: datetime | None = Field(
        default=None,
        sa_type=DateTime(timezone=True),
        nullable=True,
    )
    erased_at: datetime | None = Field(
        default=None,
        sa_type=DateTime(timezone=True),
        nullable=True,
    )
