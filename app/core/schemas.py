"""Base classes of wire schemas."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict


class InputModel(BaseModel):
    """Request bodies: unknown or read-only fields (id, role, timestamps...) are a 422,
    never silently dropped or applied."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ReadModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    created_at: datetime
    updated_at: datetime
