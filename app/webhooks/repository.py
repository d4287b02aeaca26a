"""Every query of webhooks: endpoints (scoped), deliveries, the fan-out from the outbox,
the dispatchers' claims (``FOR UPDATE SKIP LOCKED``) and their results."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ARRAY,
    ColumnElement,
    String,
    Uuid,
    any_,
    bindparam,
    case,
    exists,
    func,
    literal,
    or_,
    select,
    text,
    true,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.auth.policy import organization_scope
from app.auth.repository import ScopedRepository
from app.core.pagination import Keyset, ListParams, paginate
from app.core.principal import Principal
from app.events.models import Event
from app.events.repository import HORIZON, endpoint_principal, event_scope
from app.partners.models import Partner
from app.webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint, WebhookFanout

DELIVERIES_CHANNEL = "berdaya_deliveries"
FANOUT_BATCH = 1000
MAX_REPLAY = 10_000


class EndpointRepository(ScopedRepository[WebhookEndpoint]):
    model = WebhookEndpoint
    resource = "webhook_endpoints"
    label = "webhook endpoint"
    keyset = Keyset(
        columns={
            "created_at": WebhookEndpoint.created_at,
            "updated_at": WebhookEndpoint.updated_at,
        },
        id_column=WebhookEndpoint.id,
    )

    def scope(self, principal: Principal) -> ColumnElement[bool]:
        """Admins every endpoint; partners their organisation's."""
        return organization_scope(principal, col(WebhookEndpoint.organization_id))


endpoints = EndpointRepository()

DELIVERY_KEYSET = Keyset(
    columns={"created_at": WebhookDelivery.created_at},
    id_column=WebhookDelivery.id,
)


DELIVERY_COLUMNS = [
    "id",
    "endpoint_id",
    "event_id",
    "event_type",
    "status",
    "next_attempt_at",
    "created_at",
    "updated_at",
]


def _subscribed(event_types: Sequence[str]) -> ColumnElement[bool]:
    """The event's type is one the endpoint subscribes to (or it takes every type)."""
    if "*" in event_types:
        return true()
    return col(Event.type) == any_(
        bindparam(None, list(event_types), type_=ARRAY(String()), unique=True)
    )


def _organization_live() -> ColumnElement[bool]:
    """Internal endpoints, or those of a partner organisation that is not deleted (deleting
    an organisation ends every access through it, webhooks included)."""
    return or_(
        col(WebhookEndpoint.organization_id).is_(None),
        exists().where(
            col(Partner.id) == col(WebhookEndpoint.organization_id),
            col(Partner.deleted_at).is_(None),
        ),
    )


def _new_deliveries(endpoint_id: uuid.UUID) -> Any:
    """The columns of a new pending delivery of each selected event to the endpoint."""
    return select(
        func.gen_random_uuid(),
        literal(endpoint_id, Uuid()),
        col(Event.id),
        col(Event.type),
        literal(DeliveryStatus.pending.value),
        func.now(),
        func.now(),
        func.now(),
    )


async def delivery_page(
    session: AsyncSession, endpoint_id: uuid.UUID, params: ListParams, status: str | None
) -> tuple[Sequence[Any], str | None]:
    conditions: list[ColumnElement[bool]] = [col(WebhookDelivery.endpoint_id) == endpoint_id]
    if status is not None:
        conditions.append(col(WebhookDelivery.status) == status)
    return await paginate(
        session,
        select(WebhookDelivery),
        keyset=DELIVERY_KEYSET,
        params=params,
        filters={"endpoint_id": endpoint_id, "status": status},
        conditions=conditions,
        updated_column=col(WebhookDelivery.updated_at),
    )


async def delivery_of(
    session: AsyncSession, endpoint_id: uuid.UUID, delivery_id: uuid.UUID, *, lock: bool = False
) -> WebhookDelivery | None:
    stmt = select(WebhookDelivery).where(
        col(WebhookDelivery.id) == delivery_id, col(WebhookDelivery.endpoint_id) == endpoint_id
    )
    if lock:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


async def notify_deliveries(session: AsyncSession) -> None:
    """Wake the dispatchers when this transaction commits (nothing if it rolls back)."""
    await session.execute(select(func.pg_notify(DELIVERIES_CHANNEL, "")))


async def queue_replay(
    session: AsyncSession,
    endpoint: WebhookEndpoint,
    since: datetime,
    until: datetime | None,
    types: Sequence[str] | None,
) -> int:
    """Queue again every event of the window the endpoint may see and subscribes to (a
    delivery already there starts over, unless it is being delivered right now)."""
    principal = endpoint_principal(endpoint.organization_id)
    conditions: list[ColumnElement[bool]] = [
        col(Event.occurred_at) >= since,
        col(Event.txid) < HORIZON,
        event_scope(principal),
        _subscribed(endpoint.event_types),
    ]
    if until is not None:
        conditions.append(col(Event.occurred_at) < until)
    if types:
        conditions.append(col(Event.type).in_(list(types)))
    chosen = (
        _new_deliveries(endpoint.id)
        .where(*conditions)
        .order_by(col(Event.txid), col(Event.seq))
        .limit(MAX_REPLAY)
    )
    stmt = (
        insert(WebhookDelivery)
        .from_select(DELIVERY_COLUMNS, chosen)
        .on_conflict_do_update(
            index_elements=["endpoint_id", "event_id"],
            index_where=text("event_id IS NOT NULL"),
            set_={
                "status": DeliveryStatus.pending.value,
                "next_attempt_at": func.now(),
                "updated_at": func.now(),
            },
            where=col(WebhookDelivery.status) != DeliveryStatus.delivering.value,
        )
        .returning(col(WebhookDelivery.id))
    )
    return len((await session.execute(stmt)).all())


# --- the dispatchers' side ------------------------------------------------------------------


async def fanout(session: AsyncSession) -> tuple[int, bool]:
    """Turn newly committed events into deliveries, one per subscribed endpoint whose
    organisation may see the event. Returns the number of events read, and whether
    events wait above the horizon (an older transaction still running: look again soon).
    One dispatcher at a time holds the cursor row (the others skip it); the caller
    commits."""
    await session.execute(
        insert(WebhookFanout).values(id=1, last_txid=0, last_seq=0).on_conflict_do_nothing()
    )
    state = (
        await session.execute(
            select(WebhookFanout).where(WebhookFanout.id == 1).with_for_update(skip_locked=True)
        )
    ).scalar_one_or_none()
    if state is None:
        return 0, False
    after = tuple_(col(Event.txid), col(Event.seq)) > tuple_(state.last_txid, state.last_seq)
    events = (
        await session.execute(
            select(col(Event.id), col(Event.txid), col(Event.seq))
            .where(after, col(Event.txid) < HORIZON)
            .order_by(col(Event.txid), col(Event.seq))
            .limit(FANOUT_BATCH)
        )
    ).all()
    if not events:
        held_back = await session.scalar(select(exists().where(after, col(Event.txid) >= HORIZON)))
        return 0, bool(held_back)
    ids = [e.id for e in events]
    live = (
        await session.execute(
            select(WebhookEndpoint).where(
                col(WebhookEndpoint.is_active),
                col(WebhookEndpoint.deleted_at).is_(None),
                _organization_live(),
            )
        )
    ).scalars()
    for endpoint in live:
        chosen = _new_deliveries(endpoint.id).where(
            col(Event.id).in_(ids),
            col(Event.occurred_at) >= endpoint.created_at,
            event_scope(endpoint_principal(endpoint.organization_id)),
            _subscribed(endpoint.event_types),
        )
        await session.execute(
            insert(WebhookDelivery).from_select(DELIVERY_COLUMNS, chosen).on_conflict_do_nothing()
        )
    state.last_txid, state.last_seq = events[-1].txid, events[-1].seq
    await session.flush()
    return len(events), False


CLAIM = text(
    """
    UPDATE webhook_deliveries AS d
       SET status = 'delivering', attempts = d.attempts + 1, lease_owner = :owner,
           lease_until = now() + make_interval(secs => :lease), updated_at = now()
      FROM webhook_endpoints AS e
     WHERE e.id = d.endpoint_id
       AND d.id IN (
           SELECT c.id FROM webhook_deliveries AS c
             JOIN webhook_endpoints AS ce ON ce.id = c.endpoint_id
            WHERE ((c.status = 'pending' AND c.next_attempt_at <= now())
                   OR (c.status = 'delivering' AND c.lease_until < now()))
              AND ce.is_active AND ce.deleted_at IS NULL
              AND (ce.organization_id IS NULL OR EXISTS (
                   SELECT 1 FROM partners AS p
                    WHERE p.id = ce.organization_id AND p.deleted_at IS NULL))
            ORDER BY c.next_attempt_at
            LIMIT :batch
              FOR UPDATE OF c SKIP LOCKED)
    RETURNING d.id, d.endpoint_id, d.event_id, d.payload, d.event_type, d.attempts,
              e.url, e.organization_id, e.event_types, e.secret_encrypted,
              e.previous_secret_encrypted, e.previous_secret_expires_at
    """
)


async def claim(session: AsyncSession, owner: str, lease_seconds: float, batch: int) -> list[Any]:
    """Due deliveries (and those whose dispatcher's lease ran out), marked ``delivering``
    under this dispatcher's lease; the caller commits before any HTTP call."""
    rows = await session.execute(CLAIM, {"owner": owner, "lease": lease_seconds, "batch": batch})
    return list(rows.mappings())


async def events_by_id(session: AsyncSession, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Event]:
    if not ids:
        return {}
    rows = await session.execute(select(Event).where(col(Event.id).in_(list(ids))))
    return {e.id: e for e in rows.scalars()}


async def visible_events(
    session: AsyncSession, organization_id: uuid.UUID | None, ids: Sequence[uuid.UUID]
) -> set[uuid.UUID]:
    if not ids:
        return set()
    principal = endpoint_principal(organization_id)
    rows = await session.execute(
        select(col(Event.id)).where(col(Event.id).in_(list(ids)), event_scope(principal))
    )
    return {r[0] for r in rows}


async def finish(
    session: AsyncSession,
    delivery_id: uuid.UUID,
    owner: str,
    values: dict[str, Any],
    attempt: dict[str, Any],
) -> bool:
    """Record an attempt's result if this dispatcher still holds the delivery."""
    stmt = (
        update(WebhookDelivery)
        .where(
            col(WebhookDelivery.id) == delivery_id,
            col(WebhookDelivery.lease_owner) == owner,
            col(WebhookDelivery.status) == DeliveryStatus.delivering.value,
        )
        .values(
            **values,
            lease_owner=None,
            lease_until=None,
            updated_at=func.now(),
            attempt_log=col(WebhookDelivery.attempt_log).op("||")(
                func.jsonb_build_array(bindparam("attempt", attempt, type_=JSONB))
            ),
        )
        .returning(col(WebhookDelivery.id))
    )
    return (await session.execute(stmt)).first() is not None


async def endpoint_succeeded(session: AsyncSession, endpoint_id: uuid.UUID) -> None:
    await session.execute(
        update(WebhookEndpoint)
        .where(col(WebhookEndpoint.id) == endpoint_id)
        .values(last_success_at=func.now(), failing_since=None)
    )


async def endpoint_failed(
    session: AsyncSession, endpoint_id: uuid.UUID, *, gone: bool, disable_after_seconds: float
) -> None:
    """Note the failure; disable at once on 410, or once failing for too long."""
    failing_since = func.coalesce(col(WebhookEndpoint.failing_since), func.now())
    too_long = failing_since < func.now() - func.make_interval(
        0, 0, 0, 0, 0, 0, literal(disable_after_seconds)
    )
    reason = "gone" if gone else "no_success_5_days"
    disable = true() if gone else too_long

    await session.execute(
        update(WebhookEndpoint)
        .where(col(WebhookEndpoint.id) == endpoint_id)
        .values(
            failing_since=failing_since,
            is_active=case((disable, False), else_=col(WebhookEndpoint.is_active)),
            disabled_reason=case((disable, reason), else_=col(WebhookEndpoint.disabled_reason)),
            updated_at=func.now(),
            version=col(WebhookEndpoint.version) + case((disable, 1), else_=0),
        )
    )


async def next_due(session: AsyncSession) -> datetime | None:
    """When the next pending delivery falls due (for the dispatcher's sleep)."""
    value: datetime | None = await session.scalar(
        select(func.min(col(WebhookDelivery.next_attempt_at))).where(
            col(WebhookDelivery.status) == DeliveryStatus.pending.value
        )
    )
    return value
