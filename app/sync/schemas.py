"""Wire schemas of field sync (API.md §6)."""

from __future__ import annotations

import uuid
from typing import Any, Literal

from pydantic import BaseModel, Field

from app.core.errors import ValidationIssue
from app.core.schemas import InputModel

# What a device may write, and what the changes feed carries (parents before children).
PUSHABLE = (
    "people",
    "participation_records",
    "findings",
    "ballots",
    "activities",
    "measurements",
)
SYNCED = (
    "communities",
    "people",
    "needs_assessments",
    "findings",
    "ballots",
    "programs",
    "activities",
    "indicators",
    "measurements",
    "participation_records",
)
Pushable = Literal[
    "people", "participation_records", "findings", "ballots", "activities", "measurements"
]
Synced = Literal[
    "communities",
    "people",
    "needs_assessments",
    "findings",
    "ballots",
    "programs",
    "activities",
    "indicators",
    "measurements",
    "participation_records",
]
DEVICE_PATTERN = r"^[A-Za-z0-9._:-]{1,100}$"

PERSON_EXAMPLE = {
    "community_id": "0193a5f2-7c41-7d3e-9b1a-5f0c2e8d4a10",
    "full_name": "Ni Luh Ketut Sari",
    "sex": "female",
    "birth_year": 1988,
    "consent_purposes": ["needs_assessment", "program_participation"],
}


class Mutation(InputModel):
    """One change made on the device, in the order it was made."""

    mutation_id: str = Field(
        pattern=DEVICE_PATTERN,
        description="The device's own id of this change (kept ≥ 30 days: a retry is a `duplicate`)",
        examples=["m-000042"],
    )
    resource: Pushable
    id: uuid.UUID = Field(description="The row's id, made on the device (UUID v7 preferred)")
    op: Literal["upsert", "delete"]
    base_version: int | None = Field(
        default=None,
        ge=1,
        description="The version the device changed; absent for a row it created",
    )
    data: dict[str, Any] | None = Field(
        default=None,
        description="For an upsert: the body of the resource's PUT, plus its parent ids "
        "(`assessment_id` for findings and ballots, `program_id` for activities, "
        "`program_id` and `indicator_id` for measurements)",
        examples=[PERSON_EXAMPLE],
    )


class PushRequest(InputModel):
    device_id: str = Field(pattern=DEVICE_PATTERN, examples=["tablet-desa-sukamaju-01"])
    mutations: list[Mutation] = Field(min_length=1, max_length=500)

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "device_id": "tablet-desa-sukamaju-01",
                    "mutations": [
                        {
                            "mutation_id": "m-000041",
                            "resource": "people",
                            "id": "0193a5f3-0a11-7c2e-8d4f-2b6a9e1c7d35",
                            "op": "upsert",
                            "data": PERSON_EXAMPLE,
                        },
                        {
                            "mutation_id": "m-000042",
                            "resource": "participation_records",
                            "id": "0193a5f3-0b27-7f10-a3c5-6d8e2f4b9a01",
                            "op": "upsert",
                            "data": {
                                "person_id": "0193a5f3-0a11-7c2e-8d4f-2b6a9e1c7d35",
                                "assessment_id": "0193a5f2-8d02-7a6b-b4e1-3c9f5a7d2e60",
                                "date": "2026-11-20",
                                "level": "consult",
                                "role": "beneficiary",
                            },
                        },
                    ],
                }
            ]
        }
    }


class MutationResult(BaseModel):
    mutation_id: str
    status: Literal["applied", "duplicate", "conflict", "rejected"]
    id: uuid.UUID | None = Field(default=None, description="The row the mutation wrote")
    version: int | None = Field(default=None, description="The row's version after it")
    current: dict[str, Any] | None = Field(
        default=None,
        description="On a conflict: the server's row, as a GET answers it. Never on a "
        "duplicate (pull the row through the changes feed)",
    )
    errors: list[ValidationIssue] | None = Field(
        default=None, description="On a rejection: what is wrong (as in a 4xx problem)"
    )
    first_status: Literal["applied", "conflict", "rejected"] | None = Field(
        default=None, description="On a duplicate: the status of the first answer"
    )


class PushResult(BaseModel):
    results: list[MutationResult]

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "results": [
                        {
                            "mutation_id": "m-000041",
                            "status": "applied",
                            "id": "0193a5f3-0a11-7c2e-8d4f-2b6a9e1c7d35",
                            "version": 1,
                        },
                        {
                            "mutation_id": "m-000042",
                            "status": "conflict",
                            "id": "0193a5f3-0b27-7f10-a3c5-6d8e2f4b9a01",
                            "version": 3,
                            "current": {"level": "involve", "hours": 2.5},
                        },
                    ]
                }
            ]
        }
    }


class Change(BaseModel):
    resource: Synced
    id: uuid.UUID
    version: int | None = Field(default=None, description="Absent for leave_scope")
    op: Literal["upsert", "delete", "leave_scope"]
    data: dict[str, Any] | None = Field(
        default=None, description="For an upsert: exactly what a GET answers the caller"
    )


class ChangesPage(BaseModel):
    changes: list[Change]
    next_cursor: str = Field(description="Never null: keep it for the next pull")
    has_more: bool

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "changes": [
                        {
                            "resource": "people",
                            "id": "0193a5f3-0a11-7c2e-8d4f-2b6a9e1c7d35",
                            "version": 2,
                            "op": "upsert",
                            "data": {**PERSON_EXAMPLE, "nik": "************0003"},
                        },
                        {
                            "resource": "communities",
                            "id": "0193a5f2-7c41-7d3e-9b1a-5f0c2e8d4a10",
                            "op": "leave_scope",
                        },
                    ],
                    "next_cursor": "eyJtIjoibG9nIiwicCI6WzE4MzIsNDJdfQ",
                    "has_more": False,
                }
            ]
        }
    }
