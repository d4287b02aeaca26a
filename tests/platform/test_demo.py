"""`berdaya seed-demo` fills an empty database with a coherent data set, through the
project's own rules (IDM status, encrypted NIKs, Borda ranks, budget sums)."""

import pytest

from app.core.errors import Conflict
from app.demo import seed


async def test_seed_demo_builds_a_coherent_data_set(app, admin, analyst, raw_db):
    async with app.state.database.sessions() as session:
        counts = await seed(session, app.state.personal_data)
        await session.commit()
    assert counts["communities"] == 8
    assert counts["people"] == 80
    assert counts["programs"] == 8 and counts["partnerships"] == 8
    assert counts["participation_records"] == 80

    communities = (await admin.get("/api/v1/communities?limit=50")).json()["items"]
    assert len(communities) == 8
    people = (await admin.get("/api/v1/people?limit=100")).json()["items"]
    assert all(p["nik"] is None or p["nik"].startswith("************") for p in people)
    assert any(p["participation_count"] == 1 for p in people)
    # NIKs are stored encrypted and valid: the lookup finds one by its digits.
    raw = await raw_db.fetchval("SELECT count(*) FROM people WHERE nik_ciphertext LIKE 'v1.%'")
    assert raw > 0

    programs = (await admin.get("/api/v1/programs?limit=50")).json()["items"]
    for program in programs:
        lines = (await admin.get(f"/api/v1/programs/{program['id']}/budget-lines")).json()
        assert program["budget_amount"] == sum(line["total_amount"] for line in lines["items"])
    kak = await admin.get(
        f"/api/v1/programs/{programs[0]['id']}/terms-of-reference",
        headers={"Accept": "text/markdown"},
    )
    assert kak.status_code == 200 and "## 8. Biaya" in kak.text

    ranks = await raw_db.fetch(
        "SELECT priority_rank FROM findings WHERE kind <> 'potential' ORDER BY priority_rank"
    )
    assert all(r["priority_rank"] is not None for r in ranks)
    report = (await analyst.get("/api/v1/reports/development")).json()
    assert report["status_counts"]


async def test_seed_demo_refuses_a_filled_database(app):
    async with app.state.database.sessions() as session:
        await seed(session, app.state.personal_data)
        await session.commit()
    async with app.state.database.sessions() as session:
        with pytest.raises(Conflict):
            await seed(session, app.state.personal_data)
