"""Privacy hardening of the registry: analysts never get a registry person id (only
``person_key``), and a taken NIK — an existence oracle for a facilitator whose lookup is
scoped — answers the same 409 wherever its holder lives, is audited without the NIK, and
is limited per caller (429 with Retry-After); admins resolve collisions."""

from __future__ import annotations

import asyncio
import base64
import binascii
import uuid
from collections import Counter
from typing import Any

import asyncpg
import httpx

from app.auth.models import Role
from tests.factories import (
    API,
    ASSESSMENTS,
    BOTH_PURPOSES,
    EXPORTS,
    PEOPLE,
    RECORDS,
    REPORTS,
    YEAR_2025,
    AsUser,
    MakeUser,
    add_finding,
    cast,
    create_assessment,
    make_activity,
    make_person,
    make_program,
    post,
    record,
)
from tests.helpers import assert_problem, fetch_all_pages

NIK_MINE = "3204124506850003"  # registered in the facilitator's community
NIK_ELSEWHERE = "3204120506850003"  # registered in a community the facilitator cannot see
NIK_FREE = "3204124101900001"
NAME_ELSEWHERE = "Budi Santoso"


# --- analysts and registry ids ------------------------------------------------------------------


async def person_ids(raw_db: asyncpg.Pool) -> set[uuid.UUID]:
    return {row["id"] for row in await raw_db.fetch("SELECT id FROM people")}


def decoded(token: str) -> str:
    """``token`` and what it decodes to as base64url, over and over (a plain cursor is
    base64 JSON holding the last row's id)."""
    texts = [token]
    while True:
        try:
            token = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode("latin-1")
        except (binascii.Error, ValueError):
            return "\n".join(texts)
        texts.append(token)


def assert_no_person_id(response: httpx.Response, ids: set[uuid.UUID], what: str) -> None:
    """No registry person id in the body, the headers, or a cursor's decoded content."""
    assert response.status_code == 200, (what, response.status_code, response.text[:300])
    seen = [response.text, *response.headers.values()]
    if response.headers.get("content-type", "").startswith("application/json"):
        body = response.json()
        if isinstance(body, dict) and body.get("next_cursor"):
            seen.append(decoded(body["next_cursor"]))
    link = response.headers.get("link", "")
    if "cursor=" in link:
        seen.append(decoded(link.split("cursor=", 1)[1].split(">", 1)[0].split("&", 1)[0]))
    text = "\n".join(seen).lower()
    for person_id in ids:
        assert str(person_id) not in text and person_id.hex not in text, (what, person_id)


async def test_analysts_get_person_key_never_the_registry_id(
    admin: httpx.AsyncClient,
    coordinator: httpx.AsyncClient,
    facilitator: httpx.AsyncClient,
    analyst: httpx.AsyncClient,
    community: dict[str, Any],
    raw_db: asyncpg.Pool,
) -> None:
    created = [await make_person(admin, community["id"], name=f"Warga {n}") for n in range(3)]
    ids = await person_ids(raw_db)
    assert {uuid.UUID(p["id"]) for p in created} == ids
    key_of = {p["person_key"]: p["id"] for p in created}

    # list, one person a page: every page and every cursor is free of registry ids
    _, responses = await fetch_all_pages(analyst, PEOPLE, {"limit": 1})
    assert len(responses) == 3
    listed = [r.json()["items"][0] for r in responses]
    assert [item["id"] for item in listed] == [None, None, None]
    assert {item["person_key"] for item in listed} == set(key_of)
    for r in responses:
        assert_no_person_id(r, ids, "people list")

    for person in created:
        r = await analyst.get(f"{PEOPLE}/{person['id']}")
        assert_no_person_id(r, ids, "people get")
        assert r.json()["id"] is None
        assert r.json()["person_key"] == person["person_key"]

    # the other roles still get the id
    for who, client in (
        ("admin", admin),
        ("coordinator", coordinator),
        ("facilitator", facilitator),
    ):
        items = (await client.get(PEOPLE, params={"limit": 500})).json()["items"]
        assert {uuid.UUID(i["id"]) for i in items} == ids, who
        assert all(key_of[i["person_key"]] == i["id"] for i in items), who
        got = (await client.get(f"{PEOPLE}/{created[0]['id']}")).json()
        assert got["id"] == created[0]["id"], who


async def test_analyst_cursors_are_sealed(
    admin: httpx.AsyncClient,
    coordinator: httpx.AsyncClient,
    analyst: httpx.AsyncClient,
    community: dict[str, Any],
) -> None:
    """A plain cursor names the last row's id, and a forged one pages from any id: an
    analyst could search out a person's id from where their pages start. Analysts get and
    must send sealed cursors."""
    for n in range(3):
        await make_person(admin, community["id"], name=f"Warga {n}")
    plain = (await coordinator.get(PEOPLE, params={"limit": 1})).json()["next_cursor"]
    assert plain
    assert_problem(await analyst.get(PEOPLE, params={"limit": 1, "cursor": plain}), 422)
    sealed = (await analyst.get(PEOPLE, params={"limit": 1})).json()["next_cursor"]
    tampered = sealed[:-2] + ("AA" if not sealed.endswith("AA") else "BB")
    assert_problem(await analyst.get(PEOPLE, params={"limit": 1, "cursor": tampered}), 422)
    # a sealed cursor is still bound to its filters
    r = await analyst.get(PEOPLE, params={"limit": 1, "cursor": sealed, "sex": "male"})
    assert_problem(r, 422)
    r = await analyst.get(PEOPLE, params={"limit": 1, "cursor": sealed})
    assert r.status_code == 200 and len(r.json()["items"]) == 1


async def test_no_person_id_reaches_an_analyst_anywhere(
    admin: httpx.AsyncClient,
    analyst: httpx.AsyncClient,
    community: dict[str, Any],
    raw_db: asyncpg.Pool,
) -> None:
    """Every answer an analyst can get that is derived from people: people, participation
    records, ballots, priorities, reports, every export dataset (with tombstones)."""
    cid = community["id"]
    people = [
        (await make_person(admin, cid, name=f"Warga {n}", purposes=BOTH_PURPOSES))["id"]
        for n in range(3)
    ]
    program = (await make_program(admin, [cid], **YEAR_2025))["id"]
    activity = (
        await make_activity(admin, program, cid, scheduled_end="2025-03-03T17:00:00+07:00")
    )["id"]
    for person in people:
        await post(admin, RECORDS, record(person, activity=activity, date="2025-03-02"))
    assessment = (await create_assessment(admin, cid))["id"]
    finding = (await add_finding(admin, assessment))["id"]
    for person in people[:2]:
        assert (await cast(admin, assessment, person, [finding])).status_code == 201
    # a tombstone too
    assert (await admin.delete(f"{PEOPLE}/{people[2]}")).status_code == 204
    ids = await person_ids(raw_db)
    assert len(ids) == 3

    reads = [
        (PEOPLE, {"limit": 1}),
        (RECORDS, {"limit": 1}),
        (f"{ASSESSMENTS}/{assessment}/ballots", {"limit": 1}),
        (f"{ASSESSMENTS}/{assessment}/priorities", {}),
        (f"{REPORTS}/participation", {}),
        (f"{REPORTS}/needs-coverage", {}),
        (EXPORTS, {}),
    ]
    for url, params in reads:
        if "limit" in params:  # a list: every page, one row a page (a cursor on each)
            _, responses = await fetch_all_pages(analyst, url, params)
        else:
            responses = [await analyst.get(url, params=params)]
        for r in responses:
            assert_no_person_id(r, ids, url)
    datasets = [d["name"] for d in (await analyst.get(EXPORTS)).json()["resources"]]
    assert "people" in datasets
    for name in datasets:
        for params in ({"format": "json"}, {"format": "csv", "include_deleted": "true"}):
            r = await analyst.get(f"{EXPORTS}/{name}", params=params)
            assert_no_person_id(r, ids, f"export {name} {params}")


# --- NIK collisions -----------------------------------------------------------------------------


async def register(
    client: httpx.AsyncClient, community_id: str, nik: str | None, name: str = "Dewi Lestari"
) -> httpx.Response:
    body: dict[str, Any] = {"community_id": community_id, "full_name": name, "sex": "female"}
    if nik is not None:
        body["nik"] = nik
    return await client.post(PEOPLE, json=body)


async def collisions(raw_db: asyncpg.Pool) -> list[asyncpg.Record]:
    return list(
        await raw_db.fetch(
            "SELECT *, a::text AS whole,"
            " concat_ws(' ', actor_kind, action, resource, changed_fields::text, note) AS free_text"
            " FROM audit_events a WHERE action = 'nik_collision' "
            "ORDER BY at, id"
        )
    )


def comparable(response: httpx.Response) -> tuple[int, dict[str, Any], dict[str, str]]:
    """Status, body and headers but the request's own id (and the length it changes)."""
    body = {k: v for k, v in response.json().items() if k != "request_id"}
    skip = {"x-request-id", "content-length"}
    headers = {k: v for k, v in response.headers.items() if k.lower() not in skip}
    return response.status_code, body, headers


async def holders(
    admin: httpx.AsyncClient, community: dict[str, Any], other_community: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    mine = await make_person(admin, community["id"], nik=NIK_MINE)
    elsewhere = await make_person(
        admin, other_community["id"], name=NAME_ELSEWHERE, sex="male", nik=NIK_ELSEWHERE
    )
    return mine, elsewhere


async def test_collision_answer_is_the_same_wherever_the_holder_lives(
    admin: httpx.AsyncClient,
    facilitator: httpx.AsyncClient,
    community: dict[str, Any],
    other_community: dict[str, Any],
    raw_db: asyncpg.Pool,
) -> None:
    mine, elsewhere = await holders(admin, community, other_community)
    cid = community["id"]

    here = await register(facilitator, cid, NIK_MINE)
    there = await register(facilitator, cid, NIK_ELSEWHERE)
    body = assert_problem(there, 409)
    assert comparable(here) == comparable(there)
    assert "ask an administrator" in body["detail"]
    for secret in (NIK_ELSEWHERE, NAME_ELSEWHERE, elsewhere["id"], other_community["id"]):
        assert secret not in there.text
    assert other_community["name"] not in there.text

    # the same on PATCH of one of the facilitator's people
    own = await make_person(facilitator, cid, name="Rina")
    here = await facilitator.patch(f"{PEOPLE}/{own['id']}", json={"nik": NIK_MINE})
    there = await facilitator.patch(f"{PEOPLE}/{own['id']}", json={"nik": NIK_ELSEWHERE})
    assert_problem(there, 409)
    assert comparable(here) == comparable(there)
    assert elsewhere["id"] not in there.text

    # what differs is only what the scoped lookup already told
    found = (await facilitator.post(f"{PEOPLE}/lookup", json={"nik": NIK_MINE})).json()["items"]
    assert [p["id"] for p in found] == [mine["id"]]
    r = await facilitator.post(f"{PEOPLE}/lookup", json={"nik": NIK_ELSEWHERE})
    assert r.json() == {"items": []}
    # nothing was registered or changed
    assert await raw_db.fetchval("SELECT count(*) FROM people") == 3
    assert (await facilitator.get(f"{PEOPLE}/{own['id']}")).json()["nik"] is None


async def test_every_collision_is_audited_and_committed_without_the_nik(
    admin: httpx.AsyncClient,
    facilitator: httpx.AsyncClient,
    facilitator_user: Any,
    community: dict[str, Any],
    other_community: dict[str, Any],
    raw_db: asyncpg.Pool,
) -> None:
    mine, elsewhere = await holders(admin, community, other_community)
    cid = community["id"]
    assert_problem(await register(facilitator, cid, NIK_MINE), 409)
    assert_problem(await register(facilitator, cid, NIK_ELSEWHERE), 409)
    own = await make_person(facilitator, cid, name="Rina", phone="081234567890")
    assert_problem(
        await facilitator.patch(f"{PEOPLE}/{own['id']}", json={"nik": NIK_ELSEWHERE}), 409
    )

    # committed although each request answered 409: read from another connection
    rows = await collisions(raw_db)
    assert [str(row["resource_id"]) for row in rows] == [
        mine["id"],
        elsewhere["id"],
        elsewhere["id"],
    ]
    for row in rows:
        assert row["actor_id"] == facilitator_user.id
        assert row["resource"] == "people"
        assert row["changed_fields"] == ["nik"]
        for value in (NIK_MINE, NIK_ELSEWHERE, "Dewi Lestari", "Rina"):
            assert value not in row["whole"], value
        # four digits may occur in any timestamp or id: look only where text is written
        assert NIK_ELSEWHERE[-4:] not in row["free_text"]
        assert "081234567890" not in row["whole"] and "34567890" not in row["whole"]
    # the note names where the attempt was made (ids, never values)
    assert rows[0]["note"] == f"create in community {cid}"
    assert rows[2]["note"] == f"update of person {own['id']}"

    # the admin's view of them
    r = await admin.get(f"{API}/audit-events", params={"action": "nik_collision"})
    assert r.status_code == 200, r.text
    listed = r.json()["items"]
    assert len(listed) == 3
    assert {i["resource_id"] for i in listed} == {mine["id"], elsewhere["id"]}
    assert NIK_ELSEWHERE not in r.text and NIK_MINE not in r.text
    # a NIK that is free, or unchanged, is no collision
    assert (await register(facilitator, cid, NIK_FREE)).status_code == 201
    r = await admin.patch(f"{PEOPLE}/{mine['id']}", json={"nik": NIK_MINE})
    assert r.status_code == 200, r.text
    assert len(await collisions(raw_db)) == 3


async def test_collisions_past_the_limit_are_429_whatever_the_nik(
    app: Any,
    admin: httpx.AsyncClient,
    facilitator: httpx.AsyncClient,
    make_user: MakeUser,
    as_user: AsUser,
    community: dict[str, Any],
    other_community: dict[str, Any],
    raw_db: asyncpg.Pool,
) -> None:
    limit = app.state.settings.nik_collisions_per_hour
    await holders(admin, community, other_community)
    cid = community["id"]
    own = await make_person(facilitator, cid, name="Rina")
    for n in range(limit):
        assert_problem(await register(facilitator, cid, (NIK_ELSEWHERE, NIK_MINE)[n % 2]), 409)

    # past the limit: 429 for a taken NIK and a free one alike, so the refusal tells nothing
    taken = await register(facilitator, cid, NIK_ELSEWHERE)
    free = await register(facilitator, cid, NIK_FREE)
    for r in (taken, free):
        body = assert_problem(r, 429)
        assert 3500 < int(r.headers["retry-after"]) <= 3601
        assert NIK_ELSEWHERE not in r.text and NIK_FREE not in r.text
    assert comparable(taken)[:2] == comparable(free)[:2]
    assert "wait" in body["detail"]
    r = await facilitator.patch(f"{PEOPLE}/{own['id']}", json={"nik": NIK_FREE})
    assert_problem(r, 429)
    # refusals are not collisions; registering without a NIK still works
    assert len(await collisions(raw_db)) == limit
    assert (await register(facilitator, cid, None)).status_code == 201
    assert (
        await facilitator.patch(f"{PEOPLE}/{own['id']}", json={"sex": "male"})
    ).status_code == 200

    # the limit is per caller: another facilitator of the same community is not limited
    colleague = as_user(await make_user(Role.facilitator, communities=[uuid.UUID(cid)]))
    assert_problem(await register(colleague, cid, NIK_ELSEWHERE), 409)
    assert (await register(colleague, cid, NIK_FREE)).status_code == 201
    # and callers who may look any NIK up are never limited (they learn nothing new)
    for _ in range(limit + 1):
        assert_problem(await register(admin, cid, NIK_ELSEWHERE), 409)


async def test_parallel_collisions_get_exactly_the_limit(
    app: Any,
    admin: httpx.AsyncClient,
    facilitator: httpx.AsyncClient,
    community: dict[str, Any],
    other_community: dict[str, Any],
    raw_db: asyncpg.Pool,
) -> None:
    limit = app.state.settings.nik_collisions_per_hour
    await holders(admin, community, other_community)
    responses = await asyncio.gather(
        *[register(facilitator, community["id"], NIK_ELSEWHERE) for _ in range(limit + 3)]
    )
    statuses = Counter(r.status_code for r in responses)
    assert statuses == {409: limit, 429: 3}, [(r.status_code, r.text) for r in responses]
    assert len(await collisions(raw_db)) == limit


async def test_a_concurrent_duplicate_is_a_collision_too(
    admin: httpx.AsyncClient, community: dict[str, Any], raw_db: asyncpg.Pool
) -> None:
    """Racing registrations of one new NIK: the losers are audited with the winner's id,
    whether the uniqueness check or the unique index stopped them."""
    responses = await asyncio.gather(
        *[register(admin, community["id"], NIK_FREE, name=f"Peserta {i}") for i in range(8)]
    )
    statuses = Counter(r.status_code for r in responses)
    assert statuses == {201: 1, 409: 7}, [(r.status_code, r.text) for r in responses]
    winner = next(r.json()["id"] for r in responses if r.status_code == 201)
    rows = await collisions(raw_db)
    assert len(rows) == 7
    assert {str(row["resource_id"]) for row in rows} == {winner}
    assert await raw_db.fetchval("SELECT count(*) FROM people") == 1


async def test_admin_resolves_a_collision(
    admin: httpx.AsyncClient,
    facilitator: httpx.AsyncClient,
    community: dict[str, Any],
    other_community: dict[str, Any],
) -> None:
    """SECURITY.md "NIK collisions": the admin finds the holder from the audit event (or by
    an unscoped lookup), then moves it into the facilitator's community or erases the
    duplicate."""
    _, elsewhere = await holders(admin, community, other_community)
    cid = community["id"]
    assert_problem(await register(facilitator, cid, NIK_ELSEWHERE), 409)

    event = (await admin.get(f"{API}/audit-events", params={"action": "nik_collision"})).json()
    holder_id = event["items"][0]["resource_id"]
    assert event["items"][0]["note"] == f"create in community {cid}"
    found = (await admin.post(f"{PEOPLE}/lookup", json={"nik": NIK_ELSEWHERE})).json()["items"]
    assert [p["id"] for p in found] == [holder_id] == [elsewhere["id"]]
    assert found[0]["community_id"] == other_community["id"]

    # move: the facilitator now finds the person and records with it
    r = await admin.patch(f"{PEOPLE}/{holder_id}", json={"community_id": cid})
    assert r.status_code == 200, r.text
    r = await facilitator.post(f"{PEOPLE}/lookup", json={"nik": NIK_ELSEWHERE})
    assert [p["id"] for p in r.json()["items"]] == [holder_id]

    # or erase the duplicate: the NIK is free to register again
    r = await admin.post(f"{PEOPLE}/{holder_id}/erasure")
    assert r.status_code == 200, r.text
    assert (await register(facilitator, cid, NIK_ELSEWHERE)).status_code == 201


async def test_a_duplicate_stopped_by_the_unique_index_is_audited(
    app: Any,
    facilitator: httpx.AsyncClient,
    community: dict[str, Any],
    raw_db: asyncpg.Pool,
) -> None:
    """The NIK is registered by another transaction between the check and the insert: the
    insert waits on the unique index, then fails; still the same 409, audited."""
    holder = uuid.uuid4()
    digest = app.state.personal_data.nik_digest(NIK_FREE)
    async with raw_db.acquire() as conn:
        other = conn.transaction()
        await other.start()
        await conn.execute(
            "INSERT INTO people (id, created_at, updated_at, version, community_id, sex, "
            "nik_hash) VALUES ($1, now(), now(), 1, $2, 'male', $3)",
            holder,
            uuid.UUID(community["id"]),
            digest,
        )
        answer = asyncio.create_task(register(facilitator, community["id"], NIK_FREE))
        for _ in range(500):  # until the app's insert waits on the uncommitted row
            waiting = await raw_db.fetchval(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            if waiting or answer.done():
                break
            await asyncio.sleep(0.01)
        assert waiting == 1, "the registration did not reach the unique index"
        await other.commit()
        r = await answer
    assert assert_problem(r, 409)["detail"].startswith("a person with this NIK is already")
    rows = await collisions(raw_db)
    assert [row["resource_id"] for row in rows] == [holder]
    assert await raw_db.fetchval("SELECT count(*) FROM people") == 1


async def test_a_429_is_not_replayed_for_its_idempotency_key(
    app: Any,
    admin: httpx.AsyncClient,
    facilitator: httpx.AsyncClient,
    community: dict[str, Any],
    other_community: dict[str, Any],
    raw_db: asyncpg.Pool,
) -> None:
    """A "wait and retry" answer frees its Idempotency-Key: the retry after the wait runs."""
    await holders(admin, community, other_community)
    cid = community["id"]
    for _ in range(app.state.settings.nik_collisions_per_hour):
        assert_problem(await register(facilitator, cid, NIK_ELSEWHERE), 409)
    body = {"community_id": cid, "full_name": "Dewi Lestari", "sex": "female", "nik": NIK_FREE}
    key = {"Idempotency-Key": "after-the-wait"}
    assert_problem(await facilitator.post(PEOPLE, json=body, headers=key), 429)
    await raw_db.execute("UPDATE audit_events SET at = at - interval '2 hours'")  # waited
    retried = await facilitator.post(PEOPLE, json=body, headers=key)
    assert retried.status_code == 201, retried.text
    assert "idempotent-replayed" not in retried.headers
