"""Pure ASGI middleware: request id, access log, crash guard, body limit, security headers.

Written as raw ASGI (not ``BaseHTTPMiddleware``) so streaming responses stay
streaming and errors raised in any layer below still become problem+json.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import secrets
import time
from contextvars import ContextVar
from dataclasses import dataclass, field
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
    database_fault,
    problem_body,
)
from app.core.i18n import M, language_var, negotiate

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


async def _send_problem(
    send: Send,
    status: int,
    path: str,
    request_id: str,
    headers: dict[str, str] | None = None,
    **kw: Any,
) -> None:
    body = orjson.dumps(problem_body(None, status, path=path, request_id=request_id, **kw))
    raw_headers = [
        (b"content-type", PROBLEM_MEDIA_TYPE.encode()),
        (b"content-length", str(len(body)).encode()),
        (b"x-request-id", request_id.encode()),
        (b"content-language", language_var.get().encode()),
    ]
    raw_headers += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
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
        # The language of human text (problems, labels): Accept-Language, English by default.
        lang = negotiate(_header(scope, b"accept-language"))
        lang_token = language_var.set(lang)
        content_language = (b"content-language", lang.encode())
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
                if not any(k.lower() == b"content-language" for k, _ in headers):
                    headers.append(content_language)
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
            fault = database_fault(exc)
            if fault is None:
                error_log.exception("unhandled error in middleware")
                status_holder["status"] = 500
                await _send_problem(
                    send, 500, path, request_id, slug="internal-error", detail=M.internal_error
                )
            else:
                status_holder["status"] = fault.status
                await _send_problem(
                    send,
                    fault.status,
                    path,
                    request_id,
                    fault.headers,
                    slug=fault.slug,
                    detail=fault.detail,
                    extra=fault.extra or None,
                )
        finally:
            request_id_var.reset(token)
            language_var.reset(lang_token)
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
    """Bounds request bodies: their size (413, by header or while streaming), the time
    they take to arrive (408), and who may send more than the normal limit.

    Only an authenticated request to a batch route gets the batch limit. Any other body
    to a ``/batch`` path over the normal limit is refused before it is read: 401 without
    ``Authorization``, 404 when no batch route matches (what the app would answer after
    reading it all).
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_bytes: int,
        max_batch_bytes: int,
        timeout_seconds: float = 10.0,
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.max_batch_bytes = max_batch_bytes
        self.timeout_seconds = timeout_seconds
        self._batch_routes: list[tuple[str, re.Pattern[str]]] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        request_id = scope.get("state", {}).get("request_id", "")
        limit = self.max_bytes
        declared = _header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            refusal = self._over_normal_limit(scope)
            if refusal is None:
                limit = self.max_batch_bytes
            if refusal is not None or int(declared) > limit:
                await _send_refusal(send, path, request_id, refusal or _too_large(limit))
                return
        received = 0
        # JSON bodies are kept until complete, to refuse one that repeats a key.
        json_chunks: list[bytes] | None = [] if _is_json(scope) else None
        deadline: float | None = None
        body_done = False
        response_started = False

        async def limited_receive() -> Message:
            nonlocal received, deadline, body_done, limit
            if body_done:  # later calls wait for the client's disconnect: no bound there
                return await receive()
            if deadline is None:
                deadline = asyncio.get_running_loop().time() + self.timeout_seconds
            try:
                async with asyncio.timeout_at(deadline):
                    message = await receive()
            except TimeoutError:
                raise _BodyRefused(_too_slow(self.timeout_seconds)) from None
            if message["type"] != "http.request":
                body_done = True
                return message
            body_done = not message.get("more_body", False)
            chunk = message.get("body", b"")
            received += len(chunk)
            if received > limit:
                if limit == self.max_bytes:
                    refusal = self._over_normal_limit(scope)
                    if refusal is not None:
                        raise _BodyRefused(refusal)
                    limit = self.max_batch_bytes
                if received > limit:
                    raise _BodyRefused(_too_large(limit))
            if json_chunks is not None:
                json_chunks.append(chunk)
                if body_done and repeats_a_key(b"".join(json_chunks)):
                    raise _BodyRefused(_DUPLICATE_KEYS)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _BodyRefused as exc:
            if response_started:
                raise
            await _send_refusal(send, path, request_id, exc.refusal)

    def _over_normal_limit(self, scope: Scope) -> _Refusal | None:
        """Why a body over the normal limit is refused, or None when the batch limit applies."""
        if not scope.get("path", "").endswith("/batch"):
            return _too_large(self.max_bytes)
        if not self._is_batch_route(scope):
            return _Refusal(404, "not-found", "no such resource or route")
        if _header(scope, b"authorization") is None:
            return _Refusal(
                401,
                "unauthorized",
                "invalid or missing credentials",
                {"WWW-Authenticate": "Bearer"},
            )
        return None

    def _is_batch_route(self, scope: Scope) -> bool:
        if self._batch_routes is None:  # the app's routes are all there by the first request
            self._batch_routes = _find_batch_routes(scope.get("app"))
        path, method = scope.get("path", ""), scope.get("method", "")
        return any(m == method and p.fullmatch(path) for m, p in self._batch_routes)


def _find_batch_routes(app: Any) -> list[tuple[str, re.Pattern[str]]]:
    """(method, path pattern) of every batch operation."""
    return [
        (method, _path_pattern(path))
        for path, methods in _documented_methods(app).items()
        if path.endswith("/batch")
        for method in methods
    ]


_HTTP_METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})


def _documented_methods(app: Any) -> dict[str, set[str]]:
    """Path template -> its methods (upper case), from the app's OpenAPI document (the one
    full list of routes with their prefixes)."""
    openapi = getattr(app, "openapi", None)
    paths: dict[str, Any] = openapi().get("paths", {}) if callable(openapi) else {}
    return {
        path: {method.upper() for method in item if method in _HTTP_METHODS}
        for path, item in paths.items()
    }


def _path_pattern(template: str) -> re.Pattern[str]:
    """``/people/{person_id}`` -> a pattern matching the whole of ``/people/<one segment>``."""
    return re.compile(re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template)))


@dataclass(frozen=True)
class _Refusal:
    status: int
    slug: str
    detail: str
    headers: dict[str, str] = field(default_factory=dict)
    errors: tuple[dict[str, Any], ...] = ()


class _RepeatedKey(ValueError):
    pass


def _refuse_repeats(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise _RepeatedKey
    return obj


def repeats_a_key(body: bytes) -> bool:
    """True when some JSON object in ``body`` has a key twice.

    Python's (and so FastAPI's) parser keeps the last value silently; two readers of the
    same document could then disagree on what it says. Bodies that are not valid JSON are
    left to the normal parser, which reports them."""
    try:
        json.loads(body, object_pairs_hook=_refuse_repeats)
    except _RepeatedKey:
        return True
    except ValueError:  # not JSON, or not UTF-8: FastAPI's own parsing answers it
        return False
    return False


def _is_json(scope: Scope) -> bool:
    content_type = (_header(scope, b"content-type") or "").split(";")[0].strip().lower()
    return content_type == "application/json" or (
        content_type.startswith("application/") and content_type.endswith("+json")
    )


_DUPLICATE_KEYS = _Refusal(
    422,
    "validation-error",
    "the request body is not valid",
    errors=(
        {
            "loc": ["body"],
            "message": "a JSON object in the body has the same key twice",
            "type": "json_duplicate_key",
        },
    ),
)


def _too_large(limit: int) -> _Refusal:
    return _Refusal(413, "payload-too-large", M.body_too_large(limit=limit))


def _too_slow(seconds: float) -> _Refusal:
    # The unread rest of the body leaves the connection unusable: close it.
    return _Refusal(
        408,
        "request-timeout",
        M.body_too_slow(seconds=f"{seconds:g}"),
        {"Connection": "close"},
    )


async def _send_refusal(send: Send, path: str, request_id: str, refusal: _Refusal) -> None:
    await _send_problem(
        send,
        refusal.status,
        path,
        request_id,
        slug=refusal.slug,
        detail=refusal.detail,
        headers=refusal.headers,
        extra={"errors": list(refusal.errors)} if refusal.errors else None,
    )


class _BodyRefused(HTTPException):
    """Raised from ``receive``; an HTTPException so FastAPI's body parsing re-raises it
    (and the app's handler answers it as a problem when it is raised inside the app)."""

    def __init__(self, refusal: _Refusal) -> None:
        super().__init__(refusal.status, detail=refusal.detail, headers=refusal.headers or None)
        self.refusal = refusal
        # Read by the app's HTTPException handler, so the answer is the same either way.
        self.slug = refusal.slug
        self.extra = {"errors": list(refusal.errors)} if refusal.errors else None


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


# Every path answers OPTIONS (here), so it is one of the methods its Allow names. HEAD is
# named where a route has it (Starlette's own GET routes do, FastAPI's do not).
ALWAYS_ALLOWED = ("OPTIONS",)


@dataclass(frozen=True)
class _PathMethods:
    pattern: re.Pattern[str]
    parameters: int
    methods: frozenset[str]


class AllowedMethodsMiddleware:
    """A method a path does not have: 405 with an ``Allow`` naming every method of the
    path; ``OPTIONS``: 204 with that ``Allow``.

    Starlette's own 405 names the methods of the one route it tried (GET of a path whose
    POST is another route), and a fixed path (``/people/lookup``) asked with a method it
    lacks falls through to the template beside it (``/people/{person_id}``: 422 for the
    id). Here a fixed path wins over a template, and among templates the one with the
    fewest parameters (OpenAPI's rule). Only a fixed path is looked up before routing
    (one dict lookup); templates are matched only to answer OPTIONS or to correct a 405.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._fixed: dict[str, frozenset[str]] | None = None
        self._templates: list[_PathMethods] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self._fixed is None:  # every route is there by the first request
            self._read_routes(scope.get("app"))
        assert self._fixed is not None
        method, path = scope["method"], scope.get("path", "")
        allowed = self._fixed.get(path)
        if allowed is None and method == "OPTIONS":
            allowed = self._templated(path)
        if allowed is not None and (method == "OPTIONS" or method not in allowed):
            await self._answer(scope, send, method, allowed)
            return

        async def correcting_send(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 405:
                methods = self._templated(path)
                if methods is not None:
                    headers = [
                        (k, v) for k, v in message.get("headers", []) if k.lower() != b"allow"
                    ]
                    headers.append((b"allow", _allow(methods).encode()))
                    message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, correcting_send)

    def _read_routes(self, app: Any) -> None:
        """Every path and its methods: the OpenAPI document's (the one full list of the
        routes with their prefixes) and the app's own plain routes (docs, schema)."""
        by_path = {path: set(methods) for path, methods in _documented_methods(app).items()}
        for route in getattr(app, "routes", []):
            path, methods = getattr(route, "path", None), getattr(route, "methods", None)
            if path and methods:
                by_path.setdefault(path, set()).update(methods)
        fixed: dict[str, frozenset[str]] = {}
        for path, methods in by_path.items():
            allowed = frozenset(methods | set(ALWAYS_ALLOWED))
            if "{" not in path:
                fixed[path] = allowed
            else:
                self._templates.append(_PathMethods(_path_pattern(path), path.count("{"), allowed))
        self._fixed = fixed

    def _templated(self, path: str) -> frozenset[str] | None:
        """The methods of the most specific template matching ``path``, if any."""
        best: _PathMethods | None = None
        for entry in self._templates:
            if entry.pattern.fullmatch(path) and (
                best is None or entry.parameters < best.parameters
            ):
                best = entry
        return best.methods if best else None

    async def _answer(self, scope: Scope, send: Send, method: str, allowed: frozenset[str]) -> None:
        allow = _allow(allowed)
        if method == "OPTIONS":
            start = {
                "type": "http.response.start",
                "status": 204,
                "headers": [(b"allow", allow.encode())],
            }
            await send(start)
            await send({"type": "http.response.body", "body": b""})
            return
        await _send_problem(
            send,
            405,
            scope.get("path", ""),
            scope.get("state", {}).get("request_id", ""),
            headers={"Allow": allow},
            slug="method-not-allowed",
            detail="Method Not Allowed",
        )


def _allow(methods: frozenset[str]) -> str:
    return ", ".join(sorted(methods))
