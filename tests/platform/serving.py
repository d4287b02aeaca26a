"""Helpers to run a real ``berdaya serve`` process in a test (free port, clean environment)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
BERDAYA = ROOT / ".venv" / "bin" / "berdaya"
if not BERDAYA.exists():  # installed elsewhere: the console script next to this interpreter
    BERDAYA = Path(sys.executable).parent / "berdaya"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def child_env(data_dir: Path, database_url: str | None = None, **extra: str) -> dict[str, str]:
    """The parent's environment without any BERDAYA_ or database setting, plus these.
    Without ``database_url`` the server starts the embedded PostgreSQL under ``data_dir``."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("BERDAYA_") and k not in ("DATABASE_URL", "TEST_DATABASE_URL")
    }
    env.update(BERDAYA_DATA_DIR=str(data_dir), BERDAYA_ENV="development", PYTHONUNBUFFERED="1")
    if database_url:
        env["DATABASE_URL"] = database_url
    env.update(extra)
    return env


def serve(env: dict[str, str], port: int, log: Path, cwd: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [str(BERDAYA), "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=cwd,
        )


def wait_until_up(port: int, proc: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"the server exited with {proc.returncode}:\n{log.read_text()[-4000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    pytest.fail(f"the server did not come up in {timeout}s:\n{log.read_text()[-4000:]}")


def stop(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM, timeout: float = 30) -> int:
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
    return proc.returncode
