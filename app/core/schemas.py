"""Base classes of wire schemas, and the value types whose wire rules JSON Schema states."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from types import UnionType
from typing import Annotated, Any, ClassVar, Union, get_args, get_origin

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    Strict,
)
from pydantic.fields import FieldInfo
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import PydanticCustomError, core_schema

from app.core.errors import Unprocessable
from app.core.i18n import M, custom_error

_DATE_TEXT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)


def _date_text(value: Any) -> Any:
    """Only ``YYYY-MM-DD`` (pydantic alone reads ``0`` or ``"0"`` as 1970-01-01)."""
    if value is None or isinstance(value, date):  # absent, or parsed already
        return value
    if not isinstance(value, str) or not _DATE_TEXT.fullmatch(value):
        raise custom_error(M.date_format)
    return value


IsoDate = Annotated[date, BeforeValidator(_date_text)]
"""A calendar date as its JSON Schema ``format: date`` says: ``YYYY-MM-DD`` text only."""


def _is_type(annotation: Any, *types: type) -> bool:
    """``annotation`` is one of ``types``, optional or not."""
    if annotation in types:
        return True
    if get_origin(annotation) in (Union, UnionType):
        members = [a for a in get_args(annotation) if a is not type(None)]
        return bool(members) and all(a in types for a in members)
    return False


# Text rules as JSON Schema patterns. PostgreSQL stores no NUL character, and request text
# is stripped of Unicode White_Space (what pydantic's str_strip_whitespace removes) before
# its length is checked: text that must not be empty needs one other character.
_SPACE = r"\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
NO_NUL_PATTERN = r"^[^\u0000]*$"
TEXT_PATTERN = rf"^[^\u0000]*[^\u0000{_SPACE}][^\u0000]*$"


def _no_nul(value: Any) -> Any:
    """Refuse a NUL character anywhere in the value (text, or text in lists and objects)."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if "\x00" in item:
                raise custom_error(M.text_nul)
        elif isinstance(item, list):
            pending.extend(item)
        elif isinstance(item, dict):
            pending.extend(item.values())
    return value


def text_pattern(min_length: int) -> str:
    """No NUL, and at least ``min_length`` characters once stripped: from the first
    character that is not space to the last."""
    if min_length <= 0:
        return NO_NUL_PATTERN
    if min_length == 1:
        return TEXT_PATTERN
    edge = f"[^\\u0000{_SPACE}]"
    return f"^[^\\u0000]*{edge}[^\\u0000]{{{min_length - 2},}}{edge}[^\\u0000]*$"


@dataclass(frozen=True)
class _Unstripped:
    """The ``maxLength`` of text holds for the text as sent, before it is stripped (as the
    JSON schema says): ``" " * 300 + "a"`` is too long for 300 characters."""

    limit: int

    def __call__(self, value: Any) -> Any:
        if isinstance(value, str) and len(value) > self.limit:
            raise PydanticCustomError(
                "string_too_long",
                "String should have at most {max_length} characters",
                {"max_length": self.limit},
            )
        return value


def _max_length(metadata: Any) -> int | None:
    """The ``max_length`` constraint among a field's metadata (annotated_types.MaxLen)."""
    limits = (getattr(m, "max_length", None) for m in metadata)
    return next((limit for limit in limits if isinstance(limit, int)), None)


def _checked_unstripped(field: FieldInfo) -> bool:
    """Give a text field, or each text of a list field, its raw-length check; True when
    the field changed. A list's items get it on their type, so errors name the index."""
    annotation, optional = field.annotation, False
    if get_origin(annotation) in (Union, UnionType):
        members = [a for a in get_args(annotation) if a is not type(None)]
        annotation, optional = (members[0] if len(members) == 1 else None), True
    if annotation is str:
        limit = _max_length(field.metadata)
        if limit is None or any(_is_unstripped(m) for m in field.metadata):
            return False
        field.metadata.append(BeforeValidator(_Unstripped(limit)))
        return True
    if get_origin(annotation) is list and get_origin(get_args(annotation)[0]) is Annotated:
        text, *item_metadata = get_args(get_args(annotation)[0])
        constraints = [m for info in item_metadata for m in getattr(info, "metadata", [info])]
        limit = _max_length(constraints)
        if text is not str or limit is None or any(_is_unstripped(m) for m in item_metadata):
            return False
        item = Annotated[str, *item_metadata, BeforeValidator(_Unstripped(limit))]
        field.annotation = list[item] | None if optional else list[item]
        return True
    return False


def _is_unstripped(metadata: Any) -> bool:
    return isinstance(metadata, BeforeValidator) and isinstance(metadata.func, _Unstripped)


def _text_rules(node: Any) -> None:
    """Give every plain string of a property's JSON schema the pattern of the text rules."""
    if not isinstance(node, dict):
        return
    if node.get("type") == "string" and not {"pattern", "format", "enum", "const"} & node.keys():
        node["pattern"] = text_pattern(node.get("minLength", 0))
    for key in ("anyOf", "oneOf", "allOf"):
        for branch in node.get(key, []):
            _text_rules(branch)
    _text_rules(node.get("items"))


class InputModel(BaseModel):
    """Request bodies: unknown or read-only fields (id, role, timestamps...) are a 422,
    never silently dropped or applied. Numbers and booleans are strict: ``true``,
    ``"12"`` or ``1.0`` for a count, ``false`` or ``"1.5"`` for a coordinate, ``1`` or
    ``"true"`` for a flag are a 422 (pydantic's lax mode would take them); dates are
    ``YYYY-MM-DD`` text only (``IsoDate``); every other type keeps JSON's usual string
    forms (UUIDs, enums), which is why strictness is set per field and not for the model.
    Text holds no NUL character (422 naming the field, not a database error); it is
    stripped before its minimum length is checked but must fit its maximum as sent; the
    JSON schema says all three."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        changed = False
        for field in cls.model_fields.values():
            added = {m.func for m in field.metadata if isinstance(m, BeforeValidator)}
            if _is_type(field.annotation, int, bool, float) and not any(
                isinstance(m, Strict) for m in field.metadata
            ):
                field.metadata.append(Strict())
                changed = True
            elif _is_type(field.annotation, date) and _date_text not in added:
                field.metadata.append(BeforeValidator(_date_text))
                changed = True
            if _no_nul not in added:
                field.metadata.append(BeforeValidator(_no_nul))
                changed = True
            changed = _checked_unstripped(field) or changed
        if changed:
            cls.model_rebuild(force=True)

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        json_schema = handler(schema)
        for field in handler.resolve_ref_schema(json_schema).get("properties", {}).values():
            _text_rules(field)
        return json_schema


def _decimal_pattern(digits: int, places: int, *, signed: bool, positive: bool) -> str:
    """The decimal text within ``10**digits`` (``-10**digits`` when signed, above 0 when
    positive) with at most ``places`` decimals: no exponent, sign only when negative."""
    fraction = f"(\\.[0-9]{{1,{places}}})?"
    limit = f"1{'0' * digits}(\\.0{{1,{places}}})?"
    whole = f"[1-9][0-9]{{0,{digits - 1}}}{fraction}" if digits else ""
    if positive:  # 0 < x: a non-zero whole part, or 0.<a non-zero decimal>
        small = "|".join(
            "0" * i + "[1-9]" + (f"[0-9]{{0,{places - 1 - i}}}" if i < places - 1 else "")
            for i in range(places)
        )
        options = [o for o in (whole, f"0\\.({small})", limit) if o]
    else:
        options = [o for o in (whole, f"0{fraction}", limit) if o]
    return f"^{'-?' if signed else ''}({'|'.join(options)})$"


@dataclass(frozen=True)
class BoundedDecimal:
    """``Annotated[Decimal, BoundedDecimal(...)]``: a decimal up to ``10**digits`` with at
    most ``places`` decimals, from 0 (above 0 when ``positive``, from ``-10**digits`` when
    ``signed``); a JSON number, or its text without exponent or padding. The JSON schema
    states all of it (bounds, ``multipleOf``, the pattern): a value it admits is accepted."""

    digits: int
    places: int
    signed: bool = False
    positive: bool = False

    @property
    def pattern(self) -> str:
        return _decimal_pattern(
            self.digits, self.places, signed=self.signed, positive=self.positive
        )

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        limit = 10**self.digits
        text = re.compile(self.pattern, re.ASCII)
        bounds = (
            M.bounds_positive(limit=limit)
            if self.positive
            else M.bounds_range(low=-limit if self.signed else 0, limit=limit)
        )
        message = M.decimal_text(bounds=bounds, places=self.places)

        def decimal_text(value: Any) -> Any:
            if isinstance(value, str) and not text.fullmatch(value):
                raise custom_error(message)
            return value

        number = core_schema.decimal_schema(
            ge=-limit if self.signed else (None if self.positive else 0),
            gt=0 if self.positive else None,
            le=limit,
            max_digits=self.digits + self.places + 1,
            decimal_places=self.places,
        )
        return core_schema.no_info_before_validator_function(decimal_text, number)

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        limit = 10**self.digits
        number: dict[str, Any] = {"type": "number", "maximum": limit}
        if self.signed:
            number["minimum"] = -limit
        elif self.positive:
            number["exclusiveMinimum"] = 0
        else:
            number["minimum"] = 0
        number["multipleOf"] = float(Decimal(1).scaleb(-self.places))
        return {"anyOf": [number, {"type": "string", "pattern": self.pattern}]}


class PatchModel(InputModel):
    """A JSON merge patch: only the fields given change; ``null`` clears an optional field
    and is refused (422 naming the field) on the fields listed in ``not_null``, which the
    JSON schema shows as not nullable."""

    not_null: ClassVar[tuple[str, ...]] = ()

    def changes(self) -> dict[str, Any]:
        values = self.model_dump(exclude_unset=True)
        for name in self.not_null:
            if name in values and values[name] is None:
                raise Unprocessable(M.field_not_null(name=name), loc=["body", name])
        return values

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        json_schema = super().__get_pydantic_json_schema__(schema, handler)
        properties = handler.resolve_ref_schema(json_schema).get("properties", {})
        for name in cls.not_null:
            field = properties.get(name, {})
            branches = [b for b in field.get("anyOf", []) if b != {"type": "null"}]
            if "anyOf" in field:
                del field["anyOf"]
                field.update(branches[0] if len(branches) == 1 else {"anyOf": branches})
            field.pop("default", None)
        return json_schema


class ReadModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    created_at: datetime
    updated_at: datetime
