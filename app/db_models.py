"""Import every table module once, so metadata and mappers see all tables (Alembic too)."""

from app.assessments import models as assessments_models
from app.auth import models as auth_models
from app.communities import models as communities_models
from app.core import audit, conditional, idempotency, ratelimit, transitions
from app.events import models as events_models
from app.participation import models as participation_models
from app.partners import models as partners_models
from app.people import models as people_models
from app.planning import models as planning_models
from app.programs import models as programs_models
from app.reports import models as reports_models
from app.sync import models as sync_models
from app.webhooks import models as webhooks_models

__all__ = [
    "assessments_models",
    "audit",
    "auth_models",
    "communities_models",
    "conditional",
    "events_models",
    "idempotency",
    "participation_models",
    "partners_models",
    "people_models",
    "planning_models",
    "programs_models",
    "ratelimit",
    "reports_models",
    "sync_models",
    "transitions",
    "webhooks_models",
]
