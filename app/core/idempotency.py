"""``Idempotency-Key`` for every POST, stored in PostgreSQL so it holds across workers.

The key is scoped to the caller (the verified token's subject) and kept for
``idempotency_ttl_seconds``. First use claims the key (``INSERT ... ON CONFLICT
DO NOTHING``) and runs the request; the response is stored when it succeeds or
fails with a 4xx. A replay with the same body returns the stored response and
creates nothing; the same key with another body is a 422; a replay while the
first is still running is a 409. A 5xx, 408 or 429 releases the key so the client may retry.
A successful answer marked ``Cache-Control: no-store`` (personal data, a client secret
shown once) is not stored: its replay is a 409.
Anonymous POSTs (the token endpoint) are not covered: there is no caller to scope to.
The caller is authenticated in full (``app.state.authenticate``, wired by ``create_app``
from ``app.auth``) before anything is claimed or answered from the store: a disabled or
logged-out caller gets the route's 401, never a stored answer.
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import DateTime, Integer, LargeBinary, and_, delete, func, select, update
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlmodel import Field, SQLModel
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.errors import PROBLEM_MEDIA_TYPE, problem_body

KEY_PATTERN = re.compile(r"^[\x21-\x7e]{1,255}$")
REPLAYED_HEADERS = {b"content-type", b"location", b"etag"}
# Answers that say "try again later" free the key like a 5xx: replaying them would keep
# the client waiting after the wait is over.
RETRYABLE = {408, 429}


class IdempotencyKey(SQLModel, table=True):
    __tablename__ = "idempotency_keys"

    owner: str = Field(primary_key=True, max_length=64)
    key: str = Field(primary_key=True, max_length=255)
    request_hash: str = Field(max_length=64, nullable=False)
    state: str = Field(max_length=10, nullable=False)  # running | done
    status_code: int | None = Field(default=None, sa_type=Integer, nullable=True)
    response_body: bytes | None = Field(default=None, sa_type=LargeBinary, nullable=True)
    response_headers: list[Any] | None = Field(default=None, sa_type=JSONB, nullable=True)
    created_at: datetime = Field(
        sa_type=DateTime(timezone=True),
        nullable=False,
        index=True,
        sa_column_kwargs={"server_default": func.now()},
    )


_table = IdempotencyKey.__table__  # type: ignore[attr-defined]


class IdempotencyMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") != "POST":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers", []))
        raw_key = headers.get(b"idempotency-key")
        auth = headers.get(b"authorization", b"").decode("latin-1")
        if raw_key is None or not auth.lower().startswith("bearer "):
            await self.app(scope, receive, send)
            return
        asgi_app = scope["app"]
        owner = await asgi_app.state.authenticate(auth[7:].strip())
        if owner is None:  # not (or no longer) a valid caller: let the route answer 401
            await self.app(scope, receive, send)
            return
        key = raw_key.decode("latin-1")
        path = scope.get("path", "")
        request_id = scope.get("state", {}).get("request_id", "")
        if not KEY_PATTERN.match(key):
            await _problem(
                send,
                422,
                path,
                request_id,
                "Idempotency-Key must be 1-255 visible ASCII characters",
            )
            return

        body = await _read_body(receive)
        digest = hashlib.sha256(
            b"\n".join([path.encode(), scope.get("query_string", b""), body])
        ).hexdigest()
        engine = asgi_app.state.database.engine
        ttl = asgi_app.state.settings.idempotency_ttl_seconds

        async with engine.begin() as conn:
            await conn.execute(
                delete(_table).where(
                    _table.c.owner == owner,
                    _table.c.key == key,
                    _table.c.created_at < datetime.now(UTC) - timedelta(seconds=ttl),
                )
            )
            claimed = await conn.execute(
                insert(_table)
                .values(owner=owner, key=key, request_hash=digest, state="running")
                .on_conflict_do_nothing()
                .returning(_table.c.key)
            )
            won = claimed.first() is not None
            existing = None
            if not won:
                existing = (
                    await conn.execute(
                        select(_table).where(_table.c.owner == owner, _table.c.key == key)
                    )
                ).first()

        if not won:
            if existing is None:  # expired and deleted between our statements: rare; retry
                await _problem(
                    send, 409, path, request_id, "the Idempotency-Key is being reset; retry"
                )
            elif existing.request_hash != digest:
                await _problem(
                    send,
                    422,
                    path,
                    request_id,
                    "this Idempotency-Key was used with a different request",
                )
            elif existing.state == "done" and existing.response_body is None:
                await _problem(
                    send,
                    409,
                    path,
                    request_id,
                    "the first request with this Idempotency-Key succeeded; its answer held "
                    "personal data or a secret shown once, which is never stored for replay",
                )
            elif existing.state != "done":
                await _problem(
                    send,
                    409,
                    path,
                    request_id,
                    "a request with this Idempotency-Key is still in progress",
                )
            else:
                replay = [(k.encode(), v.encode()) for k, v in existing.response_headers or []]
                replay.append((b"idempotent-replayed", b"true"))
                await send(
                    {
                        "type": "http.response.start",
                        "status": existing.status_code,
                        "headers": replay,
                    }
                )
                await send({"type": "http.response.body", "body": existing.response_body or b""})
            return

        captured: dict[str, Any] = {"status": 500, "headers": [], "body": []}
        delivered = False

        async def replay_receive() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        async def capture_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                captured["status"] = message["status"]
                captured["secret"] = message["status"] < 300 and any(
                    k.lower() == b"cache-control" and b"no-store" in v.lower()
                    for k, v in message.get("headers", [])
                )
                captured["headers"] = [
                    (k.decode("latin-1"), v.decode("latin-1"))
                    for k, v in message.get("headers", [])
                    if k.lower() in REPLAYED_HEADERS
                ]
            elif message["type"] == "http.response.body":
                captured["body"].append(message.get("body", b""))
            await send(message)

        completed = False
        try:
            await self.app(scope, replay_receive, capture_send)
            completed = True
        finally:
            where = and_(_table.c.owner == owner, _table.c.key == key)
            async with engine.begin() as conn:
                if completed and captured["status"] < 500 and captured["status"] not in RETRYABLE:
                    await conn.execute(
                        update(_table)
                        .where(where)
                        .values(
                            state="done",
                            status_code=captured["status"],
                            # A successful no-store answer (a secret shown once) is never
                            # kept: its replay says so instead of repeating the secret.
                            response_body=None
                            if captured.get("secret")
                            else b"".join(captured["body"]),
                            response_headers=captured["headers"],
                        )
                    )
                else:
                    await conn.execute(delete(_table).where(where))


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.request":
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        elif message["type"] == "http.disconnect":
            break
    return b"".join(chunks)


async def _problem(send: Send, status: int, path: str, request_id: str, detail: str) -> None:
    body = orjson.dumps(
        problem_body(
            None,
            status,
            path=path,
            request_id=request_id,
            detail=detail,
            slug="idempotency-" + ("conflict" if status == 409 else "mismatch"),
        )
    )
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", PROBLEM_MEDIA_TYPE.encode()),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
