"""Tables: village planning proposals (usulan), their links to findings and programs, the
planning record of their status changes, and their funding lines (APBDes and others).

The path follows Permendagri 114/2014 (musdus → musdes → Musrenbang Desa → RKP Desa →
APBDes) and the APBDes fields (bidang 1 to 5) of Permendagri 20/2018.
"""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import BigInteger, CheckConstraint, Date, Index, Numeric, Text, text
from sqlmodel import Field, SQLModel

from app.core.models import ResourceMixin, enum_check


class OriginForum(StrEnum):
    musdus = "musdus"
    musdes = "musdes"
    musrenbang_desa = "musrenbang_desa"
    musrenbang_kecamatan = "musrenbang_kecamatan"


class Forum(StrEnum):
    """Where a status change was decided (transitions)."""

    musdus = "musdus"
    musdes = "musdes"
    musrenbang_desa = "musrenbang_desa"
    musrenbang_kecamatan = "musrenbang_kecamatan"
    musrenbang_kabupaten = "musrenbang_kabupaten"
    musyawarah_bpd = "musyawarah_bpd"
    other = "other"


class FundingSource(StrEnum):
    dana_desa = "dana_desa"
    add = "add"
    pades = "pades"
    bagi_hasil = "bagi_hasil"
    bantuan_keuangan_provinsi = "bantuan_keuangan_provinsi"
    bantuan_keuangan_kabupaten = "bantuan_keuangan_kabupaten"
    apbd = "apbd"
    apbn = "apbn"
    partner = "partner"
    swadaya = "swadaya"


class ProposalStatus(StrEnum):
    draft = "draft"
    agreed = "agreed"
    in_rkp_desa = "in_rkp_desa"
    in_apbdes = "in_apbdes"
    realised = "realised"
    forwarded = "forwarded"
    accommodated = "accommodated"
    not_accommodated = "not_accommodated"
    deferred = "deferred"
    rejected = "rejected"


# The lifecycle (API.md §8). ``rejected`` from every open state; ``deferred`` from agreed or
# in_rkp_desa and then closed for this year (``carry-over`` makes next year's draft).
PROPOSAL_MACHINE: dict[str, set[str]] = {
    "draft": {"agreed", "rejected"},
    "agreed": {"in_rkp_desa", "forwarded", "deferred", "rejected"},
    "in_rkp_desa": {"in_apbdes", "deferred", "rejected"},
    "in_apbdes": {"realised", "rejected"},
    "forwarded": {"accommodated", "not_accommodated", "rejected"},
    "realised": set(),
    "accommodated": set(),
    "not_accommodated": set(),
    "deferred": set(),
    "rejected": set(),
}
OPEN_STATUSES = frozenset(s for s, moves in PROPOSAL_MACHINE.items() if moves)
# Statuses a proposal has reached once it is in the village plan or budget (report funnel).
IN_RKP_OR_LATER = frozenset({"in_rkp_desa", "in_apbdes", "realised"})
IN_APBDES_OR_LATER = frozenset({"in_apbdes", "realised"})
# No funding is recorded on what will not be carried out.
UNFUNDABLE = frozenset({"rejected", "not_accommodated"})

# APBDes fields (bidang) of Permendagri 20/2018.
BIDANG = {
    1: "Penyelenggaraan Pemerintahan Desa",
    2: "Pelaksanaan Pembangunan Desa",
    3: "Pembinaan Kemasyarakatan Desa",
    4: "Pemberdayaan Masyarakat Desa",
    5: "Penanggulangan Bencana, Keadaan Darurat dan Mendesak Desa",
}


class PlanningProposal(ResourceMixin, table=True):
    __tablename__ = "planning_proposals"
    __table_args__ = (
        enum_check("status", ProposalStatus),
        enum_check("origin_forum", OriginForum),
        enum_check("proposed_funding_source", FundingSource),
        CheckConstraint("bidang BETWEEN 1 AND 5", name="bidang_range"),
        CheckConstraint("planning_year BETWEEN 2015 AND 2100", name="planning_year_range"),
        CheckConstraint("estimated_cost_amount >= 0", name="estimated_cost_non_negative"),
        CheckConstraint(
            "funding_planned_amount >= 0 AND funding_realised_amount >= 0",
            name="funding_totals_non_negative",
        ),
        CheckConstraint(
            "coalesce(beneficiaries_female, 0) >= 0 AND coalesce(beneficiaries_male, 0) >= 0 "
            "AND coalesce(beneficiaries_poor_households, 0) >= 0 "
            "AND coalesce(beneficiaries_disability, 0) >= 0",
            name="beneficiaries_non_negative",
        ),
        Index("ix_planning_proposals_created_at_id", "created_at", "id"),
        Index(
            "ix_planning_proposals_community_id_year",
            "community_id",
            "planning_year",
        ),
        # A deferred proposal is carried over once (to one live draft of the next year).
        Index(
            "uq_planning_proposals_carried_over_from_live",
            "carried_over_from_id",
            unique=True,
            postgresql_where=text("carried_over_from_id IS NOT NULL AND deleted_at IS NULL"),
        ),
    )

    community_id: uuid.UUID = Field(foreign_key="communities.id", nullable=False)
    title: str = Field(max_length=300, nullable=False)
    planning_year: int = Field(nullable=False)
    origin_forum: str = Field(max_length=30, nullable=False)
    proposed_by: str | None = Field(default=None, max_length=200, nullable=True)
    bidang: int = Field(nullable=False)
    kegiatan: str | None = Field(default=None, max_length=300, nullable=True)
    location: str | None = Field(default=None, max_length=300, nullable=True)
    volume: Decimal | None = Field(default=None, sa_type=Numeric(14, 2), nullable=True)
    unit: str | None = Field(default=None, max_length=60, nullable=True)
    beneficiaries_female: int | None = Field(default=None, nullable=True)
    beneficiaries_male: int | None = Field(default=None, nullable=True)
    beneficiaries_poor_households: int | None = Field(default=None, nullable=True)
    beneficiaries_disability: int | None = Field(default=None, nullable=True)
    estimated_cost_amount: int = Field(sa_type=BigInteger, nullable=False)
    proposed_funding_source: str = Field(max_length=40, nullable=False)
    status: str = Field(
        default="draft", max_length=20, nullable=False, sa_column_kwargs={"server_default": "draft"}
    )
    carried_over_from_id: uuid.UUID | None = Field(
        default=None, foreign_key="planning_proposals.id", nullable=True
    )
    # Sums of the live funding lines; maintained by the service, never sent.
    funding_planned_amount: int = Field(
        default=0, sa_type=BigInteger, nullable=False, sa_column_kwargs={"server_default": "0"}
    )
    funding_realised_amount: int = Field(
        default=0, sa_type=BigInteger, nullable=False, sa_column_kwargs={"server_default": "0"}
    )


class ProposalFinding(SQLModel, table=True):
    __tablename__ = "planning_proposal_findings"

    proposal_id: uuid.UUID = Field(
        foreign_key="planning_proposals.id", primary_key=True, ondelete="CASCADE"
    )
    finding_id: uuid.UUID = Field(foreign_key="findings.id", primary_key=True, index=True)


class ProposalProgram(SQLModel, table=True):
    __tablename__ = "planning_proposal_programs"

    proposal_id: uuid.UUID = Field(
        foreign_key="planning_proposals.id", primary_key=True, ondelete="CASCADE"
    )
    program_id: uuid.UUID = Field(foreign_key="programs.id", primary_key=True, index=True)


class ProposalTransition(ResourceMixin, table=True):
    """The planning record of one status change: the forum that decided it, on which date,
    with which document (berita acara, RKP Desa, perdes APBDes). The generic status history
    (``status_transitions``) holds the same move for the cross-resource trail; this table
    holds what a Musrenbang record needs, and is exported."""

    __tablename__ = "planning_proposal_transitions"
    __table_args__ = (
        enum_check("from_status", ProposalStatus),
        enum_check("to_status", ProposalStatus),
        CheckConstraint(
            "forum IS NULL OR forum IN (" + ", ".join(f"'{f.value}'" for f in Forum) + ")",
            name="forum_valid",
        ),
        Index("ix_planning_proposal_transitions_proposal_id", "proposal_id", "decided_on"),
        Index("ix_planning_proposal_transitions_created_at_id", "created_at", "id"),
    )

    proposal_id: uuid.UUID = Field(foreign_key="planning_proposals.id", nullable=False)
    from_status: str = Field(max_length=20, nullable=False)
    to_status: str = Field(max_length=20, nullable=False)
    decided_on: date = Field(sa_type=Date, nullable=False)
    forum: str | None = Field(default=None, max_length=30, nullable=True)
    document_ref: str | None = Field(default=None, max_length=200, nullable=True)
    note: str | None = Field(default=None, sa_type=Text, nullable=True)
    actor_id: uuid.UUID | None = Field(default=None, nullable=True)


class ProposalFunding(ResourceMixin, table=True):
    """One funding line: what a source plans (and has realised) for a fiscal year."""

    __tablename__ = "planning_proposal_funding"
    __table_args__ = (
        enum_check("source", FundingSource),
        CheckConstraint("fiscal_year BETWEEN 2015 AND 2100", name="fiscal_year_range"),
        CheckConstraint("planned_amount >= 0", name="planned_non_negative"),
        CheckConstraint(
            "realised_amount IS NULL "
            "OR (realised_amount >= 0 AND realised_amount <= planned_amount)",
            name="realised_within_planned",
        ),
        Index(
            "uq_planning_proposal_funding_year_source_live",
            "proposal_id",
            "fiscal_year",
            "source",
            unique=True,
            postgresql_where=text("deleted_at IS NULL"),
        ),
        Index("ix_planning_proposal_funding_created_at_id", "created_at", "id"),
    )

    proposal_id: uuid.UUID = Field(foreign_key="planning_proposals.id", nullable=False)
    fiscal_year: int = Field(nullable=False)
    source: str = Field(max_length=40, nullable=False)
    planned_amount: int = Field(sa_type=BigInteger, nullable=False)
    realised_amount: int | None = Field(default=None, sa_type=BigInteger, nullable=True)
    apbdes_ref: str | None = Field(default=None, max_length=200, nullable=True)
