"""Service accounts: OAuth2 client credentials for partner systems.

Secrets are 256 random bits shown once and stored as SHA-256. A token carries the
secret it was minted with (``sid``: a prefix of the secret's digest), so it ends with
that secret: a rotation keeps the old secret (and its tokens) valid for a grace period,
0 ending them at once; a revocation, a deleted organisation or a logout
(``tokens_valid_after``) stops the account's tokens at once (the account is reloaded on
every request, like a user).
"""

from __future__ import annotations

import hmac
import secrets
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.models import Role, ServiceAccount
from app.auth.service import (
    IssuedTokens,
    check_throttle,
    clear_failures,
    lock_account,
    organization_is_live,
    record_failure,
)
from app.auth.tokens import TokenService, hash_opaque_token, new_opaque_token
from app.core.config import Settings
from app.core.errors import BadRequest, Unauthorized
from app.core.i18n import M
from app.core.principal import Principal
from app.partners.models import Partner

WRONG_CLIENT = M.wrong_client


def new_client_id() -> str:
    return "sa_" + secrets.token_hex(12)


def new_secret() -> tuple[str, str]:
    secret = new_opaque_token()
    return secret, hash_opaque_token(secret)


def _matches(secret: str, stored: str | None) -> bool:
    return stored is not None and hmac.compare_digest(hash_opaque_token(secret), stored)


def rotate(account: ServiceAccount, grace_seconds: int) -> str:
    """A new secret; the old one (and the tokens minted with it) works ``grace_seconds``
    more, none at all with 0."""
    secret, digest = new_secret()
    if grace_seconds > 0:
        account.previous_secret_hash = account.secret_hash
        account.previous_secret_expires_at = datetime.now(UTC) + timedelta(seconds=grace_seconds)
    else:
        account.previous_secret_hash = None
        account.previous_secret_expires_at = None
    account.secret_hash = digest
    return secret


def secret_id(secret_hash: str) -> str:
    """What a token says of the secret it was minted with: not enough to find the secret."""
    return secret_hash[:16]


async def client_credentials_grant(
    session: AsyncSession,
    tokens: TokenService,
    settings: Settings,
    client_id: str | None,
    client_secret: str | None,
    address: str | None,
) -> IssuedTokens:
    if not client_id or not client_secret:
        raise BadRequest(M.client_grant_fields)
    await lock_account(session, client_id)
    await check_throttle(session, settings, client_id, address)
    account = (
        await session.execute(
            select(ServiceAccount).where(
                ServiceAccount.client_id == client_id, ServiceAccount.deleted_at.is_(None)
            )
        )
    ).scalar_one_or_none()
    now = datetime.now(UTC)
    used: str | None = None
    if account is not None and account.revoked_at is None:
        if _matches(client_secret, account.secret_hash):
            used = account.secret_hash
        elif (
            account.previous_secret_expires_at is not None
            and account.previous_secret_expires_at > now
            and _matches(client_secret, account.previous_secret_hash)
        ):
            used = account.previous_secret_hash
    if (
        account is None
        or used is None
        or not await organization_is_live(session, account.organization_id)
    ):
        await record_failure(session, settings, client_id, address)
        raise Unauthorized(WRONG_CLIENT)
    account.last_used_at = now
    await clear_failures(session, settings, client_id, address)
    access, expires_in = tokens.issue(str(account.id), session_id=secret_id(used))
    return IssuedTokens(access, expires_in, None)


async def load_principal(
    session: AsyncSession, account_id: uuid.UUID, issued_at: float, token_secret: str | None
) -> Principal | None:
    """The account behind a token, if the token still holds: account live and not revoked,
    organisation live, issued after the last logout, minted with a secret still valid."""
    row = (
        await session.execute(
            select(ServiceAccount, Partner.deleted_at)
            .outerjoin(Partner, Partner.id == ServiceAccount.organization_id)
            .where(ServiceAccount.id == account_id, ServiceAccount.deleted_at.is_(None))
        )
    ).first()
    if row is None:
        return None
    account, organization_deleted_at = row
    if account.revoked_at is not None or organization_deleted_at is not None:
        return None
    if (
        account.tokens_valid_after is not None
        and issued_at < account.tokens_valid_after.timestamp()
    ):
        return None
    current = token_secret == secret_id(account.secret_hash)
    previous = (
        account.previous_secret_hash is not None
        and token_secret == secret_id(account.previous_secret_hash)
        and account.previous_secret_expires_at is not None
        and account.previous_secret_expires_at > datetime.now(UTC)
    )
    if not (current or previous):
        return None
    return Principal(
        id=account.id,
        kind="service_account",
        role=Role(account.role),
        organization_id=account.organization_id,
        full_name=account.name,
    )
