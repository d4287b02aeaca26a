"""Fixtures of the partner tests."""

from __future__ import annotations

import httpx
import pytest

from tests.factories import MakeCommunity, PartnerWorld, build_side


@pytest.fixture
async def world(admin: httpx.AsyncClient, make_community: MakeCommunity) -> PartnerWorld:
    return PartnerWorld(
        sides={
            "A": await build_side(admin, make_community, "A"),
            "B": await build_side(admin, make_community, "B"),
        }
    )
