"""The terms of reference (Kerangka Acuan Kerja, KAK) generated from a program's data.

One builder produces structured sections; one renderer turns them into Markdown a
coordinator can hand to a district office as it is. The document speaks one language:
Indonesian by default, English with ``lang=en`` — headings, the label of every enum value
(beside the value itself in JSON, ``*_label``) and long dates ("5 Februari 2025"), all from
the catalogue ``app.core.i18n``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.i18n import Lang, date_range, label, long_time
from app.core.regions import PROVINCES, local_zone
from app.programs.models import Program
from app.programs.repository import (
    addressed_findings,
    facilitators_of,
    latest_values,
    live_activities,
    live_budget_lines,
    live_indicators,
    planning_proposals_of,
    program_communities,
    program_partners,
    user_name,
)
from app.programs.schemas import TermsOfReference, TermsSection

HEADINGS: dict[str, dict[str, str]] = {
    "id": {
        "background": "Latar Belakang",
        "objectives": "Maksud dan Tujuan",
        "beneficiaries": "Penerima Manfaat",
        "indicators": "Indikator Keluaran dan Keluaran",
        "method": "Cara Pelaksanaan",
        "implementers": "Pelaksana dan Penanggung Jawab",
        "schedule": "Jadwal Kegiatan",
        "budget": "Biaya",
        "location": "Lokasi",
    },
    "en": {
        "background": "Background",
        "objectives": "Purpose and Objectives",
        "beneficiaries": "Beneficiaries",
        "indicators": "Output Indicators and Outputs",
        "method": "Implementation Method",
        "implementers": "Implementers and Responsible Parties",
        "schedule": "Activity Schedule",
        "budget": "Budget",
        "location": "Location",
    },
}

WORDS: dict[str, dict[str, str]] = {
    "id": {
        "title": "Kerangka Acuan Kerja",
        "findings": "Permasalahan dan kebutuhan yang dijawab",
        "planning": "Usulan Perencanaan Desa yang Dilaksanakan",
        "planning_proposal": "Usulan",
        "planning_community": "Komunitas",
        "planning_year": "Tahun",
        "planning_bidang": "Bidang",
        "planning_status": "Status",
        "planning_estimate": "Perkiraan biaya",
        "planning_funded": "Pendanaan",
        "priority": "prioritas warga",
        "unranked": "belum diperingkat",
        "none": "Belum diisi.",
        "target": "Jumlah sasaran",
        "people": "orang",
        "indicator": "Indikator",
        "unit": "Satuan",
        "baseline": "Baseline",
        "goal": "Target",
        "latest": "Capaian terakhir",
        "direction": "Arah",
        "activity": "Kegiatan",
        "kind": "Jenis",
        "community": "Komunitas",
        "when": "Waktu",
        "where": "Tempat",
        "status": "Status",
        "coordinator": "Koordinator",
        "facilitators": "Fasilitator",
        "partners": "Mitra",
        "description": "Uraian",
        "quantity": "Volume",
        "unit_cost": "Harga satuan",
        "total": "Jumlah",
        "grand_total": "Total",
        "region": "Kode wilayah",
        "province": "Provinsi",
        "funding": "Sumber dana",
        "period": "Periode",
        "code": "Kode program",
    },
    "en": {
        "title": "Terms of Reference",
        "findings": "Problems and needs addressed",
        "planning": "Village Planning Proposals Carried Out",
        "planning_proposal": "Proposal",
        "planning_community": "Community",
        "planning_year": "Year",
        "planning_bidang": "Field (bidang)",
        "planning_status": "Status",
        "planning_estimate": "Estimated cost",
        "planning_funded": "Funded",
        "priority": "community priority",
        "unranked": "not ranked",
        "none": "Not provided.",
        "target": "Target beneficiaries",
        "people": "people",
        "indicator": "Indicator",
        "unit": "Unit",
        "baseline": "Baseline",
        "goal": "Target",
        "latest": "Latest value",
        "direction": "Direction",
        "activity": "Activity",
        "kind": "Kind",
        "community": "Community",
        "when": "When",
        "where": "Where",
        "status": "Status",
        "coordinator": "Coordinator",
        "facilitators": "Facilitators",
        "partners": "Partners",
        "description": "Description",
        "quantity": "Quantity",
        "unit_cost": "Unit cost",
        "total": "Total",
        "grand_total": "Total",
        "region": "Region code",
        "province": "Province",
        "funding": "Funding source",
        "period": "Period",
        "code": "Program code",
    },
}


def rupiah(amount: int) -> str:
    """Indonesian formatting: ``Rp 12.500.000``."""
    return "Rp " + f"{amount:,}".replace(",", ".")


def local_time(moment: datetime, region_code: str | None, lang: Lang = "id") -> str:
    """``1 Maret 2025 pukul 09.00 WIB``: the time where the activity happens."""
    zone, hours = local_zone(region_code or "")
    return f"{long_time(moment.astimezone(timezone(timedelta(hours=hours))), lang)} {zone}"


def number(value: Decimal | float | int) -> str:
    text = f"{Decimal(str(value)).normalize():f}"
    return text.replace(".", ",")  # Indonesian decimal comma


async def build_terms(session: AsyncSession, program: Program, lang: Lang) -> TermsOfReference:
    heading = HEADINGS[lang]

    def says(enum: str, value: str) -> str:
        return label(enum, value, lang)

    communities = await program_communities(session, program.id)
    community_names = {c.id: c.name for c in communities}
    regions = {c.id: c.region_code for c in communities}
    findings = await addressed_findings(session, program.id)
    indicators = await live_indicators(session, program.id)
    latest = await latest_values(session, [i.id for i in indicators])
    activities = await live_activities(session, program.id)
    lines = await live_budget_lines(session, program.id)
    coordinator = (
        await user_name(session, program.coordinator_id) if program.coordinator_id else None
    )
    facilitators = await facilitators_of(session, list(community_names))
    partners = await program_partners(session, program.id)
    proposals = await planning_proposals_of(session, program.id)

    sections = [
        (
            "background",
            {
                "text": program.background,
                "findings": [
                    {
                        "id": str(f.id),
                        "title": f.title,
                        "kind": f.kind,
                        "kind_label": says("FindingKind", f.kind),
                        "category": f.category,
                        "category_label": says("FindingCategory", f.category),
                        "severity": f.severity,
                        "priority_rank": f.priority_rank,
                        "community": community_names.get(cid),
                    }
                    for f, cid in findings
                ],
                "planning_heading": WORDS[lang]["planning"],
                "planning_proposals": [
                    {
                        "id": str(p.id),
                        "title": p.title,
                        "community": community_names.get(p.community_id),
                        "planning_year": p.planning_year,
                        "bidang": p.bidang,
                        "status": p.status,
                        "status_label": says("ProposalStatus", p.status),
                        "estimated_cost_amount": p.estimated_cost_amount,
                        "funding_planned_amount": p.funding_planned_amount,
                        "funding_realised_amount": p.funding_realised_amount,
                    }
                    for p in proposals
                ],
            },
        ),
        ("objectives", {"summary": program.summary, "objectives": program.objectives}),
        (
            "beneficiaries",
            {
                "target_beneficiaries": program.target_beneficiaries,
                "description": program.beneficiaries_description,
                "communities": [c.name for c in communities],
            },
        ),
        (
            "indicators",
            {
                "indicators": [
                    {
                        "name": i.name,
                        "unit": i.unit,
                        "baseline": float(i.baseline),
                        "target": float(i.target),
                        "direction": i.direction,
                        "direction_label": says("Direction", i.direction),
                        "latest_value": float(latest[i.id]) if i.id in latest else None,
                    }
                    for i in indicators
                ]
            },
        ),
        (
            "method",
            {
                "activity_kinds": sorted({a.kind for a in activities}),
                "activity_kind_labels": [
                    says("ActivityKind", k) for k in sorted({a.kind for a in activities})
                ],
                "activities": [
                    {
                        "title": a.title,
                        "kind": a.kind,
                        "kind_label": says("ActivityKind", a.kind),
                        "community": community_names.get(a.community_id),
                        "description": a.description,
                    }
                    for a in activities
                ],
            },
        ),
        (
            "implementers",
            {
                "coordinator": coordinator,
                "facilitators": [
                    {"name": name, "community": community_names.get(cid)}
                    for name, cid in facilitators
                ],
                "partners": [
                    {
                        **p,
                        "kind_label": says("PartnerKind", p["kind"]),
                        "role_label": says("PartnershipRole", p["role"]),
                        "status_label": says("PartnershipStatus", p["status"]),
                    }
                    for p in partners
                ],
            },
        ),
        (
            "schedule",
            {
                "start_date": program.start_date.isoformat() if program.start_date else None,
                "end_date": program.end_date.isoformat() if program.end_date else None,
                "period": date_range(program.start_date, program.end_date, lang)
                if program.start_date or program.end_date
                else None,
                "activities": [
                    {
                        "title": a.title,
                        "scheduled_start": a.scheduled_start.isoformat(),
                        "scheduled_end": a.scheduled_end.isoformat() if a.scheduled_end else None,
                        "local_time": local_time(
                            a.scheduled_start, regions.get(a.community_id), lang
                        ),
                        "location": a.location,
                        "status": a.status,
                        "status_label": says("ActivityStatus", a.status),
                    }
                    for a in activities
                ],
            },
        ),
        (
            "budget",
            {
                "funding_source": program.funding_source,
                "lines": [
                    {
                        "description": b.description,
                        "quantity": float(b.quantity),
                        "unit": b.unit,
                        "unit_cost_amount": b.unit_cost_amount,
                        "total_amount": b.total_amount,
                    }
                    for b in lines
                ],
                "total_amount": sum(b.total_amount for b in lines),
                "total_formatted": rupiah(sum(b.total_amount for b in lines)),
            },
        ),
        (
            "location",
            {
                "communities": [
                    {
                        "name": c.name,
                        "kind": c.kind,
                        "kind_label": says("CommunityKind", c.kind),
                        "region_code": c.region_code,
                        "province": PROVINCES.get(c.region_code[:2]),
                    }
                    for c in communities
                ]
            },
        ),
    ]
    return TermsOfReference(
        program_id=program.id,
        code=program.code,
        title=program.title,
        lang=lang,
        generated_at=datetime.now(UTC),
        sections=[TermsSection(key=k, heading=heading[k], content=v) for k, v in sections],
    )


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    def clean(cell: str) -> str:
        return cell.replace("|", "\\|").replace("\n", " ")

    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(clean(c) for c in row) + " |" for row in rows]
    return out


def render_markdown(doc: TermsOfReference) -> str:
    """The KAK as Markdown, every word in the document's language (enum values by label)."""
    w = WORDS[doc.lang]
    none = w["none"]
    out = [f"# {w['title']}: {doc.title}", "", f"**{w['code']}:** {doc.code}", ""]
    for number_, section in enumerate(doc.sections, start=1):
        c = section.content
        out += [f"## {number_}. {section.heading}", ""]
        if section.key == "background":
            out += [c["text"] or none, ""]
            if c["findings"]:
                out += [f"**{w['findings']}:**", ""]
                for f in c["findings"]:
                    rank = (
                        f"{w['priority']} #{f['priority_rank']}"
                        if f["priority_rank"]
                        else w["unranked"]
                    )
                    kind, category = f["kind_label"], f["category_label"]
                    out.append(f"- {f['title']} ({kind}, {category}; {rank})")
                out.append("")
            if c["planning_proposals"]:
                # The village plan this program carries out (API.md §8), under its own heading.
                out += [f"### {c['planning_heading']}", ""]
                rows = [
                    [
                        p["title"],
                        p["community"] or "-",
                        str(p["planning_year"]),
                        str(p["bidang"]),
                        p["status_label"],
                        rupiah(p["estimated_cost_amount"]),
                        rupiah(p["funding_planned_amount"]),
                    ]
                    for p in c["planning_proposals"]
                ]
                header = ["proposal", "community", "year", "bidang", "status", "estimate", "funded"]
                out += [*_table([w[f"planning_{h}"] for h in header], rows), ""]
        elif section.key == "objectives":
            out += [c["summary"] or none, ""]
            out += [f"{i}. {o}" for i, o in enumerate(c["objectives"], start=1)] or [none]
            out.append("")
        elif section.key == "beneficiaries":
            if c["target_beneficiaries"] is not None:
                out.append(
                    f"**{w['target']}:** {c['target_beneficiaries']:,} {w['people']}".replace(
                        ",", "."
                    )
                )
                out.append("")
            out += [c["description"] or none, ""]
            out += [f"- {name}" for name in c["communities"]] + [""]
        elif section.key == "indicators":
            rows = [
                [
                    i["name"],
                    i["unit"],
                    number(i["baseline"]),
                    number(i["target"]),
                    i["direction_label"],
                    number(i["latest_value"]) if i["latest_value"] is not None else "-",
                ]
                for i in c["indicators"]
            ]
            out += (
                _table(
                    [
                        w["indicator"],
                        w["unit"],
                        w["baseline"],
                        w["goal"],
                        w["direction"],
                        w["latest"],
                    ],
                    rows,
                )
                if rows
                else [none]
            ) + [""]
        elif section.key == "method":
            rows = [[a["title"], a["kind_label"], a["community"] or "-"] for a in c["activities"]]
            out += (
                _table([w["activity"], w["kind"], w["community"]], rows) if rows else [none]
            ) + [""]
        elif section.key == "implementers":
            out.append(f"- **{w['coordinator']}:** {c['coordinator'] or '-'}")
            facilitators = ", ".join(f"{f['name']} ({f['community']})" for f in c["facilitators"])
            out.append(f"- **{w['facilitators']}:** {facilitators or '-'}")
            partners = "; ".join(f"{p['name']} ({p['role_label']})" for p in c["partners"])
            out += [f"- **{w['partners']}:** {partners or '-'}", ""]
        elif section.key == "schedule":
            out += [f"**{w['period']}:** {c['period'] or '-'}", ""]
            rows = [
                [
                    a["title"],
                    a["local_time"],
                    a["location"] or "-",
                    a["status_label"],
                ]
                for a in c["activities"]
            ]
            out += (
                _table([w["activity"], w["when"], w["where"], w["status"]], rows)
                if rows
                else [none]
            ) + [""]
        elif section.key == "budget":
            if c["funding_source"]:
                out += [f"**{w['funding']}:** {c['funding_source']}", ""]
            rows = [
                [
                    b["description"],
                    f"{number(b['quantity'])} {b['unit']}",
                    rupiah(b["unit_cost_amount"]),
                    rupiah(b["total_amount"]),
                ]
                for b in c["lines"]
            ]
            rows.append([f"**{w['grand_total']}**", "", "", f"**{c['total_formatted']}**"])
            out += _table([w["description"], w["quantity"], w["unit_cost"], w["total"]], rows)
            out.append("")
        elif section.key == "location":
            rows = [
                [x["name"], x["kind_label"], x["region_code"], x["province"] or "-"]
                for x in c["communities"]
            ]
            out += [*_table([w["community"], w["kind"], w["region"], w["province"]], rows), ""]
    return "\n".join(out).rstrip() + "\n"
