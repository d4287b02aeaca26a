"""Who is calling: a user or a service account, with role and scope."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Literal

from app.auth.models import Role


@dataclass(frozen=True)
class Principal:
    id: uuid.UUID
    kind: Literal["user", "service_account"]
    role: Role
    organization_id: uuid.UUID | None = None
    # Facilitators: the communities assigned to them, loaded with the principal.
    community_ids: frozenset[uuid.UUID] = field(default_factory=frozenset)
    email: str | None = None
    full_name: str | None = None
    # Users: their state as the database renders it (app.auth.deps.caller_stamp), to
    # tell a cached principal from a changed user without reading the user again.
    stamp: str | None = field(default=None, compare=False, repr=False)

    @property
    def is_admin(self) -> bool:
        return self.role is Role.admin
