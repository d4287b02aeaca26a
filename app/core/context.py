"""Per-request context readable anywhere below the middleware (request id for audit)."""

from __future__ import annotations

from contextvars import ContextVar

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)
