"""The real server process and the ``berdaya`` command, over real HTTP and real pipes."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from app.core.config import ConfigError, Settings
from app.core.db import ensure_database
from tests.helpers import database_on, drop_database
from tests.platform.serving import BERDAYA, child_env, free_port, stop, wait_until_up

ADMIN_EMAIL = "root@berdaya.id"
ADMIN_PASSWORD = "Sup3r-Secret-Adm1n-Pw"


@pytest.fixture
def fresh_database(server_url: str) -> Iterator[str]:
    """An empty database (not migrated), dropped afterwards."""
    name = f"berdaya_proc_{secrets.token_hex(4)}"
    ensure_database(server_url, name)
    try:
        yield database_on(server_url, name)
    finally:
        asyncio.run(drop_database(server_url, name))


def test_serve_end_to_end(fresh_database: str, tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    stdout_path, stderr_path = tmp_path / "stdout.log", tmp_path / "stderr.log"
    env = child_env(
        tmp_path / "data",
        fresh_database,
        BERDAYA_ADMIN_EMAIL=ADMIN_EMAIL,
        BERDAYA_ADMIN_PASSWORD=ADMIN_PASSWORD,
    )
    with stdout_path.open("wb") as out, stderr_path.open("wb") as err:
        proc = subprocess.Popen(
            [str(BERDAYA), "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=err,
            stdin=subprocess.DEVNULL,
            cwd=tmp_path,
        )
    try:
        wait_until_up(port, proc, stderr_path, timeout=30)
        with httpx.Client(base_url=base, timeout=10) as http:
            r = http.get("/readyz")
            assert r.status_code == 200, r.text
            assert r.json()["database"] == "ok"

            r = http.post(
                "/api/v1/auth/token",
                data={
                    "grant_type": "password",
                    "username": ADMIN_EMAIL,
                    "password": ADMIN_PASSWORD,
                },
            )
            assert r.status_code == 200, r.text
            token = r.json()
            assert token["token_type"].lower() == "bearer"
            http.headers["Authorization"] = f"Bearer {token['access_token']}"

            r = http.post(
                "/api/v1/communities",
                json={"name": "Desa Proses", "kind": "desa", "region_code": "32.04.12.2001"},
                headers={"X-Request-ID": "proc-test-create-1"},
            )
            assert r.status_code == 201, r.text
            assert r.headers["x-request-id"] == "proc-test-create-1"
            community = r.json()

            r = http.get("/api/v1/communities")
            assert r.status_code == 200, r.text
            assert [c["id"] for c in r.json()["items"]] == [community["id"]]

            r = http.get(f"/api/v1/communities/{community['id']}")
            assert r.status_code == 200, r.text
            etag = r.headers["etag"]
            assert etag
            r = http.get(f"/api/v1/communities/{community['id']}", headers={"If-None-Match": etag})
            assert r.status_code == 304

            # a wrong password is refused (and must not be logged either)
            r = http.post(
                "/api/v1/auth/token",
                data={
                    "grant_type": "password",
                    "username": ADMIN_EMAIL,
                    "password": "wrong-" + ADMIN_PASSWORD,
                },
            )
            assert r.status_code == 401
    finally:
        returncode = stop(proc)

    assert returncode in (0, -signal.SIGTERM), returncode
    stdout = stdout_path.read_text()
    stderr = stderr_path.read_text()
    assert ADMIN_PASSWORD not in stdout
    assert ADMIN_PASSWORD not in stderr

    lines = [line for line in stdout.splitlines() if line.strip()]
    assert lines, f"no log lines on stdout; stderr:\n{stderr}"
    entries = []
    for line in lines:
        entry = json.loads(line)  # every stdout line is one JSON object
        assert isinstance(entry, dict), line
        entries.append(entry)
    access = [e for e in entries if e.get("logger") == "berdaya.access"]
    # healthz polls, readyz, token, create, list, get, 304, failed token
    assert len(access) >= 7, entries
    for entry in access:
        for key in ("request_id", "route", "status", "duration_ms"):
            assert key in entry, (key, entry)
        assert isinstance(entry["status"], int)
        assert isinstance(entry["duration_ms"], int | float)
    assert any(
        e["request_id"] == "proc-test-create-1" and e["status"] == 201 and e["method"] == "POST"
        for e in access
    )
    # the route template, never the concrete path (no ids in the log)
    assert not any(community["id"] in line for line in lines)
    assert {e["status"] for e in access} >= {200, 201, 304, 401}


def _berdaya(
    env: dict[str, str], cwd: Path, *args: str, stdin: str
) -> subprocess.CompletedProcess[str]:
    """Run one ``berdaya`` command to its end, its output captured as text."""
    return subprocess.run(
        [str(BERDAYA), *args],
        input=stdin,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
    )


def _create_user(
    env: dict[str, str], cwd: Path, email: str, password: str, *flags: str
) -> subprocess.CompletedProcess[str]:
    args = ("create-user", "--email", email, "--role", "coordinator", *flags)
    return _berdaya(env, cwd, *args, stdin=password + "\n")


def test_create_user_command(database_url: str, tmp_path: Path) -> None:
    env = child_env(tmp_path / "data", database_url)
    password = "a-long-enough-password"
    result = _create_user(env, tmp_path, "x@berdaya.id", password, "--password-stdin")
    assert result.returncode == 0, result.stderr
    printed = result.stdout.strip()
    assert uuid.UUID(printed)
    assert password not in result.stdout + result.stderr

    # the same email again is refused
    again = _create_user(env, tmp_path, "x@berdaya.id", password, "--password-stdin")
    assert again.returncode != 0
    assert password not in again.stdout + again.stderr


def test_create_user_command_refuses_short_password(database_url: str, tmp_path: Path) -> None:
    env = child_env(tmp_path / "data", database_url)
    short = "short-pw1"  # 9 characters
    result = _create_user(env, tmp_path, "y@berdaya.id", short, "--password-stdin")
    assert result.returncode != 0
    assert not result.stdout.strip()
    assert short not in result.stdout + result.stderr
    assert "Traceback" not in result.stderr


def test_create_user_command_requires_password_stdin(database_url: str, tmp_path: Path) -> None:
    env = child_env(tmp_path / "data", database_url)
    result = _create_user(env, tmp_path, "z@berdaya.id", "a-long-enough-password")
    assert result.returncode != 0
    assert not result.stdout.strip()


def test_production_without_secrets_refuses_to_start(database_url: str, tmp_path: Path) -> None:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        env="production",
        database_url=database_url,
        data_dir=tmp_path,
    )
    with pytest.raises(ConfigError) as info:
        settings.ensure_secrets()
    assert "BERDAYA_JWT_PRIVATE_KEY" in str(info.value)
    # nothing was generated on disk
    assert not (tmp_path / "secrets").exists()


def test_production_serve_without_secrets_exits(fresh_database: str, tmp_path: Path) -> None:
    env = child_env(tmp_path / "data", fresh_database, BERDAYA_ENV="production")
    result = subprocess.run(
        [str(BERDAYA), "serve", "--port", str(free_port())],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode != 0
    assert "missing secrets" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "data" / "secrets").exists()


def test_seed_demo_on_the_embedded_database():
    """`berdaya seed-demo` without DATABASE_URL starts the embedded PostgreSQL under the data
    folder, migrates nothing itself, and fills it (the case `make run` users hit first)."""
    import shutil
    import tempfile

    # Outside pytest's basetemp: the embedded server runs as another user.
    data_dir = Path(tempfile.mkdtemp(prefix="berdaya-seed-"))
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["BERDAYA_DATA_DIR"] = str(data_dir)
    try:
        migrate = subprocess.run(
            [str(BERDAYA), "migrate"], env=env, capture_output=True, text=True, timeout=120
        )
        assert migrate.returncode == 0, migrate.stderr[-2000:]
        seeded = subprocess.run(
            [str(BERDAYA), "seed-demo"], env=env, capture_output=True, text=True, timeout=120
        )
        assert seeded.returncode == 0, seeded.stderr[-2000:]
        counts = json.loads(seeded.stdout)
        assert counts["communities"] == 8 and counts["programs"] == 8
        again = subprocess.run(
            [str(BERDAYA), "seed-demo"], env=env, capture_output=True, text=True, timeout=120
        )
        assert again.returncode != 0
        assert "Traceback" not in again.stderr
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
