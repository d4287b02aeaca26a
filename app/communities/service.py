"""Rules of communities: the yearly development index (IDM score and status derived,
Indeks Desa as published), and who may be
assigned as a community's facilitator."""

from __future__ import annotations

import uuid
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.models import Role
from app.auth.repository import live_user_role
from app.communities.models import (
    INDEKS_DESA_DIMENSIONS,
    DevelopmentIndex,
    DevelopmentScheme,
    IdmStatus,
)
from app.communities.repository import (
    add_facilitator,
    ensure_year_free,
    indices,
    remove_facilitator,
)
from app.communities.schemas import DevelopmentIndexCreate
from app.core import audit
from app.core.errors import Unprocessable
from app.core.i18n import M
from app.core.principal import Principal

# Upper bounds (inclusive) of each status, from Permendesa PDTT 2/2016.
IDM_THRESHOLDS: tuple[tuple[Decimal, IdmStatus], ...] = (
    (Decimal("0.4907"), IdmStatus.sangat_tertinggal),
    (Decimal("0.5989"), IdmStatus.tertinggal),
    (Decimal("0.7072"), IdmStatus.berkembang),
    (Decimal("0.8155"), IdmStatus.maju),
)


def idm_score(iks: Decimal, ike: Decimal, ikl: Decimal) -> Decimal:
    """Exact decimal mean, rounded half-up to 4 places (no float drift at the boundaries)."""
    return ((iks + ike + ikl) / 3).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)


def idm_status(score: Decimal) -> IdmStatus:
    for upper, status in IDM_THRESHOLDS:
        if score <= upper:
            return status
    return IdmStatus.mandiri


def idm_fields(iks: Decimal, ike: Decimal, ikl: Decimal) -> dict[str, Any]:
    """The stored score and status: always derived from the three sub-indices, never sent."""
    score = idm_score(iks, ike, ikl)
    return {"idm_score": score, "idm_status": idm_status(score).value}


IDM_INPUTS = ("iks", "ike", "ikl")
SCHEME_INPUTS: dict[str, tuple[str, ...]] = {
    DevelopmentScheme.idm.value: IDM_INPUTS,
    DevelopmentScheme.indeks_desa.value: (*INDEKS_DESA_DIMENSIONS, "score", "status"),
}


def _check_scheme_fields(scheme: str, given: dict[str, Any]) -> None:
    """Fields of the other scheme are refused (422 naming the first one)."""
    for name, value in given.items():
        if value is not None and name not in SCHEME_INPUTS[scheme] and name in _ALL_INPUTS:
            raise Unprocessable(
                M.index_field_other_scheme(field=name, scheme=scheme), loc=["body", name]
            )


_ALL_INPUTS = frozenset(n for names in SCHEME_INPUTS.values() for n in names)


async def create_index(
    session: AsyncSession,
    principal: Principal,
    community_id: uuid.UUID,
    body: DevelopmentIndexCreate,
) -> DevelopmentIndex:
    """One index per community, year and scheme (409 otherwise). IDM derives its score and
    status; Indeks Desa stores the published score and status as given."""
    scheme = body.scheme.value
    values = body.model_dump(exclude={"year", "scheme"})
    _check_scheme_fields(scheme, values)
    for name in ("iks", "ike", "ikl") if scheme == "idm" else ("score", "status"):
        if values[name] is None:
            raise Unprocessable(
                M.index_field_required(field=name, scheme=scheme), loc=["body", name]
            )
    await ensure_year_free(session, community_id, body.year, scheme)
    if scheme == DevelopmentScheme.idm.value:
        fields: dict[str, Any] = {k: values[k] for k in IDM_INPUTS}
        fields.update(idm_fields(values["iks"], values["ike"], values["ikl"]))
    else:
        fields = {k: values[k] for k in SCHEME_INPUTS[scheme]}
        fields["status"] = IdmStatus(fields["status"]).value
    return await indices.add(
        session,
        principal,
        DevelopmentIndex(community_id=community_id, year=body.year, scheme=scheme, **fields),
    )


async def update_index(
    session: AsyncSession, principal: Principal, entry: DevelopmentIndex, changes: dict[str, Any]
) -> None:
    """Merge the changed fields of the entry's scheme; an IDM entry derives its score and
    status again."""
    _check_scheme_fields(entry.scheme, changes)
    if entry.scheme == DevelopmentScheme.idm.value:
        iks, ike, ikl = (changes.get(k, getattr(entry, k)) for k in IDM_INPUTS)
        changes.update(idm_fields(iks, ike, ikl))
    elif changes.get("status") is not None:
        changes["status"] = IdmStatus(changes["status"]).value
    await indices.apply_changes(session, principal, entry, changes)


async def assign_facilitator(
    session: AsyncSession, principal: Principal, community_id: uuid.UUID, user_id: uuid.UUID
) -> None:
    """Only a live facilitator may be assigned; assigning twice changes (and audits) nothing."""
    if await live_user_role(session, user_id) != Role.facilitator.value:
        raise Unprocessable(M.not_a_facilitator, loc=["path", "user_id"])
    if await add_facilitator(session, community_id, user_id):
        await audit.record(
            session, principal, "assign", "community_facilitators", community_id, ["user_id"]
        )


async def unassign_facilitator(
    session: AsyncSession, principal: Principal, community_id: uuid.UUID, user_id: uuid.UUID
) -> None:
    await remove_facilitator(session, community_id, user_id)
    await audit.record(
        session, principal, "unassign", "community_facilitators", community_id, ["user_id"]
    )
