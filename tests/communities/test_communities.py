"""Communities over HTTP: CRUD, validation, filters and their facilitators."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from app.auth.models import Role
from tests.factories import COMMUNITIES
from tests.helpers import assert_422_at

BASE = COMMUNITIES


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
