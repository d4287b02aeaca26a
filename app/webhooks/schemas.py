"""Wire schemas of webhook endpoints and their deliveries."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema, field_validator

from app.core.schemas import InputModel, PatchModel, ReadModel
from app.core.timestamps import AwareTimestamp
from app.events.outbox import EVENT_TYPES
from app.webhooks.models import DeliveryStatus

EventTypeName = Literal[tuple([*EVENT_TYPES, "*"])]  # type: ignore[valid-type]
SpecificType = Literal[tuple(EVENT_TYPES)]  # type: ignore[valid-type]
URL_EXAMPLE = "https://sistem.bumdes-sukamaju.id/berdaya/webhooks"
# The rule in the schema itself: either catalogue types, each once, or ["*"] alone.
EVENT_TYPES_SCHEMA: dict[str, Any] = {
    "anyOf": [
        {
            "type": "array",
            "items": {"type": "string", "enum": list(EVENT_TYPES)},
            "minItems": 1,
            "uniqueItems": True,
        },
        {"type": "array", "items": {"type": "string", "const": "*"}, "minItems": 1, "maxItems": 1},
    ],
    "description": 'The types to receive, or `["*"]` (alone) for every type.',
    "examples": [["program.status_changed", "contribution.recorded"]],
}


def _one_wildcard(value: list[str] | None) -> list[str] | None:
    if value is not None:
        if "*" in value and len(value) > 1:
            raise ValueError("'*' stands alone: it already means every type")
        if len(set(value)) != len(value):
            raise ValueError("each type at most once")
    return value


class EndpointCreate(InputModel):
    url: str = Field(
        min_length=8,
        max_length=2000,
        pattern=r"^https?://[^\s\u0000]+$",
        description="https (plain http only when the server allows insecure targets).",
        examples=[URL_EXAMPLE],
    )
    event_types: Annotated[
        list[EventTypeName],  # type: ignore[valid-type]
        WithJsonSchema(EVENT_TYPES_SCHEMA),
    ] = Field(min_length=1, max_length=len(EVENT_TYPES))
    description: str | None = Field(
        default=None, max_length=500, examples=["Sistem keuangan CSR PT Sinar Desa"]
    )
    is_active: bool = True
    organization_id: uuid.UUID | None = Field(
        default=None,
        description="Admins: the partner organisation it receives for (none: an internal "
        "endpoint receiving every event). Partners: omit it, or give their own.",
    )

    _types = field_validator("event_types")(_one_wildcard)


class EndpointUpdate(PatchModel):
    not_null = ("url", "event_types", "is_active")

    url: str | None = Field(
        default=None, min_length=8, max_length=2000, pattern=r"^https?://[^\s\u0000]+$"
    )
    event_types: (
        Annotated[
            list[EventTypeName],  # type: ignore[valid-type]
            WithJsonSchema(EVENT_TYPES_SCHEMA),
        ]
        | None
    ) = Field(default=None, min_length=1, max_length=len(EVENT_TYPES))
    description: str | None = Field(default=None, max_length=500)
    is_active: bool | None = Field(
        default=None, description="true re-enables a disabled endpoint (its reason is cleared)."
    )

    _types = field_validator("event_types")(_one_wildcard)


class EndpointRead(ReadModel):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": "01938f60-1b2c-7d3e-8f40-5a6b7c8d9e0f",
                    "created_at": "2026-12-06T02:00:00Z",
                    "updated_at": "2026-12-06T02:00:00Z",
                    "organization_id": "01938e10-ff21-7a9b-9c3d-1e2f3a4b5c6d",
                    "url": URL_EXAMPLE,
                    "event_types": ["contribution.recorded"],
                    "description": "Sistem keuangan CSR PT Sinar Desa",
                    "is_active": True,
                    "disabled_reason": None,
                    "previous_secret_expires_at": None,
                    "last_success_at": None,
                }
            ]
        },
    )

    organization_id: uuid.UUID | None
    url: str
    event_types: list[str]
    description: str | None
    is_active: bool
    disabled_reason: str | None = Field(
        description="`gone` (the receiver answered 410) or `no_success_5_days`."
    )
    previous_secret_expires_at: datetime | None = Field(
        description="Until then the previous secret signs too (after a rotation)."
    )
    last_success_at: datetime | None


class EndpointSecret(EndpointRead):
    secret: str = Field(
        description="`whsec_…`: shown once, store it now (verify deliveries with it).",
        examples=["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"],
    )


class EndpointRotate(InputModel):
    overlap_seconds: int | None = Field(
        default=None,
        ge=0,
        le=24 * 3600,
        description=(
            "How long the old secret keeps signing beside the new one; 0 ends it at once "
            "(a leaked secret: deliveries from now on verify with the new secret only). "
            "Default: 24 hours."
        ),
        examples=[0],
    )


class DeliveryAttempt(BaseModel):
    at: datetime
    status_code: int | None
    duration_ms: int
    error: str | None = None


class DeliveryRead(BaseModel):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": "01938f61-0a0b-7c0d-8e0f-101112131415",
                    "endpoint_id": "01938f60-1b2c-7d3e-8f40-5a6b7c8d9e0f",
                    "event_id": "01938f4e-7a10-7c3e-9d2a-5b8e1f0c2d44",
                    "event_type": "contribution.recorded",
                    "status": "delivered",
                    "attempts": 1,
                    "next_attempt_at": "2026-12-06T03:15:42Z",
                    "last_status_code": 204,
                    "last_error": None,
                    "last_duration_ms": 87,
                    "last_response": None,
                    "attempt_log": [
                        {"at": "2026-12-06T03:15:42Z", "status_code": 204, "duration_ms": 87}
                    ],
                    "delivered_at": "2026-12-06T03:15:42Z",
                    "created_at": "2026-12-06T03:15:42Z",
                    "updated_at": "2026-12-06T03:15:42Z",
                }
            ]
        },
    )

    id: uuid.UUID
    endpoint_id: uuid.UUID
    event_id: uuid.UUID | None = Field(description="Null for a `ping`.")
    event_type: str
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime
    last_status_code: int | None
    last_error: str | None
    last_duration_ms: int | None
    last_response: str | None = Field(description="At most 1 KiB of the receiver's answer.")
    attempt_log: list[DeliveryAttempt]
    delivered_at: datetime | None
    created_at: datetime
    updated_at: datetime


class DeliveryPage(BaseModel):
    items: list[DeliveryRead]
    next_cursor: str | None = None


class ReplayRequest(InputModel):
    since: AwareTimestamp = Field(examples=["2026-12-01T00:00:00Z"])
    until: AwareTimestamp | None = Field(default=None, examples=["2026-12-06T00:00:00Z"])
    types: list[SpecificType] | None = Field(  # type: ignore[valid-type]
        default=None,
        min_length=1,
        json_schema_extra={"uniqueItems": True},
        description="Only these types (default: every type the endpoint receives).",
        examples=[["contribution.recorded"]],
    )

    _types = field_validator("types")(_one_wildcard)


class ReplayResult(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"queued": 12}]})

    queued: int = Field(description="Deliveries queued (one per event, again if sent before).")


def plain_types(values: list[Any]) -> list[str]:
    return [str(v) for v in values]
