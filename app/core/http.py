"""ETags and conditional requests, plus the JSON response every single-resource route uses.

The ETag is the row's ``version`` (bumped on every write), so a writer can
compare it inside the locked row and lose no update: the check and the write
happen under ``SELECT ... FOR UPDATE``.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request, Response
from pydantic import BaseModel

from app.core.errors import PreconditionFailed
from app.core.i18n import M


def etag_of(version: int) -> str:
    return f'"{version}"'


def _etag_list(header: str) -> list[str]:
    return [part.strip().removeprefix("W/") for part in header.split(",") if part.strip()]


def check_if_match(request: Request, version: int) -> None:
    """412 when ``If-Match`` is present and names no current version (strong comparison)."""
    header = request.headers.get("if-match")
    if header is None:
        return
    current = etag_of(version)
    candidates = [part.strip() for part in header.split(",") if part.strip()]
    if "*" in candidates or current in candidates:
        return
    raise PreconditionFailed(
        M.resource_changed,
        headers={"ETag": current},
    )


def model_response(
    request: Request,
    model: BaseModel,
    *,
    version: int | None = None,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    """Serialise with pydantic (fast, exact schema); add ETag and answer 304 when it matches."""
    all_headers = dict(headers or {})
    if version is not None:
        etag = etag_of(version)
        all_headers["ETag"] = etag
        if status_code == 200 and request.method == "GET":
            none_match = request.headers.get("if-none-match")
            if none_match and (none_match.strip() == "*" or etag in _etag_list(none_match)):
                return Response(status_code=304, headers=all_headers)
    return Response(
        model.model_dump_json().encode(),
        status_code=status_code,
        media_type="application/json",
        headers=all_headers,
    )


def json_bytes_response(body: bytes, status_code: int = 200, **kw: Any) -> Response:
    return Response(body, status_code=status_code, media_type="application/json", **kw)
