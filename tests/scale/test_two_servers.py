"""Two ``berdaya serve`` processes on one database, the test's own round-robin in front
(API.md §9: workers are stateless). What one server learns, the other knows at once: a
user disabled through one is refused by the other, an Idempotency-Key replays across
both, the partner rate limit and the login throttle count every server's requests, and
the webhook dispatchers running in both deliver each event once.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from app.auth.models import Role
from app.core.config import Settings
from tests.factories import (
    API,
    COMMUNITIES,
    ME,
    PASSWORD,
    PROGRAMS,
    YEAR_2025,
    MakeUser,
    login,
    make_partner_org,
    make_program,
    move_ok,
    post,
    service_account,
    service_token,
    token_for,
)
from tests.platform.serving import child_env, free_port, serve, stop, wait_until_up
from tests.webhooks.conftest import register
from tests.webhooks.receiver import Receiver

COMMUNITY = {"name": "Desa Dua Pengirim", "kind": "desa", "region_code": "32.04.12.2001"}

RATE_LIMIT = 4  # partner requests per minute, on both servers


@pytest.fixture(scope="module")
def servers(
    settings: Settings, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[list[str]]:
    """Two servers sharing the test database and the test app's keys (its data folder),
    started one after the other (each migrates and may bootstrap the first admin)."""
    logs = tmp_path_factory.mktemp("two-servers")
    env = child_env(
        settings.data_dir,
        database_url,
        BERDAYA_ENV="test",
        BERDAYA_PARTNER_RATE_LIMIT_PER_MINUTE=str(RATE_LIMIT),
        # each server runs the webhook dispatcher in-process: two side by side
        BERDAYA_DISPATCHER="inprocess",
        BERDAYA_WEBHOOK_ALLOW_INSECURE="true",  # the receiver is on 127.0.0.1, plain http
        BERDAYA_WEBHOOK_POLL_SECONDS="0.5",
        BERDAYA_DB_POOL_SIZE="4",
        BERDAYA_DB_MAX_OVERFLOW="0",
    )
    started: list[tuple[Any, int]] = []
    try:
        for n in range(2):
            port = free_port()
            log = logs / f"server-{n}.log"
            proc = serve(env, port, log, Path(__file__).resolve().parents[2])
            started.append((proc, port))
            wait_until_up(port, proc, log, timeout=60)
        yield [f"http://127.0.0.1:{port}" for _, port in started]
    finally:
        for proc, _ in started:
            stop(proc)


class RoundRobin:
    """Each request to the next server in turn, like a load balancer."""

    def __init__(self, bases: list[str], token: str | None = None) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.clients = [httpx.AsyncClient(base_url=b, headers=headers, timeout=30) for b in bases]
        self._turn = itertools.cycle(range(len(bases)))

    def next(self) -> httpx.AsyncClient:
        return self.clients[next(self._turn)]

    async def aclose(self) -> None:
        for client in self.clients:
            await client.aclose()


@pytest.fixture
async def round_robin(servers: list[str]) -> AsyncIterator[Any]:
    made: list[RoundRobin] = []

    def make(token: str | None = None) -> RoundRobin:
        made.append(RoundRobin(servers, token))
        return made[-1]

    yield make
    for rr in made:
        await rr.aclose()


async def test_a_user_disabled_through_one_server_is_refused_by_the_other(
    app: Any, make_user: MakeUser, round_robin: Any
) -> None:
    admin = round_robin(token_for(app, (await make_user(Role.admin)).id))
    user = await make_user(Role.coordinator)
    caller = round_robin(token_for(app, user.id))
    one, two = caller.clients
    for _ in range(3):  # both servers have read (and cached) the caller
        assert (await one.get(COMMUNITIES)).status_code == 200
        assert (await two.get(ME)).status_code == 200
    r = await admin.clients[0].patch(f"{API}/users/{user.id}", json={"is_active": False})
    assert r.status_code == 200, r.text
    assert (await two.get(COMMUNITIES)).status_code == 401  # at once, on the other server
    assert (await two.get(ME)).status_code == 401
    assert (await one.get(COMMUNITIES)).status_code == 401


async def test_an_idempotency_key_replays_across_servers(
    app: Any, make_user: MakeUser, round_robin: Any, raw_db: asyncpg.Pool
) -> None:
    admin = round_robin(token_for(app, (await make_user(Role.admin)).id))
    body = {"name": "Desa Dua Server", "kind": "desa", "region_code": "32.04.12.2001"}
    key = {"Idempotency-Key": "dua-server-1"}
    first = await admin.clients[0].post(COMMUNITIES, json=body, headers=key)
    again = await admin.clients[1].post(COMMUNITIES, json=body, headers=key)
    assert first.status_code == again.status_code == 201
    assert first.json()["id"] == again.json()["id"]
    other = await admin.clients[1].post(COMMUNITIES, json={**body, "name": "Lain"}, headers=key)
    assert other.status_code == 422 or other.status_code == 409  # same key, other body

    # the same new key on both servers at the same moment: one row
    raced = await asyncio.gather(
        *(
            c.post(
                COMMUNITIES,
                json={**body, "name": "Desa Balapan"},
                headers={"Idempotency-Key": "balap"},
            )
            for c in admin.clients * 3
        )
    )
    assert {r.status_code for r in raced} <= {201, 409}, [r.text for r in raced]
    assert (
        await raw_db.fetchval("SELECT count(*) FROM communities WHERE name = 'Desa Balapan'") == 1
    )
    assert await raw_db.fetchval("SELECT count(*) FROM communities") == 2


async def test_the_partner_rate_limit_counts_both_servers(
    app: Any, make_user: MakeUser, round_robin: Any
) -> None:
    admin = round_robin(token_for(app, (await make_user(Role.admin)).id))
    account = await service_account(admin.clients[0], await make_partner_org(app))
    token = await service_token(admin.clients[1], account["client_id"], account["client_secret"])
    machine = round_robin(token)
    left = 60 - time.time() % 60
    if left < 8:  # the one-minute window must not roll over mid-test
        await asyncio.sleep(left + 0.5)
    statuses = [(await machine.next().get(ME)).status_code for _ in range(RATE_LIMIT + 2)]
    assert statuses == [200] * RATE_LIMIT + [429, 429], statuses


async def test_login_throttling_counts_both_servers(make_user: MakeUser, round_robin: Any) -> None:
    user = await make_user(Role.analyst)
    anyone = round_robin()
    limit = Settings(_env_file=None).login_max_failures_per_account_address
    for _ in range(limit):
        r = await login(anyone.next(), user.email, "salah-sandi-123")
        assert r.status_code in (400, 401), r.text
    for client in anyone.clients:  # the right password now: refused by either server
        r = await login(client, user.email, PASSWORD)
        assert r.status_code == 429, r.text
        assert "retry-after" in r.headers


async def test_the_dispatchers_of_both_servers_deliver_each_event_once(
    app: Any, make_user: MakeUser, round_robin: Any
) -> None:
    admin = round_robin(token_for(app, (await make_user(Role.admin)).id))
    receiver = Receiver().start()
    try:
        endpoint = await register(admin.next(), receiver.url)
        receiver.secrets = [endpoint["secret"]]
        community = (await post(admin.next(), COMMUNITIES, COMMUNITY))["id"]
        for _ in range(3):
            program = await make_program(admin.next(), [community], **YEAR_2025)
            await move_ok(admin.next(), PROGRAMS, program["id"], "submitted")
        expected: set[str] = set()
        for _ in range(300):  # the feed shows events once no older transaction runs
            feed = await admin.next().get("/api/v1/events", params={"limit": 100})
            assert feed.status_code == 200, feed.text
            expected = {item["id"] for item in feed.json()["items"]}
            if len(expected) == 6 and set(receiver.ids()) >= expected:
                break
            await asyncio.sleep(0.2)
        assert len(expected) == 6  # created and status_changed, three times
        await asyncio.sleep(2)  # time for a second delivery, if there were to be one
        assert sorted(receiver.ids()) == sorted(expected)  # each once, none twice
        assert receiver.verified() == receiver.received
    finally:
        receiver.stop()
