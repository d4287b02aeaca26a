"""Programs: the lifecycle and who may move it, role rules on every sub-resource, code
generation under concurrency, the budget sum, link rules, closed programs, the KAK in both
languages and formats, scoping, filters, paging, ETags, soft delete and audit."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from app.auth.models import Role
from app.programs.models import PROGRAM_MACHINE

BASE = "/api/v1/programs"
ASSESSMENTS = "/api/v1/needs-assessments"
PEOPLE = "/api/v1/people"

MakeCommunity = Callable[..., Awaitable[dict[str, Any]]]
MakeUser = Callable[..., Awaitable[Any]]
AsUser = Callable[[Any], httpx.AsyncClient]

ALL_STATUSES = ["draft", "submitted", "approved", "active", "completed", "cancelled"]
PATH_TO = {
    "draft": [],
    "submitted": ["submitted"],
    "approved": ["submitted", "approved"],
    "active": ["submitted", "approved", "active"],
    "completed": ["submitted", "approved", "active", "completed"],
    "cancelled": ["cancelled"],
}
SECTION_KEYS = [
    "background",
    "objectives",
    "beneficiaries",
    "indicators",
    "method",
    "implementers",
    "schedule",
    "budget",
    "location",
]
HEADINGS_ID = [
    "Latar Belakang",
    "Maksud dan Tujuan",
    "Penerima Manfaat",
    "Indikator Keluaran dan Keluaran",
    "Cara Pelaksanaan",
    "Pelaksana dan Penanggung Jawab",
    "Jadwal Kegiatan",
    "Biaya",
    "Lokasi",
]
HEADINGS_EN = [
    "Background",
    "Purpose and Objectives",
    "Beneficiaries",
    "Output Indicators and Outputs",
    "Implementation Method",
    "Implementers and Responsible Parties",
    "Activity Schedule",
    "Budget",
    "Location",
]


# --- helpers ----------------------------------------------------------------------------------


def locs(response: httpx.Response) -> list[list[Any]]:
    return [issue["loc"] for issue in response.json().get("errors") or []]


def named(response: httpx.Response, field: str) -> bool:
    return any(field in loc for loc in locs(response))


async def create_program(
    client: httpx.AsyncClient, community_ids: list[str], **overrides: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "title": "Penguatan BUMDes Air Bersih",
        "community_ids": community_ids,
    }
    body.update(overrides)
    r = await client.post(BASE, json=body)
    assert r.status_code == 201, r.text
    created: dict[str, Any] = r.json()
    return created


async def move(
    client: httpx.AsyncClient,
    program_id: str,
    to: str,
    note: str | None = None,
    **kw: Any,
) -> httpx.Response:
    body: dict[str, Any] = {"to": to}
    if note is not None:
        body["note"] = note
    return await client.post(f"{BASE}/{program_id}/transitions", json=body, **kw)


async def move_ok(client: httpx.AsyncClient, program_id: str, *path: str) -> dict[str, Any]:
    body: dict[str, Any] = {}
    for to in path:
        r = await move(client, program_id, to)
        assert r.status_code == 200, r.text
        body = r.json()
    return body


def activity_body(community_id: str, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "title": "Pelatihan pengelolaan keuangan",
        "kind": "training",
        "community_id": community_id,
        "scheduled_start": "2025-03-01T09:00:00+07:00",
        "scheduled_end": "2025-03-01T12:00:00+07:00",
        "location": "Balai Desa",
    }
    body.update(overrides)
    return body


INDICATOR = {"name": "Rumah tangga dengan akses air", "unit": "KK", "baseline": 10, "target": 80}


async def add(client: httpx.AsyncClient, url: str, body: dict[str, Any]) -> dict[str, Any]:
    r = await client.post(url, json=body)
    assert r.status_code == 201, r.text
    created: dict[str, Any] = r.json()
    return created


async def create_assessment(client: httpx.AsyncClient, community_id: str) -> dict[str, Any]:
    return await add(
        client,
        ASSESSMENTS,
        {"community_id": community_id, "title": "Kajian kebutuhan", "methods": ["survey"]},
    )


async def add_finding(
    client: httpx.AsyncClient, assessment_id: str, title: str, kind: str = "problem", **kw: Any
) -> dict[str, Any]:
    return await add(
        client,
        f"{ASSESSMENTS}/{assessment_id}/findings",
        {
            "kind": kind,
            "category": "health",
            "title": title,
            **({} if kind == "potential" else {"severity": 3}),
            **kw,
        },
    )


async def make_person(client: httpx.AsyncClient, community_id: str) -> dict[str, Any]:
    return await add(
        client,
        PEOPLE,
        {
            "community_id": community_id,
            "full_name": "Siti Aminah",
            "sex": "female",
            "consent_purposes": ["needs_assessment"],
        },
    )


async def audit_events(admin: httpx.AsyncClient, resource_id: str) -> list[dict[str, Any]]:
    r = await admin.get(
        "/api/v1/audit-events",
        params={"resource": "programs", "resource_id": resource_id, "limit": 500},
    )
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["items"]
    return items


async def collect(
    client: httpx.AsyncClient, url: str, params: dict[str, Any]
) -> tuple[list[str], int]:
    """Follow next_cursor to the end; returns the ids seen and the number of pages."""
    ids: list[str] = []
    pages = 0
    cursor: str | None = None
    while True:
        query = dict(params)
        if cursor:
            query["cursor"] = cursor
        r = await client.get(url, params=query)
        assert r.status_code == 200, r.text
        pages += 1
        body = r.json()
        ids += [item["id"] for item in body["items"]]
        cursor = body["next_cursor"]
        if cursor:
            assert 'rel="next"' in r.headers["link"]
        else:
            return ids, pages


@pytest.fixture
async def world(make_community: MakeCommunity, make_user: MakeUser, as_user: AsUser) -> Any:
    """Two communities in one program; a coordinator; facilitators of each and of a third."""
    a = await make_community(name="Desa Sukamaju")
    b = await make_community(name="Desa Cibodas", region_code="32.04.12.2002")
    other = await make_community(name="Desa Lain", region_code="33.01.01.2001")
    coordinator_user = await make_user(Role.coordinator)
    coord = as_user(coordinator_user)
    fac_a_user = await make_user(Role.facilitator, communities=[uuid.UUID(a["id"])])
    fac_other_user = await make_user(Role.facilitator, communities=[uuid.UUID(other["id"])])
    program = await create_program(
        coord,
        [a["id"], b["id"]],
        start_date="2025-01-01",
        end_date="2025-12-31",
        coordinator_id=str(coordinator_user.id),
    )

    class World:
        pass

    w = World()
    w.a, w.b, w.other = a, b, other  # type: ignore[attr-defined]
    w.coordinator_user, w.coord = coordinator_user, coord  # type: ignore[attr-defined]
    w.fac_a_user, w.fac_a = fac_a_user, as_user(fac_a_user)  # type: ignore[attr-defined]
    w.fac_other = as_user(fac_other_user)  # type: ignore[attr-defined]
    w.program = program  # type: ignore[attr-defined]
    w.pid = program["id"]  # type: ignore[attr-defined]
    return w


# --- lifecycle ----------------------------------------------------------------------------------


async def test_full_lifecycle_and_history_in_order(world: Any) -> None:
    pid = world.pid
    assert world.program["status"] == "draft"
    etag = None
    for to in ["submitted", "approved", "active", "completed"]:
        r = await move(world.coord, pid, to, note=f"ke {to}")
        assert r.status_code == 200, r.text
        assert r.json()["status"] == to
        assert r.headers["etag"] != etag
        etag = r.headers["etag"]
    got = await world.coord.get(f"{BASE}/{pid}")
    assert got.json()["status"] == "completed"

    history = await world.coord.get(f"{BASE}/{pid}/transitions")
    assert history.status_code == 200, history.text
    rows = history.json()
    assert [(h["from_status"], h["to_status"]) for h in rows] == [
        ("draft", "submitted"),
        ("submitted", "approved"),
        ("approved", "active"),
        ("active", "completed"),
    ]
    assert all(h["actor_id"] == str(world.coordinator_user.id) for h in rows)
    assert [h["note"] for h in rows] == ["ke submitted", "ke approved", "ke active", "ke completed"]
    times = [datetime.fromisoformat(h["at"]) for h in rows]
    assert times == sorted(times)
    # Readable by those who see the program (the facilitator of a program community).
    assert (await world.fac_a.get(f"{BASE}/{pid}/transitions")).json() == rows


async def test_rejection_needs_a_note(world: Any) -> None:
    pid = world.pid
    await move_ok(world.coord, pid, "submitted")
    missing = await move(world.coord, pid, "draft")
    assert missing.status_code == 422, missing.text
    assert named(missing, "note")
    blank = await move(world.coord, pid, "draft", note="   ")
    assert blank.status_code == 422, blank.text
    assert (await world.coord.get(f"{BASE}/{pid}")).json()["status"] == "submitted"

    ok = await move(world.coord, pid, "draft", note="Anggaran belum rinci")
    assert ok.status_code == 200, ok.text
    assert ok.json()["status"] == "draft"
    rows = (await world.coord.get(f"{BASE}/{pid}/transitions")).json()
    assert rows[-1]["from_status"] == "submitted"
    assert rows[-1]["to_status"] == "draft"
    assert rows[-1]["note"] == "Anggaran belum rinci"
    # Resubmitting after a rejection works.
    assert (await move(world.coord, pid, "submitted")).status_code == 200


@pytest.mark.parametrize("state", ["draft", "submitted", "approved", "active"])
async def test_cancel_from_every_open_state(world: Any, state: str) -> None:
    await move_ok(world.coord, world.pid, *PATH_TO[state])
    r = await move(world.coord, world.pid, "cancelled", note="Dana tidak turun")
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "cancelled"


async def test_every_illegal_move_is_409_naming_the_allowed_moves(
    world: Any, make_community: MakeCommunity
) -> None:
    for state in ALL_STATUSES:
        program = await create_program(world.coord, [world.a["id"]])
        await move_ok(world.coord, program["id"], *PATH_TO[state])
        for target in ALL_STATUSES:
            if target in PROGRAM_MACHINE[state]:
                continue
            r = await move(world.coord, program["id"], target, note="x")
            assert r.status_code == 409, (state, target, r.text)
            assert r.headers["content-type"].startswith("application/problem+json")
            assert r.json()["allowed"] == sorted(PROGRAM_MACHINE[state]), (state, target)
        assert (await world.coord.get(f"{BASE}/{program['id']}")).json()["status"] == state
    unknown = await move(world.coord, world.pid, "archived")
    assert unknown.status_code == 422
    assert named(unknown, "to")


async def test_status_is_only_changed_through_transitions(world: Any) -> None:
    r = await world.coord.patch(f"{BASE}/{world.pid}", json={"status": "approved"})
    assert r.status_code == 422
    r = await world.coord.post(
        BASE, json={"title": "X", "community_ids": [world.a["id"]], "status": "active"}
    )
    assert r.status_code == 422


# --- roles --------------------------------------------------------------------------------------


async def test_only_coordinator_or_admin_move_programs(
    world: Any, admin: httpx.AsyncClient, analyst: httpx.AsyncClient
) -> None:
    pid = world.pid
    for client in (world.fac_a, analyst):
        for to in ("submitted", "cancelled"):
            r = await move(client, pid, to)
            assert r.status_code == 403, r.text
    await move_ok(world.coord, pid, "submitted")
    for client in (world.fac_a, analyst):
        for to in ("approved", "draft", "cancelled"):
            r = await move(client, pid, to, note="tidak")
            assert r.status_code == 403, (to, r.text)
    assert (await world.coord.get(f"{BASE}/{pid}")).json()["status"] == "submitted"
    r = await move(admin, pid, "approved")
    assert r.status_code == 200, r.text
    # A coordinator approves too.
    other = await create_program(admin, [world.a["id"]])
    await move_ok(admin, other["id"], "submitted")
    assert (await move(world.coord, other["id"], "approved")).status_code == 200


async def test_analyst_is_refused_every_write(
    world: Any, analyst: httpx.AsyncClient, admin: httpx.AsyncClient
) -> None:
    pid = world.pid
    activity = await add(world.coord, f"{BASE}/{pid}/activities", activity_body(world.a["id"]))
    indicator = await add(world.coord, f"{BASE}/{pid}/indicators", INDICATOR)
    murl = f"{BASE}/{pid}/indicators/{indicator['id']}/measurements"
    measurement = await add(world.coord, murl, {"measured_on": "2025-02-01", "value": 12})
    line = await add(
        world.coord,
        f"{BASE}/{pid}/budget-lines",
        {"description": "Honor", "quantity": 2, "unit": "OJ", "unit_cost_amount": 1000},
    )
    # Reads are fine.
    assert (await analyst.get(f"{BASE}/{pid}")).status_code == 200
    assert (await analyst.get(f"{BASE}/{pid}/activities")).status_code == 200
    writes = [
        ("POST", BASE, {"title": "X", "community_ids": [world.a["id"]]}),
        ("PATCH", f"{BASE}/{pid}", {"title": "Y"}),
        ("DELETE", f"{BASE}/{pid}", None),
        ("POST", f"{BASE}/{pid}/transitions", {"to": "submitted"}),
        ("POST", f"{BASE}/{pid}/activities", activity_body(world.a["id"])),
        ("PATCH", f"{BASE}/{pid}/activities/{activity['id']}", {"title": "Y"}),
        ("DELETE", f"{BASE}/{pid}/activities/{activity['id']}", None),
        ("POST", f"{BASE}/{pid}/indicators", INDICATOR),
        ("PATCH", f"{BASE}/{pid}/indicators/{indicator['id']}", {"target": 90}),
        ("DELETE", f"{BASE}/{pid}/indicators/{indicator['id']}", None),
        ("POST", murl, {"measured_on": "2025-03-01", "value": 20}),
        ("PATCH", f"{murl}/{measurement['id']}", {"value": 21}),
        ("DELETE", f"{murl}/{measurement['id']}", None),
        (
            "POST",
            f"{BASE}/{pid}/budget-lines",
            {"description": "Honor", "quantity": 1, "unit": "OJ", "unit_cost_amount": 1},
        ),
        ("PATCH", f"{BASE}/{pid}/budget-lines/{line['id']}", {"quantity": 3}),
        ("DELETE", f"{BASE}/{pid}/budget-lines/{line['id']}", None),
        ("POST", f"{BASE}/{pid}/restore", None),
    ]
    for method, url, body in writes:
        r = await analyst.request(method, url, json=body)
        assert r.status_code == 403, (method, url, r.status_code, r.text)
    after = (await admin.get(f"{BASE}/{pid}")).json()
    assert after["title"] == world.program["title"]
    assert after["status"] == "draft"
    assert after["budget_amount"] == 2000


async def test_facilitator_runs_activities_and_measurements_only(world: Any) -> None:
    pid, fac = world.pid, world.fac_a
    indicator = await add(world.coord, f"{BASE}/{pid}/indicators", INDICATOR)
    line = await add(
        world.coord,
        f"{BASE}/{pid}/budget-lines",
        {"description": "Honor", "quantity": 2, "unit": "OJ", "unit_cost_amount": 1000},
    )
    refused = [
        ("POST", BASE, {"title": "X", "community_ids": [world.a["id"]]}),
        ("PATCH", f"{BASE}/{pid}", {"title": "Y"}),
        ("DELETE", f"{BASE}/{pid}", None),
        ("POST", f"{BASE}/{pid}/indicators", INDICATOR),
        ("PATCH", f"{BASE}/{pid}/indicators/{indicator['id']}", {"target": 90}),
        ("DELETE", f"{BASE}/{pid}/indicators/{indicator['id']}", None),
        (
            "POST",
            f"{BASE}/{pid}/budget-lines",
            {"description": "Honor", "quantity": 1, "unit": "OJ", "unit_cost_amount": 1},
        ),
        ("PATCH", f"{BASE}/{pid}/budget-lines/{line['id']}", {"quantity": 3}),
        ("DELETE", f"{BASE}/{pid}/budget-lines/{line['id']}", None),
    ]
    for method, url, body in refused:
        r = await fac.request(method, url, json=body)
        assert r.status_code == 403, (method, url, r.status_code, r.text)

    # Activities in its own community: create, patch, delete.
    activity = await add(fac, f"{BASE}/{pid}/activities", activity_body(world.a["id"]))
    assert activity["community_id"] == world.a["id"]
    r = await fac.patch(f"{BASE}/{pid}/activities/{activity['id']}", json={"status": "done"})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "done"
    # Measurements: create and patch.
    murl = f"{BASE}/{pid}/indicators/{indicator['id']}/measurements"
    measurement = await add(fac, murl, {"measured_on": "2025-02-01", "value": 12, "note": "RT 1"})
    r = await fac.patch(f"{murl}/{measurement['id']}", json={"value": 15})
    assert r.status_code == 200, r.text
    assert r.json()["value"] == 15

    # Community b belongs to the program but is not assigned to this facilitator.
    r = await fac.post(f"{BASE}/{pid}/activities", json=activity_body(world.b["id"]))
    assert r.status_code == 403, r.text
    theirs = await add(world.coord, f"{BASE}/{pid}/activities", activity_body(world.b["id"]))
    r = await fac.patch(f"{BASE}/{pid}/activities/{theirs['id']}", json={"title": "Diubah"})
    assert r.status_code == 403, r.text
    r = await fac.delete(f"{BASE}/{pid}/activities/{theirs['id']}")
    assert r.status_code == 403, r.text
    # Nor may it move its own activity into that community.
    r = await fac.patch(
        f"{BASE}/{pid}/activities/{activity['id']}", json={"community_id": world.b["id"]}
    )
    assert r.status_code == 403, r.text
    assert (await fac.delete(f"{BASE}/{pid}/activities/{activity['id']}")).status_code == 204


# --- codes ----------------------------------------------------------------------------------------


async def test_concurrent_creates_get_distinct_consecutive_codes(world: Any) -> None:
    year = datetime.now(UTC).year
    responses = await asyncio.gather(
        *(
            world.coord.post(BASE, json={"title": f"Program {i}", "community_ids": [world.a["id"]]})
            for i in range(20)
        )
    )
    assert all(r.status_code == 201 for r in responses), [r.text for r in responses]
    codes = [r.json()["code"] for r in responses]
    assert len(set(codes)) == 20
    pattern = re.compile(rf"^PRG-{year}-(\d{{4}})$")
    numbers = sorted(int(m.group(1)) for c in codes if (m := pattern.match(c)))
    assert len(numbers) == 20, codes
    # The world's program took the first number.
    assert world.program["code"] == f"PRG-{year}-0001"
    assert numbers == list(range(2, 22))


async def test_hand_given_codes(world: Any) -> None:
    year = datetime.now(UTC).year
    hand = await create_program(world.coord, [world.a["id"]], code="KAB-BDG/2025.01")
    assert hand["code"] == "KAB-BDG/2025.01"
    for duplicate in ("KAB-BDG/2025.01", "kab-bdg/2025.01", world.program["code"]):
        r = await world.coord.post(
            BASE, json={"title": "Dup", "community_ids": [world.a["id"]], "code": duplicate}
        )
        assert r.status_code == 409, (duplicate, r.text)
    # A number taken by hand is skipped by the generator.
    taken = await create_program(world.coord, [world.a["id"]], code=f"PRG-{year}-0002")
    assert taken["code"] == f"PRG-{year}-0002"
    generated = await create_program(world.coord, [world.a["id"]])
    assert generated["code"] == f"PRG-{year}-0003"
    # A lower-case hand-given code takes the number too (codes are unique ignoring case).
    await create_program(world.coord, [world.a["id"]], code=f"prg-{year}-0004")
    generated = await create_program(world.coord, [world.a["id"]])
    assert generated["code"] == f"PRG-{year}-0005"
    # Code cannot be changed by PATCH (not in the update schema).
    r = await world.coord.patch(f"{BASE}/{world.pid}", json={"code": "NEW"})
    assert r.status_code == 422


async def test_concurrent_duplicate_hand_given_codes_are_409_not_500(world: Any) -> None:
    responses = await asyncio.gather(
        *(
            world.coord.post(
                BASE,
                json={"title": f"Dup {i}", "community_ids": [world.a["id"]], "code": "DUP-01"},
            )
            for i in range(6)
        )
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201, 409, 409, 409, 409, 409], [r.text for r in responses]
    listed = (await world.coord.get(BASE, params={"q": "DUP-01"})).json()["items"]
    assert [p["code"] for p in listed] == ["DUP-01"]


# --- budget ------------------------------------------------------------------------------------


async def test_budget_amount_is_the_sum_of_lines(world: Any) -> None:
    pid, coord = world.pid, world.coord
    url = f"{BASE}/{pid}/budget-lines"
    assert world.program["budget_amount"] == 0
    one = await add(
        coord,
        url,
        {"description": "Konsumsi", "quantity": 2.5, "unit": "paket", "unit_cost_amount": 3},
    )
    assert one["total_amount"] == 8  # 7.5 rounds half up
    two = await add(
        coord,
        url,
        {"description": "ATK", "quantity": "0.33", "unit": "rim", "unit_cost_amount": 1001},
    )
    assert two["total_amount"] == 330  # 330.33
    three = await add(
        coord,
        url,
        {"description": "Honor", "quantity": 3, "unit": "OJ", "unit_cost_amount": 1_000_000},
    )
    assert (await coord.get(f"{BASE}/{pid}")).json()["budget_amount"] == 8 + 330 + 3_000_000

    r = await coord.patch(f"{url}/{two['id']}", json={"quantity": "1.5", "unit_cost_amount": 333})
    assert r.status_code == 200, r.text
    assert r.json()["total_amount"] == 500  # 499.5 rounds half up
    assert (await coord.get(f"{BASE}/{pid}")).json()["budget_amount"] == 8 + 500 + 3_000_000

    assert (await coord.delete(f"{url}/{one['id']}")).status_code == 204
    program = (await coord.get(f"{BASE}/{pid}")).json()
    assert program["budget_amount"] == 500 + 3_000_000
    lines = (await coord.get(url)).json()["items"]
    assert program["budget_amount"] == sum(line["total_amount"] for line in lines)
    assert {line["id"] for line in lines} == {two["id"], three["id"]}

    r = await coord.patch(f"{BASE}/{pid}", json={"budget_amount": 1})
    assert r.status_code == 422
    assert named(r, "budget_amount")
    r = await coord.post(
        BASE, json={"title": "X", "community_ids": [world.a["id"]], "budget_amount": 5}
    )
    assert r.status_code == 422
    assert named(r, "budget_amount")
    r = await coord.post(
        url,
        json={
            "description": "X",
            "quantity": 1,
            "unit": "OJ",
            "unit_cost_amount": 5,
            "total_amount": 99,
        },
    )
    assert r.status_code == 422
    r = await coord.post(
        url, json={"description": "X", "quantity": 0, "unit": "OJ", "unit_cost_amount": 5}
    )
    assert r.status_code == 422
    assert (await coord.get(f"{BASE}/{pid}")).json()["budget_amount"] == 500 + 3_000_000


# --- links ---------------------------------------------------------------------------------------


async def test_addressed_findings_must_be_problems_or_needs_of_program_communities(
    world: Any,
) -> None:
    coord = world.coord
    own = await create_assessment(coord, world.a["id"])
    foreign = await create_assessment(coord, world.other["id"])
    problem = await add_finding(coord, own["id"], "Air keruh")
    need = await add_finding(coord, own["id"], "Butuh sumur bor", kind="need")
    potential = await add_finding(coord, own["id"], "Mata air", kind="potential")
    stranger = await add_finding(coord, foreign["id"], "Jalan rusak")

    ok = await create_program(
        coord, [world.a["id"]], addressed_finding_ids=[problem["id"], need["id"]]
    )
    assert sorted(ok["addressed_finding_ids"]) == sorted([problem["id"], need["id"]])
    for bad in (stranger, potential):
        r = await coord.post(
            BASE,
            json={
                "title": "X",
                "community_ids": [world.a["id"]],
                "addressed_finding_ids": [problem["id"], bad["id"]],
            },
        )
        assert r.status_code == 422, r.text
        assert ["body", "addressed_finding_ids", 1] in locs(r)
        r = await coord.patch(f"{BASE}/{ok['id']}", json={"addressed_finding_ids": [bad["id"]]})
        assert r.status_code == 422, r.text
        assert named(r, "addressed_finding_ids")
    # Removing the finding's community leaves a finding from a foreign community: refused.
    r = await coord.patch(f"{BASE}/{ok['id']}", json={"community_ids": [world.b["id"]]})
    assert r.status_code == 422, r.text
    assert named(r, "addressed_finding_ids")
    # Unknown communities are refused too.
    r = await coord.post(BASE, json={"title": "X", "community_ids": [str(uuid.uuid4())]})
    assert r.status_code == 422
    assert named(r, "community_ids")


async def test_activities_only_in_program_communities(world: Any) -> None:
    url = f"{BASE}/{world.pid}/activities"
    r = await world.coord.post(url, json=activity_body(world.other["id"]))
    assert r.status_code == 422, r.text
    assert ["body", "community_id"] in locs(r)
    activity = await add(world.coord, url, activity_body(world.a["id"]))
    r = await world.coord.patch(f"{url}/{activity['id']}", json={"community_id": world.other["id"]})
    assert r.status_code == 422, r.text
    assert ["body", "community_id"] in locs(r)
    # A facilitator of a foreign community cannot even see the program.
    r = await world.fac_other.post(url, json=activity_body(world.other["id"]))
    assert r.status_code == 404
    r = await world.coord.post(
        url,
        json=activity_body(
            world.a["id"],
            scheduled_start="2025-03-01T12:00:00+07:00",
            scheduled_end="2025-03-01T09:00:00+07:00",
        ),
    )
    assert r.status_code == 422


async def test_removing_a_community_with_activities_is_409(
    world: Any, admin: httpx.AsyncClient
) -> None:
    pid = world.pid
    await add(world.coord, f"{BASE}/{pid}/activities", activity_body(world.b["id"]))
    r = await world.coord.patch(f"{BASE}/{pid}", json={"community_ids": [world.a["id"]]})
    assert r.status_code == 409, r.text
    assert sorted((await world.coord.get(f"{BASE}/{pid}")).json()["community_ids"]) == sorted(
        [world.a["id"], world.b["id"]]
    )
    # Removing the community without activities is fine and audited as a link change.
    r = await world.coord.patch(f"{BASE}/{pid}", json={"community_ids": [world.b["id"]]})
    assert r.status_code == 200, r.text
    assert r.json()["community_ids"] == [world.b["id"]]
    events = await audit_events(admin, pid)
    assert any(
        e["action"] == "update" and "community_ids" in e["changed_fields"] for e in events
    ), events
    r = await world.coord.patch(f"{BASE}/{pid}", json={"community_ids": []})
    assert r.status_code == 422


async def test_measurements_must_fall_within_program_dates(world: Any) -> None:
    indicator = await add(world.coord, f"{BASE}/{world.pid}/indicators", INDICATOR)
    url = f"{BASE}/{world.pid}/indicators/{indicator['id']}/measurements"
    for day in ("2024-12-31", "2026-01-01"):
        r = await world.coord.post(url, json={"measured_on": day, "value": 20})
        assert r.status_code == 422, r.text
        assert ["body", "measured_on"] in locs(r)
    for day in ("2025-01-01", "2025-12-31"):
        await add(world.coord, url, {"measured_on": day, "value": 20})
    m = await add(world.fac_a, url, {"measured_on": "2025-06-01", "value": 30})
    r = await world.fac_a.patch(f"{url}/{m['id']}", json={"measured_on": "2026-06-01"})
    assert r.status_code == 422, r.text
    r = await world.coord.post(
        BASE,
        json={
            "title": "X",
            "community_ids": [world.a["id"]],
            "start_date": "2025-02-01",
            "end_date": "2025-01-01",
        },
    )
    assert r.status_code == 422


@pytest.mark.parametrize("closed", ["completed", "cancelled"])
async def test_closed_programs_refuse_sub_resource_writes(world: Any, closed: str) -> None:
    pid, coord = world.pid, world.coord
    activity = await add(coord, f"{BASE}/{pid}/activities", activity_body(world.a["id"]))
    indicator = await add(coord, f"{BASE}/{pid}/indicators", INDICATOR)
    murl = f"{BASE}/{pid}/indicators/{indicator['id']}/measurements"
    measurement = await add(coord, murl, {"measured_on": "2025-02-01", "value": 12})
    line = await add(
        coord,
        f"{BASE}/{pid}/budget-lines",
        {"description": "Honor", "quantity": 2, "unit": "OJ", "unit_cost_amount": 1000},
    )
    await move_ok(coord, pid, *PATH_TO[closed])
    writes = [
        ("PATCH", f"{BASE}/{pid}", {"title": "Y"}),
        ("POST", f"{BASE}/{pid}/activities", activity_body(world.a["id"])),
        ("PATCH", f"{BASE}/{pid}/activities/{activity['id']}", {"status": "done"}),
        ("DELETE", f"{BASE}/{pid}/activities/{activity['id']}", None),
        ("POST", f"{BASE}/{pid}/indicators", INDICATOR),
        ("PATCH", f"{BASE}/{pid}/indicators/{indicator['id']}", {"target": 90}),
        ("DELETE", f"{BASE}/{pid}/indicators/{indicator['id']}", None),
        ("POST", murl, {"measured_on": "2025-03-01", "value": 20}),
        ("PATCH", f"{murl}/{measurement['id']}", {"value": 21}),
        ("DELETE", f"{murl}/{measurement['id']}", None),
        (
            "POST",
            f"{BASE}/{pid}/budget-lines",
            {"description": "Honor", "quantity": 1, "unit": "OJ", "unit_cost_amount": 1},
        ),
        ("PATCH", f"{BASE}/{pid}/budget-lines/{line['id']}", {"quantity": 3}),
        ("DELETE", f"{BASE}/{pid}/budget-lines/{line['id']}", None),
    ]
    for method, url, body in writes:
        r = await coord.request(method, url, json=body)
        assert r.status_code == 409, (method, url, r.status_code, r.text)
    # The facilitator's writes are refused the same way.
    r = await world.fac_a.post(f"{BASE}/{pid}/activities", json=activity_body(world.a["id"]))
    assert r.status_code == 409
    assert (await coord.get(f"{BASE}/{pid}")).json()["budget_amount"] == 2000


# --- KAK ----------------------------------------------------------------------------------------


@pytest.fixture
async def kak_program(world: Any) -> dict[str, Any]:
    """A program with findings ranked by ballots (rank order differs from creation order),
    indicators, activities and budget lines summing to Rp 3.375.000."""
    coord = world.coord
    assessment = await create_assessment(coord, world.a["id"])
    first = await add_finding(coord, assessment["id"], "Anak putus sekolah")
    second = await add_finding(coord, assessment["id"], "Balita kurang gizi", kind="need")
    third = await add_finding(coord, assessment["id"], "Cuci tangan jarang")
    person_one = await make_person(coord, world.a["id"])
    person_two = await make_person(coord, world.a["id"])
    for person in (person_one, person_two):
        r = await coord.post(
            f"{ASSESSMENTS}/{assessment['id']}/ballots",
            json={"person_id": person["id"], "ranking": [third["id"], second["id"], first["id"]]},
        )
        assert r.status_code == 201, r.text
    ranks = {
        f["id"]: f["priority_rank"]
        for f in (await coord.get(f"{ASSESSMENTS}/{assessment['id']}/findings")).json()["items"]
    }
    assert ranks == {third["id"]: 1, second["id"]: 2, first["id"]: 3}

    pid = world.pid
    r = await coord.patch(
        f"{BASE}/{pid}",
        json={
            "background": "Air bersih sulit didapat.",
            "summary": "Meningkatkan akses air.",
            "objectives": ["Membangun sumur", "Melatih pengelola"],
            "target_beneficiaries": 1200,
            "funding_source": "Dana Desa",
            "addressed_finding_ids": [first["id"], second["id"], third["id"]],
        },
    )
    assert r.status_code == 200, r.text
    await add(coord, f"{BASE}/{pid}/indicators", INDICATOR)
    await add(coord, f"{BASE}/{pid}/activities", activity_body(world.a["id"]))
    url = f"{BASE}/{pid}/budget-lines"
    await add(
        coord,
        url,
        {
            "description": "Konsumsi rapat",
            "quantity": "1.5",
            "unit": "paket",
            "unit_cost_amount": 250_000,
        },
    )
    await add(
        coord,
        url,
        {
            "description": "Honor narasumber",
            "quantity": 3,
            "unit": "OJ",
            "unit_cost_amount": 1_000_000,
        },
    )
    program = (await coord.get(f"{BASE}/{pid}")).json()
    assert program["budget_amount"] == 3_375_000
    return {"program": program, "order": [third["title"], second["title"], first["title"]]}


async def test_kak_json_in_indonesian_and_english(world: Any, kak_program: dict[str, Any]) -> None:
    url = f"{BASE}/{world.pid}/terms-of-reference"
    r = await world.coord.get(url)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/json")
    doc = r.json()
    assert doc["lang"] == "id"
    assert doc["code"] == kak_program["program"]["code"]
    assert [s["key"] for s in doc["sections"]] == SECTION_KEYS
    assert [s["heading"] for s in doc["sections"]] == HEADINGS_ID
    sections = {s["key"]: s["content"] for s in doc["sections"]}
    assert [f["title"] for f in sections["background"]["findings"]] == kak_program["order"]
    assert [f["priority_rank"] for f in sections["background"]["findings"]] == [1, 2, 3]
    assert sections["budget"]["total_amount"] == 3_375_000
    assert sections["budget"]["total_formatted"] == "Rp 3.375.000"
    assert sum(line["total_amount"] for line in sections["budget"]["lines"]) == 3_375_000
    assert sections["indicators"]["indicators"][0]["target"] == 80
    # Ordered by region code, then name.
    assert [c["name"] for c in sections["location"]["communities"]] == [
        world.a["name"],
        world.b["name"],
    ]

    en = await world.coord.get(url, params={"lang": "en"})
    assert en.status_code == 200, en.text
    assert en.json()["lang"] == "en"
    assert [s["key"] for s in en.json()["sections"]] == SECTION_KEYS
    assert [s["heading"] for s in en.json()["sections"]] == HEADINGS_EN

    for bad in ("xx", "ID", ""):
        r = await world.coord.get(url, params={"lang": bad})
        assert r.status_code == 422, (bad, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize(("lang", "headings"), [(None, HEADINGS_ID), ("en", HEADINGS_EN)])
async def test_kak_markdown(
    world: Any, kak_program: dict[str, Any], lang: str | None, headings: list[str]
) -> None:
    params = {"lang": lang} if lang else {}
    r = await world.fac_a.get(
        f"{BASE}/{world.pid}/terms-of-reference",
        params=params,
        headers={"Accept": "text/markdown"},
    )
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/markdown")
    text = r.text
    positions = []
    for heading in headings:
        match = re.search(rf"^## \d+\. {re.escape(heading)}$", text, re.MULTILINE)
        assert match, (heading, text)
        positions.append(match.start())
    assert positions == sorted(positions)
    assert "Rp 3.375.000" in text
    assert "Rp 250.000" in text
    assert "1,5 paket" in text  # Indonesian decimal comma in the budget table
    finding_positions = [text.index(title) for title in kak_program["order"]]
    assert finding_positions == sorted(finding_positions)
    assert kak_program["program"]["code"] in text


# --- scoping -----------------------------------------------------------------------------------


async def test_other_facilitator_sees_nothing_of_the_program(world: Any) -> None:
    pid, coord = world.pid, world.coord
    activity = await add(coord, f"{BASE}/{pid}/activities", activity_body(world.a["id"]))
    indicator = await add(coord, f"{BASE}/{pid}/indicators", INDICATOR)
    murl = f"{BASE}/{pid}/indicators/{indicator['id']}/measurements"
    measurement = await add(coord, murl, {"measured_on": "2025-02-01", "value": 12})
    line = await add(
        coord,
        f"{BASE}/{pid}/budget-lines",
        {"description": "Honor", "quantity": 2, "unit": "OJ", "unit_cost_amount": 1000},
    )
    await move_ok(coord, pid, "submitted")
    reads = [
        f"{BASE}/{pid}",
        f"{BASE}/{pid}/activities",
        f"{BASE}/{pid}/activities/{activity['id']}",
        f"{BASE}/{pid}/indicators",
        f"{BASE}/{pid}/indicators/{indicator['id']}",
        murl,
        f"{murl}/{measurement['id']}",
        f"{BASE}/{pid}/budget-lines",
        f"{BASE}/{pid}/budget-lines/{line['id']}",
        f"{BASE}/{pid}/transitions",
        f"{BASE}/{pid}/terms-of-reference",
    ]
    for url in reads:
        r = await world.fac_other.get(url)
        assert r.status_code == 404, (url, r.status_code)
        assert (await world.fac_a.get(url)).status_code == 200, url
    r = await world.fac_other.post(f"{BASE}/{pid}/transitions", json={"to": "approved"})
    assert r.status_code == 404
    r = await world.fac_other.post(murl, json={"measured_on": "2025-03-01", "value": 1})
    assert r.status_code == 404
    r = await world.fac_other.patch(
        f"{BASE}/{pid}/activities/{activity['id']}", json={"title": "Y"}
    )
    assert r.status_code == 404
    listed = await world.fac_other.get(BASE)
    assert listed.status_code == 200
    assert pid not in [p["id"] for p in listed.json()["items"]]
    assert pid in [p["id"] for p in (await world.fac_a.get(BASE)).json()["items"]]
    # Sub-resources addressed through the wrong program are not found either.
    other_program = await create_program(coord, [world.a["id"]])
    r = await coord.get(f"{BASE}/{other_program['id']}/activities/{activity['id']}")
    assert r.status_code == 404


async def test_partner_without_partnership_sees_no_programs(
    world: Any, make_user: MakeUser, as_user: AsUser
) -> None:
    partner = as_user(await make_user("partner"))
    r = await partner.get(BASE)
    assert r.status_code == 200, r.text
    assert r.json()["items"] == []
    for url in (
        f"{BASE}/{world.pid}",
        f"{BASE}/{world.pid}/activities",
        f"{BASE}/{world.pid}/terms-of-reference",
    ):
        assert (await partner.get(url)).status_code == 404, url
    r = await partner.post(BASE, json={"title": "X", "community_ids": [world.a["id"]]})
    assert r.status_code == 403


# --- filters and paging ------------------------------------------------------------------------


async def test_list_filters(world: Any, make_user: MakeUser, admin: httpx.AsyncClient) -> None:
    coord = world.coord
    other_coordinator = await make_user(Role.coordinator)
    p_other = await create_program(
        coord,
        [world.other["id"]],
        title="Jalan Usaha Tani",
        start_date="2026-01-01",
        end_date="2026-06-30",
        coordinator_id=str(other_coordinator.id),
    )
    p_open = await create_program(coord, [world.b["id"]], title="Posyandu Remaja")
    await move_ok(coord, p_open["id"], "submitted")

    async def ids(**params: Any) -> set[str]:
        r = await coord.get(BASE, params=params)
        assert r.status_code == 200, r.text
        return {p["id"] for p in r.json()["items"]}

    everything = {world.pid, p_other["id"], p_open["id"]}
    assert await ids() == everything
    assert await ids(status="submitted") == {p_open["id"]}
    assert await ids(status="draft") == {world.pid, p_other["id"]}
    assert await ids(community_id=world.b["id"]) == {world.pid, p_open["id"]}
    assert await ids(community_id=world.other["id"]) == {p_other["id"]}
    assert await ids(region_code="32") == {world.pid, p_open["id"]}
    assert await ids(region_code="32.04.12") == {world.pid, p_open["id"]}
    assert await ids(region_code="33.01") == {p_other["id"]}
    assert await ids(region_code="34") == set()
    assert await ids(coordinator_id=str(world.coordinator_user.id)) == {world.pid}
    assert await ids(coordinator_id=str(other_coordinator.id)) == {p_other["id"]}
    assert await ids(q="posyandu") == {p_open["id"]}
    assert await ids(q=world.program["code"]) == {world.pid}
    assert await ids(active_on="2025-06-01") == {world.pid, p_open["id"]}
    assert await ids(active_on="2026-03-01") == {p_other["id"], p_open["id"]}
    assert await ids(active_on="2027-01-01") == {p_open["id"]}
    for bad in (
        {"status": "archived"},
        {"region_code": "x"},
        {"active_on": "kemarin"},
        {"limit": 501},
        {"sort": "budget"},
    ):
        r = await coord.get(BASE, params=bad)
        assert r.status_code == 422, (bad, r.text)

    # coordinator_id must name a coordinator or admin.
    facilitator = await make_user(Role.facilitator)
    for who in (facilitator.id, uuid.uuid4()):
        r = await coord.post(
            BASE,
            json={"title": "X", "community_ids": [world.a["id"]], "coordinator_id": str(who)},
        )
        assert r.status_code == 422, r.text
        assert named(r, "coordinator_id")
        r = await coord.patch(f"{BASE}/{world.pid}", json={"coordinator_id": str(who)})
        assert r.status_code == 422, r.text
        assert named(r, "coordinator_id")
    admin_user = await make_user(Role.admin)
    r = await coord.patch(f"{BASE}/{world.pid}", json={"coordinator_id": str(admin_user.id)})
    assert r.status_code == 200, r.text
    assert r.json()["coordinator_id"] == str(admin_user.id)


async def test_keyset_pagination_of_programs_and_activities(world: Any) -> None:
    coord = world.coord
    for i in range(6):
        await create_program(coord, [world.a["id"]], title=f"Program {i:02d}")
    all_ids, pages = await collect(coord, BASE, {"limit": 2})
    assert len(all_ids) == 7
    assert len(set(all_ids)) == 7
    assert pages == 4
    titles_desc, _ = await collect(coord, BASE, {"limit": 3, "sort": "-title"})
    listing = (await coord.get(BASE, params={"limit": 500, "sort": "-title"})).json()["items"]
    assert titles_desc == [p["id"] for p in listing]
    assert [p["title"] for p in listing] == sorted((p["title"] for p in listing), reverse=True)

    first = await coord.get(BASE, params={"limit": 2})
    cursor = first.json()["next_cursor"]
    # Rows inserted meanwhile do not disturb the pages already walked.
    await create_program(coord, [world.a["id"]], title="Sisipan")
    rest, _ = await collect(coord, BASE, {"limit": 2, "cursor": cursor})
    assert not set(rest) & {p["id"] for p in first.json()["items"]}
    r = await coord.get(BASE, params={"limit": 2, "cursor": cursor, "status": "draft"})
    assert r.status_code == 422

    url = f"{BASE}/{world.pid}/activities"
    created = []
    for i in range(5):
        created.append(
            (
                await add(
                    coord,
                    url,
                    activity_body(
                        world.a["id"] if i % 2 else world.b["id"],
                        title=f"Kegiatan {i}",
                        scheduled_start=f"2025-0{5 - i}-01T09:00:00+07:00",
                        scheduled_end=None,
                    ),
                )
            )["id"]
        )
    ids, pages = await collect(coord, url, {"limit": 2})
    assert ids == created
    assert pages == 3
    by_start, _ = await collect(coord, url, {"limit": 2, "sort": "scheduled_start"})
    assert by_start == list(reversed(created))
    only_a, _ = await collect(coord, url, {"limit": 1, "community_id": world.a["id"]})
    assert only_a == [created[1], created[3]]
    page = (await coord.get(url, params={"limit": 2})).json()
    r = await coord.get(
        url, params={"limit": 2, "cursor": page["next_cursor"], "community_id": world.a["id"]}
    )
    assert r.status_code == 422


# --- concurrency, deletes, audit ----------------------------------------------------------------


async def test_etags_and_if_match(world: Any) -> None:
    url = f"{BASE}/{world.pid}"
    got = await world.coord.get(url)
    etag = got.headers["etag"]
    assert (await world.coord.get(url, headers={"If-None-Match": etag})).status_code == 304
    r = await world.coord.patch(url, json={"title": "Baru"}, headers={"If-Match": '"999"'})
    assert r.status_code == 412, r.text
    r = await world.coord.patch(url, json={"title": "Baru"}, headers={"If-Match": etag})
    assert r.status_code == 200, r.text
    new_etag = r.headers["etag"]
    assert new_etag != etag
    # The old ETag is now stale for transitions too.
    r = await move(world.coord, world.pid, "submitted", headers={"If-Match": etag})
    assert r.status_code == 412, r.text
    assert (await world.coord.get(url)).json()["status"] == "draft"
    r = await move(world.coord, world.pid, "submitted", headers={"If-Match": new_etag})
    assert r.status_code == 200, r.text
    r = await world.coord.patch(url, json={"title": "Lagi"}, headers={"If-Match": new_etag})
    assert r.status_code == 412


async def test_soft_delete_and_admin_restore(
    world: Any, admin: httpx.AsyncClient, raw_db: Any
) -> None:
    pid = world.pid
    await add(world.coord, f"{BASE}/{pid}/activities", activity_body(world.a["id"]))
    assert (await world.coord.delete(f"{BASE}/{pid}")).status_code == 204
    assert (await world.coord.get(f"{BASE}/{pid}")).status_code == 404
    assert (await world.coord.get(f"{BASE}/{pid}/activities")).status_code == 404
    assert (await world.fac_a.get(f"{BASE}/{pid}")).status_code == 404
    assert pid not in [p["id"] for p in (await world.coord.get(BASE)).json()["items"]]
    row = await raw_db.fetchrow("SELECT deleted_at FROM programs WHERE id = $1", uuid.UUID(pid))
    assert row["deleted_at"] is not None
    assert (await world.coord.post(f"{BASE}/{pid}/restore")).status_code == 403
    r = await admin.post(f"{BASE}/{pid}/restore")
    assert r.status_code == 200, r.text
    assert r.json()["code"] == world.program["code"]
    assert (await world.coord.get(f"{BASE}/{pid}")).status_code == 200
    assert len((await world.coord.get(f"{BASE}/{pid}/activities")).json()["items"]) == 1
    events = await audit_events(admin, pid)
    assert {"create", "delete", "restore"} <= {e["action"] for e in events}


async def test_audit_events_for_create_links_and_transitions(
    world: Any, admin: httpx.AsyncClient
) -> None:
    pid = world.pid
    r = await world.coord.patch(
        f"{BASE}/{pid}", json={"community_ids": [world.a["id"]], "title": "Judul baru"}
    )
    assert r.status_code == 200, r.text
    # The same links again are no change.
    r = await world.coord.patch(f"{BASE}/{pid}", json={"community_ids": [world.a["id"]]})
    assert r.status_code == 200
    await move_ok(world.coord, pid, "submitted")
    events = await audit_events(admin, pid)
    by_action: dict[str, list[dict[str, Any]]] = {}
    for e in events:
        by_action.setdefault(e["action"], []).append(e)
    assert len(by_action["create"]) == 1
    create = by_action["create"][0]
    assert create["actor_id"] == str(world.coordinator_user.id)
    assert "title" in create["changed_fields"]
    assert len(by_action["update"]) == 1
    assert set(by_action["update"][0]["changed_fields"]) == {"community_ids", "title"}
    assert len(by_action["transition"]) == 1
    assert by_action["transition"][0]["changed_fields"] == ["status"]
    assert by_action["transition"][0]["note"] == "draft->submitted"
