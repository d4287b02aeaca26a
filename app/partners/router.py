"""Endpoints of partners, partnerships, contributions and service accounts."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.auth import service_accounts as accounts
from app.auth.deps import PrincipalDep, SessionDep
from app.auth.models import Role, ServiceAccount
from app.auth.policy import (
    READ,
    WRITE,
    authorize,
    organization_scope,
    partnership_scope,
)
from app.auth.repository import ScopedRepository, touch
from app.core import audit
from app.core.errors import Conflict, Forbidden, NotFound, Unprocessable, problem_responses
from app.core.http import check_if_match, model_response
from app.core.models import utcnow
from app.core.pagination import Keyset, ListParams, Page, list_params, set_link_header
from app.core.principal import Principal
from app.core.regions import RegionPrefixQuery
from app.core.transitions import (
    StatusTransition,
    TransitionRead,
    TransitionRequest,
    check_move,
    record_transition,
)
from app.partners.models import (
    PARTNERSHIP_MACHINE,
    Contribution,
    ContributionKind,
    Partner,
    PartnerKind,
    Partnership,
    PartnershipRole,
    PartnershipStatus,
)
from app.partners.schemas import (
    ContributionCreate,
    ContributionRead,
    ContributionUpdate,
    PartnerCreate,
    PartnerRead,
    PartnershipCreate,
    PartnershipRead,
    PartnershipUpdate,
    PartnerUpdate,
    ServiceAccountCreate,
    ServiceAccountRead,
    ServiceAccountSecret,
    ServiceAccountUpdate,
)
from app.programs.repository import programs

partners_router = APIRouter(prefix="/partners", tags=["partners"])
partnerships_router = APIRouter(prefix="/partnerships", tags=["partnerships"])
accounts_router = APIRouter(prefix="/service-accounts", tags=["service-accounts"])


# --- repositories ---------------------------------------------------------------------------


class PartnerRepository(ScopedRepository[Partner]):
    model = Partner
    resource = "partners"
    label = "partner"
    keyset = Keyset(
        columns={
            "created_at": Partner.created_at,
            "updated_at": Partner.updated_at,
            "name": Partner.name,
        },
        id_column=Partner.id,  # type: ignore[arg-type]
    )

    def scope(self, principal: Principal) -> ColumnElement[bool]:
        return organization_scope(principal, Partner.id)


class PartnershipRepository(ScopedRepository[Partnership]):
    model = Partnership
    resource = "partnerships"
    label = "partnership"
    keyset = Keyset(
        columns={"created_at": Partnership.created_at, "updated_at": Partnership.updated_at},
        id_column=Partnership.id,  # type: ignore[arg-type]
    )

    def scope(self, principal: Principal) -> ColumnElement[bool]:
        return partnership_scope(principal, Partnership.partner_id, Partnership.program_id)

    async def before_restore(self, session: AsyncSession, entity: Partnership) -> None:
        await _ensure_unique(session, entity.partner_id, entity.program_id, entity.role)


class ContributionRepository(ScopedRepository[Contribution]):
    model = Contribution
    resource = "contributions"
    label = "contribution"
    keyset = Keyset(
        columns={
            "created_at": Contribution.created_at,
            "updated_at": Contribution.updated_at,
            "contributed_on": Contribution.contributed_on,
        },
        id_column=Contribution.id,  # type: ignore[arg-type]
    )

    def base_query(self, principal: Principal, *, include_deleted: bool = False) -> Select[Any]:
        visible = select(Partnership.id).where(
            partnership_scope(principal, Partnership.partner_id, Partnership.program_id),
            Partnership.deleted_at.is_(None),
        )
        stmt = select(Contribution).where(col(Contribution.partnership_id).in_(visible))
        if not include_deleted:
            stmt = stmt.where(Contribution.deleted_at.is_(None))
        return stmt


class ServiceAccountRepository(ScopedRepository[ServiceAccount]):
    model = ServiceAccount
    resource = "service_accounts"
    label = "service account"
    keyset = Keyset(
        columns={"created_at": ServiceAccount.created_at, "updated_at": ServiceAccount.updated_at},
        id_column=ServiceAccount.id,  # type: ignore[arg-type]
    )


partners = PartnerRepository()
partnerships = PartnershipRepository()
contributions = ContributionRepository()
service_accounts = ServiceAccountRepository()


def _plain(values: dict[str, Any]) -> dict[str, Any]:
    """Enums and URLs as the text stored in the table."""
    return {
        k: (v.value if hasattr(v, "value") else str(v) if k == "website" and v else v)
        for k, v in values.items()
    }


# --- partners -------------------------------------------------------------------------------


@partners_router.get(
    "",
    name="partners-list",
    response_model=Page[PartnerRead],
    summary="List partner organisations (sort: created_at, updated_at, name)",
    responses=problem_responses(401, 422),
)
async def list_partners(
    request: Request,
    response: Response,
    session: SessionDep,
    principal: PrincipalDep,
    params: Annotated[ListParams, Depends(list_params)],
    kind: PartnerKind | None = None,
    region_code: RegionPrefixQuery = None,
    q: Annotated[str | None, Query(min_length=1, max_length=100)] = None,
) -> Page[PartnerRead]:
    conditions: list[ColumnElement[bool]] = []
    if kind is not None:
        conditions.append(Partner.kind == kind.value)
    if region_code is not None:
        conditions.append(col(Partner.region_code).startswith(region_code, autoescape=True))
    if q is not None:
        conditions.append(col(Partner.name).icontains(q, autoescape=True))
    rows, next_cursor = await partners.page(
        session,
        principal,
        params,
        conditions=conditions,
        filters={"kind": kind, "region_code": region_code, "q": q},
    )
    set_link_header(request, response, next_cursor)
    return Page(items=[PartnerRead.model_validate(r) for r in rows], next_cursor=next_cursor)


@partners_router.post(
    "",
    name="partners-create",
    status_code=201,
    response_model=PartnerRead,
    responses=problem_responses(401, 403, 422),
)
async def create_partner(
    request: Request, session: SessionDep, principal: PrincipalDep, body: PartnerCreate
) -> Response:
    authorize(principal, "partners", WRITE)
    entity = await partners.add(session, principal, Partner(**_plain(body.model_dump())))
    return model_response(
        request,
        PartnerRead.model_validate(entity),
        version=entity.version,
        status_code=201,
        headers={"Location": f"/api/v1/partners/{entity.id}"},
    )


@partners_router.get(
    "/{partner_id}",
    name="partners-get",
    response_model=PartnerRead,
    responses=problem_responses(401, 404),
)
async def get_partner(
    request: Request, session: SessionDep, principal: PrincipalDep, partner_id: uuid.UUID
) -> Response:
    entity = await partners.get(session, principal, partner_id)
    return model_response(request, PartnerRead.model_validate(entity), version=entity.version)


@partners_router.patch(
    "/{partner_id}",
    name="partners-update",
    response_model=PartnerRead,
    responses=problem_responses(401, 403, 404, 412, 422),
)
async def update_partner(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    partner_id: uuid.UUID,
    body: PartnerUpdate,
) -> Response:
    entity = await partners.get_for_change(session, principal, partner_id, request)
    changes = _plain(body.changes())
    await partners.apply_changes(session, principal, entity, changes)
    return model_response(request, PartnerRead.model_validate(entity), version=entity.version)


@partners_router.delete(
    "/{partner_id}",
    name="partners-delete",
    status_code=204,
    responses=problem_responses(401, 403, 404, 412),
)
async def delete_partner(
    request: Request, session: SessionDep, principal: PrincipalDep, partner_id: uuid.UUID
) -> Response:
    await partners.soft_delete(session, principal, partner_id, request)
    return Response(status_code=204)


@partners_router.post(
    "/{partner_id}/restore",
    name="partners-restore",
    response_model=PartnerRead,
    responses=problem_responses(401, 403, 404),
)
async def restore_partner(
    request: Request, session: SessionDep, principal: PrincipalDep, partner_id: uuid.UUID
) -> Response:
    entity = await partners.restore(session, principal, partner_id)
    return model_response(request, PartnerRead.model_validate(entity), version=entity.version)


# --- partnerships ---------------------------------------------------------------------------


async def _contributed(session: AsyncSession, ids: list[uuid.UUID]) -> dict[uuid.UUID, int]:
    if not ids:
        return {}
    rows = await session.execute(
        select(Contribution.partnership_id, func.coalesce(func.sum(Contribution.amount), 0))
        .where(col(Contribution.partnership_id).in_(ids), Contribution.deleted_at.is_(None))
        .group_by(Contribution.partnership_id)
    )
    return {pid: int(total) for pid, total in rows}


async def _read_partnerships(
    session: AsyncSession, rows: list[Partnership]
) -> list[PartnershipRead]:
    totals = await _contributed(session, [r.id for r in rows])
    return [
        PartnershipRead.model_validate(
            {**r.model_dump(), "contributed_amount": totals.get(r.id, 0)}
        )
        for r in rows
    ]


async def _read_partnership(session: AsyncSession, row: Partnership) -> PartnershipRead:
    return (await _read_partnerships(session, [row]))[0]


async def _ensure_unique(
    session: AsyncSession,
    partner_id: uuid.UUID,
    program_id: uuid.UUID,
    role: str,
    exclude: uuid.UUID | None = None,
) -> None:
    stmt = select(func.count()).where(
        Partnership.partner_id == partner_id,
        Partnership.program_id == program_id,
        Partnership.role == role,
        Partnership.deleted_at.is_(None),
    )
    if exclude is not None:
        stmt = stmt.where(Partnership.id != exclude)
    if await session.scalar(stmt):
        raise Conflict("this partner already has this role in this program")


def _check_dates(start: Any, end: Any) -> None:
    if start and end and end < start:
        raise Unprocessable("end_date is before start_date", loc=["body", "end_date"])


@partnerships_router.get(
    "",
    name="partnerships-list",
    response_model=Page[PartnershipRead],
    summary="List partnerships (sort: created_at, updated_at)",
    responses=problem_responses(401, 422),
)
async def list_partnerships(
    request: Request,
    response: Response,
    session: SessionDep,
    principal: PrincipalDep,
    params: Annotated[ListParams, Depends(list_params)],
    partner_id: uuid.UUID | None = None,
    program_id: uuid.UUID | None = None,
    role: PartnershipRole | None = None,
    status: PartnershipStatus | None = None,
) -> Page[PartnershipRead]:
    conditions: list[ColumnElement[bool]] = []
    if partner_id is not None:
        conditions.append(Partnership.partner_id == partner_id)
    if program_id is not None:
        conditions.append(Partnership.program_id == program_id)
    if role is not None:
        conditions.append(Partnership.role == role.value)
    if status is not None:
        conditions.append(Partnership.status == status.value)
    rows, next_cursor = await partnerships.page(
        session,
        principal,
        params,
        conditions=conditions,
        filters={
            "partner_id": partner_id,
            "program_id": program_id,
            "role": role,
            "status": status,
        },
    )
    set_link_header(request, response, next_cursor)
    return Page(items=await _read_partnerships(session, rows), next_cursor=next_cursor)


@partnerships_router.post(
    "",
    name="partnerships-create",
    status_code=201,
    response_model=PartnershipRead,
    responses=problem_responses(401, 403, 409, 422),
)
async def create_partnership(
    request: Request, session: SessionDep, principal: PrincipalDep, body: PartnershipCreate
) -> Response:
    authorize(principal, "partnerships", WRITE)
    try:
        await partners.get(session, principal, body.partner_id)
    except NotFound:
        raise Unprocessable("partner not found", loc=["body", "partner_id"]) from None
    try:
        await programs.get(session, principal, body.program_id)
    except NotFound:
        raise Unprocessable("program not found", loc=["body", "program_id"]) from None
    _check_dates(body.start_date, body.end_date)
    await _ensure_unique(session, body.partner_id, body.program_id, body.role.value)
    entity = Partnership(**_plain(body.model_dump()))
    session.add(entity)
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError:
        raise Conflict("this partner already has this role in this program") from None
    await partnerships.add(session, principal, entity)
    return model_response(
        request,
        await _read_partnership(session, entity),
        version=entity.version,
        status_code=201,
        headers={"Location": f"/api/v1/partnerships/{entity.id}"},
    )


@partnerships_router.get(
    "/{partnership_id}",
    name="partnerships-get",
    response_model=PartnershipRead,
    responses=problem_responses(401, 404),
)
async def get_partnership(
    request: Request, session: SessionDep, principal: PrincipalDep, partnership_id: uuid.UUID
) -> Response:
    entity = await partnerships.get(session, principal, partnership_id)
    return model_response(request, await _read_partnership(session, entity), version=entity.version)


@partnerships_router.patch(
    "/{partnership_id}",
    name="partnerships-update",
    response_model=PartnershipRead,
    responses=problem_responses(401, 403, 404, 409, 412, 422),
)
async def update_partnership(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    partnership_id: uuid.UUID,
    body: PartnershipUpdate,
) -> Response:
    entity = await partnerships.get_for_change(session, principal, partnership_id, request)
    if entity.status in (PartnershipStatus.completed, PartnershipStatus.terminated):
        raise Conflict(f"the partnership is {entity.status}: it can no longer change")
    changes = body.model_dump(exclude_unset=True)
    _check_dates(
        changes.get("start_date", entity.start_date), changes.get("end_date", entity.end_date)
    )
    await partnerships.apply_changes(session, principal, entity, changes)
    return model_response(request, await _read_partnership(session, entity), version=entity.version)


@partnerships_router.delete(
    "/{partnership_id}",
    name="partnerships-delete",
    status_code=204,
    responses=problem_responses(401, 403, 404, 412),
)
async def delete_partnership(
    request: Request, session: SessionDep, principal: PrincipalDep, partnership_id: uuid.UUID
) -> Response:
    await partnerships.soft_delete(session, principal, partnership_id, request)
    return Response(status_code=204)


@partnerships_router.post(
    "/{partnership_id}/restore",
    name="partnerships-restore",
    response_model=PartnershipRead,
    responses=problem_responses(401, 403, 404, 409),
)
async def restore_partnership(
    request: Request, session: SessionDep, principal: PrincipalDep, partnership_id: uuid.UUID
) -> Response:
    entity = await partnerships.restore(session, principal, partnership_id)
    return model_response(request, await _read_partnership(session, entity), version=entity.version)


@partnerships_router.post(
    "/{partnership_id}/transitions",
    name="partnerships-transition",
    response_model=PartnershipRead,
    summary="proposed → active → completed, or terminated (coordinators and admins)",
    responses=problem_responses(401, 403, 404, 409, 412, 422),
)
async def transition_partnership(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    partnership_id: uuid.UUID,
    body: TransitionRequest,
) -> Response:
    entity = await partnerships.get_for_change(session, principal, partnership_id, request)
    try:
        target = PartnershipStatus(body.to).value
    except ValueError:
        raise Unprocessable(
            f"unknown status; one of: {', '.join(s.value for s in PartnershipStatus)}",
            loc=["body", "to"],
        ) from None
    check_move(PARTNERSHIP_MACHINE, entity.status, target)
    await record_transition(session, principal, "partnerships", entity, target, body.note)
    return model_response(request, await _read_partnership(session, entity), version=entity.version)


@partnerships_router.get(
    "/{partnership_id}/transitions",
    name="partnerships-transitions-list",
    response_model=list[TransitionRead],
    responses=problem_responses(401, 404),
)
async def list_partnership_transitions(
    session: SessionDep, principal: PrincipalDep, partnership_id: uuid.UUID
) -> list[TransitionRead]:
    await partnerships.get(session, principal, partnership_id)
    rows = await session.execute(
        select(StatusTransition)
        .where(
            StatusTransition.resource == "partnerships",
            StatusTransition.resource_id == partnership_id,
        )
        .order_by(StatusTransition.at, StatusTransition.id)
    )
    return [TransitionRead.model_validate(r) for r in rows.scalars()]


# --- contributions --------------------------------------------------------------------------


def _check_contribution(partnership: Partnership, principal: Principal, on: Any) -> None:
    if partnership.status == PartnershipStatus.terminated:
        raise Conflict("the partnership is terminated: no contribution can be recorded")
    if principal.role is Role.partner and partnership.status != PartnershipStatus.active:
        raise Conflict("partners record contributions on active partnerships only")
    if partnership.status == PartnershipStatus.proposed:
        raise Conflict("the partnership is not active yet")
    if (partnership.start_date and on < partnership.start_date) or (
        partnership.end_date and on > partnership.end_date
    ):
        raise Unprocessable(
            "contributed_on must fall within the partnership's dates",
            loc=["body", "contributed_on"],
        )


async def _contribution_in(
    session: AsyncSession,
    principal: Principal,
    partnership_id: uuid.UUID,
    contribution_id: uuid.UUID,
    *,
    for_update: bool = False,
) -> Contribution:
    entity = await contributions.get(session, principal, contribution_id, for_update=for_update)
    if entity.partnership_id != partnership_id:
        raise NotFound("contribution not found")
    return entity


@partnerships_router.get(
    "/{partnership_id}/contributions",
    name="contributions-list",
    response_model=Page[ContributionRead],
    summary="List contributions (sort: created_at, updated_at, contributed_on)",
    responses=problem_responses(401, 404, 422),
)
async def list_contributions(
    request: Request,
    response: Response,
    session: SessionDep,
    principal: PrincipalDep,
    partnership_id: uuid.UUID,
    params: Annotated[ListParams, Depends(list_params)],
    kind: ContributionKind | None = None,
) -> Page[ContributionRead]:
    await partnerships.get(session, principal, partnership_id)
    conditions: list[ColumnElement[bool]] = [Contribution.partnership_id == partnership_id]
    if kind is not None:
        conditions.append(Contribution.kind == kind.value)
    rows, next_cursor = await contributions.page(
        session,
        principal,
        params,
        conditions=conditions,
        filters={"partnership_id": partnership_id, "kind": kind},
    )
    set_link_header(request, response, next_cursor)
    return Page(items=[ContributionRead.model_validate(r) for r in rows], next_cursor=next_cursor)


@partnerships_router.post(
    "/{partnership_id}/contributions",
    name="contributions-create",
    status_code=201,
    response_model=ContributionRead,
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def create_contribution(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    partnership_id: uuid.UUID,
    body: ContributionCreate,
) -> Response:
    partnership = await partnerships.get(session, principal, partnership_id, for_update=True)
    authorize(principal, "contributions", WRITE)
    _check_contribution(partnership, principal, body.contributed_on)
    entity = await contributions.add(
        session,
        principal,
        Contribution(
            partnership_id=partnership_id, recorded_by=principal.id, **_plain(body.model_dump())
        ),
    )
    return model_response(
        request,
        ContributionRead.model_validate(entity),
        version=entity.version,
        status_code=201,
        headers={"Location": f"/api/v1/partnerships/{partnership_id}/contributions/{entity.id}"},
    )


@partnerships_router.get(
    "/{partnership_id}/contributions/{contribution_id}",
    name="contributions-get",
    response_model=ContributionRead,
    responses=problem_responses(401, 404),
)
async def get_contribution(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    partnership_id: uuid.UUID,
    contribution_id: uuid.UUID,
) -> Response:
    entity = await _contribution_in(session, principal, partnership_id, contribution_id)
    return model_response(request, ContributionRead.model_validate(entity), version=entity.version)


@partnerships_router.patch(
    "/{partnership_id}/contributions/{contribution_id}",
    name="contributions-update",
    response_model=ContributionRead,
    responses=problem_responses(401, 403, 404, 409, 412, 422),
)
async def update_contribution(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    partnership_id: uuid.UUID,
    contribution_id: uuid.UUID,
    body: ContributionUpdate,
) -> Response:
    partnership = await partnerships.get(session, principal, partnership_id, for_update=True)
    entity = await _contribution_in(
        session, principal, partnership_id, contribution_id, for_update=True
    )
    authorize(principal, "contributions", WRITE)
    if principal.role is Role.partner and entity.recorded_by != principal.id:
        raise Forbidden("partners may change only the contributions they recorded")
    check_if_match(request, entity.version)
    changes = _plain(body.changes())
    _check_contribution(
        partnership, principal, changes.get("contributed_on", entity.contributed_on)
    )
    await contributions.apply_changes(session, principal, entity, changes)
    return model_response(request, ContributionRead.model_validate(entity), version=entity.version)


@partnerships_router.delete(
    "/{partnership_id}/contributions/{contribution_id}",
    name="contributions-delete",
    status_code=204,
    responses=problem_responses(401, 403, 404, 412),
)
async def delete_contribution(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    partnership_id: uuid.UUID,
    contribution_id: uuid.UUID,
) -> Response:
    await _contribution_in(session, principal, partnership_id, contribution_id)
    await contributions.soft_delete(session, principal, contribution_id, request)
    return Response(status_code=204)


# --- service accounts -----------------------------------------------------------------------


def _read_account(entity: ServiceAccount) -> ServiceAccountRead:
    return ServiceAccountRead.model_validate(entity)


@accounts_router.get(
    "",
    name="service-accounts-list",
    response_model=Page[ServiceAccountRead],
    responses=problem_responses(401, 403, 422),
)
async def list_accounts(
    request: Request,
    response: Response,
    session: SessionDep,
    principal: PrincipalDep,
    params: Annotated[ListParams, Depends(list_params)],
    organization_id: uuid.UUID | None = None,
) -> Page[ServiceAccountRead]:
    authorize(principal, "service_accounts", READ)
    conditions: list[ColumnElement[bool]] = []
    if organization_id is not None:
        conditions.append(ServiceAccount.organization_id == organization_id)
    rows, next_cursor = await service_accounts.page(
        session,
        principal,
        params,
        conditions=conditions,
        filters={"organization_id": organization_id},
    )
    set_link_header(request, response, next_cursor)
    return Page(items=[_read_account(r) for r in rows], next_cursor=next_cursor)


@accounts_router.post(
    "",
    name="service-accounts-create",
    status_code=201,
    response_model=ServiceAccountSecret,
    summary="Create a service account; the client_secret is shown only in this answer",
    responses=problem_responses(401, 403, 422),
)
async def create_account(
    request: Request, session: SessionDep, principal: PrincipalDep, body: ServiceAccountCreate
) -> Response:
    authorize(principal, "service_accounts", WRITE)
    if body.role == Role.partner.value:
        if body.organization_id is None:
            raise Unprocessable(
                "a partner service account needs an organization_id",
                loc=["body", "organization_id"],
            )
        try:
            await partners.get(session, principal, body.organization_id)
        except NotFound:
            raise Unprocessable(
                "partner organisation not found", loc=["body", "organization_id"]
            ) from None
    elif body.organization_id is not None:
        raise Unprocessable(
            "only partner accounts belong to an organisation", loc=["body", "organization_id"]
        )
    secret, digest = accounts.new_secret()
    entity = await service_accounts.add(
        session,
        principal,
        ServiceAccount(
            name=body.name,
            organization_id=body.organization_id,
            role=body.role,
            client_id=accounts.new_client_id(),
            secret_hash=digest,
        ),
    )
    return model_response(
        request,
        ServiceAccountSecret(**_read_account(entity).model_dump(), client_secret=secret),
        version=entity.version,
        status_code=201,
        headers={"Location": f"/api/v1/service-accounts/{entity.id}", "Cache-Control": "no-store"},
    )


@accounts_router.get(
    "/{account_id}",
    name="service-accounts-get",
    response_model=ServiceAccountRead,
    responses=problem_responses(401, 403, 404),
)
async def get_account(
    request: Request, session: SessionDep, principal: PrincipalDep, account_id: uuid.UUID
) -> Response:
    authorize(principal, "service_accounts", READ)
    entity = await service_accounts.get(session, principal, account_id)
    return model_response(request, _read_account(entity), version=entity.version)


@accounts_router.patch(
    "/{account_id}",
    name="service-accounts-update",
    response_model=ServiceAccountRead,
    responses=problem_responses(401, 403, 404, 412, 422),
)
async def update_account(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    account_id: uuid.UUID,
    body: ServiceAccountUpdate,
) -> Response:
    authorize(principal, "service_accounts", WRITE)
    entity = await service_accounts.get_for_change(session, principal, account_id, request)
    changes = body.changes()
    await service_accounts.apply_changes(session, principal, entity, changes)
    return model_response(request, _read_account(entity), version=entity.version)


@accounts_router.post(
    "/{account_id}/rotate",
    name="service-accounts-rotate",
    response_model=ServiceAccountSecret,
    summary="New secret (shown once); the old one works for the grace period",
    responses=problem_responses(401, 403, 404, 409),
)
async def rotate_account(
    request: Request, session: SessionDep, principal: PrincipalDep, account_id: uuid.UUID
) -> Response:
    authorize(principal, "service_accounts", WRITE)
    entity = await service_accounts.get(session, principal, account_id, for_update=True)
    if entity.revoked_at is not None:
        raise Conflict("the service account is revoked")
    grace = request.app.state.settings.service_account_rotation_grace_seconds
    secret = accounts.rotate(entity, grace)
    touch(entity)
    await session.flush()
    await audit.record(
        session, principal, "rotate", "service_accounts", entity.id, ["client_secret"]
    )
    return model_response(
        request,
        ServiceAccountSecret(**_read_account(entity).model_dump(), client_secret=secret),
        version=entity.version,
        headers={"Cache-Control": "no-store"},
    )


@accounts_router.post(
    "/{account_id}/revoke",
    name="service-accounts-revoke",
    response_model=ServiceAccountRead,
    summary="Revoke: the account's tokens and secrets stop working at once",
    responses=problem_responses(401, 403, 404),
)
async def revoke_account(
    request: Request, session: SessionDep, principal: PrincipalDep, account_id: uuid.UUID
) -> Response:
    authorize(principal, "service_accounts", WRITE)
    entity = await service_accounts.get(session, principal, account_id, for_update=True)
    if entity.revoked_at is None:
        entity.revoked_at = utcnow()
        touch(entity)
        await session.flush()
        await audit.record(
            session, principal, "revoke", "service_accounts", entity.id, ["revoked_at"]
        )
    return model_response(request, _read_account(entity), version=entity.version)


@accounts_router.delete(
    "/{account_id}",
    name="service-accounts-delete",
    status_code=204,
    responses=problem_responses(401, 403, 404, 412),
)
async def delete_account(
    request: Request, session: SessionDep, principal: PrincipalDep, account_id: uuid.UUID
) -> Response:
    authorize(principal, "service_accounts", WRITE)
    await service_accounts.soft_delete(session, principal, account_id, request)
    return Response(status_code=204)
