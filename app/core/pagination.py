"""Keyset pagination: opaque cursors, ``sort``, ``updated_since`` and ``Link`` headers.

A cursor carries the sort key, the last row's (sort value, id) and a digest of
the filters it was made with, so a cursor replayed with other filters is
refused (422) instead of silently paging a different result. Pages are fetched
with ``WHERE (sort_col, id) > (:v, :id) ORDER BY sort_col, id LIMIT n+1``: no
offsets, stable while rows are inserted.
"""

from __future__ import annotations

import base64
import hashlib
import inspect
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Generic, Literal, TypeVar

import orjson
from fastapi import Query, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    String,
    TypeDecorator,
    and_,
    bindparam,
    or_,
    tuple_,
)
from sqlalchemy.orm import InstrumentedAttribute

from app.core.errors import Unprocessable
from app.core.fastpath import fetch_page
from app.core.i18n import M
from app.core.timestamps import AwareTimestamp

T = TypeVar("T")

DEFAULT_LIMIT = 50
MAX_LIMIT = 500
# Cursors are unpadded URL-safe base64 (``_make_cursor``); empty means the first page.
CURSOR_PATTERN = r"^[A-Za-z0-9_-]*$"


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(
        default=None, description="Opaque; pass as `cursor` to get the next page. Null at the end."
    )


@dataclass(frozen=True)
class ListParams:
    """The query parameters every list accepts."""

    limit: int
    cursor: str | None
    sort: str | None
    updated_since: datetime | None


async def list_params(
    limit: int = Query(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT, description="Page size (1-500)."),
    cursor: str | None = Query(
        None,
        pattern=CURSOR_PATTERN,
        description="Opaque cursor from `next_cursor`, valid with the filters and sort it was "
        "made with.",
    ),
    sort: str | None = Query(
        None, description="`field` or `-field`; allowed fields are listed per resource."
    ),
    updated_since: AwareTimestamp | None = Query(
        None, description="Only rows updated at or after this RFC 3339 time."
    ),
) -> ListParams:
    # async although it awaits nothing: FastAPI runs plain-def dependencies in a thread.
    return ListParams(limit=limit, cursor=cursor, sort=sort, updated_since=updated_since)


def _encode_value(value: Any) -> Any:
    if isinstance(value, datetime | date | uuid.UUID):
        return value.isoformat() if not isinstance(value, uuid.UUID) else str(value)
    return value


def _decode_value(raw: Any, python_type: type) -> Any:
    if raw is None:
        return None
    if python_type is datetime:
        return datetime.fromisoformat(raw)
    if python_type is date:
        return date.fromisoformat(raw)
    if python_type is uuid.UUID:
        return uuid.UUID(raw)
    if python_type is int:
        if not isinstance(raw, int) or isinstance(raw, bool):
            raise ValueError("not an integer")
        return raw
    if python_type is float:
        return float(raw)
    if python_type is str:
        if not isinstance(raw, str):
            raise ValueError("not a string")
        return raw
    raise ValueError("unsupported cursor type")


def filter_digest(filters: Mapping[str, Any]) -> str:
    canonical = orjson.dumps(
        {k: _encode_value(v) for k, v in sorted(filters.items()) if v is not None},
        default=str,
    )
    return hashlib.sha256(canonical).hexdigest()[:16]


@dataclass(frozen=True)
class Keyset:
    """How one resource may be sorted: public field name -> column. ``id`` breaks ties."""

    columns: Mapping[str, InstrumentedAttribute[Any]]
    id_column: InstrumentedAttribute[Any]
    default: str = "created_at"

    @property
    def documented(self) -> str:
        return ", ".join(sorted(self.columns))

    @property
    def sorts(self) -> tuple[str, ...]:
        """Every accepted ``sort`` value: each field, ascending and descending."""
        return tuple(value for field in sorted(self.columns) for value in (field, f"-{field}"))


def list_params_for(keyset: Keyset) -> Callable[..., Awaitable[ListParams]]:
    """``list_params`` with ``sort`` limited to the keyset's fields: an enum in the OpenAPI
    document (clients can check it before sending), a 422 naming the allowed values."""
    base = inspect.signature(list_params, eval_str=True)
    sort = base.parameters["sort"].replace(
        annotation=Literal[keyset.sorts] | None,
        default=Query(
            None,
            description=f"`field` (ascending) or `-field` (descending); default {keyset.default}.",
        ),
    )

    async def sorted_list_params(**values: Any) -> ListParams:
        return ListParams(**values)

    sorted_list_params.__signature__ = base.replace(  # type: ignore[attr-defined]
        parameters=[sort if p.name == "sort" else p for p in base.parameters.values()]
    )
    return sorted_list_params


PAGE_LIMIT = "page_limit"  # the bound parameter of LIMIT in kept page statements


async def paginate(
    session: Any,
    stmt: Select[Any],
    *,
    keyset: Keyset,
    params: ListParams,
    filters: Mapping[str, Any],
    conditions: Sequence[ColumnElement[bool]] = (),
    updated_column: InstrumentedAttribute[Any] | None = None,
    kept: bool = False,
) -> tuple[Sequence[Any], str | None]:
    """Run ``stmt`` with ``conditions`` one page at a time; the rows and the next cursor.

    A ``kept`` statement (built once by the caller and reused) runs on the driver through
    ``fetch_page``: compiled once per shape, rows as read-only views. Otherwise the page
    runs on the session (rows of one element unwrapped)."""
    sort = params.sort or keyset.default
    descending = sort.startswith("-")
    field = sort.lstrip("-")
    if field not in keyset.columns:
        raise Unprocessable(M.sort_not_allowed(allowed=keyset.documented), loc=["query", "sort"])
    column = keyset.columns[field]
    digest = filter_digest({**filters, "updated_since": params.updated_since, "sort": sort})
    conditions = list(conditions)

    if params.updated_since is not None and updated_column is not None:
        conditions.append(updated_column >= params.updated_since)

    if params.cursor:
        last_value, last_id = _read_cursor(params.cursor, sort, digest, column)
        if descending:
            conditions.append(
                or_(column < last_value, and_(column == last_value, keyset.id_column < last_id))
            )
        else:
            conditions.append(tuple_(column, keyset.id_column) > tuple_(last_value, last_id))

    order = (column.desc(), keyset.id_column.desc()) if descending else (column, keyset.id_column)
    items: Sequence[Any]
    if kept:
        items = await fetch_page(
            session,
            stmt,
            lambda base: base.order_by(*order).limit(bindparam(PAGE_LIMIT, type_=Integer)),
            conditions,
            {PAGE_LIMIT: params.limit + 1},
            shape=sort,
        )
    else:
        stmt = stmt.where(*conditions).order_by(*order).limit(params.limit + 1)
        items = [row[0] if len(row) == 1 else row for row in (await session.execute(stmt)).all()]
    next_cursor = None
    if len(items) > params.limit:
        items = items[: params.limit]
        last = items[-1]
        next_cursor = _make_cursor(
            sort, digest, getattr(last, column.key), getattr(last, keyset.id_column.key)
        )
    return items, next_cursor


def _python_type(column: InstrumentedAttribute[Any]) -> type:
    """The Python type of a sort column; SQLModel's string type reports ``object``."""
    sql_type = column.type
    if isinstance(sql_type, TypeDecorator):
        sql_type = sql_type.impl_instance
    if isinstance(sql_type, String):
        return str
    python_type: type = sql_type.python_type
    return python_type


def _make_cursor(sort: str, digest: str, value: Any, row_id: Any) -> str:
    payload = orjson.dumps({"s": sort, "f": digest, "v": _encode_value(value), "i": str(row_id)})
    return base64.urlsafe_b64encode(payload).decode().rstrip("=")


def _read_cursor(
    cursor: str, sort: str, digest: str, column: InstrumentedAttribute[Any]
) -> tuple[Any, uuid.UUID]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = orjson.loads(base64.urlsafe_b64decode(padded.encode()))
        value = _decode_value(data["v"], _python_type(column))
        row_id = uuid.UUID(data["i"])
        cursor_sort, cursor_digest = data["s"], data["f"]
    except Exception as exc:
        raise Unprocessable(M.cursor_invalid, loc=["query", "cursor"]) from exc
    if cursor_sort != sort or cursor_digest != digest:
        raise Unprocessable(
            M.cursor_other_filters,
            loc=["query", "cursor"],
        )
    if value is None:
        raise Unprocessable(M.cursor_invalid, loc=["query", "cursor"])
    return value, row_id


def set_link_header(request: Request, response: Response, next_cursor: str | None) -> None:
    if next_cursor:
        url = request.url.include_query_params(cursor=next_cursor)
        response.headers["Link"] = f'<{url}>; rel="next"'
