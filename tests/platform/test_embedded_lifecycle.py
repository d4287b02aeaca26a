"""``berdaya serve`` on the embedded PostgreSQL (``make run``) stops that server however it
ends: SIGTERM (docker stop, systemd, kill), SIGINT (Ctrl-C), or a crash at start. An orphan
would keep running on the data folder."""

from __future__ import annotations

import json
import shutil
import signal
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from tests.platform.serving import BERDAYA, child_env, free_port, serve, stop, wait_until_up


@pytest.fixture
def data_dir() -> Iterator[Path]:
    # Outside pytest's basetemp: the embedded server may run as another system user.
    folder = Path(tempfile.mkdtemp(prefix="berdaya-lifecycle-"))
    try:
        yield folder
    finally:
        _kill_leftover(folder / "pg")
        shutil.rmtree(folder, ignore_errors=True)


def _postmaster(pgdata: Path) -> psutil.Process | None:
    """The running server of ``pgdata``, if any."""
    pid_file = pgdata / "postmaster.pid"
    if not pid_file.exists():
        return None
    try:
        process = psutil.Process(int(pid_file.read_text().split()[0]))
    except (psutil.Error, ValueError, IndexError):
        return None
    return process if _alive(process) else None


def _alive(process: psutil.Process) -> bool:
    """Running, and not a zombie (an exited server nobody reaped, e.g. under a bare PID 1)."""
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _kill_leftover(pgdata: Path) -> None:
    process = _postmaster(pgdata)
    if process is not None:
        process.send_signal(signal.SIGQUIT)  # immediate shutdown
        try:
            process.wait(10)
        except psutil.TimeoutExpired:
            process.kill()


def _serve_then_signal(data_dir: Path, sig: int, tag: str) -> int:
    pgdata = data_dir / "pg"
    port = free_port()
    log = data_dir / f"serve-{tag}.log"
    proc = serve(child_env(data_dir), port, log, data_dir)
    try:
        wait_until_up(port, proc, log, timeout=120)
        server = _postmaster(pgdata)
        assert server is not None, "the embedded server is not running"
    finally:
        code = stop(proc, sig)
    assert _postmaster(pgdata) is None, f"PostgreSQL left running after {tag}:\n{log.read_text()}"
    assert not _alive(server)
    assert not (pgdata / "postmaster.pid").exists()
    return code


def test_serve_stops_its_embedded_postgres_on_sigterm_and_sigint(data_dir: Path) -> None:
    code = _serve_then_signal(data_dir, signal.SIGTERM, "sigterm")
    assert code in (0, 128 + signal.SIGTERM), code
    # A process killed outright (kill -9) never unregisters from the server; that must not
    # keep the next run from stopping it.
    users = data_dir / "pg" / ".handle_pids.json"
    users.write_text(json.dumps([_dead_pid()]))
    _serve_then_signal(data_dir, signal.SIGINT, "sigint")


def test_serve_stops_its_embedded_postgres_when_it_cannot_start(data_dir: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [str(BERDAYA), "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=child_env(data_dir),
            cwd=data_dir,
            capture_output=True,
            text=True,
            timeout=180,
            stdin=subprocess.DEVNULL,
        )
    assert result.returncode != 0, result.stderr[-2000:]
    assert _postmaster(data_dir / "pg") is None, result.stderr[-2000:]
    assert not (data_dir / "pg" / "postmaster.pid").exists()


def _dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    assert not psutil.pid_exists(proc.pid)
    return proc.pid
