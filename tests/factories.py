"""Test data, built once for every area: the URLs, request bodies and ``make_*`` helpers that
create rows over the API (so every rule applies), and the few rows the API cannot make.

Defaults are plain, valid values; a test names in overrides only what it is about.
"""

from __future__ import annotations

import asyncio
import secrets
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

import httpx

from app.auth.passwords import hash_password

API = "/api/v1"
COMMUNITIES = f"{API}/communities"
PEOPLE = f"{API}/people"
ASSESSMENTS = f"{API}/needs-assessments"
PROGRAMS = f"{API}/programs"
RECORDS = f"{API}/participation-records"
PARTNERS = f"{API}/partners"
PARTNERSHIPS = f"{API}/partnerships"
ACCOUNTS = f"{API}/service-accounts"
EXPORTS = f"{API}/exports"
REPORTS = f"{API}/reports"
TOKEN = f"{API}/auth/token"
ME = f"{API}/auth/me"

PASSWORD = "correct-horse-battery"
YEAR_2025 = {"start_date": "2025-01-01", "end_date": "2025-12-31"}

MakeCommunity = Callable[..., Awaitable[dict[str, Any]]]
MakeUser = Callable[..., Awaitable[Any]]
AsUser = Callable[[Any], httpx.AsyncClient]
Bearer = Callable[[str], httpx.AsyncClient]


# --- rows the API cannot make -----------------------------------------------------------------

_PASSWORD_HASH: str | None = None


def password_hash() -> str:
    """The hash of ``PASSWORD``, computed once (argon2 is slow on purpose)."""
    global _PASSWORD_HASH
    if _PASSWORD_HASH is None:
        _PASSWORD_HASH = hash_password(PASSWORD)
    return _PASSWORD_HASH


def new_email(prefix: str = "user") -> str:
    return f"{prefix}-{secrets.token_hex(5)}@berdaya.id"


def token_for(app: Any, user_id: uuid.UUID) -> str:
    token, _ = app.state.tokens.issue(str(user_id))
    return str(token)


async def make_partner_org(app: Any, name: str = "Mitra Uji", kind: str = "ngo") -> uuid.UUID:
    """A partner organisation row (partner users and service accounts belong to one)."""
    from app.partners.models import Partner

    async with app.state.database.sessions() as session:
        partner = Partner(name=f"{name} {secrets.token_hex(3)}", kind=kind)
        session.add(partner)
        await session.commit()
        return partner.id


# --- over the API -----------------------------------------------------------------------------


async def login(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> httpx.Response:
    """The password grant, as a person logs in."""
    return await client.post(
        TOKEN, data={"grant_type": "password", "username": email, "password": password}
    )


async def post(client: httpx.AsyncClient, url: str, body: dict[str, Any]) -> dict[str, Any]:
    """Create through the API; the row must be created (201)."""
    r = await client.post(url, json=body)
    assert r.status_code == 201, (url, r.status_code, r.text)
    created: dict[str, Any] = r.json()
    return created


async def move(
    client: httpx.AsyncClient,
    collection: str,
    item_id: str,
    to: str,
    *,
    note: str | None = None,
    **kw: Any,
) -> httpx.Response:
    """Ask for one transition of a lifecycle (programs, assessments, partnerships)."""
    body: dict[str, Any] = {"to": to} if note is None else {"to": to, "note": note}
    return await client.post(f"{collection}/{item_id}/transitions", json=body, **kw)


async def move_ok(
    client: httpx.AsyncClient, collection: str, item_id: str, *path: str
) -> dict[str, Any]:
    """Walk the given states in order, each step succeeding; the last state's body."""
    body: dict[str, Any] = {}
    for to in path:
        r = await move(client, collection, item_id, to)
        assert r.status_code == 200, r.text
        body = r.json()
    return body


# communities


def index_body(year: int = 2024, value: str | float = 0.65, **overrides: Any) -> dict[str, Any]:
    return {"year": year, "iks": value, "ike": value, "ikl": value, **overrides}


def indices_url(community_id: str) -> str:
    return f"{COMMUNITIES}/{community_id}/development-indices"


async def add_index(client: httpx.AsyncClient, community_id: str, **body: Any) -> dict[str, Any]:
    return await post(client, indices_url(community_id), index_body(**body))


# people


async def make_person(
    client: httpx.AsyncClient,
    community_id: str,
    *,
    name: str = "Siti Aminah",
    sex: str = "female",
    purposes: Iterable[str] = ("needs_assessment",),
    **extra: Any,
) -> dict[str, Any]:
    return await post(
        client,
        PEOPLE,
        {
            "community_id": community_id,
            "full_name": name,
            "sex": sex,
            "consent_purposes": list(purposes),
            **extra,
        },
    )


# needs assessments


def assessment_body(community_id: str, **overrides: Any) -> dict[str, Any]:
    return {
        "community_id": community_id,
        "title": "Kajian kebutuhan air bersih",
        "methods": ["survey", "focus_group"],
        **overrides,
    }


async def create_assessment(
    client: httpx.AsyncClient, community_id: str, **overrides: Any
) -> dict[str, Any]:
    return await post(client, ASSESSMENTS, assessment_body(community_id, **overrides))


async def add_finding(
    client: httpx.AsyncClient,
    assessment_id: str,
    *,
    kind: str = "problem",
    category: str = "health",
    title: str = "Air bersih sulit di musim kemarau",
    **extra: Any,
) -> dict[str, Any]:
    return await post(
        client,
        f"{ASSESSMENTS}/{assessment_id}/findings",
        {"kind": kind, "category": category, "title": title, **extra},
    )


async def cast(
    client: httpx.AsyncClient, assessment_id: str, person_id: str, ranking: list[str]
) -> httpx.Response:
    return await client.post(
        f"{ASSESSMENTS}/{assessment_id}/ballots", json={"person_id": person_id, "ranking": ranking}
    )


# Findings (kind, severity, title); created in the order F, E, D, C, B, A, G, P so that
# creation order / time-ordered ids never explain the expected order.
BORDA_FINDINGS = {
    "A": ("problem", 2, "Akses air bersih"),
    "B": ("need", 5, "Bidan desa tidak ada"),
    "C": ("problem", 3, "Cuci tangan pakai sabun"),
    "D": ("need", 5, "Drainase tersumbat"),
    "E": ("problem", 4, "Embung kering"),
    "F": ("need", 4, "Fasilitas posyandu rusak"),
    "G": ("problem", 1, "Gizi balita"),
}
# Ballots (a ballot ranking k findings gives k points to the first ... 1 to the last):
#   1. [A, E, F]  A 3, E 2, F 1
#   2. [B, F, E]  B 3, F 2, E 1
#   3. [C, D]     C 2, D 1
#   4. [D, C, B]  D 3, C 2, B 1
#   5. [A, B]     A 2, B 1
# Totals            points  votes  first places  severity
#   A = 3+2         5       2      2 (b1, b5)    2
#   B = 3+1+1       5       3      1 (b2)        5
#   C = 2+2         4       2      1 (b3)        3
#   D = 1+3         4       2      1 (b4)        5
#   E = 2+1         3       2      0             4
#   F = 1+2         3       2      0             4
#   G               0       0      0             1   (nobody ranked it)
# Order: A before B (tie on 5 points, A has more first places although B is more severe);
# D before C (tie on 4 points and 1 first place, D more severe although C's title sorts
# first); E before F (tie on points, first places and severity: title); then G.
# The potential finding P is never ranked and never listed.
BORDA_BALLOTS = [["A", "E", "F"], ["B", "F", "E"], ["C", "D"], ["D", "C", "B"], ["A", "B"]]


async def borda_setup(
    client: httpx.AsyncClient, community_id: str
) -> tuple[str, dict[str, str], str, list[str]]:
    """The Borda world: findings A to G and P, five ballots; returns the assessment's id,
    the findings' ids by letter, the potential finding's id and the voters' ids."""
    item = await create_assessment(client, community_id)
    aid = item["id"]
    ids: dict[str, str] = {}
    categories = ["health", "economy", "infrastructure", "environment", "social", "education"]
    for i, letter in enumerate(["F", "E", "D", "C", "B", "A", "G"]):
        kind, severity, title = BORDA_FINDINGS[letter]
        f = await add_finding(
            client,
            aid,
            kind=kind,
            title=title,
            severity=severity,
            category=categories[i % len(categories)],
        )
        ids[letter] = f["id"]
    potential = await add_finding(
        client, aid, kind="potential", category="social", title="Gotong royong kuat"
    )
    voters = []
    for n, ballot in enumerate(BORDA_BALLOTS, start=1):
        person = await make_person(client, community_id, name=f"Warga {n}")
        voters.append(person["id"])
        r = await cast(client, aid, person["id"], [ids[x] for x in ballot])
        assert r.status_code == 201, r.text
    return aid, ids, potential["id"], voters


# programs and what hangs off them

# the transitions that bring a new (draft) program to each status
PROGRAM_PATH_TO = {
    "draft": [],
    "submitted": ["submitted"],
    "approved": ["submitted", "approved"],
    "active": ["submitted", "approved", "active"],
    "completed": ["submitted", "approved", "active", "completed"],
    "cancelled": ["cancelled"],
}
INDICATOR = {"name": "Rumah tangga dengan akses air", "unit": "KK", "baseline": 10, "target": 80}


async def make_program(
    client: httpx.AsyncClient, community_ids: list[str], **overrides: Any
) -> dict[str, Any]:
    body = {"title": "Penguatan BUMDes Air Bersih", "community_ids": community_ids, **overrides}
    return await post(client, PROGRAMS, body)


def activity_body(community_id: str, **overrides: Any) -> dict[str, Any]:
    return {
        "title": "Pelatihan pengelolaan keuangan",
        "kind": "training",
        "community_id": community_id,
        "scheduled_start": "2025-03-01T09:00:00+07:00",
        "scheduled_end": "2025-03-01T12:00:00+07:00",
        "location": "Balai Desa",
        **overrides,
    }


async def make_activity(
    client: httpx.AsyncClient, program_id: str, community_id: str, **overrides: Any
) -> dict[str, Any]:
    body = activity_body(community_id, **overrides)
    return await post(client, f"{PROGRAMS}/{program_id}/activities", body)


async def make_indicator(
    client: httpx.AsyncClient, program_id: str, **overrides: Any
) -> dict[str, Any]:
    return await post(client, f"{PROGRAMS}/{program_id}/indicators", {**INDICATOR, **overrides})


async def make_measurement(
    client: httpx.AsyncClient, program_id: str, indicator_id: str, **overrides: Any
) -> dict[str, Any]:
    url = f"{PROGRAMS}/{program_id}/indicators/{indicator_id}/measurements"
    return await post(client, url, {"measured_on": "2025-03-10", "value": 20, **overrides})


async def make_budget_line(
    client: httpx.AsyncClient, program_id: str, **overrides: Any
) -> dict[str, Any]:
    body = {
        "description": "Honor narasumber",
        "quantity": 2,
        "unit": "OJ",
        "unit_cost_amount": 500_000,
        **overrides,
    }
    return await post(client, f"{PROGRAMS}/{program_id}/budget-lines", body)


HONOR = {"description": "Honor", "quantity": 2, "unit": "OJ", "unit_cost_amount": 1000}  # Rp 2.000


async def make_program_parts(
    client: httpx.AsyncClient, program_id: str, community_id: str
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any], dict[str, Any], str]:
    """One of each thing under a program: an activity in ``community_id``, an indicator with
    a measurement, a budget line of Rp 2.000; and the indicator's measurements URL."""
    url = f"{PROGRAMS}/{program_id}"
    activity = await post(client, f"{url}/activities", activity_body(community_id))
    indicator = await post(client, f"{url}/indicators", INDICATOR)
    measurements = f"{url}/indicators/{indicator['id']}/measurements"
    measurement = await post(client, measurements, {"measured_on": "2025-02-01", "value": 12})
    line = await post(client, f"{url}/budget-lines", HONOR)
    return activity, indicator, measurement, line, measurements


Write = tuple[str, str, Any]


def activity_writes(
    program_id: str, community_id: str, activity_id: str, patch: Any
) -> list[Write]:
    url = f"{PROGRAMS}/{program_id}/activities"
    return [
        ("POST", url, activity_body(community_id)),
        ("PATCH", f"{url}/{activity_id}", patch),
        ("DELETE", f"{url}/{activity_id}", None),
    ]


def indicator_writes(program_id: str, indicator_id: str) -> list[Write]:
    url = f"{PROGRAMS}/{program_id}/indicators"
    return [
        ("POST", url, INDICATOR),
        ("PATCH", f"{url}/{indicator_id}", {"target": 90}),
        ("DELETE", f"{url}/{indicator_id}", None),
    ]


def measurement_writes(measurements_url: str, measurement_id: str) -> list[Write]:
    return [
        ("POST", measurements_url, {"measured_on": "2025-03-01", "value": 20}),
        ("PATCH", f"{measurements_url}/{measurement_id}", {"value": 21}),
        ("DELETE", f"{measurements_url}/{measurement_id}", None),
    ]


def budget_line_writes(program_id: str, line_id: str) -> list[Write]:
    url = f"{PROGRAMS}/{program_id}/budget-lines"
    return [
        ("POST", url, {"description": "Honor", "quantity": 1, "unit": "OJ", "unit_cost_amount": 1}),
        ("PATCH", f"{url}/{line_id}", {"quantity": 3}),
        ("DELETE", f"{url}/{line_id}", None),
    ]


# participation


def record(
    person: str, *, activity: str | None = None, assessment: str | None = None, **overrides: Any
) -> dict[str, Any]:
    """A participation record's body: at an activity (1 March) or an assessment (10 Feb)."""
    body: dict[str, Any] = {
        "person_id": person,
        "date": "2025-03-01" if activity else "2025-02-10",
        "level": "involve",
        "role": "beneficiary",
    }
    if activity:
        body["activity_id"] = activity
    if assessment:
        body["assessment_id"] = assessment
    return {**body, **overrides}


async def batch_one(client: httpx.AsyncClient, row: Any) -> dict[str, Any]:
    """Send one row through the participation batch; its per-row result."""
    r = await client.post(f"{RECORDS}/batch", json={"rows": [row]})
    assert r.status_code == 200, r.text
    result: dict[str, Any] = r.json()["results"][0]
    return result


# partners, partnerships, contributions, service accounts


async def make_partner(client: httpx.AsyncClient, **overrides: Any) -> dict[str, Any]:
    body = {"name": f"Yayasan Uji {uuid.uuid4().hex[:6]}", "kind": "ngo", **overrides}
    return await post(client, PARTNERS, body)


async def make_partnership(
    client: httpx.AsyncClient, partner_id: str, program_id: str, **overrides: Any
) -> dict[str, Any]:
    body = {
        "partner_id": partner_id,
        "program_id": program_id,
        "role": "funder",
        **YEAR_2025,
        "commitment_amount": 50_000_000,
        **overrides,
    }
    return await post(client, PARTNERSHIPS, body)


def contribution(**overrides: Any) -> dict[str, Any]:
    return {"kind": "funds", "amount": 1_000_000, "contributed_on": "2025-03-01", **overrides}


async def contribute(
    client: httpx.AsyncClient, partnership_id: str, **overrides: Any
) -> dict[str, Any]:
    url = f"{PARTNERSHIPS}/{partnership_id}/contributions"
    return await post(client, url, contribution(**overrides))


async def service_account(
    admin: httpx.AsyncClient, organization_id: str | uuid.UUID, name: str = "Sistem CSR"
) -> dict[str, Any]:
    return await post(admin, ACCOUNTS, {"name": name, "organization_id": str(organization_id)})


async def client_credentials(
    client: httpx.AsyncClient, client_id: str, client_secret: str
) -> httpx.Response:
    return await client.post(
        TOKEN,
        data={
            "grant_type": "client_credentials",
            "client_id": client_id,
            "client_secret": client_secret,
        },
    )


async def service_token(client: httpx.AsyncClient, client_id: str, client_secret: str) -> str:
    r = await client_credentials(client, client_id, client_secret)
    assert r.status_code == 200, r.text
    assert r.json()["token_type"] == "bearer"
    token: str = r.json()["access_token"]
    return token


# --- two partner organisations, everything hanging off each one's program ---------------


@dataclass
class Side:
    """Everything hanging off one partner organisation's program."""

    partner: str
    community: str
    program: str
    activity: str
    indicator: str
    measurement: str
    budget_line: str
    partnership: str
    contribution: str
    person: str
    record: str


@dataclass
class PartnerWorld:
    """Two sides, "A" and "B", each a partner organisation with a program of its own."""

    sides: dict[str, Side]


async def build_side(admin: httpx.AsyncClient, make_community: MakeCommunity, tag: str) -> Side:
    partner = await make_partner(admin, name=f"Mitra {tag}")
    community = (await make_community(name=f"Desa {tag}"))["id"]
    program = (await make_program(admin, [community], title=f"Program {tag}", **YEAR_2025))["id"]
    activity = (
        await make_activity(
            admin,
            program,
            community,
            title=f"Pelatihan {tag}",
            scheduled_end="2025-03-03T17:00:00+07:00",
        )
    )["id"]
    indicator = (await make_indicator(admin, program, name="Rumah tangga dengan air"))["id"]
    measurement = (await make_measurement(admin, program, indicator))["id"]
    budget_line = (await make_budget_line(admin, program, unit_cost_amount=1))["id"]
    partnership = (await make_partnership(admin, partner["id"], program))["id"]
    await move_ok(admin, PARTNERSHIPS, partnership, "active")
    contrib = (await contribute(admin, partnership))["id"]
    person = (
        await make_person(admin, community, name=f"Warga {tag}", purposes=["program_participation"])
    )["id"]
    participation = record(person, activity=activity, date="2025-03-02", level="consult")
    record_id = (await post(admin, RECORDS, participation))["id"]
    return Side(
        partner=partner["id"],
        community=community,
        program=program,
        activity=activity,
        indicator=indicator,
        measurement=measurement,
        budget_line=budget_line,
        partnership=partnership,
        contribution=contrib,
        person=person,
        record=record_id,
    )


# --- the participation world ------------------------------------------------------------------

BOTH_PURPOSES = ["program_participation", "needs_assessment"]
UNTIL_3_MARCH = "2025-03-03T17:00:00+07:00"  # the world's activities run 1 to 3 March


async def make_people(client: httpx.AsyncClient, community_id: str, count: int) -> list[str]:
    gate = asyncio.Semaphore(8)

    async def one(n: int) -> str:
        async with gate:
            person = await make_person(
                client, community_id, name=f"Warga {n:04d}", purposes=BOTH_PURPOSES
            )
            return str(person["id"])

    return list(await asyncio.gather(*(one(n) for n in range(count))))


@dataclass
class ParticipationWorld:
    """Three communities, a program in two of them, activities, an assessment, people."""

    a: str  # community in the program, where the activity and the assessment are
    b: str  # second community of the program
    c: str  # community outside the program
    program: str
    activity: str  # in a, 2025-03-01 .. 2025-03-03 (Jakarta time)
    activity2: str  # same program, same schedule
    assessment: str  # in a, 2025-02-01 .. 2025-02-28
    p_a: str  # people with consent for both purposes
    p_b: str
    p_c: str
    p_none: str  # in a, no consent
    p_assess_only: str  # in a, consent for needs_assessment only


async def build_participation_world(
    admin: httpx.AsyncClient, make_community: MakeCommunity
) -> ParticipationWorld:
    a, b, c = [(await make_community())["id"] for _ in range(3)]
    program = (await make_program(admin, [a, b], **YEAR_2025))["id"]
    activity = (await make_activity(admin, program, a, scheduled_end=UNTIL_3_MARCH))["id"]
    activity2 = (await make_activity(admin, program, a, scheduled_end=UNTIL_3_MARCH))["id"]
    assessment = (
        await create_assessment(
            admin, a, methods=["survey"], started_on="2025-02-01", completed_on="2025-02-28"
        )
    )["id"]
    return ParticipationWorld(
        a=a,
        b=b,
        c=c,
        program=program,
        activity=activity,
        activity2=activity2,
        assessment=assessment,
        p_a=(await make_person(admin, a, purposes=BOTH_PURPOSES))["id"],
        p_b=(await make_person(admin, b, purposes=BOTH_PURPOSES))["id"],
        p_c=(await make_person(admin, c, purposes=BOTH_PURPOSES))["id"],
        p_none=(await make_person(admin, a, purposes=[]))["id"],
        p_assess_only=(await make_person(admin, a, purposes=["needs_assessment"]))["id"],
    )
