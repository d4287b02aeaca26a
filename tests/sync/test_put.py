"""PUT with client-made ids (API.md §6): create, identical repeat, replace, 412, 428."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from app.core.models import uuid7
from tests.factories import (
    ASSESSMENTS,
    PEOPLE,
    PROGRAMS,
    RECORDS,
    YEAR_2025,
    activity_body,
    add_finding,
    create_assessment,
    make_indicator,
    make_person,
    make_program,
)

PROBLEM = "application/problem+json"


def person_body(community_id: str, **overrides: Any) -> dict[str, Any]:
    return {
        "community_id": community_id,
        "full_name": "Ni Luh Ketut Sari",
        "sex": "female",
        "birth_year": 1988,
        "nik": "3204124506850003",
        "consent_purposes": ["needs_assessment", "program_participation"],
        **overrides,
    }


async def test_person_put_create_repeat_replace_and_conflicts(
    facilitator: httpx.AsyncClient, community: dict[str, Any], raw_db: Any
) -> None:
    pid = str(uuid7())
    url = f"{PEOPLE}/{pid}"
    body = person_body(community["id"])
    r = await facilitator.put(url, json=body, headers={"If-None-Match": "*"})
    assert r.status_code == 201, r.text
    assert r.json()["id"] == pid
    assert r.json()["nik"] == "************0003"
    assert r.headers["ETag"] == '"1"'
    assert r.headers["Location"] == url
    # The same create again: 200, nothing new.
    r = await facilitator.put(url, json=body, headers={"If-None-Match": "*"})
    assert r.status_code == 200, r.text
    assert await raw_db.fetchval("SELECT count(*) FROM people") == 1
    # Another body for the taken id: 412 with the current row, nothing changed.
    r = await facilitator.put(
        url, json={**body, "full_name": "Made Wirawan"}, headers={"If-None-Match": "*"}
    )
    assert r.status_code == 412
    assert r.headers["content-type"] == PROBLEM
    assert r.json()["current"]["full_name"] == "Ni Luh Ketut Sari"
    assert r.json()["current"]["nik"] == "************0003"
    # Neither header on an existing row: 428.
    r = await facilitator.put(url, json=body)
    assert r.status_code == 428
    assert r.headers["content-type"] == PROBLEM
    # Replace with the right ETag; NIK omitted stays (a device holds it masked only).
    replaced = {k: v for k, v in body.items() if k != "nik"} | {"full_name": "Ni Luh Sari"}
    r = await facilitator.put(url, json=replaced, headers={"If-Match": '"1"'})
    assert r.status_code == 200, r.text
    assert r.json()["full_name"] == "Ni Luh Sari"
    assert r.json()["nik"] == "************0003"
    assert r.headers["ETag"] == '"2"'
    # Stale ETag: 412 with current; nothing changed.
    r = await facilitator.put(
        url, json={**replaced, "full_name": "Lama"}, headers={"If-Match": '"1"'}
    )
    assert r.status_code == 412
    assert r.json()["current"]["full_name"] == "Ni Luh Sari"
    assert await raw_db.fetchval("SELECT version FROM people WHERE id = $1", uuid.UUID(pid)) == 2
    # If-Match on an id that does not exist: 412.
    r = await facilitator.put(f"{PEOPLE}/{uuid7()}", json=body, headers={"If-Match": '"1"'})
    assert r.status_code == 412
    actions = await raw_db.fetch(
        "SELECT action FROM audit_events WHERE resource = 'people' ORDER BY at, id"
    )
    assert [a["action"] for a in actions] == ["create", "update"]


async def test_person_put_follows_the_create_rules(
    facilitator: httpx.AsyncClient, other_community: dict[str, Any], raw_db: Any
) -> None:
    r = await facilitator.put(
        f"{PEOPLE}/{uuid7()}",
        json=person_body(other_community["id"]),
        headers={"If-None-Match": "*"},
    )
    assert r.status_code == 422
    assert await raw_db.fetchval("SELECT count(*) FROM people") == 0


async def test_participation_put(
    facilitator: httpx.AsyncClient, community: dict[str, Any], raw_db: Any
) -> None:
    person = await make_person(facilitator, community["id"])
    assessment = await create_assessment(facilitator, community["id"])
    rid = str(uuid7())
    url = f"{RECORDS}/{rid}"
    body = {
        "person_id": person["id"],
        "assessment_id": assessment["id"],
        "date": "2026-11-20",
        "level": "consult",
        "role": "beneficiary",
    }
    r = await facilitator.put(url, json=body, headers={"If-None-Match": "*"})
    assert r.status_code == 201, r.text
    assert r.json()["id"] == rid
    assert (await facilitator.put(url, json=body)).status_code == 428
    r = await facilitator.put(url, json={**body, "hours": 2.5}, headers={"If-Match": '"1"'})
    assert r.status_code == 200, r.text
    assert r.json()["hours"] == 2.5
    # The person and the context are fixed by the create.
    other = await make_person(facilitator, community["id"], name="Wayan Sudiarta")
    r = await facilitator.put(
        url, json={**body, "person_id": other["id"]}, headers={"If-Match": '"2"'}
    )
    assert r.status_code == 422
    # Another id for the same person and assessment: the duplicate rule holds.
    r = await facilitator.put(f"{RECORDS}/{uuid7()}", json=body, headers={"If-None-Match": "*"})
    assert r.status_code == 409
    assert await raw_db.fetchval("SELECT count(*) FROM participation_records") == 1


async def test_finding_and_ballot_put(
    facilitator: httpx.AsyncClient, community: dict[str, Any], raw_db: Any
) -> None:
    assessment = await create_assessment(facilitator, community["id"])
    aid = assessment["id"]
    fid = str(uuid7())
    url = f"{ASSESSMENTS}/{aid}/findings/{fid}"
    body = {"kind": "problem", "category": "health", "title": "Air bersih sulit", "severity": 4}
    r = await facilitator.put(url, json=body, headers={"If-None-Match": "*"})
    assert r.status_code == 201, r.text
    r = await facilitator.put(
        url,
        json={**body, "title": "Air bersih sulit di musim kemarau"},
        headers={"If-Match": '"1"'},
    )
    assert r.status_code == 200, r.text
    assert r.json()["title"] == "Air bersih sulit di musim kemarau"
    assert r.json()["severity"] == 4
    # A finding id under another assessment is not this assessment's: taken.
    other = await create_assessment(facilitator, community["id"], title="Kajian kedua")
    r = await facilitator.put(
        f"{ASSESSMENTS}/{other['id']}/findings/{fid}", json=body, headers={"If-None-Match": "*"}
    )
    assert r.status_code == 412

    person = await make_person(facilitator, community["id"])
    ballot_url = f"{ASSESSMENTS}/{aid}/ballots/{person['id']}"
    ballot = {"person_id": person["id"], "ranking": [fid]}
    r = await facilitator.put(ballot_url, json=ballot, headers={"If-None-Match": "*"})
    assert r.status_code == 201, r.text
    r = await facilitator.put(ballot_url, json=ballot, headers={"If-None-Match": "*"})
    assert r.status_code == 200
    second = await add_finding(facilitator, aid, kind="need", title="Bidan desa")
    r = await facilitator.put(
        ballot_url,
        json={**ballot, "ranking": [second["id"], fid]},
        headers={"If-Match": '"1"'},
    )
    assert r.status_code == 200, r.text
    assert r.json()["ranking"] == [second["id"], fid]
    r = await facilitator.get(f"{ASSESSMENTS}/{aid}/priorities")
    assert [i["finding_id"] for i in r.json()["items"]] == [second["id"], fid]
    r = await facilitator.put(
        f"{ASSESSMENTS}/{aid}/ballots/{uuid7()}", json=ballot, headers={"If-None-Match": "*"}
    )
    assert r.status_code == 422
    assert await raw_db.fetchval("SELECT count(*) FROM ballots") == 1


async def test_activity_and_measurement_put(
    admin: httpx.AsyncClient, facilitator: httpx.AsyncClient, community: dict[str, Any]
) -> None:
    program = await make_program(admin, [community["id"]], **YEAR_2025)
    pid = program["id"]
    aid = str(uuid7())
    url = f"{PROGRAMS}/{pid}/activities/{aid}"
    body = activity_body(community["id"])
    r = await facilitator.put(url, json=body, headers={"If-None-Match": "*"})
    assert r.status_code == 201, r.text
    r = await facilitator.put(url, json={**body, "status": "done"}, headers={"If-Match": '"1"'})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "done"
    assert r.json()["location"] == "Balai Desa"

    indicator = await make_indicator(admin, pid)
    mid = str(uuid7())
    murl = f"{PROGRAMS}/{pid}/indicators/{indicator['id']}/measurements/{mid}"
    r = await facilitator.put(
        murl, json={"measured_on": "2025-03-10", "value": 20}, headers={"If-None-Match": "*"}
    )
    assert r.status_code == 201, r.text
    r = await facilitator.put(
        murl, json={"measured_on": "2025-03-10", "value": 25}, headers={"If-Match": '"1"'}
    )
    assert r.status_code == 200
    r = await facilitator.put(
        murl, json={"measured_on": "2025-03-10", "value": 30}, headers={"If-Match": '"1"'}
    )
    assert r.status_code == 412
    assert float(r.json()["current"]["value"]) == 25
    # The program's dates hold on a replace too.
    r = await facilitator.put(
        murl, json={"measured_on": "2027-01-01", "value": 30}, headers={"If-Match": '"2"'}
    )
    assert r.status_code == 422
