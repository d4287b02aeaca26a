"""Performance guards: list queries use indexes, list pages cost a bounded number of queries.

The SQL checked is the SQL the app sends: each list request runs with a
``before_cursor_execute`` listener, the page query is captured with its parameters and
``EXPLAIN``-ed on a raw connection after ``SET enable_seqscan = off`` (and bitmap scans
off), so on the tiny test tables the planner shows the index it would use at scale.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from typing import Any

import asyncpg
import httpx
import pytest

from tests.factories import (
    API,
    COMMUNITIES,
    YEAR_2025,
    create_assessment,
    make_activity,
    make_partner_org,
    make_partnership,
    make_person,
    make_program,
    post,
    record,
)
from tests.helpers import captured


@pytest.fixture
async def world(app: Any, admin: httpx.AsyncClient) -> dict[str, str]:
    """One of each parent, so nested lists answer 200."""
    community = await post(
        admin, COMMUNITIES, {"name": "Desa Uji", "kind": "desa", "region_code": "32.04.12.2001"}
    )
    cid = community["id"]
    pid = (await make_program(admin, [cid], title="Program Uji", **YEAR_2025))["id"]
    activity = await make_activity(
        admin, pid, cid, title="Pelatihan", scheduled_end="2025-03-01T17:00:00+07:00"
    )
    assessment = await create_assessment(admin, cid, title="Kajian air", methods=["survey"])
    partner = await make_partner_org(app)
    partnership = await make_partnership(admin, str(partner), pid)
    return {
        "community_id": cid,
        "program_id": pid,
        "activity_id": activity["id"],
        "assessment_id": assessment["id"],
        "partner_id": str(partner),
        "partnership_id": partnership["id"],
    }


def _nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)


def describe(plan: dict[str, Any], depth: int = 0) -> str:
    """A plan as indented lines: node type, relation, index (for assertion messages)."""
    line = "  " * depth + " ".join(
        str(plan[k]) for k in ("Node Type", "Relation Name", "Index Name") if k in plan
    )
    return "\n".join([line, *(describe(c, depth + 1) for c in plan.get("Plans", []))])


def _sorts_over_seq_scan(plan: dict[str, Any]) -> bool:
    for node in _nodes(plan):
        if node["Node Type"] in ("Sort", "Incremental Sort") and any(
            n["Node Type"] == "Seq Scan" for n in _nodes(node)
        ):
            return True
    return False


async def explain(raw_db: asyncpg.Pool, statement: str, parameters: Any) -> dict[str, Any]:
    async with raw_db.acquire() as conn:
        # Tiny test tables: forbid the scans a planner prefers on a few rows (a seq scan,
        # or a bitmap scan + sort) so the plan shows the index it would use at scale.
        await conn.execute("SET enable_seqscan = off; SET enable_bitmapscan = off")
        try:
            raw = await conn.fetchval(f"EXPLAIN (FORMAT JSON) {statement}", *parameters)
        finally:
            await conn.execute("RESET enable_seqscan; RESET enable_bitmapscan")
    plan: dict[str, Any] = json.loads(raw)[0]["Plan"]
    return plan


def _page_query(statements: list[tuple[str, Any]], table: str) -> tuple[str, Any]:
    """The keyset page query: a SELECT from ``table`` with ORDER BY and LIMIT."""
    pattern = re.compile(rf"\bFROM {table}\b.*\bORDER BY\b.*\bLIMIT\b", re.S)
    for statement, parameters in statements:
        if statement.lstrip().upper().startswith("SELECT") and pattern.search(statement):
            return statement, parameters
    raise AssertionError(f"no page query on {table} among {[s for s, _ in statements]}")


# (name, path template, table, main filters as query strings; "" is the default order)
LISTS: list[tuple[str, str, str, list[str]]] = [
    (
        "communities",
        "/communities",
        "communities",
        ["", "sort=name", "region_code=32.04", "cursor"],
    ),
    ("people", "/people", "people", ["", "community_id={community_id}", "cursor"]),
    (
        "participation-records",
        "/participation-records",
        "participation_records",
        [
            "",
            "community_id={community_id}",
            "person_id={person_id}",
            "activity_id={activity_id}",
            "program_id={program_id}",
            "assessment_id={assessment_id}",
            "sort=updated_at",
            "cursor",
        ],
    ),
    ("programs", "/programs", "programs", ["", "status=draft", "cursor"]),
    (
        "activities",
        "/programs/{program_id}/activities",
        "activities",
        ["", "community_id={community_id}"],
    ),
    (
        "needs-assessments",
        "/needs-assessments",
        "needs_assessments",
        ["", "community_id={community_id}"],
    ),
    ("findings", "/needs-assessments/{assessment_id}/findings", "findings", [""]),
    ("partners", "/partners", "partners", ["", "sort=name"]),
    (
        "partnerships",
        "/partnerships",
        "partnerships",
        ["", "partner_id={partner_id}", "program_id={program_id}"],
    ),
    ("contributions", "/partnerships/{partnership_id}/contributions", "contributions", [""]),
    (
        "audit-events",
        "/audit-events",
        "audit_events",
        ["", "resource=communities&resource_id={community_id}", "actor_id={person_id}"],
    ),
]


@pytest.mark.parametrize(("name", "path", "table", "queries"), LISTS, ids=[x[0] for x in LISTS])
async def test_list_queries_use_indexes(
    app: Any,
    admin: httpx.AsyncClient,
    raw_db: asyncpg.Pool,
    world: dict[str, str],
    name: str,
    path: str,
    table: str,
    queries: list[str],
) -> None:
    ids = {**world, "person_id": str(uuid.uuid4())}
    url = API + path.format(**ids)
    for query in queries:
        if query == "cursor":
            # A page after a cursor: the (sort, id) > (v, id) condition must use the index.
            from app.core.pagination import _make_cursor, filter_digest

            digest = filter_digest({"updated_since": None, "sort": "created_at"})
            query = "cursor=" + _make_cursor(
                "created_at", digest, "2025-01-01T00:00:00+00:00", uuid.uuid4()
            )
        with captured(app) as statements:
            response = await admin.get(f"{url}?limit=5&{query.format(**ids)}")
        assert response.status_code == 200, (name, query, response.text)
        statement, parameters = _page_query(statements, table)
        plan = await explain(raw_db, statement, parameters)
        scans = [n for n in _nodes(plan) if n.get("Relation Name") == table]
        assert scans, (name, query, describe(plan))
        assert all(n["Node Type"] != "Seq Scan" for n in scans), (name, query, describe(plan))
        assert not _sorts_over_seq_scan(plan), (name, query, describe(plan))


# --- a bounded number of statements per page, whatever its size ------------------------------


async def _seed_rows(
    app: Any, admin: httpx.AsyncClient, world: dict[str, str], path: str, n: int
) -> None:
    cid, pid = world["community_id"], world["program_id"]
    if path == "communities":
        for i in range(n):
            body = {"name": f"Desa {i}", "kind": "desa", "region_code": f"32.04.12.{2001 + i}"}
            await post(admin, COMMUNITIES, body)
    elif path == "programs":
        for i in range(n):
            await make_program(admin, [cid], title=f"Program {i}", start_date="2025-01-01")
    elif path in ("people", "participation-records"):
        people = [
            (
                await make_person(
                    admin,
                    cid,
                    name=f"Warga {i}",
                    phone=f"+62812345{i:05d}",
                    purposes=["program_participation"],
                )
            )["id"]
            for i in range(n)
        ]
        if path == "participation-records":
            rows = [record(p, activity=world["activity_id"]) for p in people]
            response = await admin.post(f"{API}/participation-records/batch", json={"rows": rows})
            assert response.status_code == 200, response.text
            assert response.json()["created"] == n, response.text
    elif path == "partnerships":
        for _ in range(n):
            await make_partnership(admin, str(await make_partner_org(app)), pid)


COUNTED = ["communities", "people", "programs", "participation-records", "partnerships"]


@pytest.mark.parametrize("path", COUNTED)
async def test_list_page_issues_bounded_queries(
    app: Any, admin: httpx.AsyncClient, world: dict[str, str], path: str
) -> None:
    await _seed_rows(app, admin, world, path, 51)
    counts = {}
    for limit in (5, 50):
        with captured(app) as statements:
            response = await admin.get(f"{API}/{path}?limit={limit}")
        assert response.status_code == 200, response.text
        assert len(response.json()["items"]) == limit
        counts[limit] = len(statements)
    assert counts[5] == counts[50], counts
    assert counts[50] <= 4, counts  # principal, page, at most two lookups for the items


# --- recovery without pool_pre_ping ------------------------------------------------------------


async def test_database_restart_recovers_without_pre_ping(
    app: Any, admin: httpx.AsyncClient, raw_db: asyncpg.Pool, world: dict[str, str]
) -> None:
    """Every pooled connection dies (as in a database restart): at most the next request
    answers 503 (never a 500), and the pool reconnects for the ones after it."""
    url = f"{API}/communities/{world['community_id']}"
    assert (await admin.get(url)).status_code == 200
    await raw_db.execute(
        # Only this run's database: other runs may share the server.
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE application_name = 'berdaya' AND datname = current_database() "
        "AND pid <> pg_backend_pid()"
    )
    first = await admin.get(url)
    assert first.status_code in (200, 503), first.text
    for _ in range(3):
        response = await admin.get(url)
        assert response.status_code == 200, response.text


# --- the driver read path ----------------------------------------------------------------------


async def test_rows_read_on_the_driver_match_the_session_and_cannot_be_changed(
    app: Any, world: dict[str, str]
) -> None:
    from sqlalchemy import select

    from app.communities.models import Community
    from app.core.fastpath import fetch_views

    community_id = uuid.UUID(world["community_id"])
    async with app.state.database.read_sessions() as session:
        stmt = select(Community).where(Community.id == community_id)
        entity = (await session.execute(stmt)).scalar_one()
        (view,) = await fetch_views(session, select(Community).where(Community.id == community_id))
        for column in Community.__table__.columns:  # type: ignore[attr-defined]
            assert getattr(view, column.key) == getattr(entity, column.key), column.key
        with pytest.raises(AttributeError):
            view.name = "changed"
        with pytest.raises(AttributeError):
            _ = view.no_such_column
        # An expanding IN list cannot be sent as is: it runs on the session (entities).
        in_list = Community.id.in_([community_id])  # type: ignore[attr-defined]
        listed = await fetch_views(session, select(Community).where(in_list))
        assert [c.id for c in listed] == [community_id]
        assert isinstance(listed[0], Community)


async def test_a_value_postgresql_refuses_on_the_driver_is_422(admin: httpx.AsyncClient) -> None:
    r = await admin.get(f"{API}/communities", params={"q": "a\x00b"})
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")


def test_every_dependency_and_endpoint_is_async(app: Any) -> None:
    """A plain ``def`` dependency or endpoint runs in FastAPI's thread pool: a thread hop
    on every request (measured: +1 ms on GET /people/{id} before they were made async)."""
    import inspect

    from fastapi.routing import APIRoute

    def calls(dependant: Any) -> Iterator[Any]:
        if dependant.call is not None:
            yield dependant.call
        for sub in dependant.dependencies:
            yield from calls(sub)

    plain = set()
    for route in app.routes:
        if not isinstance(route, APIRoute):
            continue
        for call in calls(route.dependant):
            target = call if inspect.isfunction(call) else type(call).__call__
            if not (inspect.iscoroutinefunction(target) or inspect.isasyncgenfunction(target)):
                plain.add(getattr(call, "__qualname__", repr(call)))
    assert not plain, sorted(plain)


async def test_a_kept_page_statement_takes_each_requests_values(
    admin: httpx.AsyncClient,
) -> None:
    """List pages are compiled once per shape of their filters (``fetch_page``) and take
    every value from the request: the same shape with other values answers other rows,
    and a cursor walk of the same shape sees every row once."""
    names = {}
    for kind, region, name in [
        ("desa", "32.04.12.2001", "Sukamaju"),
        ("desa", "32.04.12.2002", "Sukamulya"),
        ("kelurahan", "35.07.01.1001", "Cibeureum"),
        ("kelurahan", "35.07.01.1002", "Sukamaju Baru"),
    ]:
        body = {"name": f"Desa {name}", "kind": kind, "region_code": region}
        names[name] = (await post(admin, COMMUNITIES, body))["id"]

    async def listed(**query: Any) -> list[str]:
        response = await admin.get(f"{API}/communities", params=query)
        assert response.status_code == 200, response.text
        return sorted(item["name"] for item in response.json()["items"])

    assert await listed(kind="desa") == ["Desa Sukamaju", "Desa Sukamulya"]
    assert await listed(kind="kelurahan") == ["Desa Cibeureum", "Desa Sukamaju Baru"]
    assert await listed(region_code="32") == ["Desa Sukamaju", "Desa Sukamulya"]
    assert await listed(region_code="35.07") == ["Desa Cibeureum", "Desa Sukamaju Baru"]
    assert await listed(q="sukamaju") == ["Desa Sukamaju", "Desa Sukamaju Baru"]
    assert await listed(q="cibeu") == ["Desa Cibeureum"]
    assert await listed(q="sukamaju", kind="kelurahan") == ["Desa Sukamaju Baru"]
    assert await listed(q="sukamaju", kind="desa") == ["Desa Sukamaju"]
    assert await listed(q="100%_") == []  # escaped, as before

    for sort in ("created_at", "-created_at", "name", "-name"):
        seen: list[str] = []
        cursor = None
        for _ in range(10):
            query: dict[str, Any] = {"limit": 1, "sort": sort}
            if cursor:
                query["cursor"] = cursor
            page = (await admin.get(f"{API}/communities", params=query)).json()
            seen += [item["id"] for item in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert sorted(seen) == sorted(names.values()), sort
        assert len(seen) == len(set(seen))


async def test_a_page_statement_is_compiled_once_per_shape(
    admin: httpx.AsyncClient, make_user: Any, as_user: Any
) -> None:
    """Per shape, not per caller or value: another admin with the same filters shares it."""
    from app.auth.models import Role
    from app.core import fastpath as db

    await post(
        admin, COMMUNITIES, {"name": "Desa Uji", "kind": "desa", "region_code": "32.04.12.2001"}
    )
    other_admin = as_user(await make_user(Role.admin))
    for caller in (admin, other_admin):  # callers cached: every page below carries a rider
        assert (await caller.get(f"{API}/auth/me")).status_code == 200
    db._pages.clear()
    assert (await admin.get(f"{API}/communities", params={"kind": "desa"})).status_code == 200
    assert len(db._pages) == 1
    for kind in ("kelurahan", "desa", "kelurahan"):
        assert (await admin.get(f"{API}/communities", params={"kind": kind})).status_code == 200
    assert (await other_admin.get(f"{API}/communities", params={"kind": "desa"})).status_code == 200
    assert len(db._pages) == 1  # other values, other caller: the same shape
    assert (await admin.get(f"{API}/communities", params={"q": "uji"})).status_code == 200
    assert len(db._pages) == 2  # another filter, another shape


async def test_callers_sharing_a_page_shape_each_get_their_own_scope(
    admin: httpx.AsyncClient, make_user: Any, as_user: Any
) -> None:
    """Two facilitators share the compiled list statement, not its scope's values."""
    from app.auth.models import Role

    ids = []
    for n in (1, 2):
        body = {"name": f"Desa {n}", "kind": "desa", "region_code": "32.04.12.2001"}
        ids.append((await post(admin, COMMUNITIES, body))["id"])
    first = as_user(await make_user(Role.facilitator, communities=[uuid.UUID(ids[0])]))
    second = as_user(await make_user(Role.facilitator, communities=[uuid.UUID(ids[1])]))
    for _ in range(2):  # uncached, then cached callers
        for caller, expected in ((first, ids[0]), (second, ids[1])):
            for query in ({}, {"kind": "desa"}):
                page = (await caller.get(f"{API}/communities", params=query)).json()
                assert [item["id"] for item in page["items"]] == [expected]


async def test_a_page_whose_sql_has_a_value_no_key_carries_is_not_shared(app: Any) -> None:
    """A bound value that neither the kept statement's key, a condition's key nor the
    request supplies would keep the value of whoever compiled the page first: such a
    statement is not compiled for sharing (``_compile_page`` refuses it)."""
    from sqlalchemy import bindparam, select

    from app.communities.models import Community
    from app.core import fastpath as db

    kept = select(Community).where(Community.deleted_at.is_(None))
    condition = Community.kind == "desa"
    keys = [kept._generate_cache_key(), condition._generate_cache_key()]
    async with app.state.database.read_sessions() as session:
        covered = kept.where(condition).limit(bindparam("page_limit"))
        assert db._compile_page(session, covered, keys, {"page_limit"})
        hidden = covered.where(Community.region_code == bindparam("hidden", "32"))
        assert db._compile_page(session, hidden, keys, {"page_limit"}) is False
        assert db._compile_page(session, hidden, keys, {"page_limit", "hidden"})
