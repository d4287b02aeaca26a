"""The ``berdaya`` command: serve, migrate, create-user, seed-demo, reencrypt-pii, openapi."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import signal
import sys
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

from app.core.config import ConfigError, Settings, get_settings
from app.core.errors import AppError

OPENAPI_PATH = Path(__file__).resolve().parent.parent / "openapi" / "openapi.json"


def _database_url(settings: Settings) -> str:
    """The configured database, or the embedded one under the data folder (started here,
    stopped when the command ends however it ends: see ``main``)."""
    if settings.database_url:
        return settings.database_url
    from app.core.db import start_embedded, stop_embedded

    _exit_on_termination()
    _at_end.append(stop_embedded)
    url = start_embedded(settings.data_dir)
    os.environ["DATABASE_URL"] = url  # workers and Alembic inherit it
    settings.database_url = url
    return url


_at_end: list[Callable[[], None]] = []  # run by ``main`` on every way out


def _exit_on_termination() -> None:
    """SIGTERM and SIGHUP end the process the way Ctrl-C does: by an exception, so that
    ``main`` still stops the embedded PostgreSQL. Their default action kills the process
    on the spot (uvicorn raises the signal again after its graceful shutdown), leaving the
    server running and holding the data folder."""
    if threading.current_thread() is not threading.main_thread():
        return  # only the main thread may set handlers (a command run from a test, say)
    for name in ("SIGTERM", "SIGHUP"):
        sig = getattr(signal, name, None)
        if sig is not None and signal.getsignal(sig) is not signal.SIG_IGN:  # nohup stays
            signal.signal(sig, _raise_exit)


def _raise_exit(signum: int, frame: object) -> None:
    signal.signal(signum, signal.SIG_IGN)  # a second one must not cut the clean-up short
    raise SystemExit(128 + signum)


def migrate(settings: Settings) -> None:
    from alembic import command
    from alembic.config import Config

    from app.main import MIGRATIONS_DIR

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["configure_logger"] = False
    # Migrations hold a session (locks, DDL): straight to PostgreSQL, never a pooler.
    url = settings.database_direct_url or _database_url(settings)
    config.cmd_opts = argparse.Namespace(x=[f"url={url}"])
    command.upgrade(config, "head")


async def _with_session(settings: Settings, work):
    from app.core.db import Database, create_engine

    # The URL (and the embedded server) is settled before the event loop starts.
    # A command may run long statements: it waits as long as the server lets one run.
    database = Database(
        create_engine(settings, wait_seconds=settings.db_statement_timeout_ms / 1000)
    )
    try:
        async with database.sessions() as session:
            result = await work(session)
            await session.commit()
            return result
    finally:
        await database.dispose()


def bootstrap_admin(settings: Settings) -> None:
    """Create the first admin when there are no users; print a generated password once."""
    from app import db_models  # noqa: F401
    from app.auth import service
    from app.auth.models import Role

    async def work(session):
        if await service.count_users(session):
            return None
        email = settings.admin_email or "admin@berdaya.local"
        password = settings.admin_password or secrets.token_urlsafe(18)
        await service.create_user(
            session, email=email, full_name="Administrator", role=Role.admin, password=password
        )
        return email, password, settings.admin_password is None

    _database_url(settings)
    created = asyncio.run(_with_session(settings, work))
    if created:
        email, password, generated = created
        print(f"First admin created: {email}", file=sys.stderr)
        if generated:
            print(f"Generated password (shown once): {password}", file=sys.stderr)


def cmd_serve(args: argparse.Namespace) -> None:
    import uvicorn

    settings = get_settings()
    settings.ensure_secrets()
    _database_url(settings)
    if settings.migrate_on_start:  # else a migration job does it (and the first admin
        migrate(settings)  # is made with `berdaya create-user`): deploy/kubernetes
        bootstrap_admin(settings)
    # Each worker sizes its pool from the instance's connection budget (Settings).
    os.environ["BERDAYA_WORKERS"] = str(args.workers)
    uvicorn.run(
        "app.main:create_app",
        factory=True,
        host=args.host or settings.host,
        port=args.port or settings.port,
        workers=args.workers,
        log_level="warning",
        proxy_headers=True,
        server_header=False,
    )


def cmd_migrate(_: argparse.Namespace) -> None:
    migrate(get_settings())


def cmd_create_user(args: argparse.Namespace) -> None:
    from app import db_models  # noqa: F401
    from app.auth import service
    from app.auth.models import Role
    from app.core.errors import AppError

    if not args.password_stdin:
        sys.exit("--password-stdin is required: passwords are never taken from arguments")
    password = sys.stdin.readline().rstrip("\n")
    settings = get_settings()

    async def work(session):
        user = await service.create_user(
            session,
            email=args.email,
            full_name=args.full_name or args.email,
            role=Role(args.role),
            password=password,
            organization_id=args.organization_id,
        )
        return user.id

    _database_url(settings)
    try:
        print(asyncio.run(_with_session(settings, work)))
    except AppError as exc:
        sys.exit(f"error: {exc.detail}")


def _personal_data(settings: Settings):
    from app.core.pii import Hasher, PersonalData, PiiCipher

    settings.ensure_secrets()
    return PersonalData(
        cipher=PiiCipher.from_config(settings.pii_keys),
        hasher=Hasher.from_config(settings.pii_hmac_key or "", settings.pseudonym_key or ""),
    )


def cmd_seed_demo(_: argparse.Namespace) -> None:
    from app import db_models  # noqa: F401
    from app.demo import seed

    settings = get_settings()
    personal = _personal_data(settings)
    _database_url(settings)
    summary = asyncio.run(_with_session(settings, lambda session: seed(session, personal)))
    print(json.dumps(summary, indent=2))


def cmd_reencrypt_pii(_: argparse.Namespace) -> None:
    """After putting a new key first in BERDAYA_PII_KEYS: re-encrypt every stored value."""
    from app import db_models  # noqa: F401
    from app.people.service import reencrypt_all

    settings = get_settings()
    cipher = _personal_data(settings).cipher
    _database_url(settings)
    changed = asyncio.run(_with_session(settings, lambda session: reencrypt_all(session, cipher)))
    print(f"re-encrypted {changed} people under key {cipher.current_kid}")


def cmd_dispatch(_: argparse.Namespace) -> None:
    """The webhook dispatcher as its own process (API.md §7); runs until SIGTERM/Ctrl-C."""
    import contextlib

    from app import db_models  # noqa: F401
    from app.core.db import Database, create_engine
    from app.webhooks.dispatcher import from_settings

    settings = get_settings()
    cipher = _personal_data(settings).cipher
    _database_url(settings)
    _exit_on_termination()

    async def run() -> None:
        database = Database(create_engine(settings))
        stop = asyncio.Event()
        try:
            await from_settings(database, cipher, settings).run(stop)
        finally:
            await database.dispose()

    print("webhook dispatcher running", file=sys.stderr, flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run())


def cmd_sync_purge(args: argparse.Namespace) -> None:
    """Drop the sync change log and device mutations past their retention (run daily)."""
    from app import db_models  # noqa: F401
    from app.sync.service import purge

    settings = get_settings()
    _database_url(settings)
    changes, mutations = asyncio.run(
        _with_session(
            settings,
            lambda session: purge(
                session,
                change_days=args.days or settings.sync_change_retention_days,
                mutation_days=settings.sync_mutation_retention_days,
            ),
        )
    )
    print(f"purged {changes} change log entries and {mutations} remembered mutations")


def cmd_openapi(args: argparse.Namespace) -> None:
    document = render_openapi()
    if args.check:
        current = OPENAPI_PATH.read_text() if OPENAPI_PATH.exists() else ""
        if current != document:
            sys.exit("openapi/openapi.json differs from the app: run `berdaya openapi`")
        print("openapi/openapi.json is up to date")
        return
    OPENAPI_PATH.parent.mkdir(exist_ok=True)
    OPENAPI_PATH.write_text(document)
    print(f"wrote {OPENAPI_PATH}")


def render_openapi() -> str:
    from app.main import create_app

    with_secrets = Settings(
        _env_file=None,
        database_url="postgresql://unused@localhost/unused",
        data_dir=Path(tempfile.gettempdir()) / "berdaya-openapi",
        docs_enabled=True,
        cors_origins=[],
    )
    app = create_app(with_secrets)
    return json.dumps(app.openapi(), indent=2, ensure_ascii=False, sort_keys=False) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="berdaya", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the API server")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--workers", type=int, default=1)
    serve.set_defaults(func=cmd_serve)

    sub.add_parser("migrate", help="alembic upgrade head").set_defaults(func=cmd_migrate)

    create_user = sub.add_parser("create-user", help="create a user; prints its id")
    create_user.add_argument("--email", required=True)
    create_user.add_argument(
        "--role",
        required=True,
        choices=["admin", "coordinator", "facilitator", "analyst", "partner"],
    )
    create_user.add_argument("--full-name")
    create_user.add_argument("--organization-id")
    create_user.add_argument("--password-stdin", action="store_true")
    create_user.set_defaults(func=cmd_create_user)

    sub.add_parser("seed-demo", help="fill an empty database with demo data").set_defaults(
        func=cmd_seed_demo
    )

    sub.add_parser(
        "reencrypt-pii", help="re-encrypt personal fields under the current (first) key"
    ).set_defaults(func=cmd_reencrypt_pii)

    sub.add_parser(
        "dispatch", help="run the webhook dispatcher (also inside serve unless external)"
    ).set_defaults(func=cmd_dispatch)

    sync_purge = sub.add_parser(
        "sync-purge", help="drop the sync change log and device mutations past retention"
    )
    sync_purge.add_argument("--days", type=int, help="change log days kept (at least 180)")
    sync_purge.set_defaults(func=cmd_sync_purge)

    openapi = sub.add_parser("openapi", help="write openapi/openapi.json")
    openapi.add_argument("--check", action="store_true")
    openapi.set_defaults(func=cmd_openapi)

    args = parser.parse_args(argv)
    try:
        args.func(args)
    except ConfigError as exc:  # a startup error: one clear line, no traceback
        sys.exit(f"error: {exc}")
    except AppError as exc:  # a refused command (e.g. seed-demo on a filled database)
        sys.exit(f"error: {exc.detail}")
    finally:
        while _at_end:
            _at_end.pop()()


if __name__ == "__main__":
    main()
