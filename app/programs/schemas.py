"""Wire schemas of programs and their sub-resources."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, Field, field_validator

from app.core.i18n import M
from app.core.schemas import BoundedDecimal, InputModel, PatchModel, ReadModel
from app.core.timestamps import AwareTimestamp
from app.core.transitions import TransitionRequest
from app.programs.models import ActivityKind, ActivityStatus, Direction, ProgramStatus

Objective = Annotated[str, Field(min_length=1, max_length=1000)]
Amount = Annotated[int, Field(ge=0, le=10**15, description="Integer rupiah (IDR)")]


def _distinct_ids(values: list[uuid.UUID] | None) -> list[uuid.UUID] | None:
    if values is not None and len(set(values)) != len(values):
        raise ValueError(M.ids_repeat)
    return values


class ProgramCreate(InputModel):
    title: str = Field(min_length=1, max_length=300, examples=["Penguatan BUMDes Air Bersih"])
    community_ids: list[uuid.UUID] = Field(
        min_length=1, max_length=200, json_schema_extra={"uniqueItems": True}
    )
    code: str | None = Field(
        default=None,
        min_length=1,
        max_length=40,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._/-]*$",
        description="Unique; generated as PRG-YYYY-NNNN when absent",
    )
    summary: str | None = Field(default=None, max_length=20_000)
    background: str | None = Field(default=None, max_length=50_000)
    objectives: list[Objective] = Field(default_factory=list, max_length=50)
    addressed_finding_ids: list[uuid.UUID] = Field(
        default_factory=list, max_length=200, json_schema_extra={"uniqueItems": True}
    )
    target_beneficiaries: int | None = Field(default=None, ge=0, le=100_000_000)
    beneficiaries_description: str | None = Field(default=None, max_length=2000)
    start_date: date | None = None
    end_date: date | None = None
    funding_source: str | None = Field(default=None, max_length=300, examples=["Dana Desa"])
    coordinator_id: uuid.UUID | None = None

    _distinct = field_validator("community_ids", "addressed_finding_ids")(_distinct_ids)


class ProgramUpdate(PatchModel):
    not_null = ("title", "community_ids", "objectives", "addressed_finding_ids")

    title: str | None = Field(default=None, min_length=1, max_length=300)
    community_ids: list[uuid.UUID] | None = Field(
        default=None, min_length=1, max_length=200, json_schema_extra={"uniqueItems": True}
    )
    summary: str | None = Field(default=None, max_length=20_000)
    background: str | None = Field(default=None, max_length=50_000)
    objectives: list[Objective] | None = Field(default=None, max_length=50)
    addressed_finding_ids: list[uuid.UUID] | None = Field(
        default=None, max_length=200, json_schema_extra={"uniqueItems": True}
    )
    target_beneficiaries: int | None = Field(default=None, ge=0, le=100_000_000)
    beneficiaries_description: str | None = Field(default=None, max_length=2000)
    start_date: date | None = None
    end_date: date | None = None
    funding_source: str | None = Field(default=None, max_length=300)
    coordinator_id: uuid.UUID | None = None

    _distinct = field_validator("community_ids", "addressed_finding_ids")(_distinct_ids)


class ProgramRead(ReadModel):
    code: str
    title: str
    community_ids: list[uuid.UUID]
    summary: str | None
    background: str | None
    objectives: list[str]
    addressed_finding_ids: list[uuid.UUID]
    target_beneficiaries: int | None
    beneficiaries_description: str | None
    start_date: date | None
    end_date: date | None
    funding_source: str | None
    coordinator_id: uuid.UUID | None
    status: ProgramStatus
    budget_amount: int = Field(description="Sum of the budget lines (read-only)")


class ProgramTransition(TransitionRequest):
    to: ProgramStatus = Field(examples=["submitted"])


class ActivityCreate(InputModel):
    title: str = Field(min_length=1, max_length=300, examples=["Pelatihan pengelolaan keuangan"])
    kind: ActivityKind
    community_id: uuid.UUID
    scheduled_start: AwareTimestamp
    scheduled_end: AwareTimestamp | None = None
    location: str | None = Field(default=None, max_length=300, examples=["Balai Desa"])
    description: str | None = Field(default=None, max_length=20_000)
    status: ActivityStatus = ActivityStatus.planned


class ActivityUpdate(PatchModel):
    not_null = ("title", "kind", "community_id", "scheduled_start", "status")

    title: str | None = Field(default=None, min_length=1, max_length=300)
    kind: ActivityKind | None = None
    community_id: uuid.UUID | None = None
    scheduled_start: AwareTimestamp | None = None
    scheduled_end: AwareTimestamp | None = None
    location: str | None = Field(default=None, max_length=300)
    description: str | None = Field(default=None, max_length=20_000)
    status: ActivityStatus | None = None


class ActivityRead(ReadModel):
    program_id: uuid.UUID
    community_id: uuid.UUID
    title: str
    kind: ActivityKind
    scheduled_start: datetime
    scheduled_end: datetime | None
    location: str | None
    description: str | None
    status: ActivityStatus


Number = Annotated[Decimal, BoundedDecimal(digits=13, places=4, signed=True)]
Quantity = Annotated[Decimal, BoundedDecimal(digits=9, places=2, positive=True)]


class IndicatorCreate(InputModel):
    name: str = Field(min_length=1, max_length=300, examples=["Rumah tangga dengan akses air"])
    unit: str = Field(min_length=1, max_length=60, examples=["rumah tangga"])
    baseline: Number
    target: Number
    direction: Direction = Direction.increase


class IndicatorUpdate(PatchModel):
    not_null = ("name", "unit", "baseline", "target", "direction")

    name: str | None = Field(default=None, min_length=1, max_length=300)
    unit: str | None = Field(default=None, min_length=1, max_length=60)
    baseline: Number | None = None
    target: Number | None = None
    direction: Direction | None = None


class IndicatorRead(ReadModel):
    program_id: uuid.UUID
    name: str
    unit: str
    baseline: float
    target: float
    direction: Direction


class MeasurementCreate(InputModel):
    measured_on: date
    value: Number
    note: str | None = Field(default=None, max_length=2000)


class MeasurementUpdate(PatchModel):
    not_null = ("measured_on", "value")

    measured_on: date | None = None
    value: Number | None = None
    note: str | None = Field(default=None, max_length=2000)


class MeasurementRead(ReadModel):
    indicator_id: uuid.UUID
    measured_on: date
    value: float
    note: str | None


class BudgetLineCreate(InputModel):
    description: str = Field(min_length=1, max_length=500, examples=["Honor narasumber"])
    quantity: Quantity
    unit: str = Field(min_length=1, max_length=60, examples=["OJ"])
    unit_cost_amount: Amount


class BudgetLineUpdate(PatchModel):
    not_null = ("description", "quantity", "unit", "unit_cost_amount")

    description: str | None = Field(default=None, min_length=1, max_length=500)
    quantity: Quantity | None = None
    unit: str | None = Field(default=None, min_length=1, max_length=60)
    unit_cost_amount: Amount | None = None


class BudgetLineRead(ReadModel):
    program_id: uuid.UUID
    description: str
    quantity: float
    unit: str
    unit_cost_amount: int
    total_amount: int = Field(description="quantity * unit_cost_amount, rounded to the rupiah")


class TermsSection(BaseModel):
    key: str
    heading: str
    content: dict[str, Any]


class TermsOfReference(BaseModel):
    program_id: uuid.UUID
    code: str
    title: str
    lang: str
    generated_at: datetime
    sections: list[TermsSection]
