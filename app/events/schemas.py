"""Wire schemas of the events feed (the same body a webhook delivers)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

EVENT_EXAMPLE: dict[str, Any] = {
    "id": "01938f4e-7a10-7c3e-9d2a-5b8e1f0c2d44",
    "type": "contribution.recorded",
    "occurred_at": "2026-12-06T03:15:42.118Z",
    "data": {
        "id": "01938f4e-79f2-7b11-8c40-2f6d9a1e0b37",
        "href": "/api/v1/partnerships/01938e11-0c5a-7d2e-b8f1-6a3c4d5e6f70/contributions/"
        "01938f4e-79f2-7b11-8c40-2f6d9a1e0b37",
        "partnership_id": "01938e11-0c5a-7d2e-b8f1-6a3c4d5e6f70",
        "partner_id": "01938e10-ff21-7a9b-9c3d-1e2f3a4b5c6d",
        "program_id": "01938e0f-aa01-7bcd-8e9f-0a1b2c3d4e5f",
        "kind": "funds",
        "amount": 25_000_000,
        "contributed_on": "2026-12-05",
    },
}


class EventRead(BaseModel):
    """One event: ``data`` holds ids, an ``href`` to the resource, changed field names and
    non-personal values only."""

    model_config = ConfigDict(from_attributes=True, json_schema_extra={"examples": [EVENT_EXAMPLE]})

    id: uuid.UUID = Field(description="Stable: the `webhook-id` of every delivery of it.")
    type: str = Field(examples=["program.status_changed"])
    occurred_at: datetime
    data: dict[str, Any]


class EventPage(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "items": [EVENT_EXAMPLE],
                    "next_cursor": None,
                    "resume_cursor": "eyJzIjoic2VxdWVuY2UiLCJmIjoiIiwidCI6MSwicSI6MX0",
                }
            ]
        }
    )

    items: list[EventRead]
    next_cursor: str | None = Field(
        default=None,
        description="Opaque; the next page of what is visible now. Null at the end.",
    )
    resume_cursor: str | None = Field(
        default=None,
        description="Keep it: pass it as `cursor` later to get only newer events (ascending "
        "order only). Never skips an event, even one committed late by a long transaction.",
    )
