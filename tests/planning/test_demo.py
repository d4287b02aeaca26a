"""`berdaya seed-demo` shows the whole planning path and both development schemes."""

from __future__ import annotations

from typing import Any

import httpx

from app.demo import seed
from app.planning.models import ProposalStatus
from tests.factories import REPORTS
from tests.planning.conftest import PROPOSALS


async def test_demo_has_every_status_and_indeks_desa(
    app: Any, admin: httpx.AsyncClient, analyst: httpx.AsyncClient
) -> None:
    async with app.state.database.sessions() as session:
        counts = await seed(session, app.state.personal_data)
        await session.commit()
    assert counts["planning_proposals"] == 10 and counts["proposal_funding"] == 5
    items = (await admin.get(PROPOSALS, params={"limit": 100})).json()["items"]
    assert {i["status"] for i in items} == {s.value for s in ProposalStatus}
    realised = next(i for i in items if i["status"] == "realised")
    assert realised["finding_ids"] and realised["funding_realised_amount"] == 118_750_000
    deferred = next(i for i in items if i["status"] == "deferred")
    draft = next(i for i in items if i["status"] == "draft")
    assert deferred["carried_over_to_id"] == draft["id"]
    assert draft["carried_over_from_id"] == deferred["id"]
    history = (await admin.get(f"{PROPOSALS}/{realised['id']}/transitions")).json()["items"]
    assert [h["to_status"] for h in history] == ["agreed", "in_rkp_desa", "in_apbdes", "realised"]
    report = (await analyst.get(f"{REPORTS}/needs-to-budget")).json()
    (village,) = [c for c in report["communities"] if c["name"] == "Desa Sukamaju"]
    assert village["funnel"]["proposals"] == 10 and village["funnel"]["realised"] == 1
    assert village["top_needs"]["reached_apbdes"] == 1
    development = (await analyst.get(f"{REPORTS}/development")).json()
    assert development["by_scheme"]["indeks_desa"]["status_counts"]
    assert development["by_scheme"]["idm"]["status_counts"] == development["status_counts"]
    # The program of the village's KAK lists the proposal it carries out.
    (linked,) = [i for i in items if i["program_ids"]]
    kak = await admin.get(
        f"/api/v1/programs/{linked['program_ids'][0]}/terms-of-reference",
        headers={"Accept": "text/markdown"},
    )
    assert "### Usulan Perencanaan Desa yang Dilaksanakan" in kak.text
