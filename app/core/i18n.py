"""The catalogue of every human text the API answers, in English and Indonesian.

One module, typed, so adding a message is a one-place change:

* **Messages** are attributes of :class:`M`. A message without placeholders is a
  :class:`Message` (a ``str`` whose value is the English text, so it reads as before
  wherever it goes); one with placeholders is a :class:`Template` called with its values::

      raise NotFound(M.finding_not_found)
      raise Conflict(M.program_frozen(status=program.status))

  The problem handlers (``app.core.errors``) render ``title``, ``detail`` and
  ``errors[].message`` in the caller's language (``Accept-Language``, read once per
  request by ``app.core.middleware.RequestContextMiddleware`` into :data:`language_var`).
  A placeholder named in a template's ``labels`` is an enum value shown by its label.
* **Labels** of enum values (:data:`LABELS`): keyed by the enum's name in the OpenAPI
  document (``ProgramStatus``), plus internal vocabularies (names starting with ``_``).
  ``GET /api/v1/labels`` serves every enum of the OpenAPI document from here
  (:func:`enum_labels`); the KAK uses them too.
* **Validation messages** of pydantic, by error type (:data:`VALIDATION`), and dates
  (:func:`long_date`, :func:`date_range`).

``tests/platform/test_i18n.py`` walks every message, label and validation type and fails
on a missing or inconsistent translation.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import date, datetime
from enum import Enum
from typing import Any, Literal

from pydantic_core import PydanticCustomError

Lang = Literal["en", "id"]
LANGUAGES: tuple[Lang, ...] = ("en", "id")
DEFAULT_LANGUAGE: Lang = "en"

language_var: ContextVar[Lang] = ContextVar("language", default=DEFAULT_LANGUAGE)
"""The language of the current request (set by the outermost middleware)."""

_ACCEPT_ITEM = re.compile(
    r"^\s*([A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*|\*)\s*(?:;\s*q\s*=\s*([^\s;,]*))?"
)
# "in" is the withdrawn ISO 639 code for Indonesian, still sent by older Android systems.
_PRIMARY: dict[str, Lang] = {"en": "en", "id": "id", "in": "id"}


def negotiate(accept_language: str | None) -> Lang:
    """The supported language the ``Accept-Language`` header prefers (RFC 9110 q-values);
    English when it names none of them."""
    if not accept_language:
        return DEFAULT_LANGUAGE
    best: tuple[float, int, Lang] | None = None
    for position, item in enumerate(accept_language.split(",")[:20]):
        match = _ACCEPT_ITEM.match(item)
        if not match:
            continue
        try:
            quality = float(match.group(2)) if match.group(2) is not None else 1.0
        except ValueError:
            continue
        lang = _PRIMARY.get(match.group(1).split("-")[0].lower())
        if lang is None or quality <= 0:
            continue
        # Highest quality wins; among equals, the one listed first.
        if best is None or (quality, -position) > (best[0], best[1]):
            best = (quality, -position, lang)
    return best[2] if best else DEFAULT_LANGUAGE


def current_language() -> Lang:
    return language_var.get()


@dataclass(frozen=True)
class Text:
    """One human text in each language."""

    en: str
    id: str

    def __call__(self, lang: Lang) -> str:
        return self.en if lang == "en" else self.id


# --- labels of enum values --------------------------------------------------------------------

_OTHER = Text("Other", "Lainnya")
_CANCELLED = Text("Cancelled", "Dibatalkan")
_COMPLETED = Text("Completed", "Selesai")
_PLANNED = Text("Planned", "Direncanakan")
_ACTIVE = Text("Active", "Aktif")

LABELS: dict[str, dict[str, Text]] = {
    # Enums of the OpenAPI document, by their schema name.
    "ActivityKind": {
        "training": Text("Training", "Pelatihan"),
        "mentoring": Text("Mentoring", "Pendampingan"),
        "deliberation": Text("Deliberation", "Musyawarah"),
        "infrastructure": Text("Infrastructure works", "Pembangunan sarana"),
        "outreach": Text("Outreach", "Sosialisasi"),
        "monitoring": Text("Monitoring", "Pemantauan"),
        "other": _OTHER,
    },
    "ActivityStatus": {
        "planned": _PLANNED,
        "done": Text("Done", "Terlaksana"),
        "cancelled": _CANCELLED,
    },
    "AssessmentStatus": {
        "planned": _PLANNED,
        "in_progress": Text("In progress", "Berlangsung"),
        "completed": _COMPLETED,
        "validated": Text("Validated", "Divalidasi"),
        "cancelled": _CANCELLED,
    },
    "BatchRowResult.status": {
        "created": Text("Created", "Dibuat"),
        "duplicate": Text("Duplicate", "Duplikat"),
        "error": Text("Error", "Gagal"),
    },
    "CommunityKind": {
        "desa": Text("Village", "Desa"),
        "kelurahan": Text("Urban village", "Kelurahan"),
        "dusun": Text("Hamlet", "Dusun"),
        "kelompok": Text("Group", "Kelompok"),
        "komunitas_adat": Text("Customary community", "Komunitas adat"),
        "other": _OTHER,
    },
    "ConsentPurpose": {
        "program_participation": Text("Program participation", "Keikutsertaan dalam program"),
        "needs_assessment": Text("Needs assessment", "Kajian kebutuhan"),
        "contact": Text("Being contacted", "Dihubungi"),
        "analytics": Text("Analytics", "Analisis data"),
    },
    "ContributionKind": {
        "funds": Text("Funds", "Dana"),
        "in_kind": Text("In kind", "Barang"),
        "expertise": Text("Expertise", "Keahlian"),
        "facilities": Text("Facilities", "Fasilitas"),
    },
    "DevelopmentScheme": {
        "idm": Text("IDM (Village Development Index)", "IDM (Indeks Desa Membangun)"),
        "indeks_desa": Text("Indeks Desa (Village Index)", "Indeks Desa"),
    },
    "Direction": {
        "increase": Text("Increase", "Naik"),
        "decrease": Text("Decrease", "Turun"),
    },
    "EventType": {
        "program.created": Text("Program created", "Program dibuat"),
        "program.updated": Text("Program updated", "Program diubah"),
        "program.status_changed": Text("Program status changed", "Status program berubah"),
        "activity.created": Text("Activity created", "Kegiatan dibuat"),
        "activity.updated": Text("Activity updated", "Kegiatan diubah"),
        "measurement.recorded": Text("Measurement recorded", "Pengukuran dicatat"),
        "budget_line.changed": Text("Budget line changed", "Baris anggaran berubah"),
        "partnership.created": Text("Partnership created", "Kemitraan dibuat"),
        "partnership.status_changed": Text(
            "Partnership status changed", "Status kemitraan berubah"
        ),
        "contribution.recorded": Text("Contribution recorded", "Kontribusi dicatat"),
        "contribution.updated": Text("Contribution updated", "Kontribusi diubah"),
        "needs_assessment.status_changed": Text(
            "Needs assessment status changed", "Status kajian kebutuhan berubah"
        ),
        "planning_proposal.status_changed": Text(
            "Planning proposal status changed", "Status usulan perencanaan berubah"
        ),
        "planning_proposal.funded": Text("Planning proposal funded", "Usulan perencanaan didanai"),
        "*": Text("Every event type", "Semua jenis peristiwa"),
    },
    "DeliveryStatus": {
        "pending": Text("Pending", "Menunggu"),
        "delivering": Text("Being delivered", "Sedang dikirim"),
        "delivered": Text("Delivered", "Terkirim"),
        "failed": Text("Failed", "Gagal"),
        "skipped": Text("Skipped (no longer visible)", "Dilewati (tidak lagi terlihat)"),
    },
    "DisabledReason": {
        "gone": Text("the receiver answered 410 Gone", "penerima menjawab 410 Gone"),
        "no_success_5_days": Text("no success for 5 days", "tidak berhasil selama 5 hari"),
        "manual": Text("switched off by its owner", "dimatikan oleh pemiliknya"),
    },
    "FindingCategory": {
        "education": Text("Education", "Pendidikan"),
        "health": Text("Health", "Kesehatan"),
        "economy": Text("Economy", "Ekonomi"),
        "infrastructure": Text("Infrastructure", "Infrastruktur"),
        "environment": Text("Environment", "Lingkungan"),
        "social": Text("Social", "Sosial"),
        "governance": Text("Governance", "Tata kelola"),
        "other": _OTHER,
    },
    "FindingKind": {
        "problem": Text("Problem", "Masalah"),
        "need": Text("Need", "Kebutuhan"),
        "potential": Text("Potential", "Potensi"),
    },
    "Forum": {
        "musdus": Text("Hamlet deliberation (Musdus)", "Musyawarah Dusun"),
        "musdes": Text("Village deliberation (Musdes)", "Musyawarah Desa"),
        "musrenbang_desa": Text("Village planning meeting (Musrenbang Desa)", "Musrenbang Desa"),
        "musrenbang_kecamatan": Text(
            "District planning meeting (Musrenbang Kecamatan)", "Musrenbang Kecamatan"
        ),
        "musrenbang_kabupaten": Text(
            "Regency planning meeting (Musrenbang Kabupaten)", "Musrenbang Kabupaten"
        ),
        "musyawarah_bpd": Text("Village council deliberation (BPD)", "Musyawarah BPD"),
        "other": _OTHER,
    },
    "FundingSource": {
        "dana_desa": Text("Village Fund (Dana Desa)", "Dana Desa"),
        "add": Text("Village Fund Allocation (ADD)", "Alokasi Dana Desa (ADD)"),
        "pades": Text("Village own revenue (PADes)", "Pendapatan Asli Desa (PADes)"),
        "bagi_hasil": Text("Shared tax and levy revenue", "Bagi hasil pajak dan retribusi"),
        "bantuan_keuangan_provinsi": Text("Provincial financial aid", "Bantuan keuangan provinsi"),
        "bantuan_keuangan_kabupaten": Text(
            "Regency financial aid", "Bantuan keuangan kabupaten/kota"
        ),
        "apbd": Text("Regional budget (APBD)", "APBD"),
        "apbn": Text("State budget (APBN)", "APBN"),
        "partner": Text("Partner", "Mitra"),
        "swadaya": Text("Community self-help", "Swadaya masyarakat"),
    },
    "IdmStatus": {
        "sangat_tertinggal": Text("Very underdeveloped", "Sangat tertinggal"),
        "tertinggal": Text("Underdeveloped", "Tertinggal"),
        "berkembang": Text("Developing", "Berkembang"),
        "maju": Text("Advanced", "Maju"),
        "mandiri": Text("Self-reliant", "Mandiri"),
    },
    "Level": {
        "inform": Text("Inform", "Informasi"),
        "consult": Text("Consult", "Konsultasi"),
        "involve": Text("Involve", "Pelibatan"),
        "collaborate": Text("Collaborate", "Kolaborasi"),
        "empower": Text("Empower", "Pemberdayaan"),
    },
    "Method": {
        "survey": Text("Survey", "Survei"),
        "focus_group": Text("Focus group discussion", "Diskusi kelompok terarah"),
        "observation": Text("Observation", "Observasi"),
        "interview": Text("Interview", "Wawancara"),
        "participatory_mapping": Text("Participatory mapping", "Pemetaan partisipatif"),
        "transect_walk": Text("Transect walk", "Penelusuran wilayah"),
    },
    "ProposalStatus": {
        "draft": Text("Draft", "Draf"),
        "agreed": Text("Agreed", "Disepakati"),
        "in_rkp_desa": Text("In the village work plan (RKP Desa)", "Masuk RKP Desa"),
        "in_apbdes": Text("In the village budget (APBDes)", "Masuk APBDes"),
        "realised": Text("Realised", "Terealisasi"),
        "forwarded": Text("Forwarded", "Diteruskan"),
        "accommodated": Text("Accommodated", "Diakomodasi"),
        "not_accommodated": Text("Not accommodated", "Tidak diakomodasi"),
        "deferred": Text("Deferred", "Ditunda"),
        "rejected": Text("Rejected", "Ditolak"),
    },
    "ParticipationRole": {
        "beneficiary": Text("Beneficiary", "Penerima manfaat"),
        "volunteer": Text("Volunteer", "Relawan"),
        "cadre": Text("Cadre", "Kader"),
        "speaker": Text("Speaker", "Narasumber"),
        "decision_maker": Text("Decision maker", "Pengambil keputusan"),
        "facilitator": Text("Facilitator", "Fasilitator"),
    },
    "PartnerKind": {
        "local_government": Text("Local government", "Pemerintah daerah"),
        "ngo": Text("NGO", "LSM"),
        "private_sector": Text("Private sector", "Swasta"),
        "academia": Text("Academia", "Perguruan tinggi"),
        "community_organization": Text("Community organisation", "Organisasi masyarakat"),
        "donor": Text("Donor", "Lembaga donor"),
        "other": _OTHER,
    },
    "PartnershipRole": {
        "funder": Text("Funder", "Penyandang dana"),
        "implementer": Text("Implementer", "Pelaksana"),
        "technical_support": Text("Technical support", "Pendamping teknis"),
        "in_kind_provider": Text("In-kind provider", "Penyedia barang"),
    },
    "PartnershipStatus": {
        "proposed": Text("Proposed", "Diusulkan"),
        "active": _ACTIVE,
        "completed": _COMPLETED,
        "terminated": Text("Terminated", "Diakhiri"),
    },
    "ProgramStatus": {
        "draft": Text("Draft", "Draf"),
        "submitted": Text("Submitted", "Diajukan"),
        "approved": Text("Approved", "Disetujui"),
        "active": Text("Active", "Berjalan"),
        "completed": _COMPLETED,
        "cancelled": _CANCELLED,
    },
    "Role": {
        "admin": Text("Administrator", "Administrator"),
        "coordinator": Text("Coordinator", "Koordinator"),
        "facilitator": Text("Facilitator", "Fasilitator"),
        "analyst": Text("Analyst", "Analis"),
        "partner": Text("Partner", "Mitra"),
    },
    "Resource": {
        "activities": Text("Activities", "Kegiatan"),
        "ballots": Text("Ballots", "Suara"),
        "communities": Text("Communities", "Komunitas"),
        "findings": Text("Findings", "Temuan"),
        "indicators": Text("Indicators", "Indikator"),
        "measurements": Text("Measurements", "Pengukuran"),
        "needs_assessments": Text("Needs assessments", "Kajian kebutuhan"),
        "participation_records": Text("Participation records", "Catatan partisipasi"),
        "people": Text("People", "Warga"),
        "programs": Text("Programs", "Program"),
    },
    "SyncOp": {
        "upsert": Text("Created or changed", "Dibuat atau diubah"),
        "delete": Text("Deleted", "Dihapus"),
        "leave_scope": Text("Left your scope", "Keluar dari cakupan Anda"),
    },
    "MutationStatus": {
        "applied": Text("Applied", "Diterapkan"),
        "duplicate": Text("Already applied", "Sudah diterapkan"),
        "conflict": Text("Conflict", "Konflik"),
        "rejected": Text("Rejected", "Ditolak"),
    },
    "Sex": {
        "female": Text("Female", "Perempuan"),
        "male": Text("Male", "Laki-laki"),
    },
    "VulnerableGroup": {
        "elderly": Text("Elderly", "Lansia"),
        "youth": Text("Youth", "Pemuda"),
        "female_headed_household": Text(
            "Female-headed household", "Rumah tangga dikepalai perempuan"
        ),
        "poor_household": Text("Poor household", "Rumah tangga miskin"),
        "indigenous": Text("Indigenous", "Masyarakat adat"),
        "pregnant_or_nursing": Text("Pregnant or nursing", "Ibu hamil atau menyusui"),
        "chronic_illness": Text("Chronic illness", "Penyakit kronis"),
        "other": _OTHER,
    },
    # Query parameters.
    "format": {
        "ndjson": Text("NDJSON (one JSON object per line)", "NDJSON (satu objek JSON per baris)"),
        "json": Text("JSON", "JSON"),
        "csv": Text("CSV (comma-separated values)", "CSV (nilai dipisah koma)"),
        "parquet": Text("Apache Parquet", "Apache Parquet"),
    },
    "lang": {"en": Text("English", "Bahasa Inggris"), "id": Text("Indonesian", "Bahasa Indonesia")},
    # Internal vocabularies (placeholders of messages; sort fields).
    "_Field": {
        "created_at": Text("Created", "Tanggal dibuat"),
        "updated_at": Text("Last updated", "Terakhir diubah"),
        "name": Text("Name", "Nama"),
        "year": Text("Year", "Tahun"),
        "date": Text("Date", "Tanggal"),
        "code": Text("Code", "Kode"),
        "title": Text("Title", "Judul"),
        "scheduled_start": Text("Scheduled start", "Jadwal mulai"),
        "measured_on": Text("Measured on", "Tanggal pengukuran"),
        "at": Text("Time", "Waktu"),
        "contributed_on": Text("Contributed on", "Tanggal kontribusi"),
        "email": Text("Email", "Email"),
        "planning_year": Text("Planning year", "Tahun perencanaan"),
        "fiscal_year": Text("Fiscal year", "Tahun anggaran"),
        "sequence": Text("Sequence", "Urutan"),
    },
    "_SortOrder": {
        "ascending": Text("ascending", "naik"),
        "descending": Text("descending", "turun"),
    },
    "_Thing": {
        "activity": Text("activity", "kegiatan"),
        "ballot": Text("ballot", "suara"),
        "budget line": Text("budget line", "baris anggaran"),
        "community": Text("community", "komunitas"),
        "contribution": Text("contribution", "kontribusi"),
        "development index": Text("development index", "indeks desa membangun"),
        "funding line": Text("funding line", "baris pendanaan"),
        "planning proposal": Text("planning proposal", "usulan perencanaan"),
        "finding": Text("finding", "temuan"),
        "indicator": Text("indicator", "indikator"),
        "measurement": Text("measurement", "pengukuran"),
        "needs assessment": Text("needs assessment", "kajian kebutuhan"),
        "participation record": Text("participation record", "catatan partisipasi"),
        "partner": Text("partner", "mitra"),
        "partnership": Text("partnership", "kemitraan"),
        "person": Text("person", "warga"),
        "program": Text("program", "program"),
        "service account": Text("service account", "akun layanan"),
        "user": Text("user", "pengguna"),
        "webhook endpoint": Text("webhook endpoint", "endpoint webhook"),
    },
    "_Action": {
        "read": Text("read", "membaca"),
        "write": Text("change", "mengubah"),
        "delete": Text("delete", "menghapus"),
        "restore": Text("restore", "memulihkan"),
        "erase": Text("erase", "menghapus permanen"),
        "approve": Text("approve", "menyetujui"),
    },
    "_Resource": {
        "activities": Text("activities", "kegiatan"),
        "assessments": Text("needs assessments", "kajian kebutuhan"),
        "audit_events": Text("the audit trail", "jejak audit"),
        "ballots": Text("ballots", "suara"),
        "budget_lines": Text("budget lines", "baris anggaran"),
        "communities": Text("communities", "komunitas"),
        "community_facilitators": Text("community facilitators", "fasilitator komunitas"),
        "consents": Text("consents", "persetujuan"),
        "contributions": Text("contributions", "kontribusi"),
        "development_indices": Text("development indices", "indeks desa membangun"),
        "exports": Text("exports", "ekspor data"),
        "findings": Text("findings", "temuan"),
        "indicators": Text("indicators", "indikator"),
        "measurements": Text("measurements", "pengukuran"),
        "participation_records": Text("participation records", "catatan partisipasi"),
        "partners": Text("partners", "mitra"),
        "partnerships": Text("partnerships", "kemitraan"),
        "people": Text("people", "warga"),
        "programs": Text("programs", "program"),
        "reports": Text("reports", "laporan"),
        "service_accounts": Text("service accounts", "akun layanan"),
        "users": Text("users", "pengguna"),
        "events": Text("events", "peristiwa"),
        "webhook_endpoints": Text("webhook endpoints", "endpoint webhook"),
    },
}


def label(enum: str, value: str, lang: Lang) -> str:
    """The label of ``value`` of ``enum`` in ``lang``; the value itself when unknown."""
    text = LABELS.get(enum, {}).get(value)
    return text(lang) if text else value


def labels_of(enum: str) -> Mapping[str, Text] | None:
    return LABELS.get(enum)


@dataclass(frozen=True)
class Labelled:
    """A placeholder value shown by its label in ``enum`` (chosen at the raise site)."""

    enum: str
    value: str

    def __str__(self) -> str:
        return self.value


def vocabulary_of(values: set[str]) -> str | None:
    """The smallest enum of :data:`LABELS` (an OpenAPI one) holding every value of
    ``values``: how a generic state machine names its states."""
    fitting = [n for n in LABELS if n[0] != "_" and "." not in n and values <= set(LABELS[n])]
    return min(fitting, key=lambda n: len(LABELS[n])) if fitting else None


# --- messages ---------------------------------------------------------------------------------


def _placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def _in_sentence(text: str) -> str:
    """A label inside a sentence: 'In progress' -> 'in progress', 'LSM' stays."""
    if len(text) > 1 and text[0].isupper() and text[1].islower():
        return text[0].lower() + text[1:]
    return text


class Template:
    """A message with placeholders; call it with their values to get a :class:`Message`.
    ``labels`` names, per placeholder, the vocabulary of :data:`LABELS` whose label shows
    the value."""

    def __init__(self, en: str, id: str, **labels: str) -> None:
        self.key = ""
        self.text = Text(en, id)
        self.labels = labels

    def __set_name__(self, owner: type, name: str) -> None:
        self.key = name

    def __call__(self, **params: Any) -> Message:
        return Message._make(self, params)

    def render(self, lang: Lang, params: Mapping[str, Any]) -> str:
        if not params:  # a message without placeholders (its braces, if any, are literal)
            return self.text(lang)
        values = {name: self._value(name, value, lang) for name, value in params.items()}
        return self.text(lang).format(**values)

    def _value(self, name: str, value: Any, lang: Lang) -> str:
        if isinstance(value, Message):
            return value.render(lang)
        if isinstance(value, Labelled):
            return _in_sentence(label(value.enum, value.value, lang))
        if isinstance(value, list | tuple | set | frozenset):
            return ", ".join(self._value(name, v, lang) for v in value)
        vocabulary = self.labels.get(name)
        if vocabulary is None and isinstance(value, Enum):
            vocabulary = type(value).__name__
        if vocabulary is not None:
            raw = value.value if isinstance(value, Enum) else str(value)
            return _in_sentence(label(vocabulary, raw, lang))
        return str(value.value if isinstance(value, Enum) else value)


class Message(str):
    """A message ready to show: its ``str`` value is the English text; ``render(lang)``
    gives it in any language."""

    template: Template
    params: Mapping[str, Any]

    @classmethod
    def _make(cls, template: Template, params: Mapping[str, Any]) -> Message:
        message = cls.__new__(cls, template.render("en", params))
        message.template = template
        message.params = dict(params)
        return message

    def __new__(cls, value: str = "", *_: Any) -> Message:
        return super().__new__(cls, value)

    def __init__(self, en: str = "", id: str = "") -> None:
        # ``Message("english", "indonesian")``: a message without placeholders (attributes
        # of ``M``); its key is the attribute's name.
        if en and not hasattr(self, "template"):
            self.template = Template(en, id)
            self.params = {}

    def __set_name__(self, owner: type, name: str) -> None:
        self.template.key = name

    @property
    def key(self) -> str:
        return self.template.key

    def render(self, lang: Lang) -> str:
        return self.template.render(lang, self.params)

    def __reduce__(self) -> Any:  # a plain string once pickled (never needed translated)
        return (str, (str(self),))


def render(text: Any, lang: Lang | None = None) -> Any:
    """``text`` in ``lang`` (the request's by default): a :class:`Message` rendered, a
    plain string known to the catalogue translated, anything else as it is."""
    lang = lang or language_var.get()
    if isinstance(text, Message):
        return text.render(lang)
    if isinstance(text, str) and lang != "en":
        known = _BY_ENGLISH.get(text)
        if known is not None:
            return known.render(lang)
    return text


class M:
    """Every message the API answers. Attribute name = message key."""

    # Framework and conventions (app/core).
    no_such_route = Message("no such resource or route", "sumber daya atau rute tidak ada")
    credentials_missing = Message(
        "invalid or missing credentials", "kredensial tidak valid atau tidak ada"
    )
    request_invalid = Message("the request is not valid", "permintaan tidak valid")
    body_not_valid = Message("the request body is not valid", "isi permintaan tidak valid")
    body_unparsable = Message(
        "the request body could not be parsed", "isi permintaan tidak dapat dibaca"
    )
    body_invalid = Message("the body is not valid", "isi permintaan tidak valid")
    json_duplicate_key = Message(
        "a JSON object in the body has the same key twice",
        "sebuah objek JSON dalam isi permintaan memuat kunci yang sama dua kali",
    )
    body_too_large = Template(
        "request body exceeds {limit} bytes", "isi permintaan melebihi {limit} bita"
    )
    body_too_slow = Template(
        "the request body did not arrive within {seconds} seconds",
        "isi permintaan tidak tiba dalam {seconds} detik",
    )
    value_unstorable = Message(
        "a value cannot be stored (NUL character, or out of range)",
        "sebuah nilai tidak dapat disimpan (karakter NUL, atau di luar rentang)",
    )
    invalid_value = Message("invalid value", "nilai tidak valid")
    database_unavailable = Message(
        "the database is unavailable; retry shortly",
        "basis data sedang tidak tersedia; coba lagi sebentar lagi",
    )
    concurrent_write = Message(
        "a concurrent change got in the way and nothing was saved; retry",
        "perubahan lain pada saat yang sama menghalangi dan tidak ada yang disimpan; coba lagi",
    )
    database_unreachable = Message(
        "the database is unreachable", "basis data tidak dapat dihubungi"
    )
    schema_behind = Message(
        "the database schema is not at the expected migration",
        "skema basis data belum pada migrasi yang diharapkan",
    )
    internal_error = Message("internal error", "kesalahan internal")
    method_not_allowed = Message("Method Not Allowed", "metode ini tidak tersedia untuk rute ini")
    resource_changed = Message(
        "the resource has changed since you read it; GET it again and retry",
        "data telah berubah sejak Anda membacanya; ambil lagi dengan GET lalu ulangi",
    )
    rate_limited = Template(
        "rate limit of {limit} requests per minute exceeded",
        "batas {limit} permintaan per menit terlampaui",
    )
    field_not_null = Template("{name} cannot be null", "{name} tidak boleh null")
    sort_not_allowed = Template(
        "cannot sort by this field; allowed: {allowed}",
        "tidak dapat mengurutkan menurut kolom ini; yang diizinkan: {allowed}",
    )
    cursor_other_filters = Message(
        "the cursor was made with other filters or another sort; start again without it",
        "kursor dibuat dengan filter atau urutan lain; mulai lagi tanpa kursor",
    )
    cursor_invalid = Message("the cursor is not valid", "kursor tidak valid")
    move_not_allowed = Template(
        "cannot move from '{current}' to '{target}'; allowed: {allowed}",
        "tidak dapat berpindah dari '{current}' ke '{target}'; yang diizinkan: {allowed}",
    )
    move_none_allowed = Template(
        "cannot move from '{current}' to '{target}'; no move is allowed",
        "tidak dapat berpindah dari '{current}' ke '{target}'; tidak ada perpindahan yang "
        "diizinkan",
    )
    unknown_status = Template(
        "unknown status; one of: {allowed}", "status tidak dikenal; pilih salah satu: {allowed}"
    )
    not_found = Template("{thing} not found", "{thing} tidak ditemukan", thing="_Thing")
    role_may_not = Template(
        "the {role} role may not {action} {resource}",
        "peran {role} tidak boleh {action} {resource}",
        role="Role",
        action="_Action",
        resource="_Resource",
    )
    idempotency_key_format = Message(
        "Idempotency-Key must be 1-255 visible ASCII characters",
        "Idempotency-Key harus 1-255 karakter ASCII yang terlihat",
    )
    idempotency_resetting = Message(
        "the Idempotency-Key is being reset; retry",
        "Idempotency-Key sedang diatur ulang; coba lagi",
    )
    idempotency_mismatch = Message(
        "this Idempotency-Key was used with a different request",
        "Idempotency-Key ini sudah dipakai untuk permintaan yang berbeda",
    )
    idempotency_not_kept = Message(
        "the first request with this Idempotency-Key succeeded; its answer held "
        "personal data or a secret shown once, which is never stored for replay",
        "permintaan pertama dengan Idempotency-Key ini berhasil; jawabannya memuat data "
        "pribadi atau rahasia yang hanya ditampilkan sekali, yang tidak pernah disimpan "
        "untuk diulang",
    )
    idempotency_in_flight = Message(
        "a request with this Idempotency-Key is still in progress",
        "permintaan dengan Idempotency-Key ini masih diproses",
    )
    end_before_start = Message(
        "end_date is before start_date", "end_date lebih awal dari start_date"
    )
    date_to_before_from = Message(
        "date_to is before date_from", "date_to lebih awal dari date_from"
    )

    # Values checked by the schemas.
    ids_repeat = Message("ids must not repeat", "id tidak boleh berulang")
    items_repeat = Message("items must not repeat", "butir tidak boleh berulang")
    methods_repeat = Message("methods must not repeat", "metode tidak boleh berulang")
    email_ascii = Message(
        "the email address must be written in ASCII characters",
        "alamat email harus ditulis dengan karakter ASCII",
    )
    region_code_format = Message(
        "must be a Kemendagri code PP.RR.DD.VVVV, e.g. 32.04.12.2001",
        "harus berupa kode Kemendagri PP.RR.DD.VVVV, mis. 32.04.12.2001",
    )
    province_unknown = Message("unknown province code", "kode provinsi tidak dikenal")
    region_parts_zero = Message(
        "regency, district and village parts must not be zero",
        "bagian kabupaten/kota, kecamatan dan desa tidak boleh nol",
    )
    region_prefix_format = Message(
        "must be a region code prefix such as 32 or 32.04",
        "harus berupa awalan kode wilayah seperti 32 atau 32.04",
    )
    date_format = Message(
        "must be a date YYYY-MM-DD, e.g. 2025-01-31",
        "harus berupa tanggal YYYY-MM-DD, mis. 2025-01-31",
    )
    datetime_format = Message(
        "must be an RFC 3339 date-time with an offset, e.g. 2025-01-31T08:00:00Z",
        "harus berupa tanggal-waktu RFC 3339 dengan zona, mis. 2025-01-31T08:00:00Z",
    )
    datetime_range = Message(
        "must lie between 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z in UTC",
        "harus di antara 0001-01-01T00:00:00Z dan 9999-12-31T23:59:59Z (UTC)",
    )
    text_nul = Message(
        "text must not contain NUL characters", "teks tidak boleh memuat karakter NUL"
    )
    decimal_text = Template(
        "must be a number ({bounds}, at most {places} decimals), "
        "or its text without exponent, + sign or spaces",
        "harus berupa angka ({bounds}, paling banyak {places} angka desimal), "
        "atau teksnya tanpa eksponen, tanda + atau spasi",
    )
    bounds_positive = Template("above 0 up to {limit}", "di atas 0 sampai {limit}")
    bounds_range = Template("{low} to {limit}", "{low} sampai {limit}")
    phone_format = Message(
        "phone must be 8 to 15 digits, optionally with a leading +",
        "nomor telepon harus 8 sampai 15 digit, boleh diawali +",
    )
    nik_digits = Message("NIK must be exactly 16 digits", "NIK harus tepat 16 digit")
    nik_province = Message(
        "NIK region part names no known province",
        "bagian wilayah NIK tidak menunjuk provinsi yang dikenal",
    )
    nik_region_zero = Message(
        "NIK region part has a zero regency or district",
        "bagian wilayah NIK memuat kabupaten/kota atau kecamatan nol",
    )
    nik_month = Message(
        "NIK date part has a month outside 1-12",
        "bagian tanggal NIK memuat bulan di luar 1-12",
    )
    nik_day = Message(
        "NIK date part is not a real day of the month",
        "bagian tanggal NIK bukan tanggal yang ada",
    )
    nik_serial = Message("NIK serial part must not be 0000", "nomor urut NIK tidak boleh 0000")

    # Authentication and users.
    auth_required = Message("authentication required", "autentikasi diperlukan")
    token_invalid = Message(
        "the access token is invalid or expired",
        "token akses tidak valid atau sudah kedaluwarsa",
    )
    wrong_credentials = Message("the credentials are not valid", "kredensial tidak valid")
    wrong_client = Message("the client credentials are not valid", "kredensial klien tidak valid")
    password_grant_fields = Message(
        "username and password are required for the password grant",
        "username dan password wajib untuk grant password",
    )
    refresh_grant_fields = Message(
        "refresh_token is required for the refresh_token grant",
        "refresh_token wajib untuk grant refresh_token",
    )
    client_grant_fields = Message(
        "client_id and client_secret are required for client_credentials",
        "client_id dan client_secret wajib untuk client_credentials",
    )
    grant_unsupported = Template(
        "unsupported grant_type; use one of: {grants}",
        "grant_type tidak didukung; gunakan salah satu: {grants}",
    )
    too_many_logins = Message(
        "too many failed logins; wait before trying again",
        "terlalu banyak login gagal; tunggu sebelum mencoba lagi",
    )
    password_too_short = Template(
        "the password must have at least {length} characters",
        "kata sandi harus paling sedikit {length} karakter",
    )
    partner_user_needs_org = Message(
        "a partner user needs an organization_id",
        "pengguna mitra memerlukan organization_id",
    )
    only_partner_users_org = Message(
        "only partner users belong to an organization",
        "hanya pengguna mitra yang tergabung dalam organisasi",
    )
    partner_users_and_only_they = Message(
        "partner users, and only they, belong to an organization",
        "pengguna mitra, dan hanya mereka, tergabung dalam organisasi",
    )
    email_taken = Message(
        "a user with this email already exists", "pengguna dengan email ini sudah ada"
    )
    email_taken_live = Message(
        "another live user has this email", "pengguna aktif lain sudah memakai email ini"
    )
    admin_self_demote = Message(
        "admins cannot demote or disable themselves",
        "admin tidak dapat menurunkan peran atau menonaktifkan dirinya sendiri",
    )
    admin_self_delete = Message(
        "admins cannot delete themselves", "admin tidak dapat menghapus dirinya sendiri"
    )
    partner_org_not_found = Message(
        "partner organisation not found", "organisasi mitra tidak ditemukan"
    )
    partner_account_needs_org = Message(
        "a partner service account needs an organization_id",
        "akun layanan mitra memerlukan organization_id",
    )
    only_partner_accounts_org = Message(
        "only partner accounts belong to an organisation",
        "hanya akun mitra yang tergabung dalam organisasi",
    )
    service_account_revoked = Message(
        "the service account is revoked", "akun layanan sudah dicabut"
    )

    # Communities.
    index_year_taken = Template(
        "this community already has a {scheme} development index for {year}",
        "komunitas ini sudah memiliki indeks pembangunan {scheme} untuk tahun {year}",
        scheme="DevelopmentScheme",
    )
    not_a_facilitator = Message(
        "the user is not a facilitator", "pengguna tersebut bukan fasilitator"
    )
    demo_not_empty = Message(
        "the database already has communities; seed-demo fills only an empty one",
        "basis data sudah berisi komunitas; seed-demo hanya mengisi basis data kosong",
    )

    # Needs assessments.
    community_not_found = Message("community not found", "komunitas tidak ditemukan")
    finding_not_found = Message("finding not found", "temuan tidak ditemukan")
    ballot_not_found = Message("ballot not found", "suara tidak ditemukan")
    assessments_forbidden = Message(
        "you may not change assessments of this community",
        "Anda tidak boleh mengubah kajian di komunitas ini",
    )
    plan_forbidden = Message(
        "you may not plan assessments in this community",
        "Anda tidak boleh merencanakan kajian di komunitas ini",
    )
    facilitator_required = Message(
        "facilitator_id must name a facilitator", "facilitator_id harus menunjuk fasilitator"
    )
    completed_before_started = Message(
        "completed_on is before started_on", "completed_on lebih awal dari started_on"
    )
    assessment_frozen = Template(
        "a {status} assessment can no longer change",
        "kajian berstatus {status} tidak dapat diubah lagi",
        status="AssessmentStatus",
    )
    validation_needs_content = Message(
        "validation needs at least one finding and one ballot",
        "validasi memerlukan paling sedikit satu temuan dan satu suara",
    )
    severity_only_problems = Message(
        "severity applies to problems and needs only",
        "tingkat keparahan hanya berlaku untuk masalah dan kebutuhan",
    )
    findings_frozen = Message(
        "the assessment is validated: its findings are frozen",
        "kajian sudah divalidasi: temuannya tidak dapat diubah",
    )
    assessment_cancelled = Message("the assessment is cancelled", "kajian sudah dibatalkan")
    ballots_closed = Template(
        "ballots are closed: the assessment is {status}",
        "pemungutan suara ditutup: kajian berstatus {status}",
        status="AssessmentStatus",
    )
    voter_outside_community = Message(
        "the person must belong to the assessment's community",
        "warga harus berasal dari komunitas kajian ini",
    )
    no_consent = Template(
        "the person has no active consent for {purpose}",
        "warga tidak memiliki persetujuan aktif untuk {purpose}",
        purpose="ConsentPurpose",
    )
    ranking_repeats = Message(
        "a finding may appear at most once in a ranking",
        "sebuah temuan hanya boleh muncul sekali dalam peringkat",
    )
    ranking_strangers = Message(
        "the ranking may only hold this assessment's problem and need findings",
        "peringkat hanya boleh memuat temuan masalah dan kebutuhan dari kajian ini",
    )
    ballot_cast = Message(
        "this person has already cast a ballot in this assessment",
        "warga ini sudah memberikan suara dalam kajian ini",
    )

    # Programs.
    program_code_taken = Message(
        "a program with this code already exists", "program dengan kode ini sudah ada"
    )
    program_not_found = Message("program not found", "program tidak ditemukan")
    findings_not_addressable = Message(
        "addressed findings must be problems or needs found in the program's communities",
        "temuan yang dijawab harus berupa masalah atau kebutuhan di komunitas program",
    )
    coordinator_required = Message(
        "coordinator_id must name a coordinator or admin",
        "coordinator_id harus menunjuk koordinator atau admin",
    )
    activities_in_removed_community = Message(
        "activities take place in a community being removed; move them first",
        "ada kegiatan di komunitas yang akan dikeluarkan; pindahkan dulu kegiatannya",
    )
    program_frozen = Template(
        "the program is {status}: it can no longer change",
        "program berstatus {status}: tidak dapat diubah lagi",
        status="ProgramStatus",
    )
    rejection_needs_note = Message(
        "a rejection needs a note saying why", "penolakan memerlukan catatan alasannya"
    )
    activities_forbidden = Message(
        "you may not manage activities in this community",
        "Anda tidak boleh mengelola kegiatan di komunitas ini",
    )
    activity_community_outside = Message(
        "the activity's community must be one of the program's",
        "komunitas kegiatan harus salah satu komunitas program",
    )
    scheduled_end_before_start = Message(
        "scheduled_end is before scheduled_start",
        "scheduled_end lebih awal dari scheduled_start",
    )
    measured_outside_program = Message(
        "measured_on must fall within the program's dates",
        "measured_on harus berada dalam periode program",
    )

    # Partners.
    partner_not_found = Message("partner not found", "mitra tidak ditemukan")
    contribution_not_found = Message("contribution not found", "kontribusi tidak ditemukan")
    duplicate_partner_role = Message(
        "this partner already has this role in this program",
        "mitra ini sudah memegang peran ini dalam program ini",
    )
    partnership_frozen = Template(
        "the partnership is {status}: it can no longer change",
        "kemitraan berstatus {status}: tidak dapat diubah lagi",
        status="PartnershipStatus",
    )
    partnership_terminated = Message(
        "the partnership is terminated: no contribution can be recorded",
        "kemitraan sudah diakhiri: kontribusi tidak dapat dicatat",
    )
    partner_active_only = Message(
        "partners record contributions on active partnerships only",
        "mitra hanya mencatat kontribusi pada kemitraan yang aktif",
    )
    partnership_not_active = Message("the partnership is not active yet", "kemitraan belum aktif")
    contribution_outside_dates = Message(
        "contributed_on must fall within the partnership's dates",
        "contributed_on harus berada dalam periode kemitraan",
    )
    own_contributions_only = Message(
        "partners may change only the contributions they recorded",
        "mitra hanya boleh mengubah kontribusi yang dicatatnya sendiri",
    )

    # People and participation.
    nik_taken = Message(
        "a person with this NIK is already registered; ask an administrator to resolve the "
        "duplicate",
        "warga dengan NIK ini sudah terdaftar; minta administrator menyelesaikan duplikatnya",
    )
    birth_decades_only = Message(
        "your role sees birth decades, not birth years",
        "peran Anda hanya melihat dekade kelahiran, bukan tahun kelahiran",
    )
    name_search_forbidden = Message(
        "your role may not search people by name",
        "peran Anda tidak boleh mencari warga berdasarkan nama",
    )
    people_forbidden = Template(
        "you may not {verb} people of this community",
        "Anda tidak boleh {verb} warga komunitas ini",
        verb="_Verb",
    )
    register_forbidden = Message(
        "you may not register people in this community",
        "Anda tidak boleh mendaftarkan warga di komunitas ini",
    )
    nik_probing = Message(
        "too many NIKs that were already registered; wait before giving a NIK again",
        "terlalu banyak NIK yang sudah terdaftar; tunggu sebelum memberikan NIK lagi",
    )
    person_erased = Message(
        "this person was erased; the record can no longer change",
        "data warga ini sudah dihapus permanen; catatannya tidak dapat diubah lagi",
    )
    person_already_erased = Message(
        "this person was already erased", "data warga ini sudah dihapus permanen"
    )
    participation_duplicate = Message(
        "this person already has a record for this activity or assessment",
        "warga ini sudah memiliki catatan untuk kegiatan atau kajian ini",
    )
    participation_live_duplicate = Message(
        "another live record exists for this person and context, or with its external_id",
        "sudah ada catatan aktif lain untuk warga dan konteks ini, atau dengan external_id ini",
    )
    participation_forbidden = Message(
        "you may not change participation in this community",
        "Anda tidak boleh mengubah partisipasi di komunitas ini",
    )
    participation_record_forbidden = Message(
        "you may not record participation in this community",
        "Anda tidak boleh mencatat partisipasi di komunitas ini",
    )
    one_context = Message(
        "give exactly one of activity_id and assessment_id",
        "isi tepat satu dari activity_id dan assessment_id",
    )
    person_not_found = Message("person not found", "warga tidak ditemukan")
    activity_not_found = Message("activity not found", "kegiatan tidak ditemukan")
    assessment_not_found = Message("assessment not found", "kajian tidak ditemukan")
    person_outside_context = Message(
        "the person does not belong to a community of this context",
        "warga tidak berasal dari komunitas konteks ini",
    )
    date_outside_context = Message(
        "the date is outside the activity's schedule or the assessment's period",
        "tanggal berada di luar jadwal kegiatan atau periode kajian",
    )
    batch_shape = Message(
        'the body must be {"rows": [...]} with 1 to 1000 rows',
        'isi permintaan harus {"rows": [...]} dengan 1 sampai 1000 baris',
    )
    batch_too_many = Template(
        "a batch holds at most 1000 rows, got {count}",
        "satu batch paling banyak 1000 baris, diterima {count}",
    )
    row_invalid = Message("the row is not valid", "baris tidak valid")
    same_as_row = Template("same as row {row}", "sama dengan baris {row}")
    batch_rows_failed = Template(
        "{count} row(s) have errors; nothing was created (atomic)",
        "{count} baris bermasalah; tidak ada yang dibuat (atomik)",
    )

    # Village planning and Indeks Desa (issue 18).
    index_field_other_scheme = Template(
        "{field} does not apply to the {scheme} scheme",
        "{field} tidak berlaku untuk skema {scheme}",
        scheme="DevelopmentScheme",
    )
    index_field_required = Template(
        "{field} is required for the {scheme} scheme",
        "{field} wajib diisi untuk skema {scheme}",
        scheme="DevelopmentScheme",
    )
    proposals_forbidden = Message(
        "you may not change proposals of this community",
        "Anda tidak boleh mengubah usulan di komunitas ini",
    )
    planning_forbidden_here = Message(
        "you may not plan in this community", "Anda tidak boleh merencanakan di komunitas ini"
    )
    planning_year_too_far = Template(
        "planning_year may be at most {latest} (the RPJM Desa spans six years)",
        "planning_year paling lambat {latest} (RPJM Desa berjangka enam tahun)",
    )
    proposal_findings_invalid = Message(
        "findings must be problems or needs of validated assessments of the community",
        "temuan harus berupa masalah atau kebutuhan dari kajian tervalidasi di komunitas ini",
    )
    proposal_programs_invalid = Message(
        "programs must be live programs that include the proposal's community",
        "program harus program yang berjalan dan mencakup komunitas usulan",
    )
    finding_ids_repeat = Message("finding_ids must not repeat", "finding_ids tidak boleh berulang")
    program_ids_repeat = Message("program_ids must not repeat", "program_ids tidak boleh berulang")
    finding_proposed_already = Template(
        "finding {finding} already has a proposal for {year} ({proposal})",
        "temuan {finding} sudah memiliki usulan untuk tahun {year} ({proposal})",
    )
    proposal_closed = Template(
        "a {status} proposal can no longer change",
        "usulan berstatus {status} tidak dapat diubah lagi",
        status="ProposalStatus",
    )
    planning_year_draft_only = Message(
        "planning_year changes only while the proposal is a draft",
        "planning_year hanya dapat diubah selama usulan masih draf",
    )
    decision_in_future = Message("date is in the future", "tanggal berada di masa depan")
    decision_before_previous = Template(
        "date is before the previous decision ({previous})",
        "tanggal sebelum keputusan sebelumnya ({previous})",
    )
    apbdes_needs_funding = Message(
        "record the budget first: in_apbdes needs a funding line",
        "catat anggarannya dulu: in_apbdes memerlukan baris pendanaan",
    )
    realised_needs_amount = Message(
        "record what was spent first: realised needs a realised amount",
        "catat realisasinya dulu: realised memerlukan jumlah realisasi",
    )
    carry_over_deferred_only = Message(
        "only a deferred proposal is carried over",
        "hanya usulan yang ditunda yang dapat dibawa ke tahun berikutnya",
    )
    carried_over_already = Template(
        "this proposal has already been carried over ({draft})",
        "usulan ini sudah dibawa ke tahun berikutnya ({draft})",
    )
    carried_over_once = Message(
        "this proposal has already been carried over",
        "usulan ini sudah dibawa ke tahun berikutnya",
    )
    carried_over_again = Message(
        "the proposal it continues has been carried over again since",
        "usulan asalnya sudah dibawa lagi ke tahun berikutnya",
    )
    draft_needs_validated = Message(
        "proposals are drafted from a validated assessment's ranking",
        "usulan disusun dari peringkat kajian yang sudah divalidasi",
    )
    fiscal_year_range = Template(
        "fiscal_year must be from the planning year {first} to {last}",
        "fiscal_year harus dari tahun perencanaan {first} sampai {last}",
    )
    realised_above_planned = Message(
        "realised_amount is above planned_amount", "realised_amount melebihi planned_amount"
    )
    proposal_unfundable = Template(
        "a {status} proposal takes no funding",
        "usulan berstatus {status} tidak menerima pendanaan",
        status="ProposalStatus",
    )
    funding_line_taken = Template(
        "this proposal already has a {source} line for {fiscal_year}",
        "usulan ini sudah memiliki baris {source} untuk tahun {fiscal_year}",
        source="FundingSource",
    )

    # Exports and reports.
    dataset_unknown = Template(
        "no dataset '{dataset}'; see GET /api/v1/exports",
        "tidak ada dataset '{dataset}'; lihat GET /api/v1/exports",
    )
    identified_admins_only = Message(
        "only admins may export identified data",
        "hanya admin yang boleh mengekspor data beridentitas",
    )
    identified_needs_purpose = Message(
        "identified exports need a purpose", "ekspor beridentitas memerlukan tujuan (purpose)"
    )
    partner_reports_own = Message(
        "partners may read the progress reports of their programs only",
        "mitra hanya boleh membaca laporan kemajuan program mereka sendiri",
    )

    # Webhooks (issue 17).
    webhook_url_not_public = Message(
        "the URL's address is not public", "alamat URL ini bukan alamat publik"
    )
    webhook_url_refused = Template("{reason}", "URL ditolak: {reason}")
    webhook_delivery_not_found = Message("delivery not found", "pengiriman tidak ditemukan")
    webhook_delivery_in_flight = Message(
        "the delivery is being sent right now", "pengiriman ini sedang dikirim saat ini"
    )
    webhook_until_after_since = Message("until must be after since", "until harus sesudah since")
    webhook_partner_without_organization = Message(
        "this partner account belongs to no organisation",
        "akun mitra ini tidak terhubung ke organisasi mana pun",
    )
    webhook_own_organization_only = Message(
        "partners register endpoints for their own organisation only",
        "mitra hanya boleh mendaftarkan endpoint untuk organisasinya sendiri",
    )
    webhook_organization_not_found = Message(
        "partner organisation not found", "organisasi mitra tidak ditemukan"
    )
    webhook_endpoint_disabled = Template(
        "the endpoint is disabled ({reason}): enable it first (PATCH is_active true)",
        "endpoint ini dinonaktifkan ({reason}): aktifkan dulu (PATCH is_active true)",
        reason="DisabledReason",
    )

    # Field sync and PUT with client-made ids (issue 16).
    put_none_match_star_only = Message(
        "a PUT accepts only If-None-Match: * (create)",
        "PUT hanya menerima If-None-Match: * (membuat baru)",
    )
    put_nothing_to_match = Message(
        "there is no such resource to match; create it instead",
        "sumber daya yang dicocokkan tidak ada; buat baru saja",
    )
    put_id_taken_other_body = Message(
        "this id is already taken by a resource with another body",
        "id ini sudah dipakai sumber daya dengan isi yang lain",
    )
    put_precondition_required = Message(
        'the resource exists: send If-Match: "<etag>" to replace it (or If-None-Match: * to '
        "create)",
        'sumber daya ini sudah ada: kirim If-Match: "<etag>" untuk menggantinya (atau '
        "If-None-Match: * untuk membuat baru)",
    )
    put_stale = Message(
        "the resource has changed since you read it; merge with `current` and retry",
        "sumber daya ini sudah berubah sejak Anda membacanya; gabungkan dengan `current` lalu "
        "coba lagi",
    )
    put_id_taken = Message(
        "this id is already taken; make a new id",
        "id ini sudah dipakai; buat id baru",
    )
    record_identity_fixed = Template(
        "{name} is fixed when the record is created",
        "{name} ditetapkan saat catatan dibuat",
    )
    ballot_person_not_path = Message(
        "person_id must be the path's", "person_id harus sama dengan yang di path"
    )
    ballot_changed = Message(
        "the ballot has changed since the device read it",
        "suara ini sudah berubah sejak perangkat membacanya",
    )
    sync_roles_only = Message(
        "field sync is for admins, coordinators and facilitators; analysts use the exports, "
        "partners the events feed",
        "sinkronisasi lapangan untuk admin, koordinator dan fasilitator; analis memakai "
        "ekspor, mitra memakai umpan peristiwa",
    )
    sync_cursor_other_community = Message(
        "the cursor was made for another community_id",
        "kursor ini dibuat untuk community_id yang lain",
    )
    sync_reset = Message(
        "this cursor is older than the kept change log: sync again from the start (without a "
        "cursor)",
        "kursor ini lebih tua dari log perubahan yang disimpan: sinkronkan lagi dari awal "
        "(tanpa kursor)",
    )
    sync_parent_required = Template("{name} is required", "{name} wajib diisi")
    sync_upsert_needs_data = Message("an upsert needs data", "upsert memerlukan data")
    sync_retention_minimum = Message(
        "the change log is kept at least 180 days and mutations at least 30 days",
        "log perubahan disimpan paling sedikit 180 hari dan mutasi paling sedikit 30 hari",
    )


LABELS["MutationResult.status"] = LABELS["MutationStatus"]
LABELS["OriginForum"] = LABELS["Forum"]  # the forums a proposal can come from: a subset
LABELS["_Verb"] = {
    "change": Text("change", "mengubah"),
    "delete": Text("delete", "menghapus"),
    "erase": Text("erase", "menghapus permanen"),
    "restore": Text("restore", "memulihkan"),
    "read": Text("read", "membaca"),
    "update": Text("update", "mengubah"),
    "manage": Text("manage", "mengelola"),
}


def messages() -> Iterator[Template]:
    """Every template of the catalogue (the test walks them)."""
    for name, value in vars(M).items():
        if name.startswith("_"):
            continue
        if isinstance(value, Message):
            yield value.template
        elif isinstance(value, Template):
            yield value


_BY_ENGLISH: dict[str, Message] = {
    str(value): value for value in vars(M).values() if isinstance(value, Message)
}


def from_english(text: str) -> Message | None:
    """The catalogue's message whose English text is ``text`` (no placeholders)."""
    return _BY_ENGLISH.get(text)


# --- problem titles ---------------------------------------------------------------------------

STATUS_TITLES: dict[int, Text] = {
    400: Text("Bad Request", "Permintaan Tidak Valid"),
    401: Text("Unauthorized", "Tidak Terautentikasi"),
    403: Text("Forbidden", "Dilarang"),
    404: Text("Not Found", "Tidak Ditemukan"),
    405: Text("Method Not Allowed", "Metode Tidak Diizinkan"),
    406: Text("Not Acceptable", "Format Tidak Tersedia"),
    408: Text("Request Timeout", "Waktu Permintaan Habis"),
    409: Text("Conflict", "Konflik"),
    410: Text("Gone", "Sudah Tidak Ada"),
    412: Text("Precondition Failed", "Prasyarat Gagal"),
    413: Text("Request Entity Too Large", "Isi Permintaan Terlalu Besar"),
    415: Text("Unsupported Media Type", "Jenis Media Tidak Didukung"),
    422: Text("Unprocessable Entity", "Data Tidak Dapat Diproses"),
    428: Text("Precondition Required", "Prasyarat Diperlukan"),
    429: Text("Too Many Requests", "Terlalu Banyak Permintaan"),
    500: Text("Internal Server Error", "Kesalahan Server Internal"),
    501: Text("Not Implemented", "Belum Tersedia"),
    502: Text("Bad Gateway", "Gateway Bermasalah"),
    503: Text("Service Unavailable", "Layanan Tidak Tersedia"),
    504: Text("Gateway Timeout", "Waktu Gateway Habis"),
}


def status_title(status: int, default: str, lang: Lang | None = None) -> str:
    """The problem ``title`` of ``status``: ``default`` (the HTTP reason phrase) in English."""
    lang = lang or language_var.get()
    text = STATUS_TITLES.get(status)
    if lang == "en" or text is None:
        return default
    return text(lang)


# --- validation messages (pydantic error types) -------------------------------------------------

_INTEGER = Text("Input should be a valid integer", "Masukan harus berupa bilangan bulat")
_NUMBER = Text("Input should be a valid number", "Masukan harus berupa angka")
_DECIMAL = Text("Input should be a valid decimal", "Masukan harus berupa bilangan desimal")
_BOOLEAN = Text("Input should be a valid boolean", "Masukan harus berupa boolean (true/false)")
_UUID = Text("Input should be a valid UUID", "Masukan harus berupa UUID yang valid")
_DATE = Text("Input should be a valid date", "Masukan harus berupa tanggal yang valid")
_DATETIME = Text(
    "Input should be a valid datetime", "Masukan harus berupa tanggal-waktu yang valid"
)
_OBJECT = Text("Input should be an object", "Masukan harus berupa objek")
_CHOICE = Text("Input should be {expected}", "Masukan harus salah satu dari {expected}")
_URL = Text("Input should be a valid URL", "Masukan harus berupa URL yang valid")

VALIDATION: dict[str, Text] = {
    "missing": Text("Field required", "Wajib diisi"),
    "missing_argument": Text("Field required", "Wajib diisi"),
    "extra_forbidden": Text("Extra inputs are not permitted", "Kolom tambahan tidak diizinkan"),
    "string_type": Text("Input should be a valid string", "Masukan harus berupa teks"),
    "string_too_short": Text(
        "String should have at least {min_length} characters",
        "Teks harus berisi paling sedikit {min_length} karakter",
    ),
    "string_too_long": Text(
        "String should have at most {max_length} characters",
        "Teks paling banyak berisi {max_length} karakter",
    ),
    "string_pattern_mismatch": Text(
        "String should match pattern '{pattern}'", "Teks harus cocok dengan pola '{pattern}'"
    ),
    "string_unicode": Text(
        "Input should be a valid string", "Masukan harus berupa teks Unicode yang valid"
    ),
    "int_type": _INTEGER,
    "int_parsing": _INTEGER,
    "int_parsing_size": Text(
        "Unable to parse input string as an integer, exceeded maximum size",
        "Bilangan bulat terlalu besar",
    ),
    "int_from_float": Text(
        "Input should be a valid integer, got a number with a fractional part",
        "Masukan harus berupa bilangan bulat, bukan bilangan pecahan",
    ),
    "float_type": _NUMBER,
    "float_parsing": _NUMBER,
    "finite_number": Text("Input should be a finite number", "Masukan harus berupa angka hingga"),
    "decimal_type": _DECIMAL,
    "decimal_parsing": _DECIMAL,
    "decimal_max_digits": Text(
        "Decimal input should have no more than {max_digits} digits in total",
        "Bilangan desimal paling banyak berisi {max_digits} digit",
    ),
    "decimal_max_places": Text(
        "Decimal input should have no more than {decimal_places} decimal places",
        "Bilangan desimal paling banyak berisi {decimal_places} angka di belakang koma",
    ),
    "decimal_whole_digits": Text(
        "Decimal input should have no more than {whole_digits} digits before the decimal point",
        "Bilangan desimal paling banyak berisi {whole_digits} digit sebelum koma",
    ),
    "greater_than": Text("Input should be greater than {gt}", "Masukan harus lebih dari {gt}"),
    "greater_than_equal": Text(
        "Input should be greater than or equal to {ge}", "Masukan harus paling sedikit {ge}"
    ),
    "less_than": Text("Input should be less than {lt}", "Masukan harus kurang dari {lt}"),
    "less_than_equal": Text(
        "Input should be less than or equal to {le}", "Masukan harus paling banyak {le}"
    ),
    "multiple_of": Text(
        "Input should be a multiple of {multiple_of}", "Masukan harus kelipatan {multiple_of}"
    ),
    "bool_type": _BOOLEAN,
    "bool_parsing": _BOOLEAN,
    "enum": _CHOICE,
    "literal_error": _CHOICE,
    "uuid_type": _UUID,
    "uuid_parsing": _UUID,
    "uuid_version": _UUID,
    "date_type": _DATE,
    "date_parsing": _DATE,
    "date_from_datetime_parsing": _DATE,
    "date_from_datetime_inexact": _DATE,
    "datetime_type": _DATETIME,
    "datetime_parsing": _DATETIME,
    "datetime_from_date_parsing": _DATETIME,
    "datetime_object_invalid": _DATETIME,
    "timezone_aware": Text("Input should have timezone info", "Masukan harus memuat zona waktu"),
    "list_type": Text("Input should be a valid list", "Masukan harus berupa daftar"),
    "too_short": Text(
        "Should have at least {min_length} items", "Harus berisi paling sedikit {min_length} butir"
    ),
    "too_long": Text(
        "Should have at most {max_length} items", "Paling banyak berisi {max_length} butir"
    ),
    "dict_type": _OBJECT,
    "model_type": _OBJECT,
    "model_attributes_type": _OBJECT,
    "json_invalid": Text("Invalid JSON", "JSON tidak valid"),
    "json_type": Text("JSON input should be a string", "Masukan JSON harus berupa teks"),
    "json_duplicate_key": Text(str(M.json_duplicate_key), M.json_duplicate_key.render("id")),
    "body_invalid": Text(str(M.body_invalid), M.body_invalid.render("id")),
    "url_type": _URL,
    "url_parsing": _URL,
    "url_scheme": Text(
        "URL scheme should be {expected_schemes}", "Skema URL harus {expected_schemes}"
    ),
    "url_too_long": Text(
        "URL should have at most {max_length} characters",
        "URL paling banyak berisi {max_length} karakter",
    ),
    "value_error": Text("Invalid value", "Nilai tidak valid"),
    "assertion_error": Text("Invalid value", "Nilai tidak valid"),
}
GENERIC_INVALID = VALIDATION["value_error"]


def validation_message(error: Mapping[str, Any], lang: Lang) -> str:
    """The message of one pydantic error in ``lang``, without echoing the submitted value.

    A validator that raised ``ValueError(M.something)`` or a ``PydanticCustomError``
    carrying ``i18n_key`` in its context is shown by that message; other errors by their
    type; an unknown type by pydantic's own text (English) or a generic message."""
    ctx = error.get("ctx") or {}
    cause = ctx.get("error")
    if isinstance(cause, BaseException) and cause.args and isinstance(cause.args[0], Message):
        return cause.args[0].render(lang)
    key = ctx.get("i18n_key")
    if isinstance(key, str):
        template = _TEMPLATES.get(key)
        if template is not None:
            params = {k: v for k, v in ctx.items() if k != "i18n_key"}
            try:
                return template.render(lang, params)
            except (KeyError, IndexError, ValueError):
                pass
    kind = str(error.get("type", "value_error"))
    original = str(error.get("msg", ""))
    if kind == "value_error":
        known = from_english(original.removeprefix("Value error, "))
        if known is not None:
            return known.render(lang)
    text = VALIDATION.get(kind)
    if text is not None and (kind != "value_error" or lang != "en"):
        values = {k: _ctx_value(v, lang) for k, v in ctx.items()}
        try:
            return text(lang).format(**values)
        except (KeyError, IndexError, ValueError):
            pass
    if lang == "en" and original:
        return original
    return GENERIC_INVALID(lang)


def _ctx_value(value: Any, lang: Lang) -> str:
    text = str(value)
    return text.replace(" or ", " atau ") if lang == "id" else text


_TEMPLATES: dict[str, Template] = {template.key: template for template in messages()}


def custom_error(message: Message, kind: str = "value_error") -> Any:
    """A ``PydanticCustomError`` for ``message`` that the problem handler can translate
    (its context names the message; pydantic shows the English text)."""
    return PydanticCustomError(kind, str(message), {"i18n_key": message.key, **message.params})


# --- dates ------------------------------------------------------------------------------------

MONTHS: dict[Lang, tuple[str, ...]] = {
    "en": (
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ),
    "id": (
        "Januari",
        "Februari",
        "Maret",
        "April",
        "Mei",
        "Juni",
        "Juli",
        "Agustus",
        "September",
        "Oktober",
        "November",
        "Desember",
    ),
}


def long_date(day: date, lang: Lang) -> str:
    """``5 Februari 2025`` / ``5 February 2025``."""
    return f"{day.day} {MONTHS[lang][day.month - 1]} {day.year}"


def long_time(moment: datetime, lang: Lang) -> str:
    """``5 Februari 2025 pukul 09.00`` / ``5 February 2025 at 09:00`` (the time as given)."""
    if lang == "id":
        return f"{long_date(moment.date(), lang)} pukul {moment:%H.%M}"
    return f"{long_date(moment.date(), lang)} at {moment:%H:%M}"


def date_range(start: date | None, end: date | None, lang: Lang) -> str:
    """``5 Februari 2025 – 2 Desember 2025``; an open end is shown as ``…``."""  # noqa: RUF002
    first = long_date(start, lang) if start else "…"
    last = long_date(end, lang) if end else "…"
    return f"{first} \u2013 {last}"  # an en dash, as Indonesian documents write ranges


# --- the enums of an OpenAPI document ---------------------------------------------------------

_SKIPPED_KEYS = {"not", "if", "examples", "example"}


def document_enums(document: Mapping[str, Any]) -> dict[str, list[str]]:
    """Every enum of an OpenAPI document by name: a component schema by its name, an enum
    inside one by ``Schema.property``, a parameter's by the parameter's name (the values of
    every operation's parameter of that name together). Conditions (``if``/``not``) are not
    enums of their own."""
    found: dict[str, list[str]] = {}

    def add(name: str, values: list[Any]) -> None:
        bucket = found.setdefault(name, [])
        bucket.extend(str(v) for v in values if v is not None and str(v) not in bucket)

    def walk(node: Any, name: str | None, prop: str | None) -> None:
        if isinstance(node, dict):
            values = node.get("enum")
            if isinstance(values, list) and name:
                add(f"{name}.{prop}" if prop else name, values)
            for key, child in node.items():
                if key in _SKIPPED_KEYS:
                    continue
                if key == "properties" and isinstance(child, dict):
                    for prop_name, schema in child.items():
                        walk(schema, name, prop_name)
                else:
                    walk(child, name, prop)
        elif isinstance(node, list):
            for child in node:
                walk(child, name, prop)

    for schema_name, schema in document.get("components", {}).get("schemas", {}).items():
        walk(schema, schema_name, None)
    for item in document.get("paths", {}).values():
        for operation in item.values():
            if not isinstance(operation, dict):
                continue
            for parameter in operation.get("parameters", []):
                if isinstance(parameter, dict) and "name" in parameter:
                    walk(parameter.get("schema", {}), parameter["name"], None)
    return found


def _pascal(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in name.split("_"))


# Enums named after a property or parameter whose vocabulary has another name.
ALIASES: dict[str, str] = {
    "type": "EventType",
    "event_types": "EventType",
    "types": "EventType",
    "op": "SyncOp",
    "first_status": "MutationStatus",
}


def value_label(enum: str, value: str) -> Text | None:
    """The label of one value of a document enum (see :func:`document_enums`): its own
    entry, else (``Schema.property``) the vocabulary named after the property
    (``ServiceAccountCreate.role`` -> ``Role``); sort values from the field labels."""
    own = LABELS.get(enum, {}).get(value)
    if own is not None:
        return own
    name = enum.rsplit(".", 1)[-1]
    for vocabulary in (_pascal(name), name, _pascal(name.removesuffix("s")), ALIASES.get(name)):
        borrowed = LABELS.get(vocabulary or "", {}).get(value)
        if borrowed is not None:
            return borrowed
    if enum == "sort":
        field = LABELS["_Field"].get(value.removeprefix("-"))
        if field is None:
            return None
        order = LABELS["_SortOrder"]["descending" if value.startswith("-") else "ascending"]
        return Text(f"{field.en}, {order.en}", f"{field.id}, {order.id}")
    return None


def enum_labels(document: Mapping[str, Any], lang: Lang) -> dict[str, dict[str, str]]:
    """``{enum: {value: label}}`` for every enum of the document; a value without a label
    (a test prevents it) shows as itself."""
    result: dict[str, dict[str, str]] = {}
    for enum, values in sorted(document_enums(document).items()):
        result[enum] = {}
        for value in values:
            text = value_label(enum, value)
            result[enum][value] = text(lang) if text else value
    return result


def missing_labels(document: Mapping[str, Any]) -> list[str]:
    """``Enum.value`` (or ``Schema.property: value``) of every enum value without a label in
    both languages."""
    missing = []
    for enum, values in sorted(document_enums(document).items()):
        for value in values:
            text = value_label(enum, value)
            if text is None or not text.en.strip() or not text.id.strip():
                missing.append(f"{enum}: {value!r}")
    return missing


__all__ = [
    "DEFAULT_LANGUAGE",
    "LABELS",
    "LANGUAGES",
    "MONTHS",
    "STATUS_TITLES",
    "VALIDATION",
    "Lang",
    "M",
    "Message",
    "Template",
    "Text",
    "current_language",
    "custom_error",
    "date_range",
    "document_enums",
    "enum_labels",
    "label",
    "language_var",
    "long_date",
    "long_time",
    "messages",
    "missing_labels",
    "negotiate",
    "render",
    "status_title",
    "validation_message",
]
