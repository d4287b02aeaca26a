"""Wire schemas of people. Which fields a caller gets is decided in app.people.service."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, WithJsonSchema, field_validator

from app.core.i18n import M
from app.core.regions import PROVINCES
from app.core.schemas import InputModel, PatchModel
from app.core.timestamps import AwareTimestamp
from app.people.models import ConsentPurpose, Sex, VulnerableGroup
from app.people.nik import validate_nik

# ASCII digits only: ``\d`` takes any script's digits; ``\Z``: no trailing newline.
_PHONE = re.compile(r"^\+?[0-9]{8,15}\Z")


def validate_phone(value: str) -> str:
    """Indonesian numbers are stored as +62…; a leading 0 is the national prefix."""
    compact = re.sub(r"[\s\-()]", "", value)
    if not _PHONE.match(compact):
        raise ValueError(M.phone_format)
    if compact.startswith("0"):
        compact = "+62" + compact[1:]
    elif not compact.startswith("+"):
        compact = "+" + compact
    return compact


# The NIK and phone rules as JSON Schema patterns, so clients check them before sending.
# Python's str.isspace() characters (what str.strip() and re's \s take), spelled for ECMA.
_PY_SPACE = r"\t\n\v\f\r\u001c-\u001f \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"


def _digits(*classes: str) -> str:
    """Digits one after another; ASCII spaces between them are ignored (``validate_nik``)."""
    return " *".join(classes)


def _any(*options: str) -> str:
    return f"({'|'.join(options)})"


def _nik_pattern() -> str:
    """``validate_nik`` as a JSON Schema pattern: a known province, regency and district
    not 00, a real birth date (day + 40 for women; 29 February in years divisible by 4),
    a serial not 0000; spaces between the digits and around the number are ignored."""
    province = _any(*(_digits(*code) for code in PROVINCES))
    not_zero = _any(_digits("0", "[1-9]"), _digits("[1-9]", "[0-9]"))
    year = _digits("[0-9]", "[0-9]")
    leap_year = _any(_digits("0", "[048]"), _digits("[2468]", "[048]"), _digits("[13579]", "[26]"))
    days_to_29 = [
        _digits("0", "[1-9]"),
        _digits("[12]", "[0-9]"),
        _digits("4", "[1-9]"),
        _digits("[56]", "[0-9]"),
    ]
    long_months = _any(_digits("0", "[13578]"), _digits("1", "[02]"))
    short_months = _any(_digits("0", "[469]"), _digits("1", "1"))
    february = _digits("0", "2")
    dates = _any(
        _digits(_any(*days_to_29, _digits("[37]", "[01]")), long_months, year),
        _digits(_any(*days_to_29, _digits("[37]", "0")), short_months, year),
        _digits(
            _any(
                _digits("0", "[1-9]"),
                _digits("1", "[0-9]"),
                _digits("2", "[0-8]"),
                _digits("4", "[1-9]"),
                _digits("5", "[0-9]"),
                _digits("6", "[0-8]"),
            ),
            february,
            year,
        ),
        _digits("[26]", "9", february, leap_year),
    )
    serial = _any(
        _digits("0", "0", "0", "[1-9]"),
        _digits("0", "0", "[1-9]", "[0-9]"),
        _digits("0", "[1-9]", "[0-9]", "[0-9]"),
        _digits("[1-9]", "[0-9]", "[0-9]", "[0-9]"),
    )
    return f"^[{_PY_SPACE}]*{_digits(province, not_zero, not_zero, dates, serial)}[{_PY_SPACE}]*$"


NIK_PATTERN = _nik_pattern()
_SEPARATOR = rf"[{_PY_SPACE}()-]"
PHONE_PATTERN = rf"^{_SEPARATOR}*\+?({_SEPARATOR}*[0-9]){{8,15}}{_SEPARATOR}*$"


Nik = Annotated[
    str,
    AfterValidator(validate_nik),
    WithJsonSchema({"type": "string", "pattern": NIK_PATTERN}),
    Field(
        description="16-digit NIK (spaces between the digits are ignored); stored encrypted, "
        "shown masked",
        examples=["3204124506850003"],
    ),
]
Phone = Annotated[
    str,
    AfterValidator(validate_phone),
    WithJsonSchema({"type": "string", "pattern": PHONE_PATTERN}),
    Field(description="Stored encrypted, shown masked", examples=["081234567890"]),
]
BirthYear = Annotated[int, Field(ge=1900, le=2100, examples=[1985])]


def _unique(values: list[str] | None) -> list[str] | None:
    if values is not None and len(set(values)) != len(values):
        raise ValueError(M.items_repeat)
    return values


class PersonCreate(InputModel):
    community_id: uuid.UUID
    full_name: str = Field(min_length=1, max_length=200, examples=["Siti Aminah"])
    sex: Sex
    birth_year: BirthYear | None = None
    nik: Nik | None = None
    phone: Phone | None = None
    disability: bool = False
    vulnerable_groups: list[VulnerableGroup] = Field(
        default_factory=list, max_length=20, json_schema_extra={"uniqueItems": True}
    )
    consent_purposes: list[ConsentPurpose] = Field(
        default_factory=list,
        examples=[["program_participation", "needs_assessment"]],
        json_schema_extra={"uniqueItems": True},
    )
    consent_given_at: AwareTimestamp | None = Field(
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
    vulnerable_groups: list[VulnerableGroup] | None = Field(
        default=None, max_length=20, json_schema_extra={"uniqueItems": True}
    )
    consent_purposes: list[ConsentPurpose] | None = Field(
        default=None, json_schema_extra={"uniqueItems": True}
    )
    consent_given_at: AwareTimestamp | None = None
    consent_withdrawn_at: AwareTimestamp | None = None

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
