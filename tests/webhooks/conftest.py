"""Fixtures of the webhook tests: a loopback receiver, insecure targets allowed (the
receiver is on 127.0.0.1 over plain http), dispatchers run in the test."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import asyncpg
import httpx
import pytest

from app.webhooks.dispatcher import Dispatcher
from tests.webhooks.receiver import Receiver

ENDPOINTS = "/api/v1/webhook-endpoints"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver().start()
    yield r
    r.stop()


@pytest.fixture
def insecure(app: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """BERDAYA_WEBHOOK_ALLOW_INSECURE=true for this test (the loopback receiver)."""
    monkeypatch.setattr(app.state.settings, "webhook_allow_insecure", True)


MakeDispatcher = Callable[..., Dispatcher]


@pytest.fixture
def make_dispatcher(app: Any) -> MakeDispatcher:
    def _make(**overrides: Any) -> Dispatcher:
        options: dict[str, Any] = {
            "listen_url": None,
            "allow_insecure": True,
            "lease_seconds": 30.0,
            "poll_seconds": 0.2,
        }
        options.update(overrides)
        return Dispatcher(app.state.database, app.state.personal_data.cipher, **options)

    return _make


async def settle(raw_db: asyncpg.Pool) -> None:
    """Wait until every transaction begun so far has ended (the outbox's horizon is the
    oldest transaction running on the whole server, which other test databases share)."""
    target = await raw_db.fetchval("SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint")
    for _ in range(600):
        horizon = await raw_db.fetchval(
            "SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint"
        )
        if horizon >= target:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("a transaction stayed open for 30 s")


async def register(
    client: httpx.AsyncClient, url: str, types: list[str] | None = None, **extra: Any
) -> dict[str, Any]:
    r = await client.post(ENDPOINTS, json={"url": url, "event_types": types or ["*"], **extra})
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body
