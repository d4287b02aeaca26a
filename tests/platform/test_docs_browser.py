"""``/docs`` and ``/redoc`` opened in a real headless Chromium (Debian's ``chromium``
package, installed by .ci/run) with every host but this server unresolvable, as on a
regional server without internet: the operations render, no Content-Security-Policy
violation is reported, and a screenshot of Swagger UI is saved (its path is printed).

Slow (``make test-slow``). The test installs nothing: without Chromium it fails, saying
what to install.
"""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.platform.live_server import serving

pytestmark = pytest.mark.slow

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    # offline: every name but the server's own address fails to resolve
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
    "--enable-logging=stderr",
    "--v=0",
    "--window-size=1280,2200",
    "--virtual-time-budget=20000",
]


def chromium() -> str:
    found = shutil.which("chromium") or (CHROMIUM if Path(CHROMIUM).exists() else None)
    if not found:
        pytest.fail("Chromium is missing: apt-get install -y chromium (as .ci/run does)")
    return found


async def run_chromium(profile: Path, *args: str) -> tuple[str, str]:
    """Chromium with a fresh profile folder; its stdout (the DOM) and stderr (console)."""
    process = await asyncio.create_subprocess_exec(
        chromium(),
        *FLAGS,
        f"--user-data-dir={profile}",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), timeout=180)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    assert process.returncode == 0, err.decode(errors="replace")[-2000:]
    return out.decode(errors="replace"), err.decode(errors="replace")


# ReDoc's bundle links its "API docs by Redocly" badge to an image on its CDN: the policy
# blocks it, as it should (the page is complete without it). Anything else is a failure.
BLOCKED_ON_PURPOSE = ("https://cdn.redoc.ly/redoc/logo-mini.svg",)


def csp_violations(console: str) -> list[str]:
    return [
        line
        for line in console.splitlines()
        if ("Content Security Policy" in line or "Refused to" in line)
        and not any(url in line for url in BLOCKED_ON_PURPOSE)
    ]


async def test_swagger_ui_and_redoc_render_offline_in_chromium(
    app: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    schema = app.openapi()
    operations = [
        (operation["tags"][0], operation["operationId"], path)
        for path, item in schema["paths"].items()
        for operation in item.values()
        if isinstance(operation, dict) and "operationId" in operation and operation.get("tags")
    ]
    assert len(operations) > 50
    screenshot = tmp_path / "swagger-ui.png"
    async with serving(app) as base:
        dom, console = await run_chromium(tmp_path / "profile-dom", "--dump-dom", f"{base}/docs")
        _, shot_console = await run_chromium(
            tmp_path / "profile-shot", f"--screenshot={screenshot}", f"{base}/docs"
        )
        redoc, redoc_console = await run_chromium(
            tmp_path / "profile-redoc", "--dump-dom", f"{base}/redoc"
        )

    # Swagger UI rendered every operation (its element ids are tag and operation id)
    missing = [op_id for tag, op_id, _ in operations if f'id="operations-{tag}-{op_id}"' not in dom]
    assert not missing, missing[:10]
    assert 'class="opblock-summary-path"' in dom
    assert "/api/v1/communities" in dom
    assert "Berdaya API" in dom
    # ReDoc too (its sections are named after the operation ids)
    assert "/api/v1/exports/{dataset}" in redoc
    assert sum(f"operation/{op_id}" in redoc for _, op_id, _ in operations) > len(operations) / 2
    for log in (console, shot_console, redoc_console):
        assert not csp_violations(log), csp_violations(log)[:5]
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert screenshot.stat().st_size > 20_000  # a rendered page, not a blank one
    with capsys.disabled():
        print(f"\nSwagger UI screenshot (offline, headless Chromium): {screenshot}")
