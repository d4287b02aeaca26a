"""A real webhook receiver on loopback for the tests: every request is verified with
``standardwebhooks.Webhook.verify`` against the secrets the test gives it."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    verified_with: list[int]  # indexes of the secrets whose verification passed

    @property
    def payload(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.body)
        return data

    @property
    def webhook_id(self) -> str:
        return self.headers["webhook-id"]


class _Server(ThreadingHTTPServer):
    request_queue_size = 128  # many deliveries at once
    daemon_threads = True


@dataclass
class Receiver:
    """Answers with the next queued reply (default 204); ``hold`` keeps requests waiting
    until ``release`` (a receiver that hangs)."""

    secrets: list[str] = field(default_factory=list)
    replies: list[tuple[int, dict[str, str], bytes]] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    hold: threading.Event | None = None
    arrived: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks/berdaya"

    def reply(self, status: int, body: bytes = b"", **headers: str) -> None:
        self.replies.append((status, headers, body))

    def verified(self) -> list[Received]:
        return [r for r in self.received if r.verified_with]

    def ids(self) -> list[str]:
        return [r.webhook_id for r in self.received]

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                body = self.rfile.read(length)
                headers = {k.lower(): v for k, v in self.headers.items()}
                passed = []
                for index, secret in enumerate(receiver.secrets):
                    try:
                        Webhook(secret).verify(body, headers)
                        passed.append(index)
                    except WebhookVerificationError:
                        pass
                with receiver.lock:
                    receiver.received.append(Received(self.path, headers, body, passed))
                    status, extra, answer = (
                        receiver.replies.pop(0) if receiver.replies else (204, {}, b"")
                    )
                receiver.arrived.set()
                if receiver.hold is not None:
                    receiver.hold.wait(30)
                self.send_response(status)
                for name, value in extra.items():
                    self.send_header(name.replace("_", "-"), value)
                self.send_header("content-length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = _Server(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.hold is not None:
            self.hold.set()
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
