"""Webhook endpoints, their deliveries, retries and replays (API.md §7)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Request, Response

from app.auth.deps import PrincipalDep, SessionDep
from app.auth.policy import DELETE, READ, WRITE, authorize
from app.core.errors import problem_responses
from app.core.http import model_response
from app.core.pagination import ListParams, Page, list_params_for, set_link_header
from app.core.pii import PersonalDep
from app.core.principal import Principal
from app.webhooks import repository, service
from app.webhooks.models import DeliveryStatus, WebhookEndpoint
from app.webhooks.repository import DELIVERY_KEYSET, endpoints
from app.webhooks.schemas import (
    DeliveryRead,
    EndpointCreate,
    EndpointRead,
    EndpointRotate,
    EndpointSecret,
    EndpointUpdate,
    ReplayRequest,
    ReplayResult,
)

router = APIRouter(prefix="/webhook-endpoints", tags=["webhooks"])

WHO = (
    "Admins manage endpoints of any partner organisation, or of none (an internal endpoint "
    "receiving every event); partner users and partner service accounts manage their own "
    "organisation's. Other roles: 403. An endpoint of another organisation: 404."
)


def _insecure(request: Request) -> bool:
    return bool(request.app.state.settings.webhook_allow_insecure)


def _read(entity: Any) -> EndpointRead:
    return EndpointRead.model_validate(entity)


async def _endpoint(
    session: Any, principal: Principal, endpoint_id: uuid.UUID, action: str = READ
) -> WebhookEndpoint:
    authorize(principal, "webhook_endpoints", action)
    return await endpoints.get(session, principal, endpoint_id, for_update=action != READ)


@router.get(
    "",
    name="webhook-endpoints-list",
    response_model=Page[EndpointRead],
    summary="List webhook endpoints (sort: created_at, updated_at)",
    description=WHO,
    responses=problem_responses(401, 403, 422),
)
async def list_endpoints(
    request: Request,
    response: Response,
    session: SessionDep,
    principal: PrincipalDep,
    params: Annotated[ListParams, Depends(list_params_for(endpoints.keyset))],
) -> Page[EndpointRead]:
    authorize(principal, "webhook_endpoints", READ)
    rows, next_cursor = await endpoints.page(session, principal, params)
    set_link_header(request, response, next_cursor)
    return Page(items=[_read(r) for r in rows], next_cursor=next_cursor)


@router.post(
    "",
    name="webhook-endpoints-create",
    status_code=201,
    response_model=EndpointSecret,
    summary="Register a webhook endpoint (its secret is shown once)",
    description=WHO + " The URL must be https and resolve to a public address (plain http "
    "and private addresses only when the server sets BERDAYA_WEBHOOK_ALLOW_INSECURE=true): "
    "422 otherwise. The answer carries the signing `secret` (`whsec_…`) this once; it is "
    "stored encrypted and never shown again (rotate it to get a new one). Deliveries start "
    "with the events that occur after the endpoint is created (older ones: replay).",
    responses=problem_responses(401, 403, 422),
)
async def create_endpoint(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    personal: PersonalDep,
    body: EndpointCreate,
) -> Response:
    entity, secret = await service.create_endpoint(
        session, principal, body, personal.cipher, allow_insecure=_insecure(request)
    )
    return model_response(
        request,
        EndpointSecret.model_validate({**_read(entity).model_dump(), "secret": secret}),
        version=entity.version,
        status_code=201,
        # no-store: the secret is shown once; the Idempotency-Key layer never keeps it.
        headers={"Location": f"/api/v1/webhook-endpoints/{entity.id}", "Cache-Control": "no-store"},
    )


@router.get(
    "/{endpoint_id}",
    name="webhook-endpoints-get",
    response_model=EndpointRead,
    summary="Get a webhook endpoint",
    description=WHO + " The secret is never shown here.",
    responses=problem_responses(401, 403, 404),
)
async def get_endpoint(
    request: Request, session: SessionDep, principal: PrincipalDep, endpoint_id: uuid.UUID
) -> Response:
    entity = await _endpoint(session, principal, endpoint_id)
    return model_response(request, _read(entity), version=entity.version)


@router.patch(
    "/{endpoint_id}",
    name="webhook-endpoints-update",
    response_model=EndpointRead,
    summary="Change a webhook endpoint (re-enable it with is_active true)",
    description=WHO + " Honours If-Match (412 when stale). Setting `is_active` to true "
    "re-enables an endpoint disabled after a 410 or 5 days without success.",
    responses=problem_responses(401, 403, 404, 412, 422),
)
async def update_endpoint(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    endpoint_id: uuid.UUID,
    body: EndpointUpdate,
) -> Response:
    authorize(principal, "webhook_endpoints", WRITE)
    entity = await endpoints.get_for_change(session, principal, endpoint_id, request)
    await service.update_endpoint(
        session, principal, entity, body.changes(), allow_insecure=_insecure(request)
    )
    return model_response(request, _read(entity), version=entity.version)


@router.delete(
    "/{endpoint_id}",
    name="webhook-endpoints-delete",
    status_code=204,
    summary="Delete a webhook endpoint (nothing more is sent to it)",
    description=WHO + " Honours If-Match (412 when stale).",
    responses=problem_responses(401, 403, 404, 412),
)
async def delete_endpoint(
    request: Request, session: SessionDep, principal: PrincipalDep, endpoint_id: uuid.UUID
) -> Response:
    authorize(principal, "webhook_endpoints", DELETE)
    await endpoints.soft_delete(session, principal, endpoint_id, request)
    return Response(status_code=204)


@router.post(
    "/{endpoint_id}/rotate-secret",
    name="webhook-endpoints-rotate-secret",
    response_model=EndpointSecret,
    summary="Rotate the signing secret (the old one signs too for 24 h)",
    description=WHO + " Answers the new secret once. For 24 hours (or `overlap_seconds`) "
    "every delivery carries two signatures in `webhook-signature` (new and old secret), so "
    "the receiver can switch secrets without losing a delivery; `overlap_seconds: 0` ends "
    "the old secret at once (a leaked one). The body is optional.",
    responses=problem_responses(401, 403, 404, 422),
)
async def rotate_secret(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    personal: PersonalDep,
    endpoint_id: uuid.UUID,
    body: Annotated[EndpointRotate | None, Body()] = None,
) -> Response:
    entity = await _endpoint(session, principal, endpoint_id, WRITE)
    overlap = (
        service.ROTATION_OVERLAP
        if body is None or body.overlap_seconds is None
        else timedelta(seconds=body.overlap_seconds)
    )
    secret = await service.rotate_secret(session, principal, entity, personal.cipher, overlap)
    return model_response(
        request,
        EndpointSecret.model_validate({**_read(entity).model_dump(), "secret": secret}),
        version=entity.version,
        headers={"Cache-Control": "no-store"},
    )


@router.post(
    "/{endpoint_id}/test",
    name="webhook-endpoints-test",
    status_code=202,
    response_model=DeliveryRead,
    summary="Send a signed `ping` event to the endpoint",
    description=WHO + " Queues a `ping` delivery (signed like every event, retried like "
    "them); follow it in the deliveries list. 409 when the endpoint is disabled.",
    responses=problem_responses(401, 403, 404, 409),
)
async def test_endpoint(
    session: SessionDep, principal: PrincipalDep, endpoint_id: uuid.UUID
) -> DeliveryRead:
    entity = await _endpoint(session, principal, endpoint_id, WRITE)
    delivery = await service.queue_ping(session, principal, entity)
    return DeliveryRead.model_validate(delivery)


@router.get(
    "/{endpoint_id}/deliveries",
    name="webhook-deliveries-list",
    response_model=Page[DeliveryRead],
    summary="List an endpoint's deliveries (sort: created_at)",
    description=WHO + " Each delivery shows its attempts (time, status code, duration, "
    "error) and at most 1 KiB of the receiver's last answer. Filter by `status`.",
    responses=problem_responses(401, 403, 404, 422),
)
async def list_deliveries(
    request: Request,
    response: Response,
    session: SessionDep,
    principal: PrincipalDep,
    endpoint_id: uuid.UUID,
    params: Annotated[ListParams, Depends(list_params_for(DELIVERY_KEYSET))],
    status: DeliveryStatus | None = Query(None, description="Only deliveries in this state."),
) -> Page[DeliveryRead]:
    await _endpoint(session, principal, endpoint_id)
    rows, next_cursor = await repository.delivery_page(
        session, endpoint_id, params, status.value if status else None
    )
    set_link_header(request, response, next_cursor)
    return Page(items=[DeliveryRead.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.post(
    "/{endpoint_id}/deliveries/{delivery_id}/retry",
    name="webhook-deliveries-retry",
    status_code=202,
    response_model=DeliveryRead,
    summary="Send a delivery again now",
    description=WHO + " One more attempt now, with the same `webhook-id`. 404 for a "
    "delivery of another endpoint; 409 while it is being sent or when the endpoint is "
    "disabled.",
    responses=problem_responses(401, 403, 404, 409),
)
async def retry_delivery(
    session: SessionDep,
    principal: PrincipalDep,
    endpoint_id: uuid.UUID,
    delivery_id: uuid.UUID,
) -> DeliveryRead:
    entity = await _endpoint(session, principal, endpoint_id, WRITE)
    delivery = await service.retry_delivery(session, principal, entity, delivery_id)
    return DeliveryRead.model_validate(delivery)


@router.post(
    "/{endpoint_id}/replay",
    name="webhook-endpoints-replay",
    status_code=202,
    response_model=ReplayResult,
    summary="Deliver again the events of a time window",
    description=WHO + " Queues every event that occurred in [since, until) of the given "
    "types (default: the endpoint's) that the endpoint's organisation may see now, again "
    "if it was sent before (same `webhook-id`); at most 10,000 per call. 409 when the "
    "endpoint is disabled; 422 when until is not after since.",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def replay(
    session: SessionDep,
    principal: PrincipalDep,
    endpoint_id: uuid.UUID,
    body: ReplayRequest,
) -> ReplayResult:
    entity = await _endpoint(session, principal, endpoint_id, WRITE)
    return ReplayResult(queued=await service.replay(session, principal, entity, body))
