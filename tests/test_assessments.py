"""Needs assessments: CRUD and validation, the status lifecycle, findings, ballots and the
modified Borda count, scoping by role and community, concurrency, keyset paging and plans."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import asyncpg
import httpx
import pytest

from app.assessments.models import ASSESSMENT_MACHINE
from app.assessments.service import modified_borda
from app.auth.models import Role

BASE = "/api/v1/needs-assessments"
PEOPLE = "/api/v1/people"

MakeCommunity = Callable[..., Awaitable[dict[str, Any]]]
MakeUser = Callable[..., Awaitable[Any]]
AsUser = Callable[[Any], httpx.AsyncClient]

ALL_STATUSES = ["planned", "in_progress", "completed", "validated", "cancelled"]


# --- helpers ----------------------------------------------------------------------------------


def locs(response: httpx.Response) -> list[list[Any]]:
    return [issue["loc"] for issue in response.json().get("errors") or []]


def assessment_body(community_id: str, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "community_id": community_id,
        "title": "Kajian kebutuhan air bersih",
        "methods": ["survey", "focus_group"],
    }
    body.update(overrides)
    return body


async def create_assessment(
    client: httpx.AsyncClient, community_id: str, **overrides: Any
) -> dict[str, Any]:
    r = await client.post(BASE, json=assessment_body(community_id, **overrides))
    assert r.status_code == 201, r.text
    created: dict[str, Any] = r.json()
    return created


async def add_finding(
    client: httpx.AsyncClient,
    assessment_id: str,
    *,
    kind: str = "problem",
    category: str = "health",
    title: str = "Air bersih sulit di musim kemarau",
    **extra: Any,
) -> dict[str, Any]:
    r = await client.post(
        f"{BASE}/{assessment_id}/findings",
        json={"kind": kind, "category": category, "title": title, **extra},
    )
    assert r.status_code == 201, r.text
    created: dict[str, Any] = r.json()
    return created


async def make_person(
    client: httpx.AsyncClient,
    community_id: str,
    *,
    purposes: tuple[str, ...] = ("needs_assessment",),
    name: str = "Siti Aminah",
) -> dict[str, Any]:
    r = await client.post(
        PEOPLE,
        json={
            "community_id": community_id,
            "full_name": name,
            "sex": "female",
            "consent_purposes": list(purposes),
        },
    )
    assert r.status_code == 201, r.text
    created: dict[str, Any] = r.json()
    return created


async def move(client: httpx.AsyncClient, assessment_id: str, to: str, **kw: Any) -> httpx.Response:
    return await client.post(f"{BASE}/{assessment_id}/transitions", json={"to": to}, **kw)


async def move_ok(client: httpx.AsyncClient, assessment_id: str, *path: str) -> dict[str, Any]:
    body: dict[str, Any] = {}
    for to in path:
        r = await move(client, assessment_id, to)
        assert r.status_code == 200, r.text
        body = r.json()
    return body


async def cast(
    client: httpx.AsyncClient, assessment_id: str, person_id: str, ranking: list[str]
) -> httpx.Response:
    return await client.post(
        f"{BASE}/{assessment_id}/ballots", json={"person_id": person_id, "ranking": ranking}
    )


async def all_findings(client: httpx.AsyncClient, assessment_id: str) -> list[dict[str, Any]]:
    r = await client.get(f"{BASE}/{assessment_id}/findings", params={"limit": 500})
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["items"]
    return items


async def ranks_by_id(client: httpx.AsyncClient, assessment_id: str) -> dict[str, int | None]:
    return {f["id"]: f["priority_rank"] for f in await all_findings(client, assessment_id)}


async def priorities(client: httpx.AsyncClient, assessment_id: str) -> dict[str, Any]:
    r = await client.get(f"{BASE}/{assessment_id}/priorities")
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def assert_ranks_follow_priorities(client: httpx.AsyncClient, assessment_id: str) -> None:
    prio = await priorities(client, assessment_id)
    ranks = await ranks_by_id(client, assessment_id)
    expected = {item["finding_id"]: item["rank"] for item in prio["items"]}
    for finding_id, rank in ranks.items():
        if prio["ballots"] == 0:
            assert rank is None
        else:
            assert rank == expected.get(finding_id), (finding_id, rank, expected)
    assert [i["rank"] for i in prio["items"]] == list(range(1, len(prio["items"]) + 1))


@pytest.fixture
async def community(make_community: MakeCommunity) -> dict[str, Any]:
    return await make_community()


@pytest.fixture
async def other_community(make_community: MakeCommunity) -> dict[str, Any]:
    return await make_community()


@pytest.fixture
async def assessment(admin: httpx.AsyncClient, community: dict[str, Any]) -> dict[str, Any]:
    return await create_assessment(admin, community["id"])


@pytest.fixture
async def facilitator_user(make_user: MakeUser, community: dict[str, Any]) -> Any:
    return await make_user(Role.facilitator, communities=[uuid.UUID(community["id"])])


# --- CRUD and validation ----------------------------------------------------------------------


async def test_create_get_patch_delete(
    admin: httpx.AsyncClient, community: dict[str, Any], facilitator_user: Any
) -> None:
    r = await admin.post(
        BASE,
        json=assessment_body(
            community["id"],
            methods=["transect_walk", "participatory_mapping", "interview"],
            facilitator_id=str(facilitator_user.id),
            respondent_count=42,
            summary="Ringkasan",
            started_on="2026-03-01",
        ),
    )
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["status"] == "planned"
    assert created["methods"] == ["transect_walk", "participatory_mapping", "interview"]
    assert created["facilitator_id"] == str(facilitator_user.id)
    assert r.headers["Location"] == f"{BASE}/{created['id']}"
    assert r.headers["ETag"] == '"1"'

    got = await admin.get(f"{BASE}/{created['id']}")
    assert got.status_code == 200
    assert got.json() == created

    patched = await admin.patch(
        f"{BASE}/{created['id']}",
        json={"title": "Kajian baru", "methods": ["observation"], "completed_on": "2026-03-05"},
        headers={"If-Match": '"1"'},
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["title"] == "Kajian baru"
    assert patched.json()["methods"] == ["observation"]
    assert patched.json()["completed_on"] == "2026-03-05"
    assert patched.headers["ETag"] == '"2"'

    stale = await admin.patch(
        f"{BASE}/{created['id']}", json={"title": "X"}, headers={"If-Match": '"1"'}
    )
    assert stale.status_code == 412

    deleted = await admin.delete(f"{BASE}/{created['id']}")
    assert deleted.status_code == 204
    assert (await admin.get(f"{BASE}/{created['id']}")).status_code == 404


@pytest.mark.parametrize(
    "methods",
    [None, [], ["survey", "survey"], ["survey", "questionnaire"], "survey", ["SURVEY"]],
    ids=["missing", "empty", "repeated", "unknown", "not-a-list", "wrong-case"],
)
async def test_methods_validation(
    admin: httpx.AsyncClient, community: dict[str, Any], methods: Any
) -> None:
    body = assessment_body(community["id"])
    if methods is None:
        del body["methods"]
    else:
        body["methods"] = methods
    r = await admin.post(BASE, json=body)
    assert r.status_code == 422, r.text
    assert any(loc[:2] == ["body", "methods"] for loc in locs(r)), r.json()


async def test_methods_accepts_all_six(admin: httpx.AsyncClient, community: dict[str, Any]) -> None:
    six = [
        "survey",
        "focus_group",
        "observation",
        "interview",
        "participatory_mapping",
        "transect_walk",
    ]
    created = await create_assessment(admin, community["id"], methods=six)
    assert created["methods"] == six


async def test_patch_methods_validation(
    admin: httpx.AsyncClient, assessment: dict[str, Any]
) -> None:
    url = f"{BASE}/{assessment['id']}"
    for methods in ([], ["survey", "survey"], ["dance"], None):
        r = await admin.patch(url, json={"methods": methods})
        assert r.status_code == 422, (methods, r.text)
    assert (await admin.patch(url, json={"title": None})).status_code == 422
    assert (await admin.get(url)).json()["methods"] == ["survey", "focus_group"]


async def test_create_rejects_bad_references_and_dates(
    admin: httpx.AsyncClient, make_user: MakeUser, community: dict[str, Any]
) -> None:
    r = await admin.post(BASE, json=assessment_body(str(uuid.uuid4())))
    assert r.status_code == 422
    assert ["body", "community_id"] in locs(r)

    coordinator_user = await make_user(Role.coordinator)
    for not_facilitator in (coordinator_user.id, uuid.uuid4()):
        r = await admin.post(
            BASE, json=assessment_body(community["id"], facilitator_id=str(not_facilitator))
        )
        assert r.status_code == 422, r.text
        assert ["body", "facilitator_id"] in locs(r)

    r = await admin.post(
        BASE,
        json=assessment_body(community["id"], started_on="2026-05-10", completed_on="2026-05-09"),
    )
    assert r.status_code == 422
    assert ["body", "completed_on"] in locs(r)

    same_day = await create_assessment(
        admin, community["id"], started_on="2026-05-10", completed_on="2026-05-10"
    )
    # PATCH checks the dates against the stored ones too.
    r = await admin.patch(f"{BASE}/{same_day['id']}", json={"completed_on": "2026-05-01"})
    assert r.status_code == 422
    r = await admin.patch(f"{BASE}/{same_day['id']}", json={"started_on": "2026-06-01"})
    assert r.status_code == 422
    r = await admin.patch(
        f"{BASE}/{same_day['id']}", json={"facilitator_id": str(coordinator_user.id)}
    )
    assert r.status_code == 422

    for field, value in (("title", ""), ("respondent_count", -1), ("title", "x" * 301)):
        r = await admin.post(BASE, json=assessment_body(community["id"], **{field: value}))
        assert r.status_code == 422, (field, value)

    assert (await admin.get(BASE)).json()["items"] == [
        (await admin.get(f"{BASE}/{same_day['id']}")).json()
    ]


@pytest.mark.parametrize(
    "extra",
    [{"status": "validated"}, {"status": "planned"}, {"priority": 1}, {"id": str(uuid.uuid4())}],
)
async def test_unknown_and_read_only_fields_are_422(
    admin: httpx.AsyncClient, community: dict[str, Any], extra: dict[str, Any]
) -> None:
    r = await admin.post(BASE, json=assessment_body(community["id"], **extra))
    assert r.status_code == 422, r.text
    created = await create_assessment(admin, community["id"])
    r = await admin.patch(f"{BASE}/{created['id']}", json=extra)
    assert r.status_code == 422, r.text
    assert (await admin.get(f"{BASE}/{created['id']}")).json()["status"] == "planned"


async def test_list_filters(
    admin: httpx.AsyncClient,
    make_community: MakeCommunity,
    make_user: MakeUser,
) -> None:
    c1, c2 = await make_community(), await make_community()
    fac = await make_user(Role.facilitator, communities=[uuid.UUID(c1["id"])])
    a1 = await create_assessment(
        admin, c1["id"], methods=["survey"], started_on="2026-01-10", facilitator_id=str(fac.id)
    )
    a2 = await create_assessment(admin, c1["id"], methods=["interview", "survey"])
    a3 = await create_assessment(
        admin, c2["id"], methods=["transect_walk"], started_on="2026-03-01"
    )
    await move_ok(admin, a2["id"], "in_progress")  # started_on = today (after March 2026)
    a2_started = (await admin.get(f"{BASE}/{a2['id']}")).json()["started_on"]
    assert date.fromisoformat(a2_started) > date(2026, 3, 31)

    async def ids(**params: Any) -> list[str]:
        r = await admin.get(BASE, params=params)
        assert r.status_code == 200, r.text
        return sorted(i["id"] for i in r.json()["items"])

    def s(*items: dict[str, Any]) -> list[str]:
        return sorted(i["id"] for i in items)

    assert await ids() == s(a1, a2, a3)
    assert await ids(community_id=c1["id"]) == s(a1, a2)
    assert await ids(community_id=c2["id"]) == s(a3)
    assert await ids(status="in_progress") == s(a2)
    assert await ids(status="planned") == s(a1, a3)
    assert await ids(status="validated") == []
    assert await ids(method="survey") == s(a1, a2)
    assert await ids(method="transect_walk") == s(a3)
    assert await ids(method="observation") == []
    assert await ids(facilitator_id=str(fac.id)) == s(a1)
    assert await ids(started_from="2026-02-01", started_to="2026-03-31") == s(a3)
    assert await ids(started_to="2026-01-10") == s(a1)
    assert await ids(started_from="2026-01-10", started_to="2026-03-01") == s(a1, a3)
    assert await ids(started_from="2026-01-11", community_id=c1["id"]) == s(a2)
    for bad in ({"status": "done"}, {"method": "dance"}, {"started_from": "yesterday"}):
        assert (await admin.get(BASE, params=bad)).status_code == 422


async def test_list_keyset_paging(admin: httpx.AsyncClient, community: dict[str, Any]) -> None:
    created = [
        (await create_assessment(admin, community["id"], title=f"Kajian {i:02d}"))["id"]
        for i in range(7)
    ]
    for sort in ("created_at", "-created_at", "title", "-updated_at"):
        seen: list[str] = []
        sizes = []
        params: dict[str, Any] = {"limit": 3, "sort": sort}
        while True:
            r = await admin.get(BASE, params=params)
            assert r.status_code == 200, r.text
            page = r.json()
            seen += [i["id"] for i in page["items"]]
            sizes.append(len(page["items"]))
            if not page["next_cursor"]:
                assert "Link" not in r.headers
                break
            assert 'rel="next"' in r.headers["Link"]
            params["cursor"] = page["next_cursor"]
        assert sizes == [3, 3, 1], sort
        assert len(set(seen)) == 7
        assert set(seen) == set(created)
        if sort == "created_at":
            assert seen == created
        if sort == "-created_at":
            assert seen == created[::-1]


# --- lifecycle --------------------------------------------------------------------------------


async def _ready_for_validation(
    client: httpx.AsyncClient, assessment_id: str, community_id: str
) -> None:
    finding = await add_finding(client, assessment_id)
    person = await make_person(client, community_id)
    r = await cast(client, assessment_id, person["id"], [finding["id"]])
    assert r.status_code == 201, r.text


async def _at_status(client: httpx.AsyncClient, community_id: str, status: str) -> dict[str, Any]:
    created = await create_assessment(client, community_id)
    paths = {
        "planned": [],
        "in_progress": ["in_progress"],
        "completed": ["in_progress", "completed"],
        "validated": ["in_progress", "completed", "validated"],
        "cancelled": ["cancelled"],
    }
    if status == "validated":
        await _ready_for_validation(client, created["id"], community_id)
    if paths[status]:
        return await move_ok(client, created["id"], *paths[status])
    return created


@pytest.mark.parametrize("start", ALL_STATUSES)
@pytest.mark.parametrize("target", ALL_STATUSES)
async def test_every_transition(
    admin: httpx.AsyncClient, community: dict[str, Any], start: str, target: str
) -> None:
    item = await _at_status(admin, community["id"], start)
    assert item["status"] == start
    if target == "validated" and start == "completed":
        await _ready_for_validation(admin, item["id"], community["id"])
    r = await move(admin, item["id"], target)
    legal = target in ASSESSMENT_MACHINE[start]
    expected_legal = {
        ("planned", "in_progress"),
        ("in_progress", "completed"),
        ("completed", "validated"),
        ("planned", "cancelled"),
        ("in_progress", "cancelled"),
        ("completed", "cancelled"),
    }
    assert legal == ((start, target) in expected_legal)
    if legal:
        assert r.status_code == 200, r.text
        assert r.json()["status"] == target
    else:
        assert r.status_code == 409, r.text
        problem = r.json()
        assert r.headers["content-type"].startswith("application/problem+json")
        assert problem["status"] == 409
        assert problem["allowed"] == sorted(ASSESSMENT_MACHINE[start])
        assert (await admin.get(f"{BASE}/{item['id']}")).json()["status"] == start


async def test_illegal_transition_problems(
    admin: httpx.AsyncClient, community: dict[str, Any]
) -> None:
    item = await create_assessment(admin, community["id"])
    r = await move(admin, item["id"], "completed")
    assert r.status_code == 409
    assert r.json()["allowed"] == ["cancelled", "in_progress"]
    r = await move(admin, item["id"], "validated")
    assert r.status_code == 409
    assert r.json()["allowed"] == ["cancelled", "in_progress"]

    r = await move(admin, item["id"], "finished")
    assert r.status_code == 422
    assert ["body", "to"] in locs(r)
    r = await admin.post(f"{BASE}/{item['id']}/transitions", json={})
    assert r.status_code == 422
    r = await admin.post(
        f"{BASE}/{item['id']}/transitions", json={"to": "in_progress", "status": "x"}
    )
    assert r.status_code == 422

    await move_ok(admin, item["id"], "cancelled")
    for target in ALL_STATUSES:
        r = await move(admin, item["id"], target)
        assert r.status_code == 409
        assert r.json()["allowed"] == []
    r = await move(admin, str(uuid.uuid4()), "in_progress")
    assert r.status_code == 404


async def test_transition_dates_set_when_absent_kept_when_present(
    admin: httpx.AsyncClient, community: dict[str, Any]
) -> None:
    today = datetime.now(UTC).date().isoformat()
    bare = await create_assessment(admin, community["id"])
    assert bare["started_on"] is None and bare["completed_on"] is None
    started = await move_ok(admin, bare["id"], "in_progress")
    assert started["started_on"] == today
    assert started["completed_on"] is None
    done = await move_ok(admin, bare["id"], "completed")
    assert done["started_on"] == today
    assert done["completed_on"] == today

    dated = await create_assessment(
        admin, community["id"], started_on="2025-07-01", completed_on="2025-07-20"
    )
    started = await move_ok(admin, dated["id"], "in_progress")
    assert started["started_on"] == "2025-07-01"
    done = await move_ok(admin, dated["id"], "completed")
    assert (done["started_on"], done["completed_on"]) == ("2025-07-01", "2025-07-20")

    # Cancelling never invents dates.
    cancelled = await move_ok(
        admin, (await create_assessment(admin, community["id"]))["id"], "cancelled"
    )
    assert cancelled["started_on"] is None and cancelled["completed_on"] is None


async def test_transitions_write_history_and_audit(
    admin: httpx.AsyncClient, community: dict[str, Any], raw_db: asyncpg.Pool
) -> None:
    item = await create_assessment(admin, community["id"])
    await _ready_for_validation(admin, item["id"], community["id"])
    r = await admin.post(
        f"{BASE}/{item['id']}/transitions", json={"to": "in_progress", "note": "mulai"}
    )
    assert r.status_code == 200
    await move_ok(admin, item["id"], "completed", "validated")
    # Refused moves leave no trace.
    assert (await move(admin, item["id"], "cancelled")).status_code == 409

    rows = await raw_db.fetch(
        "SELECT * FROM status_transitions WHERE resource_id = $1 ORDER BY at, id",
        uuid.UUID(item["id"]),
    )
    assert [(r["from_status"], r["to_status"]) for r in rows] == [
        ("planned", "in_progress"),
        ("in_progress", "completed"),
        ("completed", "validated"),
    ]
    assert {r["resource"] for r in rows} == {"needs_assessments"}
    assert rows[0]["note"] == "mulai"
    assert all(r["actor_id"] is not None for r in rows)

    events = await raw_db.fetch(
        "SELECT * FROM audit_events WHERE resource_id = $1 AND action = 'transition' "
        "ORDER BY at, id",
        uuid.UUID(item["id"]),
    )
    assert [e["note"] for e in events] == [
        "planned->in_progress",
        "in_progress->completed",
        "completed->validated",
    ]
    assert all(e["changed_fields"] == ["status"] for e in events)
    assert all(e["resource"] == "needs_assessments" for e in events)
    assert {e["actor_id"] for e in events} == {rows[0]["actor_id"]}

    version = await raw_db.fetchval(
        "SELECT version FROM needs_assessments WHERE id = $1", uuid.UUID(item["id"])
    )
    assert version == 4


async def test_transition_if_match(admin: httpx.AsyncClient, community: dict[str, Any]) -> None:
    item = await create_assessment(admin, community["id"])
    r = await move(admin, item["id"], "in_progress", headers={"If-Match": '"7"'})
    assert r.status_code == 412
    assert r.headers["ETag"] == '"1"'
    assert (await admin.get(f"{BASE}/{item['id']}")).json()["status"] == "planned"
    r = await move(admin, item["id"], "in_progress", headers={"If-Match": '"1"'})
    assert r.status_code == 200
    assert r.headers["ETag"] == '"2"'
    r = await move(admin, item["id"], "completed", headers={"If-Match": '"1"'})
    assert r.status_code == 412


async def test_validation_needs_a_finding_and_a_ballot(
    admin: httpx.AsyncClient, community: dict[str, Any]
) -> None:
    item = await create_assessment(admin, community["id"])
    await move_ok(admin, item["id"], "in_progress", "completed")
    r = await move(admin, item["id"], "validated")
    assert r.status_code == 409
    assert "finding" in r.json()["detail"]

    finding = await add_finding(admin, item["id"])
    r = await move(admin, item["id"], "validated")
    assert r.status_code == 409  # a finding but no ballot

    person = await make_person(admin, community["id"])
    assert (await cast(admin, item["id"], person["id"], [finding["id"]])).status_code == 201
    r = await admin.delete(f"{BASE}/{item['id']}/ballots/{person['id']}")
    assert r.status_code == 204
    assert (await move(admin, item["id"], "validated")).status_code == 409  # withdrawn

    assert (await cast(admin, item["id"], person["id"], [finding["id"]])).status_code == 201
    r = await admin.delete(f"{BASE}/{item['id']}/findings/{finding['id']}")
    assert r.status_code == 204
    assert (await move(admin, item["id"], "validated")).status_code == 409  # finding deleted

    await add_finding(admin, item["id"], title="Jalan rusak", category="infrastructure")
    r = await move(admin, item["id"], "validated")
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "validated"


async def test_validated_freezes_findings_and_closes_ballots(
    admin: httpx.AsyncClient, community: dict[str, Any]
) -> None:
    item = await create_assessment(admin, community["id"])
    f1 = await add_finding(admin, item["id"], severity=3)
    f2 = await add_finding(admin, item["id"], kind="need", title="Posyandu", severity=2)
    voter = await make_person(admin, community["id"])
    late = await make_person(admin, community["id"], name="Budi")
    assert (await cast(admin, item["id"], voter["id"], [f1["id"], f2["id"]])).status_code == 201
    await move_ok(admin, item["id"], "in_progress", "completed", "validated")

    findings_url = f"{BASE}/{item['id']}/findings"
    r = await admin.post(findings_url, json={"kind": "need", "category": "health", "title": "X"})
    assert r.status_code == 409
    r = await admin.patch(f"{findings_url}/{f1['id']}", json={"title": "Y"})
    assert r.status_code == 409
    r = await admin.patch(f"{findings_url}/{f1['id']}", json={"severity": 5})
    assert r.status_code == 409
    r = await admin.delete(f"{findings_url}/{f1['id']}")
    assert r.status_code == 409
    assert (await cast(admin, item["id"], late["id"], [f1["id"]])).status_code == 409
    r = await admin.delete(f"{BASE}/{item['id']}/ballots/{voter['id']}")
    assert r.status_code == 409
    r = await admin.patch(f"{BASE}/{item['id']}", json={"summary": "late"})
    assert r.status_code == 409

    after = await all_findings(admin, item["id"])
    assert {f["id"]: (f["title"], f["severity"]) for f in after} == {
        f1["id"]: (f1["title"], 3),
        f2["id"]: ("Posyandu", 2),
    }
    assert (await priorities(admin, item["id"]))["ballots"] == 1


async def test_cancelled_closes_ballots(
    admin: httpx.AsyncClient, community: dict[str, Any]
) -> None:
    item = await create_assessment(admin, community["id"])
    f1 = await add_finding(admin, item["id"])
    voter = await make_person(admin, community["id"])
    assert (await cast(admin, item["id"], voter["id"], [f1["id"]])).status_code == 201
    await move_ok(admin, item["id"], "cancelled")
    other = await make_person(admin, community["id"], name="Budi")
    assert (await cast(admin, item["id"], other["id"], [f1["id"]])).status_code == 409
    r = await admin.delete(f"{BASE}/{item['id']}/ballots/{voter['id']}")
    assert r.status_code == 409
    r = await admin.post(
        f"{BASE}/{item['id']}/findings", json={"kind": "need", "category": "health", "title": "X"}
    )
    assert r.status_code == 409


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


# --- the modified Borda count -----------------------------------------------------------------

# Findings (kind, severity, title); created in the order F, E, D, C, B, A, G, P so that
# creation order / time-ordered ids never explain the expected order.
BORDA_FINDINGS = {
    "A": ("problem", 2, "Akses air bersih"),
    "B": ("need", 5, "Bidan desa tidak ada"),
    "C": ("problem", 3, "Cuci tangan pakai sabun"),
    "D": ("need", 5, "Drainase tersumbat"),
    "E": ("problem", 4, "Embung kering"),
    "F": ("need", 4, "Fasilitas posyandu rusak"),
    "G": ("problem", 1, "Gizi balita"),
}
# Ballots (a ballot ranking k findings gives k points to the first ... 1 to the last):
#   1. [A, E, F]  A 3, E 2, F 1
#   2. [B, F, E]  B 3, F 2, E 1
#   3. [C, D]     C 2, D 1
#   4. [D, C, B]  D 3, C 2, B 1
#   5. [A, B]     A 2, B 1
# Totals            points  votes  first places  severity
#   A = 3+2         5       2      2 (b1, b5)    2
#   B = 3+1+1       5       3      1 (b2)        5
#   C = 2+2         4       2      1 (b3)        3
#   D = 1+3         4       2      1 (b4)        5
#   E = 2+1         3       2      0             4
#   F = 1+2         3       2      0             4
#   G               0       0      0             1   (nobody ranked it)
# Order: A before B (tie on 5 points, A has more first places although B is more severe);
# D before C (tie on 4 points and 1 first place, D more severe although C's title sorts
# first); E before F (tie on points, first places and severity: title); then G.
# The potential finding P is never ranked and never listed.
BORDA_BALLOTS = [["A", "E", "F"], ["B", "F", "E"], ["C", "D"], ["D", "C", "B"], ["A", "B"]]
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


async def _borda_setup(
    client: httpx.AsyncClient, community_id: str
) -> tuple[str, dict[str, str], str, list[str]]:
    item = await create_assessment(client, community_id)
    aid = item["id"]
    ids: dict[str, str] = {}
    categories = ["health", "economy", "infrastructure", "environment", "social", "education"]
    for i, letter in enumerate(["F", "E", "D", "C", "B", "A", "G"]):
        kind, severity, title = BORDA_FINDINGS[letter]
        f = await add_finding(
            client,
            aid,
            kind=kind,
            title=title,
            severity=severity,
            category=categories[i % len(categories)],
        )
        ids[letter] = f["id"]
    potential = await add_finding(
        client, aid, kind="potential", category="social", title="Gotong royong kuat"
    )
    voters = []
    for n, ballot in enumerate(BORDA_BALLOTS, start=1):
        person = await make_person(client, community_id, name=f"Warga {n}")
        voters.append(person["id"])
        r = await cast(client, aid, person["id"], [ids[x] for x in ballot])
        assert r.status_code == 201, r.text
    return aid, ids, potential["id"], voters


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
    aid, ids, potential_id, voters = await _borda_setup(admin, community["id"])

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


# --- scoping ----------------------------------------------------------------------------------


async def test_facilitator_of_another_community_gets_404(
    admin: httpx.AsyncClient,
    make_user: MakeUser,
    as_user: AsUser,
    community: dict[str, Any],
    other_community: dict[str, Any],
) -> None:
    aid, ids, _, voters = await _borda_setup(admin, community["id"])
    outsider = as_user(
        await make_user(Role.facilitator, communities=[uuid.UUID(other_community["id"])])
    )
    assert (await outsider.get(f"{BASE}/{aid}")).status_code == 404
    assert (await outsider.get(f"{BASE}/{aid}/findings")).status_code == 404
    assert (await outsider.get(f"{BASE}/{aid}/findings/{ids['A']}")).status_code == 404
    assert (await outsider.get(f"{BASE}/{aid}/ballots")).status_code == 404
    assert (await outsider.get(f"{BASE}/{aid}/priorities")).status_code == 404
    assert (await move(outsider, aid, "in_progress")).status_code == 404
    assert (await outsider.patch(f"{BASE}/{aid}", json={"title": "x"})).status_code == 404
    assert (await outsider.delete(f"{BASE}/{aid}")).status_code == 404
    r = await outsider.post(
        f"{BASE}/{aid}/findings", json={"kind": "need", "category": "health", "title": "x"}
    )
    assert r.status_code == 404
    r = await outsider.patch(f"{BASE}/{aid}/findings/{ids['A']}", json={"title": "x"})
    assert r.status_code == 404
    assert (await cast(outsider, aid, voters[0], [ids["A"]])).status_code == 404
    r = await outsider.delete(f"{BASE}/{aid}/ballots/{voters[0]}")
    assert r.status_code == 404
    assert (await outsider.get(BASE)).json()["items"] == []
    # Nor may they plan one in a community that is not theirs.
    r = await outsider.post(BASE, json=assessment_body(community["id"]))
    assert r.status_code == 422
    assert (await admin.get(f"{BASE}/{aid}")).json()["status"] == "planned"


async def test_assigned_facilitator_runs_an_assessment(
    admin: httpx.AsyncClient,
    as_user: AsUser,
    facilitator_user: Any,
    community: dict[str, Any],
) -> None:
    fac = as_user(facilitator_user)
    item = await create_assessment(fac, community["id"], facilitator_id=str(facilitator_user.id))
    r = await fac.patch(f"{BASE}/{item['id']}", json={"summary": "Catatan lapangan"})
    assert r.status_code == 200 and r.json()["summary"] == "Catatan lapangan"
    finding = await add_finding(fac, item["id"], severity=4)
    r = await fac.patch(f"{BASE}/{item['id']}/findings/{finding['id']}", json={"severity": 5})
    assert r.status_code == 200
    person = await make_person(fac, community["id"])
    r = await cast(fac, item["id"], person["id"], [finding["id"]])
    assert r.status_code == 201
    assert r.json()["person_id"] == person["id"]
    await move_ok(fac, item["id"], "in_progress", "completed", "validated")
    assert [i["id"] for i in (await fac.get(BASE)).json()["items"]] == [item["id"]]
    assert (await admin.get(f"{BASE}/{item['id']}")).json()["status"] == "validated"


async def test_analyst_reads_but_never_writes(
    admin: httpx.AsyncClient, analyst: httpx.AsyncClient, community: dict[str, Any]
) -> None:
    aid, ids, _, voters = await _borda_setup(admin, community["id"])
    assert (await analyst.get(f"{BASE}/{aid}")).status_code == 200
    assert len((await analyst.get(BASE)).json()["items"]) == 1
    assert len((await analyst.get(f"{BASE}/{aid}/findings")).json()["items"]) == 8
    assert (await analyst.get(f"{BASE}/{aid}/priorities")).json()["ballots"] == 5

    r = await analyst.get(f"{BASE}/{aid}/ballots")
    assert r.status_code == 200
    ballots = r.json()["items"]
    assert len(ballots) == 5
    assert all(b["person_id"] is None for b in ballots)
    assert all(b["person_key"] for b in ballots)
    assert len({b["person_key"] for b in ballots}) == 5
    assert not set(voters) & {b["person_key"] for b in ballots}
    admin_view = (await admin.get(f"{BASE}/{aid}/ballots")).json()["items"]
    assert [b["person_key"] for b in admin_view] == [b["person_key"] for b in ballots]
    assert {b["person_id"] for b in admin_view} == set(voters)

    writes = [
        await analyst.post(BASE, json=assessment_body(community["id"])),
        await analyst.patch(f"{BASE}/{aid}", json={"title": "x"}),
        await move(analyst, aid, "in_progress"),
        await move(analyst, aid, "cancelled"),
        await analyst.post(
            f"{BASE}/{aid}/findings", json={"kind": "need", "category": "health", "title": "x"}
        ),
        await analyst.patch(f"{BASE}/{aid}/findings/{ids['A']}", json={"title": "x"}),
        await analyst.delete(f"{BASE}/{aid}/findings/{ids['A']}"),
        await cast(analyst, aid, voters[0], [ids["A"]]),
        await analyst.delete(f"{BASE}/{aid}/ballots/{voters[0]}"),
        await analyst.delete(f"{BASE}/{aid}"),
    ]
    assert [w.status_code for w in writes] == [403] * len(writes), [w.text for w in writes]
    assert (await admin.get(f"{BASE}/{aid}")).json()["title"] == "Kajian kebutuhan air bersih"
    assert (await priorities(admin, aid))["ballots"] == 5


async def test_partner_sees_no_assessment(
    admin: httpx.AsyncClient, make_user: MakeUser, as_user: AsUser, community: dict[str, Any]
) -> None:
    aid, ids, _, _ = await _borda_setup(admin, community["id"])
    partner = as_user(await make_user(Role.partner))
    r = await partner.get(BASE)
    assert r.status_code == 200
    assert r.json()["items"] == []
    assert (await partner.get(f"{BASE}/{aid}")).status_code == 404
    assert (await partner.get(f"{BASE}/{aid}/findings")).status_code == 404
    assert (await partner.get(f"{BASE}/{aid}/findings/{ids['A']}")).status_code == 404
    assert (await partner.get(f"{BASE}/{aid}/ballots")).status_code == 404
    assert (await partner.get(f"{BASE}/{aid}/priorities")).status_code == 404
    assert (await move(partner, aid, "cancelled")).status_code == 404


async def test_unauthenticated_is_401(
    client: httpx.AsyncClient, assessment: dict[str, Any]
) -> None:
    assert (await client.get(BASE)).status_code == 401
    assert (await client.get(f"{BASE}/{assessment['id']}/priorities")).status_code == 401


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


def test_machine_is_the_documented_one() -> None:
    assert {
        "planned": {"in_progress", "cancelled"},
        "in_progress": {"completed", "cancelled"},
        "completed": {"validated", "cancelled"},
        "validated": set(),
        "cancelled": set(),
    } == ASSESSMENT_MACHINE
