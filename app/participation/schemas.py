"""Wire schemas of participation records and the batch upload."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from app.core.errors import ValidationIssue
from app.core.schemas import BoundedDecimal, InputModel, PatchModel, ReadModel
from app.participation.models import Level, ParticipationRole

Hours = Annotated[Decimal, BoundedDecimal(digits=3, places=2)]


class RecordCreate(InputModel):
    # Exactly one context: one of the two ids given, not null; the other absent or null.
    model_config = ConfigDict(
        json_schema_extra={
            "oneOf": [
                {"properties": {name: {"type": "string"}}, "required": [name]}
                for name in ("activity_id", "assessment_id")
            ]
        }
    )

    person_id: uuid.UUID
    date: dt.date
    level: Level = Field(description="IAP2: inform, consult, involve, collaborate, empower")
    role: ParticipationRole
    activity_id: uuid.UUID | None = Field(default=None, description="Exactly one of activity_id")
    assessment_id: uuid.UUID | None = Field(default=None, description="… or assessment_id")
    hours: Hours | None = None
    notes: str | None = Field(default=None, max_length=2000)


class BatchRow(RecordCreate):
    external_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description="Your id for the row; re-sending it creates nothing new (per caller)",
    )


class RecordUpdate(PatchModel):
    not_null = ("date", "level", "role")

    date: dt.date | None = None
    level: Level | None = None
    role: ParticipationRole | None = None
    hours: Hours | None = None
    notes: str | None = Field(default=None, max_length=2000)


class RecordRead(ReadModel):
    person_id: uuid.UUID | None = Field(description="Null for analysts (see person_key)")
    person_key: str
    activity_id: uuid.UUID | None
    assessment_id: uuid.UUID | None
    community_id: uuid.UUID
    program_id: uuid.UUID | None
    date: dt.date
    level: Level
    role: ParticipationRole
    hours: float | None
    notes: str | None
    external_id: str | None


class BatchRequest(InputModel):
    rows: list[BatchRow] = Field(min_length=1, max_length=1000)


def _echoed(value: object) -> object:
    """A row's ``external_id`` is echoed when it is one (text); a row that sent anything
    else there is answered with its error, not a crash building the answer."""
    return value if isinstance(value, str) else None


class BatchRowResult(BaseModel):
    index: int
    status: Literal["created", "duplicate", "error"]
    id: uuid.UUID | None = Field(default=None, description="The created or existing record")
    external_id: Annotated[str | None, BeforeValidator(_echoed)] = None
    errors: list[ValidationIssue] | None = None
    detail: str | None = None


class BatchResult(BaseModel):
    atomic: bool
    created: int
    duplicates: int
    errors: int
    results: list[BatchRowResult]
