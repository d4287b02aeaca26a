"""Partners, partnerships, contributions and service accounts: the scoping matrix of every
role over every resource, the lifecycle of partnerships (and what a terminated one hides),
service-account credentials (shown once, rotation with a grace period, revocation),
contribution rules and sums, partner CRUD and filters, and the partners in the KAK."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
import pytest

from app.auth.models import Role
from tests.conftest import PASSWORD, make_partner_org

API = "/api/v1"
PROGRAMS = f"{API}/programs"
PARTNERS = f"{API}/partners"
PARTNERSHIPS = f"{API}/partnerships"
ACCOUNTS = f"{API}/service-accounts"
PEOPLE = f"{API}/people"
RECORDS = f"{API}/participation-records"
COMMUNITIES = f"{API}/communities"
TOKEN = f"{API}/auth/token"

MakeCommunity = Callable[..., Awaitable[dict[str, Any]]]
MakeUser = Callable[..., Awaitable[Any]]
AsUser = Callable[[Any], httpx.AsyncClient]
Bearer = Callable[[str], httpx.AsyncClient]


# --- helpers ----------------------------------------------------------------------------------


async def post(client: httpx.AsyncClient, url: str, body: dict[str, Any]) -> dict[str, Any]:
    r = await client.post(url, json=body)
    assert r.status_code == 201, r.text
    created: dict[str, Any] = r.json()
    return created


async def move(client: httpx.AsyncClient, partnership_id: str, to: str) -> httpx.Response:
    return await client.post(f"{PARTNERSHIPS}/{partnership_id}/transitions", json={"to": to})


async def move_ok(client: httpx.AsyncClient, partnership_id: str, *path: str) -> dict[str, Any]:
    body: dict[str, Any] = {}
    for to in path:
        r = await move(client, partnership_id, to)
        assert r.status_code == 200, r.text
        body = r.json()
    return body


async def make_partner(client: httpx.AsyncClient, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"name": f"Yayasan Uji {uuid.uuid4().hex[:6]}", "kind": "ngo"}
    body.update(overrides)
    return await post(client, PARTNERS, body)


async def make_program(
    client: httpx.AsyncClient, community_ids: list[str], **overrides: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "title": "Penguatan BUMDes Air Bersih",
        "community_ids": community_ids,
        "start_date": "2025-01-01",
        "end_date": "2025-12-31",
    }
    body.update(overrides)
    return await post(client, PROGRAMS, body)


async def make_partnership(
    client: httpx.AsyncClient, partner_id: str, program_id: str, **overrides: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "partner_id": partner_id,
        "program_id": program_id,
        "role": "funder",
        "start_date": "2025-01-01",
        "end_date": "2025-12-31",
        "commitment_amount": 50_000_000,
    }
    body.update(overrides)
    return await post(client, PARTNERSHIPS, body)


def contribution(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"kind": "funds", "amount": 1_000_000, "contributed_on": "2025-03-01"}
    body.update(overrides)
    return body


async def client_credentials(
    client: httpx.AsyncClient, client_id: str, client_secret: str
) -> httpx.Response:
    return await client.post(
        TOKEN,
        data={
            "grant_type": "client_credentials",
            "client_id": client_id,
            "client_secret": client_secret,
        },
    )


async def service_token(client: httpx.AsyncClient, client_id: str, client_secret: str) -> str:
    r = await client_credentials(client, client_id, client_secret)
    assert r.status_code == 200, r.text
    assert r.json()["token_type"] == "bearer"
    token: str = r.json()["access_token"]
    return token


def jwt_claims(token: str) -> dict[str, Any]:
    """The payload of a JWT, decoded without verifying the signature."""
    payload = token.split(".")[1]
    payload += "=" * (-len(payload) % 4)
    claims: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload))
    return claims


def ids(response: httpx.Response) -> set[str]:
    assert response.status_code == 200, response.text
    return {item["id"] for item in response.json()["items"]}


def comparable(problem: httpx.Response) -> dict[str, Any]:
    """A problem body without the per-request parts."""
    return {k: v for k, v in problem.json().items() if k not in ("request_id", "instance")}


@pytest.fixture
async def bearer(client: httpx.AsyncClient) -> AsyncIterator[Bearer]:
    """A client sending a given access token (e.g. a service account's)."""
    clients: list[httpx.AsyncClient] = []

    def _make(token: str) -> httpx.AsyncClient:
        authed = httpx.AsyncClient(
            transport=client._transport,
            base_url="http://test",
            headers={"Authorization": f"Bearer {token}"},
        )
        clients.append(authed)
        return authed

    yield _make
    for authed in clients:
        await authed.aclose()


async def service_account(
    admin: httpx.AsyncClient, organization_id: str | uuid.UUID, name: str = "Sistem CSR"
) -> dict[str, Any]:
    return await post(admin, ACCOUNTS, {"name": name, "organization_id": str(organization_id)})


# --- the world of the scoping matrix ---------------------------------------------------------


@dataclass
class Side:
    """Everything hanging off one partner organisation's program."""

    partner: str
    community: str
    program: str
    activity: str
    indicator: str
    measurement: str
    budget_line: str
    partnership: str
    contribution: str
    person: str
    record: str


@dataclass
class World:
    sides: dict[str, Side]


async def build_side(admin: httpx.AsyncClient, make_community: MakeCommunity, tag: str) -> Side:
    partner = await make_partner(admin, name=f"Mitra {tag}")
    community = (await make_community(name=f"Desa {tag}"))["id"]
    program = (await make_program(admin, [community], title=f"Program {tag}"))["id"]
    activity = (
        await post(
            admin,
            f"{PROGRAMS}/{program}/activities",
            {
                "title": f"Pelatihan {tag}",
                "kind": "training",
                "community_id": community,
                "scheduled_start": "2025-03-01T09:00:00+07:00",
                "scheduled_end": "2025-03-03T17:00:00+07:00",
            },
        )
    )["id"]
    indicator = (
        await post(
            admin,
            f"{PROGRAMS}/{program}/indicators",
            {"name": "Rumah tangga dengan air", "unit": "KK", "baseline": 10, "target": 80},
        )
    )["id"]
    measurement = (
        await post(
            admin,
            f"{PROGRAMS}/{program}/indicators/{indicator}/measurements",
            {"measured_on": "2025-03-10", "value": 20},
        )
    )["id"]
    budget_line = (
        await post(
            admin,
            f"{PROGRAMS}/{program}/budget-lines",
            {"description": "Honor narasumber", "quantity": 2, "unit": "OJ", "unit_cost_amount": 1},
        )
    )["id"]
    partnership = (await make_partnership(admin, partner["id"], program))["id"]
    await move_ok(admin, partnership, "active")
    contrib = (await post(admin, f"{PARTNERSHIPS}/{partnership}/contributions", contribution()))[
        "id"
    ]
    person = (
        await post(
            admin,
            PEOPLE,
            {
                "community_id": community,
                "full_name": f"Warga {tag}",
                "sex": "female",
                "consent_purposes": ["program_participation"],
            },
        )
    )["id"]
    record = (
        await post(
            admin,
            RECORDS,
            {
                "person_id": person,
                "activity_id": activity,
                "date": "2025-03-02",
                "level": "consult",
                "role": "beneficiary",
            },
        )
    )["id"]
    return Side(
        partner=partner["id"],
        community=community,
        program=program,
        activity=activity,
        indicator=indicator,
        measurement=measurement,
        budget_line=budget_line,
        partnership=partnership,
        contribution=contrib,
        person=person,
        record=record,
    )


@pytest.fixture
async def world(admin: httpx.AsyncClient, make_community: MakeCommunity) -> World:
    return World(
        sides={
            "A": await build_side(admin, make_community, "A"),
            "B": await build_side(admin, make_community, "B"),
        }
    )


@dataclass(frozen=True)
class Endpoint:
    """How to reach one resource of a side: its single-item URL, its id, and its list.

    ``nested`` lists live under a parent of the side (404 when the parent is unseen);
    top-level lists are one URL whose items are compared with the expected sides."""

    item: Callable[[Side], str]
    item_id: Callable[[Side], str]
    collection: Callable[[Side], str]
    nested: bool
    # further reads that follow the item's visibility (200 when seen, else 404)
    related: Callable[[Side], list[str]] = lambda s: []


def _p(s: Side) -> str:
    return f"{PROGRAMS}/{s.program}"


ENDPOINTS: dict[str, Endpoint] = {
    "programs": Endpoint(
        item=_p,
        item_id=lambda s: s.program,
        collection=lambda s: PROGRAMS,
        nested=False,
        related=lambda s: [f"{_p(s)}/transitions", f"{_p(s)}/terms-of-reference"],
    ),
    "activities": Endpoint(
        item=lambda s: f"{_p(s)}/activities/{s.activity}",
        item_id=lambda s: s.activity,
        collection=lambda s: f"{_p(s)}/activities",
        nested=True,
    ),
    "indicators": Endpoint(
        item=lambda s: f"{_p(s)}/indicators/{s.indicator}",
        item_id=lambda s: s.indicator,
        collection=lambda s: f"{_p(s)}/indicators",
        nested=True,
    ),
    "measurements": Endpoint(
        item=lambda s: f"{_p(s)}/indicators/{s.indicator}/measurements/{s.measurement}",
        item_id=lambda s: s.measurement,
        collection=lambda s: f"{_p(s)}/indicators/{s.indicator}/measurements",
        nested=True,
    ),
    "budget_lines": Endpoint(
        item=lambda s: f"{_p(s)}/budget-lines/{s.budget_line}",
        item_id=lambda s: s.budget_line,
        collection=lambda s: f"{_p(s)}/budget-lines",
        nested=True,
    ),
    "partnerships": Endpoint(
        item=lambda s: f"{PARTNERSHIPS}/{s.partnership}",
        item_id=lambda s: s.partnership,
        collection=lambda s: PARTNERSHIPS,
        nested=False,
        related=lambda s: [f"{PARTNERSHIPS}/{s.partnership}/transitions"],
    ),
    "contributions": Endpoint(
        item=lambda s: f"{PARTNERSHIPS}/{s.partnership}/contributions/{s.contribution}",
        item_id=lambda s: s.contribution,
        collection=lambda s: f"{PARTNERSHIPS}/{s.partnership}/contributions",
        nested=True,
    ),
    "communities": Endpoint(
        item=lambda s: f"{COMMUNITIES}/{s.community}",
        item_id=lambda s: s.community,
        collection=lambda s: COMMUNITIES,
        nested=False,
    ),
    "partners": Endpoint(
        item=lambda s: f"{PARTNERS}/{s.partner}",
        item_id=lambda s: s.partner,
        collection=lambda s: PARTNERS,
        nested=False,
    ),
    "people": Endpoint(
        item=lambda s: f"{PEOPLE}/{s.person}",
        item_id=lambda s: s.person,
        collection=lambda s: PEOPLE,
        nested=False,
    ),
    "participation_records": Endpoint(
        item=lambda s: f"{RECORDS}/{s.record}",
        item_id=lambda s: s.record,
        collection=lambda s: RECORDS,
        nested=False,
    ),
}

# What each principal sees: the sides ("A", "B") whose item answers 200 (the others 404);
# FORBIDDEN: the collection answers 403 and every single item 404 (personal data).
A, AB = frozenset("A"), frozenset("AB")
FORBIDDEN = "403"
Cell = frozenset[str] | str

COLUMNS = tuple(ENDPOINTS)


def row(*cells: Cell) -> dict[str, Cell]:
    assert len(cells) == len(COLUMNS)
    return dict(zip(COLUMNS, cells, strict=True))


# fmt: off
MATRIX: dict[str, dict[str, Cell]] = {
    # columns:          programs activities indicators measurements budget_lines
    #                   partnerships contributions communities partners people participation
    "partner_user":    row(A,  A,  A,  A,  A,    A,  A,  A,  A,     FORBIDDEN, FORBIDDEN),
    "partner_service": row(A,  A,  A,  A,  A,    A,  A,  A,  A,     FORBIDDEN, FORBIDDEN),
    "facilitator_a":   row(A,  A,  A,  A,  A,    A,  A,  A,  AB,    A,         A),
    "analyst":         row(AB, AB, AB, AB, AB,   AB, AB, AB, AB,    AB,        AB),
    "coordinator":     row(AB, AB, AB, AB, AB,   AB, AB, AB, AB,    AB,        AB),
    "admin":           row(AB, AB, AB, AB, AB,   AB, AB, AB, AB,    AB,        AB),
}
# fmt: on


async def principal_client(
    name: str,
    world: World,
    *,
    admin: httpx.AsyncClient,
    client: httpx.AsyncClient,
    make_user: MakeUser,
    as_user: AsUser,
    bearer: Bearer,
) -> httpx.AsyncClient:
    a = world.sides["A"]
    if name == "partner_user":
        return as_user(await make_user(Role.partner, organization_id=uuid.UUID(a.partner)))
    if name == "partner_service":
        account = await service_account(admin, a.partner)
        return bearer(await service_token(client, account["client_id"], account["client_secret"]))
    if name == "facilitator_a":
        return as_user(await make_user(Role.facilitator, communities=[uuid.UUID(a.community)]))
    if name == "admin":
        return admin
    return as_user(await make_user(Role(name)))


@pytest.mark.parametrize("principal", list(MATRIX))
async def test_scoping_matrix(
    principal: str,
    world: World,
    admin: httpx.AsyncClient,
    client: httpx.AsyncClient,
    make_user: MakeUser,
    as_user: AsUser,
    bearer: Bearer,
) -> None:
    caller = await principal_client(
        principal,
        world,
        admin=admin,
        client=client,
        make_user=make_user,
        as_user=as_user,
        bearer=bearer,
    )
    problems: list[str] = []

    def expect(what: str, got: Any, wanted: Any) -> None:
        if got != wanted:
            problems.append(f"{what}: got {got!r}, expected {wanted!r}")

    for resource, cell in MATRIX[principal].items():
        endpoint = ENDPOINTS[resource]
        visible = frozenset() if cell == FORBIDDEN else cell
        for tag, side in world.sides.items():
            # the single item
            r = await caller.get(endpoint.item(side))
            wanted = 200 if tag in visible else 404
            expect(f"GET {resource} {tag} (item)", r.status_code, wanted)
            if r.status_code == 200:
                expect(f"GET {resource} {tag} id", r.json()["id"], endpoint.item_id(side))
            for url in endpoint.related(side):
                expect(f"GET {url.removeprefix(API)}", (await caller.get(url)).status_code, wanted)
            # a list under a parent of this side
            if endpoint.nested:
                r = await caller.get(endpoint.collection(side))
                expect(f"GET {resource} {tag} (list)", r.status_code, wanted)
                if r.status_code == 200:
                    expect(
                        f"GET {resource} {tag} (list items)",
                        ids(r),
                        {endpoint.item_id(side)},
                    )
        if not endpoint.nested:
            r = await caller.get(endpoint.collection(world.sides["A"]))
            if cell == FORBIDDEN:
                expect(f"GET {resource} (list)", r.status_code, 403)
                continue
            expect(f"GET {resource} (list)", r.status_code, 200)
            if r.status_code == 200:
                expect(
                    f"GET {resource} (list items)",
                    ids(r),
                    {endpoint.item_id(world.sides[tag]) for tag in sorted(visible)},
                )
    assert not problems, f"{principal}:\n" + "\n".join(problems)


# --- partnerships and what they make visible ------------------------------------------------


async def test_terminated_partnership_hides_the_program_completed_keeps_it(
    world: World,
    coordinator: httpx.AsyncClient,
    make_user: MakeUser,
    as_user: AsUser,
) -> None:
    a = world.sides["A"]
    partner = as_user(await make_user(Role.partner, organization_id=uuid.UUID(a.partner)))
    assert (await partner.get(f"{PROGRAMS}/{a.program}")).status_code == 200

    # a second program of A whose partnership is completed: still visible afterwards
    other = (await make_program(coordinator, [a.community], title="Program lanjutan"))["id"]
    done = (await make_partnership(coordinator, a.partner, other))["id"]
    assert (await partner.get(f"{PROGRAMS}/{other}")).status_code == 200
    await move_ok(coordinator, done, "active", "completed")
    assert (await partner.get(f"{PROGRAMS}/{other}")).status_code == 200
    assert other in ids(await partner.get(PROGRAMS))
    assert (await partner.get(f"{PROGRAMS}/{other}/activities")).status_code == 200

    # terminate A's partnership on PA: PA and its sub-resources are gone for the partner
    await move_ok(coordinator, a.partnership, "terminated")
    assert (await partner.get(f"{PROGRAMS}/{a.program}")).status_code == 404
    assert a.program not in ids(await partner.get(PROGRAMS))
    for url in (
        f"{PROGRAMS}/{a.program}/activities",
        f"{PROGRAMS}/{a.program}/activities/{a.activity}",
        f"{PROGRAMS}/{a.program}/indicators/{a.indicator}",
        f"{PROGRAMS}/{a.program}/budget-lines/{a.budget_line}",
        f"{PROGRAMS}/{a.program}/terms-of-reference",
    ):
        assert (await partner.get(url)).status_code == 404, url
    # the community stays visible only through the completed program's partnership
    assert (await partner.get(f"{COMMUNITIES}/{a.community}")).status_code == 200
    assert (await partner.get(f"{PROGRAMS}/{other}")).status_code == 200
    # others are unaffected
    assert (await coordinator.get(f"{PROGRAMS}/{a.program}")).status_code == 200


async def test_terminated_partnership_hides_the_community_too(
    world: World, coordinator: httpx.AsyncClient, make_user: MakeUser, as_user: AsUser
) -> None:
    b = world.sides["B"]
    partner = as_user(await make_user(Role.partner, organization_id=uuid.UUID(b.partner)))
    assert (await partner.get(f"{COMMUNITIES}/{b.community}")).status_code == 200
    await move_ok(coordinator, b.partnership, "terminated")
    assert (await partner.get(f"{COMMUNITIES}/{b.community}")).status_code == 404
    assert (await partner.get(f"{PROGRAMS}/{b.program}")).status_code == 404
    assert ids(await partner.get(COMMUNITIES)) == set()


async def test_partnerships_one_per_partner_program_and_role(
    admin: httpx.AsyncClient, coordinator: httpx.AsyncClient, make_community: MakeCommunity
) -> None:
    community = (await make_community())["id"]
    program = (await make_program(admin, [community]))["id"]
    partner = (await make_partner(admin))["id"]
    first = await make_partnership(coordinator, partner, program, role="funder")
    assert first["status"] == "proposed"
    assert first["contributed_amount"] == 0
    r = await coordinator.post(
        PARTNERSHIPS, json={"partner_id": partner, "program_id": program, "role": "funder"}
    )
    assert r.status_code == 409, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    r = await coordinator.post(
        PARTNERSHIPS, json={"partner_id": partner, "program_id": program, "role": "implementer"}
    )
    assert r.status_code == 201, r.text
    # the role is free again once the first one is deleted; restoring the first then clashes
    assert (await coordinator.delete(f"{PARTNERSHIPS}/{first['id']}")).status_code == 204
    r = await coordinator.post(
        PARTNERSHIPS, json={"partner_id": partner, "program_id": program, "role": "funder"}
    )
    assert r.status_code == 201, r.text
    assert (await admin.post(f"{PARTNERSHIPS}/{first['id']}/restore")).status_code == 409
    # another partner may hold the same role in the same program
    other = (await make_partner(admin))["id"]
    await make_partnership(coordinator, other, program, role="funder")


async def test_partnership_transitions(
    admin: httpx.AsyncClient, coordinator: httpx.AsyncClient, make_community: MakeCommunity
) -> None:
    community = (await make_community())["id"]
    program = (await make_program(admin, [community]))["id"]
    partner = (await make_partner(admin))["id"]
    p = (await make_partnership(coordinator, partner, program, role="funder"))["id"]

    r = await move(coordinator, p, "completed")
    assert r.status_code == 409, r.text
    assert r.json()["allowed"] == ["active", "terminated"]
    r = await move(coordinator, p, "nonsense")
    assert r.status_code == 422, r.text
    assert (await move_ok(coordinator, p, "active"))["status"] == "active"
    r = await move(coordinator, p, "proposed")
    assert r.status_code == 409
    assert r.json()["allowed"] == ["completed", "terminated"]
    assert (await move_ok(admin, p, "completed"))["status"] == "completed"
    for to in ("active", "terminated", "proposed"):
        r = await move(coordinator, p, to)
        assert r.status_code == 409, to
        assert r.json()["allowed"] == []

    history = await coordinator.get(f"{PARTNERSHIPS}/{p}/transitions")
    assert history.status_code == 200
    assert [(t["from_status"], t["to_status"]) for t in history.json()] == [
        ("proposed", "active"),
        ("active", "completed"),
    ]

    # terminated from proposed, and from active; then nothing
    q = (await make_partnership(coordinator, partner, program, role="implementer"))["id"]
    assert (await move_ok(coordinator, q, "terminated"))["status"] == "terminated"
    r = await move(coordinator, q, "active")
    assert r.status_code == 409 and r.json()["allowed"] == []
    s = (await make_partnership(coordinator, partner, program, role="technical_support"))["id"]
    assert (await move_ok(coordinator, s, "active", "terminated"))["status"] == "terminated"
    assert (await coordinator.get(f"{PARTNERSHIPS}/{uuid.uuid4()}/transitions")).status_code == 404


async def test_only_coordinators_and_admins_create_and_move_partnerships(
    world: World,
    coordinator: httpx.AsyncClient,
    make_user: MakeUser,
    as_user: AsUser,
) -> None:
    a = world.sides["A"]
    partner = as_user(await make_user(Role.partner, organization_id=uuid.UUID(a.partner)))
    facilitator = as_user(await make_user(Role.facilitator, communities=[uuid.UUID(a.community)]))
    analyst = as_user(await make_user(Role.analyst))
    body = {"partner_id": a.partner, "program_id": a.program, "role": "implementer"}
    for caller in (partner, facilitator, analyst):
        assert (await caller.post(PARTNERSHIPS, json=body)).status_code == 403
        # visible to all three, so not allowed (403), not unseen (404)
        assert (await caller.get(f"{PARTNERSHIPS}/{a.partnership}")).status_code == 200
        assert (await move(caller, a.partnership, "completed")).status_code == 403
        r = await caller.patch(f"{PARTNERSHIPS}/{a.partnership}", json={"agreement_ref": "X"})
        assert r.status_code == 403
        assert (await caller.delete(f"{PARTNERSHIPS}/{a.partnership}")).status_code == 403
    # B's partnership is unseen by the partner of A and the facilitator of A: 404
    b = world.sides["B"]
    for caller in (partner, facilitator):
        assert (await move(caller, b.partnership, "completed")).status_code == 404
    got = await coordinator.get(f"{PARTNERSHIPS}/{a.partnership}")
    assert got.json()["status"] == "active"
    assert (await move(coordinator, a.partnership, "completed")).status_code == 200


async def test_partnership_validation(
    admin: httpx.AsyncClient, coordinator: httpx.AsyncClient, make_community: MakeCommunity
) -> None:
    community = (await make_community())["id"]
    program = (await make_program(admin, [community]))["id"]
    partner = (await make_partner(admin))["id"]
    base = {"partner_id": partner, "program_id": program, "role": "funder"}

    r = await coordinator.post(PARTNERSHIPS, json={**base, "partner_id": str(uuid.uuid4())})
    assert r.status_code == 422, r.text
    assert ["body", "partner_id"] in [e["loc"] for e in r.json().get("errors") or []]
    r = await coordinator.post(PARTNERSHIPS, json={**base, "program_id": str(uuid.uuid4())})
    assert r.status_code == 422, r.text
    assert ["body", "program_id"] in [e["loc"] for e in r.json().get("errors") or []]
    r = await coordinator.post(
        PARTNERSHIPS, json={**base, "start_date": "2025-06-01", "end_date": "2025-05-31"}
    )
    assert r.status_code == 422, r.text
    r = await coordinator.post(PARTNERSHIPS, json={**base, "role": "owner"})
    assert r.status_code == 422
    r = await coordinator.post(PARTNERSHIPS, json={**base, "status": "active"})
    assert r.status_code == 422  # status only moves through transitions
    r = await coordinator.post(PARTNERSHIPS, json={**base, "commitment_amount": -1})
    assert r.status_code == 422
    # a deleted partner is an unknown one
    gone = (await make_partner(admin))["id"]
    assert (await admin.delete(f"{PARTNERS}/{gone}")).status_code == 204
    r = await coordinator.post(PARTNERSHIPS, json={**base, "partner_id": gone})
    assert r.status_code == 422
    # PATCH keeps the dates ordered
    p = (await make_partnership(coordinator, partner, program))["id"]
    r = await coordinator.patch(f"{PARTNERSHIPS}/{p}", json={"end_date": "2024-12-31"})
    assert r.status_code == 422


async def test_partnership_filters(
    world: World, coordinator: httpx.AsyncClient, admin: httpx.AsyncClient
) -> None:
    a, b = world.sides["A"], world.sides["B"]
    extra = (await make_partnership(coordinator, a.partner, b.program, role="implementer"))["id"]
    assert ids(await coordinator.get(PARTNERSHIPS, params={"partner_id": a.partner})) == {
        a.partnership,
        extra,
    }
    assert ids(await coordinator.get(PARTNERSHIPS, params={"program_id": b.program})) == {
        b.partnership,
        extra,
    }
    assert ids(await coordinator.get(PARTNERSHIPS, params={"role": "implementer"})) == {extra}
    assert ids(await coordinator.get(PARTNERSHIPS, params={"status": "proposed"})) == {extra}


async def test_partner_sees_only_its_own_partnership_on_a_shared_program(
    world: World,
    coordinator: httpx.AsyncClient,
    make_user: MakeUser,
    as_user: AsUser,
) -> None:
    a, b = world.sides["A"], world.sides["B"]
    # B joins PA as well; A still sees PA, but only its own partnership on it
    shared = (await make_partnership(coordinator, b.partner, a.program, role="implementer"))["id"]
    await move_ok(coordinator, shared, "active")
    given = (await post(coordinator, f"{PARTNERSHIPS}/{shared}/contributions", contribution()))[
        "id"
    ]
    partner_a = as_user(await make_user(Role.partner, organization_id=uuid.UUID(a.partner)))
    partner_b = as_user(await make_user(Role.partner, organization_id=uuid.UUID(b.partner)))
    facilitator = as_user(await make_user(Role.facilitator, communities=[uuid.UUID(a.community)]))

    assert ids(await partner_a.get(PARTNERSHIPS)) == {a.partnership}
    assert ids(await partner_a.get(PARTNERSHIPS, params={"program_id": a.program})) == {
        a.partnership
    }
    assert (await partner_a.get(f"{PARTNERSHIPS}/{shared}")).status_code == 404
    assert (await partner_a.get(f"{PARTNERSHIPS}/{shared}/contributions")).status_code == 404
    r = await partner_a.get(f"{PARTNERSHIPS}/{shared}/contributions/{given}")
    assert r.status_code == 404
    r = await partner_a.get(f"{PARTNERSHIPS}/{a.partnership}/contributions/{given}")
    assert r.status_code == 404
    assert (await partner_a.get(f"{PARTNERS}/{b.partner}")).status_code == 404

    # B now sees both programs and both of its partnerships
    assert ids(await partner_b.get(PROGRAMS)) == {a.program, b.program}
    assert ids(await partner_b.get(PARTNERSHIPS)) == {b.partnership, shared}
    assert ids(await partner_b.get(COMMUNITIES)) == {a.community, b.community}
    # the facilitator of A's community sees every partnership on PA, none on PB
    assert ids(await facilitator.get(PARTNERSHIPS)) == {a.partnership, shared}


# --- contributions ---------------------------------------------------------------------------


async def test_contribution_rules_and_sums(
    admin: httpx.AsyncClient,
    coordinator: httpx.AsyncClient,
    make_community: MakeCommunity,
    make_user: MakeUser,
    as_user: AsUser,
) -> None:
    community = (await make_community())["id"]
    program = (await make_program(admin, [community]))["id"]
    org_a = (await make_partner(admin, name="Mitra A"))["id"]
    org_b = (await make_partner(admin, name="Mitra B"))["id"]
    p = (
        await make_partnership(
            coordinator, org_a, program, start_date="2025-01-01", end_date="2025-06-30"
        )
    )["id"]
    partner_a = as_user(await make_user(Role.partner, organization_id=uuid.UUID(org_a)))
    partner_b = as_user(await make_user(Role.partner, organization_id=uuid.UUID(org_b)))
    url = f"{PARTNERSHIPS}/{p}/contributions"

    # proposed: nobody records yet
    assert (await coordinator.post(url, json=contribution())).status_code == 409
    assert (await partner_a.post(url, json=contribution())).status_code == 409
    await move_ok(coordinator, p, "active")

    # outside the partnership's dates
    for day in ("2024-12-31", "2025-07-01"):
        r = await coordinator.post(url, json=contribution(contributed_on=day))
        assert r.status_code == 422, (day, r.text)
        assert ["body", "contributed_on"] in [e["loc"] for e in r.json().get("errors") or []]
    for day in ("2025-01-01", "2025-06-30"):
        r = await coordinator.post(url, json=contribution(contributed_on=day, amount=0))
        assert r.status_code == 201, (day, r.text)
        assert (await coordinator.delete(f"{url}/{r.json()['id']}")).status_code == 204

    # another organisation's partner does not even see the partnership
    assert (await partner_b.post(url, json=contribution())).status_code == 404
    assert (await partner_b.get(url)).status_code == 404

    # the partner records on its own active partnership
    own = await partner_a.post(url, json=contribution(amount=2_500_000, kind="in_kind"))
    assert own.status_code == 201, own.text
    own_id = own.json()["id"]
    assert own.headers["location"] == f"/api/v1/partnerships/{p}/contributions/{own_id}"
    theirs = (await post(coordinator, url, contribution(amount=4_000_000)))["id"]

    # ... but changes only what it recorded
    r = await partner_a.patch(f"{url}/{theirs}", json={"amount": 1})
    assert r.status_code == 403, r.text
    r = await partner_a.patch(f"{url}/{own_id}", json={"amount": 3_000_000})
    assert r.status_code == 200, r.text
    assert r.json()["amount"] == 3_000_000
    r = await partner_a.patch(f"{url}/{own_id}", json={"contributed_on": "2026-01-01"})
    assert r.status_code == 422
    assert (await partner_a.delete(f"{url}/{own_id}")).status_code == 403

    # contributed_amount is the sum, also in the list
    got = (await coordinator.get(f"{PARTNERSHIPS}/{p}")).json()
    assert got["contributed_amount"] == 7_000_000
    listed = (await coordinator.get(PARTNERSHIPS, params={"program_id": program})).json()
    assert [i["contributed_amount"] for i in listed["items"]] == [7_000_000]
    assert (await partner_a.get(f"{PARTNERSHIPS}/{p}")).json()["contributed_amount"] == 7_000_000
    assert ids(await partner_a.get(url)) == {own_id, theirs}

    # deleting a contribution lowers it
    assert (await coordinator.delete(f"{url}/{theirs}")).status_code == 204
    assert (await coordinator.get(f"{url}/{theirs}")).status_code == 404
    got = (await coordinator.get(f"{PARTNERSHIPS}/{p}")).json()
    assert got["contributed_amount"] == 3_000_000

    # a contribution is reached only under its own partnership
    other = (await make_partnership(coordinator, org_b, program))["id"]
    assert (
        await coordinator.get(f"{PARTNERSHIPS}/{other}/contributions/{own_id}")
    ).status_code == 404

    # terminated: nothing more is recorded, by anyone
    await move_ok(coordinator, p, "terminated")
    assert (await coordinator.post(url, json=contribution())).status_code == 409
    assert (await admin.post(url, json=contribution())).status_code == 409
    assert (await partner_a.post(url, json=contribution())).status_code == 409


async def test_completed_partnership_takes_no_partner_contributions(
    world: World, coordinator: httpx.AsyncClient, make_user: MakeUser, as_user: AsUser
) -> None:
    a = world.sides["A"]
    partner = as_user(await make_user(Role.partner, organization_id=uuid.UUID(a.partner)))
    url = f"{PARTNERSHIPS}/{a.partnership}/contributions"
    await move_ok(coordinator, a.partnership, "completed")
    assert (await partner.post(url, json=contribution())).status_code == 409
    # its record stays readable
    assert ids(await partner.get(url)) == {a.contribution}


async def test_partner_service_account_records_contributions(
    world: World, admin: httpx.AsyncClient, client: httpx.AsyncClient, bearer: Bearer
) -> None:
    a, b = world.sides["A"], world.sides["B"]
    account = await service_account(admin, a.partner)
    machine = bearer(await service_token(client, account["client_id"], account["client_secret"]))
    url = f"{PARTNERSHIPS}/{a.partnership}/contributions"
    created = await machine.post(url, json=contribution(amount=5))
    assert created.status_code == 201, created.text
    r = await machine.patch(f"{url}/{created.json()['id']}", json={"amount": 6})
    assert r.status_code == 200, r.text
    r = await machine.patch(f"{url}/{a.contribution}", json={"amount": 6})
    assert r.status_code == 403
    r = await machine.post(f"{PARTNERSHIPS}/{b.partnership}/contributions", json=contribution())
    assert r.status_code == 404


# --- service accounts ------------------------------------------------------------------------


async def test_service_account_lifecycle(
    app: Any,
    admin: httpx.AsyncClient,
    client: httpx.AsyncClient,
    bearer: Bearer,
    raw_db: asyncpg.Pool,
) -> None:
    org = await make_partner_org(app)
    created = await admin.post(ACCOUNTS, json={"name": "Sistem CSR", "organization_id": str(org)})
    assert created.status_code == 201, created.text
    account = created.json()
    account_id, client_id, secret = account["id"], account["client_id"], account["client_secret"]
    assert account["role"] == "partner"
    assert account["organization_id"] == str(org)
    assert account["revoked_at"] is None
    assert created.headers["cache-control"] == "no-store"
    assert "secret_hash" not in account

    # the secret is shown once: never in a read
    got = await admin.get(f"{ACCOUNTS}/{account_id}")
    assert got.status_code == 200
    assert "client_secret" not in got.json() and secret not in got.text
    assert "secret_hash" not in got.json()
    listed = await admin.get(ACCOUNTS)
    assert [i["id"] for i in listed.json()["items"]] == [account_id]
    assert "client_secret" not in listed.text and secret not in listed.text
    stored = await raw_db.fetchval(
        "SELECT secret_hash FROM service_accounts WHERE id = $1", uuid.UUID(account_id)
    )
    assert stored and stored != secret

    # the token: sub is the account, and the account is the caller
    token = await service_token(client, client_id, secret)
    assert jwt_claims(token)["sub"] == account_id
    machine = bearer(token)
    me = await machine.get(f"{API}/auth/me")
    assert me.status_code == 200, me.text
    assert me.json()["id"] == account_id
    assert me.json()["kind"] == "service_account"
    assert me.json()["role"] == "partner"
    assert me.json()["organization_id"] == str(org)
    after = (await admin.get(f"{ACCOUNTS}/{account_id}")).json()
    assert after["last_used_at"] is not None

    # a wrong secret answers exactly like an unknown client
    wrong = await client_credentials(client, client_id, secret + "x")
    unknown = await client_credentials(client, "sa_" + "0" * 24, secret)
    assert wrong.status_code == unknown.status_code == 401
    assert comparable(wrong) == comparable(unknown)
    assert secret not in wrong.text
    missing = await client.post(TOKEN, data={"grant_type": "client_credentials"})
    assert missing.status_code in (400, 401)

    # rotation: a new secret, the old one works during the grace period
    before = datetime.now(UTC)
    rotated = await admin.post(f"{ACCOUNTS}/{account_id}/rotate")
    assert rotated.status_code == 200, rotated.text
    assert rotated.headers["cache-control"] == "no-store"
    new_secret = rotated.json()["client_secret"]
    assert new_secret != secret
    assert rotated.json()["client_id"] == client_id
    grace = app.state.settings.service_account_rotation_grace_seconds
    assert grace == 3600
    expires = datetime.fromisoformat(rotated.json()["previous_secret_expires_at"])
    assert abs((expires - before).total_seconds() - grace) < 60
    got = await admin.get(f"{ACCOUNTS}/{account_id}")
    assert "client_secret" not in got.json() and new_secret not in got.text
    await service_token(client, client_id, secret)
    await service_token(client, client_id, new_secret)

    # after the grace period only the new secret works
    await raw_db.execute(
        "UPDATE service_accounts SET previous_secret_expires_at = now() - interval '1 second' "
        "WHERE id = $1",
        uuid.UUID(account_id),
    )
    assert (await client_credentials(client, client_id, secret)).status_code == 401
    fresh = bearer(await service_token(client, client_id, new_secret))
    assert (await fresh.get(f"{API}/auth/me")).status_code == 200

    # revocation: existing tokens stop at once, and no new ones are issued
    revoked = await admin.post(f"{ACCOUNTS}/{account_id}/revoke")
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["revoked_at"] is not None
    assert "client_secret" not in revoked.json()
    for caller in (machine, fresh):
        r = await caller.get(f"{API}/auth/me")
        assert r.status_code == 401, r.text
        assert (await caller.get(PROGRAMS)).status_code == 401
    r = await client_credentials(client, client_id, new_secret)
    assert r.status_code == 401
    assert comparable(r) == comparable(unknown)
    # a revoked account is not rotated back to life
    assert (await admin.post(f"{ACCOUNTS}/{account_id}/rotate")).status_code == 409
    assert (await client_credentials(client, client_id, new_secret)).status_code == 401


async def test_deleted_service_account_stops_working(
    app: Any, admin: httpx.AsyncClient, client: httpx.AsyncClient, bearer: Bearer
) -> None:
    org = await make_partner_org(app)
    account = await service_account(admin, org)
    machine = bearer(await service_token(client, account["client_id"], account["client_secret"]))
    assert (await admin.delete(f"{ACCOUNTS}/{account['id']}")).status_code == 204
    assert (await machine.get(f"{API}/auth/me")).status_code == 401
    r = await client_credentials(client, account["client_id"], account["client_secret"])
    assert r.status_code == 401


async def test_only_admins_manage_service_accounts(
    app: Any,
    admin: httpx.AsyncClient,
    coordinator: httpx.AsyncClient,
    make_user: MakeUser,
    as_user: AsUser,
) -> None:
    org = await make_partner_org(app)
    account = await service_account(admin, org)
    others = [
        coordinator,
        as_user(await make_user(Role.analyst)),
        as_user(await make_user(Role.facilitator)),
        as_user(await make_user(Role.partner, organization_id=org)),
    ]
    base = f"{ACCOUNTS}/{account['id']}"
    for caller in others:
        r = await caller.post(ACCOUNTS, json={"name": "x", "organization_id": str(org)})
        assert r.status_code == 403, r.text
        assert (await caller.get(ACCOUNTS)).status_code == 403
        assert (await caller.get(base)).status_code == 403
        assert (await caller.patch(base, json={"name": "y"})).status_code == 403
        assert (await caller.post(f"{base}/rotate")).status_code == 403
        assert (await caller.post(f"{base}/revoke")).status_code == 403
        assert (await caller.delete(base)).status_code == 403
    got = (await admin.get(base)).json()
    assert got["revoked_at"] is None and got["name"] == "Sistem CSR"


async def test_service_account_validation(app: Any, admin: httpx.AsyncClient) -> None:
    org = await make_partner_org(app)
    r = await admin.post(ACCOUNTS, json={"name": "Tanpa organisasi"})
    assert r.status_code == 422, r.text
    assert ["body", "organization_id"] in [e["loc"] for e in r.json().get("errors") or []]
    r = await admin.post(ACCOUNTS, json={"name": "Salah", "organization_id": str(uuid.uuid4())})
    assert r.status_code == 422, r.text
    assert ["body", "organization_id"] in [e["loc"] for e in r.json().get("errors") or []]
    r = await admin.post(ACCOUNTS, json={"name": "x", "organization_id": str(org), "role": "admin"})
    assert r.status_code == 422
    r = await admin.post(
        ACCOUNTS, json={"name": "x", "organization_id": str(org), "role": "analyst"}
    )
    assert r.status_code == 422
    r = await admin.post(ACCOUNTS, json={"name": "x", "organization_id": str(org), "id": "1"})
    assert r.status_code == 422
    r = await admin.post(ACCOUNTS, json={"name": "Laporan", "role": "analyst"})
    assert r.status_code == 201, r.text
    assert r.json()["organization_id"] is None and r.json()["role"] == "analyst"
    r = await admin.patch(f"{ACCOUNTS}/{r.json()['id']}", json={"organization_id": str(org)})
    assert r.status_code == 422


# --- partners --------------------------------------------------------------------------------


async def test_partner_crud(admin: httpx.AsyncClient, coordinator: httpx.AsyncClient) -> None:
    created = await coordinator.post(
        PARTNERS,
        json={
            "name": "Pemerintah Kabupaten Bandung",
            "kind": "local_government",
            "contact_email": "bappeda@bandungkab.go.id",
            "website": "https://bandungkab.go.id",
            "region_code": "32.04",
        },
    )
    assert created.status_code == 201, created.text
    body = created.json()
    pid = body["id"]
    assert created.headers["location"] == f"/api/v1/partners/{pid}"
    assert body["kind"] == "local_government" and body["region_code"] == "32.04"
    assert body["website"].startswith("https://bandungkab.go.id")

    got = await coordinator.get(f"{PARTNERS}/{pid}")
    assert got.status_code == 200 and got.json() == body
    etag = got.headers["etag"]
    assert (
        await coordinator.get(f"{PARTNERS}/{pid}", headers={"If-None-Match": etag})
    ).status_code == 304

    r = await coordinator.patch(f"{PARTNERS}/{pid}", json={"description": "Bappeda"})
    assert r.status_code == 200 and r.json()["description"] == "Bappeda"
    assert r.json()["name"] == "Pemerintah Kabupaten Bandung"
    r = await coordinator.patch(f"{PARTNERS}/{pid}", json={"name": None})
    assert r.status_code == 422
    r = await coordinator.patch(
        f"{PARTNERS}/{pid}", json={"name": "Baru"}, headers={"If-Match": etag}
    )
    assert r.status_code == 412

    assert (await coordinator.delete(f"{PARTNERS}/{pid}")).status_code == 204
    assert (await coordinator.get(f"{PARTNERS}/{pid}")).status_code == 404
    assert pid not in ids(await coordinator.get(PARTNERS))
    assert (await coordinator.post(f"{PARTNERS}/{pid}/restore")).status_code == 403
    assert (await admin.post(f"{PARTNERS}/{pid}/restore")).status_code == 200
    assert (await coordinator.get(f"{PARTNERS}/{pid}")).status_code == 200


async def test_partner_filters(admin: httpx.AsyncClient) -> None:
    bandung = (
        await make_partner(
            admin, name="Pemkab Bandung", kind="local_government", region_code="32.04"
        )
    )["id"]
    bogor = (await make_partner(admin, name="Yayasan Bogor Lestari", region_code="32.01"))["id"]
    semarang = (
        await make_partner(
            admin, name="PT Semarang Jaya", kind="private_sector", region_code="33.74"
        )
    )["id"]
    nowhere = (await make_partner(admin, name="Universitas Tanpa Kode", kind="academia"))["id"]

    assert ids(await admin.get(PARTNERS)) == {bandung, bogor, semarang, nowhere}
    assert ids(await admin.get(PARTNERS, params={"kind": "ngo"})) == {bogor}
    assert ids(await admin.get(PARTNERS, params={"kind": "academia"})) == {nowhere}
    assert ids(await admin.get(PARTNERS, params={"region_code": "32"})) == {bandung, bogor}
    assert ids(await admin.get(PARTNERS, params={"region_code": "32.04"})) == {bandung}
    assert ids(await admin.get(PARTNERS, params={"region_code": "33"})) == {semarang}
    assert ids(await admin.get(PARTNERS, params={"q": "bandung"})) == {bandung}
    assert ids(await admin.get(PARTNERS, params={"q": "%"})) == set()
    assert ids(
        await admin.get(PARTNERS, params={"q": "a", "kind": "private_sector", "region_code": "33"})
    ) == {semarang}
    names = [
        i["name"] for i in (await admin.get(PARTNERS, params={"sort": "name"})).json()["items"]
    ]
    assert names == sorted(names)

    assert ids(await admin.get(PARTNERS, params={"region_code": "35"})) == set()
    # "99" is well formed but names no province.
    for bad in ("99", "3", "32.4", "32.04.", "abc", "32 04"):
        r = await admin.get(PARTNERS, params={"region_code": bad})
        assert r.status_code == 422, bad
    assert (await admin.get(PARTNERS, params={"kind": "church"})).status_code == 422


async def test_partner_validation(
    admin: httpx.AsyncClient, make_user: MakeUser, as_user: AsUser, app: Any
) -> None:
    base = {"name": "Yayasan", "kind": "ngo"}
    for extra in (
        {"website": "not a url"},
        {"website": "ftp//x"},
        {"region_code": "3"},
        {"region_code": "32.04.12.20011"},
        {"contact_email": "nobody"},
        {"kind": "church"},
        {"name": ""},
    ):
        r = await admin.post(PARTNERS, json={**base, **extra})
        assert r.status_code == 422, (extra, r.text)
    r = await admin.post(PARTNERS, json={"kind": "ngo"})
    assert r.status_code == 422

    org = await make_partner_org(app)
    partner = as_user(await make_user(Role.partner, organization_id=org))
    facilitator = as_user(await make_user(Role.facilitator))
    analyst = as_user(await make_user(Role.analyst))
    for caller in (partner, facilitator, analyst):
        assert (await caller.post(PARTNERS, json=base)).status_code == 403
    # its own organisation is visible but not changeable by the partner
    assert (await partner.get(f"{PARTNERS}/{org}")).status_code == 200
    assert (await partner.patch(f"{PARTNERS}/{org}", json={"name": "Baru"})).status_code == 403
    assert (await partner.delete(f"{PARTNERS}/{org}")).status_code == 403


# --- the terms of reference name the partners ------------------------------------------------


def implementers_section(markdown: str) -> str:
    parts = markdown.split("\n## ")
    found = [p for p in parts if "Pelaksana dan Penanggung Jawab" in p.splitlines()[0]]
    assert len(found) == 1, markdown
    return found[0]


async def test_terms_of_reference_list_the_partners(
    admin: httpx.AsyncClient,
    coordinator: httpx.AsyncClient,
    make_community: MakeCommunity,
    make_user: MakeUser,
    as_user: AsUser,
) -> None:
    community = (await make_community())["id"]
    program = (await make_program(admin, [community]))["id"]
    funder = (await make_partner(admin, name="Yayasan Air Bersih Nusantara"))["id"]
    implementer = (await make_partner(admin, name="PT Tirta Desa", kind="private_sector"))["id"]
    dropped = (await make_partner(admin, name="Dinas Yang Mundur", kind="local_government"))["id"]
    p1 = (await make_partnership(coordinator, funder, program, role="funder"))["id"]
    await move_ok(coordinator, p1, "active")
    await make_partnership(coordinator, funder, program, role="technical_support")
    await make_partnership(coordinator, implementer, program, role="implementer")
    p3 = (await make_partnership(coordinator, dropped, program, role="funder"))["id"]
    await move_ok(coordinator, p3, "active", "terminated")

    url = f"{PROGRAMS}/{program}/terms-of-reference"
    r = await coordinator.get(url, headers={"Accept": "text/markdown"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/markdown")
    section = implementers_section(r.text)
    assert "Yayasan Air Bersih Nusantara (funder)" in section
    assert "Yayasan Air Bersih Nusantara (technical_support)" in section
    assert "PT Tirta Desa (implementer)" in section
    assert "Dinas Yang Mundur" not in r.text

    doc = (await coordinator.get(url)).json()
    implementers = next(s for s in doc["sections"] if s["key"] == "implementers")
    assert implementers["heading"] == "Pelaksana dan Penanggung Jawab"
    assert sorted((p["name"], p["role"]) for p in implementers["content"]["partners"]) == [
        ("PT Tirta Desa", "implementer"),
        ("Yayasan Air Bersih Nusantara", "funder"),
        ("Yayasan Air Bersih Nusantara", "technical_support"),
    ]
    english = await coordinator.get(url, params={"lang": "en"}, headers={"Accept": "text/markdown"})
    assert "Implementers and Responsible Parties" in english.text
    assert "PT Tirta Desa (implementer)" in english.text

    # a deleted partnership's partner is gone from the document too
    assert (await coordinator.delete(f"{PARTNERSHIPS}/{p1}")).status_code == 204
    r = await coordinator.get(url, headers={"Accept": "text/markdown"})
    section = implementers_section(r.text)
    assert "Yayasan Air Bersih Nusantara (funder)" not in section
    assert "Yayasan Air Bersih Nusantara (technical_support)" in section

    # the partner reads the KAK of its program
    partner = as_user(await make_user(Role.partner, organization_id=uuid.UUID(implementer)))
    r = await partner.get(url, headers={"Accept": "text/markdown"})
    assert r.status_code == 200
    assert "PT Tirta Desa (implementer)" in implementers_section(r.text)


# --- users of partner organisations ----------------------------------------------------------


async def test_partner_user_needs_an_existing_organisation(
    app: Any, admin: httpx.AsyncClient
) -> None:
    body = {
        "email": "mitra@contoh.id",
        "full_name": "Mitra Contoh",
        "role": "partner",
        "password": PASSWORD,
    }
    r = await admin.post(f"{API}/users", json={**body, "organization_id": str(uuid.uuid4())})
    assert r.status_code == 422, r.text
    assert ["body", "organization_id"] in [e["loc"] for e in r.json().get("errors") or []]
    r = await admin.post(f"{API}/users", json=body)
    assert r.status_code == 422
    org = await make_partner_org(app)
    r = await admin.post(f"{API}/users", json={**body, "organization_id": str(org)})
    assert r.status_code == 201, r.text
    assert r.json()["organization_id"] == str(org)
    user_id = r.json()["id"]
    r = await admin.patch(f"{API}/users/{user_id}", json={"organization_id": str(uuid.uuid4())})
    assert r.status_code == 422

    # the new user logs in and sees only its own organisation
    token = await admin.post(
        TOKEN, data={"grant_type": "password", "username": body["email"], "password": PASSWORD}
    )
    assert token.status_code == 200, token.text
    me = await admin.get(
        f"{API}/auth/me", headers={"Authorization": f"Bearer {token.json()['access_token']}"}
    )
    assert me.json()["organization_id"] == str(org)
    other = await make_partner_org(app)
    listed = await admin.get(
        PARTNERS, headers={"Authorization": f"Bearer {token.json()['access_token']}"}
    )
    assert ids(listed) == {str(org)}
    assert str(other) not in listed.text


async def test_every_partner_route_needs_authentication(client: httpx.AsyncClient) -> None:
    some = uuid.uuid4()
    for url in (
        PARTNERS,
        f"{PARTNERS}/{some}",
        PARTNERSHIPS,
        f"{PARTNERSHIPS}/{some}",
        f"{PARTNERSHIPS}/{some}/contributions",
        ACCOUNTS,
        f"{ACCOUNTS}/{some}",
    ):
        assert (await client.get(url)).status_code == 401, url


async def test_service_account_secret_is_never_stored_for_idempotent_replay(admin, app, raw_db):
    """A client secret is shown once: an Idempotency-Key replay must not repeat it, and the
    idempotency store must not hold it."""
    organization_id = await make_partner_org(app)
    headers = {"Idempotency-Key": "sa-create-1"}
    body = {"name": "Sistem CSR", "organization_id": str(organization_id)}
    first = await admin.post("/api/v1/service-accounts", json=body, headers=headers)
    assert first.status_code == 201, first.text
    secret = first.json()["client_secret"]
    replay = await admin.post("/api/v1/service-accounts", json=body, headers=headers)
    assert replay.status_code == 409
    assert secret not in replay.text
    stored = await raw_db.fetch("SELECT response_body FROM idempotency_keys")
    assert all(
        row["response_body"] is None or secret.encode() not in row["response_body"]
        for row in stored
    )
    assert await raw_db.fetchval("SELECT count(*) FROM service_accounts") == 1
