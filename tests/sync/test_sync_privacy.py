"""What field sync keeps beside the rows holds nothing personal (security review): a
remembered push answer never holds ``current`` nor answers it again on a replay, and an
erased person's create digest is gone, so no create-PUT can confirm a guess of the erased
data."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx

from app.auth.models import Role
from app.core.models import uuid7
from tests.factories import COMMUNITIES, PEOPLE
from tests.sync.conftest import Device
from tests.sync.test_sync import upsert

NAME = "Ni Luh Ketut Sari"
PERSONAL = (NAME, "0003", "1988", "0812")


def person_body(community_id: str, **overrides: Any) -> dict[str, Any]:
    return {
        "community_id": community_id,
        "full_name": NAME,
        "sex": "female",
        "birth_year": 1988,
        "nik": "3204124506850003",
        "phone": "081234567890",
        "consent_purposes": ["needs_assessment", "program_participation"],
        **overrides,
    }


def assert_nothing_personal(value: Any) -> None:
    text = json.dumps(value)
    for personal in PERSONAL:
        assert personal not in text, (personal, text)


async def stored_results(raw_db: Any, device: Device) -> list[dict[str, Any]]:
    rows = await raw_db.fetch(
        "SELECT result FROM sync_mutations WHERE device_id = $1", device.device_id
    )
    return [r["result"] if isinstance(r["result"], dict) else json.loads(r["result"]) for r in rows]


async def conflict_on_person(
    client: httpx.AsyncClient, community_id: str
) -> tuple[str, Device, dict[str, Any]]:
    """A person created by PUT, then a device's create of that id with another body."""
    pid = str(uuid7())
    r = await client.put(
        f"{PEOPLE}/{pid}", json=person_body(community_id), headers={"If-None-Match": "*"}
    )
    assert r.status_code == 201, r.text
    device = Device(client)
    mutation = upsert("people", pid, person_body(community_id, full_name="Bukan Sari"))
    (result,) = await device.push([mutation])
    assert result["status"] == "conflict"
    assert result["current"]["full_name"] == NAME  # the live answer, in the caller's scope
    return pid, device, mutation


async def test_conflict_is_remembered_without_the_row_and_replayed_after_erasure(
    admin: httpx.AsyncClient,
    facilitator: httpx.AsyncClient,
    community: dict[str, Any],
    raw_db: Any,
) -> None:
    pid, device, mutation = await conflict_on_person(facilitator, community["id"])
    (stored,) = await stored_results(raw_db, device)
    assert set(stored) <= {"mutation_id", "status", "id", "version", "errors"}
    assert_nothing_personal(stored)
    r = await admin.post(f"{PEOPLE}/{pid}/erasure")
    assert r.status_code == 200, r.text
    (again,) = await device.push([mutation])
    assert again["status"] == "duplicate" and again["first_status"] == "conflict"
    assert again["id"] == pid
    assert again.get("current") is None
    assert_nothing_personal(again)


async def test_replay_after_unassignment_answers_no_row(
    admin: httpx.AsyncClient, make_user: Any, as_user: Any, make_community: Any
) -> None:
    c = await make_community()
    user = await make_user(Role.facilitator, communities=[uuid.UUID(c["id"])])
    field = as_user(user)
    pid, device, mutation = await conflict_on_person(field, c["id"])
    r = await admin.delete(f"{COMMUNITIES}/{c['id']}/facilitators/{user.id}")
    assert r.status_code == 204
    (again,) = await device.push([mutation])
    assert again["status"] == "duplicate" and again["first_status"] == "conflict"
    assert again["id"] == pid and again.get("current") is None
    assert_nothing_personal(again)


async def test_erasure_scrubs_remembered_answers_about_the_person(
    admin: httpx.AsyncClient,
    facilitator: httpx.AsyncClient,
    community: dict[str, Any],
    raw_db: Any,
) -> None:
    pid, device, mutation = await conflict_on_person(facilitator, community["id"])
    # An answer remembered with the row in it (as the first release of sync kept them).
    legacy = {
        "mutation_id": "m-legacy",
        "status": "conflict",
        "id": pid,
        "version": 1,
        "current": {"id": pid, "full_name": NAME, "nik": "************0003"},
    }
    user_id = await raw_db.fetchval(
        "SELECT user_id FROM sync_mutations WHERE device_id = $1", device.device_id
    )
    await raw_db.execute(
        "INSERT INTO sync_mutations (user_id, device_id, mutation_id, result) "
        "VALUES ($1, $2, 'm-legacy', $3::jsonb)",
        user_id,
        device.device_id,
        json.dumps(legacy),
    )
    # Replayed before the erasure: the row is not answered again.
    (again,) = await device.push([{**mutation, "mutation_id": "m-legacy"}])
    assert again["status"] == "duplicate" and again.get("current") is None
    assert_nothing_personal(again)
    r = await admin.post(f"{PEOPLE}/{pid}/erasure")
    assert r.status_code == 200, r.text
    stored = await stored_results(raw_db, device)
    assert len(stored) == 2
    for result in stored:
        assert "current" not in result and "errors" not in result
        assert result["id"] == pid
        assert_nothing_personal(result)


async def test_erased_person_create_put_is_no_oracle(
    admin: httpx.AsyncClient,
    facilitator: httpx.AsyncClient,
    community: dict[str, Any],
    raw_db: Any,
) -> None:
    pid = str(uuid7())
    url = f"{PEOPLE}/{pid}"
    body = person_body(community["id"])
    r = await facilitator.put(url, json=body, headers={"If-None-Match": "*"})
    assert r.status_code == 201, r.text
    assert await raw_db.fetchval("SELECT count(*) FROM put_creations WHERE id = $1", uuid.UUID(pid))
    r = await admin.post(f"{PEOPLE}/{pid}/erasure")
    assert r.status_code == 200, r.text
    assert (
        await raw_db.fetchval("SELECT count(*) FROM put_creations WHERE id = $1", uuid.UUID(pid))
        == 0
    )
    # The right guess and a wrong one answer alike: 412, nothing of the row.
    answers = []
    for guess in (body, person_body(community["id"], full_name="Tebakan Salah")):
        for client in (facilitator, admin):
            r = await client.put(url, json=guess, headers={"If-None-Match": "*"})
            assert r.status_code == 412, r.text
            assert "current" not in r.json()
            assert "ETag" not in r.headers
            answers.append({k: v for k, v in r.json().items() if k != "request_id"})
    assert all(a == answers[0] for a in answers), answers
    # The same through a push: a conflict without the row.
    device = Device(facilitator)
    (result,) = await device.push([upsert("people", pid, body)])
    assert result["status"] == "conflict"
    assert result.get("current") is None
    version = await raw_db.fetchval("SELECT version FROM people WHERE id = $1", uuid.UUID(pid))
    assert await raw_db.fetchval("SELECT erased_at FROM people WHERE id = $1", uuid.UUID(pid))
    assert version == 2  # nothing written
