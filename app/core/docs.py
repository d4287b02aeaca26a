"""``/docs`` (Swagger UI) and ``/redoc`` that work without internet.

FastAPI's own pages load Swagger UI and ReDoc from a CDN: a blank page on a regional
server with no internet. Here their JavaScript and CSS come from the installed
``fastapi-offline`` distribution (a pinned dependency in the lock files: its ``static``
folder holds ``swagger-ui-bundle.js``, ``swagger-ui.css``, ``redoc.standalone.js`` and a
favicon), served from where the package is installed, under ``ASSETS_PATH``.

Each page carries a Content-Security-Policy allowing exactly that: scripts from this
server plus the page's own inline start-up script (by its SHA-256), styles from this
server (and inline styles, which both UIs set on their elements at run time), images
from this server and ``data:`` URIs (Swagger UI's icons), requests to this server only
(the OpenAPI document and "Try it out"), ReDoc's search worker from a ``blob:``.
"""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path
from typing import Any

import fastapi_offline
from fastapi import FastAPI, Request
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.staticfiles import StaticFiles
from starlette.responses import HTMLResponse

STATIC_DIR = Path(fastapi_offline.__file__).parent / "static"
ASSETS_PATH = "/docs/assets"
DOCS_PATH, REDOC_PATH, OAUTH2_REDIRECT_PATH = "/docs", "/redoc", "/docs/oauth2-redirect"
ASSETS = ("swagger-ui-bundle.js", "swagger-ui.css", "redoc.standalone.js", "favicon.png")
# No badge from an online validator: nothing on the page may leave this server.
SWAGGER_UI_PARAMETERS: dict[str, Any] = {"validatorUrl": None}

_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)


def _sha256(text: str) -> str:
    return base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()


def content_security_policy(html: str) -> str:
    """The policy of one docs page: its inline scripts allowed by their hashes only."""
    hashes = " ".join(f"'sha256-{_sha256(script)}'" for script in _INLINE_SCRIPT.findall(html))
    return "; ".join(
        [
            "default-src 'none'",
            f"script-src 'self' {hashes}".rstrip(),
            "style-src 'self' 'unsafe-inline'",
            "img-src 'self' data:",
            "font-src 'self'",
            "connect-src 'self'",
            "worker-src 'self' blob:",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
        ]
    )


def _page(response: HTMLResponse) -> HTMLResponse:
    html = bytes(response.body).decode()
    response.headers["Content-Security-Policy"] = content_security_policy(html)
    response.headers["Cache-Control"] = "no-cache"
    return response


def install_docs(app: FastAPI) -> None:
    """Adds the docs pages and their assets to ``app`` (whose ``openapi_url`` is set)."""
    missing = [name for name in ASSETS if not (STATIC_DIR / name).is_file()]
    if missing:  # a broken install: fail at start, not with a blank page
        raise RuntimeError(f"fastapi-offline assets missing in {STATIC_DIR}: {missing}")
    openapi_url = app.openapi_url or "/openapi.json"
    parameters = {**(app.swagger_ui_parameters or {}), **SWAGGER_UI_PARAMETERS}
    app.mount(ASSETS_PATH, StaticFiles(directory=STATIC_DIR), name="docs-assets")

    # Plain Starlette routes, as FastAPI's own docs pages are: not API operations.
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return _page(
            get_swagger_ui_html(
                openapi_url=f"{root}{openapi_url}",
                title=f"{app.title} - Swagger UI",
                oauth2_redirect_url=f"{root}{OAUTH2_REDIRECT_PATH}",
                swagger_js_url=f"{root}{ASSETS_PATH}/swagger-ui-bundle.js",
                swagger_css_url=f"{root}{ASSETS_PATH}/swagger-ui.css",
                swagger_favicon_url=f"{root}{ASSETS_PATH}/favicon.png",
                swagger_ui_parameters=parameters,
            )
        )

    async def swagger_ui_redirect(request: Request) -> HTMLResponse:
        return _page(get_swagger_ui_oauth2_redirect_html())

    async def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return _page(
            get_redoc_html(
                openapi_url=f"{root}{openapi_url}",
                title=f"{app.title} - ReDoc",
                redoc_js_url=f"{root}{ASSETS_PATH}/redoc.standalone.js",
                redoc_favicon_url=f"{root}{ASSETS_PATH}/favicon.png",
                with_google_fonts=False,
            )
        )

    app.add_route(DOCS_PATH, swagger_ui, include_in_schema=False)
    app.add_route(OAUTH2_REDIRECT_PATH, swagger_ui_redirect, include_in_schema=False)
    app.add_route(REDOC_PATH, redoc, include_in_schema=False)
