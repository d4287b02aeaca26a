"""create_app(): settings, database, tokens, middleware, error handlers, routers, OpenAPI."""

from __future__ import annotations

import gc
import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from app import db_models  # noqa: F401  (register every table before mappers configure)
from app.api import API_PREFIX, api_routers, openapi_models
from app.auth.caller_cache import CallerCache
from app.auth.deps import current_subject
from app.auth.router import jwks_router
from app.auth.tokens import TokenService, load_signing_key
from app.core.config import Settings, get_settings
from app.core.db import Database, create_engine
from app.core.docs import install_docs
from app.core.errors import PROBLEM_MEDIA_TYPE, Problem, install_error_handlers
from app.core.examples import add_examples
from app.core.health import router as health_router
from app.core.idempotency import IdempotencyMiddleware
from app.core.logging import configure_logging
from app.core.middleware import (
    AllowedMethodsMiddleware,
    BodyLimitMiddleware,
    ProblemCORSMiddleware,
    RequestContextMiddleware,
    RetryOnceMiddleware,
)
from app.core.pii import Hasher, PersonalData, PiiCipher
from app.core.replica import create_reads
from app.reference import add_reference
from app.webhooks.dispatcher import start_in_process

PROBLEM_REF = "#/components/schemas/Problem"
GC_THRESHOLDS = (10_000, 50, 100)  # Python's defaults are (700, 10, 10)
MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"

DESCRIPTION = """\
Berdaya ("empowered") is the open backend for community-empowerment facilitation
(*fasilitasi pemberdayaan masyarakat*): communities and their development index,
needs assessments, programs, participants, participation and partners.

Conventions: errors are `application/problem+json` (RFC 9457); lists are keyset
paginated (`limit`, `cursor`, `next_cursor`, `Link: rel="next"`); single resources
carry an `ETag` (send `If-Match` on writes, `If-None-Match` on reads); every POST
accepts `Idempotency-Key`; deletes are soft. Authenticate with
`POST /api/v1/auth/token` and send `Authorization: Bearer <access_token>`.

Languages: `Accept-Language: id` (Indonesian) or `en` (English, the default) chooses the
language of problems' `title`, `detail` and `errors[].message`; answers carry
`Content-Language`. Machine fields (`type`, `loc`, enum values) never change.
`GET /api/v1/labels?lang=id` gives the label of every enum value.
"""


def migration_head() -> str:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    head = ScriptDirectory.from_config(config).get_current_head()
    return head or ""


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    settings.ensure_secrets()
    configure_logging(settings.log_level)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.database = Database(create_engine(settings))
        app.state.reads = create_reads(settings, app.state.database.engine)
        app.state.route_paths = route_paths(app)  # built now, not on the first request
        tune_garbage_collector()
        # The webhook dispatcher beside the API unless BERDAYA_DISPATCHER=external.
        stop_dispatcher = (
            start_in_process(app.state.database, app.state.personal_data.cipher, settings)
            if settings.dispatcher == "inprocess"
            else None
        )
        try:
            yield
        finally:
            if stop_dispatcher is not None:
                await stop_dispatcher()
            await app.state.reads.dispose()
            await app.state.database.dispose()

    app = FastAPI(
        title="Berdaya API",
        version="1.0.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # served offline by app.core.docs (install_docs below)
        redoc_url=None,
        openapi_url="/openapi.json" if settings.docs_enabled else None,
        generate_unique_id_function=lambda route: route.name,
        swagger_ui_parameters={"persistAuthorization": True},
    )
    app.state.settings = settings
    app.state.tokens = TokenService(
        [load_signing_key(settings.jwt_private_key or "", settings.jwt_key_id)],
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        ttl_seconds=settings.access_token_ttl_seconds,
    )
    app.state.callers = CallerCache()

    async def authenticate(token: str) -> str | None:
        # For app.core.idempotency: the caller authenticated in full before any replay.
        return await current_subject(app.state.database, app.state.tokens, token)

    app.state.authenticate = authenticate
    app.state.migration_head = migration_head()
    app.state.personal_data = PersonalData(
        cipher=PiiCipher.from_config(settings.pii_keys),
        hasher=Hasher.from_config(settings.pii_hmac_key or "", settings.pseudonym_key or ""),
    )

    install_error_handlers(app)
    if settings.docs_enabled:
        install_docs(app)
    app.include_router(health_router)
    app.include_router(jwks_router)
    for router in api_routers:
        app.include_router(router, prefix=API_PREFIX)

    # Added innermost first: the request-context layer ends up outermost.
    app.add_middleware(AllowedMethodsMiddleware)
    app.add_middleware(RetryOnceMiddleware)
    app.add_middleware(IdempotencyMiddleware)
    if settings.cors_origins:
        app.add_middleware(
            ProblemCORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_credentials=True,
            allow_methods=["GET", "POST", "PATCH", "PUT", "DELETE", "OPTIONS"],
            allow_headers=[
                "Authorization",
                "Content-Type",
                "If-Match",
                "If-None-Match",
                "Idempotency-Key",
                "X-Request-ID",
                "Accept",
            ],
            expose_headers=[
                "ETag",
                "Link",
                "Location",
                "X-Request-ID",
                "Retry-After",
                "RateLimit-Limit",
                "RateLimit-Remaining",
                "RateLimit-Reset",
            ],
            max_age=600,
        )
    app.add_middleware(
        BodyLimitMiddleware,
        max_bytes=settings.max_body_bytes,
        max_batch_bytes=settings.max_batch_body_bytes,
        timeout_seconds=settings.body_timeout_seconds,
    )
    app.add_middleware(RequestContextMiddleware, is_production=settings.is_production)

    app.openapi = lambda: build_openapi(app)  # type: ignore[method-assign]
    return app


def route_paths(app: FastAPI) -> dict[str, str]:
    """Operation name -> full path template, for the access log (see ``_route_template``).

    Routes included with a prefix are matched through their original (prefix-less)
    object; the OpenAPI document has the full path of every operation name.
    """
    return {
        operation["operationId"]: path
        for path, item in app.openapi().get("paths", {}).items()
        for operation in item.values()
        if isinstance(operation, dict) and "operationId" in operation
    }


def tune_garbage_collector() -> None:
    """Fewer, cheaper collections for a server whose long-lived objects are made at start.

    Freezing moves everything built at start (modules, models, compiled statements) out
    of the collector's view, and a higher first threshold lets the short-lived objects of
    a request die by reference counting before a collection looks at them. Measured with
    wrk on GET by id: +20-25 % requests/s; RSS stays steady (bench/run.py).
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def build_openapi(app: FastAPI) -> dict[str, Any]:
    """The OpenAPI document, with errors as problem+json and the Problem schema shared."""
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
    )
    schema.setdefault("components", {}).setdefault("schemas", {})["Problem"] = (
        Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    )
    problem_defs = schema["components"]["schemas"]["Problem"].pop("$defs", {})
    schema["components"]["schemas"].update(problem_defs)
    for model in openapi_models:
        extra = model.model_json_schema(ref_template="#/components/schemas/{model}")
        schema["components"]["schemas"].update(extra.pop("$defs", {}))
        schema["components"]["schemas"][model.__name__] = extra
    for path_item in schema.get("paths", {}).values():
        for operation in path_item.values():
            responses = operation.get("responses", {})
            if "401" in responses and "429" not in responses:
                # Partner service accounts are rate limited on every authenticated call.
                responses["429"] = {
                    "description": "Rate limit exceeded; see Retry-After and RateLimit-*",
                    "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": PROBLEM_REF}}},
                }
            for status, response in responses.items():
                content = response.get("content", {})
                if status[0] in "45" and "application/json" in content:
                    content[PROBLEM_MEDIA_TYPE] = {"schema": {"$ref": PROBLEM_REF}}
                    del content["application/json"]
    add_links(schema)
    add_examples(schema)  # every request body and response shows one
    add_reference(schema)  # who may call each operation, its rules, its errors
    schema["info"]["license"] = {"name": "Apache-2.0"}
    app.openapi_schema = schema
    return schema


def add_links(schema: dict[str, Any]) -> None:
    """OpenAPI links from each create (201) to every operation on what it created (get,
    update, delete, and what hangs under it): the operations whose path is the create's
    path and the new id, with nothing else to fill in, given the create's own path
    parameters and the id from the response body (a field of the parameter's own name,
    else ``id``). Clients and stateful testers follow them from one call to the next."""
    paths: dict[str, Any] = schema.get("paths", {})
    components = schema.get("components", {}).get("schemas", {})
    for path, item in paths.items():
        created = item.get("post", {}).get("responses", {}).get("201")
        if created is None:
            continue
        body = created.get("content", {}).get("application/json", {}).get("schema", {})
        fields = components.get(body.get("$ref", "").rsplit("/", 1)[-1], {}).get("properties", {})
        given = {name: f"$request.path.{name}" for name in re.findall(r"{([^}]+)}", path)}
        links: dict[str, Any] = {}
        for target, target_item in paths.items():
            match = re.match(re.escape(path) + r"/\{([^}]+)\}(/|$)", target)
            if match is None:
                continue
            name = match.group(1)
            if set(re.findall(r"{([^}]+)}", target)) - {*given, name}:
                continue  # needs an id this create does not give
            source = name if name in fields else "id"
            for operation in target_item.values():
                links[operation["operationId"]] = {
                    "operationId": operation["operationId"],
                    "parameters": {**given, name: f"$response.body#/{source}"},
                }
        if links:
            created["links"] = links


logging.getLogger("uvicorn.access").disabled = True  # our own access log replaces it
