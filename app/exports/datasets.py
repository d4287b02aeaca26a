"""The datasets analysts pull: one definition per dataset, used both to stream the rows
and to describe them in the Frictionless data package, so the two cannot drift."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Table, func, literal, select
from sqlalchemy.sql.elements import ColumnElement

from app.assessments.models import Ballot, Finding, NeedsAssessment
from app.communities.models import INDEKS_DESA_DIMENSIONS, Community, DevelopmentIndex
from app.participation.models import ParticipationRecord
from app.partners.models import Contribution, Partner, Partnership
from app.people.models import Person
from app.people.repository import age_band_sql
from app.planning.models import (
    PlanningProposal,
    ProposalFinding,
    ProposalFunding,
    ProposalProgram,
    ProposalTransition,
)
from app.programs.models import (
    Activity,
    BudgetLine,
    Indicator,
    Measurement,
    Program,
    ProgramCommunity,
    ProgramFinding,
)


@dataclass(frozen=True)
class ExportField:
    name: str
    type: str  # Frictionless: string, integer, number, boolean, date, datetime, array
    description: str
    expr: Any = None  # a column or SQL expression; None for values computed in Python
    # Python-side value from the row mapping (pseudonyms, decrypted values).
    compute: Callable[[dict[str, Any], Any], Any] | None = None
    personal: bool = False  # only in identified exports
    # For a ``person_key``: the person id column it is the pseudonym of. Exports select
    # that id and compute the key in Python (``Hasher.person_key``), once per distinct
    # person: the pseudonym key never reaches the database.
    pseudonym_of: Any = None


@dataclass(frozen=True)
class ForeignKey:
    field: str
    dataset: str
    reference: str = "id"


@dataclass(frozen=True)
class Dataset:
    name: str
    title: str
    table: Table
    fields: list[ExportField]
    foreign_keys: list[ForeignKey] = field(default_factory=list)
    primary_key: str = "id"

    @property
    def id_column(self) -> Any:
        return self.table.c.id

    @property
    def updated_column(self) -> Any:
        return self.table.c.updated_at

    @property
    def deleted_column(self) -> Any:
        return self.table.c.deleted_at

    def emitted(self, identified: bool) -> list[ExportField]:
        """The fields an export writes, in order: identified-only ones for admins only."""
        return [f for f in self.fields if identified or not f.personal]


def _t(model: Any) -> Table:
    table: Table = model.__table__
    return table


def _common(table: Table) -> list[ExportField]:
    return [
        ExportField("id", "string", "Stable identifier (UUID)", table.c.id),
        ExportField("created_at", "datetime", "When the row was created (UTC)", table.c.created_at),
        ExportField(
            "updated_at",
            "datetime",
            "Last change (UTC); resume incremental pulls on it",
            table.c.updated_at,
        ),
    ]


PAD_SETTINGS = ("berdaya.pseudonym_ipad", "berdaya.pseudonym_opad")


def person_key_sql(person_id: Any) -> ColumnElement[str]:
    """``person_key`` computed by PostgreSQL: HMAC-SHA256 from pads set for a transaction
    (see ``Hasher.pseudonym_pads``); equal to ``Hasher.person_key``. The definition of a
    pseudonym field's value in SQL (tests compare the exports with it); exports never run
    it, since the pads would travel as parameters that a statement log could keep."""
    # Uncorrelated scalar subqueries: PostgreSQL decodes each pad once per query (InitPlan).
    ipad, opad = (
        select(func.decode(func.current_setting(name), "hex")).scalar_subquery()
        for name in PAD_SETTINGS
    )
    inner = func.sha256(ipad.op("||")(func.uuid_send(person_id)))
    mac = func.sha256(opad.op("||")(inner))
    return literal("p_").op("||")(func.encode(func.substring(mac, 1, 15), "hex"))


def _decrypt(field_name: str, column: str) -> Callable[[dict[str, Any], Any], Any]:
    def compute(row: dict[str, Any], personal: Any) -> Any:
        stored = row[column]
        return personal.cipher.decrypt(stored, field_name) if stored else None

    return compute


c, di, na, fi = _t(Community), _t(DevelopmentIndex), _t(NeedsAssessment), _t(Finding)
pr, ac, ind, me, bl = (_t(Program), _t(Activity), _t(Indicator), _t(Measurement), _t(BudgetLine))
pe, pa, ba = _t(Person), _t(ParticipationRecord), _t(Ballot)
pt, ps, co = _t(Partner), _t(Partnership), _t(Contribution)
pc, pf = _t(ProgramCommunity), _t(ProgramFinding)
pp, ptr, pfu = _t(PlanningProposal), _t(ProposalTransition), _t(ProposalFunding)
pfi, ppr = _t(ProposalFinding), _t(ProposalProgram)


def _program_links(link: Table, column: str) -> ColumnElement[Any]:
    return func.array(
        link.select()
        .with_only_columns(link.c[column])
        .where(link.c.program_id == pr.c.id)
        .order_by(link.c[column])
        .scalar_subquery()
    )


DATASETS: dict[str, Dataset] = {}


def _register(dataset: Dataset) -> None:
    DATASETS[dataset.name] = dataset


_register(
    Dataset(
        "communities",
        "Communities (villages, groups)",
        c,
        [
            *_common(c),
            ExportField("name", "string", "Community name", c.c.name),
            ExportField(
                "kind",
                "string",
                "desa, kelurahan, dusun, kelompok, komunitas_adat, other",
                c.c.kind,
            ),
            ExportField("region_code", "string", "Kemendagri code PP.RR.DD.VVVV", c.c.region_code),
            ExportField("population", "integer", "Population", c.c.population),
            ExportField("households", "integer", "Households", c.c.households),
            ExportField("latitude", "number", "Latitude (WGS84)", c.c.latitude),
            ExportField("longitude", "number", "Longitude (WGS84)", c.c.longitude),
            ExportField("potentials", "array", "Local potentials", c.c.potentials),
        ],
    )
)
_register(
    Dataset(
        "development-indices",
        "Village development index per year and scheme (IDM, Indeks Desa)",
        di,
        [
            *_common(di),
            ExportField("community_id", "string", "Community", di.c.community_id),
            ExportField("year", "integer", "Year", di.c.year),
            ExportField("scheme", "string", "idm or indeks_desa", di.c.scheme),
            ExportField("iks", "number", "IDM: social resilience index", di.c.iks),
            ExportField("ike", "number", "IDM: economic resilience index", di.c.ike),
            ExportField("ikl", "number", "IDM: ecological resilience index", di.c.ikl),
            ExportField("idm_score", "number", "IDM: (iks + ike + ikl) / 3", di.c.idm_score),
            ExportField(
                "idm_status", "string", "IDM: sangat_tertinggal ... mandiri", di.c.idm_status
            ),
            *(
                ExportField(name, "number", f"Indeks Desa: {name} dimension (0..100)", di.c[name])
                for name in INDEKS_DESA_DIMENSIONS
            ),
            ExportField("score", "number", "Indeks Desa: published score (0..100)", di.c.score),
            ExportField("status", "string", "Indeks Desa: published status", di.c.status),
        ],
        [ForeignKey("community_id", "communities")],
    )
)
_register(
    Dataset(
        "needs-assessments",
        "Needs assessments",
        na,
        [
            *_common(na),
            ExportField("community_id", "string", "Community", na.c.community_id),
            ExportField("title", "string", "Title", na.c.title),
            ExportField("methods", "array", "Methods used", na.c.methods),
            ExportField(
                "status",
                "string",
                "planned, in_progress, completed, validated, cancelled",
                na.c.status,
            ),
            ExportField("started_on", "date", "Start", na.c.started_on),
            ExportField("completed_on", "date", "End", na.c.completed_on),
            ExportField("facilitator_id", "string", "Facilitator (user id)", na.c.facilitator_id),
            ExportField("respondent_count", "integer", "Respondents", na.c.respondent_count),
        ],
        [ForeignKey("community_id", "communities")],
    )
)
_register(
    Dataset(
        "findings",
        "Problems, needs and potentials found",
        fi,
        [
            *_common(fi),
            ExportField("assessment_id", "string", "Needs assessment", fi.c.assessment_id),
            ExportField("kind", "string", "problem, need, potential", fi.c.kind),
            ExportField("category", "string", "education, health, economy, ...", fi.c.category),
            ExportField("title", "string", "Title", fi.c.title),
            ExportField("severity", "integer", "1-5 (problems and needs)", fi.c.severity),
            ExportField("affected_people", "integer", "People affected", fi.c.affected_people),
            ExportField(
                "priority_rank",
                "integer",
                "Community priority (modified Borda count)",
                fi.c.priority_rank,
            ),
        ],
        [ForeignKey("assessment_id", "needs-assessments")],
    )
)
_register(
    Dataset(
        "ballots",
        "Community prioritisation ballots (pseudonymised)",
        ba,
        [
            # person_key first: computed outside the database, it leads every row.
            ExportField(
                "person_key",
                "string",
                "Pseudonym of the voter",
                person_key_sql(ba.c.person_id),
                pseudonym_of=ba.c.person_id,
            ),
            *_common(ba),
            ExportField("assessment_id", "string", "Needs assessment", ba.c.assessment_id),
            ExportField("ranking", "array", "Finding ids, most important first", ba.c.ranking),
        ],
        [
            ForeignKey("assessment_id", "needs-assessments"),
            ForeignKey("person_key", "people", "person_key"),
        ],
    )
)
_register(
    Dataset(
        "programs",
        "Programs",
        pr,
        [
            *_common(pr),
            ExportField("code", "string", "PRG-YYYY-NNNN", pr.c.code),
            ExportField("title", "string", "Title", pr.c.title),
            ExportField("status", "string", "draft ... completed, cancelled", pr.c.status),
            ExportField(
                "community_ids",
                "array",
                "Communities of the program",
                _program_links(pc, "community_id"),
            ),
            ExportField(
                "addressed_finding_ids",
                "array",
                "Findings the program addresses",
                _program_links(pf, "finding_id"),
            ),
            ExportField("objectives", "array", "Objectives", pr.c.objectives),
            ExportField(
                "target_beneficiaries", "integer", "Target beneficiaries", pr.c.target_beneficiaries
            ),
            ExportField("start_date", "date", "Start", pr.c.start_date),
            ExportField("end_date", "date", "End", pr.c.end_date),
            ExportField("funding_source", "string", "Funding source", pr.c.funding_source),
            ExportField("coordinator_id", "string", "Coordinator (user id)", pr.c.coordinator_id),
            ExportField(
                "budget_amount", "integer", "Sum of budget lines (IDR)", pr.c.budget_amount
            ),
        ],
    )
)
_register(
    Dataset(
        "activities",
        "Program activities",
        ac,
        [
            *_common(ac),
            ExportField("program_id", "string", "Program", ac.c.program_id),
            ExportField("community_id", "string", "Community", ac.c.community_id),
            ExportField("title", "string", "Title", ac.c.title),
            ExportField("kind", "string", "training, mentoring, ...", ac.c.kind),
            ExportField("scheduled_start", "datetime", "Start", ac.c.scheduled_start),
            ExportField("scheduled_end", "datetime", "End", ac.c.scheduled_end),
            ExportField("status", "string", "planned, done, cancelled", ac.c.status),
        ],
        [ForeignKey("program_id", "programs"), ForeignKey("community_id", "communities")],
    )
)
_register(
    Dataset(
        "indicators",
        "Program indicators",
        ind,
        [
            *_common(ind),
            ExportField("program_id", "string", "Program", ind.c.program_id),
            ExportField("name", "string", "Name", ind.c.name),
            ExportField("unit", "string", "Unit", ind.c.unit),
            ExportField("baseline", "number", "Baseline", ind.c.baseline),
            ExportField("target", "number", "Target", ind.c.target),
            ExportField("direction", "string", "increase or decrease", ind.c.direction),
        ],
        [ForeignKey("program_id", "programs")],
    )
)
_register(
    Dataset(
        "measurements",
        "Indicator measurements",
        me,
        [
            *_common(me),
            ExportField("indicator_id", "string", "Indicator", me.c.indicator_id),
            ExportField("measured_on", "date", "Date", me.c.measured_on),
            ExportField("value", "number", "Value", me.c.value),
        ],
        [ForeignKey("indicator_id", "indicators")],
    )
)
_register(
    Dataset(
        "budget-lines",
        "Budget lines (RAB)",
        bl,
        [
            *_common(bl),
            ExportField("program_id", "string", "Program", bl.c.program_id),
            ExportField("description", "string", "Description", bl.c.description),
            ExportField("quantity", "number", "Quantity", bl.c.quantity),
            ExportField("unit", "string", "Unit", bl.c.unit),
            ExportField("unit_cost_amount", "integer", "Unit cost (IDR)", bl.c.unit_cost_amount),
            ExportField("total_amount", "integer", "Line total (IDR)", bl.c.total_amount),
        ],
        [ForeignKey("program_id", "programs")],
    )
)
_register(
    Dataset(
        "people",
        "Participants (pseudonymised unless identified)",
        pe,
        [
            ExportField(
                "person_key",
                "string",
                "Stable pseudonym (keyed hash of the id); the primary key",
                person_key_sql(pe.c.id),
                pseudonym_of=pe.c.id,
            ),
            # The raw id links to the registry: identified exports only; person_key is the key.
            ExportField(
                "id", "string", "Registry id (identified exports only)", pe.c.id, personal=True
            ),
            *_common(pe)[1:],
            ExportField("community_id", "string", "Community", pe.c.community_id),
            ExportField("sex", "string", "female or male", pe.c.sex),
            ExportField("birth_decade", "integer", "Decade of birth", pe.c.birth_decade),
            ExportField(
                "age_band",
                "string",
                "Age band today (0-14, 15-24, ..., 65+, unknown)",
                age_band_sql(pe.c.birth_year, pe.c.birth_decade),
            ),
            ExportField("disability", "boolean", "Person with a disability", pe.c.disability),
            ExportField("vulnerable_groups", "array", "Vulnerable groups", pe.c.vulnerable_groups),
            ExportField(
                "consent_purposes", "array", "Purposes consented to", pe.c.consent_purposes
            ),
            ExportField(
                "erased",
                "boolean",
                "Identifying data erased on request",
                pe.c.erased_at.is_not(None),
            ),
            ExportField(
                "full_name",
                "string",
                "Name (identified exports only)",
                pe.c.full_name,
                personal=True,
            ),
            ExportField(
                "birth_year",
                "integer",
                "Birth year (identified exports only)",
                pe.c.birth_year,
                personal=True,
            ),
            ExportField(
                "nik",
                "string",
                "NIK (identified exports only)",
                compute=_decrypt("nik", "_nik_ciphertext"),
                personal=True,
            ),
            ExportField(
                "phone",
                "string",
                "Phone (identified exports only)",
                compute=_decrypt("phone", "_phone_ciphertext"),
                personal=True,
            ),
        ],
        [ForeignKey("community_id", "communities")],
        primary_key="person_key",
    )
)
_register(
    Dataset(
        "participation-records",
        "Participation (pseudonymised)",
        pa,
        [
            ExportField(
                "person_key",
                "string",
                "Pseudonym of the participant",
                person_key_sql(pa.c.person_id),
                pseudonym_of=pa.c.person_id,
            ),
            *_common(pa),
            ExportField("activity_id", "string", "Activity (or null)", pa.c.activity_id),
            ExportField(
                "assessment_id", "string", "Needs assessment (or null)", pa.c.assessment_id
            ),
            ExportField("community_id", "string", "Community", pa.c.community_id),
            ExportField("program_id", "string", "Program (activities)", pa.c.program_id),
            ExportField("date", "date", "Date", pa.c.date),
            ExportField("level", "string", "IAP2 level: inform ... empower", pa.c.level),
            ExportField("role", "string", "beneficiary, volunteer, cadre, ...", pa.c.role),
            ExportField("hours", "number", "Hours", pa.c.hours),
        ],
        [
            ForeignKey("person_key", "people", "person_key"),
            ForeignKey("activity_id", "activities"),
            ForeignKey("assessment_id", "needs-assessments"),
            ForeignKey("community_id", "communities"),
            ForeignKey("program_id", "programs"),
        ],
    )
)
_register(
    Dataset(
        "partners",
        "Partner organisations",
        pt,
        [
            *_common(pt),
            ExportField("name", "string", "Name", pt.c.name),
            ExportField("kind", "string", "local_government, ngo, private_sector, ...", pt.c.kind),
            ExportField("region_code", "string", "Region code or prefix", pt.c.region_code),
            ExportField("website", "string", "Website", pt.c.website),
        ],
    )
)
_register(
    Dataset(
        "partnerships",
        "Partnerships",
        ps,
        [
            *_common(ps),
            ExportField("partner_id", "string", "Partner", ps.c.partner_id),
            ExportField("program_id", "string", "Program", ps.c.program_id),
            ExportField("role", "string", "funder, implementer, ...", ps.c.role),
            ExportField("agreement_ref", "string", "Agreement reference", ps.c.agreement_ref),
            ExportField("start_date", "date", "Start", ps.c.start_date),
            ExportField("end_date", "date", "End", ps.c.end_date),
            ExportField("commitment_amount", "integer", "Commitment (IDR)", ps.c.commitment_amount),
            ExportField("status", "string", "proposed, active, completed, terminated", ps.c.status),
        ],
        [ForeignKey("partner_id", "partners"), ForeignKey("program_id", "programs")],
    )
)
_register(
    Dataset(
        "contributions",
        "Partner contributions",
        co,
        [
            *_common(co),
            ExportField("partnership_id", "string", "Partnership", co.c.partnership_id),
            ExportField("kind", "string", "funds, in_kind, expertise, facilities", co.c.kind),
            ExportField("amount", "integer", "Amount or estimated value (IDR)", co.c.amount),
            ExportField("contributed_on", "date", "Date", co.c.contributed_on),
        ],
        [ForeignKey("partnership_id", "partnerships")],
    )
)

# --- village planning (issue 18) -----------------------------------------------------------
_register(
    Dataset(
        "planning-proposals",
        "Village planning proposals (usulan Musrenbang → RKP Desa → APBDes)",
        pp,
        [
            *_common(pp),
            ExportField("community_id", "string", "Community", pp.c.community_id),
            ExportField("title", "string", "Title", pp.c.title),
            ExportField("planning_year", "integer", "RKP Desa / APBDes year", pp.c.planning_year),
            ExportField(
                "origin_forum", "string", "musdus, musdes, musrenbang_...", pp.c.origin_forum
            ),
            ExportField("bidang", "integer", "APBDes field 1-5", pp.c.bidang),
            ExportField("kegiatan", "string", "Activity (kegiatan)", pp.c.kegiatan),
            ExportField("volume", "number", "Volume", pp.c.volume),
            ExportField("unit", "string", "Unit of the volume", pp.c.unit),
            *(
                ExportField(
                    f"beneficiaries_{k}",
                    "integer",
                    f"Beneficiaries: {k}",
                    pp.c[f"beneficiaries_{k}"],
                )
                for k in ("female", "male", "poor_households", "disability")
            ),
            ExportField(
                "estimated_cost_amount",
                "integer",
                "Estimated cost (IDR)",
                pp.c.estimated_cost_amount,
            ),
            ExportField(
                "proposed_funding_source",
                "string",
                "dana_desa, add, pades, ...",
                pp.c.proposed_funding_source,
            ),
            ExportField("status", "string", "draft, agreed, in_rkp_desa, ...", pp.c.status),
            ExportField(
                "carried_over_from_id",
                "string",
                "The deferred proposal this one continues",
                pp.c.carried_over_from_id,
            ),
            ExportField(
                "funding_planned_amount",
                "integer",
                "Sum of the live funding lines (IDR)",
                pp.c.funding_planned_amount,
            ),
            ExportField(
                "funding_realised_amount",
                "integer",
                "Sum realised (IDR)",
                pp.c.funding_realised_amount,
            ),
            ExportField(
                "finding_ids",
                "array",
                "Findings it answers",
                func.array(
                    select(pfi.c.finding_id)
                    .where(pfi.c.proposal_id == pp.c.id)
                    .order_by(pfi.c.finding_id)
                    .scalar_subquery()
                ),
            ),
            ExportField(
                "program_ids",
                "array",
                "Programs that carry it out",
                func.array(
                    select(ppr.c.program_id)
                    .where(ppr.c.proposal_id == pp.c.id)
                    .order_by(ppr.c.program_id)
                    .scalar_subquery()
                ),
            ),
        ],
        [
            ForeignKey("community_id", "communities"),
            ForeignKey("carried_over_from_id", "planning-proposals"),
        ],
    )
)
_register(
    Dataset(
        "proposal-transitions",
        "The planning record of each proposal's status changes",
        ptr,
        [
            *_common(ptr),
            ExportField("proposal_id", "string", "Planning proposal", ptr.c.proposal_id),
            ExportField("from_status", "string", "Status before", ptr.c.from_status),
            ExportField("to_status", "string", "Status after", ptr.c.to_status),
            ExportField("date", "date", "When the forum decided", ptr.c.decided_on),
            ExportField("forum", "string", "musdus, musdes, musrenbang_...", ptr.c.forum),
            ExportField(
                "document_ref", "string", "Berita acara, RKP Desa, perdes", ptr.c.document_ref
            ),
        ],
        [ForeignKey("proposal_id", "planning-proposals")],
    )
)
_register(
    Dataset(
        "proposal-funding",
        "Funding lines of planning proposals per fiscal year and source",
        pfu,
        [
            *_common(pfu),
            ExportField("proposal_id", "string", "Planning proposal", pfu.c.proposal_id),
            ExportField("fiscal_year", "integer", "Fiscal year", pfu.c.fiscal_year),
            ExportField("source", "string", "dana_desa, add, pades, ...", pfu.c.source),
            ExportField("planned_amount", "integer", "Planned (IDR)", pfu.c.planned_amount),
            ExportField("realised_amount", "integer", "Realised (IDR)", pfu.c.realised_amount),
            ExportField("apbdes_ref", "string", "APBDes account or perdes", pfu.c.apbdes_ref),
        ],
        [ForeignKey("proposal_id", "planning-proposals")],
    )
)

# Hidden columns for the identified people export: decrypted in Python, and the consent
# dates that decide whether a person stays identified (never emitted under these names).
HIDDEN: dict[str, list[Any]] = {
    "people": [
        pe.c.nik_ciphertext.label("_nik_ciphertext"),
        pe.c.phone_ciphertext.label("_phone_ciphertext"),
        pe.c.consent_withdrawn_at.label("_consent_withdrawn_at"),
        pe.c.consent_given_at.label("_consent_given_at"),
    ],
}
