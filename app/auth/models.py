"""Tables of authentication: users, service accounts, refresh tokens, login failures."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import DateTime, Index, func, text
from sqlmodel import Field, SQLModel

from app.core.models import IdMixin, ResourceMixin, enum_check, utcnow
from app.core.principal import Role

__all__ = ["LoginFailure", "RefreshToken", "Role", "ServiceAccount", "User"]


class User(ResourceMixin, table=True):
    __tablename__ = "users"
    __table_args__ = (
        enum_check("role", Role),
        Index(
            "uq_users_email_live",
            text("lower(email)"),
            unique=True,
            postgresql_where=text("deleted_at IS NULL"),
        ),
    )

    email: str = Field(max_length=254, nullable=False)
    full_name: str = Field(max_length=200, nullable=False)
    role: str = Field(max_length=20, nullable=False)
    # The partner organisation of a partner user.
    organization_id: uuid.UUID | None = Field(
        default=None, foreign_key="partners.id", nullable=True, index=True
    )
    password_hash: str = Field(max_length=255, nullable=False)
    is_active: bool = Field(
        default=True, nullable=False, sa_column_kwargs={"server_default": "true"}
    )
    # Access tokens issued before this instant are refused (set by logout).
    tokens_valid_after: datetime | None = Field(
        default=None,
        sa_type=DateTime(timezone=True),
        nullable=True,
    )
    last_login_at: datetime | None = Field(
        default=None,
        sa_type=DateTime(timezone=True),
        nullable=True,
    )


class RefreshToken(IdMixin, table=True):
    """One opaque refresh token; a family is the chain of rotations from one login."""

    __tablename__ = "refresh_tokens"

    family_id: uuid.UUID = Field(nullable=False, index=True)
    user_id: uuid.UUID = Field(
        foreign_key="users.id", nullable=False, index=True, ondelete="CASCADE"
    )
    token_hash: str = Field(max_length=64, nullable=False, unique=True)
    created_at: datetime = Field(
        default_factory=utcnow,
        sa_type=DateTime(timezone=True),
        nullable=False,
        sa_column_kwargs={"server_default": func.now()},
    )
    expires_at: datetime = Field(sa_type=DateTime(timezone=True), nullable=False)
    rotated_at: datetime | None = Field(
        default=None,
        sa_type=DateTime(timezone=True),
        nullable=True,
    )
    revoked_at: datetime | None = Field(
        default=None,
        sa_type=DateTime(timezone=True),
        nullable=True,
    )


class LoginFailure(SQLModel, table=True):
    """A failed login, kept for the throttling window; shared by every worker."""

    __tablename__ = "login_failures"
    __table_args__ = (Index("ix_login_failures_key_at", "key", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    # "account:<sha256 of the lower-cased email>" or "address:<client address>"
    key: str = Field(max_length=100, nullable=False)
    at: datetime = Field(
        default_factory=utcnow,
        sa_type=DateTime(timezone=True),
        nullable=False,
        sa_column_kwargs={"server_default": func.now()},
    )


class ServiceAccount(ResourceMixin, table=True):
    """A machine client of a partner organisation (OAuth2 client credentials)."""

    __tablename__ = "service_accounts"
    __table_args__ = (Index("ix_service_accounts_created_at_id", "created_at", "id"),)

    name: str = Field(max_length=200, nullable=False)
    organization_id: uuid.UUID | None = Field(
        default=None, foreign_key="partners.id", nullable=True, index=True
    )
    role: str = Field(max_length=20, nullable=False)
    client_id: str = Field(max_length=64, nullable=False, unique=True)
    secret_hash: str = Field(max_length=64, nullable=False)
    # After a rotation the old secret keeps working until this instant.
    previous_secret_hash: str | None = Field(default=None, max_length=64, nullable=True)
    previous_secret_expires_at: datetime | None = Field(
        default=None,
        sa_type=DateTime(timezone=True),
        nullable=True,
    )
    revoked_at: datetime | None = Field(
        default=None,
        sa_type=DateTime(timezone=True),
        nullable=True,
    )
    last_used_at: datetime | None = Field(
        default=None,
        sa_type=DateTime(timezone=True),
        nullable=True,
    )
    # Tokens issued before this instant are refused (set by the account's logout).
    tokens_valid_after: datetime | None = Field(
        default=None,
        sa_type=DateTime(timezone=True),
        nullable=True,
    )
