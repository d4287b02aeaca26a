"""Wire schemas of people. Which fields a caller gets is decided in app.people.service."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from app.core.schemas import InputModel, PatchModel
from app.people.models import ConsentPurpose, Sex, VulnerableGroup
from app.people.nik import validate_nik

# ASCII digits only: ``\d`` takes any script's digits; ``\Z``: no trailing newline.
_PHONE = re.compile(r"^\+?[0-9]{8,15}\Z")


def validate_phone(value: str) -> str:
    """Indonesian numbers are stored as +62…; a leading 0 is the national prefix."""
    compact = re.sub(r"[\s\-()]", "", value)
    if not _PHONE.match(compact):
        raise ValueError("phone must be 8 to 15 digits, optionally with a leading +")
    if compact.startswith("0"):
        compact = "+62" + compact[1:]
    elif not compact.startswith("+"):
        compact = "+" + compact
    return compact


Nik = Annotated[
    str,
    AfterValidator(validate_nik),
    Field(
        description="16-digit NIK; stored encrypted, shown masked", examples=["3204124506850003"]
    ),
]
Phone = Annotated[
    str,
    AfterValidator(validate_phone),
    Field(description="Stored encrypted, shown masked", examples=["081234567890"]),
]
BirthYear = Annotated[int, Field(ge=1900, le=2100, examples=[1985])]


def _unique(values: list[str] | None) -> list[str] | None:
    if values is not None and len(set(values)) != len(values):
        raise ValueError("items must not repeat")
    return values


class PersonCreate(InputModel):
    community_id: uuid.UUID
    full_name: str = Field(min_length=1, max_length=200, examples=["Siti Aminah"])
    sex: Sex
    birth_year: BirthYear | None = None
    nik: Nik | None = None
    phone: Phone | None = None
    disability: bool = False
    vulnerable_groups: list[VulnerableGroup] = Field(default_factory=list, max_length=20)
    consent_purposes: list[ConsentPurpose] = Field(
        default_factory=list, examples=[["program_participation", "needs_assessment"]]
    )
    consent_given_at: AwareDatetime | None = Field(
        default=None, description="Defaults to now when purposes are given without it."
    )

    _check_unique = field_validator("vulnerable_groups", "consent_purposes")(_unique)


class PersonUpdate(PatchModel):
    """Merge patch. Setting ``consent_withdrawn_at`` withdraws every consent from then on."""

    not_null = (
        "full_name",
        "sex",
        "community_id",
        "disability",
        "vulnerable_groups",
        "consent_purposes",
    )

    community_id: uuid.UUID | None = None
    full_name: str | None = Field(default=None, min_length=1, max_length=200)
    sex: Sex | None = None
    birth_year: BirthYear | None = None
    nik: Nik | None = None
    phone: Phone | None = None
    disability: bool | None = None
    vulnerable_groups: list[VulnerableGroup] | None = Field(default=None, max_length=20)
    consent_purposes: list[ConsentPurpose] | None = None
    consent_given_at: AwareDatetime | None = None
    consent_withdrawn_at: AwareDatetime | None = None

    _check_unique = field_validator("vulnerable_groups", "consent_purposes")(_unique)


class PersonRead(BaseModel):
    """``ReadModel``'s fields, but one schema for every role with a nullable id (generated
    clients get one type): an analyst's id next to person_key would link the pseudonym
    back to the registry."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID | None = Field(
        description="Registry id; null for analysts, who get person_key only (as in "
        "participation records and ballots)"
    )
    created_at: datetime
    updated_at: datetime
    community_id: uuid.UUID
    person_key: str = Field(description="Stable pseudonym (keyed hash of the id)")
    full_name: str | None = Field(description="Null for analysts and after erasure")
    sex: Sex
    birth_year: int | None = Field(description="Null for analysts (they get birth_decade)")
    birth_decade: int | None
    nik: str | None = Field(
        description="Masked (************1234) unless an admin asks ?reveal=nik; null for analysts",
        examples=["************0003"],
    )
    phone: str | None = Field(description="Masked except the last 3 digits; null for analysts")
    disability: bool
    vulnerable_groups: list[VulnerableGroup]
    consent_purposes: list[ConsentPurpose]
    consent_given_at: datetime | None
    consent_withdrawn_at: datetime | None
    has_active_consent: bool
    erased: bool
    participation_count: int = Field(0, description="Live participation records of the person")
    highest_level: str | None = Field(
        None,
        description="Highest IAP2 level reached (inform < consult < involve < "
        "collaborate < empower)",
    )


class NikLookup(InputModel):
    nik: Nik


class PersonList(BaseModel):
    items: list[PersonRead]


class DataExport(BaseModel):
    """Everything held about one person (UU PDP 27/2022 right of access)."""

    person: PersonRead
    sections: dict[str, list[dict[str, object]]] = Field(
        description="Records of other resources that point at the person, by resource"
    )
    exported_at: datetime
