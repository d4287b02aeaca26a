"""Ballots: the rules (one per person, consent for needs assessment, open assessments only)
and ballots cast concurrently."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx

from tests.factories import ASSESSMENTS, PEOPLE, add_finding, cast, create_assessment, make_person
from tests.helpers import assert_ranks_follow_priorities, locs, priorities, ranks_by_id

BASE = ASSESSMENTS


# --- ballots ----------------------------------------------------------------------------------


async def test_ballot_rules(
    admin: httpx.AsyncClient,
    community: dict[str, Any],
    other_community: dict[str, Any],
    assessment: dict[str, Any],
) -> None:
    aid = assessment["id"]
    a = await add_finding(admin, aid, title="A", severity=3)
    b = await add_finding(admin, aid, kind="need", title="B")
    pot = await add_finding(admin, aid, kind="potential", title="P")
    elsewhere = await create_assessment(admin, community["id"])
    foreign = await add_finding(admin, elsewhere["id"], title="Foreign")

    voter = await make_person(admin, community["id"])
    stranger = await make_person(admin, other_community["id"], name="Orang lain")

    r = await cast(admin, aid, stranger["id"], [a["id"]])
    assert r.status_code == 422
    assert ["body", "person_id"] in locs(r)
    r = await cast(admin, aid, str(uuid.uuid4()), [a["id"]])
    assert r.status_code == 422
    r = await cast(admin, aid, voter["id"], [a["id"], foreign["id"]])
    assert r.status_code == 422
    assert ["body", "ranking", 1] in locs(r)
    r = await cast(admin, aid, voter["id"], [pot["id"], a["id"]])
    assert r.status_code == 422
    assert ["body", "ranking", 0] in locs(r)
    r = await cast(admin, aid, voter["id"], [str(uuid.uuid4())])
    assert r.status_code == 422
    r = await cast(admin, aid, voter["id"], [a["id"], b["id"], a["id"]])
    assert r.status_code == 422
    r = await cast(admin, aid, voter["id"], [])
    assert r.status_code == 422
    r = await admin.post(f"{BASE}/{aid}/ballots", json={"person_id": voter["id"]})
    assert r.status_code == 422
    r = await admin.post(
        f"{BASE}/{aid}/ballots",
        json={"person_id": voter["id"], "ranking": [a["id"]], "points": 3},
    )
    assert r.status_code == 422
    assert (await priorities(admin, aid))["ballots"] == 0

    r = await cast(admin, aid, voter["id"], [b["id"], a["id"]])
    assert r.status_code == 201, r.text
    ballot = r.json()
    assert ballot["person_id"] == voter["id"]
    assert ballot["ranking"] == [b["id"], a["id"]]
    assert ballot["person_key"]

    r = await cast(admin, aid, voter["id"], [a["id"]])
    assert r.status_code == 409

    r = await admin.get(f"{BASE}/{aid}/ballots")
    assert [x["person_id"] for x in r.json()["items"]] == [voter["id"]]

    # Withdraw, then vote again.
    r = await admin.delete(f"{BASE}/{aid}/ballots/{voter['id']}")
    assert r.status_code == 204
    assert (await admin.get(f"{BASE}/{aid}/ballots")).json()["items"] == []
    assert (await priorities(admin, aid))["ballots"] == 0
    assert (await admin.delete(f"{BASE}/{aid}/ballots/{voter['id']}")).status_code == 404
    r = await cast(admin, aid, voter["id"], [a["id"]])
    assert r.status_code == 201
    assert (await priorities(admin, aid))["ballots"] == 1

    # Withdrawing a ballot that was never cast.
    assert (await admin.delete(f"{BASE}/{aid}/ballots/{stranger['id']}")).status_code == 404
    assert (await admin.delete(f"{BASE}/{aid}/ballots/{uuid.uuid4()}")).status_code == 404
    # Ballot of another assessment is not withdrawn from this one.
    r = await cast(admin, elsewhere["id"], voter["id"], [foreign["id"]])
    assert r.status_code == 201
    assert (await admin.delete(f"{BASE}/{aid}/ballots/{voter['id']}")).status_code == 204
    assert (await priorities(admin, elsewhere["id"]))["ballots"] == 1


async def test_ballot_needs_needs_assessment_consent(
    admin: httpx.AsyncClient, community: dict[str, Any], assessment: dict[str, Any]
) -> None:
    aid = assessment["id"]
    a = await add_finding(admin, aid, title="A")
    no_consent = await make_person(admin, community["id"], purposes=(), name="Tanpa")
    other_purpose = await make_person(
        admin, community["id"], purposes=("contact", "program_participation"), name="Lain"
    )
    for person in (no_consent, other_purpose):
        r = await cast(admin, aid, person["id"], [a["id"]])
        assert r.status_code == 409, r.text

    withdrawn = await make_person(admin, community["id"], name="Tarik")
    r = await admin.patch(
        f"{PEOPLE}/{withdrawn['id']}",
        json={"consent_withdrawn_at": (datetime.now(UTC) + timedelta(seconds=1)).isoformat()},
    )
    assert r.status_code == 200, r.text
    assert r.json()["has_active_consent"] is False
    r = await cast(admin, aid, withdrawn["id"], [a["id"]])
    assert r.status_code == 409
    assert (await priorities(admin, aid))["ballots"] == 0

    ok = await make_person(admin, community["id"], name="Boleh")
    assert (await cast(admin, aid, ok["id"], [a["id"]])).status_code == 201


# --- concurrency ------------------------------------------------------------------------------


async def test_concurrent_ballots_of_different_people(
    admin: httpx.AsyncClient, community: dict[str, Any], assessment: dict[str, Any]
) -> None:
    aid = assessment["id"]
    a = await add_finding(admin, aid, title="A", severity=1)
    b = await add_finding(admin, aid, kind="need", title="B", severity=1)
    c = await add_finding(admin, aid, title="C", severity=1)
    people = [await make_person(admin, community["id"], name=f"P{i}") for i in range(6)]
    rankings = [
        [a["id"], b["id"]],
        [b["id"], c["id"], a["id"]],
        [c["id"]],
        [a["id"], c["id"]],
        [b["id"]],
        [c["id"], a["id"], b["id"]],
    ]
    first = await asyncio.gather(
        cast(admin, aid, people[0]["id"], rankings[0]),
        cast(admin, aid, people[1]["id"], rankings[1]),
    )
    assert [r.status_code for r in first] == [201, 201], [r.text for r in first]
    rest = await asyncio.gather(
        *(cast(admin, aid, p["id"], rk) for p, rk in zip(people[2:], rankings[2:], strict=True))
    )
    assert [r.status_code for r in rest] == [201] * 4, [r.text for r in rest]

    prio = await priorities(admin, aid)
    assert prio["ballots"] == 6
    # a: 2 + 1 + 2 + 2 = 7; b: 1 + 3 + 1 + 1 = 6; c: 2 + 1 + 1 + 3 = 7
    # a and c tie on 7 points; firsts a 2, c 2; severity equal -> title: A before C.
    assert [(i["title"], i["points"]) for i in prio["items"]] == [("A", 7), ("C", 7), ("B", 6)]
    await assert_ranks_follow_priorities(admin, aid)
    ranks = await ranks_by_id(admin, aid)
    assert sorted(ranks.values()) == [1, 2, 3]  # type: ignore[type-var]


async def test_same_person_ballot_five_times_concurrently(
    admin: httpx.AsyncClient,
    community: dict[str, Any],
    assessment: dict[str, Any],
    raw_db: asyncpg.Pool,
) -> None:
    aid = assessment["id"]
    a = await add_finding(admin, aid, title="A")
    b = await add_finding(admin, aid, kind="need", title="B")
    person = await make_person(admin, community["id"])
    responses = await asyncio.gather(
        *(cast(admin, aid, person["id"], [a["id"], b["id"]]) for _ in range(5))
    )
    codes = sorted(r.status_code for r in responses)
    assert codes == [201, 409, 409, 409, 409], [r.text for r in responses]
    live = await raw_db.fetchval(
        "SELECT count(*) FROM ballots WHERE assessment_id = $1 AND person_id = $2 "
        "AND deleted_at IS NULL",
        uuid.UUID(aid),
        uuid.UUID(person["id"]),
    )
    assert live == 1
    prio = await priorities(admin, aid)
    assert prio["ballots"] == 1
    assert [(i["title"], i["points"]) for i in prio["items"]] == [("A", 2), ("B", 1)]
    await assert_ranks_follow_priorities(admin, aid)
