"""The terms of reference (KAK) of a program, in Indonesian and English, as JSON and Markdown."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.factories import (
    ASSESSMENTS,
    INDICATOR,
    PROGRAMS,
    activity_body,
    add_finding,
    create_assessment,
    make_person,
    post,
)

BASE = PROGRAMS

SECTION_KEYS = [
    "background",
    "objectives",
    "beneficiaries",
    "indicators",
    "method",
    "implementers",
    "schedule",
    "budget",
    "location",
]

HEADINGS_ID = [
    "Latar Belakang",
    "Maksud dan Tujuan",
    "Penerima Manfaat",
    "Indikator Keluaran dan Keluaran",
    "Cara Pelaksanaan",
    "Pelaksana dan Penanggung Jawab",
    "Jadwal Kegiatan",
    "Biaya",
    "Lokasi",
]

HEADINGS_EN = [
    "Background",
    "Purpose and Objectives",
    "Beneficiaries",
    "Output Indicators and Outputs",
    "Implementation Method",
    "Implementers and Responsible Parties",
    "Activity Schedule",
    "Budget",
    "Location",
]


# --- KAK ----------------------------------------------------------------------------------------


@pytest.fixture
async def kak_program(world: Any) -> dict[str, Any]:
    """A program with findings ranked by ballots (rank order differs from creation order),
    indicators, activities and budget lines summing to Rp 3.375.000."""
    coord = world.coord
    assessment = await create_assessment(coord, world.a["id"])
    first = await add_finding(coord, assessment["id"], title="Anak putus sekolah", severity=3)
    second = await add_finding(
        coord, assessment["id"], title="Balita kurang gizi", kind="need", severity=3
    )
    third = await add_finding(coord, assessment["id"], title="Cuci tangan jarang", severity=3)
    person_one = await make_person(coord, world.a["id"])
    person_two = await make_person(coord, world.a["id"])
    for person in (person_one, person_two):
        r = await coord.post(
            f"{ASSESSMENTS}/{assessment['id']}/ballots",
            json={"person_id": person["id"], "ranking": [third["id"], second["id"], first["id"]]},
        )
        assert r.status_code == 201, r.text
    ranks = {
        f["id"]: f["priority_rank"]
        for f in (await coord.get(f"{ASSESSMENTS}/{assessment['id']}/findings")).json()["items"]
    }
    assert ranks == {third["id"]: 1, second["id"]: 2, first["id"]: 3}

    pid = world.pid
    r = await coord.patch(
        f"{BASE}/{pid}",
        json={
            "background": "Air bersih sulit didapat.",
            "summary": "Meningkatkan akses air.",
            "objectives": ["Membangun sumur", "Melatih pengelola"],
            "target_beneficiaries": 1200,
            "funding_source": "Dana Desa",
            "addressed_finding_ids": [first["id"], second["id"], third["id"]],
        },
    )
    assert r.status_code == 200, r.text
    await post(coord, f"{BASE}/{pid}/indicators", INDICATOR)
    await post(coord, f"{BASE}/{pid}/activities", activity_body(world.a["id"]))
    url = f"{BASE}/{pid}/budget-lines"
    await post(
        coord,
        url,
        {
            "description": "Konsumsi rapat",
            "quantity": "1.5",
            "unit": "paket",
            "unit_cost_amount": 250_000,
        },
    )
    await post(
        coord,
        url,
        {
            "description": "Honor narasumber",
            "quantity": 3,
            "unit": "OJ",
            "unit_cost_amount": 1_000_000,
        },
    )
    program = (await coord.get(f"{BASE}/{pid}")).json()
    assert program["budget_amount"] == 3_375_000
    return {"program": program, "order": [third["title"], second["title"], first["title"]]}


async def test_kak_json_in_indonesian_and_english(world: Any, kak_program: dict[str, Any]) -> None:
    url = f"{BASE}/{world.pid}/terms-of-reference"
    r = await world.coord.get(url)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/json")
    doc = r.json()
    assert doc["lang"] == "id"
    assert doc["code"] == kak_program["program"]["code"]
    assert [s["key"] for s in doc["sections"]] == SECTION_KEYS
    assert [s["heading"] for s in doc["sections"]] == HEADINGS_ID
    sections = {s["key"]: s["content"] for s in doc["sections"]}
    assert [f["title"] for f in sections["background"]["findings"]] == kak_program["order"]
    assert [f["priority_rank"] for f in sections["background"]["findings"]] == [1, 2, 3]
    assert sections["budget"]["total_amount"] == 3_375_000
    assert sections["budget"]["total_formatted"] == "Rp 3.375.000"
    assert sum(line["total_amount"] for line in sections["budget"]["lines"]) == 3_375_000
    assert sections["indicators"]["indicators"][0]["target"] == 80
    # Ordered by region code, then name.
    assert [c["name"] for c in sections["location"]["communities"]] == [
        world.a["name"],
        world.b["name"],
    ]

    en = await world.coord.get(url, params={"lang": "en"})
    assert en.status_code == 200, en.text
    assert en.json()["lang"] == "en"
    assert [s["key"] for s in en.json()["sections"]] == SECTION_KEYS
    assert [s["heading"] for s in en.json()["sections"]] == HEADINGS_EN

    for bad in ("xx", "ID", ""):
        r = await world.coord.get(url, params={"lang": bad})
        assert r.status_code == 422, (bad, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize(("lang", "headings"), [(None, HEADINGS_ID), ("en", HEADINGS_EN)])
async def test_kak_markdown(
    world: Any, kak_program: dict[str, Any], lang: str | None, headings: list[str]
) -> None:
    params = {"lang": lang} if lang else {}
    r = await world.fac_a.get(
        f"{BASE}/{world.pid}/terms-of-reference",
        params=params,
        headers={"Accept": "text/markdown"},
    )
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/markdown")
    text = r.text
    positions = []
    for heading in headings:
        match = re.search(rf"^## \d+\. {re.escape(heading)}$", text, re.MULTILINE)
        assert match, (heading, text)
        positions.append(match.start())
    assert positions == sorted(positions)
    assert "Rp 3.375.000" in text
    assert "Rp 250.000" in text
    assert "1,5 paket" in text  # Indonesian decimal comma in the budget table
    finding_positions = [text.index(title) for title in kak_program["order"]]
    assert finding_positions == sorted(finding_positions)
    assert kak_program["program"]["code"] in text
