"""Import every table module once, so metadata and mappers see all tables (Alembic too)."""

from app.assessments import models as assessments_models
from app.auth import models as auth_models
from app.communities import models as communities_models
from app.core import audit, idempotency, ratelimit, transitions
from app.participation import models as participation_models
from app.partners import models as partners_models
from app.people import models as people_models
from app.programs import models as programs_models

__all__ = [
    "assessments_models",
    "audit",
    "auth_models",
    "communities_models",
    "idempotency",
    "participation_models",
    "partners_models",
    "people_models",
    "programs_models",
    "ratelimit",
    "transitions",
]
