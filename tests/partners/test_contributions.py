"""Contributions to a partnership: the rules and sums, who may record them (partner users
and service accounts), and none once a partnership is completed."""

from __future__ import annotations

import uuid

import httpx

from app.auth.models import Role
from tests.factories import (
    PARTNERSHIPS,
    YEAR_2025,
    AsUser,
    Bearer,
    MakeCommunity,
    MakeUser,
    PartnerWorld,
    contribution,
    make_partner,
    make_partnership,
    make_program,
    move_ok,
    post,
    service_account,
    service_token,
)
from tests.helpers import id_set

# --- contributions ---------------------------------------------------------------------------


async def test_contribution_rules_and_sums(
    admin: httpx.AsyncClient,
    coordinator: httpx.AsyncClient,
    make_community: MakeCommunity,
    make_user: MakeUser,
    as_user: AsUser,
) -> None:
    community = (await make_community())["id"]
    program = (await make_program(admin, [community], **YEAR_2025))["id"]
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
    await move_ok(coordinator, PARTNERSHIPS, p, "active")

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
    assert id_set(await partner_a.get(url)) == {own_id, theirs}

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
    await move_ok(coordinator, PARTNERSHIPS, p, "terminated")
    assert (await coordinator.post(url, json=contribution())).status_code == 409
    assert (await admin.post(url, json=contribution())).status_code == 409
    assert (await partner_a.post(url, json=contribution())).status_code == 409


async def test_completed_partnership_takes_no_partner_contributions(
    world: PartnerWorld, coordinator: httpx.AsyncClient, make_user: MakeUser, as_user: AsUser
) -> None:
    a = world.sides["A"]
    partner = as_user(await make_user(Role.partner, organization_id=uuid.UUID(a.partner)))
    url = f"{PARTNERSHIPS}/{a.partnership}/contributions"
    await move_ok(coordinator, PARTNERSHIPS, a.partnership, "completed")
    assert (await partner.post(url, json=contribution())).status_code == 409
    # its record stays readable
    assert id_set(await partner.get(url)) == {a.contribution}


async def test_partner_service_account_records_contributions(
    world: PartnerWorld, admin: httpx.AsyncClient, client: httpx.AsyncClient, bearer: Bearer
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
