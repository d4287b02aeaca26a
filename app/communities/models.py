"""Tables: communities, their facilitators, and their yearly development index (IDM)."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import DateTime, Index, Numeric, String, func, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlmodel import Field, SQLModel

from app.core.models import ResourceMixin, enum_check, utcnow


class CommunityKind(StrEnum):
    desa = "desa"
    kelurahan = "kelurahan"
    dusun = "dusun"
    kelompok = "kelompok"
    komunitas_adat = "komunitas_adat"
    other = "other"


class IdmStatus(StrEnum):
    sangat_tertinggal = "sangat_tertinggal"
    tertinggal = "tertinggal"
    berkembang = "berkembang"
    maju = "maju"
    mandiri = "mandiri"


IDM_STATUS_ORDER = [status.value for status in IdmStatus]  # from lowest to highest


class Community(ResourceMixin, table=True):
    __tablename__ = "communities"
    __table_args__ = (
        enum_check("kind", CommunityKind),
        Index("ix_communities_created_at_id", "created_at", "id"),
        Index("ix_communities_name_id", "name", "id"),
        Index(
            "ix_communities_region_code_pattern",
            "region_code",
            postgresql_ops={"region_code": "text_pattern_ops"},
        ),
    )

    name: str = Field(max_length=200, nullable=False)
    kind: str = Field(max_length=20, nullable=False)
    region_code: str = Field(max_length=13, nullable=False)
    description: str | None = Field(default=None, max_length=5000, nullable=True)
    population: int | None = Field(default=None, nullable=True)
    households: int | None = Field(default=None, nullable=True)
    latitude: float | None = Field(default=None, nullable=True)
    longitude: float | None = Field(default=None, nullable=True)
    potentials: list[str] = Field(
        default_factory=list,
        sa_type=ARRAY(String()),
        nullable=False,
        sa_column_kwargs={"server_default": "{}"},
    )


class CommunityFacilitator(SQLModel, table=True):
    """A facilitator assigned to a community: the facilitator's whole scope."""

    __tablename__ = "community_facilitators"

    community_id: uuid.UUID = Field(
        foreign_key="communities.id", primary_key=True, ondelete="CASCADE"
    )
    user_id: uuid.UUID = Field(
        foreign_key="users.id", primary_key=True, index=True, ondelete="CASCADE"
    )
    assigned_at: datetime = Field(
        default_factory=utcnow,
        sa_type=DateTime(timezone=True),
        nullable=False,
        sa_column_kwargs={"server_default": func.now()},
    )


class DevelopmentIndex(ResourceMixin, table=True):
    """The village development index (Indeks Desa Membangun) of one community for one year."""

    __tablename__ = "development_indices"
    __table_args__ = (
        enum_check("idm_status", IdmStatus),
        Index(
            "uq_development_indices_community_year_live",
            "community_id",
            "year",
            unique=True,
            postgresql_where=text("deleted_at IS NULL"),
        ),
        Index("ix_development_indices_created_at_id", "created_at", "id"),
    )

    community_id: uuid.UUID = Field(foreign_key="communities.id", nullable=False, index=True)
    year: int = Field(nullable=False)
    iks: Decimal = Field(sa_type=Numeric(5, 4), nullable=False)
    ike: Decimal = Field(sa_type=Numeric(5, 4), nullable=False)
    ikl: Decimal = Field(sa_type=Numeric(5, 4), nullable=False)
    idm_score: Decimal = Field(sa_type=Numeric(5, 4), nullable=False)
    idm_status: str = Field(max_length=20, nullable=False)
