"""Fixtures of the scale tests: a real primary with its streaming replica (tests/scale/
cluster.py), an app reading exports and reports on that replica, an admin on it."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.auth.models import Role, User
from app.core.config import Settings
from app.main import create_app
from tests.factories import password_hash, token_for
from tests.scale.cluster import Cluster, start_cluster

DATABASE = "berdaya"
MAX_LAG = 1.0  # seconds: small, so a paused replica is "too far behind" quickly


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    """A primary (migrated ``berdaya`` database) and its streaming replica, caught up."""
    from app.cli import migrate
    from app.core.db import ensure_database

    started = start_cluster()
    try:
        ensure_database(started.primary.url(), DATABASE)
        migrate(Settings(_env_file=None, database_url=started.primary.url(DATABASE)))
        asyncio.run(started.wait_replayed())
        yield started
    finally:
        started.close()


def scale_settings(data_dir: Path, database_url: str, **overrides: Any) -> Settings:
    return Settings(
        _env_file=None,
        env="test",
        database_url=database_url,
        data_dir=data_dir,
        db_pool_size=5,
        db_max_overflow=0,
        **overrides,
    )


@pytest.fixture(scope="module")
async def replica_app(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Any:
    settings = scale_settings(
        tmp_path_factory.mktemp("scale-data"),
        cluster.primary.url(DATABASE),
        database_replica_url=cluster.replica.url(DATABASE),
        replica_max_lag_seconds=MAX_LAG,
    )
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


async def make_admin(app: Any) -> User:
    user = User(
        email=f"admin-{secrets.token_hex(4)}@berdaya.id",
        full_name="Admin Skala",
        role=Role.admin.value,
        password_hash=password_hash(),
    )
    async with app.state.database.sessions() as session:
        session.add(user)
        await session.commit()
    return user


@pytest.fixture
async def admin_on(replica_app: Any) -> AsyncIterator[httpx.AsyncClient]:
    """An admin's client of ``replica_app``."""
    user = await make_admin(replica_app)
    transport = httpx.ASGITransport(app=replica_app, client=("10.9.8.7", 1234))
    headers = {"Authorization": f"Bearer {token_for(replica_app, user.id)}"}
    async with httpx.AsyncClient(
        transport=transport, base_url="http://test", headers=headers
    ) as client:
        yield client
