"""Base pieces of every table: ids, timestamps, soft delete, version, naming convention."""

from __future__ import annotations

import os
import time
import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import CheckConstraint, DateTime, MetaData, func
from sqlmodel import Field, SQLModel

# Deterministic constraint names so migrations can address them.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata: MetaData = SQLModel.metadata


def utcnow() -> datetime:
    return datetime.now(UTC)


def empty_list() -> list[Any]:
    """``default_factory`` of list columns on table models. Not ``list``: for every row a
    table model builds, pydantic inspects the factory's signature, and a builtin's is
    parsed from text (~60 µs each, a third of building a ``Person``)."""
    return []


def empty_dict() -> dict[str, Any]:
    """As ``empty_list``, for mapping columns."""
    return {}


def uuid7() -> uuid.UUID:
    """Time-ordered UUID (version 7 layout): new rows land at the end of the primary-key
    index instead of at random pages, which keeps inserts and keyset scans cheap."""
    unix_ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (unix_ms & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76  # version
    value |= ((rand >> 62) & 0xFFF) << 64  # rand_a
    value |= 0b10 << 62  # variant
    value |= rand & ((1 << 62) - 1)  # rand_b
    return uuid.UUID(int=value)


class IdMixin(SQLModel):
    id: uuid.UUID = Field(default_factory=uuid7, primary_key=True)


class TimestampMixin(SQLModel):
    created_at: datetime = Field(
        default_factory=utcnow,
        sa_type=DateTime(timezone=True),
        sa_column_kwargs={"server_default": func.now()},
        nullable=False,
    )
    updated_at: datetime = Field(
        default_factory=utcnow,
        sa_type=DateTime(timezone=True),
        sa_column_kwargs={"server_default": func.now()},
        nullable=False,
        index=True,
    )


class ResourceMixin(IdMixin, TimestampMixin):
    """Everything a public resource has: id, timestamps, soft delete and a version for ETags."""

    deleted_at: datetime | None = Field(
        default=None,
        sa_type=DateTime(timezone=True),
        nullable=True,
    )
    version: int = Field(default=1, nullable=False, sa_column_kwargs={"server_default": "1"})


def enum_check(column: str, enum: type[StrEnum], name: str | None = None) -> CheckConstraint:
    """Enums are text plus a check constraint: adding a value is a small migration."""
    values = ", ".join(f"'{member.value}'" for member in enum)
    return CheckConstraint(f"{column} IN ({values})", name=name or f"{column}_valid")
