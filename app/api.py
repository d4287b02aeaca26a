"""The /api/v1 router: every resource router is included here, once."""

from fastapi import APIRouter

from app.assessments.router import router as assessments_router
from app.auth.router import router as auth_router
from app.auth.router import users_router
from app.communities.router import router as communities_router
from app.core.audit_router import router as audit_router
from app.exports.router import router as exports_router
from app.participation.router import router as participation_router
from app.participation.schemas import BatchRequest
from app.partners.router import accounts_router, partners_router, partnerships_router
from app.people.router import router as people_router
from app.programs.router import router as programs_router
from app.reports.router import router as reports_router

api_router = APIRouter(prefix="/api/v1")
for router in (
    auth_router,
    users_router,
    communities_router,
    people_router,
    assessments_router,
    programs_router,
    participation_router,
    partners_router,
    partnerships_router,
    accounts_router,
    exports_router,
    reports_router,
    audit_router,
):
    api_router.include_router(router)

# Schemas referenced by hand-written request bodies (documented, parsed row by row).
openapi_models = [BatchRequest]
