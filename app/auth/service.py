"""Logins, refresh-token rotation, logout, throttling, and user management rules."""

from __future__ import annotations

import contextlib
import hashlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.auth.models import LoginFailure, RefreshToken, Role, ServiceAccount, User
from app.auth.passwords import MIN_PASSWORD_LENGTH, hash_password, verify_password
from app.auth.tokens import TokenService, hash_opaque_token, new_opaque_token
from app.core import audit
from app.core.config import Settings
from app.core.errors import Conflict, TooManyRequests, Unauthorized, Unprocessable
from app.core.i18n import M
from app.core.principal import Principal
from app.partners.models import Partner

WRONG_CREDENTIALS = M.wrong_credentials


async def organization_is_live(session: AsyncSession, organization_id: uuid.UUID | None) -> bool:
    """No organisation, or a partner organisation not deleted."""
    if organization_id is None:
        return True
    found = await session.scalar(
        select(func.count()).where(Partner.id == organization_id, Partner.deleted_at.is_(None))
    )
    return bool(found)


async def check_organization(session: AsyncSession, organization_id: uuid.UUID | None) -> None:
    """422 unless ``organization_id`` is a live partner organisation (or None)."""
    if not await organization_is_live(session, organization_id):
        raise Unprocessable(M.partner_org_not_found, loc=["body", "organization_id"])


async def end_organization_access(
    session: AsyncSession, organization_id: uuid.UUID, actor: Principal
) -> None:
    """A partner organisation deleted: its users are disabled with their sessions ended,
    its service accounts revoked. Restoring the organisation brings none of them back;
    an admin re-enables each user (PATCH is_active) or creates a new service account."""
    users = (
        await session.scalars(
            select(User.id).where(
                User.organization_id == organization_id,
                User.deleted_at.is_(None),
                col(User.is_active).is_(True),
            )
        )
    ).all()
    for user_id in users:
        await session.execute(update(User).where(User.id == user_id).values(is_active=False))
        await end_sessions(session, user_id)
        await audit.record(session, actor, "disable", "users", user_id, ["is_active"])
    accounts = (
        await session.scalars(
            select(ServiceAccount.id).where(
                ServiceAccount.organization_id == organization_id,
                ServiceAccount.deleted_at.is_(None),
                ServiceAccount.revoked_at.is_(None),
            )
        )
    ).all()
    for account_id in accounts:
        await session.execute(
            update(ServiceAccount)
            .where(ServiceAccount.id == account_id)
            .values(revoked_at=datetime.now(UTC))
        )
        await audit.record(session, actor, "revoke", "service_accounts", account_id, ["revoked_at"])


@dataclass(frozen=True)
class IssuedTokens:
    access_token: str
    expires_in: int
    refresh_token: str | None


def account_key(email: str) -> str:
    """Throttling key of an account: a digest, so emails do not sit in the failures table."""
    return "account:" + _digest(email.strip().lower())


def address_key(address: str | None) -> str:
    return "address:" + (address or "unknown")[:80]


def pair_key(email: str, address: str | None) -> str:
    """One account tried from one address."""
    return "pair:" + _digest(f"{email.strip().lower()}|{address or 'unknown'}")


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:40]


def _throttles(settings: Settings, email: str, address: str | None) -> list[tuple[str, int]]:
    """(key, limit) pairs, each counted over ``login_window_seconds`` (SECURITY.md):
    an account from one address (small), one address over every account, and an account
    from every address (a ceiling well above the first, against distributed guessing).
    An attacker elsewhere therefore cannot lock the owner out with a handful of tries."""
    return [
        (pair_key(email, address), settings.login_max_failures_per_account_address),
        (address_key(address), settings.login_max_failures_per_address),
        (account_key(email), settings.login_max_failures_per_account),
    ]


async def lock_account(session: AsyncSession, email: str) -> None:
    """Serialise the attempts on one account until this transaction ends, so that counting
    failures and recording one are atomic (40 parallel guesses get exactly the limit)."""
    await session.execute(
        select(func.pg_advisory_xact_lock(func.hashtextextended(account_key(email), 0)))
    )


async def check_throttle(
    session: AsyncSession, settings: Settings, email: str, address: str | None
) -> None:
    """429 with Retry-After when a throttle's limit is reached. A refused attempt counts
    against its account-and-address pair, so hammering on makes the wait grow there only."""
    window = timedelta(seconds=settings.login_window_seconds)
    now = datetime.now(UTC)
    for key, limit in _throttles(settings, email, address):
        # The limit-th most recent failure: once it leaves the window, fewer than
        # ``limit`` remain and the key may try again.
        edge = await session.scalar(
            select(LoginFailure.at)
            .where(LoginFailure.key == key, LoginFailure.at >= now - window)
            .order_by(col(LoginFailure.at).desc())
            .offset(limit - 1)
            .limit(1)
        )
        if edge is not None:
            pair = _throttles(settings, email, address)[0][0]
            session.add(LoginFailure(key=pair))
            await session.commit()
            retry = int((edge + window - now).total_seconds()) + 1
            raise TooManyRequests(
                M.too_many_logins,
                headers={"Retry-After": str(max(retry, 1))},
            )


async def record_failure(
    session: AsyncSession, settings: Settings, email: str, address: str | None
) -> None:
    """Count a failed attempt against every throttle; committed at once, since the
    request fails after it."""
    for key, _limit in _throttles(settings, email, address):
        session.add(LoginFailure(key=key))
    await session.commit()


async def clear_failures(
    session: AsyncSession, settings: Settings, email: str, address: str | None
) -> None:
    """A success forgets the failures of this account from this address (not the
    address's own count, nor the account's from elsewhere)."""
    await session.execute(
        delete(LoginFailure).where(
            col(LoginFailure.key).in_([account_key(email), pair_key(email, address)])
        )
    )


async def _issue(
    session: AsyncSession,
    tokens: TokenService,
    settings: Settings,
    user_id: uuid.UUID,
    family_id: uuid.UUID | None = None,
) -> IssuedTokens:
    family_id = family_id or uuid.uuid4()
    access, expires_in = tokens.issue(str(user_id), session_id=family_id.hex)
    refresh = new_opaque_token()
    session.add(
        RefreshToken(
            family_id=family_id,
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
    await lock_account(session, email)
    await check_throttle(session, settings, email, address)
    user = (
        await session.execute(
            select(User).where(
                func.lower(User.email) == email.strip().lower(), User.deleted_at.is_(None)
            )
        )
    ).scalar_one_or_none()
    valid = verify_password(password, user.password_hash if user else None)
    if (
        user is None
        or not valid
        or not user.is_active
        or not await organization_is_live(session, user.organization_id)
    ):
        await record_failure(session, settings, email, address)
        raise Unauthorized(WRONG_CREDENTIALS)
    await clear_failures(session, settings, email, address)
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
        # A spent token presented again: someone holds a copy. The family ends, and so
        # does every access token of the user (those issued from the family among them).
        await revoke_family(session, row.family_id)
        await end_access_tokens(session, row.user_id)
        # The revocation must survive the 401 that follows: commit it now.
        await session.commit()
        raise Unauthorized(WRONG_CREDENTIALS)
    user = await session.get(User, row.user_id)
    if (
        user is None
        or not user.is_active
        or user.deleted_at is not None
        or not await organization_is_live(session, user.organization_id)
    ):
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
    await end_access_tokens(session, user_id)


async def end_access_tokens(session: AsyncSession, user_id: uuid.UUID) -> None:
    """Every access token issued to the user until now is refused from now on."""
    await session.execute(
        update(User).where(User.id == user_id).values(tokens_valid_after=datetime.now(UTC))
    )


async def revoke_family(session: AsyncSession, family_id: uuid.UUID) -> None:
    await session.execute(
        update(RefreshToken)
        .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=func.now())
    )


async def logout(
    session: AsyncSession,
    principal: Principal,
    refresh_token: str | None,
    session_id: str | None,
) -> None:
    """Log out: the refresh family of this session (``sid`` of the access token) and of
    ``refresh_token`` when given, and every access token issued so far. A service account
    ends every token it holds (it gets a new one with its secret)."""
    families: list[uuid.UUID] = []
    if principal.kind == "user":
        if session_id is not None:
            with contextlib.suppress(ValueError):  # a sid we did not issue: nothing to end
                families.append(uuid.UUID(hex=session_id))
        if refresh_token:
            family = await session.scalar(
                select(RefreshToken.family_id).where(
                    RefreshToken.token_hash == hash_opaque_token(refresh_token),
                    RefreshToken.user_id == principal.id,
                )
            )
            if family is not None:
                families.append(family)
        for family in families:
            await revoke_family(session, family)
        await end_access_tokens(session, principal.id)
    else:
        await session.execute(
            update(ServiceAccount)
            .where(ServiceAccount.id == principal.id)
            .values(tokens_valid_after=datetime.now(UTC))
        )
    await audit.record(session, principal, "logout", "auth", principal.id)


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise Unprocessable(
            M.password_too_short(length=MIN_PASSWORD_LENGTH),
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
        raise Unprocessable(M.partner_user_needs_org, loc=["body", "organization_id"])
    if role is not Role.partner and organization_id is not None:
        raise Unprocessable(M.only_partner_users_org, loc=["body", "organization_id"])
    await check_organization(session, organization_id)
    taken = await session.scalar(
        select(func.count()).where(
            func.lower(User.email) == email.strip().lower(), User.deleted_at.is_(None)
        )
    )
    if taken:
        raise Conflict(M.email_taken)
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
        raise Conflict(M.email_taken) from None
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
