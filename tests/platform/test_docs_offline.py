"""``/docs`` and ``/redoc`` work on a server without internet: the pages reference no other
host, every asset they reference is served here (from the installed fastapi-offline
distribution, not from files in the repository), and their Content-Security-Policy
allows exactly that. The same pages in a real headless Chromium: tests/platform/
test_docs_browser.py (slow)."""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata
import re
from pathlib import Path
from typing import Any

import httpx

from app.core import docs

PAGES = (docs.DOCS_PATH, docs.REDOC_PATH, docs.OAUTH2_REDIRECT_PATH)
ROOT = Path(__file__).resolve().parents[2]
# Every way a page names another resource: attributes, and Swagger UI's start-up config
REFERENCE = re.compile(r"""(?:src|href|spec-url)\s*=\s*["']([^"']+)["']|url:\s*'([^']+)'""")
ABSOLUTE = re.compile(r"\b(?:https?:)?//[A-Za-z0-9.-]+")


def references(html: str) -> list[str]:
    return [a or b for a, b in REFERENCE.findall(html)]


def policy(response: httpx.Response) -> dict[str, list[str]]:
    header = response.headers["content-security-policy"]
    return {
        name: values
        for name, *values in (part.split() for part in header.split(";") if part.strip())
    }


async def test_docs_pages_reference_no_other_host(client: httpx.AsyncClient) -> None:
    seen: set[str] = set()
    for page in PAGES:
        r = await client.get(page)
        assert r.status_code == 200, page
        assert r.headers["content-type"].startswith("text/html")
        assert not ABSOLUTE.findall(r.text), (page, ABSOLUTE.findall(r.text))
        for url in references(r.text):
            assert url.startswith("/") and not url.startswith("//"), (page, url)
            seen.add(url)
    assert {
        f"{docs.ASSETS_PATH}/swagger-ui-bundle.js",
        f"{docs.ASSETS_PATH}/swagger-ui.css",
        f"{docs.ASSETS_PATH}/redoc.standalone.js",
        f"{docs.ASSETS_PATH}/favicon.png",
        "/openapi.json",
    } <= seen
    for url in sorted(seen):
        r = await client.get(url)
        assert r.status_code == 200, url
        assert len(r.content) > 0, url


def test_assets_are_the_pinned_distributions() -> None:
    """Where the pinned distribution is installed, not files copied into the repository."""
    dist = importlib.metadata.distribution("fastapi-offline")
    assert Path(str(dist.locate_file("fastapi_offline/static"))).resolve() == docs.STATIC_DIR
    assert "site-packages" in docs.STATIC_DIR.parts
    assert f"fastapi-offline=={dist.version} " in (ROOT / "requirements.lock").read_text()


async def test_assets_come_from_the_installed_distribution(client: httpx.AsyncClient) -> None:
    media = {".js": "javascript", ".css": "text/css", ".png": "image/png"}
    for name in docs.ASSETS:
        r = await client.get(f"{docs.ASSETS_PATH}/{name}")
        assert r.status_code == 200, name
        assert r.content == (docs.STATIC_DIR / name).read_bytes(), name
        assert media[Path(name).suffix] in r.headers["content-type"], name
    r = await client.get(f"{docs.ASSETS_PATH}/../config.py")
    assert r.status_code == 404
    r = await client.get(f"{docs.ASSETS_PATH}/no-such.js")
    assert r.status_code == 404


async def test_docs_csp_allows_exactly_the_served_assets(client: httpx.AsyncClient) -> None:
    for page in PAGES:
        r = await client.get(page)
        csp = policy(r)
        assert csp["default-src"] == ["'none'"], page
        assert csp["connect-src"] == ["'self'"], page
        assert csp["frame-ancestors"] == ["'none'"], page
        inline = re.findall(r"<script>(.*?)</script>", r.text, re.DOTALL)
        hashes = {
            "'sha256-" + base64.b64encode(hashlib.sha256(s.encode()).digest()).decode() + "'"
            for s in inline
        }
        assert set(csp["script-src"]) == {"'self'", *hashes}, page
        assert len(hashes) == len(inline) == (0 if page == docs.REDOC_PATH else 1), page
        for values in csp.values():  # no other host anywhere in the policy
            assert all(v.startswith("'") or v in ("data:", "blob:") for v in values), values


async def test_swagger_ui_config_points_at_this_server(client: httpx.AsyncClient) -> None:
    r = await client.get(docs.DOCS_PATH)
    assert "url: '/openapi.json'" in r.text
    assert '"validatorUrl": null' in r.text  # no badge fetched from an online validator
    assert '"persistAuthorization": true' in r.text


async def test_openapi_schema_does_not_list_the_docs(app: Any) -> None:
    paths = app.openapi()["paths"]
    assert not [p for p in paths if p.startswith(("/docs", "/redoc"))]
