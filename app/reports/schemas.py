"""The filters every report applies and echoes back."""

from __future__ import annotations

import uuid
from datetime import date

from pydantic import BaseModel


class Filters(BaseModel):
    community_id: uuid.UUID | None = None
    program_id: uuid.UUID | None = None
    region_code: str | None = None
    date_from: date | None = None
    date_to: date | None = None
