"""Events: the outbox is written with the change (and only with it), the feed's order
never skips a late commit, every type comes from the one place its change happens, and
bodies carry no personal data."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import asyncpg
import httpx
import pytest

from app.events import emit
from app.events.outbox import EVENT_TYPES, record_event
from tests.events.conftest import settle
from tests.factories import (
    ASSESSMENTS,
    PARTNERSHIPS,
    PROGRAMS,
    YEAR_2025,
    MakeCommunity,
    add_finding,
    cast,
    contribute,
    create_assessment,
    make_activity,
    make_budget_line,
    make_indicator,
    make_measurement,
    make_partner,
    make_partnership,
    make_person,
    make_program,
    move_ok,
)
from tests.helpers import assert_422_at, assert_problem

EVENTS = "/api/v1/events"


async def pull_all(client: httpx.AsyncClient, **params: Any) -> list[dict[str, Any]]:
    """Every event the client sees, once every transaction begun so far has ended."""
    await settle()
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        query = {"limit": 500, **params}
        if cursor:
            query["cursor"] = cursor
        r = await client.get(EVENTS, params=query)
        assert r.status_code == 200, r.text
        items.extend(r.json()["items"])
        cursor = r.json()["next_cursor"]
        if cursor is None:
            return items


def types_of(items: list[dict[str, Any]]) -> list[str]:
    return [i["type"] for i in items]


async def test_every_type_comes_from_its_change(
    admin: httpx.AsyncClient, make_community: MakeCommunity
) -> None:
    community = (await make_community())["id"]
    program = await make_program(admin, [community], **YEAR_2025)
    pid = program["id"]
    r = await admin.patch(f"{PROGRAMS}/{pid}", json={"title": "Air Bersih Desa Sukamaju"})
    assert r.status_code == 200, r.text
    await move_ok(admin, PROGRAMS, pid, "submitted")
    activity = await make_activity(admin, pid, community)
    r = await admin.patch(f"{PROGRAMS}/{pid}/activities/{activity['id']}", json={"status": "done"})
    assert r.status_code == 200, r.text
    indicator = await make_indicator(admin, pid)
    await make_measurement(admin, pid, indicator["id"])
    line = await make_budget_line(admin, pid)
    r = await admin.patch(f"{PROGRAMS}/{pid}/budget-lines/{line['id']}", json={"quantity": 3})
    assert r.status_code == 200, r.text
    r = await admin.delete(f"{PROGRAMS}/{pid}/budget-lines/{line['id']}")
    assert r.status_code == 204, r.text
    partner = await make_partner(admin)
    partnership = await make_partnership(admin, partner["id"], pid)
    await move_ok(admin, PARTNERSHIPS, partnership["id"], "active")
    contribution = await contribute(admin, partnership["id"])
    r = await admin.patch(
        f"{PARTNERSHIPS}/{partnership['id']}/contributions/{contribution['id']}",
        json={"amount": 2_500_000},
    )
    assert r.status_code == 200, r.text
    assessment = await create_assessment(admin, community)
    await move_ok(admin, ASSESSMENTS, assessment["id"], "in_progress")

    items = await pull_all(admin)
    assert types_of(items) == [
        "program.created",
        "program.updated",
        "program.status_changed",
        "activity.created",
        "activity.updated",
        "measurement.recorded",
        "budget_line.changed",
        "budget_line.changed",
        "budget_line.changed",
        "partnership.created",
        "partnership.status_changed",
        "contribution.recorded",
        "contribution.updated",
        "needs_assessment.status_changed",
    ]
    by_type = {i["type"]: i for i in items}
    assert by_type["program.updated"]["data"]["changed_fields"] == ["title"]
    assert (
        by_type["program.status_changed"]["data"].items()
        >= {"from": "draft", "to": "submitted"}.items()
    )
    assert by_type["activity.updated"]["data"]["changed_fields"] == ["status"]
    # An activity's title is free text that may name a villager: never in an event.
    assert "title" not in by_type["activity.created"]["data"]
    assert activity["title"] not in str(items)
    assert [i["data"]["change"] for i in items if i["type"] == "budget_line.changed"] == [
        "created",
        "updated",
        "deleted",
    ]
    assert by_type["contribution.updated"]["data"]["amount"] == 2_500_000
    for item in items:
        assert set(item) == {"id", "type", "occurred_at", "data"}
        assert item["data"]["href"].startswith("/api/v1/")
        assert item["data"]["id"] in item["data"]["href"]

    # A patch that changes nothing emits nothing.
    r = await admin.patch(f"{PROGRAMS}/{pid}", json={"title": "Air Bersih Desa Sukamaju"})
    assert r.status_code == 200
    assert len(await pull_all(admin)) == len(items)
    # Filter by type.
    only = await pull_all(admin, type=["budget_line.changed", "program.created"])
    assert types_of(only) == ["program.created", *["budget_line.changed"] * 3]


async def test_no_personal_data_in_events(
    admin: httpx.AsyncClient, make_community: MakeCommunity
) -> None:
    """People, ballots and participation emit nothing; free text never travels."""
    community = (await make_community())["id"]
    person = await make_person(admin, community, name="Siti Aminah", purposes=["needs_assessment"])
    assessment = await create_assessment(admin, community, summary="Bu Siti Aminah bercerita")
    await move_ok(admin, ASSESSMENTS, assessment["id"], "in_progress")
    finding = await add_finding(admin, assessment["id"])
    await cast(admin, assessment["id"], person["id"], [finding["id"]])
    program = await make_program(admin, [community], **YEAR_2025)
    await move_ok(admin, PROGRAMS, program["id"], "submitted", "approved", "active")
    indicator = await make_indicator(admin, program["id"])
    await make_measurement(admin, program["id"], indicator["id"], note="Catatan Siti Aminah")
    text = json.dumps(await pull_all(admin))
    for secret in ("Siti", "Aminah", person["id"], "nik", "phone", "full_name"):
        assert secret not in text


async def test_failing_request_emits_nothing(
    admin: httpx.AsyncClient,
    make_community: MakeCommunity,
    raw_db: asyncpg.Pool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    community = (await make_community())["id"]
    original = emit.program_created

    async def then_fail(session: Any, program: Any) -> None:
        await original(session, program)
        await session.flush()  # the event row is written, then the request fails
        raise RuntimeError("boom after the change")

    monkeypatch.setattr(emit, "program_created", then_fail)
    r = await admin.post(PROGRAMS, json={"title": "Gagal", "community_ids": [community]})
    assert_problem(r, 500)
    assert await raw_db.fetchval("SELECT count(*) FROM programs") == 0
    assert await raw_db.fetchval("SELECT count(*) FROM events") == 0
    monkeypatch.undo()

    # A refused change (409 on a bad transition) emits nothing either.
    program = await make_program(admin, [community])
    r = await admin.post(f"{PROGRAMS}/{program['id']}/transitions", json={"to": "active"})
    assert_problem(r, 409)
    assert types_of(await pull_all(admin)) == ["program.created"]


async def test_committed_changes_always_have_their_event(
    admin: httpx.AsyncClient, make_community: MakeCommunity, raw_db: asyncpg.Pool
) -> None:
    community = (await make_community())["id"]
    results = await asyncio.gather(
        *(
            admin.post(PROGRAMS, json={"title": f"Program {n}", "community_ids": [community]})
            for n in range(12)
        )
    )
    created = {r.json()["id"] for r in results if r.status_code == 201}
    assert created
    events = await raw_db.fetch(
        "SELECT data->>'id' AS id FROM events WHERE type = 'program.created'"
    )
    assert {e["id"] for e in events} == created


async def test_a_late_commit_is_never_skipped(
    app: Any, admin: httpx.AsyncClient, make_community: MakeCommunity
) -> None:
    """A transaction that wrote its event before a later one commits after it: the feed
    holds the later one back until the first ends, so a cursor never passes it."""
    community = (await make_community())["id"]
    early = await make_program(admin, [community], title="Program awal")
    first = await pull_all(admin)
    assert types_of(first) == ["program.created"]
    await settle()
    resume = (await admin.get(EVENTS)).json()["resume_cursor"]

    long_id = uuid.uuid7() if hasattr(uuid, "uuid7") else uuid.uuid4()
    async with app.state.database.sessions() as long_tx:
        await record_event(
            long_tx,
            "program.updated",
            {"id": early["id"], "href": f"{PROGRAMS}/{early['id']}", "marker": str(long_id)},
            program_ids=[uuid.UUID(early["id"])],
        )
        await long_tx.flush()  # the long transaction holds its (smaller) transaction id
        late = await make_program(admin, [community], title="Program susulan")  # commits now
        r = await admin.get(EVENTS, params={"cursor": resume})
        assert r.status_code == 200
        assert r.json()["items"] == []  # held back: an older transaction is still open
        assert r.json()["resume_cursor"] == resume
        await long_tx.commit()

    await settle()
    r = await admin.get(EVENTS, params={"cursor": resume})
    got = r.json()["items"]
    assert [i["type"] for i in got] == ["program.updated", "program.created"]
    assert got[0]["data"]["marker"] == str(long_id)
    assert got[1]["data"]["id"] == late["id"]
    again = await admin.get(EVENTS, params={"cursor": r.json()["resume_cursor"]})
    assert again.json()["items"] == []


async def test_feed_pages_and_parameters(
    admin: httpx.AsyncClient, make_community: MakeCommunity, client: httpx.AsyncClient
) -> None:
    community = (await make_community())["id"]
    for n in range(5):
        await make_program(admin, [community], title=f"Program {n}")
    await settle()
    pages = []
    cursor = None
    while True:
        r = await admin.get(EVENTS, params={"limit": 2, **({"cursor": cursor} if cursor else {})})
        assert r.status_code == 200
        pages.append([i["data"]["title"] for i in r.json()["items"]])
        cursor = r.json()["next_cursor"]
        if cursor is None:
            break
        assert 'rel="next"' in r.headers["link"]
    assert [t for p in pages for t in p] == [f"Program {n}" for n in range(5)]
    newest = await admin.get(EVENTS, params={"sort": "-sequence", "limit": 2})
    assert [i["data"]["title"] for i in newest.json()["items"]] == ["Program 4", "Program 3"]
    older = await admin.get(
        EVENTS, params={"sort": "-sequence", "limit": 2, "cursor": newest.json()["next_cursor"]}
    )
    assert [i["data"]["title"] for i in older.json()["items"]] == ["Program 2", "Program 1"]

    first = await admin.get(EVENTS, params={"limit": 2})
    assert_422_at(
        await admin.get(
            EVENTS,
            params={"limit": 2, "type": "program.created", "cursor": first.json()["next_cursor"]},
        ),
        "query",
        "cursor",
    )
    assert_422_at(await admin.get(EVENTS, params={"cursor": "bm90LWEtY3Vyc29y"}), "query", "cursor")
    assert_422_at(await admin.get(EVENTS, params={"type": "person.created"}), "query", "type", 0)
    assert_422_at(await admin.get(EVENTS, params={"limit": 501}), "query", "limit")
    assert_problem(await client.get(EVENTS), 401)
    assert set(EVENT_TYPES) >= {"planning_proposal.funded", "planning_proposal.status_changed"}


async def test_record_event_refuses_unknown_types(app: Any) -> None:
    async with app.state.database.sessions() as session:
        with pytest.raises(ValueError, match="unknown event type"):
            await record_event(session, "person.created", {"id": "x", "href": "/x"})
        with pytest.raises(ValueError, match="'id' and 'href'"):
            await record_event(session, "program.created", {"title": "tanpa id"})
