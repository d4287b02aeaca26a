"""Tables: needs assessments, their findings, and the community's ballots."""

from __future__ import annotations

import uuid
from datetime import date
from enum import StrEnum

from sqlalchemy import CheckConstraint, Date, Index, String, Text, Uuid, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlmodel import Field

from app.core.models import ResourceMixin, enum_check


class Method(StrEnum):
    survey = "survey"
    focus_group = "focus_group"
    observation = "observation"
    interview = "interview"
    participatory_mapping = "participatory_mapping"
    transect_walk = "transect_walk"


class AssessmentStatus(StrEnum):
    planned = "planned"
    in_progress = "in_progress"
    completed = "completed"
    validated = "validated"
    cancelled = "cancelled"


# The lifecycle: cancelled from any open state; validated and cancelled are final.
ASSESSMENT_MACHINE: dict[str, set[str]] = {
    "planned": {"in_progress", "cancelled"},
    "in_progress": {"completed", "cancelled"},
    "completed": {"validated", "cancelled"},
    "validated": set(),
    "cancelled": set(),
}


class FindingKind(StrEnum):
    problem = "problem"
    need = "need"
    potential = "potential"


class FindingCategory(StrEnum):
    education = "education"
    health = "health"
    economy = "economy"
    infrastructure = "infrastructure"
    environment = "environment"
    social = "social"
    governance = "governance"
    other = "other"


RANKABLE_KINDS = (FindingKind.problem.value, FindingKind.need.value)


class NeedsAssessment(ResourceMixin, table=True):
    __tablename__ = "needs_assessments"
    __table_args__ = (
        enum_check("status", AssessmentStatus),
        CheckConstraint(
            "cardinality(methods) > 0 AND methods <@ ARRAY["
            + ", ".join(f"'{m.value}'" for m in Method)
            + "]::varchar[]",
            name="methods_valid",
        ),
        CheckConstraint(
            "respondent_count IS NULL OR respondent_count >= 0",
            name="respondent_count_non_negative",
        ),
        Index("ix_needs_assessments_created_at_id", "created_at", "id"),
        Index(
            "ix_needs_assessments_community_id_created_at_id", "community_id", "created_at", "id"
        ),
    )

    community_id: uuid.UUID = Field(foreign_key="communities.id", nullable=False)
    title: str = Field(max_length=300, nullable=False)
    methods: list[str] = Field(sa_type=ARRAY(String()), nullable=False)
    status: str = Field(
        default="planned",
        max_length=20,
        nullable=False,
        sa_column_kwargs={"server_default": "planned"},
    )
    started_on: date | None = Field(default=None, sa_type=Date, nullable=True)
    completed_on: date | None = Field(default=None, sa_type=Date, nullable=True)
    facilitator_id: uuid.UUID | None = Field(
        default=None, foreign_key="users.id", nullable=True, index=True
    )
    respondent_count: int | None = Field(default=None, nullable=True)
    summary: str | None = Field(default=None, sa_type=Text, nullable=True)


class Finding(ResourceMixin, table=True):
    __tablename__ = "findings"
    __table_args__ = (
        enum_check("kind", FindingKind),
        enum_check("category", FindingCategory),
        CheckConstraint("severity IS NULL OR severity BETWEEN 1 AND 5", name="severity_range"),
        CheckConstraint(
            "severity IS NULL OR kind IN ('problem', 'need')",
            name="severity_only_for_problems_and_needs",
        ),
        Index("ix_findings_assessment_id_created_at_id", "assessment_id", "created_at", "id"),
        Index("ix_findings_created_at_id", "created_at", "id"),
    )

    assessment_id: uuid.UUID = Field(foreign_key="needs_assessments.id", nullable=False)
    kind: str = Field(max_length=20, nullable=False)
    category: str = Field(max_length=20, nullable=False)
    title: str = Field(max_length=300, nullable=False)
    description: str | None = Field(default=None, sa_type=Text, nullable=True)
    severity: int | None = Field(default=None, nullable=True)
    affected_people: int | None = Field(default=None, nullable=True)
    evidence: str | None = Field(default=None, sa_type=Text, nullable=True)
    # Kept current by every ballot cast or withdrawn (a GET never writes).
    priority_rank: int | None = Field(default=None, nullable=True)


class Ballot(ResourceMixin, table=True):
    """One person's ranking of an assessment's problems and needs (modified Borda count)."""

    __tablename__ = "ballots"
    __table_args__ = (
        Index(
            "uq_ballots_assessment_person_live",
            "assessment_id",
            "person_id",
            unique=True,
            postgresql_where=text("deleted_at IS NULL"),
        ),
        Index("ix_ballots_person_id", "person_id"),
        CheckConstraint("cardinality(ranking) > 0", name="ranking_not_empty"),
    )

    assessment_id: uuid.UUID = Field(foreign_key="needs_assessments.id", nullable=False)
    person_id: uuid.UUID = Field(foreign_key="people.id", nullable=False)
    ranking: list[uuid.UUID] = Field(sa_type=ARRAY(Uuid()), nullable=False)
