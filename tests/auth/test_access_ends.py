"""Hardening round two: access that outlived its end, and login throttling.

Each test names the finding of the black-box test it covers (issue 22, items 1-7).
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx

from app.auth.models import Role
from tests.factories import (
    ACCOUNTS,
    TOKEN,
    client_credentials,
    login,
    make_partner_org,
    service_account,
    service_token,
)

API = "/api/v1"


def from_address(client: httpx.AsyncClient, address: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=client._transport.app, client=(address, 4321))  # type: ignore[attr-defined]
    return httpx.AsyncClient(transport=transport, base_url="http://test")


async def account_token(client: httpx.AsyncClient, account: dict[str, Any], secret: str) -> str:
    return await service_token(client, account["client_id"], secret)


# --- 1. deleting an organisation ends every access through it -------------------------------


async def test_deleting_a_partner_ends_its_users_and_accounts(
    bearer: Any,
    app: Any,
    admin: httpx.AsyncClient,
    client: httpx.AsyncClient,
    make_user: Any,
    raw_db: Any,
) -> None:
    org = await make_partner_org(app)
    user = await make_user(Role.partner, organization_id=org)
    user_tokens = (await login(client, user.email)).json()
    partner_user = bearer(user_tokens["access_token"])
    account = await service_account(admin, org)
    machine = bearer(await account_token(client, account, account["client_secret"]))
    assert (await partner_user.get(f"{API}/programs")).status_code == 200
    assert (await machine.get(f"{API}/programs")).status_code == 200

    assert (await admin.delete(f"{API}/partners/{org}")).status_code == 204

    for caller in (partner_user, machine):
        assert (await caller.get(f"{API}/programs")).status_code == 401
        assert (await caller.get(f"{API}/auth/me")).status_code == 401
    assert (await login(client, user.email)).status_code == 401
    refreshed = await client.post(
        TOKEN, data={"grant_type": "refresh_token", "refresh_token": user_tokens["refresh_token"]}
    )
    assert refreshed.status_code == 401
    r = await client_credentials(client, account["client_id"], account["client_secret"])
    assert r.status_code == 401

    # Restoring the organisation brings no access back without an admin's decision.
    assert (await admin.post(f"{API}/partners/{org}/restore")).status_code == 200
    assert (await login(client, user.email)).status_code == 401
    r = await client_credentials(client, account["client_id"], account["client_secret"])
    assert r.status_code == 401
    # The admin re-enables the user explicitly.
    enabled = await admin.patch(f"{API}/users/{user.id}", json={"is_active": True})
    assert enabled.status_code == 200, enabled.text
    assert (await login(client, user.email)).status_code == 200


async def test_a_deleted_organisation_refuses_its_users_even_if_still_active(
    app: Any, client: httpx.AsyncClient, make_user: Any, raw_db: Any, as_user: Any
) -> None:
    """Defence in depth: whatever way the organisation went, its users are refused."""
    org = await make_partner_org(app)
    user = await make_user(Role.partner, organization_id=org)
    partner_user = as_user(user)
    assert (await partner_user.get(f"{API}/auth/me")).status_code == 200
    await raw_db.execute("UPDATE partners SET deleted_at = now() WHERE id = $1", org)
    assert (await partner_user.post(f"{API}/auth/revoke")).status_code == 401
    assert (await login(client, user.email)).status_code == 401


# --- 2. logging out without the refresh token ends the session's refresh family -------------


async def test_logout_without_token_ends_the_refresh_family(
    bearer: Any, client: httpx.AsyncClient, make_user: Any
) -> None:
    user = await make_user(Role.coordinator)
    tokens = (await login(client, user.email)).json()
    caller = bearer(tokens["access_token"])
    assert (await caller.post(f"{API}/auth/revoke")).status_code == 204
    assert (await caller.get(f"{API}/auth/me")).status_code == 401
    refreshed = await client.post(
        TOKEN, data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    )
    assert refreshed.status_code == 401


# --- 3. a service account's logout ends its tokens --------------------------------------------


async def test_service_account_logout_ends_its_token(
    bearer: Any, app: Any, admin: httpx.AsyncClient, client: httpx.AsyncClient
) -> None:
    account = await service_account(admin, await make_partner_org(app))
    machine = bearer(await account_token(client, account, account["client_secret"]))
    assert (await machine.get(f"{API}/auth/me")).status_code == 200
    assert (await machine.post(f"{API}/auth/revoke")).status_code == 204
    assert (await machine.get(f"{API}/auth/me")).status_code == 401
    # The secret still holds: a new token works.
    await asyncio.sleep(0.01)
    again = bearer(await account_token(client, account, account["client_secret"]))
    assert (await again.get(f"{API}/auth/me")).status_code == 200


# --- 4. revoking a family or a secret ends the access tokens issued from it -------------------


async def test_refresh_reuse_ends_the_family_access_tokens(
    bearer: Any, client: httpx.AsyncClient, make_user: Any
) -> None:
    user = await make_user(Role.coordinator)
    first = (await login(client, user.email)).json()
    rotated = await client.post(
        TOKEN, data={"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}
    )
    assert rotated.status_code == 200
    thief = bearer(rotated.json()["access_token"])
    assert (await thief.get(f"{API}/auth/me")).status_code == 200
    reused = await client.post(
        TOKEN, data={"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}
    )
    assert reused.status_code == 401
    assert (await thief.get(f"{API}/auth/me")).status_code == 401


async def test_tokens_of_a_rotated_away_secret_end_with_it(
    bearer: Any, app: Any, admin: httpx.AsyncClient, client: httpx.AsyncClient, raw_db: Any
) -> None:
    account = await service_account(admin, await make_partner_org(app))
    old = bearer(await account_token(client, account, account["client_secret"]))
    rotated = await admin.post(f"{ACCOUNTS}/{account['id']}/rotate")
    assert rotated.status_code == 200, rotated.text
    new_secret = rotated.json()["client_secret"]
    assert (await old.get(f"{API}/auth/me")).status_code == 200  # grace period
    await raw_db.execute(
        "UPDATE service_accounts SET previous_secret_expires_at = now() - interval '1 second' "
        "WHERE id = $1",
        uuid.UUID(account["id"]),
    )
    assert (await old.get(f"{API}/auth/me")).status_code == 401
    fresh = bearer(await account_token(client, account, new_secret))
    assert (await fresh.get(f"{API}/auth/me")).status_code == 200


async def test_immediate_rotation_ends_the_old_secret_and_its_tokens(
    bearer: Any, app: Any, admin: httpx.AsyncClient, client: httpx.AsyncClient
) -> None:
    account = await service_account(admin, await make_partner_org(app))
    old = bearer(await account_token(client, account, account["client_secret"]))
    rotated = await admin.post(f"{ACCOUNTS}/{account['id']}/rotate", json={"grace_seconds": 0})
    assert rotated.status_code == 200, rotated.text
    assert rotated.json()["previous_secret_expires_at"] is None
    assert (await old.get(f"{API}/auth/me")).status_code == 401
    r = await client_credentials(client, account["client_id"], account["client_secret"])
    assert r.status_code == 401
    await account_token(client, account, rotated.json()["client_secret"])
    bad = await admin.post(f"{ACCOUNTS}/{account['id']}/rotate", json={"grace_seconds": -1})
    assert bad.status_code == 422


# --- 5. an idempotent replay authenticates the caller first -----------------------------------


async def test_replay_refuses_a_disabled_or_logged_out_caller(
    admin: httpx.AsyncClient, make_user: Any, as_user: Any, community_payload: Any
) -> None:
    for end in ("disable", "logout"):
        user = await make_user(Role.coordinator)
        caller = as_user(user)
        headers = {"Idempotency-Key": f"replay-after-{end}"}
        body = community_payload()
        first = await caller.post(f"{API}/communities", json=body, headers=headers)
        assert first.status_code == 201, first.text
        if end == "disable":
            r = await admin.patch(f"{API}/users/{user.id}", json={"is_active": False})
            assert r.status_code == 200, r.text
        else:
            assert (await caller.post(f"{API}/auth/revoke")).status_code == 204
        replay = await caller.post(f"{API}/communities", json=body, headers=headers)
        assert replay.status_code == 401, replay.text
        assert "idempotent-replayed" not in replay.headers


# --- 6. parallel guesses get exactly the limit --------------------------------------------------


async def test_parallel_wrong_passwords_get_exactly_the_limit(
    app: Any, client: httpx.AsyncClient, make_user: Any
) -> None:
    user = await make_user(Role.coordinator)
    answers = await asyncio.gather(
        *(login(client, user.email, "wrong-password-123") for _ in range(20))
    )
    statuses = sorted(r.status_code for r in answers)
    limit = app.state.settings.login_max_failures_per_account_address
    assert statuses.count(401) == limit, statuses
    assert statuses.count(429) == 20 - limit


# --- 7. an attacker elsewhere cannot lock a user or a partner out ------------------------------


async def test_failures_from_one_address_do_not_lock_the_owner_out(
    app: Any, admin: httpx.AsyncClient, client: httpx.AsyncClient, make_user: Any
) -> None:
    user = await make_user(Role.coordinator)
    attacker = from_address(client, "10.66.6.6")
    for _ in range(5):
        assert (await login(attacker, user.email, "wrong-password-123")).status_code == 401
    refused = await login(attacker, user.email)
    assert refused.status_code == 429
    first_wait = int(refused.headers["retry-after"])
    # Hammering on makes the attacker's wait grow, not the owner's.
    for _ in range(3):
        await login(attacker, user.email, "wrong-password-123")
    assert int((await login(attacker, user.email)).headers["retry-after"]) >= first_wait
    assert (await login(client, user.email)).status_code == 200

    account = await service_account(admin, await make_partner_org(app))
    for _ in range(5):
        r = await client_credentials(attacker, account["client_id"], "not-the-secret")
        assert r.status_code == 401
    r = await client_credentials(attacker, account["client_id"], account["client_secret"])
    assert r.status_code == 429
    await account_token(client, account, account["client_secret"])


async def test_distributed_guessing_meets_the_account_ceiling(
    app: Any, client: httpx.AsyncClient, make_user: Any, raw_db: Any
) -> None:
    user = await make_user(Role.coordinator)
    ceiling = app.state.settings.login_max_failures_per_account
    assert ceiling >= 10 * app.state.settings.login_max_failures_per_account_address
    from app.auth.service import account_key

    await raw_db.executemany(
        "INSERT INTO login_failures (key, at) VALUES ($1, now())",
        [(account_key(user.email),)] * ceiling,
    )
    r = await login(from_address(client, "10.7.7.7"), user.email)
    assert r.status_code == 429
    assert int(r.headers["retry-after"]) >= 1
