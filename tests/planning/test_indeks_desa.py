"""Indeks Desa (Permendesa PDTT 9/2024) beside IDM: the scheme field, the six dimensions,
the published score and status stored as given, one entry per year and scheme, both schemes
in the development report and the export, and the migration leaving IDM rows untouched."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import asyncpg
import httpx
from alembic import command

from tests.factories import EXPORTS, REPORTS, add_index, indices_url
from tests.helpers import assert_422_at, assert_problem, plain_dsn
from tests.platform.test_migrations import alembic_config, fresh_url  # noqa: F401

INDEKS_DESA = {
    "year": 2024,
    "scheme": "indeks_desa",
    "layanan_dasar": 71.25,
    "sosial": 66.4,
    "ekonomi": 58.1,
    "lingkungan": 62,
    "aksesibilitas": 69.75,
    "tata_kelola": 74.5,
    "score": 67.02,
    "status": "berkembang",
}


async def test_indeks_desa_is_stored_as_published(
    admin: httpx.AsyncClient, community: dict[str, Any]
) -> None:
    url = indices_url(community["id"])
    # A published status the IDM cut-offs would not give (67.02 on 0..100): stored as given.
    r = await admin.post(url, json={**INDEKS_DESA, "status": "maju"})
    assert r.status_code == 201, r.text
    entry = r.json()
    assert entry["scheme"] == "indeks_desa"
    assert (entry["score"], entry["status"]) == (67.02, "maju")
    assert entry["layanan_dasar"] == 71.25 and entry["tata_kelola"] == 74.5
    assert entry["iks"] is None and entry["idm_score"] is None and entry["idm_status"] is None
    # The same year in the other scheme is another entry; the same scheme twice is a 409.
    idm = await add_index(admin, community["id"], year=2024, value=0.65)
    assert idm["scheme"] == "idm" and idm["idm_status"] == "berkembang" and idm["score"] is None
    assert_problem(await admin.post(url, json=INDEKS_DESA), 409)
    items = (await admin.get(url)).json()["items"]
    assert sorted(i["scheme"] for i in items) == ["idm", "indeks_desa"]
    # PATCH: fields of the entry's own scheme only.
    r = await admin.patch(f"{url}/{entry['id']}", json={"score": 70.1, "status": "maju"})
    assert r.status_code == 200 and r.json()["score"] == 70.1
    assert_422_at(await admin.patch(f"{url}/{entry['id']}", json={"iks": 0.5}), "body", "iks")
    assert_422_at(await admin.patch(f"{url}/{idm['id']}", json={"sosial": 50}), "body", "sosial")
    assert_422_at(
        await admin.patch(f"{url}/{entry['id']}", json={"status": None}), "body", "status"
    )
    # Deleted, the year is free; restoring while another live one holds it is a 409.
    assert (await admin.delete(f"{url}/{entry['id']}")).status_code == 204
    again = await admin.post(url, json=INDEKS_DESA)
    assert again.status_code == 201
    assert_problem(await admin.post(f"{url}/{entry['id']}/restore"), 409)


async def test_indeks_desa_validation(admin: httpx.AsyncClient, community: dict[str, Any]) -> None:
    url = indices_url(community["id"])
    cases = [
        ({k: v for k, v in INDEKS_DESA.items() if k != "score"}, ("body", "score")),
        ({k: v for k, v in INDEKS_DESA.items() if k != "status"}, ("body", "status")),
        ({**INDEKS_DESA, "score": 100.5}, ("body", "score")),
        ({**INDEKS_DESA, "sosial": -1}, ("body", "sosial")),
        ({**INDEKS_DESA, "status": "maju_sekali"}, ("body", "status")),
        ({**INDEKS_DESA, "iks": 0.5}, ("body", "iks")),
        ({**INDEKS_DESA, "scheme": "idm_2016"}, ("body", "scheme")),
        ({"year": 2023, "iks": 0.5, "ike": 0.5}, ("body", "ikl")),
        ({"year": 2023, "iks": 0.5, "ike": 0.5, "ikl": 0.5, "score": 50}, ("body", "score")),
        ({"year": 2023, "iks": 0.5, "ike": 0.5, "ikl": 0.5, "status": "maju"}, ("body", "status")),
    ]
    for body, loc in cases:
        assert_422_at(await admin.post(url, json=body), *loc)
    assert (await admin.get(url)).json()["items"] == []


async def test_development_report_shows_both_schemes(
    admin: httpx.AsyncClient, analyst: httpx.AsyncClient, community: dict[str, Any]
) -> None:
    url = indices_url(community["id"])
    await add_index(admin, community["id"], year=2022, value=0.55)  # tertinggal
    await add_index(admin, community["id"], year=2023, value=0.65)  # berkembang
    assert (await admin.post(url, json={**INDEKS_DESA, "status": "berkembang"})).status_code == 201
    assert (
        await admin.post(url, json={**INDEKS_DESA, "year": 2025, "score": 75.5, "status": "maju"})
    ).status_code == 201
    report = (await analyst.get(f"{REPORTS}/development")).json()
    idm, indeks = report["by_scheme"]["idm"], report["by_scheme"]["indeks_desa"]
    assert report["status_counts"] == idm["status_counts"]  # the top level stays IDM
    assert [(r["year"], r["tertinggal"], r["berkembang"]) for r in idm["status_counts"]] == [
        (2022, 1, 0),
        (2023, 0, 1),
    ]
    assert [(r["year"], r["berkembang"], r["maju"]) for r in indeks["status_counts"]] == [
        (2024, 1, 0),
        (2025, 0, 1),
    ]
    (up,) = indeks["moved_up"]
    assert (up["from_year"], up["to_year"], up["to_status"]) == (2024, 2025, "maju")
    assert up["score_change"] == 8.48  # 75.50 - 67.02, on the 0..100 scale
    assert [m["to_status"] for m in idm["moved_up"]] == ["berkembang"]


async def test_export_carries_both_schemes(
    admin: httpx.AsyncClient, analyst: httpx.AsyncClient, community: dict[str, Any]
) -> None:
    await add_index(admin, community["id"], year=2023, value=0.65)
    await admin.post(indices_url(community["id"]), json=INDEKS_DESA)
    r = await analyst.get(f"{EXPORTS}/development-indices", params={"format": "json"})
    assert r.status_code == 200, r.text
    rows = r.json() if isinstance(r.json(), list) else r.json()["items"]
    by_scheme = {row["scheme"]: row for row in rows}
    assert by_scheme["idm"]["idm_status"] == "berkembang" and by_scheme["idm"]["score"] is None
    assert by_scheme["indeks_desa"]["score"] == 67.02
    assert by_scheme["indeks_desa"]["layanan_dasar"] == 71.25


async def _run(url: str, sql: str, *args: Any) -> Any:
    conn = await asyncpg.connect(**plain_dsn(url))
    try:
        return await conn.fetch(sql, *args)
    finally:
        await conn.close()


async def test_migration_keeps_idm_rows_and_steps_down(fresh_url: str) -> None:  # noqa: F811
    config = alembic_config(fresh_url)
    await asyncio.to_thread(command.upgrade, config, "0008")
    community, index = uuid.uuid4(), uuid.uuid4()
    await _run(
        fresh_url,
        "INSERT INTO communities (id, name, kind, region_code) "
        "VALUES ($1, 'Desa Sukamaju', 'desa', '32.04.12.2001')",
        community,
    )
    await _run(
        fresh_url,
        "INSERT INTO development_indices (id, community_id, year, iks, ike, ikl, idm_score, "
        "idm_status) VALUES ($1, $2, 2023, 0.7123, 0.6012, 0.6667, 0.6601, 'berkembang')",
        index,
        community,
    )
    before = await _run(fresh_url, "SELECT * FROM development_indices")
    await asyncio.to_thread(command.upgrade, config, "0009")
    (after,) = await _run(fresh_url, "SELECT * FROM development_indices")
    assert after["scheme"] == "idm" and after["score"] is None and after["status"] is None
    assert {k: after[k] for k in dict(before[0])} == dict(before[0])  # nothing else moved
    await _run(
        fresh_url,
        "INSERT INTO development_indices (id, community_id, year, scheme, score, status) "
        "VALUES ($1, $2, 2024, 'indeks_desa', 67.02, 'berkembang')",
        uuid.uuid4(),
        community,
    )
    await asyncio.to_thread(command.downgrade, config, "0008")
    rows = await _run(fresh_url, "SELECT * FROM development_indices")
    assert [dict(r) for r in rows] == [dict(before[0])]
    tables = {r["tablename"] for r in await _run(fresh_url, "SELECT tablename FROM pg_tables")}
    assert not {t for t in tables if t.startswith("planning_")}
    await asyncio.to_thread(command.upgrade, config, "0009")
