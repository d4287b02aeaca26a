"""Wire schemas of communities and development indices."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, Field

from app.communities.models import CommunityKind, IdmStatus
from app.core.regions import RegionCode
from app.core.schemas import BoundedDecimal, InputModel, PatchModel, ReadModel

Potential = Annotated[str, Field(min_length=1, max_length=200)]
IndexValue = Annotated[Decimal, BoundedDecimal(digits=0, places=4)]


class CommunityCreate(InputModel):
    name: str = Field(min_length=1, max_length=200, examples=["Desa Sukamaju"])
    kind: CommunityKind = Field(examples=["desa"])
    region_code: RegionCode
    description: str | None = Field(default=None, max_length=5000)
    population: int | None = Field(default=None, ge=0, le=50_000_000, examples=[3120])
    households: int | None = Field(default=None, ge=0, le=20_000_000, examples=[870])
    latitude: float | None = Field(default=None, ge=-90, le=90, examples=[-7.0123])
    longitude: float | None = Field(default=None, ge=-180, le=180, examples=[107.5312])
    potentials: list[Potential] = Field(
        default_factory=list, max_length=100, examples=[["kopi arabika", "wisata curug"]]
    )


class CommunityUpdate(PatchModel):
    """Merge patch: only the given fields change; ``null`` clears an optional field."""

    not_null = ("name", "kind", "region_code", "potentials")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    kind: CommunityKind | None = None
    region_code: RegionCode | None = None
    description: str | None = Field(default=None, max_length=5000)
    population: int | None = Field(default=None, ge=0, le=50_000_000)
    households: int | None = Field(default=None, ge=0, le=20_000_000)
    latitude: float | None = Field(default=None, ge=-90, le=90)
    longitude: float | None = Field(default=None, ge=-180, le=180)
    potentials: list[Potential] | None = Field(default=None, max_length=100)


class CommunityRead(ReadModel):
    name: str
    kind: CommunityKind
    region_code: str
    description: str | None
    population: int | None
    households: int | None
    latitude: float | None
    longitude: float | None
    potentials: list[str]


class FacilitatorRead(BaseModel):
    user_id: uuid.UUID
    full_name: str
    email: str


class DevelopmentIndexCreate(InputModel):
    year: int = Field(ge=2015, le=2100, examples=[2024])
    iks: IndexValue = Field(description="Social resilience index (0..1)", examples=[0.7123])
    ike: IndexValue = Field(description="Economic resilience index (0..1)", examples=[0.6012])
    ikl: IndexValue = Field(description="Ecological resilience index (0..1)", examples=[0.6667])


class DevelopmentIndexUpdate(PatchModel):
    not_null = ("iks", "ike", "ikl")

    iks: IndexValue | None = None
    ike: IndexValue | None = None
    ikl: IndexValue | None = None


class DevelopmentIndexRead(ReadModel):
    community_id: uuid.UUID
    year: int
    iks: float
    ike: float
    ikl: float
    idm_score: float = Field(description="(iks + ike + ikl) / 3, rounded to 4 decimals")
    idm_status: IdmStatus
