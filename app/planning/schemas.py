"""Wire schemas of planning proposals, their transitions and funding lines."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Annotated, Any, cast

from pydantic import BaseModel, ConfigDict, Field
from pydantic.config import JsonDict

from app.core.schemas import BoundedDecimal, InputModel, IsoDate, PatchModel, ReadModel
from app.planning.models import Forum, FundingSource, OriginForum, ProposalStatus

Year = Annotated[int, Field(ge=2015, le=2100, examples=[2026])]
Amount = Annotated[int, Field(ge=0, le=10**15, description="Integer rupiah (IDR)")]
Volume = Annotated[Decimal, BoundedDecimal(digits=10, places=2)]
IdList = Annotated[list[uuid.UUID], Field(max_length=100, json_schema_extra={"uniqueItems": True})]
Count = Annotated[int, Field(ge=0, le=10_000_000)]


class Beneficiaries(InputModel):
    """Who benefits, as counts (no names)."""

    female: Count | None = Field(default=None, examples=[120])
    male: Count | None = Field(default=None, examples=[110])
    poor_households: Count | None = Field(default=None, examples=[35])
    disability: Count | None = Field(default=None, examples=[4])


class BeneficiariesRead(BaseModel):
    female: int | None
    male: int | None
    poor_households: int | None
    disability: int | None


_PROPOSAL_EXAMPLE: dict[str, Any] = {
    "community_id": "0190f3a2-5b7c-7d1e-8f90-1a2b3c4d5e6f",
    "title": "Pembangunan sumur bor dan jaringan pipa air bersih Dusun Krajan",
    "planning_year": 2026,
    "finding_ids": ["0190f3a2-5b7c-7d1e-8f90-2a2b3c4d5e6f"],
    "origin_forum": "musdus",
    "proposed_by": "Musyawarah Dusun Krajan",
    "bidang": 2,
    "kegiatan": "Pembangunan/rehabilitasi sumber air bersih milik desa",
    "location": "Dusun Krajan RT 02",
    "volume": 1,
    "unit": "unit",
    "beneficiaries": {"female": 212, "male": 198, "poor_households": 41, "disability": 3},
    "estimated_cost_amount": 185000000,
    "proposed_funding_source": "dana_desa",
    "program_ids": [],
}


class ProposalCreate(InputModel):
    model_config = ConfigDict(json_schema_extra={"examples": [cast(JsonDict, _PROPOSAL_EXAMPLE)]})

    community_id: uuid.UUID
    title: str = Field(min_length=1, max_length=300, examples=[_PROPOSAL_EXAMPLE["title"]])
    planning_year: Year = Field(description="The RKP Desa / APBDes year the proposal is for")
    finding_ids: IdList = Field(
        default_factory=list,
        description="Problem or need findings of validated assessments of the community",
    )
    origin_forum: OriginForum = Field(examples=["musdus"])
    proposed_by: str | None = Field(
        default=None,
        max_length=200,
        description="The group, hamlet or institution that proposed it (not a person's name)",
        examples=["Kelompok Wanita Tani Melati"],
    )
    bidang: int = Field(ge=1, le=5, description="APBDes field 1 to 5 (Permendagri 20/2018)")
    kegiatan: str | None = Field(default=None, max_length=300)
    location: str | None = Field(default=None, max_length=300)
    volume: Volume | None = None
    unit: str | None = Field(default=None, max_length=60)
    beneficiaries: Beneficiaries | None = None
    estimated_cost_amount: Amount = Field(examples=[185_000_000])
    proposed_funding_source: FundingSource = Field(examples=["dana_desa"])
    program_ids: IdList = Field(
        default_factory=list, description="Programs that carry it out (same community)"
    )


class ProposalUpdate(PatchModel):
    not_null = (
        "title",
        "planning_year",
        "finding_ids",
        "origin_forum",
        "bidang",
        "estimated_cost_amount",
        "proposed_funding_source",
        "program_ids",
    )

    title: str | None = Field(default=None, min_length=1, max_length=300)
    planning_year: Year | None = Field(default=None, description="Only while draft")
    finding_ids: IdList | None = None
    origin_forum: OriginForum | None = None
    proposed_by: str | None = Field(default=None, max_length=200)
    bidang: int | None = Field(default=None, ge=1, le=5)
    kegiatan: str | None = Field(default=None, max_length=300)
    location: str | None = Field(default=None, max_length=300)
    volume: Volume | None = None
    unit: str | None = Field(default=None, max_length=60)
    beneficiaries: Beneficiaries | None = None
    estimated_cost_amount: Amount | None = None
    proposed_funding_source: FundingSource | None = None
    program_ids: IdList | None = None


class ProposalRead(ReadModel):
    community_id: uuid.UUID
    title: str
    planning_year: int
    finding_ids: list[uuid.UUID]
    origin_forum: OriginForum
    proposed_by: str | None
    bidang: int
    kegiatan: str | None
    location: str | None
    volume: float | None
    unit: str | None
    beneficiaries: BeneficiariesRead
    estimated_cost_amount: int
    proposed_funding_source: FundingSource
    program_ids: list[uuid.UUID]
    status: ProposalStatus
    carried_over_from_id: uuid.UUID | None = Field(
        description="The deferred proposal of the year before this one continues"
    )
    carried_over_to_id: uuid.UUID | None = Field(
        description="The next year's draft made from this deferred proposal"
    )
    funding_planned_amount: int = Field(description="Sum of the live funding lines' plans")
    funding_realised_amount: int = Field(description="Sum of what the funding lines realised")


class ProposalTransitionRequest(InputModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "to": "in_rkp_desa",
                    "date": "2025-09-18",
                    "forum": "musdes",
                    "document_ref": "Berita Acara Musdes No. 141/07/IX/2025",
                    "note": "Masuk RKP Desa 2026 prioritas 1",
                }
            ]
        }
    )

    to: ProposalStatus = Field(examples=["agreed"])
    date: IsoDate = Field(description="When the forum decided (not in the future)")
    forum: Forum | None = None
    document_ref: str | None = Field(
        default=None,
        max_length=200,
        description="Berita acara, RKP Desa, or Perdes APBDes number",
        examples=["Perdes No. 8 Tahun 2025 tentang APBDes 2026"],
    )
    note: str | None = Field(default=None, max_length=2000, description="Required to reject")


class ProposalTransitionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    proposal_id: uuid.UUID
    from_status: ProposalStatus
    to_status: ProposalStatus
    date: dt.date = Field(validation_alias="decided_on")
    forum: Forum | None
    document_ref: str | None
    note: str | None
    actor_id: uuid.UUID | None
    created_at: dt.datetime


class DraftRequest(InputModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"top": 3, "planning_year": 2026}]})

    top: int = Field(default=3, ge=1, le=50, description="How many top-ranked needs")
    planning_year: Year
    origin_forum: OriginForum = Field(
        default=OriginForum.musdes, description="The forum the ranking stands for"
    )
    proposed_funding_source: FundingSource = FundingSource.dana_desa


class DraftResult(BaseModel):
    assessment_id: uuid.UUID
    planning_year: int
    created: int = Field(description="Proposals made by this call (0 on a repeat)")
    items: list[ProposalRead] = Field(
        description="One proposal per top-ranked need, made now or earlier, by rank"
    )


class FundingCreate(InputModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "fiscal_year": 2026,
                    "source": "dana_desa",
                    "planned_amount": 150000000,
                    "apbdes_ref": "2.3.01 / Perdes No. 8 Tahun 2025",
                }
            ]
        }
    )

    fiscal_year: Year
    source: FundingSource
    planned_amount: Amount = Field(examples=[150_000_000])
    realised_amount: Amount | None = Field(default=None, description="At most planned_amount")
    apbdes_ref: str | None = Field(
        default=None, max_length=200, description="APBDes account code or perdes number"
    )


class FundingUpdate(PatchModel):
    not_null = ("planned_amount",)

    planned_amount: Amount | None = None
    realised_amount: Amount | None = None
    apbdes_ref: str | None = Field(default=None, max_length=200)


class FundingRead(ReadModel):
    proposal_id: uuid.UUID
    fiscal_year: int
    source: FundingSource
    planned_amount: int
    realised_amount: int | None
    apbdes_ref: str | None
