"""Demo data of issue 18 for ``berdaya seed-demo``: Indeks Desa entries for recent years,
and one village's planning cycle with a proposal in every status (with its planning
record and funding), so a newcomer sees the whole path from a ranked need to the budget.

Called by ``app.demo.seed`` after the field work (assessments, programs) exists.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.assessments.models import RANKABLE_KINDS, Finding, NeedsAssessment
from app.communities.models import Community, DevelopmentIndex
from app.core.transitions import StatusTransition
from app.planning.models import (
    PlanningProposal,
    ProposalFinding,
    ProposalFunding,
    ProposalProgram,
    ProposalTransition,
)
from app.programs.models import ProgramCommunity

# Indeks Desa (Permendesa PDTT 9/2024) per community, in the order of app.demo's
# DEMO_COMMUNITIES: (layanan_dasar, sosial, ekonomi, lingkungan, aksesibilitas, tata_kelola,
# score, status) for 2024 and 2025. Scores and statuses stand for what the ministry
# publishes; the server stores them as given.
_ID = tuple[str, str, str, str, str, str, str, str]
DEMO_INDEKS_DESA: list[tuple[_ID, _ID]] = [
    (
        ("78.20", "71.50", "63.40", "70.10", "74.80", "80.30", "73.05", "maju"),
        ("80.10", "73.20", "66.90", "71.00", "76.40", "82.50", "75.02", "maju"),
    ),
    (
        ("66.40", "62.10", "51.30", "68.20", "55.70", "64.90", "61.43", "berkembang"),
        ("68.90", "63.80", "55.60", "68.70", "58.30", "67.10", "63.73", "berkembang"),
    ),
    (
        ("88.60", "84.20", "82.70", "80.30", "90.10", "91.40", "86.22", "mandiri"),
        ("89.30", "85.10", "84.00", "81.20", "90.60", "92.00", "87.03", "mandiri"),
    ),
    (
        ("82.10", "86.40", "74.30", "84.90", "71.20", "79.50", "79.73", "maju"),
        ("83.40", "87.10", "77.80", "85.30", "72.60", "81.20", "81.23", "mandiri"),
    ),
    (
        ("74.50", "66.20", "62.80", "58.40", "81.30", "70.60", "68.97", "berkembang"),
        ("75.20", "67.40", "63.90", "59.10", "82.00", "72.30", "69.98", "berkembang"),
    ),
    (
        ("45.20", "52.10", "38.60", "61.30", "33.80", "48.90", "46.65", "tertinggal"),
        ("49.70", "54.30", "42.10", "62.00", "36.40", "53.20", "49.62", "tertinggal"),
    ),
    (
        ("58.30", "72.40", "49.10", "76.80", "41.20", "55.60", "58.90", "berkembang"),
        ("60.10", "73.00", "51.40", "77.20", "43.90", "57.80", "60.57", "berkembang"),
    ),
    (
        ("52.40", "63.70", "47.90", "55.10", "49.30", "51.80", "53.37", "tertinggal"),
        ("55.80", "65.20", "52.30", "56.40", "52.70", "56.10", "56.42", "berkembang"),
    ),
]
_DIMENSIONS = ("layanan_dasar", "sosial", "ekonomi", "lingkungan", "aksesibilitas", "tata_kelola")

PLANNING_VILLAGE = "Desa Sukamaju"
M = 1_000_000
RKP_2025 = "Perdes No. 4 Tahun 2024 tentang RKP Desa 2025"
RKP_2026 = "Perdes No. 5 Tahun 2025 tentang RKP Desa 2026"

# One proposal per status. ``finding``: the rank of the need it answers (None: a proposal of
# the musyawarah itself); ``path``: (status, date, forum, document, note); ``funding``:
# (fiscal year, source, planned, realised, APBDes reference).
DEMO_PROPOSALS: list[dict[str, Any]] = [
    {
        "year": 2025,
        "finding": 1,
        "bidang": 4,
        "forum": "musdus",
        "by": "Musyawarah Dusun Cibodas",
        "kegiatan": "Penyertaan modal kelompok usaha perempuan melalui BUMDes",
        "location": "Dusun Cibodas",
        "volume": "1",
        "unit": "paket",
        "beneficiaries": (64, 0, 38, 2),
        "cost": 120 * M,
        "source": "dana_desa",
        "path": [
            ("agreed", date(2024, 7, 16), "musrenbang_desa", "BA Musrenbang Desa 2024", None),
            ("in_rkp_desa", date(2024, 9, 24), "musdes", RKP_2025, None),
            (
                "in_apbdes",
                date(2024, 12, 19),
                "musyawarah_bpd",
                "Perdes No. 7 Tahun 2024 tentang APBDes 2025",
                None,
            ),
            ("realised", date(2025, 11, 28), None, "Laporan Realisasi APBDes 2025", None),
        ],
        "funding": [
            (2025, "dana_desa", 100 * M, 98_750_000, "4.06.01"),
            (2025, "swadaya", 20 * M, 20 * M, None),
        ],
    },
    {
        "year": 2026,
        "finding": 2,
        "bidang": 4,
        "forum": "musdus",
        "by": "Kelompok Wanita Tani Melati",
        "kegiatan": "Pelatihan pemasaran daring produk olahan kopi",
        "location": "Balai Desa Sukamaju",
        "volume": "3",
        "unit": "angkatan",
        "beneficiaries": (75, 15, 30, 3),
        "cost": 45 * M,
        "source": "dana_desa",
        "program": True,
        "path": [
            ("agreed", date(2025, 7, 15), "musrenbang_desa", "BA Musrenbang Desa 2025", None),
            ("in_rkp_desa", date(2025, 9, 23), "musdes", RKP_2026, None),
        ],
        "funding": [],
    },
    {
        "year": 2026,
        "title": "Rehabilitasi gedung posyandu Dusun Sukamanah",
        "bidang": 2,
        "forum": "musdus",
        "by": "Kader Posyandu Mawar",
        "kegiatan": "Pembangunan/rehabilitasi sarana prasarana posyandu",
        "location": "Dusun Sukamanah RT 02",
        "volume": "1",
        "unit": "unit",
        "beneficiaries": (140, 120, 45, 4),
        "cost": 75 * M,
        "source": "dana_desa",
        "path": [
            ("agreed", date(2025, 7, 15), "musrenbang_desa", "BA Musrenbang Desa 2025", None),
            ("in_rkp_desa", date(2025, 9, 23), "musdes", RKP_2026, None),
            (
                "in_apbdes",
                date(2025, 12, 18),
                "musyawarah_bpd",
                "Perdes No. 8 Tahun 2025 tentang APBDes 2026",
                None,
            ),
        ],
        "funding": [
            (2026, "dana_desa", 70 * M, None, "2.2.03"),
            (2026, "pades", 5 * M, None, None),
        ],
    },
    {
        "year": 2026,
        "title": "Jalan usaha tani Blok Cikaso",
        "bidang": 2,
        "forum": "musdus",
        "by": "Gapoktan Sukamaju",
        "kegiatan": "Pembangunan jalan usaha tani",
        "location": "Blok Cikaso",
        "volume": "850",
        "unit": "meter",
        "beneficiaries": (210, 230, 60, 2),
        "cost": 320 * M,
        "source": "dana_desa",
        "path": [("agreed", date(2025, 7, 15), "musrenbang_desa", "BA Musrenbang Desa 2025", None)],
        "funding": [],
    },
    {
        "year": 2025,
        "title": "Drainase lingkungan RW 03",
        "bidang": 2,
        "forum": "musdus",
        "by": "Musyawarah Dusun Sukamanah",
        "kegiatan": "Pembangunan saluran drainase",
        "location": "RW 03",
        "volume": "400",
        "unit": "meter",
        "beneficiaries": (180, 170, 40, 1),
        "cost": 150 * M,
        "source": "dana_desa",
        "path": [
            ("agreed", date(2024, 7, 16), "musrenbang_desa", "BA Musrenbang Desa 2024", None),
            (
                "deferred",
                date(2024, 9, 24),
                "musdes",
                "BA Musdes RKP Desa 2025",
                "Pagu indikatif Dana Desa 2025 tidak mencukupi; diusulkan kembali tahun depan",
            ),
        ],
        "funding": [],
        "carry_over": True,  # its 2026 draft is the proposal in the draft status
    },
    {
        "year": 2026,
        "title": "Rehabilitasi jembatan penghubung Sukamaju - Cibodas",
        "bidang": 2,
        "forum": "musrenbang_desa",
        "by": "Pemerintah Desa Sukamaju",
        "kegiatan": "Rehabilitasi jembatan antar-desa (kewenangan kabupaten)",
        "location": "Sungai Cisangkuy",
        "volume": "1",
        "unit": "unit",
        "beneficiaries": (1900, 1850, 410, 12),
        "cost": 950 * M,
        "source": "apbd",
        "path": [
            ("agreed", date(2025, 7, 15), "musrenbang_desa", "BA Musrenbang Desa 2025", None),
            ("forwarded", date(2025, 7, 15), "musrenbang_desa", "Daftar usulan ke kecamatan", None),
        ],
        "funding": [],
    },
    {
        "year": 2026,
        "title": "Peningkatan jalan kabupaten ruas Sukamaju - Pangalengan",
        "bidang": 2,
        "forum": "musrenbang_desa",
        "by": "Pemerintah Desa Sukamaju",
        "kegiatan": "Peningkatan jalan (kewenangan kabupaten)",
        "location": "Ruas jalan kabupaten",
        "volume": "2.4",
        "unit": "kilometer",
        "beneficiaries": (2100, 2110, 500, 15),
        "cost": 1_200 * M,
        "source": "apbd",
        "path": [
            ("agreed", date(2025, 1, 20), "musrenbang_desa", "BA Musrenbang Desa 2025", None),
            ("forwarded", date(2025, 1, 20), "musrenbang_desa", "Daftar usulan ke kecamatan", None),
            (
                "accommodated",
                date(2025, 3, 27),
                "musrenbang_kabupaten",
                "BA Musrenbang Kabupaten Bandung 2025",
                None,
            ),
        ],
        "funding": [(2026, "apbd", 1_150 * M, None, "RKPD Kab. Bandung 2026")],
    },
    {
        "year": 2026,
        "title": "Pembangunan SMP satu atap",
        "bidang": 2,
        "forum": "musrenbang_desa",
        "by": "Komite Sekolah SDN Sukamaju",
        "kegiatan": "Unit sekolah baru (kewenangan kabupaten)",
        "location": "Dusun Cibodas",
        "volume": "1",
        "unit": "unit",
        "beneficiaries": (95, 105, 60, 3),
        "cost": 2_400 * M,
        "source": "apbd",
        "path": [
            ("agreed", date(2025, 1, 20), "musrenbang_desa", "BA Musrenbang Desa 2025", None),
            ("forwarded", date(2025, 1, 20), "musrenbang_desa", "Daftar usulan ke kecamatan", None),
            (
                "not_accommodated",
                date(2025, 2, 18),
                "musrenbang_kecamatan",
                "BA Musrenbang Kecamatan Pangalengan 2025",
                None,
            ),
        ],
        "funding": [],
    },
    {
        "year": 2026,
        "title": "Gapura selamat datang desa",
        "bidang": 1,
        "forum": "musdes",
        "by": "Karang Taruna",
        "kegiatan": "Pembangunan gapura",
        "location": "Batas desa",
        "volume": "1",
        "unit": "unit",
        "beneficiaries": (0, 0, 0, 0),
        "cost": 60 * M,
        "source": "dana_desa",
        "path": [
            (
                "rejected",
                date(2025, 7, 15),
                "musrenbang_desa",
                "BA Musrenbang Desa 2025",
                "Bukan prioritas warga; diusulkan dikerjakan swadaya",
            ),
        ],
        "funding": [],
    },
]


async def seed_indeks_desa(session: AsyncSession, communities: list[Community]) -> int:
    """Indeks Desa entries for 2024 and 2025 beside the IDM ones."""
    made = 0
    for community, years in zip(communities, DEMO_INDEKS_DESA, strict=True):
        for year, values in zip((2024, 2025), years, strict=True):
            *dimensions, score, status = values
            session.add(
                DevelopmentIndex(
                    community_id=community.id,
                    year=year,
                    scheme="indeks_desa",
                    score=Decimal(score),
                    status=status,
                    **{k: Decimal(v) for k, v in zip(_DIMENSIONS, dimensions, strict=True)},
                )
            )
            made += 1
    await session.flush()
    return made


async def seed_planning(session: AsyncSession) -> dict[str, int]:
    """One planning cycle of Desa Sukamaju: its needs assessment validated, and a proposal in
    every status, the top-ranked needs carried into the plan and budget."""
    village = await session.scalar(select(Community).where(Community.name == PLANNING_VILLAGE))
    if village is None:
        return {}
    assessment = await session.scalar(
        select(NeedsAssessment).where(NeedsAssessment.community_id == village.id)
    )
    ranked: list[Finding] = []
    if assessment is not None:
        if assessment.status == "completed":
            _move(session, "needs_assessments", assessment, "validated")
        ranked = list(
            (
                await session.execute(
                    select(Finding)
                    .where(
                        Finding.assessment_id == assessment.id,
                        col(Finding.kind).in_(RANKABLE_KINDS),
                        col(Finding.priority_rank).is_not(None),
                    )
                    .order_by(Finding.priority_rank)
                )
            ).scalars()
        )
    program_id = await session.scalar(
        select(ProgramCommunity.program_id).where(ProgramCommunity.community_id == village.id)
    )
    counts = {"planning_proposals": 0, "proposal_transitions": 0, "proposal_funding": 0}
    for spec in DEMO_PROPOSALS:
        finding = None
        if spec.get("finding") and len(ranked) >= spec["finding"]:
            finding = ranked[spec["finding"] - 1]
        title = spec.get("title") or (finding.title if finding else "Usulan warga")
        female, male, poor, disability = spec["beneficiaries"]
        proposal = PlanningProposal(
            community_id=village.id,
            title=title,
            planning_year=spec["year"],
            origin_forum=spec["forum"],
            proposed_by=spec["by"],
            bidang=spec["bidang"],
            kegiatan=spec["kegiatan"],
            location=spec["location"],
            volume=Decimal(spec["volume"]),
            unit=spec["unit"],
            beneficiaries_female=female,
            beneficiaries_male=male,
            beneficiaries_poor_households=poor,
            beneficiaries_disability=disability,
            estimated_cost_amount=spec["cost"],
            proposed_funding_source=spec["source"],
        )
        session.add(proposal)
        await session.flush()
        counts["planning_proposals"] += 1
        if finding is not None:
            session.add(ProposalFinding(proposal_id=proposal.id, finding_id=finding.id))
        if spec.get("program") and program_id is not None:
            session.add(ProposalProgram(proposal_id=proposal.id, program_id=program_id))
        for fiscal_year, source, planned, realised, ref in spec["funding"]:
            session.add(
                ProposalFunding(
                    proposal_id=proposal.id,
                    fiscal_year=fiscal_year,
                    source=source,
                    planned_amount=planned,
                    realised_amount=realised,
                    apbdes_ref=ref,
                )
            )
            proposal.funding_planned_amount += planned
            proposal.funding_realised_amount += realised or 0
            counts["proposal_funding"] += 1
        for to, when, forum, document, note in spec["path"]:
            session.add(
                ProposalTransition(
                    proposal_id=proposal.id,
                    from_status=proposal.status,
                    to_status=to,
                    decided_on=when,
                    forum=forum,
                    document_ref=document,
                    note=note,
                )
            )
            _move(session, "planning_proposals", proposal, to)
            counts["proposal_transitions"] += 1
        await session.flush()
        if spec.get("carry_over"):
            draft = PlanningProposal(
                community_id=village.id,
                title=proposal.title,
                planning_year=proposal.planning_year + 1,
                origin_forum=proposal.origin_forum,
                proposed_by=proposal.proposed_by,
                bidang=proposal.bidang,
                kegiatan=proposal.kegiatan,
                location=proposal.location,
                volume=proposal.volume,
                unit=proposal.unit,
                beneficiaries_female=female,
                beneficiaries_male=male,
                beneficiaries_poor_households=poor,
                beneficiaries_disability=disability,
                estimated_cost_amount=proposal.estimated_cost_amount,
                proposed_funding_source=proposal.proposed_funding_source,
                carried_over_from_id=proposal.id,
            )
            session.add(draft)
            counts["planning_proposals"] += 1
    await session.flush()
    return counts


def _move(session: AsyncSession, resource: str, entity: Any, to: str) -> None:
    """The generic status trail, as ``app.core.transitions.record_transition`` writes it
    (the demo has no caller to audit)."""
    session.add(
        StatusTransition(
            resource=resource,
            resource_id=entity.id,
            from_status=entity.status,
            to_status=to,
            actor_id=None,
            note=None,
        )
    )
    entity.status = to
    entity.version += 1
