"""``/reports``: the few answers program officers and donors need without an analyst.

Each report is one or two aggregate queries over indexed columns, scoped like every
read (facilitators see their communities; partners only the progress of their
programs), and echoes the filters it applied.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query

from app.auth.deps import PrincipalDep
from app.auth.models import Role
from app.auth.policy import READ, authorize
from app.core.errors import Forbidden, problem_responses
from app.core.i18n import M
from app.core.principal import Principal
from app.core.regions import RegionPrefixQuery
from app.core.replica import SERVED_BY_RESPONSES, ReadSessionDep
from app.core.schemas import IsoDate
from app.reports import service

router = APIRouter(prefix="/reports", tags=["reports"])


def _no_partners(principal: Principal) -> None:
    authorize(principal, "reports", READ)
    if principal.role is Role.partner:
        raise Forbidden(M.partner_reports_own)


CommunityQ = Annotated[uuid.UUID | None, Query(description="Only this community")]
ProgramQ = Annotated[uuid.UUID | None, Query(description="Only this program")]
RegionQ = RegionPrefixQuery
FromQ = Annotated[IsoDate | None, Query(description="On or after")]
ToQ = Annotated[IsoDate | None, Query(description="On or before")]


@router.get(
    "/participation",
    name="reports-participation",
    summary="Who took part and how deeply: people and records by sex, age band, "
    "disability, IAP2 level and role",
    description="Admins, coordinators and analysts see every community, facilitators "
    "their own; partners are refused (403). People are counted once however many records "
    "they have. Answered from rollups kept in the same transaction as every write, so "
    "`as_of` (when the answer was true) is the moment of the read, or on a replica the "
    "last transaction it replayed. `date_to` before `date_from` is a 422.",
    responses={**problem_responses(401, 403, 422), **SERVED_BY_RESPONSES},
)
async def participation_report(
    session: ReadSessionDep,
    principal: PrincipalDep,
    community_id: CommunityQ = None,
    program_id: ProgramQ = None,
    region_code: RegionQ = None,
    date_from: FromQ = None,
    date_to: ToQ = None,
) -> dict[str, Any]:
    _no_partners(principal)
    filters = service.filters_of(community_id, program_id, region_code, date_from, date_to)
    return await service.participation(session, principal, filters)


@router.get(
    "/programs/{program_id}/progress",
    name="reports-program-progress",
    summary="Indicators against targets, activities done, budget against commitments and "
    "contributions",
    responses={**problem_responses(401, 403, 404), **SERVED_BY_RESPONSES},
)
async def program_progress(
    session: ReadSessionDep, principal: PrincipalDep, program_id: uuid.UUID
) -> dict[str, Any]:
    authorize(principal, "reports", READ)
    return await service.program_progress(session, principal, program_id)


@router.get(
    "/needs-coverage",
    name="reports-needs-coverage",
    summary="Prioritised needs per community, the programs that address each, and the "
    "top-ranked needs nothing addresses yet",
    responses={**problem_responses(401, 403, 404, 422), **SERVED_BY_RESPONSES},
)
async def needs_coverage(
    session: ReadSessionDep,
    principal: PrincipalDep,
    community_id: CommunityQ = None,
    program_id: ProgramQ = None,
    region_code: RegionQ = None,
    date_from: FromQ = None,
    date_to: ToQ = None,
    top: Annotated[int, Query(ge=1, le=50, description="How many top ranks count")] = 3,
) -> dict[str, Any]:
    _no_partners(principal)
    filters = service.filters_of(community_id, program_id, region_code, date_from, date_to)
    return await service.needs_coverage(session, principal, filters, top)


@router.get(
    "/partnerships",
    name="reports-partnerships",
    summary="Commitments and contributions by partner kind and by program",
    responses={**problem_responses(401, 403, 422), **SERVED_BY_RESPONSES},
)
async def partnerships_report(
    session: ReadSessionDep,
    principal: PrincipalDep,
    community_id: CommunityQ = None,
    program_id: ProgramQ = None,
    region_code: RegionQ = None,
    date_from: FromQ = None,
    date_to: ToQ = None,
) -> dict[str, Any]:
    _no_partners(principal)
    filters = service.filters_of(community_id, program_id, region_code, date_from, date_to)
    return await service.partnerships(session, principal, filters)


@router.get(
    "/development",
    name="reports-development",
    summary="Development status counts per year and region, and communities that moved up or "
    "down: IDM and Indeks Desa side by side (`by_scheme`; the top level is IDM)",
    responses={**problem_responses(401, 403, 422), **SERVED_BY_RESPONSES},
)
async def development_report(
    session: ReadSessionDep,
    principal: PrincipalDep,
    community_id: CommunityQ = None,
    program_id: ProgramQ = None,
    region_code: RegionQ = None,
    date_from: FromQ = None,
    date_to: ToQ = None,
    group_by: Annotated[str, Query(pattern="^(province|regency)$")] = "province",
) -> dict[str, Any]:
    _no_partners(principal)
    filters = service.filters_of(community_id, program_id, region_code, date_from, date_to)
    return await service.development(session, principal, filters, group_by)


@router.get(
    "/needs-to-budget",
    name="reports-needs-to-budget",
    summary="Whether the community's priorities reached the village plan and budget: ranked "
    "needs → proposals → RKP Desa → APBDes → realised, amounts by funding source",
    description="Admins, coordinators and analysts see every community, facilitators their "
    "own; partners 403. Per community, per region (`group_by`) and in total: the funnel "
    "(a proposal counts at every stage its planning record reached, so one deferred from "
    "the RKP Desa still counts as in it), proposals by current status, estimated and "
    "funded rupiah by source, and `top_needs.share`: of the needs ranked within `top` by "
    "the community (validated assessments), the share linked to a proposal that reached "
    "the APBDes. Dates select planning years; a program filter keeps the proposals it "
    "carries out.",
    responses={**problem_responses(401, 403, 422), **SERVED_BY_RESPONSES},
)
async def needs_to_budget_report(
    session: ReadSessionDep,
    principal: PrincipalDep,
    community_id: CommunityQ = None,
    program_id: ProgramQ = None,
    region_code: RegionQ = None,
    date_from: FromQ = None,
    date_to: ToQ = None,
    top: Annotated[int, Query(ge=1, le=50, description="How many top ranks count")] = 3,
    group_by: Annotated[str, Query(pattern="^(province|regency)$")] = "province",
) -> dict[str, Any]:
    _no_partners(principal)
    filters = service.filters_of(community_id, program_id, region_code, date_from, date_to)
    return await service.needs_to_budget(session, principal, filters, top, group_by)
