"""OWASP API Security Top 10 (2023), one section per item, each with concrete requests.

Deeper tests of the same controls live elsewhere and are named in each section;
this module is the attacker's checklist, and SECURITY.md maps it to the threat model.
"""

from __future__ import annotations

import ast
import asyncio
import json
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import routing
from fastapi.routing import APIRoute
from jose import jwt
from pydantic import ValidationError

from app.auth.models import Role
from app.auth.policy import DELETE, ERASE, PERMISSIONS, READ, RESTORE, WRITE
from app.core.config import Settings
from app.main import create_app
from tests.factories import (
    API,
    PASSWORD,
    make_partner_org,
    post,
    service_account,
    service_token,
    token_for,
)
from tests.helpers import PROBLEM, assert_problem

# --- a world with one thing of every kind -----------------------------------------------------


@dataclass
class World:
    ids: dict[str, str] = field(default_factory=dict)
    bodies: dict[str, dict[str, Any]] = field(default_factory=dict)
    clients: dict[Role, httpx.AsyncClient] = field(default_factory=dict)
    org: uuid.UUID | None = None


@pytest.fixture
async def world(app: Any, admin: httpx.AsyncClient, make_user: Any, as_user: Any) -> World:
    w = World()
    community = await post(
        admin,
        f"{API}/communities",
        {"name": "Desa Uji", "kind": "desa", "region_code": "32.04.12.2001"},
    )
    other = await post(
        admin,
        f"{API}/communities",
        {"name": "Desa Lain", "kind": "desa", "region_code": "32.04.12.2002"},
    )
    cid = community["id"]
    w.ids.update(community_id=cid, other_community_id=other["id"])
    w.bodies["communities"] = {"name": "Desa Baru", "kind": "desa", "region_code": "32.04.12.2003"}
    w.bodies["development_indices"] = {"year": 2023, "iks": 0.6, "ike": 0.6, "ikl": 0.6}
    w.ids["index_id"] = (
        await post(
            admin, f"{API}/communities/{cid}/development-indices", w.bodies["development_indices"]
        )
    )["id"]
    w.bodies["development_indices"] = {"year": 2024, "iks": 0.6, "ike": 0.6, "ikl": 0.6}
    w.bodies["people"] = {
        "community_id": cid,
        "full_name": "Siti Aminah",
        "sex": "female",
        "nik": "3204124501900001",
        "phone": "+6281234567890",
        "consent_purposes": ["program_participation", "needs_assessment"],
    }
    person = await post(admin, f"{API}/people", w.bodies["people"])
    w.ids["person_id"] = person["id"]
    w.bodies["people"] = {**w.bodies["people"], "nik": "3204124501900002", "full_name": "Ani"}
    w.bodies["needs_assessments"] = {
        "community_id": cid,
        "title": "Kajian air bersih",
        "methods": ["survey"],
    }
    assessment = await post(admin, f"{API}/needs-assessments", w.bodies["needs_assessments"])
    aid = w.ids["assessment_id"] = assessment["id"]
    w.bodies["findings"] = {"kind": "problem", "category": "health", "title": "Air sulit"}
    w.ids["finding_id"] = (
        await post(admin, f"{API}/needs-assessments/{aid}/findings", w.bodies["findings"])
    )["id"]
    w.bodies["ballots"] = {"person_id": w.ids["person_id"], "ranking": [w.ids["finding_id"]]}
    w.bodies["programs"] = {
        "title": "Penguatan BUMDes",
        "community_ids": [cid],
        "start_date": "2025-01-01",
        "end_date": "2025-12-31",
    }
    pid = w.ids["program_id"] = (await post(admin, f"{API}/programs", w.bodies["programs"]))["id"]
    w.bodies["activities"] = {
        "title": "Pelatihan",
        "kind": "training",
        "community_id": cid,
        "scheduled_start": "2025-03-01T09:00:00+07:00",
        "scheduled_end": "2025-03-03T17:00:00+07:00",
    }
    w.ids["activity_id"] = (
        await post(admin, f"{API}/programs/{pid}/activities", w.bodies["activities"])
    )["id"]
    w.bodies["indicators"] = {"name": "Akses air", "unit": "KK", "baseline": 10, "target": 80}
    iid = w.ids["indicator_id"] = (
        await post(admin, f"{API}/programs/{pid}/indicators", w.bodies["indicators"])
    )["id"]
    w.bodies["measurements"] = {"measured_on": "2025-03-01", "value": 12}
    w.ids["measurement_id"] = (
        await post(
            admin, f"{API}/programs/{pid}/indicators/{iid}/measurements", w.bodies["measurements"]
        )
    )["id"]
    w.bodies["budget_lines"] = {
        "description": "Honor narasumber",
        "quantity": 2,
        "unit": "OJ",
        "unit_cost_amount": 500_000,
    }
    w.ids["line_id"] = (
        await post(admin, f"{API}/programs/{pid}/budget-lines", w.bodies["budget_lines"])
    )["id"]
    w.bodies["participation_records"] = {
        "person_id": w.ids["person_id"],
        "date": "2025-03-01",
        "level": "involve",
        "role": "beneficiary",
        "activity_id": w.ids["activity_id"],
    }
    w.ids["record_id"] = (
        await post(admin, f"{API}/participation-records", w.bodies["participation_records"])
    )["id"]
    w.bodies["partners"] = {"name": "Yayasan Air", "kind": "ngo"}
    partner = await post(admin, f"{API}/partners", w.bodies["partners"])
    w.ids["partner_id"] = partner["id"]
    w.org = uuid.UUID(partner["id"])
    w.bodies["partnerships"] = {
        "partner_id": partner["id"],
        "program_id": pid,
        "role": "funder",
    }
    ship = await post(admin, f"{API}/partnerships", w.bodies["partnerships"])
    w.ids["partnership_id"] = ship["id"]
    w.bodies["partnerships"] = {**w.bodies["partnerships"], "role": "implementer"}
    r = await admin.post(f"{API}/partnerships/{ship['id']}/transitions", json={"to": "active"})
    assert r.status_code == 200, r.text
    w.bodies["contributions"] = {"kind": "funds", "amount": 1000, "contributed_on": "2025-03-01"}
    w.ids["contribution_id"] = (
        await post(
            admin, f"{API}/partnerships/{ship['id']}/contributions", w.bodies["contributions"]
        )
    )["id"]
    w.bodies["service_accounts"] = {"name": "Sistem CSR", "organization_id": partner["id"]}
    w.ids["account_id"] = (
        await post(admin, f"{API}/service-accounts", w.bodies["service_accounts"])
    )["id"]
    w.bodies["planning_proposals"] = {
        "community_id": cid,
        "title": "Sumur bor Dusun Krajan",
        "planning_year": 2026,
        "origin_forum": "musdus",
        "bidang": 2,
        "estimated_cost_amount": 185_000_000,
        "proposed_funding_source": "dana_desa",
    }
    prop = w.ids["proposal_id"] = (
        await post(admin, f"{API}/planning-proposals", w.bodies["planning_proposals"])
    )["id"]
    w.bodies["proposal_funding"] = {
        "fiscal_year": 2026,
        "source": "dana_desa",
        "planned_amount": 150_000_000,
    }
    w.ids["funding_id"] = (
        await post(admin, f"{API}/planning-proposals/{prop}/funding", w.bodies["proposal_funding"])
    )["id"]
    w.bodies["webhook_endpoints"] = {
        "url": "https://sistem.yayasan-air.example/berdaya",
        "event_types": ["*"],
        "organization_id": partner["id"],
    }
    w.ids["endpoint_id"] = (
        await post(admin, f"{API}/webhook-endpoints", w.bodies["webhook_endpoints"])
    )["id"]
    w.ids["delivery_id"] = str(uuid.uuid4())
    w.bodies["users"] = {
        "email": f"baru-{uuid.uuid4().hex[:6]}@berdaya.id",
        "full_name": "Pengguna Baru",
        "role": "analyst",
        "password": PASSWORD,
    }
    target = await make_user(Role.facilitator)
    w.ids["user_id"] = str(target.id)
    w.clients[Role.admin] = admin
    w.clients[Role.coordinator] = as_user(await make_user(Role.coordinator))
    w.clients[Role.facilitator] = as_user(
        await make_user(Role.facilitator, communities=[uuid.UUID(cid)])
    )
    w.clients[Role.analyst] = as_user(await make_user(Role.analyst))
    w.clients[Role.partner] = as_user(await make_user(Role.partner, organization_id=w.org))
    return w


# ============================================================================================
# API1:2023 Broken Object Level Authorization
# Deeper: tests/partners/test_partners.py::test_scoping_matrix (every resource x partner org),
# tests/platform/test_conventions.py::test_facilitator_sees_only_assigned_communities,
# tests/people/test_people.py.
# ============================================================================================


async def test_api1_facilitator_cannot_reach_another_communitys_objects(
    world: World, admin: httpx.AsyncClient, make_user: Any, as_user: Any
) -> None:
    outsider = as_user(
        await make_user(Role.facilitator, communities=[uuid.UUID(world.ids["other_community_id"])])
    )
    for url in (
        f"/communities/{world.ids['community_id']}",
        f"/people/{world.ids['person_id']}",
        f"/needs-assessments/{world.ids['assessment_id']}",
        f"/programs/{world.ids['program_id']}",
        f"/participation-records/{world.ids['record_id']}",
    ):
        assert_problem(await outsider.get(API + url), 404)
        # and writing to it answers the same 404: no existence leak
        assert_problem(await outsider.patch(API + url, json={}), 404)


async def test_api1_partner_of_another_organisation_sees_nothing(
    app: Any, world: World, make_user: Any, as_user: Any
) -> None:
    stranger = as_user(await make_user(Role.partner, organization_id=await make_partner_org(app)))
    for url in (
        f"/programs/{world.ids['program_id']}",
        f"/partnerships/{world.ids['partnership_id']}",
        f"/partnerships/{world.ids['partnership_id']}/contributions/{world.ids['contribution_id']}",
        f"/communities/{world.ids['community_id']}",
        f"/partners/{world.ids['partner_id']}",
    ):
        assert_problem(await stranger.get(API + url), 404)
    r = await stranger.get(f"{API}/partnerships")
    assert r.status_code == 200 and r.json()["items"] == []
    # the partner of the partnership itself sees its program, never its people
    own = world.clients[Role.partner]
    assert (await own.get(f"{API}/programs/{world.ids['program_id']}")).status_code == 200
    assert_problem(await own.get(f"{API}/people/{world.ids['person_id']}"), 404)


async def test_api1_ids_are_not_guessable_and_foreign_ids_in_bodies_are_checked(
    world: World,
) -> None:
    assert uuid.UUID(world.ids["person_id"]).version == 7
    fac = world.clients[Role.facilitator]
    # a facilitator of A files a person into B by naming B's id in the body
    body = {**world.bodies["people"], "community_id": world.ids["other_community_id"]}
    body["nik"] = "3204124501900009"
    r = await fac.post(f"{API}/people", json=body)
    assert r.status_code in (403, 404, 422), r.text


# ============================================================================================
# API2:2023 Broken Authentication
# Deeper: tests/auth/test_auth.py (alg none/HS256/confusion, tampering, expiry, aud/iss/kid/typ,
# refresh rotation and reuse detection, revocation, account and address throttling).
# ============================================================================================


async def test_api2_forged_and_unsigned_tokens_are_401(
    client: httpx.AsyncClient, make_user: Any
) -> None:
    user = await make_user(Role.admin)
    claims = {"sub": str(user.id), "iss": "berdaya", "aud": "berdaya-api", "exp": 4102444800}
    forged = [
        jwt.encode(claims, "secret", algorithm="HS256"),
        jwt.encode(claims, "", algorithm="HS256").rsplit(".", 1)[0] + ".",
        "not-a-jwt",
        "",
    ]
    for token in forged:
        r = await client.get(f"{API}/auth/me", headers={"Authorization": f"Bearer {token}"})
        body = assert_problem(r, 401)
        assert r.headers["www-authenticate"] == "Bearer"
        assert "secret" not in json.dumps(body)


async def test_api2_login_is_throttled_and_answers_do_not_leak_accounts(
    client: httpx.AsyncClient, make_user: Any
) -> None:
    user = await make_user(Role.coordinator)
    wrong = await client.post(
        f"{API}/auth/token",
        data={"grant_type": "password", "username": user.email, "password": "x" * 12},
    )
    unknown = await client.post(
        f"{API}/auth/token",
        data={"grant_type": "password", "username": "nobody@berdaya.id", "password": "x" * 12},
    )
    assert assert_problem(wrong, 401)["detail"] == assert_problem(unknown, 401)["detail"]
    for _ in range(5):
        await client.post(
            f"{API}/auth/token",
            data={"grant_type": "password", "username": user.email, "password": "y" * 12},
        )
    r = await client.post(
        f"{API}/auth/token",
        data={"grant_type": "password", "username": user.email, "password": PASSWORD},
    )
    assert_problem(r, 429)
    assert int(r.headers["retry-after"]) >= 1


async def test_api2_disabled_user_is_locked_out_at_once(
    app: Any, admin: httpx.AsyncClient, client: httpx.AsyncClient, make_user: Any
) -> None:
    user = await make_user(Role.coordinator)
    headers = {"Authorization": f"Bearer {token_for(app, user.id)}"}
    assert (await client.get(f"{API}/auth/me", headers=headers)).status_code == 200
    current = await admin.get(f"{API}/users/{user.id}")
    r = await admin.patch(
        f"{API}/users/{user.id}",
        json={"is_active": False},
        headers={"If-Match": current.headers["etag"]},
    )
    assert r.status_code == 200, r.text
    assert_problem(await client.get(f"{API}/auth/me", headers=headers), 401)


# ============================================================================================
# API3:2023 Broken Object Property Level Authorization
# Deeper: tests/platform/test_conventions.py::test_read_only_or_unknown_fields_are_422,
# tests/people/test_people.py (pseudonymised analyst view, masked NIK),
# tests/programs/test_budget.py (budget_amount read-only).
# ============================================================================================

MASS_ASSIGNMENT = [
    ("POST", "/communities", "id", str(uuid.uuid4())),
    ("POST", "/communities", "created_at", "2020-01-01T00:00:00Z"),
    ("POST", "/communities", "version", 99),
    ("POST", "/communities", "deleted_at", "2020-01-01T00:00:00Z"),
    ("POST", "/people", "person_key", "x"),
    ("POST", "/people", "organization_id", str(uuid.uuid4())),
    ("POST", "/people", "role", "admin"),
    ("POST", "/programs", "budget_amount", 1),
    ("POST", "/programs", "status", "approved"),
    ("POST", "/needs-assessments", "status", "validated"),
    ("POST", "/partnerships", "status", "active"),
    ("POST", "/service-accounts", "role", "admin"),
    ("POST", "/service-accounts", "client_id", "sa_chosen"),
    ("PATCH", "/programs/{program_id}", "budget_amount", 1),
    ("PATCH", "/programs/{program_id}", "status", "approved"),
    ("PATCH", "/needs-assessments/{assessment_id}", "status", "validated"),
    ("PATCH", "/needs-assessments/{assessment_id}/findings/{finding_id}", "priority_rank", 1),
    ("PATCH", "/partnerships/{partnership_id}", "status", "completed"),
    ("PATCH", "/communities/{community_id}", "id", str(uuid.uuid4())),
    ("PATCH", "/communities/{community_id}", "updated_at", "2020-01-01T00:00:00Z"),
    ("PATCH", "/people/{person_id}", "nik_hash", "0" * 64),
    ("PATCH", "/users/{user_id}", "email", "taken@berdaya.id"),
    ("PATCH", "/users/{user_id}", "password_hash", "x"),
]

BODY_OF = {
    "/communities": "communities",
    "/people": "people",
    "/programs": "programs",
    "/needs-assessments": "needs_assessments",
    "/partnerships": "partnerships",
    "/service-accounts": "service_accounts",
}


@pytest.mark.parametrize(("method", "path", "name", "value"), MASS_ASSIGNMENT)
async def test_api3_mass_assignment_is_422(
    world: World, admin: httpx.AsyncClient, method: str, path: str, name: str, value: Any
) -> None:
    if method == "POST":
        body = dict(
            world.bodies.get(
                BODY_OF[path], {"name": "Desa X", "kind": "desa", "region_code": "32.04.12.2001"}
            )
        )
    else:
        body = {}
    body[name] = value
    r = await admin.request(method, API + path.format(**world.ids), json=body)
    issues = assert_problem(r, 422)["errors"]
    assert any(name in issue["loc"] for issue in issues), issues


async def test_api3_personal_fields_follow_the_role(world: World) -> None:
    pid = world.ids["person_id"]
    analyst = (await world.clients[Role.analyst].get(f"{API}/people/{pid}")).json()
    assert "person_key" in analyst
    for secret in ("full_name", "nik", "phone"):
        assert analyst.get(secret) in (None, "*" * 12 + "0001") or secret not in analyst
    assert "3204124501900001" not in json.dumps(analyst)
    coordinator = (await world.clients[Role.coordinator].get(f"{API}/people/{pid}")).json()
    assert coordinator["full_name"] == "Siti Aminah"
    assert "3204124501900001" not in json.dumps(coordinator)  # masked unless asked by an admin
    assert_problem(await world.clients[Role.partner].get(f"{API}/people"), 403)


# ============================================================================================
# API4:2023 Unrestricted Resource Consumption
# Deeper: tests/platform/test_conventions.py (413 by header and while streaming, limit 500),
# tests/participation/test_batch.py, tests/platform/test_faults.py (pool exhaustion -> 503).
# ============================================================================================


async def test_api4_page_size_is_capped(admin: httpx.AsyncClient) -> None:
    for url in ("/communities", "/people", "/programs", "/audit-events", "/partners"):
        assert_problem(await admin.get(API + url, params={"limit": 501}), 422)
        assert_problem(await admin.get(API + url, params={"limit": 10**12}), 422)


async def test_api4_body_over_one_mib_is_413(admin: httpx.AsyncClient) -> None:
    big = {"name": "x" * (1024 * 1024 + 1), "kind": "desa", "region_code": "32.04.12.2001"}
    assert_problem(await admin.post(f"{API}/communities", json=big), 413)


async def test_api4_deeply_nested_json_is_4xx_not_5xx(admin: httpx.AsyncClient) -> None:
    depth = 10_000
    nested = "[" * depth + "]" * depth
    for method, url in (("POST", "/communities"), ("POST", "/participation-records/batch")):
        r = await admin.request(
            method, API + url, content=nested, headers={"Content-Type": "application/json"}
        )
        assert 400 <= r.status_code < 500, (r.status_code, r.text[:300])
        assert r.headers["content-type"].startswith(PROBLEM)
    deep_object = '{"a":' * depth + "1" + "}" * depth
    r = await admin.post(
        f"{API}/communities", content=deep_object, headers={"Content-Type": "application/json"}
    )
    assert 400 <= r.status_code < 500


async def test_api4_batch_over_1000_rows_is_rejected(
    world: World, admin: httpx.AsyncClient
) -> None:
    row = dict(world.bodies["participation_records"])
    r = await admin.post(f"{API}/participation-records/batch", json={"rows": [row] * 1001})
    assert r.status_code in (413, 422), r.text[:300]
    assert r.headers["content-type"].startswith(PROBLEM)


async def _service_token(client: httpx.AsyncClient, admin: httpx.AsyncClient, org: Any) -> str:
    account = await service_account(admin, org, name="Sistem Mitra")
    return await service_token(client, account["client_id"], account["client_secret"])


async def test_api4_partner_service_accounts_are_rate_limited(
    app: Any, settings: Settings, client: httpx.AsyncClient, admin: httpx.AsyncClient
) -> None:
    token = await _service_token(client, admin, await make_partner_org(app))
    headers = {"Authorization": f"Bearer {token}"}
    saved = settings.partner_rate_limit_per_minute
    settings.partner_rate_limit_per_minute = 5
    second = create_app(settings)  # another worker: the counter lives in PostgreSQL
    try:
        async with second.router.lifespan_context(second):
            other = httpx.AsyncClient(
                transport=httpx.ASGITransport(app=second), base_url="http://test"
            )
            # The window is a clock minute: do not start a few seconds before it turns.
            left = 60 - time.time() % 60
            if left < 5:
                await asyncio.sleep(left + 0.1)
            seen = []
            for n in range(5):
                target = client if n % 2 == 0 else other
                r = await target.get(f"{API}/programs", headers=headers)
                assert r.status_code == 200, r.text
                assert r.headers["ratelimit-limit"] == "5"
                seen.append(int(r.headers["ratelimit-remaining"]))
                assert 1 <= int(r.headers["ratelimit-reset"]) <= 60
            assert seen == [4, 3, 2, 1, 0]
            for target in (client, other):
                r = await target.get(f"{API}/programs", headers=headers)
                body = assert_problem(r, 429)
                assert body["type"].endswith("too-many-requests")
                assert 1 <= int(r.headers["retry-after"]) <= 60
                assert r.headers["ratelimit-limit"] == "5"
                assert r.headers["ratelimit-remaining"] == "0"
                assert r.headers["ratelimit-reset"] == r.headers["retry-after"]
            await other.aclose()
    finally:
        settings.partner_rate_limit_per_minute = saved
    # people (users) are not limited by this counter
    for _ in range(8):
        assert (await admin.get(f"{API}/programs")).status_code == 200
        assert "ratelimit-limit" not in (await admin.get(f"{API}/programs")).headers


async def test_api4_rate_limit_window_resets(
    app: Any, settings: Settings, client: httpx.AsyncClient, admin: httpx.AsyncClient, raw_db: Any
) -> None:
    token = await _service_token(client, admin, await make_partner_org(app))
    headers = {"Authorization": f"Bearer {token}"}
    saved = settings.partner_rate_limit_per_minute
    settings.partner_rate_limit_per_minute = 1
    try:
        assert (await client.get(f"{API}/programs", headers=headers)).status_code == 200
        assert_problem(await client.get(f"{API}/programs", headers=headers), 429)
        # the next window (simulated by ageing the stored window) starts from zero
        await raw_db.execute(
            "UPDATE rate_limit_counters SET window_start = window_start - interval '1 minute'"
        )
        assert (await client.get(f"{API}/programs", headers=headers)).status_code == 200
    finally:
        settings.partner_rate_limit_per_minute = saved


# ============================================================================================
# API5:2023 Broken Function Level Authorization
# Every write endpoint of the app x every role the policy does not allow -> 403 or 404.
# Deeper: tests/partners/test_service_accounts.py::test_only_admins_manage_service_accounts and
# the per-resource role tests in each module.
# ============================================================================================

WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
SPECIAL: dict[str, tuple[str, str]] = {
    "people-lookup": ("people_lookup", READ),
    "people-erasure": ("people", ERASE),
    "participation-records-batch": ("participation_records", WRITE),
    "community-facilitators-assign": ("community_facilitators", WRITE),
    "community-facilitators-unassign": ("community_facilitators", WRITE),
    "ballots-create": ("ballots", WRITE),
    "ballots-withdraw": ("ballots", WRITE),
    "service-accounts-rotate": ("service_accounts", WRITE),
    "service-accounts-revoke": ("service_accounts", WRITE),
    "sync-push": ("sync", WRITE),
    "planning-proposals-carry-over": ("planning_proposals", WRITE),
    "needs-assessments-draft-proposals": ("planning_proposals", WRITE),
    "webhook-endpoints-rotate-secret": ("webhook_endpoints", WRITE),
    "webhook-endpoints-test": ("webhook_endpoints", WRITE),
    "webhook-endpoints-replay": ("webhook_endpoints", WRITE),
    "webhook-deliveries-retry": ("webhook_endpoints", WRITE),
}
SUFFIX_ACTION = {
    "create": WRITE,
    "update": WRITE,
    "transition": WRITE,
    "delete": DELETE,
    "restore": RESTORE,
    "put": WRITE,  # create or replace with a client-made id (API.md §6)
}
PUBLIC_WRITES = {"auth-token", "auth-revoke"}  # anyone; the revoke acts on the caller's own token
TRANSITION_TO = {
    "programs": "submitted",
    "needs_assessments": "in_progress",
    "partnerships": "completed",
    "planning_proposals": "agreed",
}


def api_routes(app: Any) -> list[Any]:
    """The app's operations with their full paths (FastAPI nests included routers)."""
    contexts = getattr(routing, "iter_route_contexts", None)
    routes = list(contexts(app.routes)) if contexts else list(app.routes)
    return [r for r in routes if isinstance(getattr(r, "original_route", r), APIRoute)]


def write_routes(app: Any) -> list[Any]:
    return [
        r
        for r in api_routes(app)
        if r.path.startswith(API) and r.methods & WRITE_METHODS and r.name not in PUBLIC_WRITES
    ]


def resource_action(name: str) -> tuple[str, str]:
    if name in SPECIAL:
        return SPECIAL[name]
    prefix, _, suffix = name.rpartition("-")
    return prefix.replace("-", "_"), SUFFIX_ACTION[suffix]


def test_api5_every_write_route_maps_to_a_policy_entry(app: Any) -> None:
    routes = write_routes(app)
    assert len(routes) > 40
    for route in routes:
        key = resource_action(route.name)
        assert key in PERMISSIONS, (route.name, key)


def _request_for(route: Any, world: World) -> tuple[str, str, dict[str, Any] | None]:
    method = sorted(route.methods & WRITE_METHODS)[0]
    ids = dict(world.ids)
    path = route.path.format(**ids)
    resource, _ = resource_action(route.name)
    suffix = route.name.rpartition("-")[2]
    body: dict[str, Any] | None = None
    if route.name == "people-lookup":
        body = {"nik": "3204124501900001"}
    elif route.name == "participation-records-batch":
        body = {"rows": [world.bodies["participation_records"]]}
    elif route.name == "sync-push":
        mutation = {"mutation_id": "m-1", "resource": "people", "op": "delete"}
        body = {"device_id": "hp-uji", "mutations": [{**mutation, "id": world.ids["person_id"]}]}
    elif suffix in ("create", "put"):
        body = world.bodies[resource]
    elif suffix == "update":
        body = {}
    elif suffix == "transition":
        body = {"to": TRANSITION_TO[resource]}
        if resource == "planning_proposals":  # the forum's date is part of the move
            body["date"] = "2025-07-15"
    elif route.name == "needs-assessments-draft-proposals":
        body = {"top": 1, "planning_year": 2026}
    elif route.name == "webhook-endpoints-replay":
        body = {"since": "2025-01-01T00:00:00Z"}
    elif route.name in ("people-erasure",):
        body = None
    return method, path, body


async def test_api5_every_write_endpoint_refuses_every_role_the_policy_does_not_allow(
    app: Any, world: World, raw_db: Any
) -> None:
    before = await raw_db.fetchval("SELECT count(*) FROM audit_events")
    checked = 0
    for route in write_routes(app):
        key = resource_action(route.name)
        denied = [role for role in Role if role not in PERMISSIONS[key]]
        method, path, body = _request_for(route, world)
        for role in denied:
            r = await world.clients[role].request(
                method, path, **({"json": body} if body is not None else {})
            )
            assert r.status_code in (403, 404), (route.name, role.value, r.status_code, r.text)
            assert r.headers["content-type"].startswith(PROBLEM)
            checked += 1
    assert checked > 100
    # nothing was written by any of them
    assert await raw_db.fetchval("SELECT count(*) FROM audit_events") == before


ADMIN_ONLY_READS = ["/users", "/audit-events", "/service-accounts"]


@pytest.mark.parametrize("role", [Role.coordinator, Role.facilitator, Role.analyst, Role.partner])
async def test_api5_admin_only_reads(world: World, role: Role) -> None:
    for url in ADMIN_ONLY_READS:
        assert_problem(await world.clients[role].get(API + url), 403)


# ============================================================================================
# API6:2023 Unrestricted Access to Sensitive Business Flows
# Bulk export of everything is the sensitive flow: analysts and admins only, audited;
# identified people only for admins with a stated purpose. Deeper: tests/exports/test_exports.py.
# ============================================================================================


async def test_api6_bulk_export_needs_analyst_or_admin_and_is_audited(
    world: World, raw_db: Any
) -> None:
    for role in (Role.coordinator, Role.facilitator, Role.partner):
        assert_problem(await world.clients[role].get(f"{API}/exports/people"), 403)
        assert_problem(await world.clients[role].get(f"{API}/exports"), 403)
    r = await world.clients[Role.analyst].get(f"{API}/exports/people", params={"format": "json"})
    assert r.status_code == 200
    assert "Siti Aminah" not in r.text and "3204124501900001" not in r.text
    assert_problem(
        await world.clients[Role.analyst].get(
            f"{API}/exports/people", params={"identified": "true", "purpose": "penelitian"}
        ),
        403,
    )
    assert_problem(
        await world.clients[Role.admin].get(f"{API}/exports/people", params={"identified": "true"}),
        422,
    )
    r = await world.clients[Role.admin].get(
        f"{API}/exports/people",
        params={"identified": "true", "purpose": "permintaan subjek data", "format": "json"},
    )
    assert r.status_code == 200 and "Siti Aminah" in r.text
    actions = {
        row["action"]
        for row in await raw_db.fetch("SELECT action FROM audit_events WHERE resource = 'exports'")
    }
    assert {"export", "export_identified"} <= actions


async def test_api6_nik_lookup_is_post_only_and_not_for_analysts(world: World) -> None:
    assert_problem(
        await world.clients[Role.analyst].post(
            f"{API}/people/lookup", json={"nik": "3204124501900001"}
        ),
        403,
    )
    r = await world.clients[Role.admin].get(
        f"{API}/people/lookup", params={"nik": "3204124501900001"}
    )
    assert r.status_code in (404, 405, 422)  # no GET route: a NIK never travels in a URL
    assert "3204124501900001" not in r.text


# ============================================================================================
# API7:2023 Server Side Request Forgery
# Berdaya never fetches a URL it is given: partner websites are stored as data only.
# ============================================================================================

APP_DIR = Path(__file__).resolve().parents[2] / "app"
OUTBOUND_MODULES = {"httpx", "requests", "urllib.request", "aiohttp", "urllib3", "http.client"}


def test_api7_no_module_of_the_app_makes_outbound_http_requests() -> None:
    offenders = []
    for path in APP_DIR.rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [f"{path}: {n}" for n in names if n in OUTBOUND_MODULES]
    # Webhook deliveries (API.md §7) are the one outbound call: one module, which checks the
    # resolved address of every target (SSRF), follows no redirect and bounds time and size.
    allowed = [f"{APP_DIR / 'webhooks' / 'transport.py'}: httpx"]
    assert offenders == allowed


async def test_api7_urls_are_validated_and_only_stored(admin: httpx.AsyncClient) -> None:
    for website in ("file:///etc/passwd", "gopher://127.0.0.1:6379/_INFO", "javascript:alert(1)"):
        r = await admin.post(
            f"{API}/partners", json={"name": "X", "kind": "ngo", "website": website}
        )
        assert_problem(r, 422)
    r = await admin.post(
        f"{API}/partners",
        json={"name": "Meta", "kind": "ngo", "website": "http://169.254.169.254/latest/meta-data"},
    )
    assert r.status_code == 201  # stored as text, never requested by the server


# ============================================================================================
# API8:2023 Security Misconfiguration
# Deeper: tests/platform/test_conventions.py (security headers, CORS preflight and refusal,
# clean 500s).
# ============================================================================================


def test_api8_cors_wildcard_is_refused_by_configuration() -> None:
    with pytest.raises(ValidationError):
        Settings(_env_file=None, cors_origins=["*"])  # type: ignore[call-arg]
    with pytest.raises(ValidationError):
        Settings(_env_file=None, cors_origins="https://a.example,*")  # type: ignore[call-arg]


async def test_api8_cors_unlisted_origin_and_credentials(admin: httpx.AsyncClient) -> None:
    r = await admin.get(f"{API}/communities", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in r.headers
    r = await admin.options(
        f"{API}/communities",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "DELETE"},
    )
    assert_problem(r, 400)
    r = await admin.get(f"{API}/communities", headers={"Origin": "https://app.berdaya.id"})
    assert r.headers["access-control-allow-origin"] == "https://app.berdaya.id"
    assert "ratelimit-remaining" in r.headers["access-control-expose-headers"].lower()


async def test_api8_security_headers_everywhere(
    client: httpx.AsyncClient, admin: httpx.AsyncClient
) -> None:
    for r in (
        await client.get("/healthz"),
        await client.get(f"{API}/nowhere"),
        await admin.get(f"{API}/communities"),
        await client.get(f"{API}/auth/me"),
    ):
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["x-frame-options"] == "DENY"
        assert r.headers["referrer-policy"] == "no-referrer"
        assert "server" not in {k.lower() for k in r.headers if r.headers[k].startswith("uvicorn")}
    r = await admin.get(f"{API}/communities")
    assert r.headers["cache-control"] == "no-store"
    assert "default-src 'none'" in r.headers["content-security-policy"]


async def test_api8_production_hides_docs_and_sets_hsts(settings: Settings) -> None:
    prod = Settings(
        _env_file=None,  # type: ignore[call-arg]
        env="production",
        database_url=settings.database_url,
        data_dir=settings.data_dir,
        jwt_private_key=settings.jwt_private_key,
        pii_keys=settings.pii_keys,
        pii_hmac_key=settings.pii_hmac_key,
        pseudonym_key=settings.pseudonym_key,
        docs_enabled=False,
    )
    application = create_app(prod)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
            for url in ("/docs", "/openapi.json", "/redoc", "/docs/oauth2-redirect"):
                assert_problem(await c.get(url), 404)
            r = await c.get("/healthz")
            assert r.headers["strict-transport-security"].startswith("max-age=")
            r = await c.post(
                f"{API}/communities",
                content=b"{not json",
                headers={"Content-Type": "application/json"},
            )
            body = assert_problem(r, 401 if r.status_code == 401 else 422)
            assert "Traceback" not in json.dumps(body)


def test_api8_production_refuses_to_start_without_secrets(tmp_path: Path) -> None:
    from app.core.config import ConfigError

    with pytest.raises(ConfigError):
        create_app(
            Settings(
                _env_file=None,
                env="production",
                data_dir=tmp_path,
                database_url="postgresql://x@/y",
            )  # type: ignore[call-arg]
        )


async def test_api8_errors_never_echo_input_or_internals(
    admin: httpx.AsyncClient, world: World
) -> None:
    body = {**world.bodies["people"], "nik": "32041245019000XX"}
    r = await admin.post(f"{API}/people", json=body)
    assert "32041245019000XX" not in r.text
    r = await admin.get(f"{API}/communities", params={"q": "'; DROP TABLE communities; --"})
    assert r.status_code == 200
    r = await admin.post(
        f"{API}/communities",
        json={"name": "a\u0000b", "kind": "desa", "region_code": "32.04.12.2001"},
    )
    assert_problem(r, 422)
    assert_problem(await admin.get(f"{API}/communities", params={"q": "a\u0000b"}), 422)
    assert "sqlalchemy" not in r.text.lower() and "asyncpg" not in r.text.lower()


# ============================================================================================
# API9:2023 Improper Inventory Management
# Every route the app serves is documented and every documented operation exists; the
# committed document matches the app (tests/platform/test_openapi.py); no stray versions are served.
# ============================================================================================


def _app_operations(app: Any) -> set[tuple[str, str]]:
    ops = set()
    for route in api_routes(app):
        if route.include_in_schema:
            ops |= {(method, route.path) for method in route.methods if method != "HEAD"}
    return ops


def test_api9_every_route_is_documented_and_every_documented_route_exists(app: Any) -> None:
    document = app.openapi()
    documented = {
        (method.upper(), path)
        for path, item in document["paths"].items()
        for method in item
        if method in ("get", "post", "put", "patch", "delete")
    }
    served = _app_operations(app)
    assert served == documented
    hidden = [r.path for r in app.routes if isinstance(r, APIRoute) and not r.include_in_schema]
    assert hidden == []
    committed = json.loads((APP_DIR.parent / "openapi" / "openapi.json").read_text())
    assert set(committed["paths"]) == set(document["paths"])


async def test_api9_no_other_api_versions_or_debug_routes(client: httpx.AsyncClient) -> None:
    for url in (
        "/api/v0/communities",
        "/api/v2/communities",
        "/api/communities",
        "/debug",
        "/admin",
        "/metrics",
        "/.env",
    ):
        assert_problem(await client.get(url), 404)


# ============================================================================================
# API10:2023 Unsafe Consumption of APIs
# What partner systems send (service accounts, batch uploads) is validated exactly like
# anything else; nothing they send is trusted or executed.
# ============================================================================================


async def test_api10_partner_system_input_is_validated(
    world: World, client: httpx.AsyncClient, admin: httpx.AsyncClient
) -> None:
    assert world.org is not None
    token = await _service_token(client, admin, world.org)
    machine = {"Authorization": f"Bearer {token}"}
    url = f"{API}/partnerships/{world.ids['partnership_id']}/contributions"
    for bad in (
        {"kind": "funds", "amount": -1, "contributed_on": "2025-03-01"},
        {"kind": "funds", "amount": 2**63, "contributed_on": "2025-03-01"},
        {"kind": "bitcoin", "amount": 1, "contributed_on": "2025-03-01"},
        {"kind": "funds", "amount": 1, "contributed_on": "2025-02-30"},
        {
            "kind": "funds",
            "amount": 1,
            "contributed_on": "2025-03-01",
            "recorded_by": str(uuid.uuid4()),
        },
        {
            "kind": "funds",
            "amount": 1,
            "contributed_on": "2025-03-01",
            "partnership_id": str(uuid.uuid4()),
        },
    ):
        assert_problem(await client.post(url, json=bad, headers=machine), 422)
    markup = "<script>alert(1)</script>"
    r = await client.post(
        url,
        json={"kind": "funds", "amount": 1, "contributed_on": "2025-03-01", "description": markup},
        headers=machine,
    )
    assert r.status_code == 201, r.text
    assert r.headers["content-type"].startswith("application/json")  # data, never rendered


async def test_api10_batch_rows_are_validated_row_by_row(
    world: World, admin: httpx.AsyncClient
) -> None:
    good = dict(world.bodies["participation_records"])
    bad = {**good, "level": "dominate"}
    r = await admin.post(
        f"{API}/participation-records/batch", params={"atomic": "true"}, json={"rows": [bad]}
    )
    assert 400 <= r.status_code < 500 or r.status_code == 200
    assert "traceback" not in r.text.lower()
