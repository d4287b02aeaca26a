"""The caller of a GET is cached per worker, yet every change to it takes effect at once.

A GET served from the cache reads the caller's state in the same statement as its rows
(``app.auth.deps.CallerCache``). These tests change users the way another worker or
another server would: straight in the database, behind the app's back. The very next
request must see the change: 401 for a disabled, deleted or logged-out user, the new
scope for a changed role or assignment, on every kind of GET (a row found, a row not
found, a list page, a route that reads nothing, a route the role may not use).
"""

from __future__ import annotations

import logging
import signal
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any

import asyncpg
import httpx
import pytest

from app.auth.models import Role
from tests.factories import API
from tests.helpers import PROBLEM, captured

Change = Callable[[asyncpg.Pool, uuid.UUID], Awaitable[None]]


async def _disable(db: asyncpg.Pool, user_id: uuid.UUID) -> None:
    await db.execute("UPDATE users SET is_active = false WHERE id = $1", user_id)


async def _delete(db: asyncpg.Pool, user_id: uuid.UUID) -> None:
    await db.execute("UPDATE users SET deleted_at = now() WHERE id = $1", user_id)


async def _log_out_elsewhere(db: asyncpg.Pool, user_id: uuid.UUID) -> None:
    await db.execute("UPDATE users SET tokens_valid_after = now() WHERE id = $1", user_id)


ENDING_CHANGES = {"disabled": _disable, "deleted": _delete, "logged out": _log_out_elsewhere}


@pytest.fixture
async def coordinator_user(make_user: Any) -> Any:
    return await make_user(Role.coordinator)


async def _warm(caller: httpx.AsyncClient, path: str) -> httpx.Response:
    """Two GETs: the first loads the caller, the second is served from the cache."""
    for _ in range(2):
        response = await caller.get(path)
    return response


def _gets(community_id: str) -> dict[str, tuple[str, int]]:
    """Every kind of GET, with what it answers an active coordinator."""
    return {
        "row found": (f"{API}/communities/{community_id}", 200),
        "row not found": (f"{API}/communities/{uuid.uuid4()}", 404),
        "list page": (f"{API}/communities?limit=5", 200),
        "no read": (f"{API}/auth/me", 200),
        "forbidden": (f"{API}/users", 403),
    }


@pytest.mark.parametrize("change", sorted(ENDING_CHANGES))
@pytest.mark.parametrize("kind", sorted(_gets("x")))
async def test_an_ended_user_is_refused_on_the_very_next_get(
    as_user, change, kind, coordinator_user, make_community, raw_db
):
    community = await make_community()
    path, status = _gets(community["id"])[kind]
    caller = as_user(coordinator_user)
    assert (await _warm(caller, path)).status_code == status
    await ENDING_CHANGES[change](raw_db, coordinator_user.id)
    response = await caller.get(path)
    assert response.status_code == 401, (kind, change, response.text)
    assert response.headers["content-type"].startswith(PROBLEM)


async def test_a_narrower_role_narrows_the_very_next_get(
    as_user, coordinator_user, make_community, raw_db
):
    community = await make_community()
    caller = as_user(coordinator_user)
    path = f"{API}/communities/{community['id']}"
    assert (await _warm(caller, path)).status_code == 200
    await raw_db.execute("UPDATE users SET role = 'facilitator' WHERE id = $1", coordinator_user.id)
    assert (await caller.get(path)).status_code == 404  # not assigned to it
    listed = await caller.get(f"{API}/communities")
    assert listed.status_code == 200 and listed.json()["items"] == []
    me = await caller.get(f"{API}/auth/me")
    assert me.json()["role"] == "facilitator"


async def test_a_wider_role_widens_the_very_next_get(as_user, make_user, raw_db):
    user = await make_user(Role.facilitator)
    caller = as_user(user)
    assert (await _warm(caller, f"{API}/users")).status_code == 403
    await raw_db.execute("UPDATE users SET role = 'admin' WHERE id = $1", user.id)
    response = await caller.get(f"{API}/users")
    assert response.status_code == 200, response.text


async def test_assignments_take_effect_at_once(as_user, make_user, make_community, raw_db):
    first, second = await make_community(), await make_community()
    user = await make_user(Role.facilitator, communities=[uuid.UUID(first["id"])])
    caller = as_user(user)
    assert (await _warm(caller, f"{API}/communities/{first['id']}")).status_code == 200
    assert (await caller.get(f"{API}/communities/{second['id']}")).status_code == 404
    await raw_db.execute(
        "INSERT INTO community_facilitators (community_id, user_id) VALUES ($1, $2)",
        uuid.UUID(second["id"]),
        user.id,
    )
    assert (await caller.get(f"{API}/communities/{second['id']}")).status_code == 200
    await raw_db.execute(
        "DELETE FROM community_facilitators WHERE community_id = $1 AND user_id = $2",
        uuid.UUID(first["id"]),
        user.id,
    )
    assert (await caller.get(f"{API}/communities/{first['id']}")).status_code == 404
    me = (await caller.get(f"{API}/auth/me")).json()
    assert me["community_ids"] == [second["id"]]


async def test_a_changed_name_shows_at_once(as_user, coordinator_user, raw_db):
    caller = as_user(coordinator_user)
    await _warm(caller, f"{API}/auth/me")
    await raw_db.execute(
        "UPDATE users SET full_name = 'Nama | Baru' WHERE id = $1", coordinator_user.id
    )
    assert (await caller.get(f"{API}/auth/me")).json()["full_name"] == "Nama | Baru"


async def test_a_token_older_than_a_logout_is_refused_though_a_newer_one_is_cached(
    as_user, coordinator_user, raw_db
):
    old = as_user(coordinator_user)
    assert (await old.get(f"{API}/auth/me")).status_code == 200
    await _log_out_elsewhere(raw_db, coordinator_user.id)
    new = as_user(coordinator_user)  # issued after the logout
    assert (await _warm(new, f"{API}/auth/me")).status_code == 200
    assert (await old.get(f"{API}/auth/me")).status_code == 401
    assert (await new.get(f"{API}/auth/me")).status_code == 200


async def test_a_cached_get_by_id_and_first_page_each_send_one_statement(
    as_user, app, coordinator_user, make_community
):
    """The caller's state and, for people, their participation summary ride along."""
    community = await make_community()
    caller = as_user(coordinator_user)
    person = await caller.post(
        f"{API}/people",
        json={"community_id": community["id"], "full_name": "Siti Aminah", "sex": "female"},
    )
    assert person.status_code == 201, person.text
    for path in (
        f"{API}/communities/{community['id']}",
        f"{API}/communities?limit=5",
        f"{API}/people/{person.json()['id']}",
        f"{API}/people?limit=5",
    ):
        await _warm(caller, path)
        with captured(app) as statements:
            response = await caller.get(path)
        assert response.status_code == 200
        assert len(statements) == 1, [sql[:80] for sql, _ in statements]
        assert "caller" in statements[0][0]  # the caller's state rode along
        assert "_rider" not in response.text  # and stays out of the answer
        assert "participation_rank" not in response.text


async def test_writes_always_read_the_caller_first(
    as_user, coordinator_user, community_payload, raw_db
):
    caller = as_user(coordinator_user)
    await _warm(caller, f"{API}/communities")
    await _disable(raw_db, coordinator_user.id)
    response = await caller.post(f"{API}/communities", json=community_payload())
    assert response.status_code == 401
    count = await raw_db.fetchval("SELECT count(*) FROM communities")
    assert count == 0


async def test_a_get_answered_again_is_logged_once_with_its_route(
    as_user, coordinator_user, make_community, raw_db, caplog
):
    community = await make_community()
    caller = as_user(coordinator_user)
    path = f"{API}/communities/{community['id']}"
    await _warm(caller, path)
    await raw_db.execute("UPDATE users SET full_name = 'Lain' WHERE id = $1", coordinator_user.id)
    with caplog.at_level(logging.INFO, logger="berdaya.access"):
        response = await caller.get(path, headers={"X-Request-ID": "again-1"})
    assert response.status_code == 200
    assert response.json()["id"] == community["id"]
    assert response.headers["x-request-id"] == "again-1"
    lines = [r for r in caplog.records if getattr(r, "request_id", None) == "again-1"]
    assert len(lines) == 1
    assert lines[0].route == "/api/v1/communities/{community_id}"
    assert lines[0].principal_id == str(coordinator_user.id)


async def test_an_export_by_a_disabled_admin_leaves_no_audit_entry_and_no_connection(
    as_user, app, make_user, raw_db
):
    """Exports commit an audit entry and hold a connection for streaming before answering:
    the cached caller is confirmed before either."""
    user = await make_user(Role.admin)
    caller = as_user(user)
    url = f"{API}/exports/people"
    identified = {"identified": "true", "purpose": "checking the register"}
    assert (await _warm(caller, url)).status_code == 200
    audit = "SELECT count(*) FROM audit_events WHERE actor_id = $1"
    entries = await raw_db.fetchval(audit, user.id)
    pool = app.state.database.engine.pool
    checked_out = pool.checkedout()
    await _disable(raw_db, user.id)
    response = await caller.get(url, params=identified)
    assert response.status_code == 401, response.text
    assert await raw_db.fetchval(audit, user.id) == entries
    assert pool.checkedout() == checked_out


@contextmanager
def _alarm(seconds: int) -> Iterator[None]:
    """Fail instead of hanging: a spinning event loop never lets asyncio time out."""

    def _expired(signum: int, frame: Any) -> None:
        raise TimeoutError(f"no answer within {seconds} s")

    previous = signal.signal(signal.SIGALRM, _expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


async def test_an_export_answered_again_streams_whole_and_is_audited_once(
    as_user, make_user, make_community, raw_db
):
    """A harmless change (a new name) makes a cached export start again: the second
    attempt streams every row (its answer waits on the real channel for the client's
    disconnect) and leaves one audit entry."""
    await make_community()
    user = await make_user(Role.admin)
    caller = as_user(user)
    url = f"{API}/exports/communities"
    assert (await _warm(caller, url)).status_code == 200
    audit = "SELECT count(*) FROM audit_events WHERE actor_id = $1 AND action = 'export'"
    entries = await raw_db.fetchval(audit, user.id)
    await raw_db.execute("UPDATE users SET full_name = 'Nama Baru' WHERE id = $1", user.id)
    with _alarm(20):
        response = await caller.get(url)
    assert response.status_code == 200, response.text
    assert len(response.text.strip().splitlines()) == 1
    assert await raw_db.fetchval(audit, user.id) == entries + 1
