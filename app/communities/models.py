"""Tables: communities, their facilitators, and their yearly development index (IDM or
Indeks Desa)."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import CheckConstraint, DateTime, Index, Numeric, String, func, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlmodel import Field, SQLModel

from app.core.models import ResourceMixin, empty_list, enum_check, utcnow


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
        default_factory=empty_list,
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


class DevelopmentScheme(StrEnum):
    """Which index a yearly entry is: IDM (Permendesa PDTT 2/2016, up to 2024) or Indeks
    Desa (Permendesa PDTT 9/2024, from the 2024 measurement on)."""

    idm = "idm"
    indeks_desa = "indeks_desa"


INDEKS_DESA_DIMENSIONS = (
    "layanan_dasar",
    "sosial",
    "ekonomi",
    "lingkungan",
    "aksesibilitas",
    "tata_kelola",
)
_IDM_COLUMNS = ("iks", "ike", "ikl", "idm_score", "idm_status")


class DevelopmentIndex(ResourceMixin, table=True):
    """The village development index of one community for one year and scheme: IDM (three
    sub-indices; score and status derived) or Indeks Desa (six dimensions; the score and
    status published by the ministry, stored as given)."""

    __tablename__ = "development_indices"
    __table_args__ = (
        enum_check("idm_status", IdmStatus),
        enum_check("scheme", DevelopmentScheme),
        enum_check("status", IdmStatus),
        CheckConstraint(
            "scheme <> 'idm' OR ("
            + " AND ".join(f"{c} IS NOT NULL" for c in _IDM_COLUMNS)
            + " AND score IS NULL AND status IS NULL AND "
            + " AND ".join(f"{d} IS NULL" for d in INDEKS_DESA_DIMENSIONS)
            + ")",
            name="idm_fields",
        ),
        CheckConstraint(
            "scheme <> 'indeks_desa' OR (score IS NOT NULL AND status IS NOT NULL AND "
            + " AND ".join(f"{c} IS NULL" for c in _IDM_COLUMNS)
            + ")",
            name="indeks_desa_fields",
        ),
        Index(
            "uq_development_indices_community_year_scheme_live",
            "community_id",
            "year",
            "scheme",
            unique=True,
            postgresql_where=text("deleted_at IS NULL"),
        ),
        Index("ix_development_indices_created_at_id", "created_at", "id"),
    )

    community_id: uuid.UUID = Field(foreign_key="communities.id", nullable=False, index=True)
    year: int = Field(nullable=False)
    scheme: str = Field(
        default="idm", max_length=20, nullable=False, sa_column_kwargs={"server_default": "idm"}
    )
    # IDM (scheme idm): the three sub-indices (0..1), score and status derived from them.
    iks: Decimal | None = Field(default=None, sa_type=Numeric(5, 4), nullable=True)
    ike: Decimal | None = Field(default=None, sa_type=Numeric(5, 4), nullable=True)
    ikl: Decimal | None = Field(default=None, sa_type=Numeric(5, 4), nullable=True)
    idm_score: Decimal | None = Field(default=None, sa_type=Numeric(5, 4), nullable=True)
    idm_status: str | None = Field(default=None, max_length=20, nullable=True)
    # Indeks Desa (scheme indeks_desa): six dimension scores (0..100) and the published
    # score (0..100) and status.
    layanan_dasar: Decimal | None = Field(default=None, sa_type=Numeric(5, 2), nullable=True)
    sosial: Decimal | None = Field(default=None, sa_type=Numeric(5, 2), nullable=True)
    ekonomi: Decimal | None = Field(default=None, sa_type=Numeric(5, 2), nullable=True)
    lingkungan: Decimal | None = Field(default=None, sa_type=Numeric(5, 2), nullable=True)
    aksesibilitas: Decimal | None = Field(default=None, sa_type=Numeric(5, 2), nullable=True)
    tata_kelola: Decimal | None = Field(default=None, sa_type=Numeric(5, 2), nullable=True)
    score: Decimal | None = Field(default=None, sa_type=Numeric(5, 2), nullable=True)
    status: str | None = Field(default=None, max_length=20, nullable=True)
