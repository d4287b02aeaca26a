"""Wire schemas of communities and development indices."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from app.communities.models import (
    INDEKS_DESA_DIMENSIONS,
    CommunityKind,
    DevelopmentScheme,
    IdmStatus,
)
from app.core.regions import RegionCode
from app.core.schemas import BoundedDecimal, InputModel, PatchModel, ReadModel

Potential = Annotated[str, Field(min_length=1, max_length=200)]
IndexValue = Annotated[Decimal, BoundedDecimal(digits=0, places=4)]
DimensionValue = Annotated[Decimal, BoundedDecimal(digits=2, places=2)]
IDM_INPUTS = ("iks", "ike", "ikl")


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
    """IDM (scheme ``idm``, the default): the three sub-indices; score and status are
    derived. Indeks Desa (scheme ``indeks_desa``): the six dimensions and the score and
    status as the ministry published them. The JSON schema states which fields go with
    which scheme."""

    model_config = ConfigDict(
        json_schema_extra={
            "if": {
                "properties": {"scheme": {"const": "indeks_desa"}},
                "required": ["scheme"],
            },
            "then": {
                "required": ["score", "status"],
                "properties": {
                    **{name: {"type": "null"} for name in IDM_INPUTS},
                    **{name: {"not": {"type": "null"}} for name in ("score", "status")},
                },
            },
            "else": {
                "required": list(IDM_INPUTS),
                "properties": {
                    **{
                        name: {"type": "null"}
                        for name in (*INDEKS_DESA_DIMENSIONS, "score", "status")
                    },
                    **{name: {"not": {"type": "null"}} for name in IDM_INPUTS},
                },
            },
            "examples": [
                {"year": 2023, "iks": 0.7123, "ike": 0.6012, "ikl": 0.6667},
                {
                    "year": 2024,
                    "scheme": "indeks_desa",
                    "layanan_dasar": 71.25,
                    "sosial": 66.4,
                    "ekonomi": 58.1,
                    "lingkungan": 62.0,
                    "aksesibilitas": 69.75,
                    "tata_kelola": 74.5,
                    "score": 67.02,
                    "status": "berkembang",
                },
            ],
        }
    )

    year: int = Field(ge=2015, le=2100, examples=[2024])
    scheme: DevelopmentScheme = Field(
        default=DevelopmentScheme.idm,
        description="idm (Permendesa PDTT 2/2016) or indeks_desa (Permendesa PDTT 9/2024)",
    )
    iks: IndexValue | None = Field(
        default=None, description="IDM: social resilience index (0..1)", examples=[0.7123]
    )
    ike: IndexValue | None = Field(
        default=None, description="IDM: economic resilience index (0..1)", examples=[0.6012]
    )
    ikl: IndexValue | None = Field(
        default=None, description="IDM: ecological resilience index (0..1)", examples=[0.6667]
    )
    layanan_dasar: DimensionValue | None = Field(
        default=None, description="Indeks Desa: basic services (0..100)"
    )
    sosial: DimensionValue | None = Field(default=None, description="Indeks Desa: social")
    ekonomi: DimensionValue | None = Field(default=None, description="Indeks Desa: economy")
    lingkungan: DimensionValue | None = Field(default=None, description="Indeks Desa: environment")
    aksesibilitas: DimensionValue | None = Field(
        default=None, description="Indeks Desa: accessibility"
    )
    tata_kelola: DimensionValue | None = Field(default=None, description="Indeks Desa: governance")
    score: DimensionValue | None = Field(
        default=None, description="Indeks Desa: the published score (0..100)"
    )
    status: IdmStatus | None = Field(
        default=None, description="Indeks Desa: the published status, stored as given"
    )


class DevelopmentIndexUpdate(PatchModel):
    """Only the fields of the entry's own scheme (422 otherwise); the scheme and year stay."""

    not_null = ("iks", "ike", "ikl", "score", "status")

    iks: IndexValue | None = None
    ike: IndexValue | None = None
    ikl: IndexValue | None = None
    layanan_dasar: DimensionValue | None = None
    sosial: DimensionValue | None = None
    ekonomi: DimensionValue | None = None
    lingkungan: DimensionValue | None = None
    aksesibilitas: DimensionValue | None = None
    tata_kelola: DimensionValue | None = None
    score: DimensionValue | None = None
    status: IdmStatus | None = None


class DevelopmentIndexRead(ReadModel):
    community_id: uuid.UUID
    year: int
    scheme: DevelopmentScheme
    iks: float | None = Field(description="IDM only")
    ike: float | None = Field(description="IDM only")
    ikl: float | None = Field(description="IDM only")
    idm_score: float | None = Field(
        description="IDM only: (iks + ike + ikl) / 3, rounded to 4 decimals"
    )
    idm_status: IdmStatus | None = Field(description="IDM only: from the 2/2016 cut-offs")
    layanan_dasar: float | None = Field(description="Indeks Desa only")
    sosial: float | None = Field(description="Indeks Desa only")
    ekonomi: float | None = Field(description="Indeks Desa only")
    lingkungan: float | None = Field(description="Indeks Desa only")
    aksesibilitas: float | None = Field(description="Indeks Desa only")
    tata_kelola: float | None = Field(description="Indeks Desa only")
    score: float | None = Field(description="Indeks Desa only: the published score (0..100)")
    status: IdmStatus | None = Field(description="Indeks Desa only: the published status")
