"""Runs of creates in a push (app.sync.service ``_apply_run``): consecutive new people, or
new participation records, applied together must answer and store exactly what one
mutation at a time would — every rule, every audit event, every creation digest."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from app.core.models import uuid7
from app.sync import service as sync_service
from tests.factories import PEOPLE, create_assessment, make_person
from tests.sync.conftest import SYNC, Device
from tests.sync.test_sync import new_person, upsert

NIKS = ("3204124506850003", "3204120506850004")


def record(person_id: Any, assessment_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "person_id": str(person_id),
        "assessment_id": assessment_id,
        "date": "2026-11-20",
        "level": "involve",
        "role": "beneficiary",
        **extra,
    }


async def audited(raw_db: Any, resource: str, ids: list[Any]) -> list[str]:
    rows = await raw_db.fetch(
        "SELECT resource_id FROM audit_events WHERE action = 'create' AND resource = $1 "
        "AND resource_id = ANY($2::uuid[])",
        resource,
        [uuid.UUID(str(i)) for i in ids],
    )
    return sorted(str(r["resource_id"]) for r in rows)


async def test_a_run_applies_each_rule_to_each_mutation(
    facilitator: httpx.AsyncClient,
    community: dict[str, Any],
    other_community: dict[str, Any],
    raw_db: Any,
) -> None:
    cid = community["id"]
    aid = (await create_assessment(facilitator, cid))["id"]
    no_consent = await make_person(facilitator, cid, name="Tanpa Izin", purposes=())
    niks = iter(NIKS)
    taken = uuid7()
    r = await facilitator.put(
        f"{PEOPLE}/{taken}", json=new_person(cid, "Sudah Ada"), headers={"If-None-Match": "*"}
    )
    assert r.status_code == 201

    def build() -> tuple[list[dict[str, Any]], list[Any], list[Any]]:
        ok1, ok2, with_nik = uuid7(), uuid7(), uuid7()
        rec1, rec_nik = uuid7(), uuid7()
        mutations = [
            upsert("people", ok1, new_person(cid, "Wayan Satu")),
            upsert("people", uuid7(), new_person(other_community["id"], "Di Luar")),
            upsert("people", uuid7(), new_person(cid, "Salah", sex="unknown")),
            upsert("people", taken, new_person(cid, "Sudah Ada")),  # the same create again
            upsert("people", ok2, new_person(cid, "Made Dua")),
            upsert("people", with_nik, new_person(cid, "Punya NIK", nik=next(niks))),
            upsert("participation_records", rec1, record(ok1, aid)),
            upsert("participation_records", uuid7(), record(ok1, aid, level="inform")),
            upsert("participation_records", uuid7(), record(no_consent["id"], aid)),
            upsert("participation_records", uuid7(), {"person_id": str(ok2)}),
            upsert("participation_records", rec_nik, record(with_nik, aid)),
        ]
        return mutations, [ok1, ok2, with_nik], [rec1, rec_nik]

    def outcome(results: list[dict[str, Any]]) -> list[tuple[str, Any]]:
        return [(r["status"], r.get("errors"), r.get("version")) for r in results]

    device = Device(facilitator)
    alone, _, _ = build()
    one_by_one = [(await device.push([m]))[0] for m in alone]
    mutations, made, records = build()
    results = await device.push(mutations)
    assert outcome(results) == outcome(one_by_one)
    assert [r["status"] for r in results] == [
        "applied",
        "rejected",
        "rejected",
        "applied",
        "applied",
        "applied",
        "applied",
        "rejected",
        "rejected",
        "rejected",
        "applied",
    ], results
    assert results[1]["errors"][0]["loc"] == ["body", "community_id"]
    assert results[2]["errors"][0]["loc"][:2] == ["data", "sex"]
    assert results[7]["errors"][0]["type"] == "conflict"
    assert results[9]["errors"][0]["loc"][0] == "data"

    # Stored once each, audited once each, their creation digests kept.
    count = "SELECT count(*) FROM people WHERE id = ANY($1::uuid[])"
    assert await raw_db.fetchval(count, [uuid.UUID(str(i)) for i in made]) == 3
    assert await audited(raw_db, "people", made) == sorted(str(i) for i in made)
    assert await audited(raw_db, "participation_records", records) == sorted(
        str(i) for i in records
    )
    assert await raw_db.fetchval("SELECT count(*) FROM participation_records") == 4
    digests = await raw_db.fetchval(
        "SELECT count(*) FROM put_creations WHERE id = ANY($1::uuid[])",
        [uuid.UUID(str(i)) for i in made + records],
    )
    assert digests == 5
    ok2 = made[1]
    # The same create again through PUT: 200, nothing new (the digest was kept).
    r = await facilitator.put(
        f"{PEOPLE}/{ok2}", json=new_person(cid, "Made Dua"), headers={"If-None-Match": "*"}
    )
    assert r.status_code == 200, r.text
    r = await facilitator.put(
        f"{PEOPLE}/{ok2}", json=new_person(cid, "Made Lain"), headers={"If-None-Match": "*"}
    )
    assert r.status_code == 412, r.text


async def test_a_run_whose_insert_fails_is_applied_one_by_one(
    facilitator: httpx.AsyncClient,
    community: dict[str, Any],
    raw_db: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An id taken after the run looked (a concurrent writer): the run's INSERT fails, is
    rolled back whole, and every mutation of it goes through the one-at-a-time path."""
    cid = community["id"]
    taken = uuid7()
    r = await facilitator.put(
        f"{PEOPLE}/{taken}", json=new_person(cid, "Lebih Dulu"), headers={"If-None-Match": "*"}
    )
    assert r.status_code == 201

    async def nothing_taken(*args: Any) -> set[uuid.UUID]:
        return set()

    monkeypatch.setattr(sync_service, "ids_taken", nothing_taken)
    first, last = uuid7(), uuid7()
    results = await Device(facilitator).push(
        [
            upsert("people", first, new_person(cid, "Pertama")),
            upsert("people", taken, new_person(cid, "Bukan Dia")),
            upsert("people", last, new_person(cid, "Terakhir")),
        ]
    )
    assert [r["status"] for r in results] == ["applied", "conflict", "applied"], results
    assert results[1]["current"]["full_name"] == "Lebih Dulu"
    names = sorted(r["full_name"] for r in await raw_db.fetch("SELECT full_name FROM people"))
    assert names == ["Lebih Dulu", "Pertama", "Terakhir"]
    assert await audited(raw_db, "people", [first, last, taken]) == sorted(
        str(i) for i in (first, last, taken)
    )


async def test_interleaved_people_and_records_keep_the_order_s_meaning(
    facilitator: httpx.AsyncClient, community: dict[str, Any], raw_db: Any
) -> None:
    """Person, their record, next person…: one run, people applied first. A record that
    names a person created only later in the push is rejected, as it is in order."""
    cid = community["id"]
    aid = (await create_assessment(facilitator, cid))["id"]
    people = [uuid7() for _ in range(4)]
    late = uuid7()
    mutations = []
    for n, pid in enumerate(people):
        mutations.append(upsert("people", pid, new_person(cid, f"Warga {n}")))
        mutations.append(upsert("participation_records", uuid7(), record(pid, aid)))
    mutations.append(upsert("participation_records", uuid7(), record(late, aid)))
    mutations.append(upsert("people", late, new_person(cid, "Datang Belakangan")))
    results = await Device(facilitator).push(mutations)
    assert [r["status"] for r in results] == ["applied"] * 8 + ["rejected", "applied"], results
    assert results[8]["errors"][0]["loc"] == ["body", "person_id"]
    assert await raw_db.fetchval("SELECT count(*) FROM participation_records") == 4
    assert await raw_db.fetchval("SELECT count(*) FROM people") == 5


async def test_nik_collisions_in_a_push_are_audited_limited_and_commit_nothing_early(
    app: Any,
    admin: httpx.AsyncClient,
    facilitator: httpx.AsyncClient,
    community: dict[str, Any],
    other_community: dict[str, Any],
    raw_db: Any,
) -> None:
    """A NIK taken elsewhere is a rejected mutation whose audit entry stays; past the
    hourly limit the next claims are refused (429) within the same push; and the push is
    still one transaction: a retry after a lost answer is all duplicates."""
    limit = app.state.settings.nik_collisions_per_hour
    await make_person(admin, other_community["id"], name="Pemegang", nik=NIKS[0])
    cid = community["id"]
    before, after = uuid7(), uuid7()
    collide = [
        upsert("people", uuid7(), new_person(cid, f"Tabrakan {n}", nik=NIKS[0]))
        for n in range(limit + 2)
    ]
    mutations = [
        upsert("people", before, new_person(cid, "Sebelum")),
        *collide,
        upsert("people", after, new_person(cid, "Sesudah")),
    ]
    device = Device(facilitator)
    results = await device.push(mutations)
    statuses = [r["status"] for r in results]
    assert statuses == ["applied"] + ["rejected"] * (limit + 2) + ["applied"], results
    kinds = [r["errors"][0]["type"] for r in results[1:-1]]
    assert kinds == ["conflict"] * limit + ["too-many-requests"] * 2, kinds
    audited_collisions = await raw_db.fetchval(
        "SELECT count(*) FROM audit_events WHERE action = 'nik_collision'"
    )
    assert audited_collisions == limit
    names = {r["full_name"] for r in await raw_db.fetch("SELECT full_name FROM people")}
    assert names == {"Pemegang", "Sebelum", "Sesudah"}
    again = await device.push(mutations)
    assert {r["status"] for r in again} == {"duplicate"}


async def test_a_push_failing_after_a_nik_collision_leaves_nothing(
    admin: httpx.AsyncClient,
    community: dict[str, Any],
    other_community: dict[str, Any],
    raw_db: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The collision's audit entry is written in the push's own transaction, not committed
    on its own: a push that fails later leaves neither it nor the mutations before it."""
    await make_person(admin, other_community["id"], name="Pemegang", nik=NIKS[0])

    async def lost(*args: Any) -> None:
        raise RuntimeError("the push fails before its commit")

    monkeypatch.setattr(sync_service.repository, "remember", lost)
    cid = community["id"]
    body = {
        "device_id": "tablet-gagal",
        "mutations": [
            upsert("people", uuid7(), new_person(cid, "Sebelum")),
            upsert("people", uuid7(), new_person(cid, "Tabrakan", nik=NIKS[0])),
        ],
    }
    r = await admin.post(f"{SYNC}/push", json=body)
    assert r.status_code == 500, r.text
    names = {r["full_name"] for r in await raw_db.fetch("SELECT full_name FROM people")}
    assert names == {"Pemegang"}
    assert (
        await raw_db.fetchval(
            "SELECT count(*) FROM audit_events WHERE action = $1", "nik_collision"
        )
        == 0
    )
