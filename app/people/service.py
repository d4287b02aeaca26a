"""Rules of the participant registry: field visibility by role, who may register where,
consent, NIK uniqueness and its collisions, data-subject rights (export, erasure) and key
rotation."""

from __future__ import annotations

import base64
import dataclasses
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, NoReturn

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.models import Role
from app.auth.policy import READ, WRITE, allowed, authorize, can_write_in_community
from app.auth.repository import touch
from app.communities.repository import communities
from app.core import audit
from app.core.conditional import (
    Condition,
    IdRetired,
    PutOutcome,
    body_digest,
    conditional_put,
    forget_creation,
    remember_creation,
    replacement,
)
from app.core.errors import AppError, Conflict, Forbidden, NotFound, TooManyRequests, Unprocessable
from app.core.i18n import M
from app.core.pagination import ListParams
from app.core.pii import NIK_FIELD, PHONE_FIELD, PersonalData, PiiCipher, PiiKeyError, mask
from app.core.principal import Principal
from app.people import repository
from app.people.models import Person
from app.people.repository import AGE_BANDS, participation_summary
from app.people.schemas import DataExport, PersonCreate, PersonRead, PersonUpdate

# Field names that are personal values: they may appear in audit entries by name only.
ENCRYPTED_FIELDS = {"nik": "nik_ciphertext", "phone": "phone_ciphertext"}

# The one answer to a taken NIK, wherever its holder lives (SECURITY.md "NIK collisions").
NIK_TAKEN = M.nik_taken
COLLISION_WINDOW = timedelta(hours=1)
# Sealing analysts' list cursors (the AES-GCM associated data): see ``seal_cursor``.
CURSOR_FIELD = "people_cursor"


def pseudonymised(principal: Principal) -> bool:
    """Analysts see people by ``person_key`` only: no name, NIK, phone, birth year or id."""
    return principal.role is Role.analyst


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


def age_band(
    birth_year: int | None, birth_decade: int | None, today: datetime | None = None
) -> str:
    """Age bands used by reports and exports; erased people count by their birth decade."""
    year = (
        birth_year
        if birth_year is not None
        else (birth_decade + 5 if birth_decade is not None else None)
    )
    if year is None:
        return "unknown"
    age = (today or datetime.now(UTC)).year - year
    for upper, label in AGE_BANDS:
        if age <= upper:
            return label
    return "65+"


def present(
    person: Person,
    principal: Principal,
    personal: PersonalData,
    *,
    reveal_nik: bool = False,
    summary: tuple[int, str | None] = (0, None),
) -> PersonRead:
    """The person as this caller may see it: analysts get no identifying fields (nor the
    registry id), NIK and phone are masked for everyone unless an admin explicitly asks to
    reveal the NIK."""
    identified = not pseudonymised(principal)
    nik = phone = None
    if identified and person.nik_ciphertext:
        clear = personal.cipher.decrypt(person.nik_ciphertext, NIK_FIELD)
        nik = clear if reveal_nik and principal.is_admin else mask(clear, 4)
    if identified and person.phone_ciphertext:
        phone = mask(personal.cipher.decrypt(person.phone_ciphertext, PHONE_FIELD), 3)
    return PersonRead(
        id=person.id if identified else None,
        created_at=person.created_at,
        updated_at=person.updated_at,
        community_id=person.community_id,
        person_key=personal.hasher.person_key(person.id),
        full_name=person.full_name if identified else None,
        sex=person.sex,
        birth_year=person.birth_year if identified else None,
        birth_decade=person.birth_decade,
        nik=nik,
        phone=phone,
        disability=person.disability,
        vulnerable_groups=person.vulnerable_groups,
        consent_purposes=person.consent_purposes,
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


async def views(
    session: AsyncSession,
    rows: Sequence[Person],
    principal: Principal,
    personal: PersonalData,
    **options: bool,
) -> list[PersonRead]:
    """People as the caller may see them, with their participation summary (one query)."""
    summaries = await participation_summary(session, rows)
    return [
        present(p, principal, personal, summary=summaries.get(p.id, (0, None)), **options)
        for p in rows
    ]


async def view(
    session: AsyncSession,
    person: Person,
    principal: Principal,
    personal: PersonalData,
    **options: bool,
) -> PersonRead:
    return (await views(session, [person], principal, personal, **options))[0]


def check_list_filters(principal: Principal, *, birth_years: bool, name_search: bool) -> None:
    """Roles that see people pseudonymised filter neither by exact birth year nor by name."""
    if birth_years and not allowed(principal, "people_names", READ):
        raise Forbidden(M.birth_decades_only)
    if name_search and not allowed(principal, "people_names", READ):
        raise Forbidden(M.name_search_forbidden)


def open_cursor(principal: Principal, personal: PersonalData, params: ListParams) -> ListParams:
    """An analyst's cursor must be one ``seal_cursor`` made (else 422): a forged plain
    cursor could search out a person's id (the page starts after the id it names)."""
    if not params.cursor or not pseudonymised(principal):
        return params
    try:
        sealed = base64.urlsafe_b64decode(params.cursor + "=" * (-len(params.cursor) % 4))
        cursor = personal.cipher.decrypt(sealed.decode(), CURSOR_FIELD)
    except (ValueError, PiiKeyError):  # binascii.Error and UnicodeDecodeError among them
        raise Unprocessable(M.cursor_invalid, loc=["query", "cursor"]) from None
    return dataclasses.replace(params, cursor=cursor)


def seal_cursor(principal: Principal, personal: PersonalData, cursor: str | None) -> str | None:
    """Analysts get their next cursor encrypted (a plain one names the last row's id), in
    a cursor's alphabet: unpadded URL-safe base64."""
    if cursor is None or not pseudonymised(principal):
        return cursor
    sealed = personal.cipher.encrypt(cursor, CURSOR_FIELD)
    return base64.urlsafe_b64encode(sealed.encode()).decode().rstrip("=")


async def lookup(
    session: AsyncSession, principal: Principal, personal: PersonalData, nik: str
) -> list[PersonRead]:
    """Exact NIK match through its keyed digest: the NIK is never decrypted to search."""
    rows = await repository.people.with_nik_hash(session, principal, personal.nik_digest(nik))
    return await views(session, rows, principal, personal)


def check_writable(principal: Principal, person: Person, verb: str) -> None:
    """A visible person of a community the caller may not write in is a 403."""
    if not can_write_in_community(principal, person.community_id):
        raise Forbidden(M.people_forbidden(verb=verb))


async def check_community(
    session: AsyncSession, principal: Principal, community_id: uuid.UUID
) -> None:
    """The community must be visible and writable by the caller (422 on the field if not)."""
    try:
        await communities.get(session, principal, community_id)
    except NotFound:
        raise Unprocessable(M.community_not_found, loc=["body", "community_id"]) from None
    if not can_write_in_community(principal, community_id):
        raise Unprocessable(M.register_forbidden, loc=["body", "community_id"])


def sees_every_nik(principal: Principal) -> bool:
    """Admins and coordinators may look any NIK up: a collision tells them nothing new."""
    return principal.role in (Role.admin, Role.coordinator)


async def check_collision_budget(session: AsyncSession, principal: Principal, limit: int) -> None:
    """429 for any NIK once a caller with a scoped lookup had ``limit`` collisions in the
    last hour, whether or not this one is taken: the refusal itself must tell nothing."""
    if sees_every_nik(principal):
        return
    await repository.lock_collisions(session, principal.id)
    now = datetime.now(UTC)
    edge = await repository.collision_edge(session, principal.id, now - COLLISION_WINDOW, limit)
    if edge is not None:
        retry = int((edge + COLLISION_WINDOW - now).total_seconds()) + 1
        raise TooManyRequests(
            M.nik_probing,
            headers={"Retry-After": str(max(retry, 1))},
        )


async def nik_collision(
    session: AsyncSession, principal: Principal, holder: uuid.UUID, note: str
) -> NoReturn:
    """The same 409 wherever the holder lives, with an audit entry (the holder's id, never
    the NIK) that outlives the refusal. A request commits it at once, with nothing else
    pending and the caller's claim lock held until then (parallel claims count exactly).
    Inside a savepoint (a sync push's mutation) the earlier mutations are pending: the
    entry is written after the savepoint's rollback, in the push's own transaction."""

    async def record(session: AsyncSession) -> None:
        await repository.lock_collisions(session, principal.id)
        await audit.record(
            session,
            principal,
            repository.NIK_COLLISION,
            "people",
            holder,
            ["nik"],
            note=note,
            at_once=True,
        )

    conflict = Conflict(NIK_TAKEN)
    if session.in_nested_transaction():
        conflict.after_rollback = record
    else:
        await record(session)
        await session.commit()
    raise conflict


async def claim_nik(
    session: AsyncSession,
    principal: Principal,
    nik_hash: str,
    *,
    exclude: uuid.UUID | None,
    limit: int,
    note: str,
) -> None:
    """The NIK must be free. "Already registered" tells a facilitator that a NIK exists in
    a community their lookup cannot see, so every collision is audited and limited."""
    await check_collision_budget(session, principal, limit)
    holder = await repository.nik_holder(session, nik_hash, exclude)
    if holder is not None:
        await nik_collision(session, principal, holder, note)


async def flush_claimed(
    session: AsyncSession,
    principal: Principal,
    nik_hash: str | None,
    *,
    exclude: uuid.UUID | None,
    note: str,
) -> None:
    """Flush; a NIK registered concurrently since ``claim_nik`` is a collision too (its
    audit entry goes in a new transaction: the failed one was rolled back)."""
    try:
        await repository.flush_unique(session)
    except repository.NikTaken:
        holder = await repository.nik_holder(session, nik_hash, exclude) if nik_hash else None
        if holder is None:
            raise Conflict(NIK_TAKEN) from None
        await nik_collision(session, principal, holder, note)


def new_person_values(body: PersonCreate, personal: PersonalData) -> dict[str, Any]:
    """A new person's columns from a create body: purposes given without a consent time
    were consented now; NIK and phone encrypted."""
    values = body.model_dump(exclude_unset=True)
    if values.get("consent_purposes") and not values.get("consent_given_at"):
        values["consent_given_at"] = datetime.now(UTC)
    apply_personal_fields(values, personal)
    return values


async def create(
    session: AsyncSession,
    principal: Principal,
    personal: PersonalData,
    body: PersonCreate,
    *,
    collision_limit: int,
    item_id: uuid.UUID | None = None,
) -> Person:
    """Register a person (``item_id``: a client-made id, PUT); purposes given without a
    consent time were consented now."""
    await check_community(session, principal, body.community_id)
    values = new_person_values(body, personal)
    nik_hash = values.get("nik_hash")
    note = f"create in community {body.community_id}"
    if nik_hash is not None:
        await claim_nik(
            session, principal, nik_hash, exclude=None, limit=collision_limit, note=note
        )
    person = Person(**values) if item_id is None else Person(id=item_id, **values)
    session.add(person)
    await flush_claimed(session, principal, nik_hash, exclude=None, note=note)
    await audit.record(session, principal, "create", "people", person.id, body.model_fields_set)
    return person


async def update(
    session: AsyncSession,
    principal: Principal,
    personal: PersonalData,
    person: Person,
    body: PersonUpdate,
    *,
    collision_limit: int,
) -> None:
    """Merge the given fields into a person (locked by the caller); an erased person stays
    as erased. The audit entry names ``nik``/``phone``, never their ciphertext or digest."""
    check_writable(principal, person, "change")
    person_id = person.id  # a failed flush expires the row: keep the id at hand
    if person.erased_at is not None:
        raise Unprocessable(M.person_erased, loc=["path", "person_id"])
    changes = body.changes()
    if "community_id" in changes and changes["community_id"] != person.community_id:
        await check_community(session, principal, changes["community_id"])
    personal_names = {name for name in ("nik", "phone") if name in changes}
    apply_personal_fields(changes, personal)
    nik_hash = changes.get("nik_hash")
    note = f"update of person {person_id}"
    if nik_hash is not None and nik_hash != person.nik_hash:
        await claim_nik(
            session, principal, nik_hash, exclude=person_id, limit=collision_limit, note=note
        )
    if changes.get("consent_purposes") and person.consent_given_at is None:
        changes.setdefault("consent_given_at", datetime.now(UTC))
    changed = [k for k, v in changes.items() if getattr(person, k) != v]
    for name in changed:
        setattr(person, name, changes[name])
    if changed:
        touch(person)
        await flush_claimed(session, principal, nik_hash, exclude=person_id, note=note)
        audit_names = {
            n
            for n in changed
            if n not in ("nik_ciphertext", "nik_hash", "phone_ciphertext", "birth_decade")
        }
        await audit.record(
            session, principal, "update", "people", person.id, audit_names | personal_names
        )


async def reveal_nik(session: AsyncSession, principal: Principal, person: Person) -> None:
    """Only admins see a NIK in clear, and every time they do is audited."""
    authorize(principal, "people_identified", READ)
    await audit.record(session, principal, "reveal", "people", person.id, ["nik"])


async def data_export(
    session: AsyncSession, principal: Principal, personal: PersonalData, person: Person
) -> DataExport:
    """Everything held about the person (audited); NIK and phone in clear for admins."""
    shown = await view(session, person, principal, personal, reveal_nik=principal.is_admin)
    if principal.is_admin and person.phone_ciphertext:
        shown.phone = personal.cipher.decrypt(person.phone_ciphertext, PHONE_FIELD)
    sections = await repository.records_of_person(session, person.id)
    await audit.record(session, principal, "data_export", "people", person.id)
    return DataExport(person=shown, sections=sections, exported_at=datetime.now(UTC))


async def erase(session: AsyncSession, principal: Principal, person: Person) -> None:
    """Irreversibly remove name, NIK, phone and the exact birth year (UU PDP erasure).

    Sex, birth decade, community, disability and group flags stay, so anonymous
    participation counts remain true. The NIK digest goes too: the NIK can be
    registered again. The audit entry names the fields, never their values.
    """
    if person.erased_at is not None:
        raise Conflict(M.person_already_erased)
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
    # Nothing kept beside the row may still hold or confirm what was erased: the digest of
    # the body that created it (a create-PUT oracle), field sync's remembered answers.
    await forget_creation(session, "people", person.id)
    await repository.forget_sync_answers(session, person.id)
    await audit.record(
        session,
        principal,
        "erasure",
        "people",
        person.id,
        ["full_name", "nik", "phone", "birth_year", "consent_purposes"],
    )


async def reencrypt_all(session: AsyncSession, cipher: PiiCipher, batch: int = 500) -> int:
    """Re-encrypt every NIK and phone not under the current key; returns rows changed."""
    changed = 0
    while True:
        rows = await repository.not_under_key(session, cipher.current_kid, batch)
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


def put_digest(personal: PersonalData, body: PersonCreate) -> str:
    # Keyed: the body holds personal data, its plain digest must not be stored.
    return personal.nik_digest(body_digest({}, body))


async def create_new_ids(
    session: AsyncSession,
    principal: Principal,
    personal: PersonalData,
    items: Sequence[tuple[uuid.UUID, PersonCreate]],
) -> list[Person | AppError]:
    """Many creates through ``put`` of ids nobody holds (a sync push's run of new people),
    the rules of ``create`` for each, one INSERT for all. Bodies without a NIK only: a NIK
    claim is serialised, limited and audited one at a time (those go through ``put``).
    Answers, per item, the person made or the problem its own create would raise; a
    flush that fails (an id taken meanwhile) raises, for the caller to roll back."""
    authorize(principal, "people", WRITE)
    community_problems: dict[uuid.UUID, AppError | None] = {}
    outcomes: list[Person | AppError] = []
    for item_id, body in items:
        if body.nik is not None:
            raise ValueError("a body with a NIK is created through put")
        if body.community_id not in community_problems:
            try:
                await check_community(session, principal, body.community_id)
                community_problems[body.community_id] = None
            except AppError as refused:
                community_problems[body.community_id] = refused
        outcomes.append(
            community_problems[body.community_id]
            or Person(id=item_id, **new_person_values(body, personal))
        )
    made = [
        (person, body)
        for person, (_, body) in zip(outcomes, items, strict=True)
        if isinstance(person, Person)
    ]
    session.add_all([person for person, _ in made])
    await session.flush()
    for person, body in made:
        await audit.record(session, principal, "create", "people", person.id, body.model_fields_set)
        await remember_creation(session, "people", person.id, put_digest(personal, body))
    return outcomes


async def put(
    session: AsyncSession,
    principal: Principal,
    personal: PersonalData,
    person_id: uuid.UUID,
    body: PersonCreate,
    condition: Condition,
    *,
    collision_limit: int,
) -> tuple[PutOutcome, Person]:
    """PUT with a client-made id (app.core.conditional): the rules of ``create`` and
    ``update``. NIK and phone are write-only for a device (it holds them masked): a
    replacement without them keeps the stored ones."""
    authorize(principal, "people", WRITE)

    async def load() -> Person | None:
        try:
            person = await repository.people.get(session, principal, person_id, for_update=True)
        except NotFound:
            return None
        if person.erased_at is not None and condition.create_only:
            # Never compared with the body: a create could confirm a guess of erased data.
            raise IdRetired(M.put_id_taken)
        return person

    async def current(person: Person) -> dict[str, Any]:
        return (await view(session, person, principal, personal)).model_dump(mode="json")

    async def make() -> Person:
        return await create(
            session, principal, personal, body, collision_limit=collision_limit, item_id=person_id
        )

    async def replace(person: Person) -> None:
        patch = replacement(PersonUpdate, body, write_only=("nik", "phone"))
        await update(session, principal, personal, person, patch, collision_limit=collision_limit)

    return await conditional_put(
        session,
        condition,
        resource="people",
        model=Person,
        item_id=person_id,
        digest=put_digest(personal, body),
        load=load,
        present=current,
        create=make,
        replace=replace,
    )
