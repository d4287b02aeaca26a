"""Conditional PUT with client-made ids (API.md §6), written once for every PUT route and
for the sync push.

* ``If-None-Match: *`` creates. Repeating the same body for the same id answers the
  resource as it is (200, nothing new); another body for a taken id is a 412.
* ``If-Match: "<etag>"`` replaces; a stale ETag is a 412 whose problem carries the
  caller's representation of the row in ``current``.
* An existing row and neither header: 428. No row and no header: a create.

The push maps a mutation onto the same rules: no ``base_version`` is a create,
``base_version`` an ``If-Match`` of that version.

"The same body" is the digest of the validated create body (with the path's parent
ids), kept per created row in ``put_creations``.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

import orjson
from fastapi import Header, Request, Response
from pydantic import BeforeValidator, WithJsonSchema
from sqlalchemy import DateTime, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field, SQLModel

from app.core.deferred import defer, waiting
from app.core.errors import AppError, PreconditionFailed, problem_responses
from app.core.http import etag_of, model_response
from app.core.i18n import M


class PreconditionRequired(AppError):
    status, slug = 428, "precondition-required"


class PutCreation(SQLModel, table=True):
    """The digest of the body that created a row through PUT (or a sync push)."""

    __tablename__ = "put_creations"

    resource: str = Field(primary_key=True, max_length=40)
    id: uuid.UUID = Field(primary_key=True)
    body_digest: str = Field(max_length=64, nullable=False)
    created_at: datetime = Field(
        sa_type=DateTime(timezone=True),
        nullable=False,
        sa_column_kwargs={"server_default": func.now()},
    )


class PutOutcome(StrEnum):
    created = "created"  # 201
    unchanged = "unchanged"  # 200: the same create again
    replaced = "replaced"  # 200


@dataclass(frozen=True)
class Condition:
    """What the client asserted about the row it writes."""

    create_only: bool = False
    match: tuple[str, ...] | None = None

    @classmethod
    def from_request(cls, request: Request) -> Condition:
        none_match = request.headers.get("if-none-match", "").strip() or None
        if_match = request.headers.get("if-match", "").strip() or None
        if none_match is not None and none_match.strip() != "*":
            raise PreconditionFailed(M.put_none_match_star_only)
        match = None
        if if_match is not None:
            match = tuple(p.strip() for p in if_match.split(",") if p.strip())
        return cls(create_only=none_match is not None, match=match)

    @classmethod
    def from_base_version(cls, base_version: int | None) -> Condition:
        if base_version is None:
            return cls(create_only=True)
        return cls(match=(etag_of(base_version),))


def body_digest(parent: Mapping[str, Any], body: Any) -> str:
    """A stable digest of a validated body (pydantic model) and its path's parent ids."""
    payload = {
        "parent": {k: str(v) for k, v in parent.items()},
        "body": body.model_dump(mode="json"),
    }
    return hashlib.sha256(orjson.dumps(payload, option=orjson.OPT_SORT_KEYS)).hexdigest()


async def decide(
    session: AsyncSession,
    condition: Condition,
    resource: str,
    item_id: uuid.UUID,
    existing_version: int | None,
    digest: str,
    current: Callable[[], Awaitable[dict[str, Any]]],
) -> PutOutcome:
    """Apply the rules above to a row the caller sees (``existing_version``) or that does
    not exist (None); raises 412/428. The caller creates or replaces on the outcome."""
    if existing_version is None:
        if condition.match is not None:
            raise PreconditionFailed(M.put_nothing_to_match)
        return PutOutcome.created
    if condition.create_only:
        stored = next(
            (
                row["body_digest"]
                for row in waiting(session, PutCreation.__table__)  # type: ignore[attr-defined]
                if row["resource"] == resource and row["id"] == item_id
            ),
            None,
        ) or await session.scalar(
            select(PutCreation.body_digest).where(
                PutCreation.resource == resource, PutCreation.id == item_id
            )
        )
        if stored == digest:
            return PutOutcome.unchanged
        raise PreconditionFailed(
            M.put_id_taken_other_body,
            headers={"ETag": etag_of(existing_version)},
            extra={"current": await current()},
        )
    if condition.match is None:
        raise PreconditionRequired(
            M.put_precondition_required,
            headers={"ETag": etag_of(existing_version)},
        )
    if "*" in condition.match or etag_of(existing_version) in {
        m.removeprefix("W/") for m in condition.match
    }:
        return PutOutcome.replaced
    raise PreconditionFailed(
        M.put_stale,
        headers={"ETag": etag_of(existing_version)},
        extra={"current": await current()},
    )


async def remember_creation(
    session: AsyncSession, resource: str, item_id: uuid.UUID, digest: str
) -> None:
    """Kept with the row, written at commit with the transaction's other creations."""
    await defer(
        session,
        PutCreation.__table__,  # type: ignore[attr-defined]
        {"resource": resource, "id": item_id, "body_digest": digest},
        skip_conflict=True,
    )


async def forget_creation(session: AsyncSession, resource: str, item_id: uuid.UUID) -> None:
    """The row's data is gone (an erasure): so is the digest of the body that created it,
    which would otherwise confirm a guess of that body."""
    await session.execute(
        delete(PutCreation).where(PutCreation.resource == resource, PutCreation.id == item_id)
    )


class IdRetired(PreconditionFailed):
    """The id names a row whose data is gone for good (an erased person): a create with it
    is a 412 that carries nothing of the row, whatever the body."""


def taken_elsewhere() -> PreconditionFailed:
    """The id names a row the caller cannot see or that was deleted: never reusable."""
    return PreconditionFailed(M.put_id_taken)


async def id_taken(session: AsyncSession, model: Any, item_id: uuid.UUID) -> bool:
    """Whether any row (deleted, or outside the caller's scope) already has this id."""
    found = await session.scalar(select(model.id).where(model.id == item_id))
    return found is not None


async def ids_taken(session: AsyncSession, model: Any, item_ids: list[uuid.UUID]) -> set[uuid.UUID]:
    """``id_taken`` for many ids in one query."""
    found = await session.scalars(select(model.id).where(model.id.in_(item_ids)))
    return set(found)


def replacement(update_cls: type[Any], body: Any, *, write_only: tuple[str, ...] = ()) -> Any:
    """The full replacement a PUT body (a validated create schema) makes, as the resource's
    merge-patch model: every field of the create body that the patch model knows; a
    ``write_only`` field (a NIK a device only holds masked) changes only when given."""
    values = {
        name: value
        for name, value in body.model_dump().items()
        if name in update_cls.model_fields
        and (name not in write_only or name in body.model_fields_set)
    }
    return update_cls.model_construct(_fields_set=set(values), **values)


async def conditional_put(
    session: AsyncSession,
    condition: Condition,
    *,
    resource: str,
    model: Any,
    item_id: uuid.UUID,
    digest: str,
    load: Callable[[], Awaitable[Any | None]],
    present: Callable[[Any], Awaitable[dict[str, Any]]],
    create: Callable[[], Awaitable[Any]],
    replace: Callable[[Any], Awaitable[None]],
    by_id: bool = True,
) -> tuple[PutOutcome, Any]:
    """The one PUT flow: ``load`` answers the caller's visible live row (locked) or None;
    ``create`` makes the row with ``item_id``; ``replace`` applies the body to a row.

    ``by_id``: the row is the one with ``item_id`` (an id nobody holds needs no lookup in
    the caller's scope: a create costs one query less); else ``load`` finds it otherwise
    (a ballot by its voter)."""
    if by_id and not await id_taken(session, model, item_id):
        existing = None
    else:
        existing = await load()
        if existing is None and by_id:
            raise taken_elsewhere()
    outcome = await decide(
        session,
        condition,
        resource,
        item_id,
        None if existing is None else existing.version,
        digest,
        lambda: present(existing),
    )
    if outcome is PutOutcome.created:
        entity = await create()
        await remember_creation(session, resource, entity.id, digest)
        return outcome, entity
    if outcome is PutOutcome.replaced:
        await replace(existing)
    return outcome, existing


PUT_DESCRIPTION = (
    "Who may call it: the roles and scope of the resource's POST and PATCH. "
    "Create or replace with a client-made id (UUID v7 preferred; offline-first clients, "
    "API.md §6). `If-None-Match: *` creates (201); the same id with the same body again "
    "answers 200 and creates nothing; another body for a taken id is 412. "
    '`If-Match: "<etag>"` replaces every field of the body (200); a stale ETag is 412 whose '
    "problem carries the current representation in `current`. On an existing resource "
    "without either header: 428. Every rule, scope and audit of the create and of the "
    "update applies."
)

# An empty value is as good as no header.
ETAGS_PATTERN = r'^ *(\*|(W/)?"[0-9]{1,10}"( *, *(W/)?"[0-9]{1,10}")*)? *$'
STAR_PATTERN = r"^ *\*? *$"


def _trimmed(value: Any) -> Any:
    """Surrounding whitespace is no part of a header's value (RFC 9110 §5.5)."""
    return value.strip() if isinstance(value, str) else value


# Headers are text or absent, never null: the schema says so (a fuzzer sends "null").
IfMatchHeader = Annotated[
    str | None,
    BeforeValidator(_trimmed),
    Header(
        alias="If-Match",
        pattern=ETAGS_PATTERN,
        description='Replace: the ETag read before, e.g. `"3"`',
        examples=['"3"'],
    ),
    WithJsonSchema({"type": "string", "pattern": ETAGS_PATTERN, "examples": ['"3"']}),
]
IfNoneMatchHeader = Annotated[
    str | None,
    BeforeValidator(_trimmed),
    Header(alias="If-None-Match", pattern=STAR_PATTERN, description="Create: `*`", examples=["*"]),
    WithJsonSchema({"type": "string", "pattern": STAR_PATTERN, "examples": ["*"]}),
]


def put_responses(read_model: type[Any], *statuses: int) -> dict[int | str, dict[str, Any]]:
    """The documented answers of a PUT: 200, 201 and the problems (412, 428 included)."""
    return {
        201: {"model": read_model, "description": "Created with the client's id"},
        **problem_responses(*statuses, 412, 428),
    }


def put_response(
    request: Request,
    outcome: PutOutcome,
    model: Any,
    *,
    version: int,
    location: str,
    headers: dict[str, str] | None = None,
) -> Response:
    created = outcome is PutOutcome.created
    return model_response(
        request,
        model,
        version=version,
        status_code=201 if created else 200,
        headers={**(headers or {}), **({"Location": location} if created else {})},
    )
