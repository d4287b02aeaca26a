"""``GET /api/v1/labels``: every enum of the OpenAPI document with the label of each value.

The enums are read from the app's own OpenAPI document (so an enum added anywhere is
listed), the labels from the catalogue ``app.core.i18n.LABELS``.
"""

from __future__ import annotations

import zlib
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from app.core.errors import problem_responses
from app.core.http import model_response
from app.core.i18n import Lang, enum_labels, language_var

router = APIRouter(prefix="/labels", tags=["labels"])


class Labels(BaseModel):
    """The label of each value of every enum, in one language."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "lang": "id",
                    "enums": {
                        "ActivityKind": {"training": "Pelatihan", "deliberation": "Musyawarah"},
                        "ProgramStatus": {"draft": "Draf", "active": "Berjalan"},
                        "ServiceAccountCreate.role": {"partner": "Mitra", "analyst": "Analis"},
                        "sort": {"-created_at": "Tanggal dibuat, turun"},
                    },
                }
            ]
        }
    )

    lang: Literal["en", "id"] = Field(description="The language of the labels.")
    enums: dict[str, dict[str, str]] = Field(
        description="Enum name -> value -> label. A component schema's enum is named as "
        "the schema (`ProgramStatus`), an enum inside a schema `Schema.property`, a query "
        "parameter's by the parameter (`sort`, `lang`)."
    )


@router.get(
    "",
    name="labels-list",
    response_model=Labels,
    summary="The label of every enum value, in Indonesian or English",
    description=(
        "Every enum of the OpenAPI document (kinds, categories, levels, roles, statuses, "
        "sort orders...) with the human label of each value, for forms and tables.\n\n"
        "**Who may call it:** anyone, without a token (a login page needs labels too).\n\n"
        "**Rules:** the language is `lang` when given, else the `Accept-Language` header "
        "(`id` or `en`; English by default); the answer says it in `Content-Language` and "
        "`lang`. Enum values themselves never change with the language. The answer carries "
        "an `ETag`; `If-None-Match` gives 304. A `lang` other than `id` or `en` is 422."
    ),
    responses=problem_responses(422),
)
async def list_labels(
    request: Request,
    lang: Annotated[
        Literal["id", "en"] | None,
        Query(description="Language of the labels; default: from Accept-Language, else en"),
    ] = None,
) -> Response:
    chosen: Lang = lang or language_var.get()
    cache: dict[str, tuple[Labels, int]] | None = getattr(request.app.state, "labels", None)
    if cache is None:
        cache = request.app.state.labels = {}
    if chosen not in cache:
        labels = Labels(lang=chosen, enums=enum_labels(request.app.openapi(), chosen))
        cache[chosen] = (labels, zlib.crc32(labels.model_dump_json().encode()))
    labels, version = cache[chosen]
    return model_response(
        request,
        labels,
        version=version,
        headers={"Content-Language": chosen, "Vary": "Accept-Language"},
    )
