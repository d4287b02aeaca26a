"""Partnerships: one per partner, program and role; the lifecycle and who may move it; what
a terminated partnership hides; filters; the partners in the terms of reference (KAK)."""

from __future__ import annotations

import uuid

import httpx

from app.auth.models import Role
from tests.factories import (
    COMMUNITIES,
    PARTNERS,
    PARTNERSHIPS,
    PROGRAMS,
    YEAR_2025,
    AsUser,
    MakeCommunity,
    MakeUser,
    PartnerWorld,
    contribute,
    make_partner,
    make_partnership,
    make_program,
    move,
    move_ok,
)
from tests.helpers import id_set

# --- partnerships and what they make visible ------------------------------------------------


async def test_terminated_partnership_hides_the_program_completed_keeps_it(
    world: PartnerWorld,
    coordinator: httpx.AsyncClient,
    make_user: MakeUser,
    as_user: AsUser,
) -> None:
    a = world.sides["A"]
    partner = as_user(await make_user(Role.partner, organization_id=uuid.UUID(a.partner)))
    assert (await partner.get(f"{PROGRAMS}/{a.program}")).status_code == 200

    # a second program of A whose partnership is completed: still visible afterwards
    other = (await make_program(coordinator, [a.community], title="Program lanjutan", **YEAR_2025))[
        "id"
    ]
    done = (await make_partnership(coordinator, a.partner, other))["id"]
    assert (await partner.get(f"{PROGRAMS}/{other}")).status_code == 200
    await move_ok(coordinator, PARTNERSHIPS, done, "active", "completed")
    assert (await partner.get(f"{PROGRAMS}/{other}")).status_code == 200
    assert other in id_set(await partner.get(PROGRAMS))
    assert (await partner.get(f"{PROGRAMS}/{other}/activities")).status_code == 200

    # terminate A's partnership on PA: PA and its sub-resources are gone for the partner
    await move_ok(coordinator, PARTNERSHIPS, a.partnership, "terminated")
    assert (await partner.get(f"{PROGRAMS}/{a.program}")).status_code == 404
    assert a.program not in id_set(await partner.get(PROGRAMS))
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
    world: PartnerWorld, coordinator: httpx.AsyncClient, make_user: MakeUser, as_user: AsUser
) -> None:
    b = world.sides["B"]
    partner = as_user(await make_user(Role.partner, organization_id=uuid.UUID(b.partner)))
    assert (await partner.get(f"{COMMUNITIES}/{b.community}")).status_code == 200
    await move_ok(coordinator, PARTNERSHIPS, b.partnership, "terminated")
    assert (await partner.get(f"{COMMUNITIES}/{b.community}")).status_code == 404
    assert (await partner.get(f"{PROGRAMS}/{b.program}")).status_code == 404
    assert id_set(await partner.get(COMMUNITIES)) == set()


async def test_partnerships_one_per_partner_program_and_role(
    admin: httpx.AsyncClient, coordinator: httpx.AsyncClient, make_community: MakeCommunity
) -> None:
    community = (await make_community())["id"]
    program = (await make_program(admin, [community], **YEAR_2025))["id"]
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
    program = (await make_program(admin, [community], **YEAR_2025))["id"]
    partner = (await make_partner(admin))["id"]
    p = (await make_partnership(coordinator, partner, program, role="funder"))["id"]

    r = await move(coordinator, PARTNERSHIPS, p, "completed")
    assert r.status_code == 409, r.text
    assert r.json()["allowed"] == ["active", "terminated"]
    r = await move(coordinator, PARTNERSHIPS, p, "nonsense")
    assert r.status_code == 422, r.text
    assert (await move_ok(coordinator, PARTNERSHIPS, p, "active"))["status"] == "active"
    r = await move(coordinator, PARTNERSHIPS, p, "proposed")
    assert r.status_code == 409
    assert r.json()["allowed"] == ["completed", "terminated"]
    assert (await move_ok(admin, PARTNERSHIPS, p, "completed"))["status"] == "completed"
    for to in ("active", "terminated", "proposed"):
        r = await move(coordinator, PARTNERSHIPS, p, to)
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
    assert (await move_ok(coordinator, PARTNERSHIPS, q, "terminated"))["status"] == "terminated"
    r = await move(coordinator, PARTNERSHIPS, q, "active")
    assert r.status_code == 409 and r.json()["allowed"] == []
    s = (await make_partnership(coordinator, partner, program, role="technical_support"))["id"]
    assert (await move_ok(coordinator, PARTNERSHIPS, s, "active", "terminated"))[
        "status"
    ] == "terminated"
    assert (await coordinator.get(f"{PARTNERSHIPS}/{uuid.uuid4()}/transitions")).status_code == 404


async def test_only_coordinators_and_admins_create_and_move_partnerships(
    world: PartnerWorld,
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
        assert (await move(caller, PARTNERSHIPS, a.partnership, "completed")).status_code == 403
        r = await caller.patch(f"{PARTNERSHIPS}/{a.partnership}", json={"agreement_ref": "X"})
        assert r.status_code == 403
        assert (await caller.delete(f"{PARTNERSHIPS}/{a.partnership}")).status_code == 403
    # B's partnership is unseen by the partner of A and the facilitator of A: 404
    b = world.sides["B"]
    for caller in (partner, facilitator):
        assert (await move(caller, PARTNERSHIPS, b.partnership, "completed")).status_code == 404
    got = await coordinator.get(f"{PARTNERSHIPS}/{a.partnership}")
    assert got.json()["status"] == "active"
    assert (await move(coordinator, PARTNERSHIPS, a.partnership, "completed")).status_code == 200


async def test_partnership_validation(
    admin: httpx.AsyncClient, coordinator: httpx.AsyncClient, make_community: MakeCommunity
) -> None:
    community = (await make_community())["id"]
    program = (await make_program(admin, [community], **YEAR_2025))["id"]
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
    world: PartnerWorld, coordinator: httpx.AsyncClient, admin: httpx.AsyncClient
) -> None:
    a, b = world.sides["A"], world.sides["B"]
    extra = (await make_partnership(coordinator, a.partner, b.program, role="implementer"))["id"]
    assert id_set(await coordinator.get(PARTNERSHIPS, params={"partner_id": a.partner})) == {
        a.partnership,
        extra,
    }
    assert id_set(await coordinator.get(PARTNERSHIPS, params={"program_id": b.program})) == {
        b.partnership,
        extra,
    }
    assert id_set(await coordinator.get(PARTNERSHIPS, params={"role": "implementer"})) == {extra}
    assert id_set(await coordinator.get(PARTNERSHIPS, params={"status": "proposed"})) == {extra}


async def test_partner_sees_only_its_own_partnership_on_a_shared_program(
    world: PartnerWorld,
    coordinator: httpx.AsyncClient,
    make_user: MakeUser,
    as_user: AsUser,
) -> None:
    a, b = world.sides["A"], world.sides["B"]
    # B joins PA as well; A still sees PA, but only its own partnership on it
    shared = (await make_partnership(coordinator, b.partner, a.program, role="implementer"))["id"]
    await move_ok(coordinator, PARTNERSHIPS, shared, "active")
    given = (await contribute(coordinator, shared))["id"]
    partner_a = as_user(await make_user(Role.partner, organization_id=uuid.UUID(a.partner)))
    partner_b = as_user(await make_user(Role.partner, organization_id=uuid.UUID(b.partner)))
    facilitator = as_user(await make_user(Role.facilitator, communities=[uuid.UUID(a.community)]))

    assert id_set(await partner_a.get(PARTNERSHIPS)) == {a.partnership}
    assert id_set(await partner_a.get(PARTNERSHIPS, params={"program_id": a.program})) == {
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
    assert id_set(await partner_b.get(PROGRAMS)) == {a.program, b.program}
    assert id_set(await partner_b.get(PARTNERSHIPS)) == {b.partnership, shared}
    assert id_set(await partner_b.get(COMMUNITIES)) == {a.community, b.community}
    # the facilitator of A's community sees every partnership on PA, none on PB
    assert id_set(await facilitator.get(PARTNERSHIPS)) == {a.partnership, shared}


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
    program = (await make_program(admin, [community], **YEAR_2025))["id"]
    funder = (await make_partner(admin, name="Yayasan Air Bersih Nusantara"))["id"]
    implementer = (await make_partner(admin, name="PT Tirta Desa", kind="private_sector"))["id"]
    dropped = (await make_partner(admin, name="Dinas Yang Mundur", kind="local_government"))["id"]
    p1 = (await make_partnership(coordinator, funder, program, role="funder"))["id"]
    await move_ok(coordinator, PARTNERSHIPS, p1, "active")
    await make_partnership(coordinator, funder, program, role="technical_support")
    await make_partnership(coordinator, implementer, program, role="implementer")
    p3 = (await make_partnership(coordinator, dropped, program, role="funder"))["id"]
    await move_ok(coordinator, PARTNERSHIPS, p3, "active", "terminated")

    url = f"{PROGRAMS}/{program}/terms-of-reference"
    r = await coordinator.get(url, headers={"Accept": "text/markdown"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/markdown")
    section = implementers_section(r.text)
    # The Indonesian KAK names the roles by their Indonesian labels (app.core.i18n).
    assert "Yayasan Air Bersih Nusantara (Penyandang dana)" in section
    assert "Yayasan Air Bersih Nusantara (Pendamping teknis)" in section
    assert "PT Tirta Desa (Pelaksana)" in section
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
    assert "PT Tirta Desa (Implementer)" in english.text

    # a deleted partnership's partner is gone from the document too
    assert (await coordinator.delete(f"{PARTNERSHIPS}/{p1}")).status_code == 204
    r = await coordinator.get(url, headers={"Accept": "text/markdown"})
    section = implementers_section(r.text)
    assert "Yayasan Air Bersih Nusantara (Penyandang dana)" not in section
    assert "Yayasan Air Bersih Nusantara (Pendamping teknis)" in section

    # the partner reads the KAK of its program
    partner = as_user(await make_user(Role.partner, organization_id=uuid.UUID(implementer)))
    r = await partner.get(url, headers={"Accept": "text/markdown"})
    assert r.status_code == 200
    assert "PT Tirta Desa (Pelaksana)" in implementers_section(r.text)
