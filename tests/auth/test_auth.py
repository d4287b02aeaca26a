"""Authentication end to end over HTTP: grants, token attacks, rotation, revocation,
throttling, JWKS, /auth/me and the verified-token cache."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import secrets
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from jose import jwt as jose_jwt

from app.auth.models import Role
from tests.factories import ME, TOKEN, login, new_email, token_for
from tests.helpers import assert_problem, unb64json

# --------------------------------------------------------------------------- helpers


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _b64json(obj: dict[str, Any]) -> str:
    return _b64(json.dumps(obj, separators=(",", ":")).encode())


def _claims(app: Any, subject: str, **overrides: Any) -> dict[str, Any]:
    tokens = app.state.tokens
    now = int(datetime.now(UTC).timestamp())
    claims: dict[str, Any] = {
        "iss": tokens.issuer,
        "aud": tokens.audience,
        "sub": subject,
        "iat": now,
        "exp": now + 900,
        "jti": uuid.uuid4().hex,
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def _hs256(header: dict[str, Any], claims: dict[str, Any], secret: bytes) -> str:
    signing_input = f"{_b64json(header)}.{_b64json(claims)}"
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


def _es256(app: Any, claims: dict[str, Any], **header: Any) -> str:
    """Sign with the server's real private key (so only the named defect makes it invalid)."""
    key = app.state.tokens.current
    headers = {"kid": key.kid, "typ": "at+jwt"}
    headers.update(header)
    return str(jose_jwt.encode(claims, key.private_pem, algorithm="ES256", headers=headers))


async def _me(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.get(ME, headers={"Authorization": f"Bearer {token}"})


async def _refresh(client: httpx.AsyncClient, refresh_token: str) -> httpx.Response:
    return await client.post(
        TOKEN, data={"grant_type": "refresh_token", "refresh_token": refresh_token}
    )


async def _assert_rejected(client: httpx.AsyncClient, token: str) -> None:
    response = await _me(client, token)
    assert_problem(response, 401)
    assert "traceback" not in response.text.lower()


# --------------------------------------------------------------------------- password grant


async def test_password_grant_issues_tokens(client, make_user, app):
    user = await make_user(Role.coordinator)
    response = await login(client, user.email)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 900
    assert isinstance(body["refresh_token"], str) and len(body["refresh_token"]) >= 32
    header = unb64json(body["access_token"].split(".")[0])
    assert header["alg"] == "ES256"
    assert header["typ"] == "at+jwt"
    assert header["kid"] == app.state.tokens.current.kid
    me = await _me(client, body["access_token"])
    assert me.status_code == 200, me.text
    assert me.json()["id"] == str(user.id)
    assert me.json()["role"] == "coordinator"


async def test_password_grant_email_is_case_insensitive(client, make_user):
    user = await make_user(Role.analyst)
    response = await login(client, user.email.upper())
    assert response.status_code == 200, response.text


async def test_wrong_password_and_unknown_email_answer_identically(client, make_user):
    user = await make_user(Role.analyst)
    wrong = await login(client, user.email, "not-the-password-at-all")
    unknown = await login(client, new_email("nobody"), "not-the-password-at-all")
    wrong_body = assert_problem(wrong, 401)
    unknown_body = assert_problem(unknown, 401)
    keys = ("type", "title", "status", "detail")
    assert {k: wrong_body[k] for k in keys} == {k: unknown_body[k] for k in keys}
    assert set(wrong_body) == set(unknown_body)
    assert "not-the-password-at-all" not in wrong.text
    assert user.email not in wrong.text


async def test_disabled_user_cannot_log_in(client, make_user):
    user = await make_user(Role.analyst, is_active=False)
    response = await login(client, user.email)
    assert_problem(response, 401)


async def test_unsupported_grant_type_is_400(client, make_user):
    response = await client.post(TOKEN, data={"grant_type": "authorization_code", "code": "abc"})
    assert_problem(response, 400)


async def test_password_grant_without_password_is_400(client, make_user):
    user = await make_user(Role.analyst)
    response = await client.post(TOKEN, data={"grant_type": "password", "username": user.email})
    assert_problem(response, 400)


# --------------------------------------------------------------------------- token attacks


async def test_valid_token_is_accepted(client, make_user, app):
    # Baseline for the attacks below: a correctly crafted token is accepted.
    user = await make_user(Role.analyst)
    assert (await _me(client, _es256(app, _claims(app, str(user.id))))).status_code == 200


async def test_no_token_is_401(client):
    response = await client.get(ME)
    assert_problem(response, 401)
    assert response.headers.get("www-authenticate", "").lower().startswith("bearer")


async def test_alg_none_is_rejected(client, make_user, app):
    user = await make_user(Role.admin)
    claims = _claims(app, str(user.id))
    for alg in ("none", "None", "NONE"):
        header = {"alg": alg, "typ": "at+jwt", "kid": app.state.tokens.current.kid}
        await _assert_rejected(client, f"{_b64json(header)}.{_b64json(claims)}.")
        # And with a bogus signature segment too.
        await _assert_rejected(client, f"{_b64json(header)}.{_b64json(claims)}.{_b64(b'x')}")


async def test_hs256_with_any_secret_is_rejected(client, make_user, app):
    user = await make_user(Role.admin)
    header = {"alg": "HS256", "typ": "at+jwt", "kid": app.state.tokens.current.kid}
    token = _hs256(header, _claims(app, str(user.id)), b"secret")
    await _assert_rejected(client, token)


async def test_hs256_with_public_key_as_secret_is_rejected(client, make_user, app):
    # Algorithm confusion: the public PEM used as the HMAC key.
    user = await make_user(Role.admin)
    public_pem: str = app.state.tokens.current.public_pem
    claims = _claims(app, str(user.id))
    for secret in (public_pem.encode(), public_pem.strip().encode()):
        for kid in (app.state.tokens.current.kid, None):
            header: dict[str, Any] = {"alg": "HS256", "typ": "at+jwt"}
            if kid:
                header["kid"] = kid
            await _assert_rejected(client, _hs256(header, claims, secret))


async def test_tampered_payload_is_rejected(client, make_user, app):
    victim = await make_user(Role.analyst)
    target = await make_user(Role.admin)
    token = token_for(app, victim.id)
    assert (await _me(client, token)).status_code == 200
    header, payload, signature = token.split(".")
    claims = unb64json(payload)
    claims["sub"] = str(target.id)
    await _assert_rejected(client, f"{header}.{_b64json(claims)}.{signature}")


async def test_expired_token_is_rejected(client, make_user, app):
    user = await make_user(Role.analyst)
    token, _ = app.state.tokens.issue(str(user.id), now=datetime.now(UTC) - timedelta(hours=1))
    await _assert_rejected(client, token)
    # Just past expiry plus leeway.
    token, _ = app.state.tokens.issue(
        str(user.id), now=datetime.now(UTC) - timedelta(seconds=900 + 60)
    )
    await _assert_rejected(client, token)


async def test_wrong_audience_is_rejected(client, make_user, app):
    user = await make_user(Role.analyst)
    await _assert_rejected(client, _es256(app, _claims(app, str(user.id), aud="someone-else")))


async def test_wrong_issuer_is_rejected(client, make_user, app):
    user = await make_user(Role.analyst)
    await _assert_rejected(client, _es256(app, _claims(app, str(user.id), iss="evil-issuer")))


async def test_unknown_kid_is_rejected(client, make_user, app):
    user = await make_user(Role.analyst)
    await _assert_rejected(client, _es256(app, _claims(app, str(user.id)), kid="unknown-kid"))


async def test_missing_kid_is_rejected(client, make_user, app):
    user = await make_user(Role.analyst)
    key = app.state.tokens.current
    token = jose_jwt.encode(
        _claims(app, str(user.id)), key.private_pem, algorithm="ES256", headers={"typ": "at+jwt"}
    )
    await _assert_rejected(client, token)


async def test_missing_exp_is_rejected(client, make_user, app):
    user = await make_user(Role.analyst)
    await _assert_rejected(client, _es256(app, _claims(app, str(user.id), exp=None)))


async def test_missing_jti_is_rejected(client, make_user, app):
    user = await make_user(Role.analyst)
    await _assert_rejected(client, _es256(app, _claims(app, str(user.id), jti=None)))


async def test_missing_other_claims_are_rejected(client, make_user, app):
    user = await make_user(Role.analyst)
    for claim in ("iat", "iss", "aud", "sub"):
        await _assert_rejected(client, _es256(app, _claims(app, str(user.id), **{claim: None})))


async def test_wrong_typ_header_is_rejected(client, make_user, app):
    user = await make_user(Role.analyst)
    claims = _claims(app, str(user.id))
    await _assert_rejected(client, _es256(app, claims, typ="JWT"))
    key = app.state.tokens.current
    no_typ = jose_jwt.encode(claims, key.private_pem, algorithm="ES256", headers={"kid": key.kid})
    # jose adds typ "JWT" by default; either way it is not at+jwt.
    await _assert_rejected(client, no_typ)


async def test_non_uuid_or_unknown_subject_is_rejected(client, app):
    await _assert_rejected(client, _es256(app, _claims(app, "not-a-uuid")))
    await _assert_rejected(client, _es256(app, _claims(app, str(uuid.uuid4()))))


async def test_garbage_token_is_rejected(client):
    for garbage in ("garbage", "a.b.c", "....", "eyJhbGciOiJFUzI1NiJ9.e30.", "Bearer x"):
        await _assert_rejected(client, garbage)


async def test_token_for_deleted_user_is_rejected(client, admin, make_user, app):
    user = await make_user(Role.analyst)
    token = token_for(app, user.id)
    assert (await _me(client, token)).status_code == 200
    assert (await admin.delete(f"/api/v1/users/{user.id}")).status_code == 204
    await _assert_rejected(client, token)


# --------------------------------------------------------------------------- refresh tokens


async def test_refresh_grant_rotates(client, make_user):
    user = await make_user(Role.coordinator)
    first = (await login(client, user.email)).json()
    response = await _refresh(client, first["refresh_token"])
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    second = response.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    assert second["expires_in"] == 900
    assert (await _me(client, second["access_token"])).status_code == 200
    # The spent token cannot be used again.
    assert_problem(await _refresh(client, first["refresh_token"]), 401)


async def test_refresh_reuse_revokes_family(client, make_user, raw_db):
    user = await make_user(Role.coordinator)
    first = (await login(client, user.email)).json()
    second = (await _refresh(client, first["refresh_token"])).json()
    third_response = await _refresh(client, second["refresh_token"])
    assert third_response.status_code == 200, third_response.text
    third = third_response.json()
    # Replay of a rotated token (a thief or a stale client): 401 and the family dies.
    assert_problem(await _refresh(client, first["refresh_token"]), 401)
    assert_problem(await _refresh(client, third["refresh_token"]), 401)
    live = await raw_db.fetchval(
        "SELECT count(*) FROM refresh_tokens WHERE user_id = $1 AND revoked_at IS NULL", user.id
    )
    assert live == 0
    # Another login (another family) still works.
    assert (await login(client, user.email)).status_code == 200


async def test_refresh_reuse_does_not_revoke_other_families(client, make_user):
    user = await make_user(Role.coordinator)
    a = (await login(client, user.email)).json()
    b = (await login(client, user.email)).json()
    (await _refresh(client, a["refresh_token"])).raise_for_status()
    assert_problem(await _refresh(client, a["refresh_token"]), 401)
    assert (await _refresh(client, b["refresh_token"])).status_code == 200


async def test_unknown_refresh_token_is_401(client):
    assert_problem(await _refresh(client, secrets.token_urlsafe(32)), 401)


async def test_refresh_for_disabled_user_is_401(client, make_user, admin):
    user = await make_user(Role.coordinator)
    tokens = (await login(client, user.email)).json()
    r = await admin.patch(f"/api/v1/users/{user.id}", json={"is_active": False})
    assert r.status_code == 200, r.text
    assert_problem(await _refresh(client, tokens["refresh_token"]), 401)


# --------------------------------------------------------------------------- immediate effect


async def test_disabled_user_is_rejected_at_once(client, make_user, admin, app):
    user = await make_user(Role.coordinator)
    token = token_for(app, user.id)
    assert (await _me(client, token)).status_code == 200
    r = await admin.patch(f"/api/v1/users/{user.id}", json={"is_active": False})
    assert r.status_code == 200, r.text
    assert r.json()["is_active"] is False
    await _assert_rejected(client, token)
    # And it cannot log in again either.
    assert_problem(await login(client, user.email), 401)


async def test_role_change_takes_effect_at_once(client, make_user, admin, app, community_payload):
    user = await make_user(Role.coordinator)
    headers = {"Authorization": f"Bearer {token_for(app, user.id)}"}
    r = await client.post("/api/v1/communities", json=community_payload(), headers=headers)
    assert r.status_code == 201, r.text
    r = await admin.patch(f"/api/v1/users/{user.id}", json={"role": "analyst"})
    assert r.status_code == 200, r.text
    assert r.json()["role"] == "analyst"
    r = await client.post("/api/v1/communities", json=community_payload(), headers=headers)
    assert_problem(r, 403)
    me = await client.get(ME, headers=headers)
    assert me.json()["role"] == "analyst"


# --------------------------------------------------------------------------- revoke


async def test_revoke_logs_out(client, make_user):
    user = await make_user(Role.coordinator)
    tokens = (await login(client, user.email)).json()
    access, refresh = tokens["access_token"], tokens["refresh_token"]
    assert (await _me(client, access)).status_code == 200
    # tokens_valid_after is compared at second granularity: make iat strictly earlier.
    await asyncio.sleep(1.1)
    response = await client.post(
        "/api/v1/auth/revoke",
        data={"token": refresh},
        headers={"Authorization": f"Bearer {access}"},
    )
    assert response.status_code == 204, response.text
    assert_problem(await _refresh(client, refresh), 401)
    await _assert_rejected(client, access)
    # Logging in again afterwards works.
    again = await login(client, user.email)
    assert again.status_code == 200, again.text
    assert (await _me(client, again.json()["access_token"])).status_code == 200


async def test_revoke_requires_authentication(client, make_user):
    user = await make_user(Role.coordinator)
    tokens = (await login(client, user.email)).json()
    response = await client.post("/api/v1/auth/revoke", data={"token": tokens["refresh_token"]})
    assert_problem(response, 401)
    assert (await _refresh(client, tokens["refresh_token"])).status_code == 200


async def test_revoke_cannot_touch_another_users_refresh_token(client, make_user):
    victim = await make_user(Role.coordinator)
    attacker = await make_user(Role.analyst)
    victim_tokens = (await login(client, victim.email)).json()
    attacker_tokens = (await login(client, attacker.email)).json()
    response = await client.post(
        "/api/v1/auth/revoke",
        data={"token": victim_tokens["refresh_token"]},
        headers={"Authorization": f"Bearer {attacker_tokens['access_token']}"},
    )
    assert response.status_code == 204, response.text
    assert (await _refresh(client, victim_tokens["refresh_token"])).status_code == 200


# --------------------------------------------------------------------------- throttling


async def test_account_throttling(client, make_user, raw_db):
    user = await make_user(Role.coordinator)
    for _ in range(5):
        assert_problem(await login(client, user.email, "wrong-password-123"), 401)
    failures = await raw_db.fetchval(
        "SELECT count(*) FROM login_failures WHERE key LIKE 'account:%'"
    )
    assert failures == 5
    # The email itself is not stored in the failures table.
    stored = await raw_db.fetch("SELECT key FROM login_failures")
    assert all(user.email.lower() not in row["key"].lower() for row in stored)
    response = await login(client, user.email)  # right password, still throttled
    body = assert_problem(response, 429)
    assert body["type"].endswith("too-many-requests")
    retry_after = int(response.headers["retry-after"])
    assert 1 <= retry_after <= 901
    # Another address-independent check: a differently-cased email is the same account.
    assert_problem(await login(client, user.email.upper()), 429)


async def test_successful_login_resets_account_failures(client, make_user):
    user = await make_user(Role.coordinator)
    for _ in range(4):
        assert_problem(await login(client, user.email, "wrong-password-123"), 401)
    assert (await login(client, user.email)).status_code == 200
    for _ in range(4):
        assert_problem(await login(client, user.email, "wrong-password-123"), 401)
    assert (await login(client, user.email)).status_code == 200


async def test_address_throttling(client, make_user, raw_db):
    user = await make_user(Role.coordinator)
    for _ in range(20):
        assert_problem(await login(client, new_email("ghost"), "wrong-password-123"), 401)
    count = await raw_db.fetchval(
        "SELECT count(*) FROM login_failures WHERE key = 'address:10.1.2.3'"
    )
    assert count == 20
    response = await login(client, user.email)
    assert_problem(response, 429)
    assert int(response.headers["retry-after"]) >= 1
    # Another client address is not affected.
    transport = httpx.ASGITransport(app=client._transport.app, client=("10.9.9.9", 4321))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as other:
        assert (await login(other, user.email)).status_code == 200


# --------------------------------------------------------------------------- JWKS and me


async def test_jwks_lists_public_signing_key(client, make_user, app):
    response = await client.get("/.well-known/jwks.json")
    assert response.status_code == 200, response.text
    keys = response.json()["keys"]
    assert keys
    user = await make_user(Role.analyst)
    token = (await login(client, user.email)).json()["access_token"]
    kid = unb64json(token.split(".")[0])["kid"]
    matching = [k for k in keys if k["kid"] == kid]
    assert len(matching) == 1
    key = matching[0]
    assert key["kty"] == "EC"
    assert key["crv"] == "P-256"
    assert key["alg"] == "ES256"
    assert {"x", "y"} <= key.keys()
    for entry in keys:
        assert "d" not in entry
    assert "PRIVATE" not in response.text


async def test_me_for_facilitator_lists_communities(make_community, make_user, as_user):
    first = await make_community()
    second = await make_community()
    await make_community()  # not assigned
    user = await make_user(
        Role.facilitator, communities=[uuid.UUID(first["id"]), uuid.UUID(second["id"])]
    )
    response = await as_user(user).get(ME)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["role"] == "facilitator"
    assert body["kind"] == "user"
    assert body["email"] == user.email
    assert sorted(body["community_ids"]) == sorted([first["id"], second["id"]])
    assert "password_hash" not in body


async def test_me_for_admin(admin):
    response = await admin.get(ME)
    assert response.status_code == 200
    assert response.json()["role"] == "admin"
    assert response.json()["community_ids"] == []


# --------------------------------------------------------------------------- token checks, again


async def test_malformed_tokens_are_401_not_500(client, make_user, app):
    user = await make_user(Role.analyst)
    kid = app.state.tokens.current.kid
    good = _es256(app, _claims(app, str(user.id)))
    header, payload, signature = good.split(".")
    malformed = [
        f"{_b64(b'[1,2]')}.{payload}.{signature}",  # header not an object
        f"{_b64(b'not json')}.{payload}.{signature}",
        f"{header}.{_b64(b'[1]')}.{signature}",  # payload not an object
        f"{header}.{_b64(b'not json')}.{signature}",
        f"{header}.{payload}.!!!",  # signature not base64url
        f"{header}.{payload}",
        f"{header}.{payload}.{signature}.extra",
        f"{header}..{signature}",
        _es256(app, _claims(app, str(user.id)), kid=["a", "b"]),
        _es256(app, _claims(app, str(user.id)), kid={"x": 1}),
        _es256(app, _claims(app, str(user.id)), typ=["at+jwt"]),
        _es256(app, _claims(app, 12345)),
        _es256(app, _claims(app, str(user.id), exp="soon")),
        _es256(app, _claims(app, str(user.id), exp=float(_claims(app, "x")["exp"]) + 0.5)),
        _es256(app, _claims(app, str(user.id), iat="now")),
        _es256(app, _claims(app, str(user.id), jti=123)),
        _es256(app, _claims(app, str(user.id), aud=["someone-else"])),
        _es256(app, _claims(app, str(user.id), nbf=int(datetime.now(UTC).timestamp()) + 3600)),
        f"{_b64json({'alg': 'ES256', 'typ': 'at+jwt', 'kid': kid})}.{payload}.{signature}",
        "x" * 20000,
    ]
    for token in malformed:
        response = await _me(client, token)
        assert response.status_code == 401, (token[:80], response.status_code, response.text)
    # Non-ASCII bytes in the header.
    response = await client.get(ME, headers={"Authorization": "Bearer é".encode()})
    assert response.status_code == 401, response.text


async def test_a_cached_token_is_refused_once_it_expires(client, make_user, app, monkeypatch):
    """Verified tokens are remembered (signature checked once), never past their expiry."""
    user = await make_user(Role.analyst)
    token, ttl = app.state.tokens.issue(str(user.id))
    headers = {"Authorization": f"Bearer {token}"}
    r = await client.get("/api/v1/auth/me", headers=headers)
    assert r.status_code == 200, r.text
    assert len(app.state.tokens._verified) >= 1
    assert all(token not in repr(key) for key in app.state.tokens._verified)  # digests only
    later = datetime.now(UTC).timestamp() + ttl + 11  # past expiry and the 10 s leeway
    monkeypatch.setattr("app.auth.tokens.time.time", lambda: later)
    await _assert_rejected(client, token)
    monkeypatch.undo()
    await _assert_rejected(client, token + "x")  # another string is verified on its own


async def test_the_verified_token_cache_is_bounded(app, make_user, monkeypatch):
    monkeypatch.setattr("app.auth.tokens.VERIFIED_CACHE_SIZE", 3)
    user = await make_user(Role.analyst)
    tokens = app.state.tokens
    for _ in range(5):
        tokens.verify(tokens.issue(str(user.id))[0])
    assert len(tokens._verified) <= 3
