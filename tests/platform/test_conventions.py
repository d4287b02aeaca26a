"""The shared conventions of API.md section 2, exercised over HTTP on /api/v1/communities.

Each convention is tested with its failure path: problem+json errors, request ids,
security headers, CORS, keyset pagination, ETags, Idempotency-Key, body limits,
soft delete, audit, read-only fields and role/scope rules.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from starlette.middleware import Middleware
from starlette.types import Receive, Scope, Send

from app.auth.models import Role
from app.main import create_app
from tests.factories import API, COMMUNITIES
from tests.helpers import PROBLEM, assert_problem, count_rows, fetch_all_pages, ids_of

# --- problem+json ----------------------------------------------------------------------------


async def test_unknown_route_is_problem_404(client: httpx.AsyncClient) -> None:
    r = await client.get(f"{API}/no-such-thing")
    body = assert_problem(r, 404)
    assert body["instance"] == f"{API}/no-such-thing"
    assert body["request_id"] == r.headers["x-request-id"]


async def test_wrong_method_is_problem_405(admin: httpx.AsyncClient) -> None:
    r = await admin.put(COMMUNITIES, json={})
    assert_problem(r, 405)
    assert "allow" in {k.lower() for k in r.headers}


async def test_validation_error_is_problem_422_with_errors(
    admin: httpx.AsyncClient, community_payload: Any, raw_db: Any
) -> None:
    secret = "3201010101010001"
    r = await admin.post(
        COMMUNITIES,
        json=community_payload(
            kind="planet", population=-5, description=None, name="", region_code=secret
        ),
    )
    body = assert_problem(r, 422)
    assert body["errors"], body
    for issue in body["errors"]:
        assert set(issue) >= {"loc", "message", "type"}
        assert isinstance(issue["loc"], list) and issue["loc"]
        assert isinstance(issue["message"], str) and issue["message"]
        assert isinstance(issue["type"], str) and issue["type"]
    locs = {tuple(issue["loc"]) for issue in body["errors"]}
    assert ("body", "kind") in locs
    assert ("body", "population") in locs
    assert secret not in r.text  # the submitted value is never echoed
    assert await count_rows(raw_db, "communities") == 0


async def test_malformed_json_is_problem_422(admin: httpx.AsyncClient) -> None:
    r = await admin.post(
        COMMUNITIES, content=b"{not json", headers={"Content-Type": "application/json"}
    )
    body = assert_problem(r, 422)
    assert body["errors"]


async def test_missing_token_is_problem_401(client: httpx.AsyncClient) -> None:
    r = await client.get(COMMUNITIES)
    assert_problem(r, 401)
    assert r.headers.get("www-authenticate", "").lower().startswith("bearer")
    r = await client.get(COMMUNITIES, headers={"Authorization": "Bearer not-a-token"})
    assert_problem(r, 401)


async def test_route_crash_is_clean_500(app: Any, client: httpx.AsyncClient) -> None:
    async def boom() -> None:
        raise RuntimeError("secret-detail-xyz")

    before = list(app.router.routes)
    app.router.add_api_route(f"{API}/_boom", boom, methods=["GET"])
    try:
        r = await client.get(f"{API}/_boom", headers={"X-Request-ID": "crash-1"})
    finally:
        app.router.routes[:] = before
    body = assert_problem(r, 500)
    assert "secret-detail-xyz" not in r.text
    assert "RuntimeError" not in r.text
    assert body["request_id"] == "crash-1"
    assert r.headers["x-request-id"] == "crash-1"
    # the route is gone again
    assert_problem(await client.get(f"{API}/_boom"), 404)


async def test_crash_inside_a_middleware_is_clean_500(
    app: Any,
    admin: httpx.AsyncClient,
    community_payload: Any,
    monkeypatch: pytest.MonkeyPatch,
    raw_db: Any,
) -> None:
    """The idempotency layer (a middleware) crashes: still a 500 problem, no traceback."""

    async def explode(token: str) -> str:
        raise RuntimeError("secret-detail-xyz")

    # setitem: pytest restores instance attributes from __dict__, and State keeps its own dict
    monkeypatch.setitem(app.state._state, "authenticate", explode)
    r = await admin.post(
        COMMUNITIES, json=community_payload(), headers={"Idempotency-Key": "mw-crash"}
    )
    body = assert_problem(r, 500)
    assert "secret-detail-xyz" not in r.text
    assert body["request_id"] == r.headers["x-request-id"]
    assert await count_rows(raw_db, "communities") == 0


class _RaisingMiddleware:
    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].endswith("/_mw_boom"):
            raise RuntimeError("secret-detail-xyz")
        await self.app(scope, receive, send)


@pytest.fixture
async def fresh_app(settings: Any) -> AsyncIterator[Any]:
    """A separate app (own engine) so middleware changes never touch the session app."""
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


async def test_crash_in_added_middleware_layers_is_clean_500(fresh_app: Any) -> None:
    # One raising layer inside the request-context guard, one outside every app layer.
    fresh_app.user_middleware.insert(1, Middleware(_RaisingMiddleware))
    transport = httpx.ASGITransport(app=fresh_app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        r = await c.get(f"{API}/_mw_boom", headers={"X-Request-ID": "inner-boom"})
        body = assert_problem(r, 500)
        assert "secret-detail-xyz" not in r.text
        assert body["request_id"] == "inner-boom" == r.headers["x-request-id"]
        assert (await c.get("/healthz")).status_code == 200

    outer = create_app(fresh_app.state.settings)
    outer.add_middleware(_RaisingMiddleware)
    async with outer.router.lifespan_context(outer):
        transport = httpx.ASGITransport(app=outer, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
            r = await c.get(f"{API}/_mw_boom")
            assert_problem(r, 500)
            assert "secret-detail-xyz" not in r.text


# --- request id and security headers ---------------------------------------------------------


async def test_request_id_generated_when_absent(client: httpx.AsyncClient) -> None:
    first = (await client.get("/healthz")).headers.get("x-request-id")
    second = (await client.get("/healthz")).headers.get("x-request-id")
    assert first and second and first != second
    assert re.fullmatch(r"[A-Za-z0-9._-]{1,64}", first)


async def test_request_id_echoed_when_sane(admin: httpx.AsyncClient) -> None:
    r = await admin.get(COMMUNITIES, headers={"X-Request-ID": "abc-123"})
    assert r.status_code == 200
    assert r.headers["x-request-id"] == "abc-123"
    r = await admin.get(f"{COMMUNITIES}/{uuid.uuid4()}", headers={"X-Request-ID": "abc-124"})
    body = assert_problem(r, 404)
    assert body["request_id"] == "abc-124" == r.headers["x-request-id"]


@pytest.mark.parametrize("bad", ["a" * 200, "<script>", "abc 123", "id;drop", "ä-unicode"])
async def test_request_id_replaced_when_insane(client: httpx.AsyncClient, bad: str) -> None:
    headers = {"X-Request-ID": bad.encode("utf-8")}
    r = await client.get(f"{API}/nowhere", headers=headers)
    body = assert_problem(r, 404)
    assert r.headers["x-request-id"] != bad
    assert re.fullmatch(r"[A-Za-z0-9._-]{1,64}", r.headers["x-request-id"])
    assert body["request_id"] == r.headers["x-request-id"]
    assert "<script>" not in r.text


async def test_security_headers_on_api_responses(
    client: httpx.AsyncClient, admin: httpx.AsyncClient
) -> None:
    for r in (
        await admin.get(COMMUNITIES),
        await client.get(COMMUNITIES),
        await client.get(f"{API}/nope"),
    ):
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["x-frame-options"] == "DENY"
        assert r.headers["cache-control"] == "no-store"
    health = await client.get("/healthz")
    assert health.headers["x-content-type-options"] == "nosniff"
    assert health.headers["x-frame-options"] == "DENY"


# --- CORS ------------------------------------------------------------------------------------


async def test_cors_preflight_from_allowed_origin(client: httpx.AsyncClient) -> None:
    r = await client.options(
        COMMUNITIES,
        headers={
            "Origin": "https://app.berdaya.id",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "Authorization, Content-Type, Idempotency-Key",
        },
    )
    assert r.status_code == 200, r.text
    assert r.headers["access-control-allow-origin"] == "https://app.berdaya.id"
    assert r.headers["access-control-allow-credentials"] == "true"
    assert "POST" in r.headers["access-control-allow-methods"]
    assert "*" not in r.headers["access-control-allow-origin"]


async def test_cors_simple_request_from_allowed_origin(admin: httpx.AsyncClient) -> None:
    r = await admin.get(COMMUNITIES, headers={"Origin": "https://app.berdaya.id"})
    assert r.status_code == 200
    assert r.headers["access-control-allow-origin"] == "https://app.berdaya.id"
    assert r.headers["access-control-allow-credentials"] == "true"
    exposed = r.headers["access-control-expose-headers"].lower()
    for name in ("etag", "link", "x-request-id"):
        assert name in exposed


async def test_cors_unlisted_origin_gets_no_allow_origin(
    client: httpx.AsyncClient, admin: httpx.AsyncClient
) -> None:
    preflight = await client.options(
        COMMUNITIES,
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    body = assert_problem(preflight, 400)
    assert body["instance"] == COMMUNITIES
    assert body["request_id"] == preflight.headers["x-request-id"]
    assert "access-control-allow-origin" not in preflight.headers
    simple = await admin.get(COMMUNITIES, headers={"Origin": "https://evil.example"})
    assert simple.status_code == 200
    assert "access-control-allow-origin" not in simple.headers
    for r in (preflight, simple):
        assert r.headers.get("access-control-allow-origin") != "*"


# --- pagination ------------------------------------------------------------------------------


async def test_pagination_pages_link_and_end(admin: httpx.AsyncClient, make_community: Any) -> None:
    created = [(await make_community())["id"] for _ in range(7)]
    pages, responses = await fetch_all_pages(admin, COMMUNITIES, {"limit": 3})
    assert [len(p) for p in pages] == [3, 3, 1]
    assert [i for p in pages for i in p] == created  # default: created_at ascending
    for r in responses[:-1]:
        link = r.headers["link"]
        assert 'rel="next"' in link
        assert "cursor=" in link and "limit=3" in link
        assert r.json()["next_cursor"]
    assert responses[-1].json()["next_cursor"] is None
    assert "link" not in responses[-1].headers
    # The Link target itself is the next page.
    target = responses[0].headers["link"].split(">")[0].lstrip("<")
    follow = await admin.get(target)
    assert ids_of(follow) == pages[1]
    # default limit is 50
    whole = await admin.get(COMMUNITIES)
    assert len(whole.json()["items"]) == 7 and whole.json()["next_cursor"] is None


async def test_pagination_stable_while_rows_are_inserted(
    admin: httpx.AsyncClient, make_community: Any
) -> None:
    originals = [(await make_community(name=f"Desa {c}"))["id"] for c in "CDEFGHI"]
    inserted: list[str] = []
    # Alternately before and after the rows already paged (by name and by time).
    names = (f"Desa {'A' if n % 2 else 'Z'}{n:02d}" for n in itertools.count())

    async def insert_one() -> None:
        inserted.append((await make_community(name=next(names)))["id"])

    pages, _ = await fetch_all_pages(admin, COMMUNITIES, {"limit": 3}, between=insert_one)
    seen = [i for p in pages for i in p]
    assert len(seen) == len(set(seen)), "duplicates across pages"
    assert set(originals) <= set(seen), "rows missing across pages"
    assert set(seen) <= set(originals) | set(inserted)

    inserted.clear()
    pages, _ = await fetch_all_pages(
        admin, COMMUNITIES, {"limit": 3, "sort": "name"}, between=insert_one
    )
    seen = [i for p in pages for i in p]
    assert len(seen) == len(set(seen))
    assert set(originals) <= set(seen)


async def test_pagination_sort_by_name(admin: httpx.AsyncClient, make_community: Any) -> None:
    names = ["Desa Mekar", "Desa Asri", "Desa Jaya", "Desa Baru", "Desa Zamrud"]
    for name in names:
        await make_community(name=name)
    pages, _ = await fetch_all_pages(admin, COMMUNITIES, {"limit": 2, "sort": "name"})
    got = [i for p in pages for i in p]
    r = await admin.get(COMMUNITIES, params={"sort": "name"})
    assert [c["name"] for c in r.json()["items"]] == sorted(names)
    assert got == ids_of(r)
    pages, _ = await fetch_all_pages(admin, COMMUNITIES, {"limit": 2, "sort": "-name"})
    r = await admin.get(COMMUNITIES, params={"sort": "-name"})
    assert [c["name"] for c in r.json()["items"]] == sorted(names, reverse=True)
    assert [i for p in pages for i in p] == ids_of(r)


async def test_pagination_sort_ties_broken_by_id(
    admin: httpx.AsyncClient, make_community: Any
) -> None:
    for _ in range(5):
        await make_community(name="Desa Sama")
    for sort in ("name", "-name"):
        pages, _ = await fetch_all_pages(admin, COMMUNITIES, {"limit": 2, "sort": sort})
        seen = [i for p in pages for i in p]
        assert len(seen) == 5 and len(set(seen)) == 5


@pytest.mark.parametrize(
    "params",
    [
        {"sort": "population"},
        {"sort": "-secret"},
        {"limit": 501},
        {"limit": 0},
        {"limit": -1},
        {"limit": "many"},
        {"cursor": "garbage!!"},
        {"cursor": "eyJub3QiOiAiYSBjdXJzb3IifQ"},  # base64 of a JSON object, wrong keys
        {"updated_since": "yesterday"},
        {"updated_since": "2024-01-01T00:00:00"},  # no timezone
    ],
)
async def test_list_rejects_bad_parameters(
    admin: httpx.AsyncClient, make_community: Any, params: dict[str, Any]
) -> None:
    await make_community()
    r = await admin.get(COMMUNITIES, params=params)
    body = assert_problem(r, 422)
    assert body.get("errors"), body
    assert body["errors"][0]["loc"][0] == "query"


async def test_limit_500_is_accepted(admin: httpx.AsyncClient) -> None:
    r = await admin.get(COMMUNITIES, params={"limit": 500})
    assert r.status_code == 200


async def test_cursor_reused_with_other_filter_or_sort_is_422(
    admin: httpx.AsyncClient, make_community: Any
) -> None:
    for _ in range(3):
        await make_community(kind="desa")
    for _ in range(3):
        await make_community(kind="kelurahan")
    r = await admin.get(COMMUNITIES, params={"kind": "desa", "limit": 2})
    cursor = r.json()["next_cursor"]
    assert cursor
    ok = await admin.get(COMMUNITIES, params={"kind": "desa", "limit": 2, "cursor": cursor})
    assert ok.status_code == 200 and len(ok.json()["items"]) == 1
    for other in (
        {"kind": "kelurahan"},
        {},
        {"kind": "desa", "sort": "-created_at"},
        {"kind": "desa", "sort": "name"},
        {"kind": "desa", "q": "Uji"},
        {"kind": "desa", "updated_since": "2020-01-01T00:00:00Z"},
    ):
        r = await admin.get(COMMUNITIES, params={**other, "limit": 2, "cursor": cursor})
        body = assert_problem(r, 422)
        assert body["errors"][0]["loc"] == ["query", "cursor"]
    # a different page size is not a different filter
    r = await admin.get(COMMUNITIES, params={"kind": "desa", "limit": 5, "cursor": cursor})
    assert r.status_code == 200


async def test_updated_since_filters(admin: httpx.AsyncClient, make_community: Any) -> None:
    early = [(await make_community())["id"] for _ in range(2)]
    await asyncio.sleep(0.01)
    boundary = datetime.now(UTC)
    await asyncio.sleep(0.01)
    late = [(await make_community())["id"] for _ in range(2)]
    r = await admin.get(COMMUNITIES, params={"updated_since": boundary.isoformat()})
    assert r.status_code == 200, r.text
    assert ids_of(r) == late
    # Same instant in another zone offset.
    r = await admin.get(
        COMMUNITIES,
        params={"updated_since": boundary.astimezone().isoformat().replace("+00:00", "Z")},
    )
    assert ids_of(r) == late
    # Updating an early one brings it into the window.
    await admin.patch(f"{COMMUNITIES}/{early[0]}", json={"population": 1})
    r = await admin.get(COMMUNITIES, params={"updated_since": boundary.isoformat()})
    assert set(ids_of(r)) == {*late, early[0]}
    # Paging through an updated_since window.
    pages, _ = await fetch_all_pages(
        admin, COMMUNITIES, {"updated_since": boundary.isoformat(), "limit": 1}
    )
    assert sorted(i for p in pages for i in p) == sorted([*late, early[0]])


# --- ETag / conditional requests -------------------------------------------------------------


async def test_etag_and_if_none_match(admin: httpx.AsyncClient, make_community: Any) -> None:
    c = await make_community()
    r = await admin.get(f"{COMMUNITIES}/{c['id']}")
    assert r.status_code == 200
    etag = r.headers["etag"]
    assert etag.startswith('"') and etag.endswith('"')
    r304 = await admin.get(f"{COMMUNITIES}/{c['id']}", headers={"If-None-Match": etag})
    assert r304.status_code == 304
    assert r304.content == b""
    assert r304.headers["etag"] == etag
    r = await admin.get(f"{COMMUNITIES}/{c['id']}", headers={"If-None-Match": '"999"'})
    assert r.status_code == 200 and r.json()["id"] == c["id"]


async def test_patch_if_match(admin: httpx.AsyncClient, make_community: Any, raw_db: Any) -> None:
    c = await make_community(population=100)
    url = f"{COMMUNITIES}/{c['id']}"
    etag = (await admin.get(url)).headers["etag"]

    stale = await admin.patch(url, json={"population": 5}, headers={"If-Match": '"999"'})
    assert_problem(stale, 412)
    assert stale.headers["etag"] == etag
    row = await raw_db.fetchrow(
        "SELECT population, version FROM communities WHERE id = $1", uuid.UUID(c["id"])
    )
    assert row["population"] == 100
    assert f'"{row["version"]}"' == etag

    ok = await admin.patch(url, json={"population": 5}, headers={"If-Match": etag})
    assert ok.status_code == 200, ok.text
    new_etag = ok.headers["etag"]
    assert new_etag != etag
    assert ok.json()["population"] == 5
    assert (await admin.get(url)).headers["etag"] == new_etag

    # The old tag is now stale.
    again = await admin.patch(url, json={"population": 6}, headers={"If-Match": etag})
    assert_problem(again, 412)
    assert (
        await raw_db.fetchval(
            "SELECT population FROM communities WHERE id = $1", uuid.UUID(c["id"])
        )
        == 5
    )


async def test_patch_merges_only_given_fields(
    admin: httpx.AsyncClient, make_community: Any
) -> None:
    c = await make_community(description="tetap", households=10)
    r = await admin.patch(f"{COMMUNITIES}/{c['id']}", json={"households": None})
    assert r.status_code == 200, r.text
    assert r.json()["households"] is None
    assert r.json()["description"] == "tetap"
    assert r.json()["name"] == c["name"]
    r = await admin.patch(f"{COMMUNITIES}/{c['id']}", json={"name": None})
    assert_problem(r, 422)


async def test_delete_honours_if_match(
    admin: httpx.AsyncClient, make_community: Any, raw_db: Any
) -> None:
    c = await make_community()
    url = f"{COMMUNITIES}/{c['id']}"
    etag = (await admin.get(url)).headers["etag"]
    r = await admin.delete(url, headers={"If-Match": '"41"'})
    assert_problem(r, 412)
    assert (
        await raw_db.fetchval(
            "SELECT deleted_at FROM communities WHERE id = $1", uuid.UUID(c["id"])
        )
        is None
    )
    r = await admin.delete(url, headers={"If-Match": etag})
    assert r.status_code == 204
    assert r.content == b""


# --- Idempotency-Key -------------------------------------------------------------------------


async def test_idempotent_replay(
    admin: httpx.AsyncClient, community_payload: Any, raw_db: Any
) -> None:
    body = community_payload()
    key = {"Idempotency-Key": "create-once-1"}
    first = await admin.post(COMMUNITIES, json=body, headers=key)
    second = await admin.post(COMMUNITIES, json=body, headers=key)
    assert first.status_code == second.status_code == 201
    assert first.content == second.content
    assert first.headers["location"] == second.headers["location"]
    assert first.headers["etag"] == second.headers["etag"]
    assert second.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert second.headers["x-request-id"]
    assert await count_rows(raw_db, "communities") == 1


async def test_idempotency_key_with_other_body_is_422(
    admin: httpx.AsyncClient, community_payload: Any, raw_db: Any
) -> None:
    key = {"Idempotency-Key": "create-once-2"}
    assert (await admin.post(COMMUNITIES, json=community_payload(), headers=key)).status_code == 201
    r = await admin.post(COMMUNITIES, json=community_payload(), headers=key)
    assert_problem(r, 422)
    assert "idempotent-replayed" not in r.headers
    assert await count_rows(raw_db, "communities") == 1


async def test_idempotency_key_is_scoped_per_caller(
    admin: httpx.AsyncClient,
    make_user: Any,
    as_user: Any,
    community_payload: Any,
    raw_db: Any,
) -> None:
    other = as_user(await make_user(Role.coordinator))
    body = community_payload()
    key = {"Idempotency-Key": "shared-key"}
    a = await admin.post(COMMUNITIES, json=body, headers=key)
    b = await other.post(COMMUNITIES, json=body, headers=key)
    assert a.status_code == b.status_code == 201
    assert a.json()["id"] != b.json()["id"]
    assert "idempotent-replayed" not in b.headers
    assert await count_rows(raw_db, "communities") == 2


async def test_idempotent_replay_of_4xx(
    admin: httpx.AsyncClient, community_payload: Any, raw_db: Any
) -> None:
    body = community_payload(kind="planet")
    key = {"Idempotency-Key": "bad-once"}
    first = await admin.post(COMMUNITIES, json=body, headers=key)
    assert_problem(first, 422)
    second = await admin.post(COMMUNITIES, json=body, headers=key)
    assert second.status_code == 422
    assert second.content == first.content
    assert second.headers["content-type"].startswith(PROBLEM)
    assert second.headers["idempotent-replayed"] == "true"
    assert await count_rows(raw_db, "communities") == 0


async def test_idempotency_key_invalid_is_422(
    admin: httpx.AsyncClient, community_payload: Any, raw_db: Any
) -> None:
    r = await admin.post(
        COMMUNITIES, json=community_payload(), headers={"Idempotency-Key": "x" * 256}
    )
    assert_problem(r, 422)
    assert await count_rows(raw_db, "communities") == 0


async def test_idempotency_concurrent_same_key(
    admin: httpx.AsyncClient, community_payload: Any, raw_db: Any
) -> None:
    body = community_payload()
    key = {"Idempotency-Key": "race-key"}
    responses = await asyncio.gather(
        *(admin.post(COMMUNITIES, json=body, headers=key) for _ in range(20))
    )
    statuses = [r.status_code for r in responses]
    assert set(statuses) <= {201, 409}, statuses
    assert 201 in statuses
    created = {r.json()["id"] for r in responses if r.status_code == 201}
    assert len(created) == 1
    for r in responses:
        if r.status_code == 409:
            assert_problem(r, 409)
    assert await count_rows(raw_db, "communities") == 1
    # Afterwards the key replays the one result.
    again = await admin.post(COMMUNITIES, json=body, headers=key)
    assert again.status_code == 201 and again.json()["id"] in created
    assert again.headers["idempotent-replayed"] == "true"


# --- body limit ------------------------------------------------------------------------------


def _big_payload(community_payload: Any) -> bytes:
    import json

    body = community_payload(description="x" * 100)
    body["potentials"] = ["p" * 200] * 6000  # well over 1 MiB
    raw = json.dumps(body).encode()
    assert len(raw) > 1024 * 1024
    return raw


@pytest.mark.parametrize("with_key", [False, True])
async def test_body_over_limit_is_413(
    admin: httpx.AsyncClient, community_payload: Any, raw_db: Any, with_key: bool
) -> None:
    headers = {"Content-Type": "application/json"}
    if with_key:
        headers["Idempotency-Key"] = "big-1"
    r = await admin.post(COMMUNITIES, content=_big_payload(community_payload), headers=headers)
    body = assert_problem(r, 413)
    assert body["request_id"] == r.headers["x-request-id"]
    assert await count_rows(raw_db, "communities") == 0


@pytest.mark.parametrize("with_key", [False, True])
async def test_chunked_body_over_limit_is_413(
    admin: httpx.AsyncClient, community_payload: Any, raw_db: Any, with_key: bool
) -> None:
    raw = _big_payload(community_payload)

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(raw), 64 * 1024):
            yield raw[start : start + 64 * 1024]

    headers = {"Content-Type": "application/json"}
    if with_key:
        headers["Idempotency-Key"] = "big-2"
    r = await admin.post(COMMUNITIES, content=chunks(), headers=headers)
    assert "content-length" not in {k.lower() for k in r.request.headers}
    assert_problem(r, 413)
    assert await count_rows(raw_db, "communities") == 0
    if with_key:  # the key was not consumed: a sane retry with it works
        ok = await admin.post(COMMUNITIES, json=community_payload(), headers=headers)
        assert ok.status_code == 201


async def test_body_just_under_limit_is_accepted(
    admin: httpx.AsyncClient, community_payload: Any
) -> None:
    # 1 MiB of whitespace around a valid body: passes the limit, then normal validation.
    import json

    raw = json.dumps(community_payload()).encode()
    padded = raw + b" " * (1024 * 1024 - len(raw))
    r = await admin.post(COMMUNITIES, content=padded, headers={"Content-Type": "application/json"})
    assert r.status_code == 201, r.text


# --- soft delete -----------------------------------------------------------------------------


async def test_soft_delete_and_restore(
    admin: httpx.AsyncClient,
    coordinator: httpx.AsyncClient,
    make_community: Any,
    raw_db: Any,
) -> None:
    c = await make_community()
    keep = await make_community()
    url = f"{COMMUNITIES}/{c['id']}"
    r = await coordinator.delete(url)
    assert r.status_code == 204
    assert_problem(await admin.get(url), 404)
    assert_problem(await coordinator.get(url), 404)
    assert ids_of(await admin.get(COMMUNITIES)) == [keep["id"]]
    assert_problem(await admin.patch(url, json={"population": 1}), 404)
    assert_problem(await admin.delete(url), 404)
    row = await raw_db.fetchrow(
        "SELECT deleted_at, name FROM communities WHERE id = $1", uuid.UUID(c["id"])
    )
    assert row is not None and row["deleted_at"] is not None
    assert row["name"] == c["name"]

    assert_problem(await coordinator.post(f"{url}/restore"), 403)
    assert (
        await raw_db.fetchval(
            "SELECT deleted_at FROM communities WHERE id = $1", uuid.UUID(c["id"])
        )
        is not None
    )

    r = await admin.post(f"{url}/restore")
    assert r.status_code == 200, r.text
    assert r.json()["id"] == c["id"]
    assert (await admin.get(url)).status_code == 200
    assert set(ids_of(await admin.get(COMMUNITIES))) == {c["id"], keep["id"]}
    assert_problem(await admin.post(f"{COMMUNITIES}/{uuid.uuid4()}/restore"), 404)


# --- audit -----------------------------------------------------------------------------------


async def test_writes_are_audited(
    app: Any, make_user: Any, as_user: Any, community_payload: Any, raw_db: Any
) -> None:
    user = await make_user(Role.admin)
    admin = as_user(user)
    payload = community_payload(description="rahasia-nilai")
    created = await admin.post(COMMUNITIES, json=payload, headers={"X-Request-ID": "aud-create"})
    assert created.status_code == 201
    cid = created.json()["id"]
    url = f"{COMMUNITIES}/{cid}"
    updated = await admin.patch(url, json={"population": 42, "name": payload["name"]})
    assert updated.status_code == 200
    deleted = await admin.delete(url)
    assert deleted.status_code == 204

    rows = await raw_db.fetch(
        "SELECT * FROM audit_events WHERE resource = 'communities' AND resource_id = $1 "
        "ORDER BY at, id",
        uuid.UUID(cid),
    )
    assert [r["action"] for r in rows] == ["create", "update", "delete"]
    for row, response in zip(rows, (created, updated, deleted), strict=True):
        assert row["actor_id"] == user.id
        assert row["request_id"] == response.headers["x-request-id"]
    assert rows[0]["request_id"] == "aud-create"
    create_fields = set(rows[0]["changed_fields"])
    assert {"name", "kind", "region_code", "population", "description"} <= create_fields
    assert rows[1]["changed_fields"] == ["population"]  # name was unchanged
    allowed_names = set(updated.json()) | {"deleted_at", "version"}
    for row in rows:
        assert set(row["changed_fields"]) <= allowed_names  # names only, never values
        assert "rahasia-nilai" not in repr(dict(row))
        assert payload["name"] not in repr(dict(row))

    # A no-op PATCH changes nothing and records nothing.
    await admin.post(f"{url}/restore")
    before = await raw_db.fetchval("SELECT count(*) FROM audit_events")
    same = await admin.patch(url, json={"population": 42})
    assert same.status_code == 200
    assert await raw_db.fetchval("SELECT count(*) FROM audit_events") == before


async def test_audit_events_endpoint_admin_only_and_filters(
    admin: httpx.AsyncClient,
    coordinator: httpx.AsyncClient,
    analyst: httpx.AsyncClient,
    client: httpx.AsyncClient,
    make_community: Any,
) -> None:
    a = await make_community()
    b = await make_community()
    await admin.patch(f"{COMMUNITIES}/{a['id']}", json={"population": 7})

    assert_problem(await coordinator.get(f"{API}/audit-events"), 403)
    assert_problem(await analyst.get(f"{API}/audit-events"), 403)
    assert_problem(await client.get(f"{API}/audit-events"), 401)

    r = await admin.get(f"{API}/audit-events", params={"resource_id": a["id"]})
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert [i["action"] for i in items] == ["update", "create"]  # newest first
    assert {i["resource_id"] for i in items} == {a["id"]}
    assert all(i["resource"] == "communities" for i in items)
    r = await admin.get(f"{API}/audit-events", params={"resource_id": b["id"]})
    assert [i["action"] for i in r.json()["items"]] == ["create"]
    r = await admin.get(f"{API}/audit-events", params={"resource_id": "not-a-uuid"})
    assert_problem(r, 422)


# --- read-only and unknown fields ------------------------------------------------------------


@pytest.mark.parametrize(
    "field,value",
    [
        ("id", "0190f1e2-0000-7000-8000-000000000001"),
        ("created_at", "2020-01-01T00:00:00Z"),
        ("updated_at", "2020-01-01T00:00:00Z"),
        ("version", 99),
        ("deleted_at", "2020-01-01T00:00:00Z"),
        ("no_such_field", "x"),
    ],
)
async def test_read_only_or_unknown_fields_are_422(
    admin: httpx.AsyncClient,
    make_community: Any,
    community_payload: Any,
    raw_db: Any,
    field: str,
    value: Any,
) -> None:
    r = await admin.post(COMMUNITIES, json=community_payload(**{field: value}))
    body = assert_problem(r, 422)
    assert ["body", field] in [issue["loc"] for issue in body["errors"]]
    assert await count_rows(raw_db, "communities") == 0

    c = await make_community(population=10)
    before = await raw_db.fetchrow("SELECT * FROM communities WHERE id = $1", uuid.UUID(c["id"]))
    r = await admin.patch(f"{COMMUNITIES}/{c['id']}", json={"population": 11, field: value})
    body = assert_problem(r, 422)
    assert ["body", field] in [issue["loc"] for issue in body["errors"]]
    after = await raw_db.fetchrow("SELECT * FROM communities WHERE id = $1", uuid.UUID(c["id"]))
    assert dict(after) == dict(before)


# --- roles and scope -------------------------------------------------------------------------


async def test_analyst_may_read_but_not_write(
    analyst: httpx.AsyncClient, make_community: Any, community_payload: Any, raw_db: Any
) -> None:
    c = await make_community(population=10)
    url = f"{COMMUNITIES}/{c['id']}"
    assert (await analyst.get(url)).status_code == 200
    assert ids_of(await analyst.get(COMMUNITIES)) == [c["id"]]
    assert_problem(await analyst.post(COMMUNITIES, json=community_payload()), 403)
    assert_problem(await analyst.patch(url, json={"population": 1}), 403)
    assert_problem(await analyst.delete(url), 403)
    assert await count_rows(raw_db, "communities") == 1
    row = await raw_db.fetchrow(
        "SELECT population, deleted_at FROM communities WHERE id = $1", uuid.UUID(c["id"])
    )
    assert row["population"] == 10 and row["deleted_at"] is None


async def test_facilitator_sees_only_assigned_communities(
    make_user: Any, as_user: Any, make_community: Any, community_payload: Any, raw_db: Any
) -> None:
    mine = await make_community(population=10)
    other = await make_community()
    facilitator = as_user(await make_user(Role.facilitator, communities=[uuid.UUID(mine["id"])]))

    assert (await facilitator.get(f"{COMMUNITIES}/{mine['id']}")).status_code == 200
    assert_problem(await facilitator.get(f"{COMMUNITIES}/{other['id']}"), 404)
    assert ids_of(await facilitator.get(COMMUNITIES)) == [mine["id"]]

    # Visible but not allowed: 403; invisible: 404 (no existence leak).
    assert_problem(
        await facilitator.patch(f"{COMMUNITIES}/{mine['id']}", json={"population": 1}), 403
    )
    assert_problem(
        await facilitator.patch(f"{COMMUNITIES}/{other['id']}", json={"population": 1}), 404
    )
    assert_problem(await facilitator.delete(f"{COMMUNITIES}/{mine['id']}"), 403)
    assert_problem(await facilitator.post(COMMUNITIES, json=community_payload()), 403)
    assert (
        await raw_db.fetchval(
            "SELECT population FROM communities WHERE id = $1", uuid.UUID(mine["id"])
        )
        == 10
    )


async def test_access_log_names_the_full_route_template(admin, make_community, caplog):
    """The access log carries the route template with its /api/v1 prefix, never the
    concrete path (ids in paths would let a log reader correlate requests)."""
    community = await make_community()
    with caplog.at_level(logging.INFO, logger="berdaya.access"):
        await admin.get("/api/v1/communities")
        await admin.get(f"/api/v1/communities/{community['id']}")
    routes = [record.route for record in caplog.records if hasattr(record, "route")]
    assert "/api/v1/communities" in routes
    assert "/api/v1/communities/{community_id}" in routes
    assert all(community["id"] not in str(route) for route in routes)
