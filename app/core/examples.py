"""Examples for the OpenAPI document: every request body and response schema shows one.

A schema's own example wins (``model_config = ConfigDict(json_schema_extra={"examples":
[...]})`` or ``Field(examples=[...])`` on its fields). A schema without one gets an example
composed from its fields: each field's own example, its default or first enum value, else a
realistic value for its name from :data:`BY_NAME` (Indonesian villages, names, amounts in
rupiah), within the field's bounds. ``tests/platform/test_reference.py`` validates every
example against its own schema with a JSON Schema validator.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from typing import Any

_NAMESPACE = uuid.UUID("6f1c2b8e-5d4a-4e7b-9c3f-1a2b3c4d5e6f")
REF_PREFIX = "#/components/schemas/"

# Realistic values by field name (the first match of ``Schema.field``, then ``field``).
BY_NAME: dict[str, Any] = {
    # people and organisations
    "PartnerCreate.name": "Yayasan Air Bersih Nusantara",
    "PartnerRead.name": "Yayasan Air Bersih Nusantara",
    "PartnerUpdate.name": "Yayasan Air Bersih Nusantara",
    "ServiceAccountCreate.name": "Integrasi SIPD Kabupaten Garut",
    "ServiceAccountRead.name": "Integrasi SIPD Kabupaten Garut",
    "ServiceAccountUpdate.name": "Integrasi SIPD Kabupaten Garut",
    "IndicatorCreate.name": "Rumah tangga dengan akses air bersih",
    "IndicatorRead.name": "Rumah tangga dengan akses air bersih",
    "IndicatorUpdate.name": "Rumah tangga dengan akses air bersih",
    "UserCreate.name": "Siti Rahmawati",
    "UserRead.name": "Siti Rahmawati",
    "UserUpdate.name": "Siti Rahmawati",
    "Me.name": "Siti Rahmawati",
    "name": "Desa Sukamaju",
    "full_name": "Siti Rahmawati",
    "display_name": "Siti Rahmawati",
    "coordinator": "Budi Santoso",
    "community": "Desa Sukamaju",
    "email": "siti.rahmawati@sukamaju.desa.id",
    "username": "siti.rahmawati@sukamaju.desa.id",
    "password": "kopi-tubruk-pagi-2025",
    "phone": "+6281234567890",
    "nik": "3205104101900001",
    "contact_name": "Dewi Lestari",
    "contact_email": "dewi.lestari@airbersih.or.id",
    "contact_phone": "+6285712345678",
    "proposed_by": "Kelompok Tani Sri Rejeki",
    # places
    "region_code": "32.05.10.2001",
    "region_prefix": "32.05",
    "location": "Balai Desa Sukamaju",
    "province": "Jawa Barat",
    "regency": "Kabupaten Garut",
    # programs and activities
    "ProgramCreate.title": "Penguatan BUMDes Air Bersih",
    "ProgramRead.title": "Penguatan BUMDes Air Bersih",
    "ProgramUpdate.title": "Penguatan BUMDes Air Bersih",
    "TermsOfReference.title": "Penguatan BUMDes Air Bersih",
    "ActivityCreate.title": "Pelatihan pengelolaan keuangan BUMDes",
    "ActivityRead.title": "Pelatihan pengelolaan keuangan BUMDes",
    "ActivityUpdate.title": "Pelatihan pengelolaan keuangan BUMDes",
    "AssessmentCreate.title": "Kajian kebutuhan air bersih 2025",
    "AssessmentRead.title": "Kajian kebutuhan air bersih 2025",
    "AssessmentUpdate.title": "Kajian kebutuhan air bersih 2025",
    "title": "Air bersih sulit didapat di musim kemarau",
    "code": "PRG-2025-0007",
    "summary": "Meningkatkan akses air bersih bagi 1.200 warga Desa Sukamaju.",
    "background": "Warga Dusun Cibeureum mengambil air dari mata air sejauh 2 km.",
    "objectives": "Membangun tiga sumur bor dan melatih pengelola BUMDes",
    "beneficiaries_description": "Rumah tangga miskin dan lansia di Dusun Cibeureum",
    "funding_source": "Dana Desa 2025",
    "description": "Desa agraris di lereng Gunung Papandayan; sebagian besar warga petani.",
    "potentials": "Mata air Cikahuripan dan kelompok tani yang aktif",
    "note": "Disepakati dalam musyawarah desa 12 Maret 2025.",
    "notes": "Dihadiri 45 warga, 18 di antaranya perempuan.",
    "unit": "KK",
    "BudgetLineCreate.unit": "paket",
    "BudgetLineRead.unit": "paket",
    "BudgetLineUpdate.unit": "paket",
    "BudgetLineCreate.description": "Konsumsi rapat musyawarah desa",
    "BudgetLineRead.description": "Konsumsi rapat musyawarah desa",
    "BudgetLineUpdate.description": "Konsumsi rapat musyawarah desa",
    "kegiatan": "Pembangunan sumur bor Dusun Cibeureum",
    "evidence": "Foto daftar hadir dan berita acara",
    "external_id": "SIPD-2025-000123",
    "apbdes_ref": "APBDes 2026 bidang 3.2.1",
    "agreement_ref": "PKS/017/DS-SKM/III/2025",
    "document_ref": "Berita Acara Musdes No. 4/2025",
    "purpose": "Evaluasi program air bersih Kabupaten Garut 2025",
    "url": "https://bappeda.garutkab.go.id/berdaya/webhook",
    "mutation_id": "tablet-07:2025-03-01:0042",
    "device_id": "tablet-fasilitator-07",
    "client_id": "sa_7KQ2M9XG",
    "client_secret": "bs_s3cr3t_sh0wn_0nc3_7KQ2M9XG",
    "secret": "whsec_MfKQ9r8GKYqXh1w5Y2Jl0w==",
    "access_token": "eyJhbGciOiJFUzI1NiIsImtpZCI6ImsxIn0.eyJzdWIiOiIwMTkyIn0.c2lnbmF0dXJl",
    "refresh_token": "rt_0192f5e47a1c7b3e9a51",
    "token": "rt_0192f5e47a1c7b3e9a51",
    "token_type": "bearer",
    "ActivityCreate.description": "Pelatihan pembukuan sederhana untuk pengurus BUMDes.",
    "ActivityRead.description": "Pelatihan pembukuan sederhana untuk pengurus BUMDes.",
    "ActivityUpdate.description": "Pelatihan pembukuan sederhana untuk pengurus BUMDes.",
    "ContributionCreate.description": "Dana pembangunan sumur bor tahap 1",
    "ContributionRead.description": "Dana pembangunan sumur bor tahap 1",
    "ContributionUpdate.description": "Dana pembangunan sumur bor tahap 1",
    "FindingCreate.description": "Di musim kemarau 320 warga mengambil air 2 km jauhnya.",
    "FindingRead.description": "Di musim kemarau 320 warga mengambil air 2 km jauhnya.",
    "FindingUpdate.description": "Di musim kemarau 320 warga mengambil air 2 km jauhnya.",
    "ServiceAccountSecret.name": "Integrasi SIPD Kabupaten Garut",
    "ServiceAccountCreate.role": "partner",
    "ServiceAccountRead.role": "partner",
    "ServiceAccountSecret.role": "partner",
    "Me.role": "facilitator",
    "Me.organization_id": None,
    "DataExport.sections": {
        "participation_records": [
            {"date": "2025-03-10", "level": "involve", "role": "beneficiary", "hours": 3}
        ]
    },
    "affected_people": 320,
    "bidang": 2,
    "female": 120,
    "male": 110,
    "poor_households": 35,
    "BeneficiariesRead.disability": 4,
    "BeneficiariesCreate.disability": 4,
    "Beneficiaries.disability": 4,
    "unit_cost_amount": 250_000,
    "total_amount": 1_000_000,
    "person_key": "p_7f3a9c2e1b4d",
    "highest_level": "involve",
    "level": "involve",
    "latitude": -7.2167,
    "longitude": 107.9,
    "birth_year": 1987,
    "birth_decade": 1980,
    "participation_count": 6,
    "ballots": 24,
    "points": 58,
    "votes": 20,
    "first_place_votes": 11,
    "erased": False,
    "disability": False,
    "is_active": True,
    "has_active_consent": True,
    # numbers
    "population": 3250,
    "households": 870,
    "year": 2025,
    "planning_year": 2026,
    "fiscal_year": 2026,
    "target_beneficiaries": 1200,
    "quantity": 4,
    "volume": 3,
    "baseline": 35,
    "target": 80,
    "value": 52,
    "severity": 3,
    "priority_rank": 1,
    "rank": 1,
    "version": 3,
    "hours": 3,
    "iks": 0.6512,
    "ike": 0.5874,
    "ikl": 0.6021,
    "idm_score": 0.6136,
    "score": 61.36,
    "count": 45,
    "amount": 2_500_000,
    "expires_in": 900,
}
# Fields best shown empty (null) in an example: what has not happened to a live record.
NULL_FIELDS = {
    "cursor",
    "next_cursor",
    "consent_withdrawn_at",
    "deleted_at",
    "revoked_at",
    "erased_at",
    "disabled_at",
    "disabled_reason",
    "last_error",
    "previous_secret_expires_at",
}
BY_SUFFIX: list[tuple[str, Any]] = [
    ("_amount", 12_500_000),
    ("_count", 45),
    ("_id", None),  # a uuid: see ``_string``
    ("_ids", None),
    ("_on", "2025-03-10"),
    ("_at", "2025-03-01T02:00:00Z"),
]
DATES = {
    "start_date": "2025-02-05",
    "end_date": "2025-12-02",
    "started_on": "2025-01-20",
    "completed_on": "2025-02-10",
    "date_from": "2025-01-01",
    "date_to": "2025-12-31",
    "scheduled_start": "2025-03-01T09:00:00+07:00",
    "scheduled_end": "2025-03-01T12:00:00+07:00",
}
TEXT_EXAMPLES = {
    "text/csv": "id,name,kind,region_code\n"
    "0192f5e4-7a1c-7b3e-9a51-6c2d8e4f1a20,Desa Sukamaju,desa,32.05.10.2001\n",
    "application/x-ndjson": '{"id":"0192f5e4-7a1c-7b3e-9a51-6c2d8e4f1a20",'
    '"name":"Desa Sukamaju","kind":"desa","region_code":"32.05.10.2001"}\n',
    "text/markdown": "# Kerangka Acuan Kerja: Penguatan BUMDes Air Bersih\n\n"
    "**Kode program:** PRG-2025-0007\n\n## 1. Latar Belakang\n\n"
    "Warga Dusun Cibeureum mengambil air dari mata air sejauh 2 km.\n",
}
# Examples of answers whose schema is open (``dict``), by operation id.
OPERATION_EXAMPLES: dict[str, Any] = {
    "jwks": {
        "keys": [
            {
                "kty": "EC",
                "crv": "P-256",
                "kid": "berdaya-2025-03",
                "use": "sig",
                "alg": "ES256",
                "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
                "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0",
            }
        ]
    },
}
BINARY_MEDIA_TYPES = ("application/vnd.apache.parquet", "application/octet-stream")


def _uuid(name: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, name or "id"))


class Composer:
    """Builds an example for a schema of the document from its fields."""

    def __init__(self, schemas: Mapping[str, Any]) -> None:
        self.schemas = schemas
        self.done: dict[str, Any] = {}
        self.busy: set[str] = set()

    def component(self, name: str) -> Any:
        if name in self.done:
            return self.done[name]
        schema = self.schemas.get(name, {})
        if schema.get("examples"):
            return schema["examples"][0]
        if name in self.busy:  # a recursive schema: stop here
            return None
        self.busy.add(name)
        try:
            value = self.value(schema, "", name)
        finally:
            self.busy.discard(name)
        self.done[name] = value
        return value

    def value(self, schema: Any, field: str, parent: str) -> Any:
        if not isinstance(schema, dict):
            return None
        if schema.get("examples"):
            return schema["examples"][0]
        if "example" in schema:
            return schema["example"]
        if "const" in schema:
            return schema["const"]
        if f"{parent}.{field}" in BY_NAME:  # a value written for this very field
            return BY_NAME[f"{parent}.{field}"]
        if "$ref" in schema:
            return self.component(schema["$ref"].removeprefix(REF_PREFIX))
        if "properties" in schema:
            return self._object(schema, parent)
        for key in ("anyOf", "oneOf"):
            if key in schema:
                if field in NULL_FIELDS and {"type": "null"} in schema[key]:
                    return None
                branches = [b for b in schema[key] if b.get("type") != "null"]
                if not branches:
                    return None
                # A number or its text: the number.
                numeric = [b for b in branches if b.get("type") in ("number", "integer")]
                return self.value((numeric or branches)[0], field, parent)
        if "allOf" in schema and len(schema["allOf"]) == 1:
            return self.value(schema["allOf"][0], field, parent)
        if schema.get("default") is not None:
            return schema["default"]
        if "enum" in schema:
            return schema["enum"][0]
        kind = schema.get("type")
        if kind == "object" or "properties" in schema:
            return self._object(schema, parent)
        if kind == "array":
            return self._array(schema, field, parent)
        if kind == "string":
            return self._string(schema, field, parent)
        if kind in ("integer", "number"):
            return self._number(schema, field, parent, integer=kind == "integer")
        if kind == "boolean":
            named = self._named(field, parent)
            return named if isinstance(named, bool) else True
        return None

    def _named(self, field: str, parent: str) -> Any:
        for key in (f"{parent}.{field}", field):
            if key in BY_NAME:
                return BY_NAME[key]
        return None

    def _object(self, schema: Mapping[str, Any], parent: str) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for name, prop in (schema.get("properties") or {}).items():
            result[name] = self.value(prop, name, parent)
        extra = schema.get("additionalProperties")
        if not result and isinstance(extra, dict) and extra:
            result["contoh"] = self.value(extra, "contoh", parent)
        branches = schema.get("oneOf") or schema.get("anyOf") or []
        if branches and all(isinstance(b, dict) and "properties" in b for b in branches):
            self._choose(result, schema, branches)
        return result

    def _choose(
        self, result: dict[str, Any], schema: Mapping[str, Any], branches: list[Any]
    ) -> None:
        """An object of one of several shapes (``oneOf`` of property rules): the first."""
        chosen = branches[0]
        for name, rule in chosen["properties"].items():
            if "const" in rule:
                result[name] = rule["const"]
            elif "enum" in rule:
                result[name] = rule["enum"][0]
            elif rule.get("type") == "null":
                result[name] = None
        required = set(schema.get("required", [])) | set(chosen.get("required", []))
        for other in branches[1:]:
            for name in other.get("required", []):
                if name not in required:
                    result.pop(name, None)

    def _array(self, schema: Mapping[str, Any], field: str, parent: str) -> list[Any]:
        items = schema.get("items", {})
        wanted = max(1, int(schema.get("minItems", 1)))
        if isinstance(items, dict) and "enum" in items:
            return list(items["enum"][:wanted])
        singular = field.removesuffix("s") if field.endswith("s") else field
        first = self.value(items, singular if field not in BY_NAME else field, parent)
        if isinstance(first, str) and isinstance(items, dict) and items.get("format") == "uuid":
            return [_uuid(f"{parent}.{field}.{i}") for i in range(wanted)]
        return [first] * wanted if wanted > 1 and not schema.get("uniqueItems") else [first]

    def _string(self, schema: Mapping[str, Any], field: str, parent: str) -> str:
        fmt = schema.get("format")
        if fmt == "uuid":
            return _uuid(f"{parent}.{field}")
        if fmt == "date":
            return DATES.get(field) or "2025-03-10"
        if fmt == "date-time":
            return DATES.get(field) or "2025-03-01T02:00:00Z"
        if fmt == "email":
            return str(BY_NAME["email"])
        if fmt in ("uri", "url"):
            return str(BY_NAME["url"])
        named = self._named(field, parent)
        if named is None:
            named = DATES.get(field)
        if named is None:
            for suffix, value in BY_SUFFIX:
                if field.endswith(suffix) and isinstance(value, str):
                    named = value
                    break
        text = str(named) if named is not None else "Desa Sukamaju"
        pattern = schema.get("pattern")
        if pattern and not re.search(pattern, text):
            text = _matching(pattern) or text
        limit = schema.get("maxLength")
        if isinstance(limit, int) and len(text) > limit:
            text = text[:limit].rstrip() or text[:limit]
        return text

    def _number(
        self, schema: Mapping[str, Any], field: str, parent: str, *, integer: bool
    ) -> int | float:
        named = self._named(field, parent)
        if not isinstance(named, int | float) or isinstance(named, bool):
            named = next(
                (v for s, v in BY_SUFFIX if field.endswith(s) and isinstance(v, int)), None
            )
        value: float = named if isinstance(named, int | float) else 10
        low = schema.get("minimum", schema.get("exclusiveMinimum"))
        high = schema.get("maximum", schema.get("exclusiveMaximum"))
        if high is not None and value > high:
            value = high if "maximum" in schema else high - (1 if integer else 0.01)
        if low is not None and value < low:
            value = low if "minimum" in schema else low + (1 if integer else 0.01)
        return int(value) if integer else value


def _matching(pattern: str) -> str | None:
    """A short text for the few patterns a name-based value may miss."""
    for candidate in ("PRG-2025-0007", "1", "0.5", "32.05", "sa_7KQ2M9XG"):
        if re.search(pattern, candidate):
            return candidate
    return None


def add_examples(document: dict[str, Any]) -> None:
    """Give every component schema, request body and response of ``document`` an example."""
    schemas: dict[str, Any] = document.get("components", {}).get("schemas", {})
    composer = Composer(schemas)
    for name, schema in schemas.items():
        for example in schema.get("examples") or []:
            if isinstance(example, dict):
                _complete(composer, name, schema, example)
    for name, schema in schemas.items():
        if schema.get("examples") or "enum" in schema:
            continue
        if schema.get("type") == "object" or "properties" in schema:
            schema["examples"] = [composer.component(name)]
    for item in document.get("paths", {}).values():
        for operation in item.values():
            if not isinstance(operation, dict):
                continue
            contents = [operation.get("requestBody", {}).get("content", {})]
            contents += [
                response.get("content", {})
                for status, response in operation.get("responses", {}).items()
                if status.startswith("2")
            ]
            operation_id = operation.get("operationId", "")
            for content in contents:
                for media_type, entry in content.items():
                    _media_example(composer, operation_id, media_type, entry)


def _allows_null(schema: Mapping[str, Any]) -> bool:
    kinds = schema.get("type")
    return (
        kinds == "null"
        or (isinstance(kinds, list) and "null" in kinds)
        or any(b.get("type") == "null" for b in schema.get("anyOf", []) if isinstance(b, dict))
    )


def _complete(
    composer: Composer, name: str, schema: Mapping[str, Any], example: dict[str, Any]
) -> None:
    """A model's own example, as FastAPI put it in the document: its ``null`` values are
    dropped there (``exclude_none``), and a subclass inherits its parent's example. Each
    required field missing is put back: ``null`` where the field allows it, else a
    composed value."""
    properties = schema.get("properties") or {}
    for field in schema.get("required", []):
        if field in example or field not in properties:
            continue
        prop = properties[field]
        example[field] = None if _allows_null(prop) else composer.value(prop, field, name)


def _media_example(
    composer: Composer, operation_id: str, media_type: str, entry: dict[str, Any]
) -> None:
    if "example" in entry or "examples" in entry or media_type in BINARY_MEDIA_TYPES:
        return
    schema = entry.get("schema", {})
    if media_type in TEXT_EXAMPLES:
        entry["example"] = TEXT_EXAMPLES[media_type]
    elif media_type == "application/json" and operation_id in OPERATION_EXAMPLES:
        entry["example"] = OPERATION_EXAMPLES[operation_id]
    elif "$ref" not in schema:
        example = composer.value(schema, "", "")
        if example not in (None, {}, []):  # an open schema: nothing worth showing
            entry["example"] = example
