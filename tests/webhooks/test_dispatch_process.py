"""`berdaya dispatch` as its own process: killed mid-delivery, another dispatcher finishes
the delivery once the lease has run out (same webhook-id)."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import threading
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from tests.factories import MakeCommunity, make_program
from tests.platform.serving import BERDAYA, ROOT, child_env
from tests.webhooks.conftest import MakeDispatcher, register, settle
from tests.webhooks.receiver import Receiver


def spawn_dispatch(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [str(BERDAYA), "dispatch"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=ROOT,
        )


async def wait_for(condition: Any, seconds: float = 30) -> None:
    for _ in range(int(seconds / 0.05)):
        if condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not met in time")


async def test_killed_dispatcher_another_finishes(
    admin: httpx.AsyncClient,
    make_community: MakeCommunity,
    receiver: Receiver,
    make_dispatcher: MakeDispatcher,
    raw_db: asyncpg.Pool,
    settings: Any,
    tmp_path: Path,
    insecure: None,
) -> None:
    endpoint = await register(admin, receiver.url)
    receiver.secrets = [endpoint["secret"]]
    hold = receiver.hold = threading.Event()  # the first request hangs
    community = (await make_community())["id"]
    program = await make_program(admin, [community], title="Program tahan banting")
    await settle(raw_db)

    env = child_env(
        settings.data_dir,
        settings.database_url,
        BERDAYA_WEBHOOK_ALLOW_INSECURE="true",
        BERDAYA_WEBHOOK_LEASE_SECONDS="2",
        BERDAYA_WEBHOOK_POLL_SECONDS="0.2",
    )
    log = tmp_path / "dispatch.log"
    proc = spawn_dispatch(env, log)
    try:
        await wait_for(receiver.arrived.is_set)  # the process is mid-delivery
        row = await raw_db.fetchrow("SELECT status, lease_owner FROM webhook_deliveries")
        assert row["status"] == "delivering" and row["lease_owner"]
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    receiver.hold = None
    hold.set()  # the hung request ends (its dispatcher is gone)

    # Before the lease runs out nobody takes it; after, another dispatcher does.
    other = make_dispatcher()
    await other.drain()
    assert len(receiver.received) == 1, log.read_text()
    for _ in range(100):
        if await raw_db.fetchval("SELECT lease_until < now() FROM webhook_deliveries"):
            break
        await asyncio.sleep(0.1)
    await other.drain()
    assert len(receiver.received) == 2
    first, second = receiver.received
    assert first.webhook_id == second.webhook_id == second.payload["id"]
    assert second.payload["data"]["id"] == program["id"]
    assert second.verified_with == [0]
    row = await raw_db.fetchrow("SELECT status, attempts FROM webhook_deliveries")
    assert (row["status"], row["attempts"]) == ("delivered", 2)


async def test_dispatch_stops_cleanly_on_sigterm(settings: Any, tmp_path: Path) -> None:
    env = child_env(settings.data_dir, settings.database_url)
    log = tmp_path / "dispatch.log"
    proc = spawn_dispatch(env, log)
    try:
        for _ in range(200):
            if b"dispatcher running" in log.read_bytes():
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) in (0, 128 + signal.SIGTERM), log.read_text()
        assert "Traceback" not in log.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)


async def test_serve_runs_a_dispatcher_unless_external(
    app: Any,
    make_user: Any,
    make_community: MakeCommunity,
    receiver: Receiver,
    settings: Any,
    tmp_path: Path,
    raw_db: asyncpg.Pool,
) -> None:
    """`berdaya serve` delivers with nothing else started (its in-process dispatcher)."""
    from app.auth.models import Role
    from tests.factories import token_for
    from tests.platform.serving import free_port, serve, stop, wait_until_up

    admin = await make_user(Role.admin)
    token = token_for(app, admin.id)  # the same data folder: the same signing key
    port = free_port()
    env = child_env(
        settings.data_dir,
        settings.database_url,
        BERDAYA_WEBHOOK_ALLOW_INSECURE="true",
        BERDAYA_WEBHOOK_POLL_SECONDS="60",
    )
    log = tmp_path / "serve.log"
    proc = serve(env, port, log, tmp_path)
    try:
        await asyncio.to_thread(wait_until_up, port, proc, log, 90)
        base = f"http://127.0.0.1:{port}/api/v1"
        async with httpx.AsyncClient(
            base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30
        ) as live:
            r = await live.post(
                "/webhook-endpoints", json={"url": receiver.url, "event_types": ["*"]}
            )
            assert r.status_code == 201, r.text
            receiver.secrets = [r.json()["secret"]]
            community = (await make_community())["id"]
            r = await live.post(
                "/programs", json={"title": "Disiarkan oleh serve", "community_ids": [community]}
            )
            assert r.status_code == 201, r.text
        await wait_for(lambda: len(receiver.received) >= 1, 60)
        assert receiver.received[0].payload["type"] == "program.created"
        assert receiver.verified() == receiver.received
    finally:
        await asyncio.to_thread(stop, proc)
