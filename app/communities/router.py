"""Endpoints of communities, their facilitators and development indices.

This is the example resource: thin routes over a ``ScopedRepository`` whose
scope comes from the access policy, with the shared list, ETag and audit rules.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from app.auth.deps import PrincipalDep, SessionDep
from app.auth.policy import READ, WRITE, authorize
from app.communities import repository, service
from app.communities.models import Community, CommunityKind, DevelopmentIndex
from app.communities.repository import communities, indices
from app.communities.schemas import (
    CommunityCreate,
    CommunityRead,
    CommunityUpdate,
    DevelopmentIndexCreate,
    DevelopmentIndexRead,
    DevelopmentIndexUpdate,
    FacilitatorRead,
)
from app.core.errors import problem_responses
from app.core.http import model_response
from app.core.pagination import ListParams, Page, list_params_for, set_link_header
from app.core.regions import RegionPrefixQuery
from app.core.schemas import TEXT_PATTERN

router = APIRouter(prefix="/communities", tags=["communities"])


def _read(community: Community) -> CommunityRead:
    return CommunityRead.model_validate(community)


@router.get(
    "",
    name="communities-list",
    response_model=Page[CommunityRead],
    summary="List communities (sort: created_at, updated_at, name)",
    responses=problem_responses(401, 422),
)
async def list_communities(
    request: Request,
    response: Response,
    session: SessionDep,
    principal: PrincipalDep,
    params: Annotated[ListParams, Depends(list_params_for(communities.keyset))],
    kind: CommunityKind | None = None,
    region_code: RegionPrefixQuery = None,
    q: Annotated[
        str | None,
        Query(min_length=1, max_length=100, pattern=TEXT_PATTERN, description="Name search"),
    ] = None,
) -> Page[CommunityRead]:
    rows, next_cursor = await communities.page(
        session,
        principal,
        params,
        conditions=communities.conditions(kind, region_code, q),
        filters={"kind": kind, "region_code": region_code, "q": q},
    )
    set_link_header(request, response, next_cursor)
    return Page(items=[_read(r) for r in rows], next_cursor=next_cursor)


@router.post(
    "",
    name="communities-create",
    status_code=201,
    response_model=CommunityRead,
    responses=problem_responses(401, 403, 409, 422),
)
async def create_community(
    request: Request, session: SessionDep, principal: PrincipalDep, body: CommunityCreate
) -> Response:
    authorize(principal, "communities", WRITE)
    community = await communities.add(
        session, principal, Community(**body.model_dump(exclude_unset=True))
    )
    return model_response(
        request,
        _read(community),
        version=community.version,
        status_code=201,
        headers={"Location": f"/api/v1/communities/{community.id}"},
    )


@router.get(
    "/{community_id}",
    name="communities-get",
    response_model=CommunityRead,
    responses=problem_responses(401, 404),
)
async def get_community(
    request: Request, session: SessionDep, principal: PrincipalDep, community_id: uuid.UUID
) -> Response:
    community = await communities.get(session, principal, community_id)
    return model_response(request, _read(community), version=community.version)


@router.patch(
    "/{community_id}",
    name="communities-update",
    response_model=CommunityRead,
    responses=problem_responses(401, 403, 404, 412, 422),
)
async def update_community(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    community_id: uuid.UUID,
    body: CommunityUpdate,
) -> Response:
    community = await communities.get_for_change(session, principal, community_id, request)
    changes = body.changes()
    await communities.apply_changes(session, principal, community, changes)
    return model_response(request, _read(community), version=community.version)


@router.delete(
    "/{community_id}",
    name="communities-delete",
    status_code=204,
    responses=problem_responses(401, 403, 404, 412),
)
async def delete_community(
    request: Request, session: SessionDep, principal: PrincipalDep, community_id: uuid.UUID
) -> Response:
    await communities.soft_delete(session, principal, community_id, request)
    return Response(status_code=204)


@router.post(
    "/{community_id}/restore",
    name="communities-restore",
    response_model=CommunityRead,
    responses=problem_responses(401, 403, 404),
)
async def restore_community(
    request: Request, session: SessionDep, principal: PrincipalDep, community_id: uuid.UUID
) -> Response:
    community = await communities.restore(session, principal, community_id)
    return model_response(request, _read(community), version=community.version)


# --- facilitators ---------------------------------------------------------------------------


@router.get(
    "/{community_id}/facilitators",
    name="community-facilitators-list",
    response_model=list[FacilitatorRead],
    responses=problem_responses(401, 403, 404),
)
async def list_facilitators(
    session: SessionDep, principal: PrincipalDep, community_id: uuid.UUID
) -> list[FacilitatorRead]:
    await communities.get(session, principal, community_id)
    authorize(principal, "community_facilitators", READ)
    rows = await repository.facilitators_of(session, community_id)
    return [FacilitatorRead(user_id=r.id, full_name=r.full_name, email=r.email) for r in rows]


@router.put(
    "/{community_id}/facilitators/{user_id}",
    name="community-facilitators-assign",
    status_code=204,
    responses=problem_responses(401, 403, 404, 422),
)
async def assign_facilitator(
    session: SessionDep, principal: PrincipalDep, community_id: uuid.UUID, user_id: uuid.UUID
) -> Response:
    await communities.get(session, principal, community_id)
    authorize(principal, "community_facilitators", WRITE)
    await service.assign_facilitator(session, principal, community_id, user_id)
    return Response(status_code=204)


@router.delete(
    "/{community_id}/facilitators/{user_id}",
    name="community-facilitators-unassign",
    status_code=204,
    responses=problem_responses(401, 403, 404),
)
async def unassign_facilitator(
    session: SessionDep, principal: PrincipalDep, community_id: uuid.UUID, user_id: uuid.UUID
) -> Response:
    await communities.get(session, principal, community_id)
    authorize(principal, "community_facilitators", WRITE)
    await service.unassign_facilitator(session, principal, community_id, user_id)
    return Response(status_code=204)


# --- development indices ----------------------------------------------------------------------


def _read_index(entry: DevelopmentIndex) -> DevelopmentIndexRead:
    return DevelopmentIndexRead.model_validate(entry)


@router.get(
    "/{community_id}/development-indices",
    name="development-indices-list",
    response_model=Page[DevelopmentIndexRead],
    summary="List a community's yearly development indices, IDM and Indeks Desa (sort: year, "
    "created_at, updated_at)",
    responses=problem_responses(401, 404, 422),
)
async def list_indices(
    request: Request,
    response: Response,
    session: SessionDep,
    principal: PrincipalDep,
    community_id: uuid.UUID,
    params: Annotated[ListParams, Depends(list_params_for(indices.keyset))],
) -> Page[DevelopmentIndexRead]:
    await communities.get(session, principal, community_id)
    rows, next_cursor = await indices.page_of_community(session, principal, params, community_id)
    set_link_header(request, response, next_cursor)
    return Page(items=[_read_index(r) for r in rows], next_cursor=next_cursor)


@router.post(
    "/{community_id}/development-indices",
    name="development-indices-create",
    status_code=201,
    response_model=DevelopmentIndexRead,
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def create_index(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    community_id: uuid.UUID,
    body: DevelopmentIndexCreate,
) -> Response:
    await communities.get(session, principal, community_id, for_update=True)
    authorize(principal, "development_indices", WRITE)
    entry = await service.create_index(session, principal, community_id, body)
    return model_response(
        request,
        _read_index(entry),
        version=entry.version,
        status_code=201,
        headers={"Location": f"/api/v1/communities/{community_id}/development-indices/{entry.id}"},
    )


@router.get(
    "/{community_id}/development-indices/{index_id}",
    name="development-indices-get",
    response_model=DevelopmentIndexRead,
    responses=problem_responses(401, 404),
)
async def get_index(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    community_id: uuid.UUID,
    index_id: uuid.UUID,
) -> Response:
    entry = await indices.get_in_community(session, principal, community_id, index_id)
    return model_response(request, _read_index(entry), version=entry.version)


@router.patch(
    "/{community_id}/development-indices/{index_id}",
    name="development-indices-update",
    response_model=DevelopmentIndexRead,
    responses=problem_responses(401, 403, 404, 412, 422),
)
async def update_index(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    community_id: uuid.UUID,
    index_id: uuid.UUID,
    body: DevelopmentIndexUpdate,
) -> Response:
    await indices.get_in_community(session, principal, community_id, index_id)
    entry = await indices.get_for_change(session, principal, index_id, request)
    await service.update_index(session, principal, entry, body.changes())
    return model_response(request, _read_index(entry), version=entry.version)


@router.delete(
    "/{community_id}/development-indices/{index_id}",
    name="development-indices-delete",
    status_code=204,
    responses=problem_responses(401, 403, 404, 412),
)
async def delete_index(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    community_id: uuid.UUID,
    index_id: uuid.UUID,
) -> Response:
    await indices.get_in_community(session, principal, community_id, index_id)
    await indices.soft_delete(session, principal, index_id, request)
    return Response(status_code=204)


@router.post(
    "/{community_id}/development-indices/{index_id}/restore",
    name="development-indices-restore",
    response_model=DevelopmentIndexRead,
    responses=problem_responses(401, 403, 404, 409),
)
async def restore_index(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    community_id: uuid.UUID,
    index_id: uuid.UUID,
) -> Response:
    await communities.get(session, principal, community_id)
    entry = await indices.restore(session, principal, index_id)
    indices.check_community(entry, community_id)
    return model_response(request, _read_index(entry), version=entry.version)
