"""Endpoints of the participant registry (personal data: see README "Personal data")."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy import ColumnElement
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.auth.deps import PrincipalDep, SessionDep
from app.auth.policy import (
    READ,
    WRITE,
    allowed,
    authorize,
    can_write_in_community,
)
from app.auth.repository import touch
from app.communities.repository import communities
from app.core import audit
from app.core.errors import Conflict, Forbidden, NotFound, Unprocessable, problem_responses
from app.core.http import model_response
from app.core.pagination import ListParams, Page, list_params, set_link_header
from app.core.pii import PersonalData, PersonalDep
from app.core.principal import Principal
from app.people import repository, service
from app.people.models import Person, Sex, VulnerableGroup
from app.people.repository import participation_summary, people
from app.people.schemas import (
    DataExport,
    NikLookup,
    PersonCreate,
    PersonList,
    PersonRead,
    PersonUpdate,
)
from app.people.service import present

router = APIRouter(prefix="/people", tags=["people"])


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


async def _check_community(
    session: SessionDep, principal: Principal, community_id: uuid.UUID
) -> None:
    """The community must be visible and writable by the caller (422 on the field if not)."""
    try:
        await communities.get(session, principal, community_id)
    except NotFound:
        raise Unprocessable("community not found", loc=["body", "community_id"]) from None
    if not can_write_in_community(principal, community_id):
        raise Unprocessable(
            "you may not register people in this community", loc=["body", "community_id"]
        )


@router.get(
    "",
    name="people-list",
    response_model=Page[PersonRead],
    summary="List people (sort: created_at, updated_at). Partners: 403.",
    responses=problem_responses(401, 403, 422),
)
async def list_people(
    request: Request,
    response: Response,
    session: SessionDep,
    principal: PrincipalDep,
    personal: PersonalDep,
    params: Annotated[ListParams, Depends(list_params)],
    community_id: uuid.UUID | None = None,
    sex: Sex | None = None,
    disability: bool | None = None,
    vulnerable_group: VulnerableGroup | None = None,
    birth_year_min: Annotated[int | None, Query(ge=1900, le=2100)] = None,
    birth_year_max: Annotated[int | None, Query(ge=1900, le=2100)] = None,
    q: Annotated[
        str | None, Query(min_length=2, max_length=100, description="Name search (not analysts)")
    ] = None,
) -> Page[PersonRead]:
    authorize(principal, "people", READ)
    conditions: list[ColumnElement[bool]] = []
    if community_id is not None:
        conditions.append(Person.community_id == community_id)
    if sex is not None:
        conditions.append(Person.sex == sex.value)
    if disability is not None:
        conditions.append(Person.disability == disability)
    if vulnerable_group is not None:
        conditions.append(col(Person.vulnerable_groups).contains([vulnerable_group.value]))
    if (birth_year_min is not None or birth_year_max is not None) and not allowed(
        principal, "people_names", READ
    ):
        raise Forbidden("your role sees birth decades, not birth years")
    if birth_year_min is not None:
        conditions.append(col(Person.birth_year) >= birth_year_min)
    if birth_year_max is not None:
        conditions.append(col(Person.birth_year) <= birth_year_max)
    if q is not None:
        if not allowed(principal, "people_names", READ):
            raise Forbidden("your role may not search people by name")
        conditions.append(col(Person.full_name).icontains(q, autoescape=True))
    rows, next_cursor = await people.page(
        session,
        principal,
        params,
        conditions=conditions,
        filters={
            "community_id": community_id,
            "sex": sex,
            "disability": disability,
            "vulnerable_group": vulnerable_group,
            "birth_year_min": birth_year_min,
            "birth_year_max": birth_year_max,
            "q": q,
        },
    )
    set_link_header(request, response, next_cursor)
    return Page(items=await views(session, rows, principal, personal), next_cursor=next_cursor)


@router.post(
    "",
    name="people-create",
    status_code=201,
    response_model=PersonRead,
    responses=problem_responses(401, 403, 409, 422),
)
async def create_person(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    personal: PersonalDep,
    body: PersonCreate,
) -> Response:
    authorize(principal, "people", WRITE)
    await _check_community(session, principal, body.community_id)
    values = body.model_dump(exclude_unset=True)
    if values.get("consent_purposes") and not values.get("consent_given_at"):
        values["consent_given_at"] = datetime.now(UTC)
    service.apply_personal_fields(values, personal)
    await repository.ensure_nik_free(session, values.get("nik_hash"))
    person = Person(**values)
    session.add(person)
    await service.flush_unique(session)
    await audit.record(session, principal, "create", "people", person.id, body.model_fields_set)
    return model_response(
        request,
        await view(session, person, principal, personal),
        version=person.version,
        status_code=201,
        # no-store: the Idempotency-Key layer never keeps personal data for replay.
        headers={"Location": f"/api/v1/people/{person.id}", "Cache-Control": "no-store"},
    )


@router.post(
    "/lookup",
    name="people-lookup",
    response_model=PersonList,
    summary="Find people by exact NIK (in the body, never in a URL)",
    responses=problem_responses(401, 403, 422),
)
async def lookup_person(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    personal: PersonalDep,
    body: NikLookup,
) -> Response:
    authorize(principal, "people_lookup", READ)
    stmt = people.base_query(principal).where(Person.nik_hash == personal.nik_digest(body.nik))
    rows = (await session.execute(stmt)).scalars().all()
    return model_response(
        request,
        PersonList(items=await views(session, rows, principal, personal)),
        headers={"Cache-Control": "no-store"},
    )


async def _visible_person(
    session: SessionDep, principal: Principal, person_id: uuid.UUID, *, for_update: bool = False
) -> Person:
    return await people.get(session, principal, person_id, for_update=for_update)


@router.get(
    "/{person_id}",
    name="people-get",
    response_model=PersonRead,
    responses=problem_responses(401, 403, 404),
)
async def get_person(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    personal: PersonalDep,
    person_id: uuid.UUID,
    reveal: Annotated[
        Literal["nik"] | None, Query(description="Admins only: show the NIK in clear (audited)")
    ] = None,
) -> Response:
    person = await _visible_person(session, principal, person_id)
    if reveal is not None:
        authorize(principal, "people_identified", READ)
        await audit.record(session, principal, "reveal", "people", person.id, ["nik"])
    return model_response(
        request,
        await view(session, person, principal, personal, reveal_nik=reveal == "nik"),
        version=person.version,
        headers={"Cache-Control": "no-store"},
    )


@router.patch(
    "/{person_id}",
    name="people-update",
    response_model=PersonRead,
    responses=problem_responses(401, 403, 404, 409, 412, 422),
)
async def update_person(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    personal: PersonalDep,
    person_id: uuid.UUID,
    body: PersonUpdate,
) -> Response:
    person = await people.get_for_change(session, principal, person_id, request)
    if not can_write_in_community(principal, person.community_id):
        raise Forbidden("you may not change people of this community")
    if person.erased_at is not None:
        raise Unprocessable(
            "this person was erased; the record can no longer change", loc=["path", "person_id"]
        )
    changes = body.changes()
    if "community_id" in changes and changes["community_id"] != person.community_id:
        await _check_community(session, principal, changes["community_id"])
    personal_names = {name for name in ("nik", "phone") if name in changes}
    service.apply_personal_fields(changes, personal)
    if "nik_hash" in changes:
        await repository.ensure_nik_free(session, changes["nik_hash"], exclude=person.id)
    if changes.get("consent_purposes") and person.consent_given_at is None:
        changes.setdefault("consent_given_at", datetime.now(UTC))
    changed = [k for k, v in changes.items() if getattr(person, k) != v]
    for name in changed:
        setattr(person, name, changes[name])
    if changed:
        touch(person)
        await service.flush_unique(session)
        audit_names = {
            n
            for n in changed
            if n not in ("nik_ciphertext", "nik_hash", "phone_ciphertext", "birth_decade")
        }
        await audit.record(
            session, principal, "update", "people", person.id, audit_names | personal_names
        )
    return model_response(
        request, await view(session, person, principal, personal), version=person.version
    )


@router.delete(
    "/{person_id}",
    name="people-delete",
    status_code=204,
    responses=problem_responses(401, 403, 404, 412),
)
async def delete_person(
    request: Request, session: SessionDep, principal: PrincipalDep, person_id: uuid.UUID
) -> Response:
    person = await _visible_person(session, principal, person_id)
    if not can_write_in_community(principal, person.community_id):
        raise Forbidden("you may not delete people of this community")
    await people.soft_delete(session, principal, person_id, request)
    return Response(status_code=204)


@router.post(
    "/{person_id}/restore",
    name="people-restore",
    response_model=PersonRead,
    responses=problem_responses(401, 403, 404, 409),
)
async def restore_person(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    personal: PersonalDep,
    person_id: uuid.UUID,
) -> Response:
    person = await people.restore(session, principal, person_id)
    return model_response(
        request,
        await view(session, person, principal, personal),
        version=person.version,
        headers={"Cache-Control": "no-store"},
    )


@router.get(
    "/{person_id}/data-export",
    name="people-data-export",
    response_model=DataExport,
    summary="Everything held about the person (data-subject access); clear values for admins",
    responses=problem_responses(401, 403, 404),
)
async def export_person(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    personal: PersonalDep,
    person_id: uuid.UUID,
) -> Response:
    person = await _visible_person(session, principal, person_id)
    authorize(principal, "people_data_export", READ)
    shown = await view(session, person, principal, personal, reveal_nik=principal.is_admin)
    if principal.is_admin and person.phone_ciphertext:
        shown.phone = personal.cipher.decrypt(person.phone_ciphertext, service.PHONE_FIELD)
    sections = await service.collect_data_export(session, person.id)
    await audit.record(session, principal, "data_export", "people", person.id)
    return model_response(
        request,
        DataExport(person=shown, sections=sections, exported_at=datetime.now(UTC)),
        headers={"Cache-Control": "no-store"},
    )


@router.post(
    "/{person_id}/erasure",
    name="people-erasure",
    response_model=PersonRead,
    summary="Irreversibly remove the person's identifying data (data-subject erasure)",
    responses=problem_responses(401, 403, 404, 409, 412),
)
async def erase_person(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    personal: PersonalDep,
    person_id: uuid.UUID,
) -> Response:
    person = await people.get_for_change(session, principal, person_id, request, "erase")
    if person.erased_at is not None:
        raise Conflict("this person was already erased")
    await service.erase(session, principal, person)
    return model_response(
        request,
        await view(session, person, principal, personal),
        version=person.version,
        headers={"Cache-Control": "no-store"},
    )
