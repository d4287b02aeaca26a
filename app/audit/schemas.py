"""The wire shape of an audit event: field names only, never values."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict


class AuditEventRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    at: datetime
    actor_id: uuid.UUID | None
    actor_kind: str | None
    action: str
    resource: str
    resource_id: uuid.UUID | None
    changed_fields: list[str]
    request_id: str | None
    note: str | None
