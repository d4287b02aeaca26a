"""A NIK already registered elsewhere, met inside a sync push: that mutation is rejected
with the usual 409 and the collision is audited, while the push's other mutations stay
one unit (the collision's audit must not commit the push halfway)."""

from __future__ import annotations

from typing import Any

import httpx

from app.core.models import uuid7
from tests.factories import PEOPLE
from tests.sync.conftest import SYNC
from tests.sync.test_sync import new_person, upsert

TAKEN_NIK = "3204124501900007"


async def test_collision_in_a_push_rejects_only_that_mutation(
    admin: httpx.AsyncClient,
    facilitator: httpx.AsyncClient,
    community: dict[str, Any],
    other_community: dict[str, Any],
    raw_db: Any,
) -> None:
    r = await admin.post(
        PEOPLE, json={**new_person(other_community["id"], "Sari Dewi"), "nik": TAKEN_NIK}
    )
    assert r.status_code == 201, r.text
    before, after = uuid7(), uuid7()
    mutations = [
        upsert("people", before, new_person(community["id"], "Wayan Sukma")),
        upsert("people", uuid7(), {**new_person(community["id"], "Ketut"), "nik": TAKEN_NIK}),
        upsert("people", after, new_person(community["id"], "Made Arta")),
    ]
    r = await facilitator.post(f"{SYNC}/push", json={"device_id": "hp-1", "mutations": mutations})
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    assert [x["status"] for x in results] == ["applied", "rejected", "applied"]
    assert TAKEN_NIK not in r.text
    names = await raw_db.fetch("SELECT id FROM people WHERE id = ANY($1::uuid[])", [before, after])
    assert len(names) == 2
    collisions = await raw_db.fetchval(
        "SELECT count(*) FROM audit_events WHERE action = 'nik_collision'"
    )
    assert collisions == 1
    # the device's memory of the push is whole: replaying it applies nothing again
    r = await facilitator.post(f"{SYNC}/push", json={"device_id": "hp-1", "mutations": mutations})
    assert [x["status"] for x in r.json()["results"]] == ["duplicate"] * 3
    assert await raw_db.fetchval("SELECT count(*) FROM people") == 3
