"""The KAK speaks one language: the Indonesian one uses the Indonesian label of every enum
value and Indonesian long dates, the English one English labels and dates (API.md section 2,
issue 19), as Markdown and as JSON."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from app.core.i18n import LABELS, MONTHS, Lang
from tests.factories import (
    ASSESSMENTS,
    PROGRAMS,
    add_finding,
    make_partner,
    make_partnership,
    post,
)

# The enums the KAK shows, and the values of each it can show (findings it addresses are
# problems and needs only; terminated partnerships are left out).
KAK_ENUMS: dict[str, list[str]] = {
    "FindingKind": ["problem", "need"],
    "FindingCategory": list(LABELS["FindingCategory"]),
    "Direction": list(LABELS["Direction"]),
    "ActivityKind": list(LABELS["ActivityKind"]),
    "ActivityStatus": list(LABELS["ActivityStatus"]),
    "PartnershipRole": list(LABELS["PartnershipRole"]),
    "CommunityKind": list(LABELS["CommunityKind"]),
}
# Fields of the JSON document that are machine values (the same in every language).
MACHINE_KEYS = {
    "id",
    "key",
    "lang",
    "program_id",
    "code",
    "generated_at",
    "kind",
    "category",
    "direction",
    "status",
    "role",
    "activity_kinds",
    "start_date",
    "end_date",
    "scheduled_start",
    "scheduled_end",
    "region_code",
}
PERIOD = {
    "id": "5 Februari 2025 \u2013 2 Desember 2025",
    "en": "5 February 2025 \u2013 2 December 2025",
}
ACTIVITY_TIME = {"id": "1 Maret 2025 pukul 09.00 WIB", "en": "1 March 2025 at 09:00 WIB"}


@pytest.fixture
async def full_program(admin: httpx.AsyncClient, make_community: Any) -> dict[str, Any]:
    """A program touching every value of every enum the KAK shows (its own texts use no word
    that is a label in either language)."""
    communities = [
        await make_community(name=f"Komunitas {i}", kind=kind, region_code=f"32.04.12.20{i:02d}")
        for i, kind in enumerate(KAK_ENUMS["CommunityKind"], start=1)
    ]
    assessment = await post(
        admin,
        ASSESSMENTS,
        {"community_id": communities[0]["id"], "title": "Kajian desa", "methods": ["survey"]},
    )
    findings = [
        await add_finding(
            admin,
            assessment["id"],
            kind=KAK_ENUMS["FindingKind"][i % 2],
            category=category,
            title=f"Temuan nomor {i}",
        )
        for i, category in enumerate(KAK_ENUMS["FindingCategory"])
    ]
    program = await post(
        admin,
        PROGRAMS,
        {
            "title": "Penguatan Usaha Warga",
            "community_ids": [c["id"] for c in communities],
            "addressed_finding_ids": [f["id"] for f in findings],
            "start_date": "2025-02-05",
            "end_date": "2025-12-02",
            "funding_source": "APBDes 2025",
        },
    )
    pid = program["id"]
    for direction in KAK_ENUMS["Direction"]:
        await post(
            admin,
            f"{PROGRAMS}/{pid}/indicators",
            {
                "name": f"Indikator {direction[:3]}",
                "unit": "KK",
                "baseline": 50,
                "target": 80 if direction == "increase" else 20,
                "direction": direction,
            },
        )
    statuses = KAK_ENUMS["ActivityStatus"]
    for i, kind in enumerate(KAK_ENUMS["ActivityKind"]):
        await post(
            admin,
            f"{PROGRAMS}/{pid}/activities",
            {
                "title": f"Kegiatan nomor {i}",
                "kind": kind,
                "status": statuses[i % len(statuses)],
                "community_id": communities[i % len(communities)]["id"],
                "scheduled_start": "2025-03-01T09:00:00+07:00",
                "location": "Balai Warga",
            },
        )
    for role in KAK_ENUMS["PartnershipRole"]:
        partner = await make_partner(admin, name=f"Yayasan Mitra {role[:4]}")
        await make_partnership(admin, partner["id"], pid, role=role)
    return program


def _word(term: str) -> re.Pattern[str]:
    return re.compile(rf"(?<!\w){re.escape(term)}(?!\w)")


def _foreign_terms(lang: Lang) -> set[str]:
    """The words of the other language the KAK could show: labels, raw enum values, months."""
    other: Lang = "en" if lang == "id" else "id"
    terms = set()
    for enum, values in KAK_ENUMS.items():
        for value in values:
            own, foreign = LABELS[enum][value](lang), LABELS[enum][value](other)
            if foreign != own:
                terms.add(foreign)
            if value.lower() != own.lower():
                terms.add(value)  # a raw value is no word of either language
    terms |= set(MONTHS[other]) - set(MONTHS[lang])
    return terms


def _human_strings(node: Any, key: str = "") -> list[str]:
    """The strings of the JSON document meant for people (not its machine fields)."""
    if isinstance(node, dict):
        return [s for k, v in node.items() if k not in MACHINE_KEYS for s in _human_strings(v, k)]
    if isinstance(node, list):
        return [s for item in node for s in _human_strings(item, key)]
    return [node] if isinstance(node, str) else []


@pytest.mark.parametrize("lang", ["id", "en"])
async def test_kak_speaks_one_language(
    admin: httpx.AsyncClient, full_program: dict[str, Any], lang: Lang
) -> None:
    url = f"{PROGRAMS}/{full_program['id']}/terms-of-reference"
    markdown = await admin.get(url, params={"lang": lang}, headers={"Accept": "text/markdown"})
    assert markdown.status_code == 200, markdown.text
    assert markdown.headers["content-language"] == lang
    document = await admin.get(url, params={"lang": lang}, headers={"Accept-Language": "en"})
    assert document.status_code == 200, document.text
    assert document.headers["content-language"] == lang  # the document's, not the header's
    human = "\n".join(_human_strings(document.json()))

    for text in (markdown.text, human):
        found = sorted(t for t in _foreign_terms(lang) if _word(t).search(text))
        assert not found, f"words of the other language in the {lang} KAK: {found}"
        assert PERIOD[lang] in text
        assert ACTIVITY_TIME[lang] in text
        for enum, values in KAK_ENUMS.items():
            for value in values:
                assert LABELS[enum][value](lang) in text, (enum, value)
    assert not re.search(r"\d{4}-\d{2}-\d{2}", markdown.text)  # no ISO dates in the prose

    # Machine fields are unchanged, the labels beside them in the document's language.
    sections = {s["key"]: s["content"] for s in document.json()["sections"]}
    activities = sections["method"]["activities"]
    assert {a["kind"] for a in activities} == set(KAK_ENUMS["ActivityKind"])
    for a in activities:
        assert a["kind_label"] == LABELS["ActivityKind"][a["kind"]](lang)
    schedule = sections["schedule"]
    assert (schedule["start_date"], schedule["end_date"]) == ("2025-02-05", "2025-12-02")
    assert schedule["period"] == PERIOD[lang]
    roles = {p["role"]: p["role_label"] for p in sections["implementers"]["partners"]}
    assert roles == {r: LABELS["PartnershipRole"][r](lang) for r in KAK_ENUMS["PartnershipRole"]}
