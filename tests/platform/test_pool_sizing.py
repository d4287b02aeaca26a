"""The connection pool (issue 21): no overflow by default (overflow connections churn under
steady load: opened and closed continuously), and each worker's pool sized from the
instance's connection budget when one is given (``berdaya serve`` tells the workers how
many they are through ``BERDAYA_WORKERS``)."""

from __future__ import annotations

from typing import Any

import pytest

from app.core.config import Settings
from app.core.db import create_engine


def settings_of(**values: Any) -> Settings:
    return Settings(_env_file=None, database_url="postgresql://u@127.0.0.1/db", **values)


def test_no_overflow_by_default() -> None:
    settings = settings_of()
    assert settings.db_max_overflow == 0
    assert settings.worker_pool_size == settings.db_pool_size


@pytest.mark.parametrize(
    ("budget", "workers", "size"), [(40, 1, 40), (40, 4, 10), (40, 3, 13), (3, 4, 2)]
)
def test_budget_shared_by_workers(budget: int, workers: int, size: int) -> None:
    assert settings_of(db_max_connections=budget, workers=workers).worker_pool_size == size


def test_workers_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BERDAYA_WORKERS", "4")
    monkeypatch.setenv("BERDAYA_DB_MAX_CONNECTIONS", "40")
    assert settings_of().worker_pool_size == 10


async def test_engine_pool_has_that_size_and_no_overflow() -> None:
    engine = create_engine(settings_of(db_max_connections=12, workers=2))
    try:
        pool: Any = engine.sync_engine.pool
        assert pool.size() == 6
        assert pool._max_overflow == 0
    finally:
        await engine.dispose()
