"""Wire schemas of needs assessments, findings, ballots and priorities."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.assessments.models import (
    RANKABLE_KINDS,
    AssessmentStatus,
    FindingCategory,
    FindingKind,
    Method,
)
from app.core.i18n import M
from app.core.schemas import InputModel, PatchModel, ReadModel
from app.core.transitions import TransitionRequest


def _distinct(values: list[Method] | None) -> list[Method] | None:
    if values is not None and len(set(values)) != len(values):
        raise ValueError(M.methods_repeat)
    return values


class AssessmentCreate(InputModel):
    community_id: uuid.UUID
    title: str = Field(min_length=1, max_length=300, examples=["Kajian kebutuhan air bersih"])
    methods: list[Method] = Field(
        min_length=1, examples=[["survey", "focus_group"]], json_schema_extra={"uniqueItems": True}
    )
    started_on: date | None = None
    completed_on: date | None = None
    facilitator_id: uuid.UUID | None = None
    respondent_count: int | None = Field(default=None, ge=0, le=10_000_000)
    summary: str | None = Field(default=None, max_length=20_000)

    _distinct_methods = field_validator("methods")(_distinct)


class AssessmentUpdate(PatchModel):
    not_null = ("title", "methods")

    title: str | None = Field(default=None, min_length=1, max_length=300)
    methods: list[Method] | None = Field(
        default=None, min_length=1, json_schema_extra={"uniqueItems": True}
    )
    started_on: date | None = None
    completed_on: date | None = None
    facilitator_id: uuid.UUID | None = None
    respondent_count: int | None = Field(default=None, ge=0, le=10_000_000)
    summary: str | None = Field(default=None, max_length=20_000)

    _distinct_methods = field_validator("methods")(_distinct)


class AssessmentTransition(TransitionRequest):
    to: AssessmentStatus = Field(examples=["in_progress"])


class AssessmentRead(ReadModel):
    community_id: uuid.UUID
    title: str
    methods: list[Method]
    status: AssessmentStatus
    started_on: date | None
    completed_on: date | None
    facilitator_id: uuid.UUID | None
    respondent_count: int | None
    summary: str | None


class FindingCreate(InputModel):
    # Only problems and needs carry a severity.
    model_config = ConfigDict(
        json_schema_extra={
            "if": {
                "properties": {"kind": {"not": {"enum": list(RANKABLE_KINDS)}}},
                "required": ["kind"],
            },
            "then": {"properties": {"severity": {"type": "null"}}},
        }
    )

    kind: FindingKind
    category: FindingCategory
    title: str = Field(min_length=1, max_length=300, examples=["Air bersih sulit di musim kemarau"])
    description: str | None = Field(default=None, max_length=20_000)
    severity: int | None = Field(default=None, ge=1, le=5, description="Problems and needs only")
    affected_people: int | None = Field(default=None, ge=0, le=100_000_000)
    evidence: str | None = Field(default=None, max_length=20_000)


class FindingUpdate(PatchModel):
    not_null = ("kind", "category", "title")

    kind: FindingKind | None = None
    category: FindingCategory | None = None
    title: str | None = Field(default=None, min_length=1, max_length=300)
    description: str | None = Field(default=None, max_length=20_000)
    severity: int | None = Field(default=None, ge=1, le=5)
    affected_people: int | None = Field(default=None, ge=0, le=100_000_000)
    evidence: str | None = Field(default=None, max_length=20_000)


class FindingRead(ReadModel):
    assessment_id: uuid.UUID
    kind: FindingKind
    category: FindingCategory
    title: str
    description: str | None
    severity: int | None
    affected_people: int | None
    evidence: str | None
    priority_rank: int | None = Field(description="Read-only; follows the ballots")


class BallotCreate(InputModel):
    person_id: uuid.UUID
    ranking: list[uuid.UUID] = Field(
        min_length=1,
        max_length=200,
        description="Finding ids, most important first, each at most once",
        json_schema_extra={"uniqueItems": True},
    )


class BallotRead(BaseModel):
    id: uuid.UUID
    assessment_id: uuid.UUID
    person_id: uuid.UUID | None = Field(description="Null for analysts (see person_key)")
    person_key: str
    ranking: list[uuid.UUID]
    created_at: datetime


class PriorityRead(BaseModel):
    rank: int
    finding_id: uuid.UUID
    title: str
    kind: FindingKind
    category: FindingCategory
    severity: int | None
    points: int = Field(description="Modified Borda count")
    votes: int = Field(description="Ballots that ranked this finding")
    first_place_votes: int


class Priorities(BaseModel):
    assessment_id: uuid.UUID
    ballots: int
    items: list[PriorityRead]
