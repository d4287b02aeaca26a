"""Reading answers and rows in tests, written once: validation locations, problem bodies,
every page of a list, row counts, the statements the app sends, raw database plumbing."""

from __future__ import annotations

import base64
import json
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any

import asyncpg
import httpx
from sqlalchemy import event
from sqlalchemy.engine import make_url

from app.core.fastpath import driver_listeners
from tests.factories import API, ASSESSMENTS

PROBLEM = "application/problem+json"
PROBLEM_KEYS = {"type", "title", "status", "detail", "instance", "request_id"}


def locs(response: httpx.Response) -> list[list[Any]]:
    """Where each validation error of a 422 points."""
    return [issue["loc"] for issue in response.json().get("errors") or []]


def assert_422_at(response: httpx.Response, *loc: Any) -> None:
    """A 422 problem whose errors point at ``loc``."""
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    assert list(loc) in locs(response), locs(response)


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    """The response is an RFC 9457 problem with every key of the contract."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM), response.headers
    body: dict[str, Any] = response.json()
    assert body.keys() >= PROBLEM_KEYS, body
    assert body["status"] == status
    assert isinstance(body["type"], str) and body["type"]
    assert isinstance(body["title"], str) and body["title"]
    assert "traceback" not in response.text.lower()
    return body


def named(response: httpx.Response, field: str) -> bool:
    """Whether a validation error of a 422 names ``field`` anywhere in its location."""
    return any(field in loc for loc in locs(response))


def ids_of(response: httpx.Response) -> list[str]:
    """The ids of a list page, in order."""
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


def id_set(response: httpx.Response) -> set[str]:
    return set(ids_of(response))


async def fetch_all_pages(
    client: httpx.AsyncClient,
    url: str,
    params: dict[str, Any],
    between: Callable[[], Awaitable[Any]] | None = None,
) -> tuple[list[list[str]], list[httpx.Response]]:
    """Follow ``next_cursor`` to the end: the ids of each page and each page's answer."""
    pages: list[list[str]] = []
    responses: list[httpx.Response] = []
    cursor: str | None = None
    while True:
        query = dict(params)
        if cursor:
            query["cursor"] = cursor
        r = await client.get(url, params=query)
        assert r.status_code == 200, r.text
        pages.append(ids_of(r))
        responses.append(r)
        cursor = r.json()["next_cursor"]
        if cursor is None:
            return pages, responses
        assert 'rel="next"' in r.headers["link"]
        assert len(pages) < 50, "pagination does not terminate"
        if between is not None:
            await between()


async def collect(
    client: httpx.AsyncClient, url: str, params: dict[str, Any]
) -> tuple[list[str], int]:
    """Every id of a list in page order, and the number of pages."""
    pages, _ = await fetch_all_pages(client, url, params)
    return [item for page in pages for item in page], len(pages)


async def audit_events(
    admin: httpx.AsyncClient, resource: str, resource_id: str
) -> list[dict[str, Any]]:
    """The audit trail of one row, as the API lists it."""
    r = await admin.get(
        f"{API}/audit-events",
        params={"resource": resource, "resource_id": resource_id, "limit": 500},
    )
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["items"]
    return items


async def count_rows(raw_db: asyncpg.Pool, table: str, *, live_only: bool = False) -> int:
    sql = f"SELECT count(*) FROM {table}"
    if live_only:
        sql += " WHERE deleted_at IS NULL"
    return int(await raw_db.fetchval(sql))


def unb64json(part: str) -> dict[str, Any]:
    """One part of a JWT (header or payload), decoded."""
    padded = part + "=" * (-len(part) % 4)
    result: dict[str, Any] = json.loads(base64.urlsafe_b64decode(padded))
    return result


def jwt_claims(token: str) -> dict[str, Any]:
    """The payload of a JWT, decoded without verifying the signature."""
    return unb64json(token.split(".")[1])


@contextmanager
def captured(app: Any) -> Iterator[list[tuple[str, Any]]]:
    """Every statement the app sends while the block runs, with its parameters: those
    SQLAlchemy executes and those run straight on the driver (``app.core.db``)."""
    statements: list[tuple[str, Any]] = []
    engine = app.state.database.engine.sync_engine

    def on_cursor(conn: Any, cursor: Any, statement: str, parameters: Any, *args: Any) -> None:
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


# --- needs assessments ---------------------------------------------------------------------------


async def all_findings(client: httpx.AsyncClient, assessment_id: str) -> list[dict[str, Any]]:
    r = await client.get(f"{ASSESSMENTS}/{assessment_id}/findings", params={"limit": 500})
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["items"]
    return items


async def ranks_by_id(client: httpx.AsyncClient, assessment_id: str) -> dict[str, int | None]:
    return {f["id"]: f["priority_rank"] for f in await all_findings(client, assessment_id)}


async def priorities(client: httpx.AsyncClient, assessment_id: str) -> dict[str, Any]:
    r = await client.get(f"{ASSESSMENTS}/{assessment_id}/priorities")
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def assert_ranks_follow_priorities(client: httpx.AsyncClient, assessment_id: str) -> None:
    prio = await priorities(client, assessment_id)
    ranks = await ranks_by_id(client, assessment_id)
    expected = {item["finding_id"]: item["rank"] for item in prio["items"]}
    for finding_id, rank in ranks.items():
        if prio["ballots"] == 0:
            assert rank is None
        else:
            assert rank == expected.get(finding_id), (finding_id, rank, expected)
    assert [i["rank"] for i in prio["items"]] == list(range(1, len(prio["items"]) + 1))


# --- the database server -----------------------------------------------------------------------


def plain_dsn(url: str) -> dict[str, Any]:
    """asyncpg's connection arguments for a SQLAlchemy URL."""
    parsed = make_url(url)
    return {
        "host": parsed.query.get("host") or parsed.host,
        "port": parsed.port,
        "user": parsed.username or "postgres",
        "password": parsed.password,
        "database": parsed.database,
    }


def database_on(server_url: str, name: str) -> str:
    """The URL of database ``name`` on the server of ``server_url``."""
    return make_url(server_url).set(database=name).render_as_string(False)


async def drop_database(server_url: str, name: str) -> None:
    conn = await asyncpg.connect(**plain_dsn(server_url))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()
