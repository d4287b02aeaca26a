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
        raise Conflict("the database already has communities; seed-demo fills only an empty one")
    counts = {"communities": 0, "development_indices": 0}
    for data, yearly in zip(DEMO_COMMUNITIES, DEMO_INDICES, strict=True):
        community = Community(**data)
        session.add(community)
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
