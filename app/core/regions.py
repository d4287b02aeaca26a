"""Kemendagri region codes (``PP.RR.DD.VVVV``): validation and prefix filters."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import Query
from pydantic import AfterValidator, WithJsonSchema

from app.core.i18n import M

# Province codes in force (Permendagri 2022 onward, including the new Papua provinces).
PROVINCES: dict[str, str] = {
    "11": "Aceh",
    "12": "Sumatera Utara",
    "13": "Sumatera Barat",
    "14": "Riau",
    "15": "Jambi",
    "16": "Sumatera Selatan",
    "17": "Bengkulu",
    "18": "Lampung",
    "19": "Kepulauan Bangka Belitung",
    "21": "Kepulauan Riau",
    "31": "DKI Jakarta",
    "32": "Jawa Barat",
    "33": "Jawa Tengah",
    "34": "DI Yogyakarta",
    "35": "Jawa Timur",
    "36": "Banten",
    "51": "Bali",
    "52": "Nusa Tenggara Barat",
    "53": "Nusa Tenggara Timur",
    "61": "Kalimantan Barat",
    "62": "Kalimantan Tengah",
    "63": "Kalimantan Selatan",
    "64": "Kalimantan Timur",
    "65": "Kalimantan Utara",
    "71": "Sulawesi Utara",
    "72": "Sulawesi Tengah",
    "73": "Sulawesi Selatan",
    "74": "Sulawesi Tenggara",
    "75": "Gorontalo",
    "76": "Sulawesi Barat",
    "81": "Maluku",
    "82": "Maluku Utara",
    "91": "Papua",
    "92": "Papua Barat",
    "93": "Papua Selatan",
    "94": "Papua Tengah",
    "95": "Papua Pegunungan",
    "96": "Papua Barat Daya",
}

# ASCII digits only (``\d`` would accept other scripts' digits); ``\Z``, not ``$``, so a
# trailing newline is no part of a valid code.
_FULL = re.compile(r"^([0-9]{2})\.([0-9]{2})\.([0-9]{2})\.([0-9]{4})\Z")
_PREFIX = re.compile(r"^[0-9]{2}(\.[0-9]{2}(\.[0-9]{2}(\.[0-9]{4})?)?)?\Z")


def validate_region_code(value: str) -> str:
    """Check a full village-level code; raise ValueError naming what is wrong."""
    match = _FULL.match(value)
    if not match:
        raise ValueError(M.region_code_format)
    province, regency, district, village = match.groups()
    if province not in PROVINCES:
        raise ValueError(M.province_unknown)
    if regency == "00" or district == "00" or village == "0000":
        raise ValueError(M.region_parts_zero)
    return value


def validate_region_prefix(value: str) -> str:
    """A filter prefix: ``32``, ``32.04``, ``32.04.12`` or a full code."""
    if not _PREFIX.match(value):
        raise ValueError(M.region_prefix_format)
    if value[:2] not in PROVINCES:
        raise ValueError(M.province_unknown)
    return value


# Indonesian time zones by province: WIB (UTC+7), WITA (UTC+8), WIT (UTC+9).
_WITA = {"51", "52", "53", "63", "64", "65", "71", "72", "73", "74", "75", "76"}
_WIT = {"81", "82", "91", "92", "93", "94", "95", "96"}


def local_zone(region_code: str) -> tuple[str, int]:
    """The zone name and UTC offset in hours of a region (province prefix)."""
    province = region_code[:2]
    if province in _WIT:
        return "WIT", 9
    if province in _WITA:
        return "WITA", 8
    return "WIB", 7


# The same rules as JSON Schema patterns (ECMA-262), so clients check codes before sending.
_PROVINCE = f"({'|'.join(PROVINCES)})"
_NOT_ZERO_2 = "(0[1-9]|[1-9][0-9])"
_NOT_ZERO_4 = "(000[1-9]|00[1-9][0-9]|0[1-9][0-9]{2}|[1-9][0-9]{3})"
REGION_CODE_PATTERN = rf"^{_PROVINCE}\.{_NOT_ZERO_2}\.{_NOT_ZERO_2}\.{_NOT_ZERO_4}$"
REGION_PREFIX_PATTERN = rf"^{_PROVINCE}(\.[0-9]{{2}}(\.[0-9]{{2}}(\.[0-9]{{4}})?)?)?$"

RegionCode = Annotated[
    str,
    AfterValidator(validate_region_code),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": REGION_CODE_PATTERN,
            "description": "Kemendagri code PP.RR.DD.VVVV",
            "examples": ["32.04.12.2001"],
        }
    ),
]
"""A full village-level code (422 naming what is wrong)."""

RegionPrefix = Annotated[
    str,
    AfterValidator(validate_region_prefix),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": REGION_PREFIX_PATTERN,
            "description": "Kemendagri code or prefix: 32, 32.04, 32.04.12 or a full code",
            "examples": ["32.04"],
        }
    ),
]
"""A code or a prefix of one (a province known)."""

# The ``region_code`` filter of every list and report: a validated prefix (422 otherwise).
RegionPrefixQuery = Annotated[
    RegionPrefix | None,
    Query(description="Kemendagri code prefix: 32, 32.04, 32.04.12 or a full code"),
]
