"""Fixtures of the participation tests."""

from __future__ import annotations

import httpx
import pytest

from tests.factories import MakeCommunity, ParticipationWorld, build_participation_world


@pytest.fixture
async def world(admin: httpx.AsyncClient, make_community: MakeCommunity) -> ParticipationWorld:
    return await build_participation_world(admin, make_community)
