from __future__ import annotations

from typing import Any

import httpx

from tests.factories import make_person
from tests.sync.conftest import Device


async def test_smoke(facilitator: httpx.AsyncClient, community: dict[str, Any]) -> None:
    person = await make_person(facilitator, community["id"], nik="3204124506850003")
    device = Device(facilitator)
    await device.pull()
    assert device.of("people")[person["id"]]["nik"] == "************0003"
    assert community["id"] in device.of("communities")
    r = await facilitator.patch(f"/api/v1/people/{person['id']}", json={"full_name": "Baru"})
    assert r.status_code == 200
    changes = await device.pull()
    assert [c["op"] for c in changes] == ["upsert"], changes
    assert device.of("people")[person["id"]]["full_name"] == "Baru"
