"""Participation records: who took part in which activity or assessment, in what role,
and how far they took part in decisions (the IAP2 spectrum)."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import CheckConstraint, Date, Index, Numeric, text
from sqlmodel import Field

from app.core.models import ResourceMixin, enum_check


class Level(StrEnum):
    inform = "inform"
    consult = "consult"
    involve = "involve"
    collaborate = "collaborate"
    empower = "empower"


LEVEL_ORDER = [level.value for level in Level]  # from least to most say in decisions


class ParticipationRole(StrEnum):
    beneficiary = "beneficiary"
    volunteer = "volunteer"
    cadre = "cadre"
    speaker = "speaker"
    decision_maker = "decision_maker"
    facilitator = "facilitator"


class ParticipationRecord(ResourceMixin, table=True):
    __tablename__ = "participation_records"
    __table_args__ = (
        enum_check("level", Level),
        enum_check("role", ParticipationRole),
        CheckConstraint(
            "(activity_id IS NULL) <> (assessment_id IS NULL)", name="exactly_one_context"
        ),
        CheckConstraint("hours IS NULL OR (hours >= 0 AND hours <= 1000)", name="hours_range"),
        # A person takes part once per activity or assessment (among live records).
        Index(
            "uq_participation_person_activity_live",
            "person_id",
            "activity_id",
            unique=True,
            postgresql_where=text("deleted_at IS NULL AND activity_id IS NOT NULL"),
        ),
        Index(
            "uq_participation_person_assessment_live",
            "person_id",
            "assessment_id",
            unique=True,
            postgresql_where=text("deleted_at IS NULL AND assessment_id IS NOT NULL"),
        ),
        # Re-uploading a sheet: external ids are unique per caller.
        Index(
            "uq_participation_creator_external_id_live",
            "created_by",
            "external_id",
            unique=True,
            postgresql_where=text("deleted_at IS NULL AND external_id IS NOT NULL"),
        ),
        Index("ix_participation_records_created_at_id", "created_at", "id"),
        Index(
            "ix_participation_records_community_id_created_at_id",
            "community_id",
            "created_at",
            "id",
        ),
        Index("ix_participation_records_person_id", "person_id"),
        Index("ix_participation_records_activity_id", "activity_id"),
        Index("ix_participation_records_assessment_id", "assessment_id"),
        Index("ix_participation_records_program_id", "program_id"),
    )

    person_id: uuid.UUID = Field(foreign_key="people.id", nullable=False)
    activity_id: uuid.UUID | None = Field(default=None, foreign_key="activities.id", nullable=True)
    assessment_id: uuid.UUID | None = Field(
        default=None, foreign_key="needs_assessments.id", nullable=True
    )
    # Derived from the context at write time: the community scope and the program filter.
    community_id: uuid.UUID = Field(foreign_key="communities.id", nullable=False)
    program_id: uuid.UUID | None = Field(default=None, foreign_key="programs.id", nullable=True)
    date: dt.date = Field(sa_type=Date, nullable=False)
    level: str = Field(max_length=20, nullable=False)
    role: str = Field(max_length=20, nullable=False)
    hours: Decimal | None = Field(default=None, sa_type=Numeric(6, 2), nullable=True)
    notes: str | None = Field(default=None, max_length=2000, nullable=True)
    external_id: str | None = Field(default=None, max_length=200, nullable=True)
    created_by: uuid.UUID = Field(nullable=False)
