"""A program's budget: the amount is the sum of its budget lines, never written directly."""

from __future__ import annotations

from typing import Any

from tests.factories import PROGRAMS, post
from tests.helpers import named

BASE = PROGRAMS


# --- budget ------------------------------------------------------------------------------------


async def test_budget_amount_is_the_sum_of_lines(world: Any) -> None:
    pid, coord = world.pid, world.coord
    url = f"{BASE}/{pid}/budget-lines"
    assert world.program["budget_amount"] == 0
    one = await post(
        coord,
        url,
        {"description": "Konsumsi", "quantity": 2.5, "unit": "paket", "unit_cost_amount": 3},
    )
    assert one["total_amount"] == 8  # 7.5 rounds half up
    two = await post(
        coord,
        url,
        {"description": "ATK", "quantity": "0.33", "unit": "rim", "unit_cost_amount": 1001},
    )
    assert two["total_amount"] == 330  # 330.33
    three = await post(
        coord,
        url,
        {"description": "Honor", "quantity": 3, "unit": "OJ", "unit_cost_amount": 1_000_000},
    )
    assert (await coord.get(f"{BASE}/{pid}")).json()["budget_amount"] == 8 + 330 + 3_000_000

    r = await coord.patch(f"{url}/{two['id']}", json={"quantity": "1.5", "unit_cost_amount": 333})
    assert r.status_code == 200, r.text
    assert r.json()["total_amount"] == 500  # 499.5 rounds half up
    assert (await coord.get(f"{BASE}/{pid}")).json()["budget_amount"] == 8 + 500 + 3_000_000

    assert (await coord.delete(f"{url}/{one['id']}")).status_code == 204
    program = (await coord.get(f"{BASE}/{pid}")).json()
    assert program["budget_amount"] == 500 + 3_000_000
    lines = (await coord.get(url)).json()["items"]
    assert program["budget_amount"] == sum(line["total_amount"] for line in lines)
    assert {line["id"] for line in lines} == {two["id"], three["id"]}

    r = await coord.patch(f"{BASE}/{pid}", json={"budget_amount": 1})
    assert r.status_code == 422
    assert named(r, "budget_amount")
    r = await coord.post(
        BASE, json={"title": "X", "community_ids": [world.a["id"]], "budget_amount": 5}
    )
    assert r.status_code == 422
    assert named(r, "budget_amount")
    r = await coord.post(
        url,
        json={
            "description": "X",
            "quantity": 1,
            "unit": "OJ",
            "unit_cost_amount": 5,
            "total_amount": 99,
        },
    )
    assert r.status_code == 422
    r = await coord.post(
        url, json={"description": "X", "quantity": 0, "unit": "OJ", "unit_cost_amount": 5}
    )
    assert r.status_code == 422
    assert (await coord.get(f"{BASE}/{pid}")).json()["budget_amount"] == 500 + 3_000_000
