"""Base classes of wire schemas."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from app.core.errors import Unprocessable


class InputModel(BaseModel):
    """Request bodies: unknown or read-only fields (id, role, timestamps...) are a 422,
    never silently dropped or applied."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class PatchModel(InputModel):
    """A JSON merge patch: only the fields given change; ``null`` clears an optional field
    and is refused (422 naming the field) on the fields listed in ``not_null``."""

    not_null: ClassVar[tuple[str, ...]] = ()

    def changes(self) -> dict[str, Any]:
        values = self.model_dump(exclude_unset=True)
        for name in self.not_null:
            if name in values and values[name] is None:
                raise Unprocessable(f"{name} cannot be null", loc=["body", name])
        return values


class ReadModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    created_at: datetime
    updated_at: datetime
