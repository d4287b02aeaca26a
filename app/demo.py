"""``berdaya seed-demo``: a realistic, small Indonesian data set for trying the API."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.communities.models import Community, DevelopmentIndex
from app.communities.service import idm_score, idm_status
from app.core.errors import Conflict
from app.core.i18n import M
from app.planning.demo import seed_indeks_desa, seed_planning

# Real regency codes with plausible village names (codes of villages are illustrative).
DEMO_COMMUNITIES: list[dict[str, Any]] = [
    {
        "name": "Desa Sukamaju",
        "kind": "desa",
        "region_code": "32.04.12.2001",
        "population": 4210,
        "households": 1180,
        "latitude": -7.0451,
        "longitude": 107.5802,
        "potentials": ["kopi arabika", "wisata curug"],
        "description": "Desa di lereng Gunung Malabar, Kabupaten Bandung.",
    },
    {
        "name": "Desa Ngargoretno",
        "kind": "desa",
        "region_code": "33.08.02.2010",
        "population": 2875,
        "households": 810,
        "latitude": -7.5702,
        "longitude": 110.1389,
        "potentials": ["kopi robusta", "batu marmer", "wisata alam"],
        "description": "Desa perbukitan Menoreh di Kabupaten Magelang.",
    },
    {
        "name": "Desa Panggungharjo",
        "kind": "desa",
        "region_code": "34.02.16.2002",
        "population": 28310,
        "households": 7920,
        "latitude": -7.8456,
        "longitude": 110.3601,
        "potentials": ["BUMDes pengelolaan sampah", "kerajinan"],
        "description": "Desa di Kabupaten Bantul, dikenal dengan BUMDes-nya.",
    },
    {
        "name": "Desa Penglipuran",
        "kind": "desa",
        "region_code": "51.06.01.2005",
        "population": 1040,
        "households": 240,
        "latitude": -8.4222,
        "longitude": 115.3593,
        "potentials": ["desa wisata adat", "bambu"],
        "description": "Desa adat di Kabupaten Bangli.",
    },
    {
        "name": "Kelurahan Tamalanrea",
        "kind": "kelurahan",
        "region_code": "73.71.14.1001",
        "population": 16420,
        "households": 4100,
        "latitude": -5.1345,
        "longitude": 119.4930,
        "potentials": ["UMKM kuliner"],
        "description": "Kelurahan di Kota Makassar.",
    },
    {
        "name": "Kelompok Tani Hutan Wana Lestari",
        "kind": "kelompok",
        "region_code": "53.10.05.2003",
        "population": 62,
        "households": 48,
        "potentials": ["madu hutan", "kemiri"],
        "description": "Kelompok tani hutan kemasyarakatan di Kabupaten Manggarai.",
    },
    {
        "name": "Komunitas Adat Kasepuhan Ciptagelar",
        "kind": "komunitas_adat",
        "region_code": "32.02.39.2006",
        "population": 1700,
        "households": 560,
        "potentials": ["padi lokal", "tradisi leuit"],
        "description": "Masyarakat adat di Kabupaten Sukabumi.",
    },
    {
        "name": "Dusun Sade",
        "kind": "dusun",
        "region_code": "52.02.05.2007",
        "population": 700,
        "households": 150,
        "potentials": ["tenun songket", "desa wisata"],
        "description": "Dusun suku Sasak di Kabupaten Lombok Tengah.",
    },
]

# (iks, ike, ikl) per year, showing movement over time.
DEMO_INDICES: list[list[tuple[int, str, str, str]]] = [
    [
        (2022, "0.7012", "0.5523", "0.6000"),
        (2023, "0.7512", "0.6120", "0.6667"),
        (2024, "0.8012", "0.6820", "0.7333"),
    ],
    [(2023, "0.6400", "0.5100", "0.6667"), (2024, "0.6900", "0.5800", "0.6667")],
    [(2023, "0.9012", "0.8510", "0.8667"), (2024, "0.9200", "0.8800", "0.8667")],
    [(2024, "0.8800", "0.7600", "0.8000")],
    [(2024, "0.7400", "0.6500", "0.6000")],
    [(2023, "0.4800", "0.3900", "0.5333"), (2024, "0.5200", "0.4400", "0.5333")],
    [(2024, "0.6100", "0.4700", "0.7333")],
    [(2022, "0.5000", "0.4100", "0.4667"), (2024, "0.5600", "0.4700", "0.5333")],
]


FEMALE_NAMES = [
    "Siti Aminah",
    "Dewi Lestari",
    "Ni Made Ayu",
    "Sri Wahyuni",
    "Nurhayati",
    "Rina Marlina",
    "Yuliana Bria",
    "Wayan Sukerti",
    "Ratna Sari",
    "Fatimah Zahra",
]
MALE_NAMES = [
    "Budi Santoso",
    "Agus Salim",
    "I Ketut Arsana",
    "Asep Sunandar",
    "Yohanes Nahak",
    "Lalu Muhammad",
    "Andi Pratama",
    "Joko Susilo",
    "Rahmat Hidayat",
    "Dedi Kurniawan",
]


def _fake_nik(region_code: str, birth_year: int, female: bool, serial: int) -> str:
    """A valid-looking, fictitious NIK: region digits, birth date (+40 for women), serial."""
    pp, rr, dd, _ = region_code.split(".")
    day = 1 + serial % 28 + (40 if female else 0)
    month = 1 + serial % 12
    return f"{pp}{rr}{dd}{day:02d}{month:02d}{birth_year % 100:02d}{serial:04d}"


async def seed(session: AsyncSession, personal: Any = None) -> dict[str, int]:
    """Fill an empty database; refuse when communities already exist."""
    if await session.scalar(select(func.count()).select_from(Community)):
        raise Conflict(M.demo_not_empty)
    counts = {"communities": 0, "development_indices": 0}
    seeded: list[Community] = []
    for data, yearly in zip(DEMO_COMMUNITIES, DEMO_INDICES, strict=True):
        community = Community(**data)
        session.add(community)
        seeded.append(community)
        await session.flush()
        counts["communities"] += 1
        for year, iks, ike, ikl in yearly:
            values = Decimal(iks), Decimal(ike), Decimal(ikl)
            score = idm_score(*values)
            session.add(
                DevelopmentIndex(
                    community_id=community.id,
                    year=year,
                    iks=values[0],
                    ike=values[1],
                    ikl=values[2],
                    idm_score=score,
                    idm_status=idm_status(score).value,
                )
            )
            counts["development_indices"] += 1
        if personal is not None:
            counts["people"] = counts.get("people", 0) + await _seed_people(
                session, personal, community, counts["communities"]
            )
    await session.flush()
    # Indeks Desa beside IDM, and a planning cycle with a proposal in every status (issue 18).
    counts["development_indices"] += await seed_indeks_desa(session, seeded)
    if personal is not None:
        for name, made in (await _seed_field_work(session)).items():
            counts[name] = counts.get(name, 0) + made
        counts.update(await seed_planning(session))
    return counts


async def _seed_people(
    session: AsyncSession, personal: Any, community: Community, offset: int
) -> int:
    from app.people.models import Person
    from app.people.service import apply_personal_fields

    groups = [[], ["elderly"], ["poor_household"], ["youth"], ["female_headed_household"]]
    made = 0
    for n in range(10):
        female = n % 2 == 0
        name = (FEMALE_NAMES if female else MALE_NAMES)[(n + offset) % 10]
        birth_year = 1950 + (n * 7 + offset * 3) % 56
        values: dict[str, Any] = {
            "community_id": community.id,
            "full_name": name,
            "sex": "female" if female else "male",
            "birth_year": birth_year,
            "disability": n % 7 == 3,
            "vulnerable_groups": groups[n % 5],
            "consent_purposes": ["program_participation", "needs_assessment"]
            + (["contact"] if n % 3 == 0 else []),
            "consent_given_at": datetime.now(UTC),
        }
        if n % 4 != 3:  # some people have no NIK on record
            values["nik"] = _fake_nik(
                community.region_code, birth_year, female, offset * 100 + n + 1
            )
        if n % 3 == 0:
            values["phone"] = f"+62812{offset:03d}{n:04d}"
        apply_personal_fields(values, personal)
        session.add(Person(**values))
        made += 1
    return made


# One story per theme: findings of an assessment, the program answering them.
THEMES: list[dict[str, Any]] = [
    {
        "assessment": "Kajian kebutuhan air bersih",
        "findings": [
            ("problem", "infrastructure", "Sumur kering di musim kemarau", 5),
            ("need", "health", "Akses air minum layak bagi rumah tangga", 4),
            ("potential", "environment", "Mata air di hutan desa", None),
        ],
        "program": "Pengelolaan Air Bersih Berbasis Masyarakat",
        "objectives": ["Rumah tangga terlayani air bersih", "Kelompok pengelola air aktif"],
        "indicator": ("Rumah tangga dengan akses air bersih", "rumah tangga", 120, 400),
        "budget": [
            ("Pipa HDPE 2 inci", "850", "meter", 45_000),
            ("Bak penampung 5.000 liter", "4", "unit", 3_500_000),
            ("Pelatihan kelompok pengelola air", "2", "kegiatan", 4_250_000),
        ],
        "activities": [
            ("Musyawarah pembentukan kelompok pengelola air", "deliberation"),
            ("Pelatihan teknis perawatan jaringan pipa", "training"),
        ],
    },
    {
        "assessment": "Pemetaan potensi ekonomi perempuan",
        "findings": [
            ("problem", "economy", "Modal usaha perempuan terbatas", 4),
            ("need", "education", "Pelatihan pemasaran daring", 3),
            ("potential", "economy", "Kerajinan dan olahan pangan lokal", None),
        ],
        "program": "Penguatan Usaha Ekonomi Perempuan",
        "objectives": ["Usaha perempuan naik omzetnya", "Kelompok simpan pinjam berjalan"],
        "indicator": ("Usaha perempuan dengan omzet naik", "usaha", 10, 60),
        "budget": [
            ("Pelatihan pemasaran digital", "3", "angkatan", 6_000_000),
            ("Modal bergulir kelompok", "1", "paket", 25_000_000),
        ],
        "activities": [
            ("Pelatihan pemasaran daring", "training"),
            ("Pendampingan kelompok usaha", "mentoring"),
        ],
    },
]

DEMO_PARTNERS = [
    ("Pemerintah Kabupaten Bandung", "local_government", "32.04", "funder", 150_000_000),
    ("Yayasan Air Untuk Semua", "ngo", "34", "implementer", 40_000_000),
    ("PT Tirta Nusantara (CSR)", "private_sector", "31", "in_kind_provider", 75_000_000),
    ("Universitas Padjadjaran - LPPM", "academia", "32", "technical_support", 10_000_000),
]


async def _seed_field_work(session: AsyncSession) -> dict[str, int]:
    """Assessments with ranked findings, programs with activities, indicators and budgets,
    participation, and partners with agreements and contributions."""
    from datetime import date, timedelta

    from app.assessments.models import Ballot, Finding, NeedsAssessment
    from app.assessments.service import refresh_priority_ranks
    from app.participation.models import ParticipationRecord
    from app.partners.models import Contribution, Partner, Partnership
    from app.people.models import Person
    from app.programs.models import (
        Activity,
        BudgetLine,
        Indicator,
        Measurement,
        Program,
        ProgramCommunity,
        ProgramFinding,
    )
    from app.programs.service import line_total, next_code, refresh_budget

    counts = dict.fromkeys(
        (
            "assessments",
            "findings",
            "ballots",
            "programs",
            "activities",
            "participation_records",
            "partners",
            "partnerships",
            "contributions",
        ),
        0,
    )
    partners = []
    for name, kind, region, _, _ in DEMO_PARTNERS:
        partner = Partner(name=name, kind=kind, region_code=region)
        session.add(partner)
        partners.append(partner)
        counts["partners"] += 1
    await session.flush()
    levels = ["inform", "consult", "involve", "collaborate", "empower"]
    roles = ["beneficiary", "beneficiary", "volunteer", "cadre", "speaker", "decision_maker"]
    communities = (await session.execute(select(Community).order_by(Community.name))).scalars()
    for n, community in enumerate(list(communities)):
        people = (
            (
                await session.execute(
                    select(Person).where(Person.community_id == community.id).order_by(Person.id)
                )
            )
            .scalars()
            .all()
        )
        theme = THEMES[n % len(THEMES)]
        start = date(2025, 1, 6) + timedelta(days=7 * n)
        assessment = NeedsAssessment(
            community_id=community.id,
            title=theme["assessment"],
            methods=["focus_group", "survey", "transect_walk"],
            status="completed",
            started_on=start,
            completed_on=start + timedelta(days=14),
            respondent_count=len(people) * 4,
            summary="Diskusi kelompok terfokus dan survei.",
        )
        session.add(assessment)
        await session.flush()
        findings = []
        for kind, category, title, severity in theme["findings"]:
            finding = Finding(
                assessment_id=assessment.id,
                kind=kind,
                category=category,
                title=title,
                severity=severity,
                affected_people=len(people) * 10,
            )
            session.add(finding)
            findings.append(finding)
        await session.flush()
        ranked = [f for f in findings if f.kind != "potential"]
        for i, person in enumerate(people[:6]):
            order = ranked if i % 3 else list(reversed(ranked))
            session.add(
                Ballot(
                    assessment_id=assessment.id, person_id=person.id, ranking=[f.id for f in order]
                )
            )
            counts["ballots"] += 1
        await session.flush()
        await refresh_priority_ranks(session, assessment.id)
        counts["assessments"] += 1
        counts["findings"] += len(findings)

        program = Program(
            code=await next_code(session, 2025),
            title=f"{theme['program']} - {community.name}",
            summary="Program disusun bersama warga dari hasil kajian kebutuhan.",
            background="Warga memprioritaskan masalah ini dalam musyawarah kajian kebutuhan.",
            objectives=theme["objectives"],
            target_beneficiaries=len(people) * 12,
            start_date=start + timedelta(days=30),
            end_date=start + timedelta(days=330),
            funding_source="Dana Desa dan mitra",
            status="active",
        )
        session.add(program)
        await session.flush()
        session.add(ProgramCommunity(program_id=program.id, community_id=community.id))
        for finding in ranked:
            session.add(ProgramFinding(program_id=program.id, finding_id=finding.id))
        name, unit, baseline, target = theme["indicator"]
        indicator = Indicator(
            program_id=program.id,
            name=name,
            unit=unit,
            baseline=Decimal(baseline),
            target=Decimal(target),
        )
        session.add(indicator)
        await session.flush()
        session.add(
            Measurement(
                indicator_id=indicator.id,
                measured_on=start + timedelta(days=180),
                value=Decimal(baseline + (target - baseline) // 2),
            )
        )
        for description, quantity, line_unit, cost in theme["budget"]:
            session.add(
                BudgetLine(
                    program_id=program.id,
                    description=description,
                    quantity=Decimal(quantity),
                    unit=line_unit,
                    unit_cost_amount=cost,
                    total_amount=line_total(Decimal(quantity), cost),
                )
            )
        await session.flush()
        await refresh_budget(session, program)
        activities = []
        for k, (title, kind) in enumerate(theme["activities"]):
            when = datetime.combine(
                start + timedelta(days=45 + 30 * k), datetime.min.time(), tzinfo=UTC
            ).replace(hour=2)
            activity = Activity(
                program_id=program.id,
                community_id=community.id,
                title=title,
                kind=kind,
                scheduled_start=when,
                scheduled_end=when.replace(hour=8),
                location="Balai Desa",
                status="done" if k == 0 else "planned",
            )
            session.add(activity)
            activities.append(activity)
        await session.flush()
        counts["programs"] += 1
        counts["activities"] += len(activities)
        for i, person in enumerate(people):
            session.add(
                ParticipationRecord(
                    person_id=person.id,
                    activity_id=activities[0].id,
                    community_id=community.id,
                    program_id=program.id,
                    date=activities[0].scheduled_start.date(),
                    level=levels[(i + n) % 5],
                    role=roles[(i + n) % 6],
                    hours=Decimal(6),
                    created_by=person.id,
                )
            )
            counts["participation_records"] += 1
        partner_name, _, _, role, commitment = DEMO_PARTNERS[n % len(DEMO_PARTNERS)]
        partner = partners[n % len(partners)]
        partnership = Partnership(
            partner_id=partner.id,
            program_id=program.id,
            role=role,
            agreement_ref=f"PKS/{program.code}/{n + 1:02d}",
            start_date=program.start_date,
            end_date=program.end_date,
            commitment_amount=commitment,
            status="active",
        )
        session.add(partnership)
        await session.flush()
        session.add(
            Contribution(
                partnership_id=partnership.id,
                kind="funds"
                if role == "funder"
                else "in_kind"
                if role == "in_kind_provider"
                else "expertise",
                amount=commitment // 3,
                contributed_on=(program.start_date or start) + timedelta(days=60),
                description=f"Tahap pertama dari {partner_name}",
            )
        )
        counts["partnerships"] += 1
        counts["contributions"] += 1
    await session.flush()
    return counts
