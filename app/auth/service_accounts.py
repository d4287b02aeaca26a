"""Service accounts: OAuth2 client credentials for partner systems.

Secrets are 256 random bits shown once and stored as SHA-256. A rotation keeps
the old secret valid for a grace period; a revocation stops the account's
tokens at once (the account is reloaded on every request, like a user).
"""

from __future__ import annotations

import hmac
import secrets
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.models import LoginFailure, Role, ServiceAccount
from app.auth.service import IssuedTokens, account_key, check_throttle, record_failure
from app.auth.tokens import TokenService, hash_opaque_token, new_opaque_token
from app.core.config import Settings
from app.core.errors import BadRequest, Unauthorized
from app.core.principal import Principal

WRONG_CLIENT = "the client credentials are not valid"


def new_client_id() -> str:
    return "sa_" + secrets.token_hex(12)


def new_secret() -> tuple[str, str]:
    secret = new_opaque_token()
    return secret, hash_opaque_token(secret)


def _matches(secret: str, stored: str | None) -> bool:
    return stored is not None and hmac.compare_digest(hash_opaque_token(secret), stored)


def rotate(account: ServiceAccount, grace_seconds: int) -> str:
    secret, digest = new_secret()
    account.previous_secret_hash = account.secret_hash
    account.previous_secret_expires_at = datetime.now(UTC) + timedelta(seconds=grace_seconds)
    account.secret_hash = digest
    return secret


async def client_credentials_grant(
    session: AsyncSession,
    tokens: TokenService,
    settings: Settings,
    client_id: str | None,
    client_secret: str | None,
    address: str | None,
) -> IssuedTokens:
    if not client_id or not client_secret:
        raise BadRequest("client_id and client_secret are required for client_credentials")
    await check_throttle(session, settings, client_id, address)
    account = (
        await session.execute(
            select(ServiceAccount).where(
                ServiceAccount.client_id == client_id, ServiceAccount.deleted_at.is_(None)
            )
        )
    ).scalar_one_or_none()
    now = datetime.now(UTC)
    valid = (
        account is not None
        and account.revoked_at is None
        and (
            _matches(client_secret, account.secret_hash)
            or (
                account.previous_secret_expires_at is not None
                and account.previous_secret_expires_at > now
                and _matches(client_secret, account.previous_secret_hash)
            )
        )
    )
    if not valid or account is None:
        await record_failure(session, client_id, address)
        await session.commit()
        raise Unauthorized(WRONG_CLIENT)
    account.last_used_at = now
    await session.execute(delete(LoginFailure).where(LoginFailure.key == account_key(client_id)))
    access, expires_in = tokens.issue(str(account.id))
    return IssuedTokens(access, expires_in, None)


async def load_principal(
    session: AsyncSession, account_id: uuid.UUID, issued_at: float
) -> Principal | None:
    row = (
        await session.execute(
            select(
                ServiceAccount.id,
                ServiceAccount.role,
                ServiceAccount.organization_id,
                ServiceAccount.revoked_at,
                ServiceAccount.name,
            ).where(ServiceAccount.id == account_id, ServiceAccount.deleted_at.is_(None))
        )
    ).first()
    if row is None or row.revoked_at is not None:
        return None
    return Principal(
        id=row.id,
        kind="service_account",
        role=Role(row.role),
        organization_id=row.organization_id,
        full_name=row.name,
    )
