"""Webhook endpoints and deliveries end to end: a real receiver on loopback verifies every
delivery with ``standardwebhooks.Webhook.verify``."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from app.auth.models import Role
from app.webhooks import repository as webhooks_repository
from app.webhooks.dispatcher import RETRY_DELAYS_SECONDS, retry_delay
from tests.factories import (
    PARTNERSHIPS,
    PROGRAMS,
    YEAR_2025,
    AsUser,
    MakeCommunity,
    MakeUser,
    build_side,
    contribute,
    make_partner,
    make_program,
    move_ok,
)
from tests.helpers import assert_422_at, assert_problem
from tests.webhooks.conftest import ENDPOINTS, MakeDispatcher, register, settle
from tests.webhooks.receiver import Receiver

pytestmark = pytest.mark.usefixtures("insecure")


async def deliveries(client: httpx.AsyncClient, endpoint_id: str, **params: Any) -> list[Any]:
    r = await client.get(f"{ENDPOINTS}/{endpoint_id}/deliveries", params={"limit": 500, **params})
    assert r.status_code == 200, r.text
    items: list[Any] = r.json()["items"]
    return items


async def drain(dispatcher: Any, raw_db: asyncpg.Pool) -> None:
    await settle(raw_db)
    await dispatcher.drain()


# --- endpoints -------------------------------------------------------------------------------


async def test_secret_shown_once_and_stored_encrypted(
    admin: httpx.AsyncClient, receiver: Receiver, raw_db: asyncpg.Pool
) -> None:
    created = await register(admin, receiver.url, description="Sistem Bappeda")
    secret = created["secret"]
    assert secret.startswith("whsec_")
    got = await admin.get(f"{ENDPOINTS}/{created['id']}")
    assert got.status_code == 200 and "secret" not in got.json()
    assert got.headers["etag"]
    listed = await admin.get(ENDPOINTS)
    assert "whsec_" not in listed.text
    # Never kept for an Idempotency-Key replay (the secret is not stored in clear).
    keyed = await admin.post(
        ENDPOINTS,
        json={"url": receiver.url, "event_types": ["*"]},
        headers={"Idempotency-Key": "kunci-endpoint-1"},
    )
    assert keyed.status_code == 201 and keyed.headers["cache-control"] == "no-store"
    replayed = await admin.post(
        ENDPOINTS,
        json={"url": receiver.url, "event_types": ["*"]},
        headers={"Idempotency-Key": "kunci-endpoint-1"},
    )
    assert replayed.status_code == 409 and "whsec_" not in replayed.text
    idempotency = await raw_db.fetch("SELECT * FROM idempotency_keys")
    assert all(keyed.json()["secret"] not in str(dict(row)) for row in idempotency)
    stored = await raw_db.fetchrow(
        "SELECT * FROM webhook_endpoints WHERE id = $1", uuid.UUID(created["id"])
    )
    dump = " ".join(str(v) for v in stored.values())
    assert secret not in dump and secret.removeprefix("whsec_") not in dump
    assert stored["secret_encrypted"].startswith("v1.")
    audit = await raw_db.fetch("SELECT * FROM audit_events WHERE resource = 'webhook_endpoints'")
    assert audit and all(secret not in str(dict(a)) for a in audit)


async def test_who_may_manage_which_endpoint(
    admin: httpx.AsyncClient,
    coordinator: httpx.AsyncClient,
    analyst: httpx.AsyncClient,
    make_user: MakeUser,
    as_user: AsUser,
    receiver: Receiver,
) -> None:
    org_a = (await make_partner(admin, name="PT Sinar Desa"))["id"]
    org_b = (await make_partner(admin, name="Yayasan Air Bersih"))["id"]
    partner_a = as_user(await make_user(Role.partner, organization_id=uuid.UUID(org_a)))
    partner_b = as_user(await make_user(Role.partner, organization_id=uuid.UUID(org_b)))

    own = await register(partner_a, receiver.url)
    assert own["organization_id"] == org_a
    r = await partner_a.post(
        ENDPOINTS, json={"url": receiver.url, "event_types": ["*"], "organization_id": org_b}
    )
    assert_422_at(r, "body", "organization_id")
    for_b = await register(admin, receiver.url, organization_id=org_b)
    internal = await register(admin, receiver.url)
    assert internal["organization_id"] is None

    assert_problem(await partner_a.get(f"{ENDPOINTS}/{for_b['id']}"), 404)
    assert_problem(await partner_a.patch(f"{ENDPOINTS}/{for_b['id']}", json={}), 404)
    assert_problem(await partner_b.post(f"{ENDPOINTS}/{own['id']}/rotate-secret"), 404)
    assert {e["id"] for e in (await partner_a.get(ENDPOINTS)).json()["items"]} == {own["id"]}
    assert len((await admin.get(ENDPOINTS)).json()["items"]) == 3
    for other in (coordinator, analyst):
        assert_problem(await other.get(ENDPOINTS), 403)
        assert_problem(
            await other.post(ENDPOINTS, json={"url": receiver.url, "event_types": ["*"]}), 403
        )

    r = await admin.post(
        ENDPOINTS,
        json={"url": receiver.url, "event_types": ["*"], "organization_id": str(uuid.uuid4())},
    )
    assert_422_at(r, "body", "organization_id")
    assert_422_at(
        await admin.post(ENDPOINTS, json={"url": receiver.url, "event_types": ["person.created"]}),
        "body",
        "event_types",
        0,
    )
    assert_422_at(
        await admin.post(
            ENDPOINTS, json={"url": receiver.url, "event_types": ["*", "program.created"]}
        ),
        "body",
        "event_types",
    )
    assert_422_at(await admin.post(ENDPOINTS, json={"url": receiver.url}), "body", "event_types")

    # PATCH honours If-Match; DELETE hides it.
    stale = await admin.patch(
        f"{ENDPOINTS}/{internal['id']}", json={"description": "x"}, headers={"If-Match": '"999"'}
    )
    assert_problem(stale, 412)
    r = await admin.patch(
        f"{ENDPOINTS}/{internal['id']}", json={"event_types": ["program.created"]}
    )
    assert r.status_code == 200 and r.json()["event_types"] == ["program.created"]
    assert (await admin.delete(f"{ENDPOINTS}/{internal['id']}")).status_code == 204
    assert_problem(await admin.get(f"{ENDPOINTS}/{internal['id']}"), 404)


async def test_targets_refused_without_insecure(
    app: Any, admin: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(app.state.settings, "webhook_allow_insecure", False)
    for url in (
        "http://mitra.example.id/hooks",  # plain http
        "https://127.0.0.1/hooks",
        "https://10.1.2.3/hooks",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/hooks",
        "https://[fd00:ec2::254]/hooks",
        "https://[::ffff:192.168.1.1]/hooks",
        "https://localhost/hooks",
    ):
        r = await admin.post(ENDPOINTS, json={"url": url, "event_types": ["*"]})
        assert_422_at(r, "body", "url")
    r = await admin.post(
        ENDPOINTS, json={"url": "https://93.184.215.14/hooks", "event_types": ["*"]}
    )
    assert r.status_code == 201, r.text


# --- deliveries ------------------------------------------------------------------------------


async def test_events_delivered_signed_per_standard_webhooks(
    admin: httpx.AsyncClient,
    make_community: MakeCommunity,
    receiver: Receiver,
    make_dispatcher: MakeDispatcher,
    raw_db: asyncpg.Pool,
) -> None:
    endpoint = await register(admin, receiver.url)
    receiver.secrets = [endpoint["secret"]]
    community = (await make_community())["id"]
    program = await make_program(admin, [community], **YEAR_2025)
    await move_ok(admin, PROGRAMS, program["id"], "submitted")
    await drain(make_dispatcher(), raw_db)

    assert len(receiver.received) == 2
    assert receiver.verified() == receiver.received  # Webhook.verify passed for each
    feed = (await admin.get("/api/v1/events")).json()["items"]
    # Order is not guaranteed (API.md §7): compare by id.
    assert sorted((r.payload for r in receiver.received), key=lambda p: p["id"]) == sorted(
        feed, key=lambda p: p["id"]
    )
    assert all(r.webhook_id == r.payload["id"] for r in receiver.received)  # the event id
    first = receiver.received[0]
    assert first.headers["content-type"] == "application/json"
    assert first.headers["webhook-signature"].startswith("v1,")
    assert abs(int(first.headers["webhook-timestamp"]) - datetime.now(UTC).timestamp()) < 60
    listed = await deliveries(admin, endpoint["id"])
    assert {d["status"] for d in listed} == {"delivered"}
    assert all(d["attempts"] == 1 and d["last_status_code"] == 204 for d in listed)
    assert all(len(d["attempt_log"]) == 1 for d in listed)
    # Delivered once: another pass sends nothing more.
    await drain(make_dispatcher(), raw_db)
    assert len(receiver.received) == 2


async def test_subscribed_types_only(
    admin: httpx.AsyncClient,
    make_community: MakeCommunity,
    receiver: Receiver,
    make_dispatcher: MakeDispatcher,
    raw_db: asyncpg.Pool,
) -> None:
    await register(admin, receiver.url, ["program.status_changed"])
    community = (await make_community())["id"]
    program = await make_program(admin, [community], **YEAR_2025)
    await move_ok(admin, PROGRAMS, program["id"], "submitted")
    await drain(make_dispatcher(), raw_db)
    assert [r.payload["type"] for r in receiver.received] == ["program.status_changed"]


async def test_ping_and_rotation_overlap(
    admin: httpx.AsyncClient,
    receiver: Receiver,
    make_dispatcher: MakeDispatcher,
    raw_db: asyncpg.Pool,
) -> None:
    endpoint = await register(admin, receiver.url)
    old = endpoint["secret"]
    r = await admin.post(f"{ENDPOINTS}/{endpoint['id']}/rotate-secret")
    assert r.status_code == 200, r.text
    new = r.json()["secret"]
    assert new != old and new.startswith("whsec_")
    expires = datetime.fromisoformat(r.json()["previous_secret_expires_at"])
    assert timedelta(hours=23) < expires - datetime.now(UTC) <= timedelta(hours=24)
    receiver.secrets = [new, old]

    ping = await admin.post(f"{ENDPOINTS}/{endpoint['id']}/test")
    assert ping.status_code == 202, ping.text
    assert ping.json()["event_type"] == "ping" and ping.json()["status"] == "pending"
    await drain(make_dispatcher(), raw_db)
    [got] = receiver.received
    assert got.verified_with == [0, 1]  # both secrets verify: two signatures in the header
    assert len(got.headers["webhook-signature"].split(" ")) == 2
    assert got.payload["type"] == "ping" and got.webhook_id == ping.json()["id"]

    # After the overlap only the new secret signs.
    await raw_db.execute(
        "UPDATE webhook_endpoints SET previous_secret_expires_at = now() - interval '1 second'"
    )
    await admin.post(f"{ENDPOINTS}/{endpoint['id']}/test")
    await drain(make_dispatcher(), raw_db)
    assert receiver.received[1].verified_with == [0]
    assert len(receiver.received[1].headers["webhook-signature"].split(" ")) == 1


async def test_an_immediate_rotation_ends_the_old_secret_at_once(
    admin: httpx.AsyncClient,
    receiver: Receiver,
    make_dispatcher: MakeDispatcher,
    raw_db: asyncpg.Pool,
) -> None:
    """A leaked secret: ``overlap_seconds: 0`` leaves only the new one signing."""
    endpoint = await register(admin, receiver.url)
    old = endpoint["secret"]
    url = f"{ENDPOINTS}/{endpoint['id']}/rotate-secret"
    assert_problem(await admin.post(url, json={"overlap_seconds": -1}), 422)
    assert_problem(await admin.post(url, json={"overlap_seconds": 86401}), 422)
    r = await admin.post(url, json={"overlap_seconds": 0})
    assert r.status_code == 200, r.text
    new = r.json()["secret"]
    assert new != old and r.json()["previous_secret_expires_at"] is None
    receiver.secrets = [new, old]
    await admin.post(f"{ENDPOINTS}/{endpoint['id']}/test")
    await drain(make_dispatcher(), raw_db)
    [got] = receiver.received
    assert got.verified_with == [0]  # the old secret verifies nothing any more
    assert len(got.headers["webhook-signature"].split(" ")) == 1
    # A shorter overlap than the default is kept as asked.
    r = await admin.post(url, json={"overlap_seconds": 600})
    expires = datetime.fromisoformat(r.json()["previous_secret_expires_at"])
    assert timedelta(minutes=9) < expires - datetime.now(UTC) <= timedelta(minutes=10)


def test_retry_schedule_has_jitter_and_ends() -> None:
    for attempt, base in enumerate(RETRY_DELAYS_SECONDS, start=1):
        delays = {retry_delay(attempt) for _ in range(50)}
        assert all(d is not None and base * 0.8 <= d <= base * 1.2 for d in delays)
        assert len(delays) > 1
    assert retry_delay(len(RETRY_DELAYS_SECONDS) + 1) is None
    assert RETRY_DELAYS_SECONDS == (5, 300, 1800, 7200, 18000, 36000, 36000)


async def test_failures_retry_then_fail_with_the_same_id(
    admin: httpx.AsyncClient,
    receiver: Receiver,
    make_dispatcher: MakeDispatcher,
    raw_db: asyncpg.Pool,
) -> None:
    endpoint = await register(admin, receiver.url)
    for _ in range(8):
        receiver.reply(500, b"Internal error " + b"x" * 5000)
    await admin.post(f"{ENDPOINTS}/{endpoint['id']}/test")
    dispatcher = make_dispatcher()
    for attempt in range(1, 9):
        await drain(dispatcher, raw_db)
        [d] = await deliveries(admin, endpoint["id"])
        assert d["attempts"] == attempt
        assert d["last_status_code"] == 500
        assert len(d["last_response"].encode()) <= 1024  # at most 1 KiB kept
        if attempt <= 7:
            assert d["status"] == "pending"
            attempted = datetime.fromisoformat(d["attempt_log"][-1]["at"])
            wait = (datetime.fromisoformat(d["next_attempt_at"]) - attempted).total_seconds()
            base = RETRY_DELAYS_SECONDS[attempt - 1]
            assert base * 0.8 - 1 <= wait <= base * 1.2 + 1
            await raw_db.execute("UPDATE webhook_deliveries SET next_attempt_at = now()")
        else:
            assert d["status"] == "failed"
    assert len(set(receiver.ids())) == 1 and len(receiver.received) == 8
    assert len(d["attempt_log"]) == 8
    # still active: failures for less than 5 days do not disable
    assert (await admin.get(f"{ENDPOINTS}/{endpoint['id']}")).json()["is_active"] is True

    # A manual retry: one more attempt, now answered 200.
    r = await admin.post(f"{ENDPOINTS}/{endpoint['id']}/deliveries/{d['id']}/retry")
    assert r.status_code == 202 and r.json()["status"] == "pending"
    await drain(dispatcher, raw_db)
    [d] = await deliveries(admin, endpoint["id"], status="delivered")
    assert d["attempts"] == 9 and receiver.ids()[-1] == receiver.ids()[0]
    assert await deliveries(admin, endpoint["id"], status="failed") == []
    assert_problem(
        await admin.post(f"{ENDPOINTS}/{endpoint['id']}/deliveries/{uuid.uuid4()}/retry"), 404
    )


async def test_410_disables_at_once(
    admin: httpx.AsyncClient,
    receiver: Receiver,
    make_dispatcher: MakeDispatcher,
    raw_db: asyncpg.Pool,
) -> None:
    endpoint = await register(admin, receiver.url)
    receiver.reply(410)
    await admin.post(f"{ENDPOINTS}/{endpoint['id']}/test")
    await drain(make_dispatcher(), raw_db)
    got = (await admin.get(f"{ENDPOINTS}/{endpoint['id']}")).json()
    assert got["is_active"] is False and got["disabled_reason"] == "gone"
    [d] = await deliveries(admin, endpoint["id"])
    assert d["status"] == "failed" and d["last_status_code"] == 410
    assert_problem(await admin.post(f"{ENDPOINTS}/{endpoint['id']}/test"), 409)
    assert_problem(
        await admin.post(f"{ENDPOINTS}/{endpoint['id']}/deliveries/{d['id']}/retry"), 409
    )
    # Re-enabled by its owner: works again.
    r = await admin.patch(f"{ENDPOINTS}/{endpoint['id']}", json={"is_active": True})
    assert r.json()["is_active"] is True and r.json()["disabled_reason"] is None
    assert (await admin.post(f"{ENDPOINTS}/{endpoint['id']}/test")).status_code == 202


async def test_five_days_without_success_disables(
    admin: httpx.AsyncClient,
    receiver: Receiver,
    make_dispatcher: MakeDispatcher,
    raw_db: asyncpg.Pool,
) -> None:
    endpoint = await register(admin, receiver.url)
    receiver.reply(503)
    await admin.post(f"{ENDPOINTS}/{endpoint['id']}/test")
    await drain(make_dispatcher(), raw_db)
    row = await raw_db.fetchrow("SELECT is_active, failing_since FROM webhook_endpoints")
    assert row["is_active"] and row["failing_since"] is not None
    await raw_db.execute(
        "UPDATE webhook_endpoints SET failing_since = now() - interval '5 days 1 minute'"
    )
    await raw_db.execute("UPDATE webhook_deliveries SET next_attempt_at = now()")
    receiver.reply(503)
    await drain(make_dispatcher(), raw_db)
    got = (await admin.get(f"{ENDPOINTS}/{endpoint['id']}")).json()
    assert got["is_active"] is False and got["disabled_reason"] == "no_success_5_days"


async def test_redirects_not_followed(
    admin: httpx.AsyncClient,
    receiver: Receiver,
    make_dispatcher: MakeDispatcher,
    raw_db: asyncpg.Pool,
) -> None:
    endpoint = await register(admin, receiver.url)
    receiver.reply(302, Location=receiver.url + "/elsewhere")
    await admin.post(f"{ENDPOINTS}/{endpoint['id']}/test")
    await drain(make_dispatcher(), raw_db)
    assert [r.path for r in receiver.received] == ["/hooks/berdaya"]
    [d] = await deliveries(admin, endpoint["id"])
    assert d["status"] == "pending" and d["last_status_code"] == 302


async def test_dispatcher_refuses_private_targets_when_not_insecure(
    admin: httpx.AsyncClient,
    receiver: Receiver,
    make_dispatcher: MakeDispatcher,
    raw_db: asyncpg.Pool,
) -> None:
    """Checked at every send: an endpoint registered while allowed is refused later."""
    endpoint = await register(admin, receiver.url)
    await admin.post(f"{ENDPOINTS}/{endpoint['id']}/test")
    await drain(make_dispatcher(allow_insecure=False), raw_db)
    assert receiver.received == []
    [d] = await deliveries(admin, endpoint["id"])
    assert d["status"] == "pending" and d["last_status_code"] is None
    assert d["last_error"].startswith("refused")


# --- scoping --------------------------------------------------------------------------------


async def test_partner_endpoint_gets_only_its_events_checked_at_send_time(
    app: Any,
    admin: httpx.AsyncClient,
    make_community: MakeCommunity,
    make_user: MakeUser,
    as_user: AsUser,
    receiver: Receiver,
    make_dispatcher: MakeDispatcher,
    raw_db: asyncpg.Pool,
) -> None:
    a = await build_side(admin, make_community, "A")
    b = await build_side(admin, make_community, "B")
    partner = as_user(await make_user(Role.partner, organization_id=uuid.UUID(a.partner)))
    endpoint = await register(partner, receiver.url)
    receiver.secrets = [endpoint["secret"]]
    dispatcher = make_dispatcher()
    await drain(dispatcher, raw_db)  # what happened before the endpoint: not sent
    assert receiver.received == []

    # Events of both sides; only A's reach A's endpoint.
    await contribute(admin, a.partnership, amount=7_500_000)
    await contribute(admin, b.partnership, amount=9_000_000)
    r = await admin.patch(f"{PROGRAMS}/{b.program}", json={"title": "Program B baru"})
    assert r.status_code == 200
    await drain(dispatcher, raw_db)
    assert [(x.payload["type"], x.payload["data"]["amount"]) for x in receiver.received] == [
        ("contribution.recorded", 7_500_000)
    ]
    assert receiver.verified() == receiver.received

    # A program event, then the partnership is terminated before the dispatcher runs:
    # the organisation may no longer see the program, so the event is not sent.
    r = await admin.patch(f"{PROGRAMS}/{a.program}", json={"title": "Program A diperluas"})
    assert r.status_code == 200
    await settle(raw_db)
    async with app.state.database.sessions() as session:
        assert await webhooks_repository.fanout(session) == (1, False)  # still visible
        await session.commit()
    await move_ok(admin, PARTNERSHIPS, a.partnership, "terminated")
    await drain(dispatcher, raw_db)
    types = [x.payload["type"] for x in receiver.received]
    assert "program.updated" not in types
    assert "partnership.status_changed" in types  # its own partnership: still visible
    skipped = await deliveries(partner, endpoint["id"], status="skipped")
    assert [d["event_type"] for d in skipped] == ["program.updated"]


async def test_replay_resends_visible_events_with_the_same_ids(
    admin: httpx.AsyncClient,
    make_community: MakeCommunity,
    make_user: MakeUser,
    as_user: AsUser,
    receiver: Receiver,
    make_dispatcher: MakeDispatcher,
    raw_db: asyncpg.Pool,
) -> None:
    since = datetime.now(UTC) - timedelta(seconds=1)
    a = await build_side(admin, make_community, "A")
    await build_side(admin, make_community, "B")
    partner = as_user(await make_user(Role.partner, organization_id=uuid.UUID(a.partner)))
    endpoint = await register(partner, receiver.url, ["contribution.recorded", "program.created"])
    receiver.secrets = [endpoint["secret"]]
    await settle(raw_db)
    r = await partner.post(
        f"{ENDPOINTS}/{endpoint['id']}/replay", json={"since": since.isoformat()}
    )
    assert r.status_code == 202, r.text
    assert r.json() == {"queued": 2}  # A's program and contribution, not B's, not other types
    await drain(make_dispatcher(), raw_db)
    first = sorted(receiver.ids())
    assert sorted(x.payload["type"] for x in receiver.received) == [
        "contribution.recorded",
        "program.created",
    ]
    r = await partner.post(
        f"{ENDPOINTS}/{endpoint['id']}/replay",
        json={"since": since.isoformat(), "types": ["program.created"]},
    )
    assert r.json() == {"queued": 1}
    await drain(make_dispatcher(), raw_db)
    assert receiver.ids()[-1] in first and len(receiver.received) == 3
    assert receiver.verified() == receiver.received
    bad = await partner.post(
        f"{ENDPOINTS}/{endpoint['id']}/replay",
        json={"since": since.isoformat(), "until": (since - timedelta(days=1)).isoformat()},
    )
    assert_422_at(bad, "body", "until")
    assert_422_at(
        await partner.post(f"{ENDPOINTS}/{endpoint['id']}/replay", json={}), "body", "since"
    )


# --- dispatchers ----------------------------------------------------------------------------


async def test_two_dispatchers_side_by_side_deliver_once(
    admin: httpx.AsyncClient,
    make_community: MakeCommunity,
    receiver: Receiver,
    make_dispatcher: MakeDispatcher,
    raw_db: asyncpg.Pool,
) -> None:
    await register(admin, receiver.url)
    await register(admin, receiver.url, ["program.created"])
    community = (await make_community())["id"]
    await asyncio.gather(
        *(make_program(admin, [community], title=f"Program {n}") for n in range(15))
    )
    await settle(raw_db)
    one, two = make_dispatcher(batch=3), make_dispatcher(batch=3)
    await asyncio.gather(one.drain(), two.drain(), one.drain(), two.drain())
    ids = receiver.ids()
    assert len(ids) == 30  # 15 events x 2 endpoints
    per_endpoint = {(r.webhook_id, r.headers["webhook-signature"]) for r in receiver.received}
    assert len(per_endpoint) == 30 and len(set(ids)) == 15
    statuses = await raw_db.fetch("SELECT status, attempts FROM webhook_deliveries")
    assert {(s["status"], s["attempts"]) for s in statuses} == {("delivered", 1)}


async def test_notify_wakes_a_sleeping_dispatcher(
    admin: httpx.AsyncClient,
    make_community: MakeCommunity,
    receiver: Receiver,
    make_dispatcher: MakeDispatcher,
    settings: Any,
) -> None:
    """The poll interval is an hour: only the NOTIFY of the commit can wake it."""
    await register(admin, receiver.url)
    dispatcher = make_dispatcher(listen_url=settings.database_url, poll_seconds=3600)
    stop = asyncio.Event()
    running = asyncio.create_task(dispatcher.run(stop))
    try:
        await asyncio.sleep(0.5)  # LISTEN is in place, the loop is asleep
        community = (await make_community())["id"]
        await make_program(admin, [community], title="Dibangunkan NOTIFY")
        for _ in range(1200):  # bounded; other databases' transactions may hold it back
            if len(receiver.received) >= 1:
                break
            await asyncio.sleep(0.05)
        assert [r.payload["type"] for r in receiver.received] == ["program.created"]
    finally:
        stop.set()
        await asyncio.wait_for(running, 15)


async def test_nothing_sent_for_a_deleted_organisation(
    admin: httpx.AsyncClient,
    receiver: Receiver,
    make_dispatcher: MakeDispatcher,
    raw_db: asyncpg.Pool,
) -> None:
    organization = (await make_partner(admin, name="Koperasi Tutup Buku"))["id"]
    endpoint = await register(admin, receiver.url, organization_id=organization)
    assert (await admin.post(f"{ENDPOINTS}/{endpoint['id']}/test")).status_code == 202
    assert (await admin.delete(f"/api/v1/partners/{organization}")).status_code == 204
    await drain(make_dispatcher(), raw_db)
    assert receiver.received == []
    [d] = await deliveries(admin, endpoint["id"])
    assert d["status"] == "pending" and d["attempts"] == 0
