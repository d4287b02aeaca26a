"""Partners: the scoping matrix of every role over every resource of two partner
organisations, partner CRUD and filters, users of partner organisations."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from app.auth.models import Role
from tests.factories import (
    ACCOUNTS,
    API,
    COMMUNITIES,
    PARTNERS,
    PARTNERSHIPS,
    PASSWORD,
    PEOPLE,
    PROGRAMS,
    RECORDS,
    TOKEN,
    AsUser,
    Bearer,
    MakeUser,
    PartnerWorld,
    Side,
    make_partner,
    make_partner_org,
    service_account,
    service_token,
)
from tests.helpers import id_set

# --- the scoping matrix ------------------------------------------------------------------------


@dataclass(frozen=True)
class Endpoint:
    """How to reach one resource of a side: its list, and its item by the side's ``field``.

    ``nested`` lists live under a parent of the side (404 when the parent is unseen);
    top-level lists are one URL whose items are compared with the expected sides."""

    collection: Callable[[Side], str]
    field: str
    nested: bool
    # further reads that follow the item's visibility (200 when seen, else 404)
    related: Callable[[Side], list[str]] = lambda s: []

    def item_id(self, side: Side) -> str:
        return str(getattr(side, self.field))

    def item(self, side: Side) -> str:
        return f"{self.collection(side)}/{self.item_id(side)}"


def _p(s: Side) -> str:
    return f"{PROGRAMS}/{s.program}"


def _i(s: Side) -> str:
    return f"{_p(s)}/indicators/{s.indicator}"


ENDPOINTS: dict[str, Endpoint] = {
    "programs": Endpoint(
        lambda s: PROGRAMS,
        "program",
        nested=False,
        related=lambda s: [f"{_p(s)}/transitions", f"{_p(s)}/terms-of-reference"],
    ),
    "activities": Endpoint(lambda s: f"{_p(s)}/activities", "activity", nested=True),
    "indicators": Endpoint(lambda s: f"{_p(s)}/indicators", "indicator", nested=True),
    "measurements": Endpoint(lambda s: f"{_i(s)}/measurements", "measurement", nested=True),
    "budget_lines": Endpoint(lambda s: f"{_p(s)}/budget-lines", "budget_line", nested=True),
    "partnerships": Endpoint(
        lambda s: PARTNERSHIPS,
        "partnership",
        nested=False,
        related=lambda s: [f"{PARTNERSHIPS}/{s.partnership}/transitions"],
    ),
    "contributions": Endpoint(
        lambda s: f"{PARTNERSHIPS}/{s.partnership}/contributions", "contribution", nested=True
    ),
    "communities": Endpoint(lambda s: COMMUNITIES, "community", nested=False),
    "partners": Endpoint(lambda s: PARTNERS, "partner", nested=False),
    "people": Endpoint(lambda s: PEOPLE, "person", nested=False),
    "participation_records": Endpoint(lambda s: RECORDS, "record", nested=False),
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
    world: PartnerWorld,
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
    app: Any,
    principal: str,
    world: PartnerWorld,
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
    hasher = app.state.personal_data.hasher

    def expect(what: str, got: Any, wanted: Any) -> None:
        if got != wanted:
            problems.append(f"{what}: got {got!r}, expected {wanted!r}")

    def pseudonymised(resource: str) -> bool:
        """Analysts know people by person_key only (their id is null)."""
        return principal == "analyst" and resource == "people"

    def identity(resource: str, item: dict[str, Any]) -> Any:
        return item["person_key"] if pseudonymised(resource) else item["id"]

    def expected_identity(resource: str, item_id: str) -> Any:
        return hasher.person_key(uuid.UUID(item_id)) if pseudonymised(resource) else item_id

    def identities(resource: str, r: httpx.Response) -> set[Any]:
        return {identity(resource, item) for item in r.json()["items"]}

    for resource, cell in MATRIX[principal].items():
        endpoint = ENDPOINTS[resource]
        visible = frozenset() if cell == FORBIDDEN else cell
        for tag, side in world.sides.items():
            # the single item
            r = await caller.get(endpoint.item(side))
            wanted = 200 if tag in visible else 404
            expect(f"GET {resource} {tag} (item)", r.status_code, wanted)
            if r.status_code == 200:
                expect(
                    f"GET {resource} {tag} id",
                    identity(resource, r.json()),
                    expected_identity(resource, endpoint.item_id(side)),
                )
            for url in endpoint.related(side):
                expect(f"GET {url.removeprefix(API)}", (await caller.get(url)).status_code, wanted)
            # a list under a parent of this side
            if endpoint.nested:
                r = await caller.get(endpoint.collection(side))
                expect(f"GET {resource} {tag} (list)", r.status_code, wanted)
                if r.status_code == 200:
                    expect(
                        f"GET {resource} {tag} (list items)",
                        identities(resource, r),
                        {expected_identity(resource, endpoint.item_id(side))},
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
                    identities(resource, r),
                    {
                        expected_identity(resource, endpoint.item_id(world.sides[tag]))
                        for tag in sorted(visible)
                    },
                )
    assert not problems, f"{principal}:\n" + "\n".join(problems)


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
    assert pid not in id_set(await coordinator.get(PARTNERS))
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

    assert id_set(await admin.get(PARTNERS)) == {bandung, bogor, semarang, nowhere}
    assert id_set(await admin.get(PARTNERS, params={"kind": "ngo"})) == {bogor}
    assert id_set(await admin.get(PARTNERS, params={"kind": "academia"})) == {nowhere}
    assert id_set(await admin.get(PARTNERS, params={"region_code": "32"})) == {bandung, bogor}
    assert id_set(await admin.get(PARTNERS, params={"region_code": "32.04"})) == {bandung}
    assert id_set(await admin.get(PARTNERS, params={"region_code": "33"})) == {semarang}
    assert id_set(await admin.get(PARTNERS, params={"q": "bandung"})) == {bandung}
    assert id_set(await admin.get(PARTNERS, params={"q": "%"})) == set()
    assert id_set(
        await admin.get(PARTNERS, params={"q": "a", "kind": "private_sector", "region_code": "33"})
    ) == {semarang}
    names = [
        i["name"] for i in (await admin.get(PARTNERS, params={"sort": "name"})).json()["items"]
    ]
    assert names == sorted(names)

    assert id_set(await admin.get(PARTNERS, params={"region_code": "35"})) == set()
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
    assert id_set(listed) == {str(org)}
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
