"""NIK (Nomor Induk Kependudukan) validation.

Layout: ``PPRRDD DDMMYY SSSS`` — province, regency, district; birth date with
40 added to the day for women; a serial number. Errors say what is wrong, never
echo the value.
"""

from __future__ import annotations

import re

from app.core.i18n import M
from app.core.regions import PROVINCES

# ASCII digits only: ``\d`` also matches other scripts' digits, which int() accepts, so a
# NIK with a full-width digit would pass and be hashed apart from its ASCII twin (duplicate).
_DIGITS = re.compile(r"[0-9]{16}")
_DAYS_IN_MONTH = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def validate_nik(value: str) -> str:
    nik = value.strip().replace(" ", "")
    if not _DIGITS.fullmatch(nik):
        raise ValueError(M.nik_digits)
    province, regency, district = nik[0:2], nik[2:4], nik[4:6]
    day, month, year = int(nik[6:8]), int(nik[8:10]), int(nik[10:12])
    if province not in PROVINCES:
        raise ValueError(M.nik_province)
    if regency == "00" or district == "00":
        raise ValueError(M.nik_region_zero)
    if not 1 <= month <= 12:
        raise ValueError(M.nik_month)
    if day > 40:
        day -= 40  # women: day of birth + 40
    longest = _DAYS_IN_MONTH[month - 1]
    if month == 2 and year % 4 != 0:
        longest = 28
    if not 1 <= day <= longest:
        raise ValueError(M.nik_day)
    if nik[12:] == "0000":
        raise ValueError(M.nik_serial)
    return nik
