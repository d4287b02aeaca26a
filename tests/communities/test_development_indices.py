"""The yearly development index of a community (IDM): its rules over HTTP, and the score
and status rule itself as a table, without float drift at the boundaries."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import httpx
import pytest

from app.auth.models import Role
from app.communities.models import IdmStatus
from app.communities.service import idm_score, idm_status
from tests.factories import COMMUNITIES, index_body, indices_url
from tests.helpers import assert_422_at

BASE = COMMUNITIES


# --- development indices ---------------------------------------------------------------------


async def test_index_create_computes_score(admin: httpx.AsyncClient, make_community: Any) -> None:
    cid = (await make_community())["id"]
    r = await admin.post(
        indices_url(cid), json={"year": 2023, "iks": 0.7123, "ike": 0.6012, "ikl": 0.6667}
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["community_id"] == cid
    assert body["year"] == 2023
    assert body["iks"] == 0.7123 and body["ike"] == 0.6012 and body["ikl"] == 0.6667
    # (0.7123 + 0.6012 + 0.6667) / 3 = 0.66006...
    assert body["idm_score"] == 0.6601
    assert body["idm_status"] == "berkembang"
    assert r.headers["location"] == f"{indices_url(cid)}/{body['id']}"

    r = await admin.get(f"{indices_url(cid)}/{body['id']}")
    assert r.status_code == 200
    assert r.json() == body
    assert "etag" in r.headers

    r = await admin.get(indices_url(cid))
    assert r.status_code == 200
    assert [i["id"] for i in r.json()["items"]] == [body["id"]]


@pytest.mark.parametrize(
    ("value", "status"),
    [
        ("0.4907", "sangat_tertinggal"),
        ("0.4908", "tertinggal"),
        ("0.5989", "tertinggal"),
        ("0.5990", "berkembang"),
        ("0.7072", "berkembang"),
        ("0.7073", "maju"),
        ("0.8155", "maju"),
        ("0.8156", "mandiri"),
        ("0", "sangat_tertinggal"),
        ("1", "mandiri"),
    ],
)
async def test_index_status_boundaries(
    admin: httpx.AsyncClient, make_community: Any, value: str, status: str
) -> None:
    cid = (await make_community())["id"]
    # as JSON numbers, the way clients send them
    r = await admin.post(indices_url(cid), json=index_body(2024, float(value)))
    assert r.status_code == 201, r.text
    assert r.json()["idm_score"] == float(value)
    assert r.json()["idm_status"] == status
    # and as decimal strings
    r = await admin.post(indices_url(cid), json=index_body(2025, value))
    assert r.status_code == 201, r.text
    assert r.json()["idm_status"] == status


async def test_index_mixed_values_at_boundary(
    admin: httpx.AsyncClient, make_community: Any
) -> None:
    cid = (await make_community())["id"]
    # 0.4906 + 0.4907 + 0.4908 = 1.4721 → exactly 0.4907 → sangat_tertinggal
    r = await admin.post(
        indices_url(cid), json={"year": 2024, "iks": 0.4906, "ike": 0.4907, "ikl": 0.4908}
    )
    assert r.status_code == 201, r.text
    assert r.json()["idm_score"] == 0.4907
    assert r.json()["idm_status"] == "sangat_tertinggal"


async def test_index_one_entry_per_year(admin: httpx.AsyncClient, make_community: Any) -> None:
    cid = (await make_community())["id"]
    other = (await make_community())["id"]
    r = await admin.post(indices_url(cid), json=index_body(2024, 0.5))
    assert r.status_code == 201, r.text
    first = r.json()["id"]

    r = await admin.post(indices_url(cid), json=index_body(2024, 0.9))
    assert r.status_code == 409, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    # another year, or the same year in another community, is fine
    assert (await admin.post(indices_url(cid), json=index_body(2025, 0.9))).status_code == 201
    assert (await admin.post(indices_url(other), json=index_body(2024, 0.9))).status_code == 201

    assert (await admin.delete(f"{indices_url(cid)}/{first}")).status_code == 204
    assert (await admin.get(f"{indices_url(cid)}/{first}")).status_code == 404
    years = [i["year"] for i in (await admin.get(indices_url(cid))).json()["items"]]
    assert years == [2025]

    r = await admin.post(indices_url(cid), json=index_body(2024, 0.9))
    assert r.status_code == 201, r.text
    second = r.json()["id"]

    # restoring the deleted 2024 entry would make two: refused
    r = await admin.post(f"{indices_url(cid)}/{first}/restore")
    assert r.status_code == 409, r.text
    assert (await admin.get(f"{indices_url(cid)}/{first}")).status_code == 404

    # once the new one is gone, the old one comes back
    assert (await admin.delete(f"{indices_url(cid)}/{second}")).status_code == 204
    r = await admin.post(f"{indices_url(cid)}/{first}/restore")
    assert r.status_code == 200, r.text
    assert r.json()["idm_score"] == 0.5


async def test_index_restore_through_other_community_is_404(
    admin: httpx.AsyncClient, make_community: Any
) -> None:
    cid = (await make_community())["id"]
    other = (await make_community())["id"]
    entry = (await admin.post(indices_url(cid), json=index_body())).json()["id"]
    assert (await admin.get(f"{indices_url(other)}/{entry}")).status_code == 404
    assert (await admin.patch(f"{indices_url(other)}/{entry}", json={"iks": 1})).status_code == 404
    assert (await admin.delete(f"{indices_url(other)}/{entry}")).status_code == 404
    assert (await admin.delete(f"{indices_url(cid)}/{entry}")).status_code == 204
    assert (await admin.post(f"{indices_url(other)}/{entry}/restore")).status_code == 404
    # the failed restore left it deleted
    assert (await admin.get(f"{indices_url(cid)}/{entry}")).status_code == 404


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        (index_body(iks=1.0001), ["body", "iks"]),
        (index_body(ike=-0.0001), ["body", "ike"]),
        (index_body(ikl=2), ["body", "ikl"]),
        (index_body(iks=0.12345), ["body", "iks"]),
        (index_body(iks="abc"), ["body", "iks"]),
        (index_body(ike=None), ["body", "ike"]),
        (index_body(year=2014), ["body", "year"]),
        (index_body(year=2101), ["body", "year"]),
        ({"iks": 0.5, "ike": 0.5, "ikl": 0.5}, ["body", "year"]),
        ({"year": 2024, "ike": 0.5, "ikl": 0.5}, ["body", "iks"]),
        (index_body(idm_score=0.9), ["body", "idm_score"]),
        (index_body(idm_status="mandiri"), ["body", "idm_status"]),
    ],
)
async def test_index_validation(
    admin: httpx.AsyncClient, make_community: Any, body: dict[str, Any], loc: list[Any]
) -> None:
    cid = (await make_community())["id"]
    assert_422_at(await admin.post(indices_url(cid), json=body), *loc)
    assert (await admin.get(indices_url(cid))).json()["items"] == []


async def test_index_patch_recomputes(admin: httpx.AsyncClient, make_community: Any) -> None:
    cid = (await make_community())["id"]
    r = await admin.post(indices_url(cid), json=index_body(2024, 0.5))
    assert r.status_code == 201
    entry = r.json()
    assert entry["idm_status"] == "tertinggal"
    url = f"{indices_url(cid)}/{entry['id']}"

    r = await admin.patch(url, json={"iks": 0.9, "ike": 0.9}, headers={"If-Match": '"1"'})
    assert r.status_code == 200, r.text
    patched = r.json()
    assert patched["iks"] == 0.9 and patched["ike"] == 0.9 and patched["ikl"] == 0.5
    assert patched["idm_score"] == 0.7667  # 2.3 / 3 = 0.76666.. rounded half-up
    assert patched["idm_status"] == "maju"
    assert patched["year"] == 2024
    assert r.headers["etag"] == '"2"'
    assert (await admin.get(url)).json() == patched

    # stale ETag
    r = await admin.patch(url, json={"ikl": 1}, headers={"If-Match": '"1"'})
    assert r.status_code == 412

    r = await admin.patch(url, json={"ikl": 1})
    assert r.status_code == 200, r.text
    assert r.json()["idm_score"] == 0.9333
    assert r.json()["idm_status"] == "mandiri"

    for body, loc in (
        ({"iks": 1.5}, ["body", "iks"]),
        ({"ike": None}, ["body", "ike"]),
        ({"year": 2030}, ["body", "year"]),
        ({"idm_status": "maju"}, ["body", "idm_status"]),
    ):
        assert_422_at(await admin.patch(url, json=body), *loc)
    assert (await admin.get(url)).json()["idm_status"] == "mandiri"


async def test_index_access(
    admin: httpx.AsyncClient,
    coordinator: httpx.AsyncClient,
    analyst: httpx.AsyncClient,
    make_user: Any,
    as_user: Any,
    make_community: Any,
) -> None:
    cid = (await make_community())["id"]
    entry = (await coordinator.post(indices_url(cid), json=index_body())).json()
    url = f"{indices_url(cid)}/{entry['id']}"

    # an unassigned facilitator: nothing exists
    outsider = as_user(await make_user(Role.facilitator))
    assert (await outsider.get(indices_url(cid))).status_code == 404
    assert (await outsider.get(url)).status_code == 404
    assert (await outsider.post(indices_url(cid), json=index_body(2025))).status_code == 404
    assert (await outsider.patch(url, json={"iks": 0.1})).status_code == 404
    assert (await outsider.delete(url)).status_code == 404

    # an assigned facilitator reads but does not write indices
    insider = as_user(await make_user(Role.facilitator, communities=[uuid.UUID(cid)]))
    assert (await insider.get(url)).status_code == 200
    assert [i["id"] for i in (await insider.get(indices_url(cid))).json()["items"]] == [entry["id"]]
    assert (await insider.post(indices_url(cid), json=index_body(2025))).status_code == 403

    # analysts read everything and write nothing
    assert (await analyst.get(url)).status_code == 200
    assert (await analyst.post(indices_url(cid), json=index_body(2025))).status_code == 403
    assert (await analyst.patch(url, json={"iks": 0.1})).status_code == 403
    assert (await analyst.delete(url)).status_code == 403
    assert (await analyst.post(f"{url}/restore")).status_code == 403

    assert (await admin.get(url)).json() == entry
    assert (await admin.get(indices_url(str(uuid.uuid4())))).status_code == 404


async def test_indices_of_deleted_community_are_gone(
    admin: httpx.AsyncClient, make_community: Any
) -> None:
    cid = (await make_community())["id"]
    entry = (await admin.post(indices_url(cid), json=index_body())).json()
    assert (await admin.delete(f"{BASE}/{cid}")).status_code == 204
    assert (await admin.get(indices_url(cid))).status_code == 404
    assert (await admin.post(indices_url(cid), json=index_body(2025))).status_code == 404
    assert entry["id"]


async def test_indices_list_sorted_by_year(admin: httpx.AsyncClient, make_community: Any) -> None:
    cid = (await make_community())["id"]
    for year in (2022, 2020, 2021):
        assert (await admin.post(indices_url(cid), json=index_body(year))).status_code == 201
    r = await admin.get(indices_url(cid))
    assert [i["year"] for i in r.json()["items"]] == [2020, 2021, 2022]
    r = await admin.get(indices_url(cid), params={"sort": "-year"})
    assert [i["year"] for i in r.json()["items"]] == [2022, 2021, 2020]


# --- the rule itself -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("score", "status"),
    [
        ("0", IdmStatus.sangat_tertinggal),
        ("0.4906", IdmStatus.sangat_tertinggal),
        ("0.4907", IdmStatus.sangat_tertinggal),
        ("0.4908", IdmStatus.tertinggal),
        ("0.5989", IdmStatus.tertinggal),
        ("0.5990", IdmStatus.berkembang),
        ("0.7072", IdmStatus.berkembang),
        ("0.7073", IdmStatus.maju),
        ("0.8155", IdmStatus.maju),
        ("0.8156", IdmStatus.mandiri),
        ("1", IdmStatus.mandiri),
    ],
)
def test_idm_status_table(score: str, status: IdmStatus) -> None:
    assert idm_status(Decimal(score)) is status


@pytest.mark.parametrize(
    ("iks", "ike", "ikl", "score"),
    [
        ("0.4907", "0.4907", "0.4907", "0.4907"),
        ("0.5989", "0.5989", "0.5989", "0.5989"),
        ("0.7072", "0.7072", "0.7072", "0.7072"),
        ("0.8155", "0.8155", "0.8155", "0.8155"),
        ("0.8156", "0.8156", "0.8156", "0.8156"),
        ("0.4906", "0.4907", "0.4908", "0.4907"),
        ("0.7123", "0.6012", "0.6667", "0.6601"),
        ("1", "1", "1", "1.0000"),
        ("0", "0", "0", "0.0000"),
        ("0.0001", "0", "0", "0.0000"),  # 0.0000333.. rounds down
        ("0.0001", "0.0001", "0.0000", "0.0001"),  # 0.0000666.. rounds up
        ("0.9", "0.9", "0.5", "0.7667"),
    ],
)
def test_idm_score_table(iks: str, ike: str, ikl: str, score: str) -> None:
    result = idm_score(Decimal(iks), Decimal(ike), Decimal(ikl))
    assert isinstance(result, Decimal)
    assert result == Decimal(score)
    assert result.as_tuple().exponent == -4


def test_idm_score_has_no_float_drift_at_boundaries() -> None:
    for boundary, status in (
        ("0.4907", IdmStatus.sangat_tertinggal),
        ("0.5989", IdmStatus.tertinggal),
        ("0.7072", IdmStatus.berkembang),
        ("0.8155", IdmStatus.maju),
    ):
        value = Decimal(boundary)
        assert idm_status(idm_score(value, value, value)) is status


async def test_a_cursor_with_an_oversized_integer_is_no_outage(
    admin: httpx.AsyncClient, make_community: Any
) -> None:
    """A cursor is opaque but client-held: one edited to carry a number beyond the
    column's range pages past the end (or is refused), never a 5xx."""
    import base64
    import json

    cid = (await make_community())["id"]
    for year in (2021, 2022):
        r = await admin.post(
            indices_url(cid), json={"year": year, "iks": 0.7, "ike": 0.6, "ikl": 0.6}
        )
        assert r.status_code == 201, r.text
    r = await admin.get(indices_url(cid), params={"sort": "year", "limit": 1})
    cursor = r.json()["next_cursor"]
    data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    data["v"] = 2**40
    edited = base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")
    r = await admin.get(indices_url(cid), params={"sort": "year", "limit": 1, "cursor": edited})
    assert r.status_code in (200, 422), r.text
    if r.status_code == 200:
        assert r.json() == {"items": [], "next_cursor": None}
