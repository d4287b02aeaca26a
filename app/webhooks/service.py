"""Rules of webhook endpoints: who may register for which organisation, URL checks,
secrets shown once and rotated with a 24 h overlap, test pings, retries and replays.
Flushes, never commits."""

from __future__ import annotations

import asyncio
import ipaddress
import uuid
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.policy import WRITE, authorize
from app.auth.repository import touch
from app.core import audit
from app.core.errors import Conflict, Forbidden, NotFound, Unprocessable
from app.core.i18n import M
from app.core.models import utcnow, uuid7
from app.core.pii import PiiCipher
from app.core.principal import Principal, Role
from app.partners.repository import partners
from app.webhooks import repository, signing
from app.webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from app.webhooks.repository import endpoints
from app.webhooks.schemas import EndpointCreate, ReplayRequest
from app.webhooks.transport import RefusedTarget, check_url, is_public

ROTATION_OVERLAP = timedelta(hours=24)
RESOURCE = "webhook_endpoints"


async def check_target(url: str, *, allow_insecure: bool) -> None:
    """At registration: the URL's shape, and an address that is not public (when the name
    resolves now) is refused; the address is checked again at every send."""
    try:
        check_url(url, allow_insecure=allow_insecure)
    except RefusedTarget as exc:
        raise Unprocessable(M.webhook_url_refused(reason=str(exc)), loc=["body", "url"]) from None
    if allow_insecure:
        return
    host = urlsplit(url).hostname or ""
    try:
        addresses = [ipaddress.ip_address(host)]
    except ValueError:
        try:
            infos = await asyncio.wait_for(
                asyncio.get_running_loop().getaddrinfo(host, 443), timeout=2
            )
        except (OSError, TimeoutError):
            return  # not resolvable from here now: checked at each send
        addresses = [ipaddress.ip_address(i[4][0].split("%", 1)[0]) for i in infos]
    if not all(is_public(a) for a in addresses):
        raise Unprocessable(M.webhook_url_not_public, loc=["body", "url"])


async def owner_of(
    session: AsyncSession, principal: Principal, requested: uuid.UUID | None
) -> uuid.UUID | None:
    """The organisation an endpoint receives for: partners their own; admins any
    existing partner organisation, or none (internal)."""
    if principal.role is Role.partner:
        if principal.organization_id is None:
            raise Forbidden(M.webhook_partner_without_organization)
        if requested is not None and requested != principal.organization_id:
            raise Unprocessable(M.webhook_own_organization_only, loc=["body", "organization_id"])
        return principal.organization_id
    if requested is not None:
        try:
            await partners.get(session, principal, requested)
        except NotFound:
            raise Unprocessable(
                M.webhook_organization_not_found, loc=["body", "organization_id"]
            ) from None
    return requested


async def create_endpoint(
    session: AsyncSession,
    principal: Principal,
    body: EndpointCreate,
    cipher: PiiCipher,
    *,
    allow_insecure: bool,
) -> tuple[WebhookEndpoint, str]:
    """The new endpoint and its secret (the only time the secret is shown)."""
    authorize(principal, RESOURCE, WRITE)
    organization_id = await owner_of(session, principal, body.organization_id)
    await check_target(body.url, allow_insecure=allow_insecure)
    secret = signing.new_secret()
    entity = WebhookEndpoint(
        organization_id=organization_id,
        url=body.url,
        event_types=[str(t) for t in body.event_types],
        description=body.description,
        is_active=body.is_active,
        secret_encrypted=signing.seal(cipher, secret),
        created_by=principal.id,
    )
    return await endpoints.add(session, principal, entity), secret


async def update_endpoint(
    session: AsyncSession,
    principal: Principal,
    entity: WebhookEndpoint,
    changes: dict[str, Any],
    *,
    allow_insecure: bool,
) -> None:
    if "url" in changes:
        await check_target(changes["url"], allow_insecure=allow_insecure)
    if "event_types" in changes:
        changes["event_types"] = [str(t) for t in changes["event_types"]]
    if changes.get("is_active") and not entity.is_active:
        # Re-enabled: a fresh start (the 5-day clock and the reason are cleared).
        changes["disabled_reason"] = None
        entity.failing_since = None
    await endpoints.apply_changes(session, principal, entity, changes)


async def rotate_secret(
    session: AsyncSession,
    principal: Principal,
    entity: WebhookEndpoint,
    cipher: PiiCipher,
    overlap: timedelta = ROTATION_OVERLAP,
) -> str:
    """A new secret; the current one keeps signing (beside it) for ``overlap`` (24 hours
    by default; none: it is forgotten at once)."""
    secret = signing.new_secret()
    if overlap > timedelta(0):
        entity.previous_secret_encrypted = entity.secret_encrypted
        entity.previous_secret_expires_at = utcnow() + overlap
    else:
        entity.previous_secret_encrypted = None
        entity.previous_secret_expires_at = None
    entity.secret_encrypted = signing.seal(cipher, secret)
    touch(entity)
    await session.flush()
    await audit.record(
        session, principal, "rotate", RESOURCE, entity.id, ["secret", "previous_secret"]
    )
    return secret


def _ensure_active(entity: WebhookEndpoint) -> None:
    if not entity.is_active:
        raise Conflict(M.webhook_endpoint_disabled(reason=entity.disabled_reason or "manual"))


async def queue_ping(
    session: AsyncSession, principal: Principal, entity: WebhookEndpoint
) -> WebhookDelivery:
    """A ``ping`` delivery, signed like any other; its id is the ``webhook-id``."""
    _ensure_active(entity)
    delivery_id = uuid7()
    now = utcnow()
    delivery = WebhookDelivery(
        id=delivery_id,
        endpoint_id=entity.id,
        event_type="ping",
        payload={
            "id": str(delivery_id),
            "type": "ping",
            "occurred_at": now.isoformat().replace("+00:00", "Z"),
            "data": {"id": str(entity.id), "href": f"/api/v1/webhook-endpoints/{entity.id}"},
        },
        next_attempt_at=now,
    )
    session.add(delivery)
    await session.flush()
    await repository.notify_deliveries(session)
    await audit.record(session, principal, "test", RESOURCE, entity.id)
    return delivery


async def retry_delivery(
    session: AsyncSession, principal: Principal, entity: WebhookEndpoint, delivery_id: uuid.UUID
) -> WebhookDelivery:
    """Send a delivery again now (one more attempt; the event id stays the same)."""
    _ensure_active(entity)
    delivery = await repository.delivery_of(session, entity.id, delivery_id, lock=True)
    if delivery is None:
        raise NotFound(M.webhook_delivery_not_found)
    if delivery.status == DeliveryStatus.delivering:
        raise Conflict(M.webhook_delivery_in_flight)
    delivery.status = DeliveryStatus.pending.value
    delivery.next_attempt_at = utcnow()
    delivery.updated_at = utcnow()
    await session.flush()
    await repository.notify_deliveries(session)
    await audit.record(session, principal, "retry", "webhook_deliveries", delivery.id)
    return delivery


async def replay(
    session: AsyncSession, principal: Principal, entity: WebhookEndpoint, body: ReplayRequest
) -> int:
    _ensure_active(entity)
    if body.until is not None and body.until <= body.since:
        raise Unprocessable(M.webhook_until_after_since, loc=["body", "until"])
    queued = await repository.queue_replay(
        session,
        entity,
        body.since,
        body.until,
        [str(t) for t in body.types] if body.types else None,
    )
    if queued:
        await repository.notify_deliveries(session)
    await audit.record(session, principal, "replay", RESOURCE, entity.id)
    return queued
