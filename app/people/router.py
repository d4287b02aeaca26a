"""Endpoints of the participant registry (personal data: see README "Personal data")."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request, Response

from app.auth.deps import PrincipalDep, SessionDep
from app.auth.policy import READ, WRITE, authorize
from app.core.conditional import (
    PUT_DESCRIPTION,
    Condition,
    IfMatchHeader,
    IfNoneMatchHeader,
    put_response,
    put_responses,
)
from app.core.errors import problem_responses
from app.core.http import model_response
from app.core.pagination import ListParams, Page, list_params_for, set_link_header
from app.core.pii import PersonalData, PersonalDep
from app.core.principal import Principal
from app.core.schemas import TEXT_PATTERN
from app.people import service
from app.people.models import Person, Sex, VulnerableGroup
from app.people.repository import people
from app.people.schemas import (
    DataExport,
    NikLookup,
    PersonCreate,
    PersonList,
    PersonRead,
    PersonUpdate,
)

router = APIRouter(prefix="/people", tags=["people"])


async def _person_response(
    request: Request,
    session: SessionDep,
    principal: Principal,
    personal: PersonalData,
    person: Person,
    *,
    reveal_nik: bool = False,
) -> Response:
    """The person as the caller may see it, with its ETag; personal data: never stored."""
    return model_response(
        request,
        await service.view(session, person, principal, personal, reveal_nik=reveal_nik),
        version=person.version,
        headers={"Cache-Control": "no-store"},
    )


def _collision_limit(request: Request) -> int:
    """ "Already registered" answers a caller may get in an hour (SECURITY.md "NIK
    collisions")."""
    limit: int = request.app.state.settings.nik_collisions_per_hour
    return limit


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
    params: Annotated[ListParams, Depends(list_params_for(people.keyset))],
    community_id: uuid.UUID | None = None,
    sex: Sex | None = None,
    disability: bool | None = None,
    vulnerable_group: VulnerableGroup | None = None,
    birth_year_min: Annotated[int | None, Query(ge=1900, le=2100)] = None,
    birth_year_max: Annotated[int | None, Query(ge=1900, le=2100)] = None,
    q: Annotated[
        str | None,
        Query(
            min_length=2,
            max_length=100,
            pattern=TEXT_PATTERN,
            description="Name search (not analysts)",
        ),
    ] = None,
) -> Page[PersonRead]:
    authorize(principal, "people", READ)
    service.check_list_filters(
        principal,
        birth_years=birth_year_min is not None or birth_year_max is not None,
        name_search=q is not None,
    )
    filters = {
        "community_id": community_id,
        "sex": sex,
        "disability": disability,
        "vulnerable_group": vulnerable_group,
        "birth_year_min": birth_year_min,
        "birth_year_max": birth_year_max,
        "q": q,
    }
    params = service.open_cursor(principal, personal, params)
    rows, next_cursor = await people.page(
        session, principal, params, conditions=people.conditions(**filters), filters=filters
    )
    next_cursor = service.seal_cursor(principal, personal, next_cursor)
    set_link_header(request, response, next_cursor)
    return Page(
        items=await service.views(session, rows, principal, personal), next_cursor=next_cursor
    )


@router.post(
    "",
    name="people-create",
    status_code=201,
    response_model=PersonRead,
    responses=problem_responses(401, 403, 409, 422, 429),
)
async def create_person(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    personal: PersonalDep,
    body: PersonCreate,
) -> Response:
    authorize(principal, "people", WRITE)
    person = await service.create(
        session, principal, personal, body, collision_limit=_collision_limit(request)
    )
    return model_response(
        request,
        await service.view(session, person, principal, personal),
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
    return model_response(
        request,
        PersonList(items=await service.lookup(session, principal, personal, body.nik)),
        headers={"Cache-Control": "no-store"},
    )


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
    person = await people.get(session, principal, person_id)
    if reveal is not None:
        await service.reveal_nik(session, principal, person)
    return await _person_response(
        request, session, principal, personal, person, reveal_nik=reveal == "nik"
    )


@router.patch(
    "/{person_id}",
    name="people-update",
    response_model=PersonRead,
    responses=problem_responses(401, 403, 404, 409, 412, 422, 429),
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
    await service.update(
        session, principal, personal, person, body, collision_limit=_collision_limit(request)
    )
    return model_response(
        request, await service.view(session, person, principal, personal), version=person.version
    )


@router.put(
    "/{person_id}",
    name="people-put",
    response_model=PersonRead,
    summary="Create or replace a person with a client-made id (offline-first clients)",
    description=PUT_DESCRIPTION
    + " NIK and phone are write-only here: a replacement without them keeps the stored ones.",
    responses=put_responses(PersonRead, 401, 403, 404, 409, 422, 429),
)
async def put_person(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    personal: PersonalDep,
    person_id: uuid.UUID,
    body: PersonCreate,
    if_match: IfMatchHeader = None,
    if_none_match: IfNoneMatchHeader = None,
) -> Response:
    outcome, person = await service.put(
        session,
        principal,
        personal,
        person_id,
        body,
        Condition.from_request(request),
        collision_limit=_collision_limit(request),
    )
    return put_response(
        request,
        outcome,
        await service.view(session, person, principal, personal),
        version=person.version,
        location=f"/api/v1/people/{person.id}",
        headers={"Cache-Control": "no-store"},
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
    person = await people.get(session, principal, person_id)
    service.check_writable(principal, person, "delete")
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
    return await _person_response(request, session, principal, personal, person)


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
    person = await people.get(session, principal, person_id)
    authorize(principal, "people_data_export", READ)
    return model_response(
        request,
        await service.data_export(session, principal, personal, person),
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
    await service.erase(session, principal, person)
    return await _person_response(request, session, principal, personal, person)
