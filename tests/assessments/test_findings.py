"""Findings of a needs assessment: kinds, categories and severity; keyset paging of many
findings and the plan of its query."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx

from tests.factories import ASSESSMENTS, add_finding, create_assessment
from tests.helpers import all_findings, locs

BASE = ASSESSMENTS


# --- findings ---------------------------------------------------------------------------------


async def test_findings_crud_kinds_categories_and_severity(
    admin: httpx.AsyncClient, assessment: dict[str, Any]
) -> None:
    aid = assessment["id"]
    url = f"{BASE}/{aid}/findings"
    categories = [
        "education",
        "health",
        "economy",
        "infrastructure",
        "environment",
        "social",
        "governance",
        "other",
    ]
    made = {}
    for i, category in enumerate(categories):
        kind = ["problem", "need", "potential"][i % 3]
        extra = {"severity": 1 + i % 5} if kind != "potential" else {}
        f = await add_finding(admin, aid, kind=kind, category=category, title=f"F{i}", **extra)
        assert f["kind"] == kind and f["category"] == category
        assert f["assessment_id"] == aid
        assert f["priority_rank"] is None
        made[f["id"]] = f

    # Severity 1..5, problems and needs only.
    for kind in ("problem", "need"):
        for severity in (1, 5):
            await add_finding(admin, aid, kind=kind, title=f"{kind}{severity}", severity=severity)
        for severity in (0, 6, -1, "high"):
            r = await admin.post(
                url, json={"kind": kind, "category": "health", "title": "s", "severity": severity}
            )
            assert r.status_code == 422, (kind, severity)
    r = await admin.post(
        url, json={"kind": "potential", "category": "social", "title": "p", "severity": 3}
    )
    assert r.status_code == 422
    assert ["body", "severity"] in locs(r)
    for bad in (
        {"kind": "opportunity", "category": "health", "title": "t"},
        {"kind": "need", "category": "food", "title": "t"},
        {"kind": "need", "category": "health"},
        {"kind": "need", "category": "health", "title": ""},
        {"category": "health", "title": "t"},
        {"kind": "need", "category": "health", "title": "t", "priority_rank": 1},
        {"kind": "need", "category": "health", "title": "t", "assessment_id": aid},
        {"kind": "need", "category": "health", "title": "t", "affected_people": -3},
    ):
        assert (await admin.post(url, json=bad)).status_code == 422, bad

    # Filters.
    r = await admin.get(url, params={"kind": "potential", "limit": 500})
    assert {f["title"] for f in r.json()["items"]} == {"F2", "F5"}
    r = await admin.get(url, params={"category": "health", "limit": 500})
    assert {f["title"] for f in r.json()["items"]} == {
        "F1",
        "problem1",
        "problem5",
        "need1",
        "need5",
    }
    r = await admin.get(url, params={"kind": "need", "category": "health"})
    assert {f["title"] for f in r.json()["items"]} == {"F1", "need1", "need5"}
    assert (await admin.get(url, params={"kind": "wish"})).status_code == 422
    assert (await admin.get(url, params={"category": "food"})).status_code == 422

    # Update: severity rules follow the resulting kind; priority_rank is read-only.
    potential = next(f for f in made.values() if f["kind"] == "potential")
    problem = next(f for f in made.values() if f["kind"] == "problem")
    r = await admin.patch(f"{url}/{potential['id']}", json={"severity": 2})
    assert r.status_code == 422
    r = await admin.patch(f"{url}/{problem['id']}", json={"kind": "potential"})
    assert r.status_code == 422  # it still has a severity
    r = await admin.patch(f"{url}/{problem['id']}", json={"kind": "potential", "severity": None})
    assert r.status_code == 200, r.text
    assert r.json()["kind"] == "potential" and r.json()["severity"] is None
    r = await admin.patch(f"{url}/{potential['id']}", json={"kind": "need", "severity": 4})
    assert r.status_code == 200
    for bad in (
        {"priority_rank": 1},
        {"severity": 0},
        {"severity": 6},
        {"kind": None},
        {"title": None},
        {"category": "food"},
        {"assessment_id": aid},
    ):
        r = await admin.patch(f"{url}/{potential['id']}", json=bad)
        assert r.status_code == 422, bad

    r = await admin.patch(
        f"{url}/{potential['id']}", json={"title": "Baru"}, headers={"If-Match": '"1"'}
    )
    assert r.status_code == 412
    r = await admin.get(f"{url}/{potential['id']}")
    assert r.status_code == 200 and r.json()["title"] == "F2"
    etag = r.headers["ETag"]
    r = await admin.patch(
        f"{url}/{potential['id']}", json={"title": "Baru"}, headers={"If-Match": etag}
    )
    assert r.status_code == 200 and r.json()["title"] == "Baru"

    r = await admin.delete(f"{url}/{potential['id']}")
    assert r.status_code == 204
    assert (await admin.get(f"{url}/{potential['id']}")).status_code == 404
    assert potential["id"] not in {f["id"] for f in await all_findings(admin, aid)}

    # A finding is only reachable under its own assessment.
    other = await create_assessment(admin, assessment["community_id"])
    assert (await admin.get(f"{BASE}/{other['id']}/findings/{problem['id']}")).status_code == 404
    r = await admin.patch(f"{BASE}/{other['id']}/findings/{problem['id']}", json={"title": "Z"})
    assert r.status_code == 404
    assert (await admin.get(f"{BASE}/{uuid.uuid4()}/findings")).status_code == 404


# --- volume: keyset paging of findings and its plan -------------------------------------------


async def _insert_findings(raw_db: asyncpg.Pool, assessment_id: str, n: int) -> list[uuid.UUID]:
    base = datetime.now(UTC) - timedelta(hours=1)
    rows = []
    for i in range(n):
        created = base + timedelta(seconds=i // 3)  # groups of three share a created_at
        rows.append(
            (
                uuid.uuid4(),
                uuid.UUID(assessment_id),
                ["problem", "need", "potential"][i % 3],
                "health",
                f"Temuan {i:03d}",
                created,
                created,
                1,
                None,
            )
        )
    await raw_db.executemany(
        "INSERT INTO findings (id, assessment_id, kind, category, title, created_at, "
        "updated_at, version, deleted_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        rows,
    )
    return [r[0] for r in rows]


async def test_findings_keyset_paging_120(
    admin: httpx.AsyncClient, community: dict[str, Any], raw_db: asyncpg.Pool
) -> None:
    item = await create_assessment(admin, community["id"])
    other = await create_assessment(admin, community["id"])
    inserted = await _insert_findings(raw_db, item["id"], 120)
    await _insert_findings(raw_db, other["id"], 30)

    seen: list[str] = []
    sizes: list[int] = []
    params: dict[str, Any] = {"limit": 50}
    while True:
        r = await admin.get(f"{BASE}/{item['id']}/findings", params=params)
        assert r.status_code == 200, r.text
        page = r.json()
        sizes.append(len(page["items"]))
        seen += [f["id"] for f in page["items"]]
        if page["next_cursor"] is None:
            break
        params["cursor"] = page["next_cursor"]
    assert sizes == [50, 50, 20]
    assert len(seen) == len(set(seen)) == 120
    assert set(seen) == {str(i) for i in inserted}
    expected_order = await raw_db.fetch(
        "SELECT id FROM findings WHERE assessment_id = $1 ORDER BY created_at, id",
        uuid.UUID(item["id"]),
    )
    assert seen == [str(r["id"]) for r in expected_order]

    # A filtered walk pages too, and a cursor cannot be replayed with other filters.
    r = await admin.get(f"{BASE}/{item['id']}/findings", params={"kind": "need", "limit": 30})
    first = r.json()
    assert len(first["items"]) == 30 and first["next_cursor"]
    r = await admin.get(
        f"{BASE}/{item['id']}/findings",
        params={"kind": "need", "limit": 30, "cursor": first["next_cursor"]},
    )
    assert len(r.json()["items"]) == 10 and r.json()["next_cursor"] is None
    r = await admin.get(
        f"{BASE}/{item['id']}/findings",
        params={"kind": "problem", "limit": 30, "cursor": first["next_cursor"]},
    )
    assert r.status_code == 422


def _plan_values(plan: Any, key: str) -> set[str]:
    """Every value of ``key`` (e.g. "Index Name", "Node Type") anywhere in a JSON plan."""
    found: set[str] = set()
    if isinstance(plan, dict):
        if key in plan:
            found.add(plan[key])
        for value in plan.values():
            found |= _plan_values(value, key)
    elif isinstance(plan, list):
        for value in plan:
            found |= _plan_values(value, key)
    return found


async def test_findings_keyset_query_uses_the_composite_index(
    admin: httpx.AsyncClient, community: dict[str, Any], raw_db: asyncpg.Pool
) -> None:
    item = await create_assessment(admin, community["id"])
    other = await create_assessment(admin, community["id"])
    await _insert_findings(raw_db, item["id"], 120)
    await _insert_findings(raw_db, other["id"], 120)
    await raw_db.execute("ANALYZE findings")
    after = await raw_db.fetchrow(
        "SELECT created_at, id FROM findings WHERE assessment_id = $1 "
        "ORDER BY created_at, id OFFSET 49 LIMIT 1",
        uuid.UUID(item["id"]),
    )
    async with raw_db.acquire() as conn:
        await conn.execute("SET enable_seqscan = off")
        try:
            raw = await conn.fetchval(
                "EXPLAIN (FORMAT JSON) SELECT * FROM findings WHERE assessment_id = $1 "
                "AND deleted_at IS NULL AND (created_at, id) > ($2, $3) "
                "ORDER BY created_at, id LIMIT 51",
                uuid.UUID(item["id"]),
                after["created_at"],
                after["id"],
            )
        finally:
            await conn.execute("RESET enable_seqscan")
    plan = json.loads(raw) if isinstance(raw, str) else raw
    assert "ix_findings_assessment_id_created_at_id" in _plan_values(plan, "Index Name"), plan
    assert "Sort" not in _plan_values(plan, "Node Type"), plan  # the index gives the order
