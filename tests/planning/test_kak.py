"""The KAK of a program lists the planning proposals it carries out, under its own
heading, in Indonesian and English."""

from __future__ import annotations

import httpx

from tests.factories import PROGRAMS, make_program
from tests.planning.conftest import PROPOSALS, World, make_proposal


async def test_kak_lists_the_proposals_a_program_carries_out(
    admin: httpx.AsyncClient, world: World
) -> None:
    cid = world.community["id"]
    program = await make_program(admin, [cid])
    carried = await make_proposal(
        admin, cid, program_ids=[program["id"]], estimated_cost_amount=185_000_000
    )
    await make_proposal(admin, cid, title="Jalan usaha tani")  # not this program's
    gone = await make_proposal(admin, cid, title="Gapura", program_ids=[program["id"]])
    assert (await admin.delete(f"{PROPOSALS}/{gone['id']}")).status_code == 204
    url = f"{PROGRAMS}/{program['id']}/terms-of-reference"
    doc = (await admin.get(url)).json()
    background = next(s for s in doc["sections"] if s["key"] == "background")["content"]
    assert background["planning_heading"] == "Usulan Perencanaan Desa yang Dilaksanakan"
    (listed,) = background["planning_proposals"]
    assert listed["id"] == carried["id"] and listed["status"] == "draft"
    assert listed["status_label"] == "Draf" and listed["estimated_cost_amount"] == 185_000_000
    markdown = (await admin.get(url, headers={"Accept": "text/markdown"})).text
    assert "### Usulan Perencanaan Desa yang Dilaksanakan" in markdown
    assert "| Sumur bor Dusun Krajan |" in markdown and "Rp 185.000.000" in markdown
    assert "Gapura" not in markdown and "Jalan usaha tani" not in markdown
    english = (
        await admin.get(url, params={"lang": "en"}, headers={"Accept": "text/markdown"})
    ).text
    assert "### Village Planning Proposals Carried Out" in english
    # A program carrying out nothing has no such heading.
    empty = await make_program(admin, [cid], title="Program tanpa usulan")
    text = (
        await admin.get(
            f"{PROGRAMS}/{empty['id']}/terms-of-reference", headers={"Accept": "text/markdown"}
        )
    ).text
    assert "Usulan Perencanaan Desa" not in text
