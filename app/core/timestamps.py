"""``AwareTimestamp``: the one type for timestamp query parameters (``updated_since``, ...).

Pydantic's ``AwareDatetime`` alone lets two kinds of input through that then fail far
from the parameter: numbers (``0.5`` is read as seconds since 1970, not refused) and
instants that exist with their offset but not in UTC (``9999-12-31T23:59:59-14:00``),
which crash when the database driver converts them (a 500). This type accepts RFC 3339
date-times with an offset only, and refuses anything outside what UTC can hold with the
standard 422, describing the rule without echoing the value.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, BeforeValidator

from app.core.i18n import M, custom_error

# RFC 3339 section 5.6 "date-time": full-date "T" full-time, the offset required.
_RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:[Zz]|[+-]\d{2}:\d{2})",
    re.ASCII,
)

EARLIEST = datetime(1, 1, 1, tzinfo=UTC)
LATEST = datetime(9999, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC)

_FORMAT_MESSAGE = "must be an RFC 3339 date-time with an offset, e.g. 2025-01-31T08:00:00Z"
_RANGE_MESSAGE = "must lie between 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z in UTC"


def _rfc3339_only(value: Any) -> Any:
    if isinstance(value, datetime):  # already parsed (a default, or a Python caller)
        return value
    if not isinstance(value, str) or not _RFC3339.fullmatch(value):
        raise custom_error(M.datetime_format)
    return value


def _in_utc_range(value: datetime) -> datetime:
    try:
        utc = value.astimezone(UTC)
    except OverflowError:  # before year 1 or after year 9999 once the offset is applied
        raise custom_error(M.datetime_range) from None
    if not EARLIEST <= utc <= LATEST:
        raise custom_error(M.datetime_range)
    return utc


AwareTimestamp = Annotated[
    AwareDatetime, BeforeValidator(_rfc3339_only), AfterValidator(_in_utc_range)
]
"""An aware RFC 3339 timestamp, normalised to UTC, refused (422) when UTC cannot hold it."""
