"""Pure ASGI middleware: request id, access log, crash guard, body limit, security headers.

Written as raw ASGI (not ``BaseHTTPMiddleware``) so streaming responses stay
streaming and errors raised in any layer below still become problem+json.
"""

from __future__ import annotations

import logging
import re
import secrets
import time
from contextvars import ContextVar
from typing import Any

import orjson
from fastapi import HTTPException
from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.context import request_id_var
from app.core.errors import (
    PROBLEM_MEDIA_TYPE,
    RetryRequest,
    is_database_unavailable,
    is_invalid_data,
    problem_body,
)

access_log = logging.getLogger("berdaya.access")
error_log = logging.getLogger("berdaya.errors")

_SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")

SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"geolocation=(), camera=(), microphone=()"),
]
API_CSP = (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'")
NO_STORE = (b"cache-control", b"no-store")


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return str(value.decode("latin-1"))
    return None


async def _send_problem(send: Send, status: int, path: str, request_id: str, **kw: Any) -> None:
    body = orjson.dumps(problem_body(None, status, path=path, request_id=request_id, **kw))
    headers = [
        (b"content-type", PROBLEM_MEDIA_TYPE.encode()),
        (b"content-length", str(len(body)).encode()),
        (b"x-request-id", request_id.encode()),
    ]
    if status == 503:
        headers.append((b"retry-after", b"2"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class RequestContextMiddleware:
    """Outermost layer: assigns the request id, logs one JSON line, turns crashes into 500s."""

    def __init__(self, app: ASGIApp, *, is_production: bool = False) -> None:
        self.app = app
        self.is_production = is_production

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        supplied = _header(scope, b"x-request-id")
        request_id = (
            supplied if supplied and _SANE_REQUEST_ID.match(supplied) else secrets.token_hex(8)
        )
        scope.setdefault("state", {})["request_id"] = request_id
        token = request_id_var.set(request_id)
        path = scope.get("path", "")
        started = time.perf_counter()
        status_holder = {"status": 500, "started": False}
        is_api = path.startswith("/api/")

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                status_holder["started"] = True
                # Inner layers may have set it already (their own problems): send it once.
                headers = [
                    (k, v) for k, v in message.get("headers", []) if k.lower() != b"x-request-id"
                ]
                headers.append((b"x-request-id", request_id.encode()))
                headers.extend(SECURITY_HEADERS)
                if is_api:
                    headers.append(API_CSP)
                    if not any(k == b"cache-control" for k, _ in headers):
                        headers.append(NO_STORE)
                if self.is_production:
                    headers.append(
                        (b"strict-transport-security", b"max-age=31536000; includeSubDomains")
                    )
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        except Exception as exc:
            if status_holder["started"]:
                error_log.exception("error after the response started")
                raise
            if is_database_unavailable(exc):
                status_holder["status"] = 503
                await _send_problem(
                    send,
                    503,
                    path,
                    request_id,
                    slug="service-unavailable",
                    detail="the database is unavailable; retry shortly",
                )
            elif is_invalid_data(exc):  # e.g. a NUL character PostgreSQL refuses: bad input
                status_holder["status"] = 422
                await _send_problem(
                    send,
                    422,
                    path,
                    request_id,
                    slug="validation-error",
                    detail="a value cannot be stored (NUL character, or out of range)",
                    extra={
                        "errors": [{"loc": [], "message": "invalid value", "type": "value_error"}]
                    },
                )
            else:
                error_log.exception("unhandled error in middleware")
                status_holder["status"] = 500
                await _send_problem(
                    send, 500, path, request_id, slug="internal-error", detail="internal error"
                )
        finally:
            request_id_var.reset(token)
            state = scope.get("state", {})
            access_log.info(
                "request",
                extra={
                    "request_id": request_id,
                    "method": scope.get("method"),
                    "route": state.get("route_template") or _route_template(scope),
                    "status": status_holder["status"],
                    "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                    "principal_id": state.get("principal_id"),
                },
            )


def _route_template(scope: Scope) -> str:
    """The route pattern (``/api/v1/people/{person_id}``), never the concrete path:
    concrete paths could carry identifiers a log reader should not correlate."""
    route = scope.get("route")
    if route is None:
        return "(unmatched)"
    app = scope.get("app")
    # Filled at start-up by the app's lifespan (app.main.route_paths).
    paths: dict[str, str] | None = getattr(getattr(app, "state", None), "route_paths", None)
    template = (paths or {}).get(getattr(route, "name", ""), getattr(route, "path", None))
    return str(template) if template else "(unmatched)"


RETRIED = "retried"  # scope["state"] key set on the second attempt of a request
RETRYABLE_METHODS = frozenset({"GET", "HEAD"})


class RetryOnceMiddleware:
    """Answers a GET again, once, when a layer below raises ``RetryRequest`` before the
    answer started (a cached caller found changed). The second attempt runs on a fresh
    copy of the scope with ``state["retried"]`` set, so nothing is taken from a cache."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in RETRYABLE_METHODS:
            await self.app(scope, receive, send)
            return
        scope.setdefault("state", {})
        before = _snapshot(scope)
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except RetryRequest:
            if started:
                raise
            again = _snapshot(before)
            again["state"][RETRIED] = True
            try:
                await self.app(again, _body_taken(receive), send)
            finally:
                scope.update(again)  # what the access log reads (route, principal)


def _body_taken(receive: Receive) -> Receive:
    """``receive`` for a GET's second attempt: its (empty) body once, as the first attempt
    may have taken it, then the real channel (a streaming answer waits there for the
    client's disconnect: answering "request" forever would spin the event loop)."""
    given = False

    async def again() -> Message:
        nonlocal given
        if not given:
            given = True
            return {"type": "http.request", "body": b"", "more_body": False}
        return await receive()

    return again


def _snapshot(scope: Scope) -> Scope:
    """A copy of the scope as it was, one level deep (layers below fill in its dicts)."""
    return {key: dict(value) if isinstance(value, dict) else value for key, value in scope.items()}


class BodyLimitMiddleware:
    """Rejects request bodies over the limit with 413, by header or while streaming."""

    def __init__(self, app: ASGIApp, *, max_bytes: int, max_batch_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.max_batch_bytes = max_batch_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        limit = self.max_batch_bytes if path.endswith("/batch") else self.max_bytes
        request_id = scope.get("state", {}).get("request_id", "")
        declared = _header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _send_problem(
                send,
                413,
                path,
                request_id,
                slug="payload-too-large",
                detail=f"request body exceeds {limit} bytes",
            )
            return
        received = 0
        response_started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _BodyTooLarge()
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _BodyTooLarge:
            if response_started:
                raise
            await _send_problem(
                send,
                413,
                path,
                request_id,
                slug="payload-too-large",
                detail=f"request body exceeds {limit} bytes",
            )


class _BodyTooLarge(HTTPException):
    """Raised from ``receive``; an HTTPException so FastAPI's body parsing re-raises it."""

    def __init__(self) -> None:
        super().__init__(status_code=413, detail="request body too large")


_cors_path_var: ContextVar[str] = ContextVar("cors_path", default="")


class ProblemCORSMiddleware(CORSMiddleware):
    """Starlette's CORS layer, but a refused preflight is a 400 problem, not plain text."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        token = _cors_path_var.set(str(scope.get("path", "")))
        try:
            await super().__call__(scope, receive, send)
        finally:
            _cors_path_var.reset(token)

    def preflight_response(self, request_headers: Headers) -> Response:
        response = super().preflight_response(request_headers)
        if response.status_code < 400:
            return response
        detail = bytes(response.body).decode("latin-1")
        body = orjson.dumps(
            problem_body(
                None,
                response.status_code,
                slug="cors-rejected",
                detail=detail,
                path=_cors_path_var.get(),
                request_id=request_id_var.get() or "",
            )
        )
        headers = {
            k: v
            for k, v in response.headers.items()
            if k.lower() not in ("content-type", "content-length")
        }
        return Response(
            body,
            status_code=response.status_code,
            media_type=PROBLEM_MEDIA_TYPE,
            headers=headers,
        )
