"""Timestamp query parameters (``app.core.timestamps.AwareTimestamp``): RFC 3339 strings
with an offset only, and only instants UTC can hold; anything else is the standard 422."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest
from pydantic import TypeAdapter, ValidationError

from app.core.timestamps import AwareTimestamp

LISTS = ["/api/v1/communities", "/api/v1/people", "/api/v1/programs", "/api/v1/partners"]

REFUSED = [
    "9999-12-31T23:59:59-14:00",  # after 9999 once in UTC
    "0001-01-01T00:00:00+14:00",  # before year 1 once in UTC
    "0.5",  # a number is not a timestamp (it was read as seconds since 1970)
    "1700000000",
    "2024-02-29",  # a date alone
    "2024-02-29 08:00:00Z",  # no "T"
    "2024-02-29T08:00:00",  # no offset
]


@pytest.mark.parametrize("path", LISTS)
@pytest.mark.parametrize("value", REFUSED)
async def test_updated_since_outside_rfc3339_or_utc_is_422(
    admin: httpx.AsyncClient, path: str, value: str
) -> None:
    r = await admin.get(path, params={"updated_since": value})
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["status"] == 422
    assert [e["loc"] for e in body["errors"]] == [["query", "updated_since"]]
    assert value not in r.text  # described, never echoed


@pytest.mark.parametrize(
    "value",
    [
        "9999-12-31T23:59:59Z",
        "9999-12-31T23:59:59+14:00",
        "0001-01-01T00:00:00Z",
        "0001-01-01T00:00:00-14:00",
        "2025-01-31t08:00:00.123456789z",
    ],
)
async def test_updated_since_at_the_edges_of_utc_is_accepted(
    admin: httpx.AsyncClient, make_community: object, value: str
) -> None:
    for path in LISTS[:2]:
        r = await admin.get(path, params={"updated_since": value})
        assert r.status_code == 200, r.text


def test_the_type_normalises_to_utc_and_refuses_numbers() -> None:
    adapter = TypeAdapter(AwareTimestamp)
    value = adapter.validate_python("2025-01-31T08:00:00+07:00")
    assert value == datetime(2025, 1, 31, 1, 0, tzinfo=UTC)
    assert value.utcoffset() is not None and value.utcoffset().total_seconds() == 0  # type: ignore[union-attr]
    for number in (0.5, 1_700_000_000):
        with pytest.raises(ValidationError):
            adapter.validate_python(number)


@pytest.mark.parametrize("name", ["since", "until"])
@pytest.mark.parametrize("value", REFUSED[:3])
async def test_audit_event_bounds_are_validated_the_same_way(
    admin: httpx.AsyncClient, name: str, value: str
) -> None:
    r = await admin.get("/api/v1/audit-events", params={name: value})
    assert r.status_code == 422, r.text
    assert [e["loc"] for e in r.json()["errors"]] == [["query", name]]
    ok = await admin.get("/api/v1/audit-events", params={name: "2025-01-01T00:00:00+07:00"})
    assert ok.status_code == 200, ok.text
