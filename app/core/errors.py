"""RFC 9457 problem details for every error the service answers.

Routes raise ``AppError`` subclasses; the handlers here turn them, validation
errors, framework HTTP errors, database outages and crashes into
``application/problem+json``. ``problem_responses`` documents the same shapes in
OpenAPI so every operation lists its errors.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from http import HTTPStatus
from typing import Any

import asyncpg
import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from app.core.i18n import M, language_var, render, status_title, validation_message

log = logging.getLogger("berdaya.errors")

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_BASE = "https://berdaya.id/problems/"


class ValidationIssue(BaseModel):
    loc: list[str | int]
    message: str = Field(description="In the caller's language (`Accept-Language`: id, en).")
    type: str


class Problem(BaseModel):
    """An RFC 9457 problem document."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "type": PROBLEM_BASE + "not-found",
                    "title": "Not Found",
                    "status": 404,
                    "detail": "community not found",
                    "instance": "/api/v1/communities/0192f5e4-7a1c-7b3e-9a51-6c2d8e4f1a20",
                    "request_id": "3f7c2a9e4b1d4c8a",
                },
                {
                    "type": PROBLEM_BASE + "validation-error",
                    "title": "Data Tidak Dapat Diproses",
                    "status": 422,
                    "detail": "permintaan tidak valid",
                    "instance": "/api/v1/communities",
                    "request_id": "9b2e4c7a1f3d5e60",
                    "errors": [
                        {"loc": ["body", "name"], "message": "Wajib diisi", "type": "missing"}
                    ],
                },
            ]
        }
    )

    type: str = Field(examples=[PROBLEM_BASE + "not-found"])
    title: str = Field(
        examples=["Not Found"], description="In the caller's language (`Accept-Language`)."
    )
    status: int = Field(examples=[404])
    detail: str | None = Field(
        default=None,
        examples=["community not found"],
        description="In the caller's language (`Accept-Language`: id, en; en by default).",
    )
    instance: str | None = Field(default=None, examples=["/api/v1/communities/…"])
    request_id: str | None = Field(default=None, examples=["3f7c2a9e4b1d4c8a"])
    errors: list[ValidationIssue] | None = None
    allowed: list[str] | None = Field(
        default=None, description="For illegal transitions: the moves allowed from here."
    )


class RetryRequest(Exception):
    """The answer was computed on state found stale (a cached caller that changed): the
    request is answered again from the start, once (``app.core.middleware.RetryOnceMiddleware``)."""


class AppError(Exception):
    status: int = 500
    slug: str = "internal-error"
    # A record the refusal must leave although the change it refuses is rolled back (a
    # NIK collision's audit entry inside a sync push): the push writes it in its own
    # transaction after rolling back the mutation's savepoint (app.sync.service._apply).
    after_rollback: Callable[[Any], Awaitable[None]] | None = None

    def __init__(
        self,
        detail: str | None = None,
        *,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.headers = headers or {}
        self.extra = extra or {}


class BadRequest(AppError):
    status, slug = 400, "bad-request"


class Unauthorized(AppError):
    status, slug = 401, "unauthorized"

    def __init__(self, detail: str = M.credentials_missing, **kwargs: Any) -> None:
        kwargs.setdefault("headers", {"WWW-Authenticate": "Bearer"})
        super().__init__(detail, **kwargs)


class Forbidden(AppError):
    status, slug = 403, "forbidden"


class NotFound(AppError):
    status, slug = 404, "not-found"


class Conflict(AppError):
    status, slug = 409, "conflict"


class PreconditionFailed(AppError):
    status, slug = 412, "precondition-failed"


class PayloadTooLarge(AppError):
    status, slug = 413, "payload-too-large"


class Unprocessable(AppError):
    """422 for input that is well-formed but breaks a rule; ``loc`` names the field."""

    status, slug = 422, "validation-error"

    def __init__(self, detail: str, *, loc: Sequence[str | int] | None = None, **kw: Any) -> None:
        if loc is not None:
            kw.setdefault("extra", {})["errors"] = [
                {"loc": list(loc), "message": detail, "type": "value_error"}
            ]
        super().__init__(detail, **kw)


class TooManyRequests(AppError):
    status, slug = 429, "too-many-requests"


class ServiceUnavailable(AppError):
    status, slug = 503, "service-unavailable"


def problem_body(
    request: Request | None,
    status: int,
    *,
    slug: str | None = None,
    detail: str | None = None,
    extra: dict[str, Any] | None = None,
    path: str | None = None,
    request_id: str | None = None,
) -> dict[str, Any]:
    """The problem document; ``title``, ``detail`` and ``errors[].message`` in the request's
    language (``app.core.i18n``), every other field the same in every language."""
    phrase = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
    lang = language_var.get()
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + (slug or phrase.lower().replace(" ", "-")),
        "title": status_title(status, phrase, lang),
        "status": status,
        "detail": render(detail, lang),
        "instance": path if path is not None else (request.url.path if request else None),
        "request_id": request_id
        if request_id is not None
        else (getattr(request.state, "request_id", None) if request else None),
    }
    if extra:
        body.update(extra)
        if isinstance(extra.get("errors"), list):
            body["errors"] = [
                {**issue, "message": render(issue["message"], lang)}
                if isinstance(issue, dict) and "message" in issue
                else issue
                for issue in extra["errors"]
            ]
    return body


def problem_response(
    request: Request | None,
    status: int,
    *,
    slug: str | None = None,
    detail: str | None = None,
    extra: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    body = problem_body(request, status, slug=slug, detail=detail, extra=extra)
    return Response(
        orjson.dumps(body), status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers
    )


def _validation_issues(exc: RequestValidationError) -> list[dict[str, Any]]:
    """Describe what is wrong without echoing the submitted value (it may be a NIK), in the
    request's language."""
    lang = language_var.get()
    issues = []
    for err in exc.errors():
        issues.append(
            {
                "loc": [p for p in err.get("loc", ()) if isinstance(p, str | int)],
                "message": validation_message(err, lang),
                "type": str(err.get("type", "value_error")),
            }
        )
    return issues


def is_database_unavailable(exc: BaseException) -> bool:
    """True for errors that mean 'the database cannot be reached right now'."""
    if isinstance(exc, PoolTimeoutError | InterfaceError | ConnectionError):
        return True
    if isinstance(exc, OperationalError | DBAPIError):
        if getattr(exc, "connection_invalidated", False):
            return True
        orig = getattr(exc, "orig", None)
        cause = getattr(orig, "__cause__", None)
        state = str(getattr(orig, "sqlstate", None) or getattr(cause, "sqlstate", None) or "")
        # 08xxx connection exceptions; 57P01-57P03 admin/crash shutdown, cannot connect now
        if state.startswith("08") or state in ("57P01", "57P02", "57P03"):
            return True
        text = f"{type(orig).__name__} {type(cause).__name__} {orig}".lower()
        return any(
            marker in text
            for marker in (
                "connection",
                "cannotconnectnow",
                "shutdown",
                "shutting down",
                "refused",
                "terminat",
            )
        )
    return isinstance(exc, OSError)


# Transaction rollbacks PostgreSQL chose to break a conflict between concurrent writers:
# nothing of the request was saved, and the same request succeeds when sent again.
_TRANSIENT_STATES = {"40P01", "40001"}  # deadlock_detected, serialization_failure


def is_transient_conflict(exc: BaseException) -> bool:
    """True for a deadlock or serialization failure (raised through SQLAlchemy or by the
    driver): the client retries, so 503 with Retry-After, never 500."""
    return _sqlstate(exc) in _TRANSIENT_STATES


def _sqlstate(exc: BaseException) -> str | None:
    if isinstance(exc, asyncpg.PostgresError):
        return str(exc.sqlstate)
    if not isinstance(exc, DBAPIError):
        return None
    orig = getattr(exc, "orig", None)
    state = getattr(orig, "sqlstate", None) or getattr(
        getattr(orig, "__cause__", None), "sqlstate", None
    )
    return None if state is None else str(state)


# SQLSTATEs of class 22 (data exception) that only bad input causes.
_INVALID_DATA_STATES = {
    "22021",  # character_not_in_repertoire (NUL in text)
    "22P05",  # untranslatable_character
    "22003",  # numeric_value_out_of_range
    "22008",  # datetime_field_overflow
    "22007",  # invalid_datetime_format
    "22001",  # string_data_right_truncation
}


def is_invalid_data(exc: BaseException) -> bool:
    """True for database errors caused by a value the client sent (raised through
    SQLAlchemy, or by the driver for statements run on it: ``app.core.db.driver_fetch``)."""
    if isinstance(exc, asyncpg.exceptions.DataError):  # a value the driver cannot encode
        return True
    return _sqlstate(exc) in _INVALID_DATA_STATES


def database_fault(exc: BaseException) -> AppError | None:
    """The answer to a database error that escaped a route (here, or in the outermost
    middleware when it escaped the request's session); None: a bug, answered 500.

    * a value PostgreSQL refused that the schema let through (a NUL character in text, a
      number or date out of range): the client's input, 422;
    * a deadlock or serialization failure: nothing was saved and the same request will
      succeed, 503 with Retry-After 1;
    * the database out of reach (down, restarting, the pool exhausted): 503, Retry-After 2.
    """
    if is_invalid_data(exc):
        invalid = [{"loc": [], "message": M.invalid_value, "type": "value_error"}]
        return Unprocessable(M.value_unstorable, extra={"errors": invalid})
    if is_transient_conflict(exc):
        log.warning("transaction rolled back by the database: %s", _sqlstate(exc))
        return ServiceUnavailable(M.concurrent_write, headers={"Retry-After": "1"})
    if is_database_unavailable(exc):
        log.warning("database unavailable: %s", type(exc).__name__)
        return ServiceUnavailable(M.database_unavailable, headers={"Retry-After": "2"})
    return None


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(AppError)
    async def _app_error(request: Request, exc: AppError) -> Response:
        return problem_response(
            request,
            exc.status,
            slug=exc.slug,
            detail=exc.detail,
            extra=exc.extra,
            headers=exc.headers,
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        return problem_response(
            request,
            422,
            slug="validation-error",
            detail=M.request_invalid,
            extra={"errors": _validation_issues(exc)},
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        detail = exc.detail if isinstance(exc.detail, str) else None
        if exc.status_code == 400 and detail == "There was an error parsing the body":
            # A body that is not decodable at all (e.g. invalid UTF-8) is invalid input like
            # malformed JSON: 422, as every operation documents.
            return problem_response(
                request,
                422,
                slug="validation-error",
                detail=M.body_unparsable,
                extra={
                    "errors": [
                        {
                            "loc": ["body"],
                            "message": M.body_invalid,
                            "type": "body_invalid",
                        }
                    ]
                },
            )
        if exc.status_code == 404 and detail == "Not Found":
            detail = M.no_such_route
        return problem_response(
            request,
            exc.status_code,
            slug=getattr(exc, "slug", None),
            detail=detail,
            extra=getattr(exc, "extra", None),
            headers=dict(exc.headers or {}),
        )

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception) -> Response:
        fault = database_fault(exc)
        if fault is None:
            log.exception("unhandled error")
            return problem_response(request, 500, slug="internal-error", detail=M.internal_error)
        return problem_response(
            request,
            fault.status,
            slug=fault.slug,
            detail=fault.detail,
            extra=fault.extra,
            headers=fault.headers,
        )


_STATUS_DESCRIPTIONS = {
    400: "Bad request",
    401: "Missing, invalid or expired credentials",
    403: "The caller may see this thing but not do this",
    404: "Not found, or outside the caller's scope",
    409: "Conflicts with the current state (duplicate, illegal transition, in-flight key)",
    412: "If-Match does not match the current ETag (a PUT's problem carries `current`)",
    410: "Gone (a sync cursor older than the kept change log: sync again from the start)",
    428: "The resource exists: a PUT must say If-Match or If-None-Match: *",
    413: "Request body too large",
    422: "Invalid input; `errors` names each field",
    429: "Too many requests; see Retry-After",
    503: "Database unavailable, or a deadlock broken (nothing saved); retry after Retry-After",
}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for the given error statuses (plus 503 and 500)."""
    documented: dict[int | str, dict[str, Any]] = {}
    for status in (*statuses, 503):
        documented[status] = {
            "model": Problem,
            "description": _STATUS_DESCRIPTIONS.get(status, HTTPStatus(status).phrase),
            "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
    return documented
