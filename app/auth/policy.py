"""THE access policy: which role may do what, and which rows each caller can see.

Two questions, answered only here:

* ``authorize(principal, resource, action)`` — function level. A caller whose role
  may not perform the action gets 403 (the thing itself is visible or is a collection).
* ``community_scope(principal, column)`` — object level. A SQL condition that the
  scoped repositories add to every read, so that rows outside the caller's scope
  are simply not found (404) without any route remembering to check.

Partner scope: a partner principal sees what concerns its own organisation's
partnerships: the programs of its live, non-terminated partnerships
(``partner_programs``) and those programs' communities.

The policy reads the tables that define scope (facilitator assignments, program
communities, partnerships) directly: resource packages' ``models.py`` are the table
layer below ``app.auth`` (see the README's layout notes).
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import ColumnElement, Select, false, select, true
from sqlmodel import col

from app.communities.models import CommunityFacilitator
from app.core.errors import Forbidden
from app.core.i18n import M
from app.core.principal import Principal, Role
from app.partners.models import Partnership, PartnershipStatus
from app.planning.models import ProposalProgram
from app.programs.models import ProgramCommunity

READ, WRITE, DELETE, RESTORE, ERASE = "read", "write", "delete", "restore", "erase"
APPROVE = "approve"

_ALL = frozenset(Role)
_MANAGERS = frozenset({Role.admin, Role.coordinator})
_ADMIN = frozenset({Role.admin})

# (resource, action) -> roles allowed. Anything absent is denied.
PERMISSIONS: dict[tuple[str, str], frozenset[Role]] = {
    ("communities", READ): _ALL,
    ("communities", WRITE): _MANAGERS,
    ("communities", DELETE): _MANAGERS,
    ("communities", RESTORE): _ADMIN,
    ("community_facilitators", READ): _MANAGERS | {Role.facilitator},
    ("community_facilitators", WRITE): _MANAGERS,
    ("development_indices", READ): _ALL,
    ("development_indices", WRITE): _MANAGERS,
    ("development_indices", DELETE): _MANAGERS,
    ("development_indices", RESTORE): _ADMIN,
    ("users", READ): _ADMIN,
    ("users", WRITE): _ADMIN,
    ("users", DELETE): _ADMIN,
    ("users", RESTORE): _ADMIN,
    ("audit_events", READ): _ADMIN,
    # People: personal data. Partners never; analysts read pseudonymised views only.
    ("people", READ): _MANAGERS | {Role.facilitator, Role.analyst},
    ("people", WRITE): _MANAGERS | {Role.facilitator},
    ("people", DELETE): _MANAGERS | {Role.facilitator},
    ("people", RESTORE): _ADMIN,
    ("people", ERASE): _ADMIN,
    ("people_names", READ): _MANAGERS | {Role.facilitator},
    ("people_lookup", READ): _MANAGERS | {Role.facilitator},
    ("people_identified", READ): _ADMIN,
    ("people_data_export", READ): _MANAGERS,
    # Needs assessments: read by all but partners (they hold people's words); written in
    # the field by facilitators of the community.
    ("needs_assessments", READ): _MANAGERS | {Role.facilitator, Role.analyst},
    ("needs_assessments", WRITE): _MANAGERS | {Role.facilitator},
    ("needs_assessments", DELETE): _MANAGERS | {Role.facilitator},
    ("needs_assessments", RESTORE): _ADMIN,
    ("findings", WRITE): _MANAGERS | {Role.facilitator},
    ("findings", DELETE): _MANAGERS | {Role.facilitator},
    ("findings", RESTORE): _ADMIN,
    ("ballots", WRITE): _MANAGERS | {Role.facilitator},
    # Programs: planned and approved by coordinators; facilitators run activities and
    # record measurements in their communities.
    ("programs", READ): _ALL,
    ("programs", WRITE): _MANAGERS,
    ("programs", DELETE): _MANAGERS,
    ("programs", RESTORE): _ADMIN,
    ("programs", APPROVE): _MANAGERS,
    ("activities", WRITE): _MANAGERS | {Role.facilitator},
    ("activities", DELETE): _MANAGERS | {Role.facilitator},
    ("activities", RESTORE): _ADMIN,
    ("indicators", WRITE): _MANAGERS,
    ("indicators", DELETE): _MANAGERS,
    ("indicators", RESTORE): _ADMIN,
    ("measurements", WRITE): _MANAGERS | {Role.facilitator},
    ("measurements", DELETE): _MANAGERS | {Role.facilitator},
    ("measurements", RESTORE): _ADMIN,
    ("budget_lines", WRITE): _MANAGERS,
    ("budget_lines", DELETE): _MANAGERS,
    ("budget_lines", RESTORE): _ADMIN,
    # Village planning: written by coordinators everywhere and by facilitators in their
    # communities (checked per community); read by analysts, and by partners when a
    # proposal is carried out by one of their programs.
    ("planning_proposals", READ): _ALL,
    ("planning_proposals", WRITE): _MANAGERS | {Role.facilitator},
    ("planning_proposals", DELETE): _MANAGERS | {Role.facilitator},
    ("planning_proposals", RESTORE): _ADMIN,
    ("proposal_funding", WRITE): _MANAGERS | {Role.facilitator},
    ("proposal_funding", DELETE): _MANAGERS | {Role.facilitator},
    ("proposal_funding", RESTORE): _ADMIN,
    # Participation records point at people: partners never see them.
    ("participation_records", READ): _MANAGERS | {Role.facilitator, Role.analyst},
    ("participation_records", WRITE): _MANAGERS | {Role.facilitator},
    ("participation_records", DELETE): _MANAGERS | {Role.facilitator},
    ("participation_records", RESTORE): _ADMIN,
    # Field sync (API.md §6): the roles that keep data on a device. Each row pushed or
    # pulled is then checked as its own resource (these say only who may sync at all).
    ("sync", READ): _MANAGERS | {Role.facilitator},
    ("sync", WRITE): _MANAGERS | {Role.facilitator},
    # Partners: organisations and what they agreed and gave. Partner principals record
    # contributions on their own active partnerships.
    ("partners", READ): _ALL,
    ("partners", WRITE): _MANAGERS,
    ("partners", DELETE): _MANAGERS,
    ("partners", RESTORE): _ADMIN,
    ("partnerships", READ): _ALL,
    ("partnerships", WRITE): _MANAGERS,
    ("partnerships", DELETE): _MANAGERS,
    ("partnerships", RESTORE): _ADMIN,
    ("contributions", READ): _ALL,
    ("contributions", WRITE): _MANAGERS | {Role.partner},
    ("contributions", DELETE): _MANAGERS,
    ("contributions", RESTORE): _ADMIN,
    ("exports", READ): frozenset({Role.admin, Role.analyst}),
    ("reports", READ): _ALL,
    ("service_accounts", READ): _ADMIN,
    ("service_accounts", WRITE): _ADMIN,
    ("service_accounts", DELETE): _ADMIN,
    ("service_accounts", RESTORE): _ADMIN,
    # Events (API.md §7): each caller reads the events of what it may read
    # (app.events.repository.event_scope). Webhook endpoints: admins for any organisation
    # or none; partner users and service accounts for their own organisation.
    ("events", READ): _ALL,
    ("webhook_endpoints", READ): frozenset({Role.admin, Role.partner}),
    ("webhook_endpoints", WRITE): frozenset({Role.admin, Role.partner}),
    ("webhook_endpoints", DELETE): frozenset({Role.admin, Role.partner}),
}


def allowed(principal: Principal, resource: str, action: str) -> bool:
    return principal.role in PERMISSIONS.get((resource, action), frozenset())


def authorize(principal: Principal, resource: str, action: str) -> None:
    """403 unless the caller's role may perform ``action`` on ``resource``."""
    if not allowed(principal, resource, action):
        raise Forbidden(M.role_may_not(role=principal.role, action=action, resource=resource))


def partner_programs(organization_id: uuid.UUID) -> Select[Any]:
    """A partner organisation sees the programs where it has a live, non-terminated
    partnership."""
    return select(Partnership.program_id).where(
        Partnership.partner_id == organization_id,
        Partnership.deleted_at.is_(None),
        Partnership.status != PartnershipStatus.terminated.value,
    )


def facilitator_communities(user_id: uuid.UUID) -> Select[Any]:
    return select(CommunityFacilitator.community_id).where(CommunityFacilitator.user_id == user_id)


def community_scope(principal: Principal, column: Any) -> ColumnElement[bool]:
    """The rows whose community (``column``) the caller may see."""
    if principal.role in (Role.admin, Role.coordinator, Role.analyst):
        return true()
    if principal.role is Role.facilitator:
        return column.in_(facilitator_communities(principal.id))
    if principal.role is Role.partner and principal.organization_id is not None:
        return column.in_(
            select(ProgramCommunity.community_id).where(
                col(ProgramCommunity.program_id).in_(partner_programs(principal.organization_id))
            )
        )
    return false()


def program_scope(principal: Principal, column: Any) -> ColumnElement[bool]:
    """Programs (``column`` is a program id) the caller may see: facilitators those touching
    their communities, partners those of their organisation's partnerships."""
    if principal.role in (Role.admin, Role.coordinator, Role.analyst):
        return true()
    if principal.role is Role.facilitator:
        return column.in_(
            select(ProgramCommunity.program_id).where(
                col(ProgramCommunity.community_id).in_(facilitator_communities(principal.id))
            )
        )
    if principal.role is Role.partner and principal.organization_id is not None:
        return column.in_(partner_programs(principal.organization_id))
    return false()


def organization_scope(principal: Principal, column: Any) -> ColumnElement[bool]:
    """Partner organisations: a partner principal sees only its own."""
    if principal.role is Role.partner:
        if principal.organization_id is None:
            return false()
        return column == principal.organization_id
    return true()


def partnership_scope(
    principal: Principal, partner_column: Any, program_column: Any
) -> ColumnElement[bool]:
    """Partnerships: partners their organisation's; facilitators those of the programs
    they see; managers and analysts all."""
    if principal.role is Role.partner:
        return organization_scope(principal, partner_column)
    return program_scope(principal, program_column)


def proposal_scope(
    principal: Principal, community_column: Any, proposal_column: Any
) -> ColumnElement[bool]:
    """Planning proposals: by community like assessments (facilitators their communities),
    and for partners those carried out by a program of their organisation's partnerships."""
    if principal.role is Role.partner:
        if principal.organization_id is None:
            return false()
        return proposal_column.in_(
            select(ProposalProgram.proposal_id).where(
                col(ProposalProgram.program_id).in_(partner_programs(principal.organization_id))
            )
        )
    return community_scope(principal, community_column)


def person_scope(principal: Principal, column: Any) -> ColumnElement[bool]:
    """People (personal data) are never visible to partners, whatever their programs."""
    if principal.role is Role.partner:
        return false()
    return community_scope(principal, column)


def can_write_in_community(principal: Principal, community_id: uuid.UUID) -> bool:
    """Facilitators write only in their assigned communities; managers everywhere."""
    if principal.role in _MANAGERS:
        return True
    return principal.role is Role.facilitator and community_id in principal.community_ids
