"""A simulated field device: it keeps what the changes feed gives it, as a field app
would, and can replay a whole first sync to compare with."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.factories import API

SYNC = f"{API}/sync"


@dataclass
class Device:
    client: httpx.AsyncClient
    device_id: str = field(default_factory=lambda: f"tablet-{uuid.uuid4().hex[:8]}")
    rows: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    versions: dict[tuple[str, str], int] = field(default_factory=dict)
    cursor: str | None = None
    pages: int = 0

    async def pull(self, **params: Any) -> list[dict[str, Any]]:
        """Pull until the feed says there is no more; answers every change received."""
        received: list[dict[str, Any]] = []
        while True:
            query = {"limit": params.pop("limit", 500), **params}
            if self.cursor is not None:
                query["cursor"] = self.cursor
            r = await self.client.get(f"{SYNC}/changes", params=query)
            assert r.status_code == 200, r.text
            page = r.json()
            assert page["next_cursor"]
            self.cursor = page["next_cursor"]
            self.pages += 1
            for change in page["changes"]:
                self.apply(change)
            received.extend(page["changes"])
            if not page["has_more"]:
                return received

    def apply(self, change: dict[str, Any]) -> None:
        key = (change["resource"], change["id"])
        if change["op"] == "upsert":
            self.rows[key] = change["data"]
            self.versions[key] = change["version"]
        elif change["op"] == "delete":
            self.rows.pop(key, None)
            self.versions.pop(key, None)
        else:
            assert change["op"] == "leave_scope"
            self.leave(change["id"])

    def leave(self, community_id: str) -> None:
        """Drop everything of a community (README "Building a field app")."""
        gone = {("communities", community_id)}
        for key, data in self.rows.items():
            if data.get("community_id") == community_id:
                gone.add(key)
        assessments = {k[1] for k in gone if k[0] == "needs_assessments"}
        for key, data in self.rows.items():
            if key[0] in ("findings", "ballots") and data.get("assessment_id") in assessments:
                gone.add(key)
        kept = {k[1] for k in self.rows if k[0] == "communities"} - {community_id}
        programs = {
            k[1]
            for k, data in self.rows.items()
            if k[0] == "programs" and not set(data["community_ids"]) & kept
        }
        indicators = set()
        for key, data in self.rows.items():
            if key[0] in ("programs",) and key[1] in programs:
                gone.add(key)
            if key[0] in ("activities", "indicators") and data.get("program_id") in programs:
                gone.add(key)
                if key[0] == "indicators":
                    indicators.add(key[1])
        for key, data in self.rows.items():
            if key[0] == "measurements" and data.get("indicator_id") in indicators:
                gone.add(key)
        for key in gone:
            self.rows.pop(key, None)
            self.versions.pop(key, None)

    async def push(self, mutations: list[dict[str, Any]]) -> list[dict[str, Any]]:
        r = await self.client.post(
            f"{SYNC}/push", json={"device_id": self.device_id, "mutations": mutations}
        )
        assert r.status_code == 200, r.text
        results: list[dict[str, Any]] = r.json()["results"]
        return results

    def of(self, resource: str) -> dict[str, dict[str, Any]]:
        return {k[1]: v for k, v in self.rows.items() if k[0] == resource}


async def server_state(client: httpx.AsyncClient, **params: Any) -> Device:
    """What the server holds for this caller: a new device's whole first sync."""
    fresh = Device(client)
    await fresh.pull(**params)
    return fresh
