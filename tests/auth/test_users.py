"""The admin-only /users rules: who may list, create and change users, password and e-mail
rules, partner organisations, and what a reset or a disabled account ends."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx

from app.auth.models import Role
from tests.factories import ME, PASSWORD, login, new_email
from tests.helpers import assert_problem

# --------------------------------------------------------------------------- /users rules


async def _my_id(client: httpx.AsyncClient) -> str:
    response = await client.get(ME)
    assert response.status_code == 200, response.text
    return str(response.json()["id"])


def _user_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "email": new_email("new"),
        "full_name": "Siti Rahmawati",
        "role": "analyst",
        "password": "a-long-enough-password",
    }
    body.update(overrides)
    return body


async def test_users_are_admin_only(make_user, as_user):
    for role in (Role.coordinator, Role.analyst, Role.facilitator, Role.partner):
        caller = as_user(await make_user(role))
        assert_problem(await caller.get("/api/v1/users"), 403)
        assert_problem(await caller.post("/api/v1/users", json=_user_body()), 403)


async def test_admin_creates_and_lists_users(admin, client):
    body = _user_body()
    response = await admin.post("/api/v1/users", json=body)
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["email"] == body["email"]
    assert created["role"] == "analyst"
    assert "password" not in created and "password_hash" not in created
    assert body["password"] not in response.text
    listed = await admin.get("/api/v1/users")
    assert listed.status_code == 200
    assert body["email"] in {u["email"] for u in listed.json()["items"]}
    # The new user can log in with the password it was given.
    assert (await login(client, body["email"], body["password"])).status_code == 200


async def test_non_admin_cannot_promote_itself(make_user, as_user, raw_db):
    for role in (Role.coordinator, Role.analyst, Role.facilitator):
        user = await make_user(role)
        response = await as_user(user).patch(f"/api/v1/users/{user.id}", json={"role": "admin"})
        assert_problem(response, 403)
        stored = await raw_db.fetchval("SELECT role FROM users WHERE id = $1", user.id)
        assert stored == role.value


async def test_create_user_rejects_unknown_or_read_only_fields(admin, raw_db):
    for extra in (
        {"id": str(uuid.uuid4())},
        {"created_at": "2020-01-01T00:00:00Z"},
        {"password_hash": "x"},
        {"is_admin": True},
    ):
        body = _user_body(**extra)
        response = await admin.post("/api/v1/users", json=body)
        assert_problem(response, 422)
        assert (
            await raw_db.fetchval(
                "SELECT count(*) FROM users WHERE lower(email) = lower($1)", body["email"]
            )
            == 0
        )


async def test_short_password_is_422_and_not_echoed(admin):
    secret = "Shrt9pw!"
    response = await admin.post("/api/v1/users", json=_user_body(password=secret))
    body = assert_problem(response, 422)
    assert secret not in response.text
    assert any("password" in issue["loc"] for issue in body["errors"])


async def test_short_password_on_update_is_422_and_not_echoed(admin, make_user):
    user = await make_user(Role.analyst)
    secret = "Tiny7pw#"
    response = await admin.patch(f"/api/v1/users/{user.id}", json={"password": secret})
    assert_problem(response, 422)
    assert secret not in response.text


async def test_duplicate_email_is_409_case_insensitive(admin, make_user):
    existing = await make_user(Role.analyst)
    response = await admin.post("/api/v1/users", json=_user_body(email=existing.email.upper()))
    assert_problem(response, 409)
    response = await admin.post(
        "/api/v1/users", json=_user_body(email=f"  {existing.email.title()}  ")
    )
    assert_problem(response, 409)


async def test_partner_requires_organization(admin, app):
    from tests.factories import make_partner_org

    response = await admin.post("/api/v1/users", json=_user_body(role="partner"))
    assert_problem(response, 422)
    # An organisation that does not exist is refused, naming the field.
    response = await admin.post(
        "/api/v1/users", json=_user_body(role="partner", organization_id=str(uuid.uuid4()))
    )
    assert_problem(response, 422)
    assert response.json()["errors"][0]["loc"] == ["body", "organization_id"]
    organization_id = await make_partner_org(app)
    response = await admin.post(
        "/api/v1/users", json=_user_body(role="partner", organization_id=str(organization_id))
    )
    assert response.status_code == 201, response.text
    # Non-partners may not belong to an organisation.
    response = await admin.post(
        "/api/v1/users", json=_user_body(role="analyst", organization_id=str(uuid.uuid4()))
    )
    assert_problem(response, 422)


async def test_admin_cannot_demote_or_disable_itself(admin, raw_db):
    my_id = await _my_id(admin)
    assert_problem(await admin.patch(f"/api/v1/users/{my_id}", json={"role": "analyst"}), 422)
    assert_problem(await admin.patch(f"/api/v1/users/{my_id}", json={"is_active": False}), 422)
    row = await raw_db.fetchrow("SELECT role, is_active FROM users WHERE id = $1", uuid.UUID(my_id))
    assert row["role"] == "admin" and row["is_active"] is True
    assert (await admin.get(ME)).status_code == 200


async def test_password_reset_and_disabling_end_every_session(client, admin, make_user):
    """An admin resetting a password (or disabling a user) stops the user's refresh tokens
    and access tokens at once: a stolen session does not survive the reset."""
    user = await make_user(Role.coordinator)
    login = await client.post(
        "/api/v1/auth/token",
        data={"grant_type": "password", "username": user.email, "password": PASSWORD},
    )
    assert login.status_code == 200, login.text
    tokens = login.json()
    await asyncio.sleep(1.1)  # iat has whole seconds
    reset = await admin.patch(f"/api/v1/users/{user.id}", json={"password": "a-new-password-1"})
    assert reset.status_code == 200, reset.text
    me = await client.get(
        "/api/v1/auth/me", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )
    assert me.status_code == 401
    refresh = await client.post(
        "/api/v1/auth/token",
        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
    )
    assert refresh.status_code == 401


async def test_concurrent_duplicate_users_are_409_not_500(admin):
    body = {
        "email": "kembar@berdaya.id",
        "full_name": "Kembar",
        "role": "analyst",
        "password": "correct-horse-battery",
    }
    answers = await asyncio.gather(*(admin.post("/api/v1/users", json=body) for _ in range(6)))
    statuses = sorted(a.status_code for a in answers)
    assert statuses.count(201) == 1 and statuses.count(409) == 5, statuses
