"""The planning world: a community whose validated assessment ranked its needs (the Borda
world of tests/factories.py), and helpers that walk a proposal along its path."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.factories import API, ASSESSMENTS, borda_setup, move_ok, post

PROPOSALS = f"{API}/planning-proposals"
# The statuses a new draft passes through to reach each status (with the funding the
# budget steps need: see ``walk``).
PATH_TO: dict[str, list[str]] = {
    "draft": [],
    "agreed": ["agreed"],
    "in_rkp_desa": ["agreed", "in_rkp_desa"],
    "in_apbdes": ["agreed", "in_rkp_desa", "in_apbdes"],
    "realised": ["agreed", "in_rkp_desa", "in_apbdes", "realised"],
    "forwarded": ["agreed", "forwarded"],
    "accommodated": ["agreed", "forwarded", "accommodated"],
    "not_accommodated": ["agreed", "forwarded", "not_accommodated"],
    "deferred": ["agreed", "deferred"],
    "rejected": ["rejected"],
}
OPEN = ["draft", "agreed", "in_rkp_desa", "in_apbdes", "forwarded"]
CLOSED = ["realised", "accommodated", "not_accommodated", "deferred", "rejected"]


@dataclass
class World:
    community: dict[str, Any]
    assessment_id: str
    findings: dict[str, str]  # Borda letters A..G → finding ids (rank order A B D C E F G)
    potential_id: str


async def validated_world(client: httpx.AsyncClient, community: dict[str, Any]) -> World:
    aid, ids, potential, _ = await borda_setup(client, community["id"])
    await move_ok(client, ASSESSMENTS, aid, "in_progress", "completed", "validated")
    return World(community, aid, ids, potential)


@pytest.fixture
async def world(admin: httpx.AsyncClient, community: dict[str, Any]) -> World:
    return await validated_world(admin, community)


def proposal_body(community_id: str, **overrides: Any) -> dict[str, Any]:
    return {
        "community_id": community_id,
        "title": "Sumur bor Dusun Krajan",
        "planning_year": 2026,
        "origin_forum": "musdus",
        "bidang": 2,
        "estimated_cost_amount": 185_000_000,
        "proposed_funding_source": "dana_desa",
        **overrides,
    }


async def make_proposal(
    client: httpx.AsyncClient, community_id: str, **overrides: Any
) -> dict[str, Any]:
    return await post(client, PROPOSALS, proposal_body(community_id, **overrides))


async def move(
    client: httpx.AsyncClient, proposal_id: str, to: str, **extra: Any
) -> httpx.Response:
    body: dict[str, Any] = {"to": to, "date": "2025-09-18", **extra}
    if to == "rejected" and "note" not in extra:
        body["note"] = "Tidak disepakati musyawarah"
    return await client.post(f"{PROPOSALS}/{proposal_id}/transitions", json=body)


async def add_funding(
    client: httpx.AsyncClient, proposal_id: str, **overrides: Any
) -> dict[str, Any]:
    body = {"fiscal_year": 2026, "source": "dana_desa", "planned_amount": 150_000_000}
    return await post(client, f"{PROPOSALS}/{proposal_id}/funding", {**body, **overrides})


async def walk(client: httpx.AsyncClient, proposal_id: str, status: str) -> dict[str, Any]:
    """Bring a draft to ``status``; the budget steps record the funding they need."""
    body: dict[str, Any] = (await client.get(f"{PROPOSALS}/{proposal_id}")).json()
    for to in PATH_TO[status]:
        if to == "in_apbdes":
            await add_funding(client, proposal_id)
        if to == "realised":
            lines = (await client.get(f"{PROPOSALS}/{proposal_id}/funding")).json()["items"]
            r = await client.patch(
                f"{PROPOSALS}/{proposal_id}/funding/{lines[0]['id']}",
                json={"realised_amount": 140_000_000},
            )
            assert r.status_code == 200, r.text
        r = await move(client, proposal_id, to)
        assert r.status_code == 200, (to, r.text)
        body = r.json()
    return body
