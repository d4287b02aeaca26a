"""Loose parsing refused (hardening round two, item 10): the wire takes what it documents."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

API = "/api/v1"


def assert_field_refused(response: httpx.Response, field: str) -> dict[str, Any]:
    assert response.status_code == 422, response.text
    body: dict[str, Any] = response.json()
    assert any(error["loc"][-1] == field for error in body["errors"]), body
    return body


@pytest.mark.parametrize("population", [True, "12", 12.0, "true"])
async def test_integers_are_strict(
    admin: httpx.AsyncClient, community_payload: Any, raw_db: Any, population: Any
) -> None:
    r = await admin.post(f"{API}/communities", json=community_payload(population=population))
    body = assert_field_refused(r, "population")
    assert str(population) not in body["detail"]
    assert await raw_db.fetchval("SELECT count(*) FROM communities") == 0


@pytest.mark.parametrize("flag", [1, "true", "yes"])
async def test_booleans_are_strict(admin: httpx.AsyncClient, make_user: Any, flag: Any) -> None:
    from app.auth.models import Role

    user = await make_user(Role.coordinator)
    r = await admin.patch(f"{API}/users/{user.id}", json={"is_active": flag})
    assert_field_refused(r, "is_active")


async def test_well_typed_values_still_pass(
    admin: httpx.AsyncClient, community_payload: Any
) -> None:
    r = await admin.post(f"{API}/communities", json=community_payload(population=4210))
    assert r.status_code == 201, r.text


async def test_phone_in_other_scripts_digits_is_refused(
    admin: httpx.AsyncClient, make_community: Any
) -> None:
    community = await make_community()
    person = {
        "full_name": "Siti Rahmawati",
        "sex": "female",
        "birth_year": 1985,
        "community_id": community["id"],
        "phone": "०८१२३४५६७८९०",  # Devanagari digits
    }
    assert_field_refused(await admin.post(f"{API}/people", json=person), "phone")
    person["phone"] = "081234567890"
    assert (await admin.post(f"{API}/people", json=person)).status_code == 201


async def test_unknown_sort_does_not_repeat_the_value(admin: httpx.AsyncClient) -> None:
    r = await admin.get(f"{API}/communities", params={"sort": "evil<script>"})
    assert r.status_code == 422
    assert "evil" not in r.text


async def test_look_alike_email_is_refused(admin: httpx.AsyncClient, raw_db: Any) -> None:
    body = {
        "email": "sit\u0456@berdaya.id",  # Cyrillic i
        "full_name": "Siti",
        "role": "coordinator",
        "password": "a-long-enough-password",
    }
    assert_field_refused(await admin.post(f"{API}/users", json=body), "email")
    assert await raw_db.fetchval("SELECT count(*) FROM users WHERE email LIKE 'sit%'") == 0


@pytest.mark.parametrize(
    "body",
    [
        b'{"name": "Desa Sukamaju", "name": "Desa Lain", "kind": "desa",'
        b' "region_code": "32.04.10.2001"}',
        # nested: the repeat is inside a list element
        b'{"name": "Desa Sukamaju", "kind": "desa", "region_code": "32.04.10.2001",'
        b' "potentials": [], "extra": [{"a": 1, "a": 2}]}',
    ],
)
async def test_repeated_json_keys_are_refused(
    admin: httpx.AsyncClient, raw_db: Any, body: bytes
) -> None:
    r = await admin.post(
        f"{API}/communities", content=body, headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 422, r.text
    problem = r.json()
    assert r.headers["content-type"].startswith("application/problem+json")
    assert problem["errors"] == [
        {
            "loc": ["body"],
            "message": "a JSON object in the body has the same key twice",
            "type": "json_duplicate_key",
        }
    ]
    assert "Desa Lain" not in r.text
    assert await raw_db.fetchval("SELECT count(*) FROM communities") == 0


async def test_repeated_keys_refused_on_patch_too(
    admin: httpx.AsyncClient, make_community: Any
) -> None:
    community = await make_community()
    r = await admin.patch(
        f"{API}/communities/{community['id']}",
        content=b'{"population": 10, "population": 20}',
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert r.status_code in (415, 422), r.text
    r = await admin.patch(
        f"{API}/communities/{community['id']}",
        content=b'{"population": 10, "population": 20}',
        headers={"Content-Type": "application/json"},
    )
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["type"] == "json_duplicate_key"
    assert (await admin.get(f"{API}/communities/{community['id']}")).json()["population"] != 20


async def test_invalid_json_still_reported_by_the_parser(admin: httpx.AsyncClient) -> None:
    r = await admin.post(
        f"{API}/communities", content=b'{"name": ', headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 422
    assert r.json()["errors"][0]["type"] == "json_invalid"
