"""Fixtures of the needs-assessment tests."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.factories import create_assessment


@pytest.fixture
async def assessment(admin: httpx.AsyncClient, community: dict[str, Any]) -> dict[str, Any]:
    return await create_assessment(admin, community["id"])
