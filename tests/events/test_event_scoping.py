"""The feed's scoping is the REST policy's: with the partners suite's scoping matrix,
each principal sees exactly the events of what it can read."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.events.test_events import pull_all
from tests.factories import (
    ASSESSMENTS,
    AsUser,
    Bearer,
    MakeUser,
    PartnerWorld,
    create_assessment,
    move_ok,
)
from tests.partners.test_partners import MATRIX, principal_client

# The resources of the matrix that have events, and the side's field holding their id.
WITH_EVENTS = {
    "programs": "program",
    "activities": "activity",
    "measurements": "measurement",
    "budget_lines": "budget_line",
    "partnerships": "partnership",
    "contributions": "contribution",
}
# Needs assessments are not in the partners matrix: partners never read them,
# facilitators those of their communities.
ASSESSMENTS_SEEN = {
    "partner_user": "",
    "partner_service": "",
    "facilitator_a": "A",
    "analyst": "AB",
    "coordinator": "AB",
    "admin": "AB",
}


@pytest.mark.parametrize("principal", list(MATRIX))
async def test_feed_follows_the_scoping_matrix(
    principal: str,
    world: PartnerWorld,
    admin: httpx.AsyncClient,
    client: httpx.AsyncClient,
    make_user: MakeUser,
    as_user: AsUser,
    bearer: Bearer,
) -> None:
    assessments = {}
    for tag, side in world.sides.items():
        assessment = await create_assessment(admin, side.community)
        await move_ok(admin, ASSESSMENTS, assessment["id"], "in_progress")
        assessments[assessment["id"]] = tag
    caller = await principal_client(
        principal,
        world,
        admin=admin,
        client=client,
        make_user=make_user,
        as_user=as_user,
        bearer=bearer,
    )
    owner: dict[str, tuple[str, str]] = {
        str(getattr(side, field)): (resource, tag)
        for tag, side in world.sides.items()
        for resource, field in WITH_EVENTS.items()
    }
    owner |= {aid: ("needs_assessments", tag) for aid, tag in assessments.items()}

    seen: set[tuple[str, str]] = set()
    for event in await pull_all(caller):
        item = event["data"]["id"]
        assert item in owner, event  # nothing about people, records, anything unlisted
        seen.add(owner[item])
    expected = {
        (resource, tag)
        for resource in WITH_EVENTS
        for tag in MATRIX[principal][resource]
        if isinstance(MATRIX[principal][resource], frozenset)
    } | {("needs_assessments", tag) for tag in ASSESSMENTS_SEEN[principal]}
    assert seen == expected


async def test_a_terminated_partnership_hides_its_programs_events(
    world: PartnerWorld,
    admin: httpx.AsyncClient,
    client: httpx.AsyncClient,
    make_user: MakeUser,
    as_user: AsUser,
    bearer: Bearer,
) -> None:
    caller = await principal_client(
        "partner_user",
        world,
        admin=admin,
        client=client,
        make_user=make_user,
        as_user=as_user,
        bearer=bearer,
    )
    a = world.sides["A"]
    await move_ok(admin, "/api/v1/partnerships", a.partnership, "terminated")
    events: list[dict[str, Any]] = await pull_all(caller)
    # As in REST: the program and what hangs under it are gone; the organisation's own
    # partnership and contribution stay visible.
    assert {e["type"].split(".")[0] for e in events} == {"partnership", "contribution"}
    assert (await caller.get(f"/api/v1/programs/{a.program}")).status_code == 404
