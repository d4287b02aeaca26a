"""Communities, their facilitators and their yearly development index (IDM), over HTTP."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import httpx
import pytest

from app.auth.models import Role
from app.communities.models import IdmStatus
from app.communities.service import idm_score, idm_status

BASE = "/api/v1/communities"


def _locs(response: httpx.Response) -> list[list[Any]]:
    body = response.json()
    return [issue["loc"] for issue in body.get("errors") or []]


def assert_422_at(response: httpx.Response, *loc: Any) -> None:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert list(loc) in _locs(response), _locs(response)


def indices_url(community_id: str) -> str:
    return f"{BASE}/{community_id}/development-indices"


# --- communities: CRUD ----------------------------------------------------------------------


async def test_create_get_patch_delete(admin: httpx.AsyncClient, community_payload: Any) -> None:
    payload = community_payload(
        name="Desa Sukamaju",
        kind="desa",
        description="di lereng gunung",
        households=400,
        latitude=-7.0123,
        longitude=107.5312,
        potentials=["kopi arabika", "wisata curug"],
    )
    r = await admin.post(BASE, json=payload)
    assert r.status_code == 201, r.text
    created = r.json()
    cid = created["id"]
    assert r.headers["location"] == f"{BASE}/{cid}"
    assert r.headers["etag"] == '"1"'
    for key, value in payload.items():
        assert created[key] == value, key
    uuid.UUID(cid)
    assert created["created_at"] and created["updated_at"]

    r = await admin.get(f"{BASE}/{cid}")
    assert r.status_code == 200
    assert r.json() == created
    etag = r.headers["etag"]
    r = await admin.get(f"{BASE}/{cid}", headers={"If-None-Match": etag})
    assert r.status_code == 304

    # merge patch: only the given fields change; null clears an optional one
    r = await admin.patch(
        f"{BASE}/{cid}",
        json={"population": 5000, "description": None},
        headers={"If-Match": etag},
    )
    assert r.status_code == 200, r.text
    patched = r.json()
    assert patched["population"] == 5000
    assert patched["description"] is None
    assert patched["name"] == "Desa Sukamaju"
    assert patched["potentials"] == ["kopi arabika", "wisata curug"]
    assert r.headers["etag"] != etag

    # stale If-Match → 412
    r = await admin.patch(f"{BASE}/{cid}", json={"population": 1}, headers={"If-Match": etag})
    assert r.status_code == 412, r.text
    assert (await admin.get(f"{BASE}/{cid}")).json()["population"] == 5000

    r = await admin.delete(f"{BASE}/{cid}")
    assert r.status_code == 204
    assert (await admin.get(f"{BASE}/{cid}")).status_code == 404
    assert (await admin.patch(f"{BASE}/{cid}", json={"population": 1})).status_code == 404
    assert (await admin.delete(f"{BASE}/{cid}")).status_code == 404
    listed = (await admin.get(BASE)).json()["items"]
    assert cid not in [c["id"] for c in listed]

    r = await admin.post(f"{BASE}/{cid}/restore")
    assert r.status_code == 200, r.text
    assert (await admin.get(f"{BASE}/{cid}")).status_code == 200


async def test_unknown_community_is_404(admin: httpx.AsyncClient) -> None:
    r = await admin.get(f"{BASE}/{uuid.uuid4()}")
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("application/problem+json")
    assert (await admin.get(f"{BASE}/not-a-uuid")).status_code == 422


async def test_coordinator_manages_analyst_only_reads(
    coordinator: httpx.AsyncClient, analyst: httpx.AsyncClient, community_payload: Any
) -> None:
    r = await coordinator.post(BASE, json=community_payload())
    assert r.status_code == 201, r.text
    cid = r.json()["id"]
    assert (await coordinator.patch(f"{BASE}/{cid}", json={"population": 9})).status_code == 200

    assert (await analyst.get(f"{BASE}/{cid}")).status_code == 200
    assert (await analyst.post(BASE, json=community_payload())).status_code == 403
    assert (await analyst.patch(f"{BASE}/{cid}", json={"population": 1})).status_code == 403
    assert (await analyst.delete(f"{BASE}/{cid}")).status_code == 403

    assert (await coordinator.delete(f"{BASE}/{cid}")).status_code == 204
    # restore is for admins only
    assert (await coordinator.post(f"{BASE}/{cid}/restore")).status_code == 403


# --- communities: validation ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "loc"),
    [
        ({"region_code": "32.04.12"}, ["body", "region_code"]),
        ({"region_code": "99.01.01.2001"}, ["body", "region_code"]),
        ({"region_code": "32.00.12.2001"}, ["body", "region_code"]),
        ({"region_code": "32.04.00.2001"}, ["body", "region_code"]),
        ({"region_code": "32.04.12.0000"}, ["body", "region_code"]),
        ({"region_code": "ab.cd.ef.ghij"}, ["body", "region_code"]),
        ({"region_code": "32.04.12.200a"}, ["body", "region_code"]),
        ({"region_code": "3204122001"}, ["body", "region_code"]),
        ({"region_code": "32.04.12.2001.1"}, ["body", "region_code"]),
        # non-ASCII digits are not a Kemendagri code
        ({"region_code": "32.\u0660\u0664.12.2001"}, ["body", "region_code"]),
        ({"region_code": ""}, ["body", "region_code"]),
        ({"population": -1}, ["body", "population"]),
        ({"households": -1}, ["body", "households"]),
        ({"latitude": 91}, ["body", "latitude"]),
        ({"latitude": -91}, ["body", "latitude"]),
        ({"longitude": 181}, ["body", "longitude"]),
        ({"longitude": -181}, ["body", "longitude"]),
        ({"name": ""}, ["body", "name"]),
        ({"name": "   "}, ["body", "name"]),
        ({"name": "x" * 201}, ["body", "name"]),
        ({"kind": "kota"}, ["body", "kind"]),
        ({"potentials": ["x" * 201]}, ["body", "potentials", 0]),
        ({"potentials": ["ok", ""]}, ["body", "potentials", 1]),
        ({"id": str(uuid.uuid4())}, ["body", "id"]),
        ({"created_at": "2024-01-01T00:00:00Z"}, ["body", "created_at"]),
    ],
)
async def test_create_validation(
    admin: httpx.AsyncClient, community_payload: Any, overrides: dict[str, Any], loc: list[Any]
) -> None:
    r = await admin.post(BASE, json=community_payload(**overrides))
    assert_422_at(r, *loc)
    assert (await admin.get(BASE)).json()["items"] == []


@pytest.mark.parametrize("missing", ["name", "kind", "region_code"])
async def test_create_requires_fields(
    admin: httpx.AsyncClient, community_payload: Any, missing: str
) -> None:
    payload = community_payload()
    del payload[missing]
    assert_422_at(await admin.post(BASE, json=payload), "body", missing)


async def test_validation_problem_does_not_echo_values(
    admin: httpx.AsyncClient, community_payload: Any
) -> None:
    r = await admin.post(BASE, json=community_payload(region_code="SECRET-VALUE-42"))
    assert r.status_code == 422
    assert "SECRET-VALUE-42" not in r.text


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"name": None}, ["body", "name"]),
        ({"kind": None}, ["body", "kind"]),
        ({"region_code": None}, ["body", "region_code"]),
        ({"potentials": None}, ["body", "potentials"]),
        ({"region_code": "99.01.01.2001"}, ["body", "region_code"]),
        ({"latitude": 91}, ["body", "latitude"]),
        ({"population": -5}, ["body", "population"]),
        ({"kind": "kota"}, ["body", "kind"]),
        ({"version": 7}, ["body", "version"]),
    ],
)
async def test_patch_validation(
    admin: httpx.AsyncClient, make_community: Any, body: dict[str, Any], loc: list[Any]
) -> None:
    community = await make_community()
    r = await admin.patch(f"{BASE}/{community['id']}", json=body)
    assert_422_at(r, *loc)
    after = (await admin.get(f"{BASE}/{community['id']}")).json()
    assert after == community


async def test_patch_optional_fields_can_be_cleared(
    admin: httpx.AsyncClient, make_community: Any
) -> None:
    community = await make_community(latitude=-6.9, longitude=107.6, households=10)
    r = await admin.patch(
        f"{BASE}/{community['id']}",
        json={"latitude": None, "longitude": None, "households": None, "potentials": []},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["latitude"] is None and body["longitude"] is None and body["households"] is None
    assert body["potentials"] == []


# --- communities: filters -------------------------------------------------------------------


async def _names(client: httpx.AsyncClient, **params: Any) -> set[str]:
    r = await client.get(BASE, params=params)
    assert r.status_code == 200, r.text
    return {c["name"] for c in r.json()["items"]}


async def test_filter_kind(admin: httpx.AsyncClient, make_community: Any) -> None:
    await make_community(name="A Desa", kind="desa")
    await make_community(name="B Kelurahan", kind="kelurahan")
    await make_community(name="C Adat", kind="komunitas_adat")
    assert await _names(admin, kind="kelurahan") == {"B Kelurahan"}
    assert await _names(admin, kind="komunitas_adat") == {"C Adat"}
    assert await _names(admin) == {"A Desa", "B Kelurahan", "C Adat"}
    assert_422_at(await admin.get(BASE, params={"kind": "kota"}), "query", "kind")


async def test_filter_region_code_prefix(admin: httpx.AsyncClient, make_community: Any) -> None:
    await make_community(name="Bandung", region_code="32.04.12.2001")
    await make_community(name="Bogor", region_code="32.01.01.2001")
    await make_community(name="Semarang", region_code="33.74.01.1001")
    assert await _names(admin, region_code="32") == {"Bandung", "Bogor"}
    assert await _names(admin, region_code="32.04") == {"Bandung"}
    assert await _names(admin, region_code="32.04.12") == {"Bandung"}
    assert await _names(admin, region_code="32.04.12.2001") == {"Bandung"}
    assert await _names(admin, region_code="33") == {"Semarang"}
    assert await _names(admin, region_code="34") == set()
    # "3" is no prefix of a segment boundary; "32.0" neither
    for bad in ("3x", "3", "32.0", "32.", "32.04.12.20011", "%", "32%", "32\n", "\u0663\u0662"):
        r = await admin.get(BASE, params={"region_code": bad})
        assert_422_at(r, "query", "region_code")


async def test_filter_region_code_does_not_match_other_province(
    admin: httpx.AsyncClient, make_community: Any
) -> None:
    await make_community(name="Bandung", region_code="32.04.12.2001")
    assert await _names(admin, region_code="33") == set()


async def test_filter_q_is_case_insensitive_substring(
    admin: httpx.AsyncClient, make_community: Any
) -> None:
    await make_community(name="Desa Sukamaju")
    await make_community(name="Kelurahan Sukaraja")
    await make_community(name="Desa 100% Mandiri")
    await make_community(name="Dusun_Atas")
    assert await _names(admin, q="suka") == {"Desa Sukamaju", "Kelurahan Sukaraja"}
    assert await _names(admin, q="SUKAMAJU") == {"Desa Sukamaju"}
    assert await _names(admin, q="aMaJ") == {"Desa Sukamaju"}
    assert await _names(admin, q="tidak ada") == set()
    # LIKE wildcards are searched literally
    assert await _names(admin, q="%") == {"Desa 100% Mandiri"}
    assert await _names(admin, q="_") == {"Dusun_Atas"}
    assert_422_at(await admin.get(BASE, params={"q": ""}), "query", "q")


async def test_filters_combine(admin: httpx.AsyncClient, make_community: Any) -> None:
    await make_community(name="Desa Suka Satu", kind="desa", region_code="32.04.12.2001")
    await make_community(name="Desa Suka Dua", kind="kelurahan", region_code="32.04.12.1002")
    await make_community(name="Desa Suka Tiga", kind="desa", region_code="33.01.01.2001")
    assert await _names(admin, q="suka", kind="desa", region_code="32") == {"Desa Suka Satu"}


# --- facilitators -----------------------------------------------------------------------------


async def test_facilitator_assignment(
    admin: httpx.AsyncClient,
    coordinator: httpx.AsyncClient,
    make_user: Any,
    as_user: Any,
    make_community: Any,
) -> None:
    community = await make_community()
    other = await make_community()
    cid = community["id"]
    user = await make_user(Role.facilitator)
    facilitator = as_user(user)

    # unassigned: the community does not exist for the facilitator
    assert (await facilitator.get(f"{BASE}/{cid}")).status_code == 404
    assert (await facilitator.get(BASE)).json()["items"] == []

    r = await coordinator.put(f"{BASE}/{cid}/facilitators/{user.id}")
    assert r.status_code == 204, r.text
    # idempotent
    assert (await coordinator.put(f"{BASE}/{cid}/facilitators/{user.id}")).status_code == 204

    assert (await facilitator.get(f"{BASE}/{cid}")).status_code == 200
    assert [c["id"] for c in (await facilitator.get(BASE)).json()["items"]] == [cid]
    assert (await facilitator.get(f"{BASE}/{other['id']}")).status_code == 404

    r = await admin.get(f"{BASE}/{cid}/facilitators")
    assert r.status_code == 200, r.text
    assert r.json() == [{"user_id": str(user.id), "full_name": user.full_name, "email": user.email}]
    # the facilitator can read the list of its own community
    assert (await facilitator.get(f"{BASE}/{cid}/facilitators")).status_code == 200
    assert (await admin.get(f"{BASE}/{other['id']}/facilitators")).json() == []

    r = await admin.delete(f"{BASE}/{cid}/facilitators/{user.id}")
    assert r.status_code == 204, r.text
    assert (await facilitator.get(f"{BASE}/{cid}")).status_code == 404
    assert (await facilitator.get(BASE)).json()["items"] == []
    assert (await admin.get(f"{BASE}/{cid}/facilitators")).json() == []


async def test_facilitator_assignment_rules(
    admin: httpx.AsyncClient,
    analyst: httpx.AsyncClient,
    make_user: Any,
    as_user: Any,
    make_community: Any,
) -> None:
    community = await make_community()
    cid = community["id"]
    target = await make_user(Role.facilitator)

    for role in (Role.coordinator, Role.analyst, Role.admin):
        not_facilitator = await make_user(role)
        r = await admin.put(f"{BASE}/{cid}/facilitators/{not_facilitator.id}")
        assert_422_at(r, "path", "user_id")
    assert_422_at(await admin.put(f"{BASE}/{cid}/facilitators/{uuid.uuid4()}"), "path", "user_id")
    assert (await admin.put(f"{BASE}/{cid}/facilitators/not-a-uuid")).status_code == 422
    assert (await admin.put(f"{BASE}/{uuid.uuid4()}/facilitators/{target.id}")).status_code == 404

    # only coordinators and admins assign
    assert (await analyst.put(f"{BASE}/{cid}/facilitators/{target.id}")).status_code == 403
    assert (await analyst.delete(f"{BASE}/{cid}/facilitators/{target.id}")).status_code == 403
    assert (await analyst.get(f"{BASE}/{cid}/facilitators")).status_code == 403

    assigned = await make_user(Role.facilitator, communities=[uuid.UUID(cid)])
    fac = as_user(assigned)
    assert (await fac.put(f"{BASE}/{cid}/facilitators/{target.id}")).status_code == 403
    assert (await fac.delete(f"{BASE}/{cid}/facilitators/{assigned.id}")).status_code == 403
    # and a facilitator elsewhere does not see the community at all
    outsider = as_user(await make_user(Role.facilitator))
    assert (await outsider.put(f"{BASE}/{cid}/facilitators/{target.id}")).status_code == 404
    assert (await outsider.get(f"{BASE}/{cid}/facilitators")).status_code == 404

    listed = (await admin.get(f"{BASE}/{cid}/facilitators")).json()
    assert [f["user_id"] for f in listed] == [str(assigned.id)]


# --- development indices ---------------------------------------------------------------------


def index_body(year: int = 2024, value: str | float = 0.65, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"year": year, "iks": value, "ike": value, "ikl": value}
    body.update(overrides)
    return body


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
