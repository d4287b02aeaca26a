"""THE access policy: which role may do what, and which rows each caller can see.

Two questions, answered only here:

* ``authorize(principal, resource, action)`` — function level. A caller whose role
  may not perform the action gets 403 (the thing itself is visible or is a collection).
* ``community_scope(principal, column)`` — object level. A SQL condition that the
  scoped repositories add to every read, so that rows outside the caller's scope
  are simply not found (404) without any route remembering to check.

Partner scope: a partner principal sees what concerns its own organisation's
partnerships. Packages that create such links register a source of community ids
with ``register_partner_community_source``; until one exists, partners see no
community at all (fail closed).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy import ColumnElement, Select, false, select, true, union

from app.auth.models import Role
from app.auth.principal import Principal
from app.communities.models import CommunityFacilitator
from app.core.errors import Forbidden

READ, WRITE, DELETE, RESTORE, ERASE = "read", "write", "delete", "restore", "erase"

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
}


def allowed(principal: Principal, resource: str, action: str) -> bool:
    return principal.role in PERMISSIONS.get((resource, action), frozenset())


def authorize(principal: Principal, resource: str, action: str) -> None:
    """403 unless the caller's role may perform ``action`` on ``resource``."""
    if not allowed(principal, resource, action):
        raise Forbidden(f"the {principal.role.value} role may not {action} {resource}")


PartnerCommunitySource = Callable[[uuid.UUID], Select[Any]]
_partner_community_sources: list[PartnerCommunitySource] = []


def register_partner_community_source(source: PartnerCommunitySource) -> None:
    """Let a package (partnerships) say which community ids an organisation may see."""
    if source not in _partner_community_sources:
        _partner_community_sources.append(source)


def facilitator_communities(user_id: uuid.UUID) -> Select[Any]:
    return select(CommunityFacilitator.community_id).where(CommunityFacilitator.user_id == user_id)


def community_scope(principal: Principal, column: Any) -> ColumnElement[bool]:
    """The rows whose community (``column``) the caller may see."""
    if principal.role in (Role.admin, Role.coordinator, Role.analyst):
        return true()
    if principal.role is Role.facilitator:
        return column.in_(facilitator_communities(principal.id))
    if principal.role is Role.partner and principal.organization_id is not None:
        sources = [source(principal.organization_id) for source in _partner_community_sources]
        if sources:
            return column.in_(union(*sources))
    return false()


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
