"""Shared helpers of the benchmark: processes, ports, readiness, RSS."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
PYTHON = sys.executable
API = "/api/v1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_ready(base: str, path: str = "/healthz", timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(base + path, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    raise SystemExit(f"{base}{path} did not answer within {timeout:.0f} s")


def start_berdaya(data_dir: Path, database_url: str, port: int, workers: int) -> subprocess.Popen:
    env = {
        **os.environ,
        "BERDAYA_DATA_DIR": str(data_dir),
        "DATABASE_URL": database_url,
        "BERDAYA_LOG_LEVEL": "WARNING",
        # One connection pool per worker; 32 client connections shared by the workers.
        "BERDAYA_DB_POOL_SIZE": "20",
    }
    cmd = [PYTHON, "-m", "app.cli", "serve", "--port", str(port), "--workers", str(workers)]
    berdaya = Path(PYTHON).with_name("berdaya")
    if berdaya.exists():
        cmd = [str(berdaya), "serve", "--port", str(port), "--workers", str(workers)]
    return subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL)


def start_floor(dsn: str, port: int, workers: int) -> subprocess.Popen:
    return _uvicorn("floor:app", {"FLOOR_DSN": dsn}, port, workers)


def start_peer(dsn: str, secret: str, port: int, workers: int) -> subprocess.Popen:
    """The template-style peer (bench/peer.py) on the same database, psycopg 3 driver."""
    url = dsn.replace("postgresql://", "postgresql+psycopg://", 1)
    return _uvicorn("peer:app", {"PEER_DSN": url, "PEER_SECRET": secret}, port, workers)


def _uvicorn(target: str, env: dict[str, str], port: int, workers: int) -> subprocess.Popen:
    cmd = [
        PYTHON,
        "-m",
        "uvicorn",
        target,
        "--app-dir",
        str(BENCH),
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--log-level",
        "warning",
        "--no-access-log",
        "--no-server-header",
    ]
    full_env = {**os.environ, **env, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(cmd, env=full_env, cwd=ROOT, stdout=subprocess.DEVNULL)


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        tree.setdefault(ppid, []).append(int(entry))
    return tree


def rss_mb(pid: int) -> float:
    """Resident memory of a process and all its descendants (uvicorn workers), in MB."""
    tree = _children()
    total = 0
    stack = [pid]
    while stack:
        current = stack.pop()
        stack.extend(tree.get(current, []))
        try:
            for line in Path(f"/proc/{current}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024
