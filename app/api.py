"""The /api/v1 routers: every resource router is listed here, once."""

from fastapi import APIRouter

from app.assessments.router import router as assessments_router
from app.audit.router import router as audit_router
from app.auth.router import router as auth_router
from app.auth.router import users_router
from app.communities.router import router as communities_router
from app.events.router import router as events_router
from app.exports.router import router as exports_router
from app.labels.router import router as labels_router
from app.participation.router import router as participation_router
from app.participation.schemas import BatchRequest
from app.partners.contributions_router import router as contributions_router
from app.partners.partnerships_router import router as partnerships_router
from app.partners.router import router as partners_router
from app.partners.service_accounts_router import router as accounts_router
from app.people.router import router as people_router
from app.planning.router import drafting_router as planning_drafting_router
from app.planning.router import router as planning_router
from app.programs.activities_router import router as activities_router
from app.programs.budget_lines_router import router as budget_lines_router
from app.programs.indicators_router import router as indicators_router
from app.programs.router import router as programs_router
from app.reports.router import router as reports_router
from app.sync.router import router as sync_router
from app.webhooks.router import router as webhooks_router

API_PREFIX = "/api/v1"
# Included straight into the app (not through one /api/v1 router: each level of included
# routers matches its routes once more), most-requested first: FastAPI tries the routes
# one by one (about 5 us each), so a request to the last router pays for every route
# before it (measured with bench/run.py).
api_routers: tuple[APIRouter, ...] = (
    communities_router,
    people_router,
    participation_router,
    sync_router,
    auth_router,
    programs_router,
    activities_router,
    indicators_router,
    budget_lines_router,
    assessments_router,
    partners_router,
    partnerships_router,
    contributions_router,
    accounts_router,
    users_router,
    exports_router,
    reports_router,
    planning_router,
    planning_drafting_router,
    audit_router,
    labels_router,
    events_router,
    webhooks_router,
)

# Schemas referenced by hand-written request bodies (documented, parsed row by row).
openapi_models = [BatchRequest]
