"""Request bodies the server must not wait for: a body that never arrives (408 after
BERDAYA_BODY_TIMEOUT_SECONDS), and a large body nobody may send (an unauthenticated or
unknown-route request over the normal 1 MiB limit: refused before it is read)."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest

from app.auth.models import Role
from tests.conftest import token_for
from tests.platform.serving import child_env, free_port, serve, stop, wait_until_up

BATCH = "/api/v1/participation-records/batch"
BODY_TIMEOUT = 2  # seconds, for the server process below
EIGHT_MIB = 9_000_000  # ~8.6 MiB, the size of the black-box finding


@pytest.fixture(scope="module")
def server(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """A real server on the test database with a short body timeout; its port."""
    folder = tmp_path_factory.mktemp("bodies")
    port = free_port()
    env = child_env(folder / "data", database_url, BERDAYA_BODY_TIMEOUT_SECONDS=str(BODY_TIMEOUT))
    log = folder / "server.log"
    proc = serve(env, port, log, folder)
    try:
        wait_until_up(port, proc, log, timeout=60)
        yield port
    finally:
        stop(proc)


def _exchange(port: int, head: str, body: bytes = b"", wait: float = 15) -> tuple[bytes, float]:
    """Send ``head`` and ``body`` on a raw socket (the body may be shorter than declared);
    the raw response and how long it took to come."""
    with socket.create_connection(("127.0.0.1", port), timeout=wait) as sock:
        started = time.monotonic()
        sock.sendall(head.replace("\n", "\r\n").encode() + b"\r\n" + body)
        received = b""
        try:
            while b"\r\n\r\n" not in received or not _complete(received):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                received += chunk
        except TimeoutError:
            pytest.fail(f"no answer within {wait}s; got {received[:200]!r}")
        return received, time.monotonic() - started


def _complete(raw: bytes) -> bool:
    head, _, body = raw.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return len(body) >= int(line.split(b":", 1)[1])
    return False


def _problem(raw: bytes, status: int) -> dict[str, Any]:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    assert lines[0].split(" ")[1] == str(status), raw[:500]
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    assert headers["content-type"].startswith("application/problem+json"), headers
    problem: dict[str, Any] = json.loads(body)
    assert problem["status"] == status
    return {**problem, "_headers": headers}


def test_a_body_that_never_arrives_is_408(server: int) -> None:
    head = (
        "POST /api/v1/communities HTTP/1.1\nHost: localhost\n"
        "Content-Type: application/json\nContent-Length: 1000\n"
    )
    raw, took = _exchange(server, head, b'{"name": ')  # 9 of the 1000 bytes, then nothing
    problem = _problem(raw, 408)
    assert problem["_headers"].get("connection") == "close"
    assert BODY_TIMEOUT <= took < BODY_TIMEOUT + 3, took


def test_a_body_that_arrives_in_time_is_read(server: int) -> None:
    body = b'{"name": "x"}'
    head = (
        "POST /api/v1/communities HTTP/1.1\nHost: localhost\n"
        f"Content-Type: application/json\nContent-Length: {len(body)}\n"
    )
    raw, _ = _exchange(server, head, body)
    _problem(raw, 401)  # read, then refused for the missing token


def test_a_large_unauthenticated_batch_is_refused_before_it_is_read(server: int) -> None:
    head = (
        f"POST {BATCH} HTTP/1.1\nHost: localhost\n"
        f"Content-Type: application/json\nContent-Length: {EIGHT_MIB}\n"
    )
    raw, took = _exchange(server, head, b'{"rows": [')  # the server must not wait for more
    problem = _problem(raw, 401)
    assert problem["_headers"]["www-authenticate"] == "Bearer"
    assert took < 1, took


def test_a_large_body_to_an_unknown_batch_route_is_refused_before_it_is_read(server: int) -> None:
    for path in ("/api/v1/nothing/batch", "/api/v1/communities/batch", "/batch"):
        head = (
            f"POST {path} HTTP/1.1\nHost: localhost\nAuthorization: Bearer x\n"
            f"Content-Type: application/json\nContent-Length: {EIGHT_MIB}\n"
        )
        raw, took = _exchange(server, head)
        _problem(raw, 404)
        assert took < 1, (path, took)


# --- in process: what exactly is read -----------------------------------------------------------


async def _call(
    app: Any, path: str, headers: list[tuple[bytes, bytes]], pieces: list[bytes]
) -> tuple[list[dict[str, Any]], int]:
    """Drive the ASGI app directly; the messages sent, and how many body pieces it read."""
    sent: list[dict[str, Any]] = []
    read = 0

    async def receive() -> dict[str, Any]:
        nonlocal read
        if read < len(pieces):
            read += 1
            return {"type": "http.request", "body": pieces[read - 1], "more_body": True}
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"test"), (b"content-type", b"application/json"), *headers],
        "client": ("10.9.9.9", 1234),
        "server": ("test", 80),
        "state": {},
    }
    await app(scope, receive, send)
    return sent, read


MIB = 1024 * 1024
PIECES = [b" " * (256 * 1024)] * 34  # 8.5 MiB, streamed (no Content-Length)


async def test_unauthenticated_batch_body_is_not_read(app: Any) -> None:
    declared = [(b"content-length", str(EIGHT_MIB).encode())]
    sent, read = await _call(app, BATCH, declared, PIECES)
    assert sent[0]["status"] == 401 and read == 0
    # streamed: refused once it passes the normal limit, not at the batch limit
    sent, read = await _call(app, BATCH, [], PIECES)
    assert sent[0]["status"] == 401
    assert read * 256 * 1024 <= MIB + 256 * 1024


async def test_unknown_batch_route_body_is_not_read(app: Any, make_user: Any) -> None:
    token = token_for(app, (await make_user(Role.admin)).id)
    auth = (b"authorization", f"Bearer {token}".encode())
    declared = (b"content-length", str(EIGHT_MIB).encode())
    for path in ("/api/v1/nothing/batch", "/api/v1/communities/batch"):
        sent, read = await _call(app, path, [auth, declared], PIECES)
        assert sent[0]["status"] == 404 and read == 0, path
    # the real batch route with a token still gets its 10 MiB
    sent, read = await _call(app, BATCH, [auth, declared], PIECES)
    assert read == len(PIECES)
    assert sent[0]["status"] == 422  # read in full, then refused as invalid JSON content
