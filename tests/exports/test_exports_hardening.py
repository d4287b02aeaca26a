"""Exports under hostile input (findings of a black-box test):

- (8) an ``updated_since`` that exists with its offset but not in UTC is a 422 problem in
  every format, and a query the database refuses is a problem response, never a 200 whose
  body stops short (the body's first block is read before the headers are sent);
- (9) CSV is RFC 4180: a value holding CR, LF, quotes or commas is quoted, so the rows read
  back by a CSV reader are the NDJSON rows (values starting a formula stay escaped);
- (17) no export sends the pseudonym key, or anything derived from it, to the database: no
  statement text or parameter holds it (the database may log every statement).
"""

from __future__ import annotations

import base64
import csv
import dataclasses
import io
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy import ARRAY, Column, String, Text, cast, event, func
from sqlalchemy.dialects.postgresql import REGCLASS

from app.auth.models import Role
from app.core.fastpath import driver_listeners
from app.exports.datasets import DATASETS, ExportField
from tests.exports.test_exports import build_world

API = "/api/v1"
EXPORTS = f"{API}/exports"
FORMATS = ("ndjson", "json", "csv", "parquet")
PROBLEM = "application/problem+json"
PURPOSE = "Verifikasi data penerima 2025"


def assert_problem(r: httpx.Response, status: int) -> dict[str, Any]:
    assert r.status_code == status, (r.status_code, r.text[:300])
    assert r.headers["content-type"].startswith(PROBLEM), r.headers["content-type"]
    body: dict[str, Any] = r.json()
    assert body["status"] == status
    return body


def ndjson_rows(r: httpx.Response) -> list[dict[str, Any]]:
    assert r.status_code == 200, r.text
    # not splitlines(): a JSON string may hold U+2028, which splitlines() breaks at
    return [json.loads(line) for line in r.text.split("\n") if line]


# --- (8) out-of-range timestamps, database errors before the first byte -----------------------

# Both exist with their offset; neither does in UTC (year 10000, year 0).
OUT_OF_RANGE = ("9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00")


async def test_updated_since_outside_utc_is_a_422_in_every_format(
    analyst: httpx.AsyncClient, admin: httpx.AsyncClient, make_community: Any
) -> None:
    await make_community()
    r = await admin.post(
        f"{API}/people",
        json={
            "community_id": (await make_community())["id"],
            "full_name": "Siti Aminah",
            "sex": "female",
            "consent_purposes": ["needs_assessment"],
        },
    )
    assert r.status_code == 201, r.text
    requests: list[tuple[httpx.AsyncClient, str, dict[str, str]]] = [
        (analyst, dataset, {"format": fmt})
        for dataset in ("people", "communities", "participation-records")
        for fmt in FORMATS
    ]
    requests += [
        (admin, "people", {"format": fmt, "identified": "true", "purpose": PURPOSE})
        for fmt in FORMATS
    ]
    for caller, dataset, params in requests:
        for since in OUT_OF_RANGE:
            for deleted in ("false", "true"):
                query = {**params, "updated_since": since, "include_deleted": deleted}
                r = await caller.get(f"{EXPORTS}/{dataset}", params=query)
                body = assert_problem(r, 422)
                assert [e["loc"] for e in body["errors"]] == [["query", "updated_since"]]
                assert since not in r.text  # described, not echoed
    # the edges UTC can hold are fine
    for since, rows in (("0001-01-01T00:00:00Z", 2), ("0001-01-01T00:00:00-14:00", 2)):
        r = await analyst.get(f"{EXPORTS}/communities", params={"updated_since": since})
        assert len(ndjson_rows(r)) == rows, since
    r = await analyst.get(
        f"{EXPORTS}/communities", params={"updated_since": "9999-12-31T23:59:59.999999+00:00"}
    )
    assert ndjson_rows(r) == []


def _failing(name: str) -> Any:
    """The dataset with one more field that PostgreSQL fails to compute on every row (the
    name of a table that does not exist): the query is sent and accepted, then fails on
    its first row, with an error no client value causes (a 500)."""
    dataset = DATASETS[name]
    missing = func.concat("no_such_table_", func.md5(cast(dataset.id_column, Text)))
    boom = ExportField("boom", "string", "fails", cast(missing, REGCLASS))
    return dataclasses.replace(dataset, fields=[*dataset.fields, boom])


async def test_a_database_error_is_a_problem_not_a_cut_200(
    app: Any,
    make_user: Any,
    make_community: Any,
    admin: httpx.AsyncClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    community = (await make_community())["id"]
    r = await admin.post(
        f"{API}/people",
        json={
            "community_id": community,
            "full_name": "Siti Aminah",
            "sex": "female",
            "consent_purposes": ["needs_assessment"],
        },
    )
    assert r.status_code == 201, r.text
    monkeypatch.setitem(DATASETS, "communities", _failing("communities"))
    monkeypatch.setitem(DATASETS, "people", _failing("people"))
    pool = app.state.database.engine.pool
    checked_out = pool.checkedout()
    # The app's own answers, not the test transport's re-raised exception (a 500 is also
    # re-raised to the server after it is sent, for its log).
    user = await make_user(Role.admin)
    token, _ = app.state.tokens.issue(str(user.id))
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://test", headers={"Authorization": f"Bearer {token}"}
    ) as caller:
        for dataset, extra in (
            ("communities", {}),
            ("people", {}),
            ("people", {"identified": "true", "purpose": PURPOSE}),
        ):
            for fmt in FORMATS:
                for deleted in ("false", "true"):
                    params = {**extra, "format": fmt, "include_deleted": deleted}
                    r = await caller.get(f"{EXPORTS}/{dataset}", params=params)
                    body = assert_problem(r, 500)
                    assert body["type"].endswith("/internal-error"), (dataset, params)
                    assert "x-export-high-water-mark" not in r.headers
    assert pool.checkedout() == checked_out  # every export's connection went back


# --- (9) RFC 4180 CSV --------------------------------------------------------------------------

# Each a value of its own row; CR alone is the one a "\n"-terminated writer left bare.
HOSTILE = [
    "a\rb",
    "a\nb",
    "a\r\nb",
    "\r",
    "\n",
    "\r\n",
    "akhir\r",
    "akhir\n",
    'kata "kutip" di sini',
    '"',
    "a,b",
    ",",
    'semua,"tiga"\r\nbaris\rlagi',
    "=1+2",
    "+62 812",
    "-5",
    "@SUM(A1)",
    "\tawal tab",
    "\rawal cr",
    '=HYPERLINK("x",\r\n"y")',
]


def _text_columns(name: str) -> Iterator[tuple[str, Column[Any], bool]]:
    """(field, column, is an array) of each text column a dataset emits from its table."""
    dataset = DATASETS[name]
    for f in dataset.fields:
        col = f.expr
        if not isinstance(col, Column) or col.table is not dataset.table or col.foreign_keys:
            continue
        if col.name in ("id", "created_at", "updated_at"):
            continue
        item = col.type.item_type if isinstance(col.type, ARRAY) else col.type
        if isinstance(getattr(item, "impl", item), String):
            yield f.name, col, isinstance(col.type, ARRAY)


async def _make_hostile(raw_db: asyncpg.Pool, name: str) -> set[str]:
    """Row n of the dataset gets ``HOSTILE[n]`` in every text column the schema lets hold
    it (arrays: with a plain value after it), written past the API's validation. Returns
    the ``field`` names that took every value."""
    table = DATASETS[name].table.name
    accepted = set()
    async with raw_db.acquire() as conn:
        ids = [r["id"] for r in await conn.fetch(f'SELECT id FROM "{table}" ORDER BY id')]
        assert len(ids) == len(HOSTILE), (name, len(ids))
        for field, col, is_array in _text_columns(name):
            took = 0
            for row_id, value in zip(ids, HOSTILE, strict=True):
                try:
                    async with conn.transaction():
                        await conn.execute(
                            f'UPDATE "{table}" SET "{col.name}" = $1 WHERE id = $2',
                            [value, "biasa"] if is_array else value,
                            row_id,
                        )
                    took += 1
                except (asyncpg.CheckViolationError, asyncpg.StringDataRightTruncationError):
                    pass
            if took == len(ids):
                accepted.add(field)
    return accepted


def _expected_cell(value: Any, kind: str) -> Any:
    """What the CSV holds for an NDJSON value: null as empty, a text starting like a
    formula behind a quote mark, the rest as its text."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, str) and kind == "string":
        return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value
    return value


def _same(cell: str, value: Any, kind: str) -> bool:
    if kind == "datetime" and value is not None:
        return datetime.fromisoformat(cell) == datetime.fromisoformat(value)
    if kind in ("integer", "number") and value is not None:
        return float(cell) == float(value)
    if kind == "array" and value is not None:
        return json.loads(cell) == value
    return bool(cell == _expected_cell(value, kind))


async def _assert_formats_agree(
    caller: httpx.AsyncClient, name: str, params: dict[str, str], rows: int
) -> list[dict[str, Any]]:
    """NDJSON, the JSON array and the CSV read back hold the same ``rows`` rows."""
    described = {k: v for k, v in params.items() if k in ("identified", "purpose")}
    pkg = (await caller.get(EXPORTS, params=described)).json()  # what this caller receives
    (resource,) = [r for r in pkg["resources"] if r["name"] == name]
    kinds = {f["name"]: f["type"] for f in resource["schema"]["fields"]}
    lines = ndjson_rows(await caller.get(f"{EXPORTS}/{name}", params=params))
    assert len(lines) == rows, name
    r = await caller.get(f"{EXPORTS}/{name}", params={**params, "format": "json"})
    assert r.status_code == 200 and r.json() == lines, name
    r = await caller.get(f"{EXPORTS}/{name}", params={**params, "format": "csv"})
    assert r.status_code == 200, r.text
    # as files are read for the csv module (newline=""): CR, LF and CRLF all end a line
    table = list(csv.reader(io.StringIO(r.text, newline="")))
    header, body = table[0], table[1:]
    assert header == list(lines[0]), name
    assert len(body) == len(lines), (name, len(body), len(lines))
    for cells, line in zip(body, lines, strict=True):
        assert len(cells) == len(header), name
        for key, cell in zip(header, cells, strict=True):
            assert _same(cell, line[key], kinds[key]), (name, key, cell, line[key])
    # a row-per-line reader (LF only, as pandas' C parser splits) agrees on the count
    assert len(list(csv.reader(io.StringIO(r.text)))) == len(lines) + 1, name
    assert r.text.endswith("\r\n")  # RFC 4180 line ends
    return lines


async def test_csv_quotes_every_hostile_text_value(
    admin: httpx.AsyncClient,
    analyst: httpx.AsyncClient,
    make_community: Any,
    raw_db: asyncpg.Pool,
) -> None:
    community = (await make_community())["id"]
    for _ in range(len(HOSTILE) - 1):
        await make_community()
    for n in range(len(HOSTILE)):
        r = await admin.post(f"{API}/partners", json={"name": f"Yayasan {n}", "kind": "ngo"})
        assert r.status_code == 201, r.text
        r = await admin.post(
            f"{API}/people",
            json={
                "community_id": community,
                "full_name": f"Warga {n}",
                "sex": "female",
                "consent_purposes": ["needs_assessment"],
            },
        )
        assert r.status_code == 201, r.text
    accepted = {name: await _make_hostile(raw_db, name) for name in ("communities", "partners")}
    accepted["people"] = await _make_hostile(raw_db, "people")
    assert {"name", "potentials"} <= accepted["communities"], accepted
    assert {"name", "website"} <= accepted["partners"], accepted
    assert {"vulnerable_groups", "consent_purposes"} <= accepted["people"], accepted
    assert "full_name" in accepted["people"], accepted  # for the identified export

    for name in ("communities", "partners", "people"):
        lines = await _assert_formats_agree(analyst, name, {}, len(HOSTILE))
        for field in accepted[name] & set(lines[0]):
            values = {
                (line[field][0] if isinstance(line[field], list) else line[field]) for line in lines
            }
            assert values == set(HOSTILE), (name, field)  # carried verbatim
    identified = {"identified": "true", "purpose": PURPOSE}
    lines = await _assert_formats_agree(admin, "people", identified, len(HOSTILE))
    assert {line["full_name"] for line in lines} == set(HOSTILE)


# --- (17) no key material reaches the database --------------------------------------------------


@contextmanager
def captured(app: Any) -> Iterator[list[tuple[str, Any]]]:
    """Every statement the app sends while the block runs, with its parameters: through
    SQLAlchemy, and straight on the driver (the fast read path, the exports' COPY)."""
    statements: list[tuple[str, Any]] = []
    engine = app.state.database.engine.sync_engine

    def on_cursor(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        statements.append((statement, parameters))

    def on_driver(statement: str, parameters: Any) -> None:
        statements.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", on_cursor)
    driver_listeners.append(on_driver)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", on_cursor)
        driver_listeners.remove(on_driver)


def _leaves(value: Any) -> Iterator[Any]:
    if isinstance(value, dict):
        for item in value.values():
            yield from _leaves(item)
    elif isinstance(value, list | tuple | set):
        for item in value:
            yield from _leaves(item)
    else:
        yield value


async def test_no_pseudonym_key_material_in_any_export_statement(
    app: Any,
    admin: httpx.AsyncClient,
    analyst: httpx.AsyncClient,
    make_community: Any,
    raw_db: asyncpg.Pool,
) -> None:
    await build_world(admin, make_community)
    async with raw_db.acquire() as conn:  # a tombstone in every dataset
        for dataset in DATASETS.values():
            table = dataset.table.name
            await conn.execute(
                f'UPDATE "{table}" SET deleted_at = now() '
                f'WHERE id = (SELECT id FROM "{table}" ORDER BY id LIMIT 1)'
            )
    hasher = app.state.personal_data.hasher
    key: bytes = hasher.pseudonym_key
    pads = hasher.pseudonym_pads()
    secrets_text = {key.hex(), *pads}
    secrets_text |= {base64.b64encode(key).decode(), base64.urlsafe_b64encode(key).decode()}
    secrets_text |= {s.rstrip("=") for s in secrets_text}
    configured = app.state.settings.pseudonym_key
    if configured:
        secrets_text.add(str(configured))
    secrets_bytes = {key, *(bytes.fromhex(p) for p in pads)}

    requests: list[tuple[httpx.AsyncClient, str, dict[str, str]]] = [
        (analyst, name, {"format": fmt, "include_deleted": deleted})
        for name in DATASETS
        for fmt in FORMATS
        for deleted in ("false", "true")
    ]
    requests += [
        (admin, "people", {"format": fmt, "include_deleted": deleted, **ident})
        for fmt in FORMATS
        for deleted in ("false", "true")
        for ident in ({"identified": "true", "purpose": PURPOSE}, {})
    ]
    with captured(app) as statements:
        for caller, name, params in requests:
            r = await caller.get(f"{EXPORTS}/{name}", params=params)
            assert r.status_code == 200, (name, params, r.text[:200])
            assert r.content or params["include_deleted"] == "false", (name, params)
    for statement, parameters in statements:
        for secret in secrets_text:
            assert secret not in statement
        for leaf in _leaves(parameters):
            if isinstance(leaf, bytes | bytearray | memoryview):
                assert not any(s in bytes(leaf) for s in secrets_bytes), statement
                leaf = bytes(leaf).hex()
            text = str(leaf)
            assert not any(s in text for s in secrets_text), statement
    # every export's rows were read by a statement seen here (COPY included)
    for name, dataset in DATASETS.items():
        reading = [s for s, _ in statements if f"FROM {dataset.table.name}" in s]
        assert len(reading) >= 6, name
    assert any(s.startswith("SELECT") and "json" in s for s, _ in statements)  # the COPY
    # the key material was not empty: the checks above could have failed
    assert all(len(s) >= 32 for s in secrets_bytes)
