"""Wire schemas of auth and users."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, EmailStr, Field

from app.auth.models import Role
from app.core.i18n import M
from app.core.schemas import InputModel, PatchModel, ReadModel


class TokenResponse(BaseModel):
    access_token: str
    token_type: str = Field("bearer", examples=["bearer"])
    expires_in: int = Field(examples=[900])
    refresh_token: str | None = None


class Me(BaseModel):
    id: uuid.UUID
    kind: str = Field(examples=["user"])
    role: Role
    email: str | None = None
    full_name: str | None = None
    organization_id: uuid.UUID | None = None
    community_ids: list[uuid.UUID] = Field(
        default_factory=list, description="Facilitators: the communities assigned to them."
    )


def ascii_email(value: str) -> str:
    """Addresses in ASCII only (matched without regard to case): an internationalised
    address can look like another user's letter for letter (a Cyrillic letter for a Latin
    one) and would create a distinct account; refusing them leaves no look-alikes."""
    if not value.isascii():
        raise ValueError(M.email_ascii)
    return value


Email = Annotated[
    EmailStr, AfterValidator(ascii_email), Field(examples=["siti.rahma@berdaya.example"])
]


class UserCreate(InputModel):
    # A partner user belongs to an organisation; no other role does.
    model_config = ConfigDict(
        json_schema_extra={
            "oneOf": [
                {
                    "properties": {
                        "role": {"const": Role.partner.value},
                        "organization_id": {"type": "string"},
                    },
                    "required": ["organization_id"],
                },
                {
                    "properties": {
                        "role": {"enum": [r.value for r in Role if r is not Role.partner]},
                        "organization_id": {"type": "null"},
                    },
                },
            ]
        }
    )

    email: Email
    full_name: str = Field(min_length=1, max_length=200, examples=["Siti Rahmawati"])
    role: Role
    organization_id: uuid.UUID | None = None
    password: str = Field(min_length=10, max_length=256, examples=["correct-horse-battery"])
    is_active: bool = True


class UserUpdate(PatchModel):
    not_null = ("full_name", "role", "is_active", "password")

    full_name: str | None = Field(default=None, min_length=1, max_length=200)
    role: Role | None = None
    organization_id: uuid.UUID | None = None
    is_active: bool | None = None
    password: str | None = Field(default=None, min_length=10, max_length=256)


class UserRead(ReadModel):
    email: str
    full_name: str
    role: Role
    organization_id: uuid.UUID | None
    is_active: bool
    last_login_at: datetime | None
