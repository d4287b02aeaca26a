"""Who is calling: a user or a service account, with role and scope.

It lives in ``app.core`` because shared behaviour (audit, transitions) records who acted;
``app.auth`` makes principals (``app.auth.deps``) and judges them (``app.auth.policy``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal


class Role(StrEnum):
    admin = "admin"
    coordinator = "coordinator"
    facilitator = "facilitator"
    analyst = "analyst"
    partner = "partner"


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
    # Users: their state as the database renders it (app.auth.caller_cache.caller_stamp),
    # to tell a cached principal from a changed user without reading the user again.
    stamp: str | None = field(default=None, compare=False, repr=False)

    @property
    def is_admin(self) -> bool:
        return self.role is Role.admin
