"""Base classes of wire schemas."""

from __future__ import annotations

import uuid
from datetime import datetime
from types import UnionType
from typing import Any, ClassVar, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Strict

from app.core.errors import Unprocessable


def _strict_scalar(annotation: Any) -> bool:
    """An integer or boolean field (optional or not)."""
    if annotation in (int, bool):
        return True
    if get_origin(annotation) in (Union, UnionType):
        members = [a for a in get_args(annotation) if a is not type(None)]
        return bool(members) and all(a in (int, bool) for a in members)
    return False


class InputModel(BaseModel):
    """Request bodies: unknown or read-only fields (id, role, timestamps...) are a 422,
    never silently dropped or applied. Integers and booleans are strict: ``true``,
    ``"12"`` or ``1.0`` for a count, ``1`` or ``"true"`` for a flag are a 422 (pydantic's
    lax mode would take them); every other type keeps JSON's usual string forms (UUIDs,
    dates, enums), which is why strictness is set per field and not for the model."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        loosened = [
            field
            for field in cls.model_fields.values()
            if _strict_scalar(field.annotation)
            and not any(isinstance(m, Strict) for m in field.metadata)
        ]
        for field in loosened:
            field.metadata.append(Strict())
        if loosened:
            cls.model_rebuild(force=True)


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
