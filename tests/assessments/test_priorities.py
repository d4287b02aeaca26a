"""Priorities: the modified Borda count as a unit (a worked example, every tie-break rule)
and the priorities and ranks the API answers for a known world."""

from __future__ import annotations

import uuid
from types import SimpleNamespace
from typing import Any

import asyncpg
import httpx

from app.assessments.service import modified_borda
from tests.factories import ASSESSMENTS, BORDA_BALLOTS, BORDA_FINDINGS, add_finding, borda_setup
from tests.helpers import all_findings, assert_ranks_follow_priorities, priorities, ranks_by_id

BASE = ASSESSMENTS


# --- the modified Borda count -----------------------------------------------------------------

# The totals and tie-breaks behind these orders are worked out above BORDA_BALLOTS in
# tests/factories.py.
BORDA_EXPECTED = [
    # letter, points, votes, first places
    ("A", 5, 2, 2),
    ("B", 5, 3, 1),
    ("D", 4, 2, 1),
    ("C", 4, 2, 1),
    ("E", 3, 2, 0),
    ("F", 3, 2, 0),
    ("G", 0, 0, 0),
]
# After ballot 5 ([A, B]) is withdrawn:
#   A 3 (1 first), B 4 (1 first, sev 5), C 4 (1, sev 3), D 4 (1, sev 5), E 3 (0), F 3 (0)
#   -> B, D (tie with B on points, firsts and severity: title), C, A (3 points, 1 first),
#      E, F (title), G.
BORDA_AFTER_WITHDRAWAL = [
    ("B", 4, 2, 1),
    ("D", 4, 2, 1),
    ("C", 4, 2, 1),
    ("A", 3, 1, 1),
    ("E", 3, 2, 0),
    ("F", 3, 2, 0),
    ("G", 0, 0, 0),
]


def _expected_items(
    ids: dict[str, str], expected: list[tuple[str, int, int, int]]
) -> list[dict[str, Any]]:
    return [
        {
            "rank": rank,
            "finding_id": ids[letter],
            "title": BORDA_FINDINGS[letter][2],
            "kind": BORDA_FINDINGS[letter][0],
            "severity": BORDA_FINDINGS[letter][1],
            "points": points,
            "votes": votes,
            "first_place_votes": firsts,
        }
        for rank, (letter, points, votes, firsts) in enumerate(expected, start=1)
    ]


async def test_borda_priorities_worked_example(
    admin: httpx.AsyncClient, community: dict[str, Any], raw_db: asyncpg.Pool
) -> None:
    aid, ids, potential_id, voters = await borda_setup(admin, community["id"])

    prio = await priorities(admin, aid)
    assert prio["assessment_id"] == aid
    assert prio["ballots"] == 5
    items = [{k: v for k, v in i.items() if k != "category"} for i in prio["items"]]
    assert items == _expected_items(ids, BORDA_EXPECTED)
    assert potential_id not in {i["finding_id"] for i in prio["items"]}

    ranks = await ranks_by_id(admin, aid)
    expected_ranks: dict[str, int | None] = {
        ids[letter]: rank for rank, (letter, *_) in enumerate(BORDA_EXPECTED, start=1)
    }
    expected_ranks[potential_id] = None
    assert ranks == expected_ranks

    # A GET never writes: neither priorities nor findings touch the rows.
    before = await raw_db.fetch(
        "SELECT id, updated_at, version, priority_rank FROM findings "
        "WHERE assessment_id = $1 ORDER BY id",
        uuid.UUID(aid),
    )
    api_before = {f["id"]: f["updated_at"] for f in await all_findings(admin, aid)}
    for _ in range(2):
        await priorities(admin, aid)
        await all_findings(admin, aid)
        await admin.get(f"{BASE}/{aid}/findings/{ids['A']}")
    after = await raw_db.fetch(
        "SELECT id, updated_at, version, priority_rank FROM findings "
        "WHERE assessment_id = $1 ORDER BY id",
        uuid.UUID(aid),
    )
    assert [dict(r) for r in after] == [dict(r) for r in before]
    assert {f["id"]: f["updated_at"] for f in await all_findings(admin, aid)} == api_before

    # Withdrawing ballot 5 re-ranks.
    r = await admin.delete(f"{BASE}/{aid}/ballots/{voters[4]}")
    assert r.status_code == 204
    prio = await priorities(admin, aid)
    assert prio["ballots"] == 4
    items = [{k: v for k, v in i.items() if k != "category"} for i in prio["items"]]
    assert items == _expected_items(ids, BORDA_AFTER_WITHDRAWAL)
    ranks = await ranks_by_id(admin, aid)
    assert ranks == {
        **{ids[letter]: rank for rank, (letter, *_) in enumerate(BORDA_AFTER_WITHDRAWAL, 1)},
        potential_id: None,
    }
    await assert_ranks_follow_priorities(admin, aid)

    # Deleting a ranked finding re-ranks too (its points disappear).
    assert (await admin.delete(f"{BASE}/{aid}/findings/{ids['B']}")).status_code == 204
    await assert_ranks_follow_priorities(admin, aid)
    assert [i["finding_id"] for i in (await priorities(admin, aid))["items"]][:2] == [
        ids["D"],
        ids["C"],
    ]

    # Changing a severity that breaks a tie re-ranks: C now outranks D.
    r = await admin.patch(f"{BASE}/{aid}/findings/{ids['C']}", json={"severity": 5})
    assert r.status_code == 200
    assert r.json()["priority_rank"] == 1
    await assert_ranks_follow_priorities(admin, aid)

    # A finding added after the voting gets 0 points and a rank after the voted ones
    # (before G: same 0 points and first places, higher severity).
    late = await add_finding(admin, aid, title="Honai bocor", severity=2)
    await assert_ranks_follow_priorities(admin, aid)
    ranks = await ranks_by_id(admin, aid)
    assert ranks[late["id"]] == ranks[ids["G"]] - 1 == len(ranks) - 2  # type: ignore[operator]

    # Withdrawing every ballot clears the ranks.
    for voter in voters[:4]:
        assert (await admin.delete(f"{BASE}/{aid}/ballots/{voter}")).status_code == 204
    prio = await priorities(admin, aid)
    assert prio["ballots"] == 0
    assert all(i["points"] == 0 and i["votes"] == 0 for i in prio["items"])
    assert set((await ranks_by_id(admin, aid)).values()) == {None}


def _f(title: str, *, kind: str = "problem", severity: int | None = None) -> Any:
    return SimpleNamespace(id=uuid.uuid4(), kind=kind, severity=severity, title=title)


def test_modified_borda_unit_worked_example() -> None:
    findings = {
        letter: _f(title, kind=kind, severity=severity)
        for letter, (kind, severity, title) in BORDA_FINDINGS.items()
    }
    potential = _f("Gotong royong", kind="potential")
    rankings = [[findings[x].id for x in ballot] for ballot in BORDA_BALLOTS]
    tallies = modified_borda([*findings.values(), potential], rankings)
    got = [(t.finding.title, t.points, t.votes, t.first_place_votes) for t in tallies]
    assert got == [
        (BORDA_FINDINGS[letter][2], points, votes, firsts)
        for letter, points, votes, firsts in BORDA_EXPECTED
    ]
    tallies = modified_borda(list(findings.values()), rankings[:4])
    assert [t.finding.title for t in tallies] == [
        BORDA_FINDINGS[letter][2] for letter, *_ in BORDA_AFTER_WITHDRAWAL
    ]


def test_modified_borda_unit_rules() -> None:
    a, b, c = _f("a", severity=1), _f("b", kind="need"), _f("c", severity=2)
    # k points to the first of k, down to 1 for the last; unranked 0.
    tallies = {t.finding.title: t for t in modified_borda([a, b, c], [[a.id, b.id, c.id]])}
    assert [(tallies[x].points, tallies[x].votes, tallies[x].first_place_votes) for x in "abc"] == [
        (3, 1, 1),
        (2, 1, 0),
        (1, 1, 0),
    ]
    tallies = {t.finding.title: t for t in modified_borda([a, b, c], [[c.id]])}
    assert (tallies["c"].points, tallies["a"].points, tallies["b"].points) == (1, 0, 0)
    # No ballots: everything at 0, ordered by severity then title (None severity last).
    assert [t.finding.title for t in modified_borda([a, b, c], [])] == ["c", "a", "b"]
    # Points beat first places: [b, a] [c, a] [a]? -> a 1+1+1 = 3 with 1 first; b 2; c 2.
    tallies = modified_borda([a, b, c], [[b.id, a.id], [c.id, a.id], [a.id]])
    assert [(t.finding.title, t.points, t.first_place_votes) for t in tallies] == [
        ("a", 3, 1),
        ("c", 2, 1),
        ("b", 2, 1),
    ]
    # More first places beat higher severity.
    tallies = modified_borda([a, c], [[a.id], [a.id, c.id], [c.id, a.id], [c.id]])
    # a: 1 + 2 + 1 = 4, firsts 2; c: 1 + 2 + 1 = 4, firsts 2 -> severity: c (2) before a (1)
    assert [t.finding.title for t in tallies] == ["c", "a"]
    tallies = modified_borda([a, c], [[a.id], [a.id], [c.id, a.id]])
    # a: 1 + 1 + 1 = 3, firsts 2; c: 2, firsts 1
    assert [(t.finding.title, t.points) for t in tallies] == [("a", 3), ("c", 2)]
    tallies = modified_borda([a, c], [[a.id], [a.id], [c.id, b.id]])
    # c: 2 points, 1 first; a: 2 points, 2 firsts -> a first despite lower severity
    assert [(t.finding.title, t.points, t.first_place_votes) for t in tallies] == [
        ("a", 2, 2),
        ("c", 2, 1),
    ]
    # Same points, firsts and severity: title decides, not id or input order.
    x, y = _f("Zebra cross", severity=3), _f("Angkot", severity=3)
    assert [t.finding.title for t in modified_borda([x, y], [[x.id, y.id], [y.id, x.id]])] == [
        "Angkot",
        "Zebra cross",
    ]
    # Potentials and unknown ids (deleted findings) are ignored.
    p = _f("p", kind="potential")
    tallies = modified_borda([a, p], [[p.id, uuid.uuid4(), a.id]])
    assert [(t.finding.title, t.points, t.votes, t.first_place_votes) for t in tallies] == [
        ("a", 1, 1, 0)
    ]
