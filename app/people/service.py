"""Rules of the participant registry: field visibility by role, consent, NIK uniqueness,
data-subject rights (export, erasure) and key rotation."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.models import Role
from app.core import audit
from app.core.errors import Conflict
from app.core.pii import NIK_FIELD, PHONE_FIELD, PersonalData, PiiCipher, mask
from app.core.principal import Principal
from app.people import repository
from app.people.models import Person
from app.people.schemas import PersonRead

# Field names that are personal values: they may appear in audit entries by name only.
ENCRYPTED_FIELDS = {"nik": "nik_ciphertext", "phone": "phone_ciphertext"}


def has_active_consent(person: Person, purpose: str | None = None) -> bool:
    """Consent holds when given, not withdrawn since, and (if asked) covers ``purpose``."""
    if person.erased_at is not None or person.consent_given_at is None:
        return False
    withdrawn = person.consent_withdrawn_at
    if withdrawn is not None and withdrawn >= person.consent_given_at:
        return False
    return purpose is None or purpose in person.consent_purposes


def decade_of(year: int | None) -> int | None:
    return None if year is None else year - year % 10


def present(
    person: Person,
    principal: Principal,
    personal: PersonalData,
    *,
    reveal_nik: bool = False,
    summary: tuple[int, str | None] = (0, None),
) -> PersonRead:
    """The person as this caller may see it: analysts get no identifying fields, NIK and
    phone are masked for everyone unless an admin explicitly asks to reveal the NIK."""
    identified = principal.role is not Role.analyst
    nik = phone = None
    if identified and person.nik_ciphertext:
        clear = personal.cipher.decrypt(person.nik_ciphertext, NIK_FIELD)
        nik = clear if reveal_nik and principal.is_admin else mask(clear, 4)
    if identified and person.phone_ciphertext:
        phone = mask(personal.cipher.decrypt(person.phone_ciphertext, PHONE_FIELD), 3)
    return PersonRead(
        id=person.id,
        created_at=person.created_at,
        updated_at=person.updated_at,
        community_id=person.community_id,
        person_key=personal.hasher.person_key(person.id),
        full_name=person.full_name if identified else None,
        sex=person.sex,  # type: ignore[arg-type]
        birth_year=person.birth_year if identified else None,
        birth_decade=person.birth_decade,
        nik=nik,
        phone=phone,
        disability=person.disability,
        vulnerable_groups=person.vulnerable_groups,  # type: ignore[arg-type]
        consent_purposes=person.consent_purposes,  # type: ignore[arg-type]
        consent_given_at=person.consent_given_at,
        consent_withdrawn_at=person.consent_withdrawn_at,
        has_active_consent=has_active_consent(person),
        erased=person.erased_at is not None,
        participation_count=summary[0],
        highest_level=summary[1],
    )


def apply_personal_fields(changes: dict[str, Any], personal: PersonalData) -> None:
    """Move clear ``nik``/``phone`` from ``changes`` into ciphertext (and the NIK digest)."""
    if "nik" in changes:
        nik = changes.pop("nik")
        changes["nik_ciphertext"] = personal.cipher.encrypt(nik, NIK_FIELD) if nik else None
        changes["nik_hash"] = personal.nik_digest(nik) if nik else None
    if "phone" in changes:
        phone = changes.pop("phone")
        changes["phone_ciphertext"] = personal.cipher.encrypt(phone, PHONE_FIELD) if phone else None
    if "birth_year" in changes:
        changes["birth_decade"] = decade_of(changes["birth_year"])


async def flush_unique(session: AsyncSession) -> None:
    """Flush in a savepoint so a concurrent duplicate NIK becomes a 409, not a 500."""
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError as exc:
        if "uq_people_nik_hash_live" in str(exc.orig):
            raise Conflict("a person with this NIK is already registered") from None
        raise


async def erase(session: AsyncSession, principal: Principal, person: Person) -> None:
    """Irreversibly remove name, NIK, phone and the exact birth year (UU PDP erasure).

    Sex, birth decade, community, disability and group flags stay, so anonymous
    participation counts remain true. The NIK digest goes too: the NIK can be
    registered again. The audit entry names the fields, never their values.
    """
    person.full_name = None
    person.nik_ciphertext = None
    person.nik_hash = None
    person.phone_ciphertext = None
    person.birth_year = None
    person.consent_purposes = []
    person.erased_at = datetime.now(UTC)
    person.version += 1
    person.updated_at = person.erased_at
    await session.flush()
    await audit.record(
        session,
        principal,
        "erasure",
        "people",
        person.id,
        ["full_name", "nik", "phone", "birth_year", "consent_purposes"],
    )


async def collect_data_export(session: AsyncSession, person_id: uuid.UUID) -> dict[str, Any]:
    """The records of other resources that point at the person, by resource."""
    return await repository.records_of_person(session, person_id)


async def reencrypt_all(session: AsyncSession, cipher: PiiCipher, batch: int = 500) -> int:
    """Re-encrypt every NIK and phone not under the current key; returns rows changed."""
    changed = 0
    current = f"v1.{cipher.current_kid}.%"
    while True:
        rows = (
            (
                await session.execute(
                    select(Person)
                    .where(
                        or_(
                            Person.nik_ciphertext.is_not(None)
                            & ~Person.nik_ciphertext.like(current),
                            Person.phone_ciphertext.is_not(None)
                            & ~Person.phone_ciphertext.like(current),
                        )
                    )
                    .limit(batch)
                    .with_for_update(skip_locked=True)
                )
            )
            .scalars()
            .all()
        )
        if not rows:
            return changed
        for person in rows:
            if cipher.needs_rotation(person.nik_ciphertext):
                person.nik_ciphertext = cipher.encrypt(
                    cipher.decrypt(person.nik_ciphertext or "", NIK_FIELD), NIK_FIELD
                )
            if cipher.needs_rotation(person.phone_ciphertext):
                person.phone_ciphertext = cipher.encrypt(
                    cipher.decrypt(person.phone_ciphertext or "", PHONE_FIELD), PHONE_FIELD
                )
            changed += 1
        await session.flush()
