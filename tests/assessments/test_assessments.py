"""Needs assessments: CRUD and validation, the status lifecycle (dates, history, If-Match,
what validation needs and freezes), scoping by role and community."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

import asyncpg
import httpx
import pytest

from app.assessments.models import ASSESSMENT_MACHINE
from app.auth.models import Role
from tests.factories import (
    ASSESSMENTS,
    AsUser,
    MakeCommunity,
    MakeUser,
    add_finding,
    assessment_body,
    borda_setup,
    cast,
    create_assessment,
    make_person,
    move,
    move_ok,
)
from tests.helpers import all_findings, locs, priorities

BASE = ASSESSMENTS

ALL_STATUSES = ["planned", "in_progress", "completed", "validated", "cancelled"]


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
    await move_ok(admin, BASE, a2["id"], "in_progress")  # started_on = today (after March 2026)
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
        return await move_ok(client, BASE, created["id"], *paths[status])
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
    r = await move(admin, BASE, item["id"], target)
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
    r = await move(admin, BASE, item["id"], "completed")
    assert r.status_code == 409
    assert r.json()["allowed"] == ["cancelled", "in_progress"]
    r = await move(admin, BASE, item["id"], "validated")
    assert r.status_code == 409
    assert r.json()["allowed"] == ["cancelled", "in_progress"]

    r = await move(admin, BASE, item["id"], "finished")
    assert r.status_code == 422
    assert ["body", "to"] in locs(r)
    r = await admin.post(f"{BASE}/{item['id']}/transitions", json={})
    assert r.status_code == 422
    r = await admin.post(
        f"{BASE}/{item['id']}/transitions", json={"to": "in_progress", "status": "x"}
    )
    assert r.status_code == 422

    await move_ok(admin, BASE, item["id"], "cancelled")
    for target in ALL_STATUSES:
        r = await move(admin, BASE, item["id"], target)
        assert r.status_code == 409
        assert r.json()["allowed"] == []
    r = await move(admin, BASE, str(uuid.uuid4()), "in_progress")
    assert r.status_code == 404


async def test_transition_dates_set_when_absent_kept_when_present(
    admin: httpx.AsyncClient, community: dict[str, Any]
) -> None:
    today = datetime.now(UTC).date().isoformat()
    bare = await create_assessment(admin, community["id"])
    assert bare["started_on"] is None and bare["completed_on"] is None
    started = await move_ok(admin, BASE, bare["id"], "in_progress")
    assert started["started_on"] == today
    assert started["completed_on"] is None
    done = await move_ok(admin, BASE, bare["id"], "completed")
    assert done["started_on"] == today
    assert done["completed_on"] == today

    dated = await create_assessment(
        admin, community["id"], started_on="2025-07-01", completed_on="2025-07-20"
    )
    started = await move_ok(admin, BASE, dated["id"], "in_progress")
    assert started["started_on"] == "2025-07-01"
    done = await move_ok(admin, BASE, dated["id"], "completed")
    assert (done["started_on"], done["completed_on"]) == ("2025-07-01", "2025-07-20")

    # Cancelling never invents dates.
    cancelled = await move_ok(
        admin, BASE, (await create_assessment(admin, community["id"]))["id"], "cancelled"
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
    await move_ok(admin, BASE, item["id"], "completed", "validated")
    # Refused moves leave no trace.
    assert (await move(admin, BASE, item["id"], "cancelled")).status_code == 409

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
    r = await move(admin, BASE, item["id"], "in_progress", headers={"If-Match": '"7"'})
    assert r.status_code == 412
    assert r.headers["ETag"] == '"1"'
    assert (await admin.get(f"{BASE}/{item['id']}")).json()["status"] == "planned"
    r = await move(admin, BASE, item["id"], "in_progress", headers={"If-Match": '"1"'})
    assert r.status_code == 200
    assert r.headers["ETag"] == '"2"'
    r = await move(admin, BASE, item["id"], "completed", headers={"If-Match": '"1"'})
    assert r.status_code == 412


async def test_validation_needs_a_finding_and_a_ballot(
    admin: httpx.AsyncClient, community: dict[str, Any]
) -> None:
    item = await create_assessment(admin, community["id"])
    await move_ok(admin, BASE, item["id"], "in_progress", "completed")
    r = await move(admin, BASE, item["id"], "validated")
    assert r.status_code == 409
    assert "finding" in r.json()["detail"]

    finding = await add_finding(admin, item["id"])
    r = await move(admin, BASE, item["id"], "validated")
    assert r.status_code == 409  # a finding but no ballot

    person = await make_person(admin, community["id"])
    assert (await cast(admin, item["id"], person["id"], [finding["id"]])).status_code == 201
    r = await admin.delete(f"{BASE}/{item['id']}/ballots/{person['id']}")
    assert r.status_code == 204
    assert (await move(admin, BASE, item["id"], "validated")).status_code == 409  # withdrawn

    assert (await cast(admin, item["id"], person["id"], [finding["id"]])).status_code == 201
    r = await admin.delete(f"{BASE}/{item['id']}/findings/{finding['id']}")
    assert r.status_code == 204
    assert (await move(admin, BASE, item["id"], "validated")).status_code == 409  # finding deleted

    await add_finding(admin, item["id"], title="Jalan rusak", category="infrastructure")
    r = await move(admin, BASE, item["id"], "validated")
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
    await move_ok(admin, BASE, item["id"], "in_progress", "completed", "validated")

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
    await move_ok(admin, BASE, item["id"], "cancelled")
    other = await make_person(admin, community["id"], name="Budi")
    assert (await cast(admin, item["id"], other["id"], [f1["id"]])).status_code == 409
    r = await admin.delete(f"{BASE}/{item['id']}/ballots/{voter['id']}")
    assert r.status_code == 409
    r = await admin.post(
        f"{BASE}/{item['id']}/findings", json={"kind": "need", "category": "health", "title": "X"}
    )
    assert r.status_code == 409


def test_machine_is_the_documented_one() -> None:
    assert {
        "planned": {"in_progress", "cancelled"},
        "in_progress": {"completed", "cancelled"},
        "completed": {"validated", "cancelled"},
        "validated": set(),
        "cancelled": set(),
    } == ASSESSMENT_MACHINE


# --- scoping ----------------------------------------------------------------------------------


async def test_facilitator_of_another_community_gets_404(
    admin: httpx.AsyncClient,
    make_user: MakeUser,
    as_user: AsUser,
    community: dict[str, Any],
    other_community: dict[str, Any],
) -> None:
    aid, ids, _, voters = await borda_setup(admin, community["id"])
    outsider = as_user(
        await make_user(Role.facilitator, communities=[uuid.UUID(other_community["id"])])
    )
    assert (await outsider.get(f"{BASE}/{aid}")).status_code == 404
    assert (await outsider.get(f"{BASE}/{aid}/findings")).status_code == 404
    assert (await outsider.get(f"{BASE}/{aid}/findings/{ids['A']}")).status_code == 404
    assert (await outsider.get(f"{BASE}/{aid}/ballots")).status_code == 404
    assert (await outsider.get(f"{BASE}/{aid}/priorities")).status_code == 404
    assert (await move(outsider, BASE, aid, "in_progress")).status_code == 404
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
    await move_ok(fac, BASE, item["id"], "in_progress", "completed", "validated")
    assert [i["id"] for i in (await fac.get(BASE)).json()["items"]] == [item["id"]]
    assert (await admin.get(f"{BASE}/{item['id']}")).json()["status"] == "validated"


async def test_analyst_reads_but_never_writes(
    admin: httpx.AsyncClient, analyst: httpx.AsyncClient, community: dict[str, Any]
) -> None:
    aid, ids, _, voters = await borda_setup(admin, community["id"])
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
        await move(analyst, BASE, aid, "in_progress"),
        await move(analyst, BASE, aid, "cancelled"),
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
    aid, ids, _, _ = await borda_setup(admin, community["id"])
    partner = as_user(await make_user(Role.partner))
    r = await partner.get(BASE)
    assert r.status_code == 200
    assert r.json()["items"] == []
    assert (await partner.get(f"{BASE}/{aid}")).status_code == 404
    assert (await partner.get(f"{BASE}/{aid}/findings")).status_code == 404
    assert (await partner.get(f"{BASE}/{aid}/findings/{ids['A']}")).status_code == 404
    assert (await partner.get(f"{BASE}/{aid}/ballots")).status_code == 404
    assert (await partner.get(f"{BASE}/{aid}/priorities")).status_code == 404
    assert (await move(partner, BASE, aid, "cancelled")).status_code == 404


async def test_unauthenticated_is_401(
    client: httpx.AsyncClient, assessment: dict[str, Any]
) -> None:
    assert (await client.get(BASE)).status_code == 401
    assert (await client.get(f"{BASE}/{assessment['id']}/priorities")).status_code == 401
