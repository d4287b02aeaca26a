"""Fixtures of the program tests."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from app.auth.models import Role
from tests.factories import AsUser, MakeCommunity, MakeUser, make_program


@pytest.fixture
async def world(make_community: MakeCommunity, make_user: MakeUser, as_user: AsUser) -> Any:
    """Two communities in one program; a coordinator; facilitators of each and of a third."""
    a = await make_community(name="Desa Sukamaju")
    b = await make_community(name="Desa Cibodas", region_code="32.04.12.2002")
    other = await make_community(name="Desa Lain", region_code="33.01.01.2001")
    coordinator_user = await make_user(Role.coordinator)
    coord = as_user(coordinator_user)
    fac_a_user = await make_user(Role.facilitator, communities=[uuid.UUID(a["id"])])
    fac_other_user = await make_user(Role.facilitator, communities=[uuid.UUID(other["id"])])
    program = await make_program(
        coord,
        [a["id"], b["id"]],
        start_date="2025-01-01",
        end_date="2025-12-31",
        coordinator_id=str(coordinator_user.id),
    )

    class World:
        pass

    w = World()
    w.a, w.b, w.other = a, b, other  # type: ignore[attr-defined]
    w.coordinator_user, w.coord = coordinator_user, coord  # type: ignore[attr-defined]
    w.fac_a_user, w.fac_a = fac_a_user, as_user(fac_a_user)  # type: ignore[attr-defined]
    w.fac_other = as_user(fac_other_user)  # type: ignore[attr-defined]
    w.program = program  # type: ignore[attr-defined]
    w.pid = program["id"]  # type: ignore[attr-defined]
    return w
