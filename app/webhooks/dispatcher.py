"""The webhook dispatcher: fan-out from the outbox, claims, signed sends, retries.

Any number run side by side (``berdaya dispatch`` processes and one inside each
``berdaya serve`` unless ``BERDAYA_DISPATCHER=external``):

* **Fan-out**: one dispatcher at a time (the cursor row, ``FOR UPDATE SKIP LOCKED``)
  turns newly committed events (below the commit-safe horizon) into one delivery per
  subscribed endpoint whose organisation may see the event.
* **Claim**: due deliveries are marked ``delivering`` with a lease (``FOR UPDATE SKIP
  LOCKED``) and committed *before* any HTTP call: no lock is held over the network. A
  dispatcher that dies mid-delivery leaves a lease that runs out; another takes it.
* **Send**: visibility is checked again (a partnership terminated since the event →
  ``skipped``), then a POST signed per Standard Webhooks 1.0 with the event id as
  ``webhook-id`` (the same on every retry).
* **Result**: 2xx → ``delivered``; 410 → ``failed`` and the endpoint disabled; anything
  else → retried after about 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h (±20 % jitter),
  then ``failed``; an endpoint without success for 5 days is disabled.
* **Wake-up**: ``LISTEN`` on the outbox's and the API's channels (a direct connection:
  not through a transaction pooler), with polling as the fallback.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import socket
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import orjson
from sqlalchemy.engine import make_url

from app.core.db import Database
from app.core.pii import PiiCipher, PiiKeyError
from app.events.models import EVENTS_CHANNEL
from app.events.schemas import EventRead
from app.webhooks import repository, signing, transport
from app.webhooks.models import DeliveryStatus

log = logging.getLogger("berdaya.webhooks")

RETRY_DELAYS_SECONDS = (5, 300, 1800, 7200, 18000, 36000, 36000)
JITTER = 0.2
DISABLE_AFTER_SECONDS = 5 * 24 * 3600
HELD_BACK_RECHECK_SECONDS = 0.2


def retry_delay(attempts: int, rng: random.Random | None = None) -> float | None:
    """Seconds until the next attempt after ``attempts`` failed ones; None: give up."""
    if attempts > len(RETRY_DELAYS_SECONDS):
        return None
    base = RETRY_DELAYS_SECONDS[attempts - 1]
    return base * (rng or random).uniform(1 - JITTER, 1 + JITTER)


def listen_dsn(url: str) -> str:
    """A plain libpq URL for asyncpg's own connection (LISTEN needs a session)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@dataclass(frozen=True)
class Message:
    id: str  # the webhook-id: the event's id (a ping's: its delivery's)
    body: bytes | None
    skip: str | None = None


@dataclass(frozen=True)
class Result:
    row: Any
    values: dict[str, Any]
    outcome: transport.Outcome | None
    skipped: str | None = None
    gone: bool = False


class Dispatcher:
    def __init__(
        self,
        database: Database,
        cipher: PiiCipher,
        *,
        listen_url: str | None,
        allow_insecure: bool,
        lease_seconds: float,
        poll_seconds: float,
        batch: int = 50,
        client: transport.Client | None = None,
    ) -> None:
        self.database = database
        self.cipher = cipher
        self.listen_url = listen_url
        self.allow_insecure = allow_insecure
        self.lease_seconds = lease_seconds
        self.poll_seconds = poll_seconds
        self.batch = batch
        self.owner = f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._client = client
        self._wake = asyncio.Event()
        self._rng = random.Random()  # noqa: S311  (jitter, not a secret)
        self._held_back = False

    # --- the loop ---------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Work until ``stop`` is set: woken by NOTIFY, else every ``poll_seconds``."""
        listener = asyncio.create_task(self._listen(stop))
        try:
            while not stop.is_set():
                try:
                    worked = await self.step()
                except Exception:  # a database hiccup: log, wait, go on
                    log.exception("webhook dispatch step failed")
                    worked = 0
                if worked:
                    continue
                self._wake.clear()
                # Events held back by an older transaction still running: look again
                # soon (its commit sends no NOTIFY of its own if it wrote no event).
                pause = (
                    min(self.poll_seconds, HELD_BACK_RECHECK_SECONDS)
                    if self._held_back
                    else self.poll_seconds
                )
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(pause):
                        await _first(stop, self._wake)
        finally:
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listener
            if self._client is not None:
                await self._client.aclose()
                self._client = None

    async def _listen(self, stop: asyncio.Event) -> None:
        """LISTEN for new events and queued deliveries; reconnect after a loss."""
        if not self.listen_url:
            return
        while not stop.is_set():
            connection: asyncpg.Connection | None = None
            try:
                connection = await asyncpg.connect(listen_dsn(self.listen_url), timeout=10)
                for channel in (EVENTS_CHANNEL, repository.DELIVERIES_CHANNEL):
                    await connection.add_listener(channel, self._notified)
                lost = asyncio.Event()
                connection.add_termination_listener(lambda _, lost=lost: lost.set())
                self._wake.set()  # anything missed while not listening
                await _first(stop, lost)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("webhook dispatcher cannot LISTEN; polling meanwhile")
                await asyncio.sleep(self.poll_seconds)
            finally:
                if connection is not None:
                    with contextlib.suppress(Exception):
                        await connection.close(timeout=2)

    def _notified(self, *_: Any) -> None:
        self._wake.set()

    # --- one step ---------------------------------------------------------------------------

    async def step(self) -> int:
        """Fan out new events, then claim and send one batch; the work done."""
        async with self.database.sessions() as session:
            fanned, self._held_back = await repository.fanout(session)
            await session.commit()
        async with self.database.sessions() as session:
            claimed = await repository.claim(session, self.owner, self.lease_seconds, self.batch)
            await session.commit()
        if claimed:
            messages = await self._messages(claimed)
            results = await asyncio.gather(
                *(self._send(row, message) for row, message in zip(claimed, messages, strict=True))
            )
            await self._record(results)
        return fanned + len(claimed)

    async def drain(self, rounds: int = 50) -> None:
        """Work until nothing is due now (tests and the bench)."""
        for _ in range(rounds):
            if not await self.step():
                return

    async def _messages(self, rows: Sequence[Any]) -> list[Message]:
        """Per claimed delivery: the message id and body, or why it is not sent (whether
        the endpoint's organisation may see the event is checked now, at send time)."""
        event_ids = [r["event_id"] for r in rows if r["event_id"] is not None]
        by_organization: dict[uuid.UUID | None, list[uuid.UUID]] = {}
        for r in rows:
            if r["event_id"] is not None:
                by_organization.setdefault(r["organization_id"], []).append(r["event_id"])
        visible: dict[uuid.UUID | None, set[uuid.UUID]] = {}
        async with self.database.read_sessions() as session:
            events = await repository.events_by_id(session, event_ids)
            for organization_id, ids in by_organization.items():
                visible[organization_id] = await repository.visible_events(
                    session, organization_id, ids
                )
        messages = []
        for r in rows:
            if r["event_id"] is None:  # a ping
                messages.append(Message(str(r["id"]), _json(r["payload"])))
                continue
            event = events.get(r["event_id"])
            types: Sequence[str] = r["event_types"]
            if "*" not in types and r["event_type"] not in types:
                skip = "the endpoint no longer subscribes to this type"
            elif event is None or r["event_id"] not in visible[r["organization_id"]]:
                skip = "the endpoint's organisation may not see it now"
            else:
                body = EventRead.model_validate(event).model_dump_json().encode()
                messages.append(Message(str(event.id), body))
                continue
            messages.append(Message(str(r["event_id"]), None, skip))
        return messages

    async def _send(self, row: Any, message: Message) -> Result:
        if message.body is None:
            values = {"status": DeliveryStatus.skipped.value}
            return Result(row, values, None, message.skip)
        headers = signing.headers(message.id, datetime.now(UTC), message.body, self._secrets(row))
        outcome = await transport.post(
            self._http(), row["url"], headers, message.body, allow_insecure=self.allow_insecure
        )
        return self._settle(row, outcome)

    def _secrets(self, row: Any) -> list[str]:
        secrets = [signing.unseal(self.cipher, row["secret_encrypted"])]
        expires = row["previous_secret_expires_at"]
        if row["previous_secret_encrypted"] and expires and expires > datetime.now(UTC):
            with contextlib.suppress(PiiKeyError):
                secrets.append(signing.unseal(self.cipher, row["previous_secret_encrypted"]))
        return secrets

    def _http(self) -> transport.Client:
        if self._client is None:
            self._client = transport.new_client()
        return self._client

    def _settle(self, row: Any, outcome: transport.Outcome) -> Result:
        now = datetime.now(UTC)
        values: dict[str, Any] = {
            "last_status_code": outcome.status_code,
            "last_error": outcome.error,
            "last_duration_ms": outcome.duration_ms,
            "last_response": outcome.response,
        }
        gone = outcome.status_code == 410
        if outcome.delivered:
            values |= {"status": DeliveryStatus.delivered.value, "delivered_at": now}
        elif gone:
            values |= {"status": DeliveryStatus.failed.value}
        else:
            delay = retry_delay(row["attempts"], self._rng)
            if delay is None:
                values |= {"status": DeliveryStatus.failed.value}
            else:
                values |= {
                    "status": DeliveryStatus.pending.value,
                    "next_attempt_at": now + timedelta(seconds=delay),
                }
        return Result(row, values, outcome, None, gone)

    async def _record(self, results: Sequence[Result]) -> None:
        """Every result of a batch in one transaction (a delivery whose lease another
        dispatcher took meanwhile is left to it)."""
        async with self.database.sessions() as session:
            for result in results:
                outcome = result.outcome
                values = result.values
                attempt = {
                    "at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
                    "status_code": outcome.status_code if outcome else None,
                    "duration_ms": outcome.duration_ms if outcome else 0,
                    "error": outcome.error if outcome else f"skipped: {result.skipped}",
                }
                if result.skipped:
                    values = values | {"last_error": f"skipped: {result.skipped}"[:200]}
                row = result.row
                mine = await repository.finish(session, row["id"], self.owner, values, attempt)
                if not mine or outcome is None:
                    continue
                if outcome.delivered:
                    await repository.endpoint_succeeded(session, row["endpoint_id"])
                else:
                    await repository.endpoint_failed(
                        session,
                        row["endpoint_id"],
                        gone=result.gone,
                        disable_after_seconds=DISABLE_AFTER_SECONDS,
                    )
            await session.commit()


def _json(payload: Any) -> bytes:
    return orjson.dumps(payload)


async def _first(*events: asyncio.Event) -> None:
    """Wait until any of ``events`` is set."""
    waits = [asyncio.ensure_future(e.wait()) for e in events]
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waits:
            w.cancel()


def from_settings(database: Database, cipher: PiiCipher, settings: Any) -> Dispatcher:
    return Dispatcher(
        database,
        cipher,
        # LISTEN needs a session: the direct URL, never a transaction-mode pooler.
        listen_url=getattr(settings, "direct_database_url", None) or settings.database_url,
        allow_insecure=settings.webhook_allow_insecure,
        lease_seconds=settings.webhook_lease_seconds,
        poll_seconds=settings.webhook_poll_seconds,
    )


def start_in_process(
    database: Database, cipher: PiiCipher, settings: Any
) -> Callable[[], Awaitable[None]]:
    """Run a dispatcher beside the API in this process (``berdaya serve``); the returned
    function stops it (at shutdown)."""
    stop = asyncio.Event()
    task = asyncio.create_task(from_settings(database, cipher, settings).run(stop))

    async def stopper() -> None:
        stop.set()
        try:
            async with asyncio.timeout(12):  # an attempt in flight may take up to 10 s
                await task
        except TimeoutError:
            task.cancel()

    return stopper
