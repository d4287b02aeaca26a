"""Wire schemas of partners, partnerships, contributions and service accounts."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import AnyHttpUrl, ConfigDict, EmailStr, Field

from app.auth.models import Role
from app.core.regions import RegionPrefix
from app.core.schemas import InputModel, PatchModel, ReadModel
from app.core.transitions import TransitionRequest
from app.partners.models import (
    ContributionKind,
    PartnerKind,
    PartnershipRole,
    PartnershipStatus,
)

Amount = Annotated[int, Field(ge=0, le=10**15, description="Integer rupiah (IDR)")]


class PartnerCreate(InputModel):
    name: str = Field(min_length=1, max_length=300, examples=["Pemerintah Kabupaten Bandung"])
    kind: PartnerKind
    contact_email: EmailStr | None = None
    website: AnyHttpUrl | None = None
    region_code: RegionPrefix | None = None
    description: str | None = Field(default=None, max_length=20_000)


class PartnerUpdate(PatchModel):
    not_null = ("name", "kind")

    name: str | None = Field(default=None, min_length=1, max_length=300)
    kind: PartnerKind | None = None
    contact_email: EmailStr | None = None
    website: AnyHttpUrl | None = None
    region_code: RegionPrefix | None = None
    description: str | None = Field(default=None, max_length=20_000)


class PartnerRead(ReadModel):
    name: str
    kind: PartnerKind
    contact_email: str | None
    website: str | None
    region_code: str | None
    description: str | None


class PartnershipCreate(InputModel):
    partner_id: uuid.UUID
    program_id: uuid.UUID
    role: PartnershipRole
    agreement_ref: str | None = Field(default=None, max_length=200, examples=["PKS/2025/014"])
    start_date: date | None = None
    end_date: date | None = None
    commitment_amount: Amount | None = None


class PartnershipUpdate(InputModel):
    agreement_ref: str | None = Field(default=None, max_length=200)
    start_date: date | None = None
    end_date: date | None = None
    commitment_amount: Amount | None = None


class PartnershipTransition(TransitionRequest):
    to: PartnershipStatus = Field(examples=["active"])


class PartnershipRead(ReadModel):
    partner_id: uuid.UUID
    program_id: uuid.UUID
    role: PartnershipRole
    agreement_ref: str | None
    start_date: date | None
    end_date: date | None
    commitment_amount: int | None
    status: PartnershipStatus
    contributed_amount: int = Field(description="Sum of the contributions recorded")


class ContributionCreate(InputModel):
    kind: ContributionKind
    amount: Amount = Field(description="Rupiah; for in-kind, the estimated value")
    contributed_on: date
    description: str | None = Field(default=None, max_length=2000)


class ContributionUpdate(PatchModel):
    not_null = ("kind", "amount", "contributed_on")

    kind: ContributionKind | None = None
    amount: Amount | None = None
    contributed_on: date | None = None
    description: str | None = Field(default=None, max_length=2000)


class ContributionRead(ReadModel):
    partnership_id: uuid.UUID
    kind: ContributionKind
    amount: int
    contributed_on: date
    description: str | None


class ServiceAccountCreate(InputModel):
    # A partner account (the default role) belongs to an organisation; an analyst's does not.
    model_config = ConfigDict(
        json_schema_extra={
            "oneOf": [
                {
                    "properties": {
                        "role": {"const": "partner"},
                        "organization_id": {"type": "string"},
                    },
                    "required": ["organization_id"],
                },
                {
                    "properties": {
                        "role": {"const": "analyst"},
                        "organization_id": {"type": "null"},
                    },
                    "required": ["role"],
                },
            ]
        }
    )

    name: str = Field(min_length=1, max_length=200, examples=["Sistem CSR PT Contoh"])
    organization_id: uuid.UUID | None = Field(default=None, description="Partner organisation")
    role: Literal["partner", "analyst"] = "partner"


class ServiceAccountUpdate(PatchModel):
    not_null = ("name",)

    name: str | None = Field(default=None, min_length=1, max_length=200)


class ServiceAccountRotate(InputModel):
    grace_seconds: int | None = Field(
        default=None,
        ge=0,
        le=7 * 24 * 3600,
        description=(
            "How long the old secret, and the tokens minted with it, keep working; 0 ends "
            "them at once (a leaked secret). Default: the server's rotation grace (1 hour)."
        ),
        examples=[0],
    )


class ServiceAccountRead(ReadModel):
    name: str
    organization_id: uuid.UUID | None
    role: Role
    client_id: str
    revoked_at: datetime | None
    last_used_at: datetime | None
    previous_secret_expires_at: datetime | None


class ServiceAccountSecret(ServiceAccountRead):
    client_secret: str = Field(description="Shown once; store it now")
