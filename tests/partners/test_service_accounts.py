"""Service accounts of partner organisations: the secret shown once (never stored, never
replayed), rotation with a grace period, revocation, validation, admins only."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx

from app.auth.models import Role
from tests.factories import (
    ACCOUNTS,
    API,
    PROGRAMS,
    TOKEN,
    AsUser,
    Bearer,
    MakeUser,
    client_credentials,
    make_partner_org,
    service_account,
    service_token,
)
from tests.helpers import jwt_claims


def comparable(problem: httpx.Response) -> dict[str, Any]:
    """A problem body without the per-request parts."""
    return {k: v for k, v in problem.json().items() if k not in ("request_id", "instance")}


# --- service accounts ------------------------------------------------------------------------


async def test_service_account_lifecycle(
    app: Any,
    admin: httpx.AsyncClient,
    client: httpx.AsyncClient,
    bearer: Bearer,
    raw_db: asyncpg.Pool,
) -> None:
    org = await make_partner_org(app)
    created = await admin.post(ACCOUNTS, json={"name": "Sistem CSR", "organization_id": str(org)})
    assert created.status_code == 201, created.text
    account = created.json()
    account_id, client_id, secret = account["id"], account["client_id"], account["client_secret"]
    assert account["role"] == "partner"
    assert account["organization_id"] == str(org)
    assert account["revoked_at"] is None
    assert created.headers["cache-control"] == "no-store"
    assert "secret_hash" not in account

    # the secret is shown once: never in a read
    got = await admin.get(f"{ACCOUNTS}/{account_id}")
    assert got.status_code == 200
    assert "client_secret" not in got.json() and secret not in got.text
    assert "secret_hash" not in got.json()
    listed = await admin.get(ACCOUNTS)
    assert [i["id"] for i in listed.json()["items"]] == [account_id]
    assert "client_secret" not in listed.text and secret not in listed.text
    stored = await raw_db.fetchval(
        "SELECT secret_hash FROM service_accounts WHERE id = $1", uuid.UUID(account_id)
    )
    assert stored and stored != secret

    # the token: sub is the account, and the account is the caller
    token = await service_token(client, client_id, secret)
    assert jwt_claims(token)["sub"] == account_id
    machine = bearer(token)
    me = await machine.get(f"{API}/auth/me")
    assert me.status_code == 200, me.text
    assert me.json()["id"] == account_id
    assert me.json()["kind"] == "service_account"
    assert me.json()["role"] == "partner"
    assert me.json()["organization_id"] == str(org)
    after = (await admin.get(f"{ACCOUNTS}/{account_id}")).json()
    assert after["last_used_at"] is not None

    # a wrong secret answers exactly like an unknown client
    wrong = await client_credentials(client, client_id, secret + "x")
    unknown = await client_credentials(client, "sa_" + "0" * 24, secret)
    assert wrong.status_code == unknown.status_code == 401
    assert comparable(wrong) == comparable(unknown)
    assert secret not in wrong.text
    missing = await client.post(TOKEN, data={"grant_type": "client_credentials"})
    assert missing.status_code in (400, 401)

    # rotation: a new secret, the old one works during the grace period
    before = datetime.now(UTC)
    rotated = await admin.post(f"{ACCOUNTS}/{account_id}/rotate")
    assert rotated.status_code == 200, rotated.text
    assert rotated.headers["cache-control"] == "no-store"
    new_secret = rotated.json()["client_secret"]
    assert new_secret != secret
    assert rotated.json()["client_id"] == client_id
    grace = app.state.settings.service_account_rotation_grace_seconds
    assert grace == 3600
    expires = datetime.fromisoformat(rotated.json()["previous_secret_expires_at"])
    assert abs((expires - before).total_seconds() - grace) < 60
    got = await admin.get(f"{ACCOUNTS}/{account_id}")
    assert "client_secret" not in got.json() and new_secret not in got.text
    await service_token(client, client_id, secret)
    await service_token(client, client_id, new_secret)

    # after the grace period only the new secret works
    await raw_db.execute(
        "UPDATE service_accounts SET previous_secret_expires_at = now() - interval '1 second' "
        "WHERE id = $1",
        uuid.UUID(account_id),
    )
    assert (await client_credentials(client, client_id, secret)).status_code == 401
    fresh = bearer(await service_token(client, client_id, new_secret))
    assert (await fresh.get(f"{API}/auth/me")).status_code == 200

    # revocation: existing tokens stop at once, and no new ones are issued
    revoked = await admin.post(f"{ACCOUNTS}/{account_id}/revoke")
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["revoked_at"] is not None
    assert "client_secret" not in revoked.json()
    for caller in (machine, fresh):
        r = await caller.get(f"{API}/auth/me")
        assert r.status_code == 401, r.text
        assert (await caller.get(PROGRAMS)).status_code == 401
    r = await client_credentials(client, client_id, new_secret)
    assert r.status_code == 401
    assert comparable(r) == comparable(unknown)
    # a revoked account is not rotated back to life
    assert (await admin.post(f"{ACCOUNTS}/{account_id}/rotate")).status_code == 409
    assert (await client_credentials(client, client_id, new_secret)).status_code == 401


async def test_deleted_service_account_stops_working(
    app: Any, admin: httpx.AsyncClient, client: httpx.AsyncClient, bearer: Bearer
) -> None:
    org = await make_partner_org(app)
    account = await service_account(admin, org)
    machine = bearer(await service_token(client, account["client_id"], account["client_secret"]))
    assert (await admin.delete(f"{ACCOUNTS}/{account['id']}")).status_code == 204
    assert (await machine.get(f"{API}/auth/me")).status_code == 401
    r = await client_credentials(client, account["client_id"], account["client_secret"])
    assert r.status_code == 401


async def test_only_admins_manage_service_accounts(
    app: Any,
    admin: httpx.AsyncClient,
    coordinator: httpx.AsyncClient,
    make_user: MakeUser,
    as_user: AsUser,
) -> None:
    org = await make_partner_org(app)
    account = await service_account(admin, org)
    others = [
        coordinator,
        as_user(await make_user(Role.analyst)),
        as_user(await make_user(Role.facilitator)),
        as_user(await make_user(Role.partner, organization_id=org)),
    ]
    base = f"{ACCOUNTS}/{account['id']}"
    for caller in others:
        r = await caller.post(ACCOUNTS, json={"name": "x", "organization_id": str(org)})
        assert r.status_code == 403, r.text
        assert (await caller.get(ACCOUNTS)).status_code == 403
        assert (await caller.get(base)).status_code == 403
        assert (await caller.patch(base, json={"name": "y"})).status_code == 403
        assert (await caller.post(f"{base}/rotate")).status_code == 403
        assert (await caller.post(f"{base}/revoke")).status_code == 403
        assert (await caller.delete(base)).status_code == 403
    got = (await admin.get(base)).json()
    assert got["revoked_at"] is None and got["name"] == "Sistem CSR"


async def test_service_account_validation(app: Any, admin: httpx.AsyncClient) -> None:
    org = await make_partner_org(app)
    r = await admin.post(ACCOUNTS, json={"name": "Tanpa organisasi"})
    assert r.status_code == 422, r.text
    assert ["body", "organization_id"] in [e["loc"] for e in r.json().get("errors") or []]
    r = await admin.post(ACCOUNTS, json={"name": "Salah", "organization_id": str(uuid.uuid4())})
    assert r.status_code == 422, r.text
    assert ["body", "organization_id"] in [e["loc"] for e in r.json().get("errors") or []]
    r = await admin.post(ACCOUNTS, json={"name": "x", "organization_id": str(org), "role": "admin"})
    assert r.status_code == 422
    r = await admin.post(
        ACCOUNTS, json={"name": "x", "organization_id": str(org), "role": "analyst"}
    )
    assert r.status_code == 422
    r = await admin.post(ACCOUNTS, json={"name": "x", "organization_id": str(org), "id": "1"})
    assert r.status_code == 422
    r = await admin.post(ACCOUNTS, json={"name": "Laporan", "role": "analyst"})
    assert r.status_code == 201, r.text
    assert r.json()["organization_id"] is None and r.json()["role"] == "analyst"
    r = await admin.patch(f"{ACCOUNTS}/{r.json()['id']}", json={"organization_id": str(org)})
    assert r.status_code == 422


async def test_service_account_secret_is_never_stored_for_idempotent_replay(admin, app, raw_db):
    """A client secret is shown once: an Idempotency-Key replay must not repeat it, and the
    idempotency store must not hold it."""
    organization_id = await make_partner_org(app)
    headers = {"Idempotency-Key": "sa-create-1"}
    body = {"name": "Sistem CSR", "organization_id": str(organization_id)}
    first = await admin.post("/api/v1/service-accounts", json=body, headers=headers)
    assert first.status_code == 201, first.text
    secret = first.json()["client_secret"]
    replay = await admin.post("/api/v1/service-accounts", json=body, headers=headers)
    assert replay.status_code == 409
    assert secret not in replay.text
    stored = await raw_db.fetch("SELECT response_body FROM idempotency_keys")
    assert all(
        row["response_body"] is None or secret.encode() not in row["response_body"]
        for row in stored
    )
    assert await raw_db.fetchval("SELECT count(*) FROM service_accounts") == 1
