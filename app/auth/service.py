"""Logins, refresh-token rotation, logout, throttling, and user management rules."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.models import LoginFailure, RefreshToken, Role, User
from app.auth.passwords import MIN_PASSWORD_LENGTH, hash_password, verify_password
from app.auth.tokens import TokenService, hash_opaque_token, new_opaque_token
from app.core import audit
from app.core.config import Settings
from app.core.errors import Conflict, TooManyRequests, Unauthorized, Unprocessable
from app.core.principal import Principal
from app.partners.models import Partner

WRONG_CREDENTIALS = "the credentials are not valid"


async def check_organization(session: AsyncSession, organization_id: uuid.UUID | None) -> None:
    """422 unless ``organization_id`` is a live partner organisation (or None)."""
    if organization_id is None:
        return
    found = await session.scalar(
        select(func.count()).where(Partner.id == organization_id, Partner.deleted_at.is_(None))
    )
    if not found:
        raise Unprocessable("partner organisation not found", loc=["body", "organization_id"])


@dataclass(frozen=True)
class IssuedTokens:
    access_token: str
    expires_in: int
    refresh_token: str | None


def account_key(email: str) -> str:
    """Throttling key of an account: a digest, so emails do not sit in the failures table."""
    return "account:" + hashlib.sha256(email.strip().lower().encode()).hexdigest()[:40]


def address_key(address: str | None) -> str:
    return "address:" + (address or "unknown")[:80]


async def check_throttle(
    session: AsyncSession, settings: Settings, email: str, address: str | None
) -> None:
    """429 with Retry-After when an account or an address has failed too often lately."""
    since = datetime.now(UTC) - timedelta(seconds=settings.login_window_seconds)
    for key, limit in (
        (account_key(email), settings.login_max_failures_per_account),
        (address_key(address), settings.login_max_failures_per_address),
    ):
        count, oldest = (
            await session.execute(
                select(func.count(), func.min(LoginFailure.at)).where(
                    LoginFailure.key == key, LoginFailure.at >= since
                )
            )
        ).one()
        if count >= limit:
            retry = (
                int(
                    (
                        oldest
                        + timedelta(seconds=settings.login_window_seconds)
                        - datetime.now(UTC)
                    ).total_seconds()
                )
                + 1
            )
            raise TooManyRequests(
                "too many failed logins; wait before trying again",
                headers={"Retry-After": str(max(retry, 1))},
            )


async def record_failure(session: AsyncSession, email: str, address: str | None) -> None:
    session.add(LoginFailure(key=account_key(email)))
    session.add(LoginFailure(key=address_key(address)))
    await session.flush()


async def _issue(
    session: AsyncSession,
    tokens: TokenService,
    settings: Settings,
    user_id: uuid.UUID,
    family_id: uuid.UUID | None = None,
) -> IssuedTokens:
    access, expires_in = tokens.issue(str(user_id))
    refresh = new_opaque_token()
    session.add(
        RefreshToken(
            family_id=family_id or uuid.uuid4(),
            user_id=user_id,
            token_hash=hash_opaque_token(refresh),
            expires_at=datetime.now(UTC) + timedelta(seconds=settings.refresh_token_ttl_seconds),
        )
    )
    await session.flush()
    return IssuedTokens(access, expires_in, refresh)


async def password_grant(
    session: AsyncSession,
    tokens: TokenService,
    settings: Settings,
    email: str,
    password: str,
    address: str | None,
) -> IssuedTokens:
    await check_throttle(session, settings, email, address)
    user = (
        await session.execute(
            select(User).where(
                func.lower(User.email) == email.strip().lower(), User.deleted_at.is_(None)
            )
        )
    ).scalar_one_or_none()
    valid = verify_password(password, user.password_hash if user else None)
    if user is None or not valid or not user.is_active:
        await record_failure(session, email, address)
        await session.commit()  # the failure must count although the request fails
        raise Unauthorized(WRONG_CREDENTIALS)
    await session.execute(delete(LoginFailure).where(LoginFailure.key == account_key(email)))
    user.last_login_at = datetime.now(UTC)
    return await _issue(session, tokens, settings, user.id)


async def refresh_grant(
    session: AsyncSession, tokens: TokenService, settings: Settings, refresh_token: str
) -> IssuedTokens:
    """Rotate: the presented token is spent; presenting a spent one revokes its family."""
    now = datetime.now(UTC)
    row = (
        await session.execute(
            select(RefreshToken)
            .where(RefreshToken.token_hash == hash_opaque_token(refresh_token))
            .with_for_update()
        )
    ).scalar_one_or_none()
    if row is None or row.revoked_at is not None or row.expires_at <= now:
        raise Unauthorized(WRONG_CREDENTIALS)
    if row.rotated_at is not None:
        await revoke_family(session, row.family_id)
        # The revocation must survive the 401 that follows: commit it now.
        await session.commit()
        raise Unauthorized(WRONG_CREDENTIALS)
    user = await session.get(User, row.user_id)
    if user is None or not user.is_active or user.deleted_at is not None:
        raise Unauthorized(WRONG_CREDENTIALS)
    row.rotated_at = now
    return await _issue(session, tokens, settings, row.user_id, row.family_id)


async def end_sessions(session: AsyncSession, user_id: uuid.UUID) -> None:
    """Every refresh token and access token of the user stops working (password reset,
    disabling: a re-enabled user starts from a fresh login)."""
    await session.execute(
        update(RefreshToken)
        .where(RefreshToken.user_id == user_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=func.now())
    )
    await session.execute(
        update(User).where(User.id == user_id).values(tokens_valid_after=datetime.now(UTC))
    )


async def revoke_family(session: AsyncSession, family_id: uuid.UUID) -> None:
    await session.execute(
        update(RefreshToken)
        .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=func.now())
    )


async def logout(session: AsyncSession, principal: Principal, refresh_token: str | None) -> None:
    """Revoke the refresh token's family (when given) and every access token issued so far."""
    if refresh_token:
        row = (
            await session.execute(
                select(RefreshToken).where(
                    RefreshToken.token_hash == hash_opaque_token(refresh_token),
                    RefreshToken.user_id == principal.id,
                )
            )
        ).scalar_one_or_none()
        if row is not None:
            await revoke_family(session, row.family_id)
    if principal.kind == "user":
        await session.execute(
            update(User).where(User.id == principal.id).values(tokens_valid_after=datetime.now(UTC))
        )
    await audit.record(session, principal, "logout", "auth", principal.id)


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise Unprocessable(
            f"the password must have at least {MIN_PASSWORD_LENGTH} characters",
            loc=["body", "password"],
        )


async def create_user(
    session: AsyncSession,
    *,
    email: str,
    full_name: str,
    role: Role,
    password: str,
    organization_id: uuid.UUID | None = None,
    actor: Principal | None = None,
) -> User:
    check_password(password)
    if role is Role.partner and organization_id is None:
        raise Unprocessable(
            "a partner user needs an organization_id", loc=["body", "organization_id"]
        )
    if role is not Role.partner and organization_id is not None:
        raise Unprocessable(
            "only partner users belong to an organization", loc=["body", "organization_id"]
        )
    await check_organization(session, organization_id)
    taken = await session.scalar(
        select(func.count()).where(
            func.lower(User.email) == email.strip().lower(), User.deleted_at.is_(None)
        )
    )
    if taken:
        raise Conflict("a user with this email already exists")
    user = User(
        email=email.strip(),
        full_name=full_name,
        role=role.value,
        organization_id=organization_id,
        password_hash=hash_password(password),
    )
    session.add(user)
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError:
        raise Conflict("a user with this email already exists") from None
    await audit.record(
        session,
        actor,
        "create",
        "users",
        user.id,
        ["email", "full_name", "role", "organization_id", "password"],
    )
    return user


async def count_users(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(User)) or 0)
