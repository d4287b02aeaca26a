"""Exports: the data package and every dataset in every format; the package describes
exactly what the datasets emit (fields, keys, foreign keys); incremental sync with the
high-water mark and tombstones; ordering; streaming; pseudonymisation of every dataset;
identified exports (admins only, with a purpose, audited, consent-aware); access rules."""

from __future__ import annotations

import csv
import io
import json
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy import ARRAY, Column, Numeric, String, Text, case, cast, func, literal, select
from sqlalchemy.dialects import postgresql

from app.auth.models import Role
from app.exports.datasets import DATASETS, PAD_SETTINGS, Dataset
from tests.factories import (
    API,
    ASSESSMENTS,
    COMMUNITIES,
    EXPORTS,
    PARTNERSHIPS,
    PEOPLE,
    RECORDS,
    YEAR_2025,
    AsUser,
    MakeCommunity,
    MakeUser,
    add_finding,
    add_index,
    contribute,
    create_assessment,
    make_activity,
    make_budget_line,
    make_indicator,
    make_measurement,
    make_partner,
    make_partnership,
    make_person,
    make_program,
    move_ok,
    post,
    record,
)

NAME = "Kartini Wulandari Sejahtera"
NIK = "3204124506850003"
PHONE = "081234567890"
PHONE_DIGITS = "81234567890"  # stored as +6281234567890
OTHER_NAME = "Dewi Sartika Mundur"
OTHER_NIK = "3204120101900007"
OTHER_PHONE = "085712345678"


MEDIA = {"ndjson": "application/x-ndjson", "json": "application/json", "csv": "text/csv"}


# --- helpers ----------------------------------------------------------------------------------


def ndjson(response: httpx.Response) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/x-ndjson")
    return [json.loads(line) for line in response.text.splitlines() if line.strip()]


async def pull(
    client: httpx.AsyncClient, dataset: str, **params: Any
) -> tuple[list[dict[str, Any]], str]:
    r = await client.get(f"{EXPORTS}/{dataset}", params=params)
    rows = ndjson(r)
    return rows, r.headers["x-export-high-water-mark"]


@dataclass
class World:
    community: str
    other_community: str
    program: str
    activity: str
    activity2: str
    assessment: str
    person: str
    person_key: str
    other_person: str
    people: list[str]
    people_keys: list[str]
    records: list[str]
    partner: str
    partnership: str


async def build_world(admin: httpx.AsyncClient, make_community: MakeCommunity) -> World:
    """One row (at least) in every dataset."""
    community = (await make_community(name="Desa Sukamaju", potentials=["kopi", "bambu"]))["id"]
    other = (await make_community(name="Desa Sukamundur", region_code="33.01.01.2001"))["id"]
    await add_index(admin, community, year=2024, iks=0.6, ike=0.55, ikl=0.7)
    assessment = (await create_assessment(admin, community, started_on="2025-01-10"))["id"]
    finding = (await add_finding(admin, assessment, kind="need", title="Air bersih", severity=4))[
        "id"
    ]
    person = await make_person(
        admin,
        community,
        name=NAME,
        birth_year=1985,
        nik=NIK,
        phone=PHONE,
        disability=True,
        vulnerable_groups=["poor_household"],
        purposes=["program_participation", "needs_assessment", "analytics"],
    )
    other_person = await make_person(
        admin,
        community,
        name=OTHER_NAME,
        sex="male",
        birth_year=1990,
        nik=OTHER_NIK,
        phone=OTHER_PHONE,
        purposes=["program_participation", "needs_assessment"],
    )
    await post(
        admin,
        f"{ASSESSMENTS}/{assessment}/ballots",
        {"person_id": person["id"], "ranking": [finding]},
    )
    program = (
        await make_program(
            admin,
            [community],
            title="Air bersih untuk semua",
            addressed_finding_ids=[finding],
            objectives=["Sambungan air 80 KK"],
            **YEAR_2025,
        )
    )["id"]
    activities = [
        (
            await make_activity(
                admin,
                program,
                community,
                title=f"Pelatihan {n}",
                scheduled_end="2025-03-01T17:00:00+07:00",
            )
        )["id"]
        for n in range(2)
    ]
    indicator = (await make_indicator(admin, program, name="KK dengan air"))["id"]
    await make_measurement(admin, program, indicator)
    await make_budget_line(
        admin, program, description="Pipa", quantity=10, unit="batang", unit_cost_amount=50_000
    )
    people = [person["id"], other_person["id"]]
    keys = [person["person_key"], other_person["person_key"]]
    for n in range(3):
        created = await make_person(
            admin,
            community,
            name=f"Warga {n}",
            sex="male" if n % 2 else "female",
            purposes=["program_participation"],
        )
        people.append(created["id"])
        keys.append(created["person_key"])
    records = [
        (await post(admin, RECORDS, record(pid, activity=activities[0], hours=3)))["id"]
        for pid in people
    ]
    partner = (await make_partner(admin, name="Yayasan Air"))["id"]
    partnership = (await make_partnership(admin, partner, program, commitment_amount=10_000_000))[
        "id"
    ]
    await move_ok(admin, PARTNERSHIPS, partnership, "active")
    await contribute(admin, partnership, amount=2_000_000)
    # Village planning (issue 18): a proposal with a planning record and a funding line, and
    # an Indeks Desa entry beside the IDM one.
    proposal = await post(
        admin,
        f"{API}/planning-proposals",
        {
            "community_id": community,
            "title": "Sumur bor Dusun Krajan",
            "planning_year": 2026,
            "origin_forum": "musdus",
            "bidang": 2,
            "estimated_cost_amount": 185_000_000,
            "proposed_funding_source": "dana_desa",
            "program_ids": [program],
        },
    )
    r = await admin.post(
        f"{API}/planning-proposals/{proposal['id']}/transitions",
        json={"to": "agreed", "date": "2025-07-10", "forum": "musrenbang_desa"},
    )
    assert r.status_code == 200, r.text
    await post(
        admin,
        f"{API}/planning-proposals/{proposal['id']}/funding",
        {"fiscal_year": 2026, "source": "dana_desa", "planned_amount": 150_000_000},
    )
    await post(
        admin,
        f"{COMMUNITIES}/{community}/development-indices",
        {"year": 2025, "scheme": "indeks_desa", "score": 67.02, "status": "berkembang"},
    )
    return World(
        community=community,
        other_community=other,
        program=program,
        activity=activities[0],
        activity2=activities[1],
        assessment=assessment,
        person=person["id"],
        person_key=person["person_key"],
        other_person=other_person["id"],
        people=people,
        people_keys=keys,
        records=records,
        partner=partner,
        partnership=partnership,
    )


@pytest.fixture
async def world(admin: httpx.AsyncClient, make_community: MakeCommunity) -> World:
    return await build_world(admin, make_community)


async def package(client: httpx.AsyncClient) -> dict[str, Any]:
    r = await client.get(EXPORTS)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def dataset_names(pkg: dict[str, Any]) -> list[str]:
    return [resource["name"] for resource in pkg["resources"]]


# --- formats ----------------------------------------------------------------------------------


async def test_every_dataset_in_every_format(analyst: httpx.AsyncClient, world: World) -> None:
    pkg = await package(analyst)
    names = dataset_names(pkg)
    assert set(names) >= {
        "communities",
        "development-indices",
        "needs-assessments",
        "findings",
        "programs",
        "activities",
        "indicators",
        "measurements",
        "budget-lines",
        "people",
        "participation-records",
        "partners",
        "partnerships",
        "contributions",
    }
    for name in names:
        default = await analyst.get(f"{EXPORTS}/{name}")
        assert default.status_code == 200, (name, default.text)
        assert default.headers["content-type"].startswith(MEDIA["ndjson"]), name
        lines = [json.loads(line) for line in default.text.splitlines()]
        assert lines and all(isinstance(row, dict) for row in lines), name
        assert default.headers["x-export-high-water-mark"]

        as_json = await analyst.get(f"{EXPORTS}/{name}", params={"format": "json"})
        assert as_json.status_code == 200, (name, as_json.text)
        assert as_json.headers["content-type"].startswith(MEDIA["json"]), name
        array = as_json.json()
        assert isinstance(array, list) and array == lines, name

        as_csv = await analyst.get(f"{EXPORTS}/{name}", params={"format": "csv"})
        assert as_csv.status_code == 200, (name, as_csv.text)
        assert as_csv.headers["content-type"].startswith(MEDIA["csv"]), name
        table = list(csv.reader(io.StringIO(as_csv.text)))
        header, body = table[0], table[1:]
        assert header == list(lines[0].keys()), name
        assert len(body) == len(lines), name
        assert all(len(row) == len(header) for row in body), name
        # Lists are JSON text in CSV; everything else its plain text.
        for row, line in zip(body, lines, strict=True):
            for key, cell in zip(header, row, strict=True):
                value = line[key]
                if isinstance(value, list):
                    assert json.loads(cell) == value, (name, key)
                elif value is None:
                    assert cell == "", (name, key)
                elif isinstance(value, str):
                    assert cell == value or datetime.fromisoformat(cell) == datetime.fromisoformat(
                        value
                    ), (name, key)


async def test_empty_dataset_is_valid_in_every_format(analyst: httpx.AsyncClient) -> None:
    r = await analyst.get(f"{EXPORTS}/communities")
    assert r.status_code == 200 and r.text == ""
    r = await analyst.get(f"{EXPORTS}/communities", params={"format": "json"})
    assert r.status_code == 200 and r.json() == []
    r = await analyst.get(f"{EXPORTS}/communities", params={"format": "csv"})
    assert r.status_code == 200
    assert r.text.splitlines()[0].split(",")[:3] == ["id", "created_at", "updated_at"]


async def test_csv_lists_are_json_text(analyst: httpx.AsyncClient, world: World) -> None:
    r = await analyst.get(f"{EXPORTS}/communities", params={"format": "csv"})
    rows = {row["id"]: row for row in csv.DictReader(io.StringIO(r.text))}
    assert json.loads(rows[world.community]["potentials"]) == ["kopi", "bambu"]
    r = await analyst.get(f"{EXPORTS}/programs", params={"format": "csv"})
    (program,) = list(csv.DictReader(io.StringIO(r.text)))
    assert json.loads(program["community_ids"]) == [world.community]
    assert json.loads(program["objectives"]) == ["Sambungan air 80 KK"]


# --- the fast path renders exactly what json_build_object did ---------------------------------

# Every character class JSON must escape or carry through: quotes, backslashes, control
# characters (those the fast path's COPY uses as quote, delimiter and NULL mark among them),
# non-ASCII, astral, line separators, printf and SQL specials.
HOSTILE = (
    'Kutip "ganda" \\ miring\\\\ baris\nbaru\ttab\rcr \x01\x02\x03\x1f\x7f '
    "é ü Ñ 中文 😀 \u2028\u2029 %s %% %(x)s 'tunggal' \\u0041 {}[],:"
)


def _is_text(type_: Any) -> bool:
    return isinstance(getattr(type_, "impl", type_), String)  # AutoString decorates String


async def _make_hostile(raw_db: asyncpg.Pool) -> set[str]:
    """Hostile text (cut to the column's length) in every free-text column, a NULL in
    every nullable value column, odd numbers and times, and one tombstone per dataset with
    more than one row; written in SQL, past the API's validation. Returns what the schema
    accepted (CHECK constraints reject some, e.g. enum-like columns)."""
    accepted: set[str] = set()
    async with raw_db.acquire() as conn:
        for dataset in DATASETS.values():
            table = dataset.table.name
            ids = [r["id"] for r in await conn.fetch(f'SELECT id FROM "{table}" ORDER BY id')]
            for f in dataset.fields:
                col = f.expr
                if not isinstance(col, Column) or col.table is not dataset.table or f.personal:
                    continue
                if col.name in ("id", "created_at", "updated_at"):
                    continue
                attempts: list[tuple[str, Any, int]] = []
                if col.foreign_keys:
                    pass  # a NULL at most
                elif isinstance(col.type, ARRAY) and _is_text(col.type.item_type):
                    attempts.append(("hostile", [HOSTILE, "biasa", HOSTILE[:3]], 0))
                elif _is_text(col.type):
                    length = getattr(col.type, "length", None) or len(HOSTILE)
                    attempts.append(("hostile", HOSTILE[:length], 0))
                elif isinstance(col.type, Numeric):
                    attempts.append(("odd", Decimal("0.05"), 0))
                elif col.type.python_type is datetime:
                    value = datetime.fromisoformat("2025-03-01T09:00:00.120000+07:00")
                    attempts.append(("odd", value, 0))
                if col.nullable:
                    attempts.append(("null", None, 1 if len(ids) > 1 else 0))
                for kind, value, row in attempts:
                    try:
                        async with conn.transaction():
                            await conn.execute(
                                f'UPDATE "{table}" SET "{col.name}" = $1 WHERE id = $2',
                                value,
                                ids[row],
                            )
                        accepted.add(f"{dataset.name}.{f.name}:{kind}")
                    except (asyncpg.CheckViolationError, asyncpg.NotNullViolationError):
                        pass
            if len(ids) > 1:
                await conn.execute(
                    f'UPDATE "{table}" SET deleted_at = now(), updated_at = now() WHERE id = $1',
                    ids[-1],
                )
                accepted.add(f"{dataset.name}:tombstone")
    return accepted


def _reference_sql(dataset: Dataset, include_deleted: bool) -> str:
    """What the fast path rendered before it was rewritten: ``json_build_object``."""
    fields = [f for f in dataset.fields if not f.personal]

    def build(pairs: list[tuple[str, Any]]) -> Any:
        return func.json_build_object(*[x for name, e in pairs for x in (literal(name), e)])

    row = build([(f.name, f.expr) for f in fields])
    tombstone = build(
        [(f.name, f.expr) for f in fields if f.name in ("id", dataset.primary_key)]
        + [("deleted_at", dataset.deleted_column), ("updated_at", dataset.updated_column)]
    )
    stmt = select(
        cast(case((dataset.deleted_column.is_not(None), tombstone), else_=row), Text)
    ).order_by(dataset.updated_column, dataset.id_column)
    if not include_deleted:
        stmt = stmt.where(dataset.deleted_column.is_(None))
    compiled = stmt.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True})
    return str(compiled)


def _exact(text: str) -> Any:
    """Parsed JSON with numbers kept as their text: 3.00 and 3 stay apart."""
    return json.loads(text, parse_float=str, parse_int=str)


@pytest.mark.parametrize("renderer", ["server default", "to_json"])
async def test_fast_export_equals_json_build_object(
    app: Any,
    analyst: httpx.AsyncClient,
    raw_db: asyncpg.Pool,
    world: World,
    renderer: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Both value renderers (JSON_SCALAR on PostgreSQL 17+, to_json before) give the rows
    json_build_object gives; "to_json" forces the older one whatever the server is."""
    if renderer == "to_json":
        monkeypatch.setattr("app.exports.repository.JSON_SCALAR_SINCE", (999,))
    accepted = await _make_hostile(raw_db)
    assert {
        "communities.name:hostile",
        "communities.potentials:hostile",
        "communities.latitude:null",
        "activities.title:hostile",
        "activities.scheduled_start:odd",
        "activities.scheduled_end:null",
        "participation-records.hours:odd",
        "participation-records.hours:null",
        "participation-records.program_id:null",
        "participation-records:tombstone",
        "people:tombstone",
        "programs.objectives:hostile",
        "partners.website:null",
    } <= accepted, accepted
    ipad, opad = app.state.personal_data.hasher.pseudonym_pads()
    seen_hostile = seen_null = 0
    for name, dataset in DATASETS.items():
        for include_deleted in (False, True):
            async with raw_db.acquire() as conn, conn.transaction():
                await conn.execute("SET LOCAL TIME ZONE 'UTC'")
                await conn.execute(
                    "SELECT set_config($1, $2, true), set_config($3, $4, true)",
                    PAD_SETTINGS[0],
                    ipad,
                    PAD_SETTINGS[1],
                    opad,
                )
                reference = await conn.fetch(_reference_sql(dataset, include_deleted))
            expected = [_exact(r[0]) for r in reference]
            params = {"include_deleted": str(include_deleted).lower()}
            r = await analyst.get(f"{EXPORTS}/{name}", params=params)
            assert r.status_code == 200, r.text
            lines = r.text.split("\n")
            assert lines.pop() == "" and all(lines), (name, include_deleted)  # one row a line
            assert [_exact(line) for line in lines] == expected, (name, include_deleted)
            r = await analyst.get(f"{EXPORTS}/{name}", params={**params, "format": "json"})
            assert r.status_code == 200, r.text
            assert _exact(r.text) == expected, (name, include_deleted, "json")
            for row in expected:
                values = [v for v in row.values() if not isinstance(v, list)]
                values += [x for v in row.values() if isinstance(v, list) for x in v]
                seen_hostile += sum(isinstance(v, str) and "\x02" in v for v in values)
                seen_null += sum(v is None for v in values)
    assert seen_hostile >= 10 and seen_null >= 10
    # the template's printf specials and control characters came back verbatim
    r = await analyst.get(f"{EXPORTS}/communities")  # not splitlines(): JSON keeps U+2028
    rows = [json.loads(line) for line in r.text.split("\n") if line]
    assert any(row["name"] == HOSTILE[: len(row["name"])] and "%s" in row["name"] for row in rows)


# --- the data package -------------------------------------------------------------------------


async def test_data_package_describes_exactly_what_is_emitted(
    analyst: httpx.AsyncClient, world: World
) -> None:
    pkg = await package(analyst)
    assert pkg["profile"] == "tabular-data-package"
    resources = {resource["name"]: resource for resource in pkg["resources"]}
    assert len(resources) == len(pkg["resources"]), "resource names repeat"
    for name, resource in resources.items():
        schema = resource["schema"]
        fields = [f["name"] for f in schema["fields"]]
        assert len(set(fields)) == len(fields), name
        for f in schema["fields"]:
            assert f["type"] in {
                "string",
                "integer",
                "number",
                "boolean",
                "date",
                "datetime",
                "array",
            }, (name, f)
            assert f.get("description"), (name, f["name"])
        public = [f["name"] for f in schema["fields"] if not f.get("berdaya:identified_only")]
        assert resource["path"].endswith(f"/api/v1/exports/{name}?format=csv")

        rows, _ = await pull(analyst, name)
        assert rows, f"world has no {name}"
        for row in rows:
            assert list(row) == public, name
        r = await analyst.get(f"{EXPORTS}/{name}", params={"format": "csv"})
        assert next(csv.reader(io.StringIO(r.text))) == public, name

        primary = schema["primaryKey"]
        assert primary and all(key in fields for key in primary), name
        assert len({tuple(row[k] for k in primary) for row in rows}) == len(rows), name
        for fk in schema.get("foreignKeys", []):
            assert all(field in fields for field in fk["fields"]), (name, fk)
            target = fk["reference"]["resource"]
            assert target in resources, (name, fk)
            target_fields = [f["name"] for f in resources[target]["schema"]["fields"]]
            for ref in fk["reference"]["fields"]:
                assert ref in target_fields, (name, fk)


async def test_identified_people_fields_are_flagged(admin: httpx.AsyncClient, world: World) -> None:
    r = await admin.get(EXPORTS, params={"identified": "true", "purpose": "Verifikasi BLT"})
    assert r.status_code == 200, r.text
    (people,) = [r for r in r.json()["resources"] if r["name"] == "people"]
    flagged = {f["name"] for f in people["schema"]["fields"] if f.get("berdaya:identified_only")}
    assert flagged >= {"full_name", "nik", "phone", "birth_year"}
    all_fields = [f["name"] for f in people["schema"]["fields"]]
    r = await admin.get(
        f"{EXPORTS}/people", params={"identified": "true", "purpose": "Verifikasi penerima BLT"}
    )
    for row in ndjson(r):
        assert list(row) == all_fields


# The Frictionless validator over every dataset, pseudonymised and identified: see
# tests/exports/test_datapackage.py.


# --- incremental sync -------------------------------------------------------------------------


def ids(rows: list[dict[str, Any]], key: str = "id") -> set[str]:
    return {row[key] for row in rows}


def assert_ordered(rows: list[dict[str, Any]]) -> None:
    """By updated_at, then id (pseudonymised people carry no id: updated_at only)."""
    keys = [(datetime.fromisoformat(row["updated_at"]), row.get("id", "")) for row in rows]
    assert keys == sorted(keys)


async def test_incremental_sync_people_and_participation(
    admin: httpx.AsyncClient, analyst: httpx.AsyncClient, world: World
) -> None:
    """People are keyed by person_key in pseudonymised exports (their raw id is identified
    data); every other dataset by id."""
    people, people_mark = await pull(analyst, "people")
    records, records_mark = await pull(analyst, "participation-records")
    assert ids(people, "person_key") == set(world.people_keys)
    assert ids(records) == set(world.records)
    assert_ordered(people)
    assert_ordered(records)
    mark = datetime.fromisoformat(people_mark)
    assert mark.tzinfo is not None and mark <= datetime.now(UTC)

    # people: one created, one updated, one deleted
    created_person = await make_person(
        admin, world.community, name="Warga Baru", purposes=["program_participation"]
    )
    updated_person, deleted_person = world.people[2], world.people[3]
    r = await admin.patch(f"{PEOPLE}/{updated_person}", json={"disability": True})
    assert r.status_code == 200, r.text
    r = await admin.delete(f"{PEOPLE}/{deleted_person}")
    assert r.status_code == 204, r.text

    # participation records: one created, one updated, one deleted (of other people)
    created_record = (
        await post(
            admin,
            RECORDS,
            record(world.people[0], activity=world.activity2, level="consult", role="speaker"),
        )
    )["id"]
    updated_record, deleted_record = world.records[0], world.records[1]
    r = await admin.patch(f"{RECORDS}/{updated_record}", json={"hours": 5})
    assert r.status_code == 200, r.text
    r = await admin.delete(f"{RECORDS}/{deleted_record}")
    assert r.status_code == 204, r.text

    person_keys = (created_person["person_key"], world.people_keys[2], world.people_keys[3])
    for dataset, key, since, (created, updated, deleted) in (
        ("people", "person_key", people_mark, person_keys),
        (
            "participation-records",
            "id",
            records_mark,
            (created_record, updated_record, deleted_record),
        ),
    ):
        rows, next_mark = await pull(analyst, dataset, updated_since=since, include_deleted="true")
        assert ids(rows, key) == {created, updated, deleted}, dataset
        assert len(rows) == 3, dataset
        assert_ordered(rows)
        (tombstone,) = [row for row in rows if row[key] == deleted]
        assert set(tombstone) == {key, "deleted_at", "updated_at"}, dataset
        assert datetime.fromisoformat(tombstone["deleted_at"]) >= datetime.fromisoformat(since)
        live = [row for row in rows if row[key] != deleted]
        assert all("deleted_at" not in row for row in live)
        # without include_deleted the tombstone stays out
        rows, _ = await pull(analyst, dataset, updated_since=since)
        assert ids(rows, key) == {created, updated}, dataset
        # nothing changed since the new mark
        rows, _ = await pull(analyst, dataset, updated_since=next_mark, include_deleted="true")
        assert rows == [], dataset

    # admins see the same tombstone under the raw id in identified exports
    r = await admin.get(
        f"{EXPORTS}/people",
        params={
            "identified": "true",
            "purpose": "Sinkronisasi data penerima",
            "updated_since": people_mark,
            "include_deleted": "true",
        },
    )
    (tombstone,) = [row for row in ndjson(r) if "deleted_at" in row]
    assert tombstone["id"] == deleted_person and tombstone["person_key"] == person_keys[2]

    # the updated values are the new ones
    rows, _ = await pull(analyst, "participation-records", updated_since=records_mark)
    (row,) = [row for row in rows if row["id"] == updated_record]
    assert float(row["hours"]) == 5.0
    rows, _ = await pull(analyst, "people", updated_since=people_mark)
    (row,) = [row for row in rows if row["person_key"] == person_keys[1]]
    assert row["disability"] is True
    # a full pull without tombstones no longer has the deleted ones
    rows, _ = await pull(analyst, "people")
    assert person_keys[2] not in ids(rows, "person_key")
    assert person_keys[0] in ids(rows, "person_key")
    rows, _ = await pull(analyst, "participation-records")
    assert deleted_record not in ids(rows) and created_record in ids(rows)

    # CSV with tombstones adds a deleted_at column
    r = await analyst.get(
        f"{EXPORTS}/participation-records",
        params={"format": "csv", "updated_since": records_mark, "include_deleted": "true"},
    )
    table = list(csv.DictReader(io.StringIO(r.text)))
    assert {row["id"] for row in table} == {created_record, updated_record, deleted_record}
    assert [row["id"] for row in table if row["deleted_at"]] == [deleted_record]
    r = await analyst.get(
        f"{EXPORTS}/people",
        params={"format": "csv", "updated_since": people_mark, "include_deleted": "true"},
    )
    table = list(csv.DictReader(io.StringIO(r.text)))
    assert "id" not in table[0]
    assert [row["person_key"] for row in table if row["deleted_at"]] == [person_keys[2]]


async def test_rows_are_ordered_by_updated_at_then_id(
    admin: httpx.AsyncClient, analyst: httpx.AsyncClient, world: World
) -> None:
    # Touch the first-created community so updated_at order differs from creation order.
    r = await admin.patch(f"{COMMUNITIES}/{world.community}", json={"population": 9999})
    assert r.status_code == 200, r.text
    for dataset in ("communities", "people", "participation-records", "activities"):
        rows, _ = await pull(analyst, dataset)
        assert len(rows) >= 2, dataset
        assert_ordered(rows)
    rows, _ = await pull(analyst, "communities")
    assert rows[-1]["id"] == world.community


async def test_export_streams_line_by_line(
    analyst: httpx.AsyncClient, admin: httpx.AsyncClient, world: World
) -> None:
    async with analyst.stream("GET", f"{EXPORTS}/participation-records") as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("application/x-ndjson")
        assert "content-length" not in response.headers
        seen = []
        async for line in response.aiter_lines():
            if line:
                seen.append(json.loads(line)["id"])
    assert set(seen) == set(world.records)
    assert len(seen) == len(world.records)


async def test_updated_since_needs_a_timezone(analyst: httpx.AsyncClient) -> None:
    r = await analyst.get(f"{EXPORTS}/people", params={"updated_since": "2025-01-01T00:00:00"})
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    r = await analyst.get(f"{EXPORTS}/people", params={"updated_since": "2025-01-01T00:00:00Z"})
    assert r.status_code == 200


async def test_unknown_dataset_and_format(analyst: httpx.AsyncClient) -> None:
    r = await analyst.get(f"{EXPORTS}/users")
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("application/problem+json")
    r = await analyst.get(f"{EXPORTS}/communities", params={"format": "xml"})
    assert r.status_code == 422


# --- pseudonymisation -------------------------------------------------------------------------


async def test_no_personal_data_in_any_pseudonymised_dataset(
    analyst: httpx.AsyncClient, admin: httpx.AsyncClient, world: World
) -> None:
    pkg = await package(analyst)
    forbidden = [NAME, NIK, PHONE_DIGITS, world.person, OTHER_NAME, OTHER_NIK, world.other_person]
    linked = set()
    for caller in (analyst, admin):  # admins too, unless they ask for identified data
        for name in dataset_names(pkg):
            for fmt in ("ndjson", "csv"):
                r = await caller.get(
                    f"{EXPORTS}/{name}", params={"format": fmt, "include_deleted": "true"}
                )
                assert r.status_code == 200, r.text
                for secret in forbidden:
                    assert secret not in r.text, (name, fmt)
                if world.person_key in r.text:
                    linked.add(name)
    # person_key is the only link between a person and the rest
    assert {"people", "participation-records", "ballots"} <= linked
    people, _ = await pull(analyst, "people")
    (me,) = [row for row in people if row["person_key"] == world.person_key]
    assert me["age_band"] != "unknown" and me["birth_decade"] == 1980
    assert me["disability"] is True
    assert not {"full_name", "nik", "phone", "birth_year"} & set(me)


# --- identified exports -----------------------------------------------------------------------


async def test_identified_export_rules(
    make_user: MakeUser,
    as_user: AsUser,
    analyst: httpx.AsyncClient,
    admin: httpx.AsyncClient,
    world: World,
    raw_db: asyncpg.Pool,
) -> None:
    purpose = "Verifikasi penerima bantuan 2025"
    r = await analyst.get(f"{EXPORTS}/people", params={"identified": "true", "purpose": purpose})
    assert r.status_code == 403, r.text
    r = await admin.get(f"{EXPORTS}/people", params={"identified": "true"})
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    before = await raw_db.fetchval(
        "SELECT count(*) FROM audit_events WHERE action = 'export_identified'"
    )
    assert before == 0

    # the second person withdraws consent
    withdrawn_at = datetime.now(UTC).isoformat()
    r = await admin.patch(
        f"{PEOPLE}/{world.other_person}", json={"consent_withdrawn_at": withdrawn_at}
    )
    assert r.status_code == 200, r.text

    r = await admin.get(f"{EXPORTS}/people", params={"identified": "true", "purpose": purpose})
    rows = {row["id"]: row for row in ndjson(r)}
    me = rows[world.person]
    assert me["full_name"] == NAME
    assert me["nik"] == NIK
    assert me["phone"].endswith(PHONE_DIGITS)
    assert me["birth_year"] == 1985
    gone = rows[world.other_person]
    assert gone["full_name"] is None and gone["nik"] is None and gone["phone"] is None
    assert OTHER_NAME not in r.text and OTHER_NIK not in r.text and "85712345678" not in r.text

    # CSV identified carries the same
    r = await admin.get(
        f"{EXPORTS}/people", params={"identified": "true", "purpose": purpose, "format": "csv"}
    )
    assert NAME in r.text and NIK in r.text and OTHER_NAME not in r.text

    events = await raw_db.fetch(
        "SELECT * FROM audit_events WHERE action = 'export_identified' ORDER BY at"
    )
    assert len(events) == 2
    assert all(event["note"] == purpose for event in events)
    # the audit trail never holds the exported values
    for event in events:
        assert NAME not in str(dict(event)) and NIK not in str(dict(event))


# --- access -----------------------------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.facilitator, Role.coordinator, Role.partner])
async def test_other_roles_may_not_export(
    role: Role, make_user: MakeUser, as_user: AsUser, make_community: MakeCommunity
) -> None:
    community = (await make_community())["id"]
    kwargs: dict[str, Any] = {"communities": [community]} if role is Role.facilitator else {}
    caller = as_user(await make_user(role, **kwargs))
    assert (await caller.get(EXPORTS)).status_code == 403
    for dataset in ("communities", "people", "participation-records"):
        r = await caller.get(f"{EXPORTS}/{dataset}")
        assert r.status_code == 403, (role, dataset)
    r = await caller.get(f"{EXPORTS}/no-such-dataset")
    assert r.status_code == 403


async def test_anonymous_may_not_export(client: httpx.AsyncClient) -> None:
    assert (await client.get(EXPORTS)).status_code == 401
    assert (await client.get(f"{EXPORTS}/communities")).status_code == 401


async def test_fast_export_over_many_chunks_and_people(
    app: Any, analyst: httpx.AsyncClient, raw_db: asyncpg.Pool, world: World
) -> None:
    """More rows than one COPY chunk (256 KiB) and more distinct people than the
    pseudonym cache holds (20,000): every row whole, every person_key right, no raw id."""
    extra = 21_000
    async with raw_db.acquire() as conn:
        await conn.execute(
            """
            INSERT INTO people (id, created_at, updated_at, version, community_id, full_name,
                                sex, birth_year, birth_decade, disability, vulnerable_groups,
                                consent_purposes, consent_given_at)
            SELECT gen_random_uuid(), now(), now(), 1, $1::uuid, 'Bulk export ' || g, 'female',
                   1980, 1980, false, '{}', ARRAY['program_participation'], now()
            FROM generate_series(1, $2) AS g
            """,
            world.community,
            extra,
        )
        await conn.execute(
            """
            INSERT INTO participation_records
                (id, created_at, updated_at, version, person_id, activity_id, community_id,
                 program_id, date, level, role, hours, created_by)
            SELECT gen_random_uuid(), now(), now(), 1, p.id, $1::uuid, $2::uuid, $3::uuid,
                   DATE '2025-03-01', 'inform', 'beneficiary', 2,
                   (SELECT id FROM users ORDER BY created_at LIMIT 1)
            FROM people p WHERE p.full_name LIKE 'Bulk export %'
            """,
            world.activity,
            world.community,
            world.program,
        )
        ids = [
            str(r["person_id"])
            for r in await conn.fetch(
                "SELECT person_id FROM participation_records WHERE deleted_at IS NULL"
            )
        ]
    r = await analyst.get(f"{EXPORTS}/participation-records")
    assert r.status_code == 200
    assert len(r.content) > 4 * (1 << 18)
    rows = ndjson(r)
    assert len(rows) == len(ids) >= extra
    hasher = app.state.personal_data.hasher
    assert sorted(row["person_key"] for row in rows) == sorted(
        hasher.person_key(uuid.UUID(i)) for i in ids
    )
    uuid_text = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
    assert not set(re.findall(uuid_text, r.text)) & set(ids)  # no raw person id anywhere
