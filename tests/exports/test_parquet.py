"""``format=parquet``: every dataset read back with pyarrow equals its NDJSON rows, with
typed columns; identified people and tombstones too; several row groups streamed as they
are written; an empty dataset is a valid file with its schema."""

from __future__ import annotations

import io
from collections.abc import AsyncGenerator
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import asyncpg
import httpx
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from app.exports import parquet, repository
from app.exports.datasets import DATASETS
from tests.exports.test_exports import World, build_world, ndjson
from tests.factories import EXPORTS, PEOPLE, MakeCommunity

PURPOSE = "Verifikasi penerima BLT Desa Sukamaju 2025"
ARROW = {
    "string": pa.string(),
    "integer": pa.int64(),
    "number": pa.float64(),
    "boolean": pa.bool_(),
    "date": pa.date32(),
    "datetime": pa.timestamp("us", tz="UTC"),
    "array": pa.list_(pa.string()),
}


# the datasets build_world fills (others, added later, may be empty here)
WORLD = {
    "communities",
    "development-indices",
    "needs-assessments",
    "findings",
    "ballots",
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


@pytest.fixture
async def world(admin: httpx.AsyncClient, make_community: MakeCommunity) -> World:
    return await build_world(admin, make_community)


def read(response: httpx.Response) -> pa.Table:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/vnd.apache.parquet"
    assert response.headers["content-disposition"].endswith('.parquet"')
    assert response.content[:4] == b"PAR1" and response.content[-4:] == b"PAR1"
    return pq.read_table(io.BytesIO(response.content))


def same(parquet_value: Any, json_value: Any) -> bool:
    """A typed Parquet value against the NDJSON one (timestamps and dates as text)."""
    if isinstance(parquet_value, datetime):
        return parquet_value == datetime.fromisoformat(json_value)
    if isinstance(parquet_value, date):
        return parquet_value == date.fromisoformat(json_value)
    if isinstance(parquet_value, float) and isinstance(json_value, int | float):
        return parquet_value == pytest.approx(json_value)
    return bool(parquet_value == json_value)


def assert_equal(table: pa.Table, rows: list[dict[str, Any]], context: Any) -> None:
    got = table.to_pylist()
    assert len(got) == len(rows), context
    for typed, line in zip(got, rows, strict=True):
        # NDJSON tombstones have only their keys; Parquet has every column, null
        assert set(line) <= set(typed), context
        for name, value in typed.items():
            if name not in line:
                assert value is None, (context, name)
            else:
                assert same(value, line[name]), (context, name, value, line[name])


async def test_every_dataset_as_parquet_equals_ndjson(
    analyst: httpx.AsyncClient, world: World
) -> None:
    for name, dataset in DATASETS.items():
        table = read(await analyst.get(f"{EXPORTS}/{name}", params={"format": "parquet"}))
        expected = {f.name: ARROW[f.type] for f in dataset.emitted(identified=False)}
        assert {f.name: f.type for f in table.schema} == expected, name
        assert table.schema.names == list(expected), name  # the CSV header's order
        rows = ndjson(await analyst.get(f"{EXPORTS}/{name}"))
        assert rows or name not in WORLD, f"world has no {name}"
        assert_equal(table, rows, name)


async def test_identified_people_and_tombstones_as_parquet(
    admin: httpx.AsyncClient, analyst: httpx.AsyncClient, world: World
) -> None:
    r = await admin.delete(f"{PEOPLE}/{world.people[-1]}")
    assert r.status_code == 204, r.text
    for caller, params in (
        (analyst, {"include_deleted": "true"}),
        (admin, {"identified": "true", "purpose": PURPOSE}),
        (admin, {"identified": "true", "purpose": PURPOSE, "include_deleted": "true"}),
    ):
        table = read(await caller.get(f"{EXPORTS}/people", params={**params, "format": "parquet"}))
        rows = ndjson(await caller.get(f"{EXPORTS}/people", params=params))
        assert_equal(table, rows, params)
        if "include_deleted" in params:
            assert table.schema.field("deleted_at").type == ARROW["datetime"]
            dead = [row for row in table.to_pylist() if row["deleted_at"] is not None]
            assert len(dead) == 1 and dead[0]["person_key"] and dead[0]["sex"] is None
        if "identified" in params:
            assert table.schema.field("birth_year").type == pa.int64()
            names = table.column("full_name").to_pylist()
            assert "Kartini Wulandari Sejahtera" in names


async def test_parquet_is_written_in_row_groups_as_it_streams(
    analyst: httpx.AsyncClient, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(repository, "COLUMN_PARTITION", 1)  # rows read one at a time
    monkeypatch.setattr(parquet, "ROW_GROUP_ROWS", 2)
    r = await analyst.get(f"{EXPORTS}/participation-records", params={"format": "parquet"})
    assert r.status_code == 200
    file = pq.ParquetFile(io.BytesIO(r.content))
    assert file.metadata.num_rows == len(world.records) == 5
    assert file.metadata.num_row_groups == 3  # 2 + 2 + 1
    rows = ndjson(await analyst.get(f"{EXPORTS}/participation-records"))
    assert_equal(file.read(), rows, "row groups")


async def test_parquet_stream_hands_on_each_row_group_as_written(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Memory stays flat: each row group leaves as soon as it is written (nothing before
    the first rows are read), and the rows read so far are never more than a group."""
    monkeypatch.setattr(parquet, "ROW_GROUP_ROWS", 1000)
    fields = DATASETS["measurements"].emitted(identified=False)
    read_so_far = 0

    async def partitions() -> AsyncGenerator[list[dict[str, Any]]]:
        nonlocal read_so_far
        for n in range(10):
            rows = [
                {"id": f"m-{n}-{i}", "value": Decimal("1.5") * i, "measured_on": date(2025, 3, 1)}
                for i in range(500)
            ]
            read_so_far += len(rows)
            yield rows

    seen: list[tuple[int, int]] = []  # (rows read, bytes) at each chunk
    chunks = []
    async for chunk in parquet.stream(partitions(), fields, include_deleted=False):
        seen.append((read_so_far, len(chunk)))
        chunks.append(chunk)
    assert [rows for rows, _ in seen] == [1000, 2000, 3000, 4000, 5000, 5000]
    assert chunks[0][:4] == b"PAR1" and chunks[-1][-4:] == b"PAR1"
    file = pq.ParquetFile(io.BytesIO(b"".join(chunks)))
    assert file.metadata.num_row_groups == 5 and file.metadata.num_rows == 5000
    table = file.read()
    assert table.column("value").to_pylist()[:3] == [0.0, 1.5, 3.0]
    assert table.column("measured_on").to_pylist()[0] == date(2025, 3, 1)


async def test_empty_dataset_is_a_valid_parquet_file(analyst: httpx.AsyncClient) -> None:
    table = read(await analyst.get(f"{EXPORTS}/communities", params={"format": "parquet"}))
    assert table.num_rows == 0
    assert table.schema.names[:3] == ["id", "created_at", "updated_at"]
    assert table.schema.field("population").type == pa.int64()


async def test_parquet_carries_no_personal_data_for_analysts(
    analyst: httpx.AsyncClient, world: World, raw_db: asyncpg.Pool
) -> None:
    r = await analyst.get(f"{EXPORTS}/people", params={"format": "parquet"})
    table = read(r)
    assert not {"id", "full_name", "nik", "phone", "birth_year"} & set(table.schema.names)
    for secret in ("Kartini", "3204124506850003", "81234567890", world.person):
        assert secret.encode() not in r.content
    assert sorted(table.column("person_key").to_pylist()) == sorted(world.people_keys)
