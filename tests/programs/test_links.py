"""What a program links to: addressed findings of its communities, activities in its
communities, measurements within its dates; closed programs refuse sub-resource writes."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from tests.factories import (
    INDICATOR,
    PROGRAM_PATH_TO,
    PROGRAMS,
    activity_body,
    activity_writes,
    add_finding,
    budget_line_writes,
    create_assessment,
    indicator_writes,
    make_program,
    make_program_parts,
    measurement_writes,
    move_ok,
    post,
)
from tests.helpers import audit_events, locs, named

BASE = PROGRAMS


# --- links ---------------------------------------------------------------------------------------


async def test_addressed_findings_must_be_problems_or_needs_of_program_communities(
    world: Any,
) -> None:
    coord = world.coord
    own = await create_assessment(coord, world.a["id"])
    foreign = await create_assessment(coord, world.other["id"])
    problem = await add_finding(coord, own["id"], title="Air keruh", severity=3)
    need = await add_finding(coord, own["id"], title="Butuh sumur bor", kind="need", severity=3)
    potential = await add_finding(coord, own["id"], title="Mata air", kind="potential")
    stranger = await add_finding(coord, foreign["id"], title="Jalan rusak", severity=3)

    ok = await make_program(
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
    activity = await post(world.coord, url, activity_body(world.a["id"]))
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
    await post(world.coord, f"{BASE}/{pid}/activities", activity_body(world.b["id"]))
    r = await world.coord.patch(f"{BASE}/{pid}", json={"community_ids": [world.a["id"]]})
    assert r.status_code == 409, r.text
    assert sorted((await world.coord.get(f"{BASE}/{pid}")).json()["community_ids"]) == sorted(
        [world.a["id"], world.b["id"]]
    )
    # Removing the community without activities is fine and audited as a link change.
    r = await world.coord.patch(f"{BASE}/{pid}", json={"community_ids": [world.b["id"]]})
    assert r.status_code == 200, r.text
    assert r.json()["community_ids"] == [world.b["id"]]
    events = await audit_events(admin, "programs", pid)
    assert any(
        e["action"] == "update" and "community_ids" in e["changed_fields"] for e in events
    ), events
    r = await world.coord.patch(f"{BASE}/{pid}", json={"community_ids": []})
    assert r.status_code == 422


async def test_measurements_must_fall_within_program_dates(world: Any) -> None:
    indicator = await post(world.coord, f"{BASE}/{world.pid}/indicators", INDICATOR)
    url = f"{BASE}/{world.pid}/indicators/{indicator['id']}/measurements"
    for day in ("2024-12-31", "2026-01-01"):
        r = await world.coord.post(url, json={"measured_on": day, "value": 20})
        assert r.status_code == 422, r.text
        assert ["body", "measured_on"] in locs(r)
    for day in ("2025-01-01", "2025-12-31"):
        await post(world.coord, url, {"measured_on": day, "value": 20})
    m = await post(world.fac_a, url, {"measured_on": "2025-06-01", "value": 30})
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
    activity, indicator, measurement, line, murl = await make_program_parts(
        coord, pid, world.a["id"]
    )
    await move_ok(coord, BASE, pid, *PROGRAM_PATH_TO[closed])
    writes = [
        ("PATCH", f"{BASE}/{pid}", {"title": "Y"}),
        *activity_writes(pid, world.a["id"], activity["id"], {"status": "done"}),
        *indicator_writes(pid, indicator["id"]),
        *measurement_writes(murl, measurement["id"]),
        *budget_line_writes(pid, line["id"]),
    ]
    for method, url, body in writes:
        r = await coord.request(method, url, json=body)
        assert r.status_code == 409, (method, url, r.status_code, r.text)
    # The facilitator's writes are refused the same way.
    r = await world.fac_a.post(f"{BASE}/{pid}/activities", json=activity_body(world.a["id"]))
    assert r.status_code == 409
    assert (await coord.get(f"{BASE}/{pid}")).json()["budget_amount"] == 2000
