"""The participant registry (personal data): NIK validation, masking by role, lookup by keyed
hash, uniqueness, encryption at rest and key rotation, consent, data-subject rights, logs."""

from __future__ import annotations

import asyncio
import base64
import logging
import secrets
import uuid
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
import pytest

from app.core.pii import PiiCipher, PiiKeyError
from app.people import service
from app.people.models import Person
from app.people.nik import validate_nik
from tests.factories import PEOPLE
from tests.helpers import locs

BASE = PEOPLE

NIK = "3204124506850003"  # Jawa Barat / Bandung; 5 June 1985 (day 45 = 5, female); serial 3
NIK_MASKED = "************0003"
PHONE_LOCAL, PHONE_E164 = "081234567890", "+6281234567890"
PHONE_MASKED = "*" * 11 + "890"
NAME = "Siti Aminah Wulandari"


# --- helpers ----------------------------------------------------------------------------------


def body(community_id: str, **overrides: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {"community_id": community_id, "full_name": NAME, "sex": "female"}
    payload.update(overrides)
    return payload


async def create(client: httpx.AsyncClient, community_id: str, **overrides: Any) -> dict[str, Any]:
    r = await client.post(BASE, json=body(community_id, **overrides))
    assert r.status_code == 201, r.text
    created: dict[str, Any] = r.json()
    return created


async def raw_person(raw_db: asyncpg.Pool, person_id: str) -> asyncpg.Record:
    row = await raw_db.fetchrow("SELECT * FROM people WHERE id = $1", uuid.UUID(person_id))
    assert row is not None
    return row


async def audit_rows(raw_db: asyncpg.Pool, **where: Any) -> list[asyncpg.Record]:
    # `whole` is the entire row; `free_text` only the columns that could ever hold text from a
    # request (ids, timestamps and request ids are random and may contain any short digit run).
    sql = (
        "SELECT *, a::text AS whole,"
        " concat_ws(' ', actor_kind, action, resource, changed_fields::text, note) AS free_text"
        " FROM audit_events a"
    )
    if where:
        sql += " WHERE " + " AND ".join(f"{k} = ${i}" for i, k in enumerate(where, 1))
    return list(await raw_db.fetch(sql + " ORDER BY at, id", *where.values()))


def new_key_entry(kid: str) -> str:
    return f"{kid}:" + base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


# --- NIK validation ---------------------------------------------------------------------------

GOOD_NIKS = [
    ("3204124506850003", "female, day 45 = 5 June"),
    ("3204120506850003", "male, 5 June"),
    ("3204124101900001", "female, day 41 = 1st"),
    ("3204127112900001", "female, day 71 = 31 December"),
    ("3204123112900001", "male, 31 December"),
    ("3204122902840001", "29 February, year divisible by 4"),
    ("3204126902840001", "female 29 February, year divisible by 4"),
    ("3204122902000001", "29 February of year 00"),
    ("9604123101990001", "Papua Barat Daya (96)"),
    ("1101010101019999", "Aceh, serial 9999"),
]

BAD_NIKS = [
    ("32041245068500a3", "non-digit"),
    ("3204-1245-0685-0", "dashes"),
    ("".join(chr(0xFF10 + int(d)) for d in "3204124506850003"), "full-width digits"),
    ("".join(chr(0x0660 + int(d)) for d in "3204124506850003"), "Arabic-Indic digits"),
    ("32\uff10\uff14124506850003", "full-width regency digits after an ASCII province"),
    ("320412450685000\u0663", "Arabic-Indic digit in the serial"),
    ("320412450685000", "15 digits"),
    ("32041245068500031", "17 digits"),
    ("9904124506850003", "unknown province 99"),
    ("2004124506850003", "unknown province 20"),
    ("3200124506850003", "zero regency"),
    ("3204004506850003", "zero district"),
    ("3204120513850003", "month 13"),
    ("3204120500850003", "month 00"),
    ("3204123201850003", "day 32"),
    ("3204120001850003", "day 00"),
    ("3204124001850003", "day 40 (female day 0)"),
    ("3204127201850003", "day 72 (female day 32)"),
    ("3204123104850003", "31 April"),
    ("3204123002840003", "30 February"),
    ("3204127002840003", "female 30 February"),
    ("3204122902850003", "29 February, year not divisible by 4"),
    ("3204126902850003", "female 29 February, year not divisible by 4"),
    ("3204124506850000", "serial 0000"),
]


@pytest.mark.parametrize(("nik", "why"), GOOD_NIKS, ids=[w for _, w in GOOD_NIKS])
def test_validate_nik_accepts(nik: str, why: str) -> None:
    assert validate_nik(nik) == nik


def test_validate_nik_normalises_spaces() -> None:
    assert validate_nik(" 3204 1245 0685 0003 ") == NIK


@pytest.mark.parametrize(("nik", "why"), BAD_NIKS, ids=[w for _, w in BAD_NIKS])
def test_validate_nik_rejects(nik: str, why: str) -> None:
    with pytest.raises(ValueError) as info:
        validate_nik(nik)
    assert nik not in str(info.value)


async def test_nik_validation_over_http(
    admin: httpx.AsyncClient, community: dict[str, Any], raw_db: asyncpg.Pool
) -> None:
    for nik, why in BAD_NIKS:
        r = await admin.post(BASE, json=body(community["id"], nik=nik))
        assert r.status_code == 422, (why, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
        assert ["body", "nik"] in locs(r), (why, locs(r))
        assert nik not in r.text, why
        r = await admin.post(f"{BASE}/lookup", json={"nik": nik})
        assert r.status_code == 422, (why, r.text)
        assert nik not in r.text, why
    assert await raw_db.fetchval("SELECT count(*) FROM people") == 0

    for nik, why in GOOD_NIKS:
        r = await admin.post(BASE, json=body(community["id"], nik=nik))
        assert r.status_code == 201, (why, r.text)
        assert r.json()["nik"] == "*" * 12 + nik[-4:]

    # PATCH validates too
    person = await create(admin, community["id"])
    r = await admin.patch(f"{BASE}/{person['id']}", json={"nik": "3204127201850003"})
    assert r.status_code == 422, r.text
    assert "3204127201850003" not in r.text


async def test_invalid_phone_is_422_without_echo(
    admin: httpx.AsyncClient, community: dict[str, Any]
) -> None:
    r = await admin.post(BASE, json=body(community["id"], phone="0812-ABC-99999"))
    assert r.status_code == 422, r.text
    assert ["body", "phone"] in locs(r)
    assert "0812-ABC-99999" not in r.text


# --- masking by role --------------------------------------------------------------------------


async def test_masking_for_every_role(
    admin: httpx.AsyncClient,
    coordinator: httpx.AsyncClient,
    facilitator: httpx.AsyncClient,
    analyst: httpx.AsyncClient,
    partner: httpx.AsyncClient,
    community: dict[str, Any],
) -> None:
    created = await create(admin, community["id"], nik=NIK, phone=PHONE_LOCAL, birth_year=1985)
    pid = created["id"]
    assert created["nik"] == NIK_MASKED
    assert created["phone"] == PHONE_MASKED

    for who, client in (
        ("admin", admin),
        ("coordinator", coordinator),
        ("facilitator", facilitator),
    ):
        r = await client.get(f"{BASE}/{pid}")
        assert r.status_code == 200, (who, r.text)
        got = r.json()
        assert got["nik"] == NIK_MASKED, who
        assert got["phone"] == PHONE_MASKED, who
        assert got["full_name"] == NAME, who
        assert got["birth_year"] == 1985, who
        assert NIK not in r.text and PHONE_E164 not in r.text, who
        assert "cache-control" in r.headers
        items = (await client.get(BASE)).json()["items"]
        assert [i["nik"] for i in items] == [NIK_MASKED], who
        assert [i["phone"] for i in items] == [PHONE_MASKED], who

    r = await analyst.get(f"{BASE}/{pid}")
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["full_name"] is None
    assert got["nik"] is None
    assert got["phone"] is None
    assert got["birth_year"] is None
    assert got["birth_decade"] == 1980
    assert got["person_key"].startswith("p_")
    assert got["person_key"] == created["person_key"]
    assert NAME not in r.text and NIK[-4:] + '"' not in r.text
    listed = (await analyst.get(BASE)).json()["items"]
    assert len(listed) == 1
    assert listed[0]["full_name"] is None and listed[0]["nik"] is None
    assert listed[0]["phone"] is None and listed[0]["birth_year"] is None
    assert listed[0]["person_key"] == created["person_key"]

    assert (await partner.get(BASE)).status_code == 403
    assert (await partner.get(f"{BASE}/{pid}")).status_code == 404
    assert (await partner.get(f"{BASE}/{pid}?reveal=nik")).status_code == 404
    assert (await partner.post(f"{BASE}/lookup", json={"nik": NIK})).status_code == 403


async def test_admin_reveal_is_audited_without_value(
    admin: httpx.AsyncClient,
    coordinator: httpx.AsyncClient,
    facilitator: httpx.AsyncClient,
    analyst: httpx.AsyncClient,
    community: dict[str, Any],
    raw_db: asyncpg.Pool,
) -> None:
    pid = (await create(admin, community["id"], nik=NIK, phone=PHONE_LOCAL))["id"]
    r = await admin.get(f"{BASE}/{pid}", params={"reveal": "nik"})
    assert r.status_code == 200, r.text
    assert r.json()["nik"] == NIK
    assert r.json()["phone"] == PHONE_MASKED  # only the NIK is revealed
    assert r.headers["cache-control"] == "no-store"

    reveals = await audit_rows(raw_db, action="reveal")
    assert len(reveals) == 1
    assert reveals[0]["resource"] == "people"
    assert str(reveals[0]["resource_id"]) == pid
    assert reveals[0]["changed_fields"] == ["nik"]
    assert NIK not in reveals[0]["whole"]

    for client in (coordinator, facilitator, analyst):
        r = await client.get(f"{BASE}/{pid}", params={"reveal": "nik"})
        assert r.status_code == 403, r.text
        assert NIK not in r.text
    assert len(await audit_rows(raw_db, action="reveal")) == 1
    # an unknown reveal target is a 422, not a silent reveal
    assert (await admin.get(f"{BASE}/{pid}", params={"reveal": "phone"})).status_code == 422


# --- lookup -----------------------------------------------------------------------------------


async def test_lookup_by_nik(
    admin: httpx.AsyncClient,
    coordinator: httpx.AsyncClient,
    facilitator: httpx.AsyncClient,
    analyst: httpx.AsyncClient,
    community: dict[str, Any],
    other_community: dict[str, Any],
) -> None:
    inside = await create(admin, community["id"], nik=NIK)
    outside = await create(
        admin, other_community["id"], nik="3204120506850003", full_name="Budi Santoso", sex="male"
    )

    for client in (admin, coordinator):
        r = await client.post(f"{BASE}/lookup", json={"nik": NIK})
        assert r.status_code == 200, r.text
        assert [p["id"] for p in r.json()["items"]] == [inside["id"]]
        assert r.json()["items"][0]["nik"] == NIK_MASKED
        # normalised input finds the same person
        r = await client.post(f"{BASE}/lookup", json={"nik": "3204 1245 0685 0003"})
        assert [p["id"] for p in r.json()["items"]] == [inside["id"]]

    r = await admin.post(f"{BASE}/lookup", json={"nik": "3204124506850004"})
    assert r.status_code == 200 and r.json() == {"items": []}

    r = await facilitator.post(f"{BASE}/lookup", json={"nik": NIK})
    assert [p["id"] for p in r.json()["items"]] == [inside["id"]]
    r = await facilitator.post(f"{BASE}/lookup", json={"nik": "3204120506850003"})
    assert r.status_code == 200 and r.json() == {"items": []}
    r = await admin.post(f"{BASE}/lookup", json={"nik": "3204120506850003"})
    assert [p["id"] for p in r.json()["items"]] == [outside["id"]]

    assert (await analyst.post(f"{BASE}/lookup", json={"nik": NIK})).status_code == 403
    # the NIK never travels in a URL: there is no GET lookup
    assert (await admin.get(f"{BASE}/lookup", params={"nik": NIK})).status_code in (404, 405, 422)
    # deleted people are not found
    assert (await admin.delete(f"{BASE}/{inside['id']}")).status_code == 204
    assert (await admin.post(f"{BASE}/lookup", json={"nik": NIK})).json() == {"items": []}


# --- uniqueness -------------------------------------------------------------------------------


async def test_duplicate_nik_is_409_without_disclosure(
    admin: httpx.AsyncClient, community: dict[str, Any], other_community: dict[str, Any]
) -> None:
    first = await create(admin, community["id"], nik=NIK)
    r = await admin.post(BASE, json=body(other_community["id"], nik=NIK, full_name="Dewi Lestari"))
    assert r.status_code == 409, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    for secret in (NIK, NAME, first["id"], "Dewi Lestari"):
        assert secret not in r.text

    # the same through PATCH of another person
    second = await create(admin, community["id"], full_name="Dewi Lestari")
    r = await admin.patch(f"{BASE}/{second['id']}", json={"nik": NIK})
    assert r.status_code == 409, r.text
    for secret in (NIK, NAME, first["id"]):
        assert secret not in r.text
    # setting one's own NIK again is no conflict
    r = await admin.patch(f"{BASE}/{first['id']}", json={"nik": NIK})
    assert r.status_code == 200, r.text


async def test_nik_is_free_again_after_soft_delete(
    admin: httpx.AsyncClient, community: dict[str, Any]
) -> None:
    first = await create(admin, community["id"], nik=NIK)
    assert (await admin.delete(f"{BASE}/{first['id']}")).status_code == 204
    second = await create(admin, community["id"], nik=NIK, full_name="Orang Lain")
    assert second["nik"] == NIK_MASKED
    # restoring the first would make two live registrations: refused
    r = await admin.post(f"{BASE}/{first['id']}/restore")
    assert r.status_code == 409, r.text
    assert NIK not in r.text and second["id"] not in r.text


async def test_concurrent_duplicate_creates(
    admin: httpx.AsyncClient, community: dict[str, Any], raw_db: asyncpg.Pool
) -> None:
    responses = await asyncio.gather(
        *[
            admin.post(BASE, json=body(community["id"], nik=NIK, full_name=f"Peserta {i}"))
            for i in range(10)
        ]
    )
    statuses = Counter(r.status_code for r in responses)
    assert statuses == {201: 1, 409: 9}, [(r.status_code, r.text) for r in responses]
    for r in responses:
        assert NIK not in r.text
    assert await raw_db.fetchval("SELECT count(*) FROM people") == 1


# --- encryption at rest and key rotation ------------------------------------------------------


async def test_encryption_at_rest(
    app: Any, admin: httpx.AsyncClient, community: dict[str, Any], raw_db: asyncpg.Pool
) -> None:
    pid = (await create(admin, community["id"], nik=NIK, phone=PHONE_LOCAL))["id"]
    row = await raw_person(raw_db, pid)
    personal: service.PersonalData = app.state.personal_data
    for column in ("nik_ciphertext", "phone_ciphertext"):
        stored = row[column]
        assert stored.startswith(f"v1.{personal.cipher.current_kid}.")
        for secret in (NIK, NIK[-4:] + NIK[:4], PHONE_LOCAL, PHONE_E164, "81234567890"):
            assert secret not in stored, column
    assert row["nik_hash"] != NIK and NIK not in row["nik_hash"]
    assert row["nik_hash"] == personal.nik_digest(NIK)
    row_text = await raw_db.fetchval("SELECT p::text FROM people p WHERE id = $1", uuid.UUID(pid))
    assert NIK not in row_text and "81234567890" not in row_text

    assert personal.cipher.decrypt(row["nik_ciphertext"], "nik") == NIK
    assert personal.cipher.decrypt(row["phone_ciphertext"], "phone") == PHONE_E164
    # the field is bound: a NIK ciphertext does not decrypt as a phone
    with pytest.raises(PiiKeyError):
        personal.cipher.decrypt(row["nik_ciphertext"], "phone")
    # another key under the same id cannot decrypt; nor can a cipher lacking the key id
    impostor = PiiCipher.from_config([new_key_entry(personal.cipher.current_kid)])
    with pytest.raises(PiiKeyError):
        impostor.decrypt(row["nik_ciphertext"], "nik")
    with pytest.raises(PiiKeyError):
        PiiCipher.from_config([new_key_entry("other")]).decrypt(row["phone_ciphertext"], "phone")
    # two encryptions of one value differ (random nonce)
    assert personal.cipher.encrypt(NIK, "nik") != personal.cipher.encrypt(NIK, "nik")


async def test_key_rotation(
    app: Any, admin: httpx.AsyncClient, community: dict[str, Any], raw_db: asyncpg.Pool
) -> None:
    old: service.PersonalData = app.state.personal_data
    old_kid = old.cipher.current_kid
    pid = (await create(admin, community["id"], nik=NIK, phone=PHONE_LOCAL))["id"]
    assert (await raw_person(raw_db, pid))["nik_ciphertext"].startswith(f"v1.{old_kid}.")

    entry = new_key_entry("k2")
    rotated = PiiCipher.from_config([entry, *app.state.settings.pii_keys])
    assert rotated.current_kid == "k2"
    app.state.personal_data = service.PersonalData(cipher=rotated, hasher=old.hasher)
    try:
        # old ciphertexts stay readable; new ones use the new key
        r = await admin.get(f"{BASE}/{pid}", params={"reveal": "nik"})
        assert r.status_code == 200, r.text
        assert r.json()["nik"] == NIK and r.json()["phone"] == PHONE_MASKED
        newer = await create(
            admin, community["id"], nik="3204120506850003", phone="081311112222", full_name="Budi"
        )
        assert (await raw_person(raw_db, newer["id"]))["nik_ciphertext"].startswith("v1.k2.")
        # lookup still works (the hash key did not change)
        found = (await admin.post(f"{BASE}/lookup", json={"nik": NIK})).json()["items"]
        assert [p["id"] for p in found] == [pid]

        async with app.state.database.sessions() as s:
            changed = await service.reencrypt_all(s, rotated)
            await s.commit()
        assert changed == 1
        async with app.state.database.sessions() as s:
            assert await service.reencrypt_all(s, rotated) == 0
            await s.commit()

        row = await raw_person(raw_db, pid)
        assert PiiCipher.key_id_of(row["nik_ciphertext"]) == "k2"
        assert PiiCipher.key_id_of(row["phone_ciphertext"]) == "k2"
        only_new = PiiCipher.from_config([entry])
        assert only_new.decrypt(row["nik_ciphertext"], "nik") == NIK
        assert only_new.decrypt(row["phone_ciphertext"], "phone") == PHONE_E164
        with pytest.raises(PiiKeyError):
            old.cipher.decrypt(row["nik_ciphertext"], "nik")
        r = await admin.get(f"{BASE}/{pid}", params={"reveal": "nik"})
        assert r.json()["nik"] == NIK
    finally:
        app.state.personal_data = old


# --- consent ----------------------------------------------------------------------------------


async def test_consent_given_and_withdrawn(
    app: Any, admin: httpx.AsyncClient, community: dict[str, Any]
) -> None:
    before = datetime.now(UTC)
    created = await create(admin, community["id"], consent_purposes=["program_participation"])
    assert created["consent_given_at"] is not None
    assert datetime.fromisoformat(created["consent_given_at"]) >= before.replace(microsecond=0)
    assert created["has_active_consent"] is True

    no_consent = await create(admin, community["id"], full_name="Tanpa Persetujuan")
    assert no_consent["consent_given_at"] is None
    assert no_consent["has_active_consent"] is False

    async with app.state.database.sessions() as s:
        person = await s.get(Person, uuid.UUID(created["id"]))
        assert person is not None
        assert service.has_active_consent(person, "program_participation") is True
        assert service.has_active_consent(person, "contact") is False

    r = await admin.patch(
        f"{BASE}/{created['id']}", json={"consent_withdrawn_at": datetime.now(UTC).isoformat()}
    )
    assert r.status_code == 200, r.text
    assert r.json()["has_active_consent"] is False
    assert r.json()["consent_withdrawn_at"] is not None
    async with app.state.database.sessions() as s:
        person = await s.get(Person, uuid.UUID(created["id"]))
        assert person is not None
        assert service.has_active_consent(person, "program_participation") is False
        assert service.has_active_consent(person) is False

    # consent timestamps must carry a timezone
    r = await admin.post(
        BASE,
        json=body(
            community["id"], consent_purposes=["contact"], consent_given_at="2024-01-01T10:00:00"
        ),
    )
    assert r.status_code == 422, r.text
    r = await admin.post(BASE, json=body(community["id"], consent_purposes=["bogus"]))
    assert r.status_code == 422, r.text


# --- data-subject rights ----------------------------------------------------------------------


async def test_data_export(
    admin: httpx.AsyncClient,
    coordinator: httpx.AsyncClient,
    facilitator: httpx.AsyncClient,
    analyst: httpx.AsyncClient,
    partner: httpx.AsyncClient,
    community: dict[str, Any],
    raw_db: asyncpg.Pool,
) -> None:
    pid = (await create(admin, community["id"], nik=NIK, phone=PHONE_LOCAL, birth_year=1985))["id"]
    url = f"{BASE}/{pid}/data-export"

    r = await admin.get(url)
    assert r.status_code == 200, r.text
    exported = r.json()
    assert exported["person"]["nik"] == NIK
    assert exported["person"]["phone"] == PHONE_E164
    assert exported["person"]["full_name"] == NAME
    assert exported["person"]["birth_year"] == 1985
    assert isinstance(exported["sections"], dict)
    assert exported["exported_at"]
    assert r.headers["cache-control"] == "no-store"

    r = await coordinator.get(url)
    assert r.status_code == 200, r.text
    assert r.json()["person"]["nik"] == NIK_MASKED
    assert r.json()["person"]["phone"] == PHONE_MASKED
    assert NIK not in r.text and PHONE_E164 not in r.text

    assert (await analyst.get(url)).status_code == 403
    assert (await facilitator.get(url)).status_code == 403
    assert (await partner.get(url)).status_code == 404

    events = await audit_rows(raw_db, action="data_export")
    assert len(events) == 2
    assert all(str(e["resource_id"]) == pid and e["resource"] == "people" for e in events)
    for e in events:
        for secret in (NIK, NAME, "81234567890"):
            assert secret not in e["whole"]


async def test_erasure(
    admin: httpx.AsyncClient,
    coordinator: httpx.AsyncClient,
    community: dict[str, Any],
    raw_db: asyncpg.Pool,
) -> None:
    created = await create(
        admin,
        community["id"],
        nik=NIK,
        phone=PHONE_LOCAL,
        birth_year=1985,
        disability=True,
        vulnerable_groups=["poor_household"],
        consent_purposes=["program_participation"],
    )
    pid = created["id"]
    # touch it in ways that produce more audit events
    r = await admin.patch(f"{BASE}/{pid}", json={"full_name": NAME + " Putri"})
    assert r.status_code == 200, r.text
    assert (await admin.get(f"{BASE}/{pid}", params={"reveal": "nik"})).status_code == 200
    assert (await admin.get(f"{BASE}/{pid}/data-export")).status_code == 200

    r = await coordinator.post(f"{BASE}/{pid}/erasure")
    assert r.status_code == 403, r.text

    r = await admin.post(f"{BASE}/{pid}/erasure")
    assert r.status_code == 200, r.text
    erased = r.json()
    assert erased["erased"] is True
    assert erased["full_name"] is None
    assert erased["nik"] is None
    assert erased["phone"] is None
    assert erased["birth_year"] is None
    assert erased["birth_decade"] == 1980
    assert erased["sex"] == "female"
    assert erased["disability"] is True
    assert erased["community_id"] == community["id"]
    assert erased["has_active_consent"] is False

    row = await raw_person(raw_db, pid)
    for column in ("full_name", "nik_ciphertext", "nik_hash", "phone_ciphertext", "birth_year"):
        assert row[column] is None, column
    assert row["birth_decade"] == 1980 and row["sex"] == "female"
    assert row["erased_at"] is not None

    events = await audit_rows(raw_db)
    assert any(e["action"] == "erasure" for e in events)
    for e in events:
        for secret in (NIK, NAME, "81234567890"):
            assert secret not in e["whole"], (e["action"], secret)
        for short_secret in ("0812", "1985"):
            assert short_secret not in e["free_text"], (e["action"], short_secret)

    got = (await admin.get(f"{BASE}/{pid}", params={"reveal": "nik"})).json()
    assert got["full_name"] is None and got["nik"] is None and got["erased"] is True
    export = (await admin.get(f"{BASE}/{pid}/data-export")).json()
    assert export["person"]["nik"] is None and export["person"]["phone"] is None
    assert (await admin.post(f"{BASE}/lookup", json={"nik": NIK})).json() == {"items": []}

    # the NIK can be registered again, for a new person
    again = await create(admin, community["id"], nik=NIK, full_name="Pemilik Baru")
    assert again["id"] != pid
    found = (await admin.post(f"{BASE}/lookup", json={"nik": NIK})).json()["items"]
    assert [p["id"] for p in found] == [again["id"]]

    r = await admin.post(f"{BASE}/{pid}/erasure")
    assert r.status_code == 409, r.text
    r = await admin.patch(f"{BASE}/{pid}", json={"full_name": "Kembali"})
    assert r.status_code == 422, r.text
    r = await admin.patch(f"{BASE}/{pid}", json={"nik": NIK})
    assert r.status_code == 422, r.text
    assert (await raw_person(raw_db, pid))["full_name"] is None


# --- role and field rules ---------------------------------------------------------------------


async def test_facilitator_works_only_in_assigned_communities(
    admin: httpx.AsyncClient,
    facilitator: httpx.AsyncClient,
    community: dict[str, Any],
    other_community: dict[str, Any],
) -> None:
    mine = await create(facilitator, community["id"], full_name="Warga Binaan")
    r = await facilitator.post(BASE, json=body(other_community["id"], full_name="Warga Lain"))
    assert r.status_code == 422, r.text
    assert ["body", "community_id"] in locs(r)

    theirs = await create(admin, other_community["id"], full_name="Warga Desa Lain")
    assert (await facilitator.get(f"{BASE}/{theirs['id']}")).status_code == 404
    r = await facilitator.patch(f"{BASE}/{theirs['id']}", json={"full_name": "X"})
    assert r.status_code == 404, r.text
    assert (await facilitator.delete(f"{BASE}/{theirs['id']}")).status_code == 404

    r = await facilitator.get(f"{BASE}/{mine['id']}")
    assert r.status_code == 200 and r.json()["full_name"] == "Warga Binaan"
    r = await facilitator.patch(f"{BASE}/{mine['id']}", json={"full_name": "Warga Binaan Baru"})
    assert r.status_code == 200, r.text
    assert r.json()["full_name"] == "Warga Binaan Baru"
    # moving one's person into an unassigned community is refused on the field
    r = await facilitator.patch(
        f"{BASE}/{mine['id']}", json={"community_id": other_community["id"]}
    )
    assert r.status_code == 422, r.text
    assert ["body", "community_id"] in locs(r)

    listed = (await facilitator.get(BASE)).json()["items"]
    assert [p["id"] for p in listed] == [mine["id"]]
    filtered = await facilitator.get(BASE, params={"community_id": other_community["id"]})
    assert filtered.json()["items"] == []
    assert len((await admin.get(BASE)).json()["items"]) == 2
    # no erasure, no restore, no export for facilitators
    assert (await facilitator.post(f"{BASE}/{mine['id']}/erasure")).status_code == 403


async def test_analyst_cannot_write_or_search_names(
    analyst: httpx.AsyncClient, admin: httpx.AsyncClient, community: dict[str, Any]
) -> None:
    pid = (await create(admin, community["id"]))["id"]
    assert (await analyst.post(BASE, json=body(community["id"]))).status_code == 403
    assert (await analyst.get(BASE, params={"q": "Siti"})).status_code == 403
    r = await analyst.patch(f"{BASE}/{pid}", json={"full_name": "X"})
    assert r.status_code in (403, 404), r.text
    assert (await analyst.delete(f"{BASE}/{pid}")).status_code in (403, 404)
    assert (await analyst.get(BASE)).status_code == 200


async def test_filters(
    admin: httpx.AsyncClient, community: dict[str, Any], other_community: dict[str, Any]
) -> None:
    a = await create(
        admin,
        community["id"],
        full_name="Siti Aminah",
        sex="female",
        birth_year=1980,
        disability=True,
        vulnerable_groups=["elderly"],
    )
    b = await create(
        admin,
        community["id"],
        full_name="Budi Santoso",
        sex="male",
        birth_year=1995,
        vulnerable_groups=["youth", "poor_household"],
    )
    c = await create(
        admin, other_community["id"], full_name="Aminah binti Yusuf", sex="female", birth_year=2001
    )

    async def ids(**params: Any) -> set[str]:
        r = await admin.get(BASE, params=params)
        assert r.status_code == 200, r.text
        return {p["id"] for p in r.json()["items"]}

    assert await ids() == {a["id"], b["id"], c["id"]}
    assert await ids(community_id=community["id"]) == {a["id"], b["id"]}
    assert await ids(community_id=other_community["id"]) == {c["id"]}
    assert await ids(sex="female") == {a["id"], c["id"]}
    assert await ids(sex="male") == {b["id"]}
    assert await ids(disability="true") == {a["id"]}
    assert await ids(disability="false") == {b["id"], c["id"]}
    assert await ids(vulnerable_group="poor_household") == {b["id"]}
    assert await ids(vulnerable_group="elderly") == {a["id"]}
    assert await ids(birth_year_min=1990) == {b["id"], c["id"]}
    assert await ids(birth_year_max=1995) == {a["id"], b["id"]}
    assert await ids(birth_year_min=1990, birth_year_max=2000) == {b["id"]}
    assert await ids(q="aminah") == {a["id"], c["id"]}
    assert await ids(q="AMINAH") == {a["id"], c["id"]}
    assert await ids(q="santo") == {b["id"]}
    assert await ids(q="100%") == set()
    assert await ids(q="aminah", sex="female", community_id=community["id"]) == {a["id"]}
    assert (await admin.get(BASE, params={"sex": "other"})).status_code == 422
    assert (await admin.get(BASE, params={"vulnerable_group": "nope"})).status_code == 422


async def test_unknown_and_read_only_fields_are_422(
    admin: httpx.AsyncClient, community: dict[str, Any], raw_db: asyncpg.Pool
) -> None:
    for extra in (
        {"nik_hash": "0" * 64},
        {"id": str(uuid.uuid4())},
        {"nik_ciphertext": "v1.x.y"},
        {"erased": True},
        {"person_key": "p_x"},
    ):
        r = await admin.post(BASE, json=body(community["id"], **extra))
        assert r.status_code == 422, (extra, r.text)
    assert await raw_db.fetchval("SELECT count(*) FROM people") == 0

    pid = (await create(admin, community["id"]))["id"]
    for extra in ({"nik_hash": "0" * 64}, {"id": str(uuid.uuid4())}, {"erased_at": None}):
        r = await admin.patch(f"{BASE}/{pid}", json=extra)
        assert r.status_code == 422, (extra, r.text)
    # required fields cannot be nulled
    r = await admin.patch(f"{BASE}/{pid}", json={"full_name": None})
    assert r.status_code == 422, r.text
    assert ["body", "full_name"] in locs(r)
    # missing required fields
    r = await admin.post(BASE, json={"community_id": community["id"], "full_name": "X"})
    assert r.status_code == 422 and ["body", "sex"] in locs(r)


async def test_phone_and_nik_can_be_cleared(
    admin: httpx.AsyncClient, community: dict[str, Any], raw_db: asyncpg.Pool
) -> None:
    pid = (await create(admin, community["id"], nik=NIK, phone=PHONE_LOCAL))["id"]
    r = await admin.patch(f"{BASE}/{pid}", json={"nik": None, "phone": None})
    assert r.status_code == 200, r.text
    assert r.json()["nik"] is None and r.json()["phone"] is None
    row = await raw_person(raw_db, pid)
    assert row["nik_ciphertext"] is None and row["nik_hash"] is None
    assert row["phone_ciphertext"] is None
    events = await audit_rows(raw_db, action="update")
    assert events[-1]["changed_fields"] == ["nik", "phone"]


# --- logs -------------------------------------------------------------------------------------


async def test_no_personal_data_in_logs(
    admin: httpx.AsyncClient, community: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    new_phone_local, new_phone_e164 = "081298765432", "+6281298765432"
    new_name = "Rukmini Hartati"
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="berdaya")

    created = await create(admin, community["id"], nik=NIK, phone=PHONE_LOCAL, birth_year=1985)
    pid = created["id"]
    r = await admin.patch(f"{BASE}/{pid}", json={"phone": new_phone_local, "full_name": new_name})
    assert r.status_code == 200, r.text
    r = await admin.post(f"{BASE}/lookup", json={"nik": NIK})
    assert [p["id"] for p in r.json()["items"]] == [pid]
    r = await admin.get(f"{BASE}/{pid}", params={"reveal": "nik"})
    assert r.json()["nik"] == NIK
    r = await admin.post(BASE, json=body(community["id"], nik=NIK))  # duplicate
    assert r.status_code == 409
    r = await admin.post(BASE, json=body(community["id"], nik="3204127201850003"))  # invalid
    assert r.status_code == 422
    r = await admin.post(f"{BASE}/{pid}/erasure")
    assert r.status_code == 200, r.text

    assert caplog.records, "expected at least the access log"
    secrets_ = (
        NIK,
        "3204127201850003",
        PHONE_LOCAL,
        PHONE_E164,
        new_phone_local,
        new_phone_e164,
        NAME,
        new_name,
    )
    for record in caplog.records:
        message = record.getMessage()
        attributes = str(record.__dict__)
        for secret in secrets_:
            assert secret not in message, (record.name, secret, message)
            assert secret not in attributes, (record.name, secret)
    for secret in secrets_:
        assert secret not in caplog.text


async def test_analysts_cannot_filter_by_birth_year(analyst):
    response = await analyst.get("/api/v1/people", params={"birth_year_min": 1987})
    assert response.status_code == 403


async def test_idempotent_replay_never_keeps_personal_data(admin, make_community, raw_db):
    community = await make_community()
    body = {"community_id": community["id"], "full_name": "Rahmawati Replay", "sex": "female"}
    headers = {"Idempotency-Key": "person-create-1"}
    first = await admin.post("/api/v1/people", json=body, headers=headers)
    assert first.status_code == 201, first.text
    replay = await admin.post("/api/v1/people", json=body, headers=headers)
    assert replay.status_code == 409
    assert "Rahmawati" not in replay.text
    stored = await raw_db.fetch("SELECT response_body FROM idempotency_keys")
    assert all(r["response_body"] is None or b"Rahmawati" not in r["response_body"] for r in stored)
    assert await raw_db.fetchval("SELECT count(*) FROM people") == 1
