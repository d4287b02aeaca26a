"""SSRF protection and the limits of one send (no network beyond loopback)."""

from __future__ import annotations

import ipaddress
import threading

import httpx
import pytest

from app.webhooks import transport
from tests.webhooks.receiver import Receiver

REFUSED = [
    "127.0.0.1",
    "127.8.9.10",
    "0.0.0.0",
    "10.0.0.1",
    "172.16.5.4",
    "192.168.1.1",
    "169.254.169.254",  # cloud metadata
    "100.64.0.1",  # shared address space
    "100.100.100.200",  # a metadata service inside 100.64/10
    "224.0.0.1",
    "240.0.0.1",
    "::1",
    "::",
    "fc00::1",
    "fd00:ec2::254",  # IPv6 metadata
    "fe80::1",
    "ff02::1",
    "::ffff:127.0.0.1",  # IPv4-mapped
    "::ffff:169.254.169.254",
    "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
    "2002:7f00:1::1",  # 6to4 of 127.0.0.1
    "2001:db8::1",  # documentation
]
ALLOWED = ["93.184.215.14", "8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8"]


@pytest.mark.parametrize("address", REFUSED)
def test_private_and_special_addresses_are_refused(address: str) -> None:
    assert not transport.is_public(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ALLOWED)
def test_public_addresses_are_allowed(address: str) -> None:
    assert transport.is_public(ipaddress.ip_address(address))


async def test_loopback_refused_at_send_time_unless_insecure() -> None:
    receiver = Receiver().start()
    try:
        port = receiver.url.split(":")[2].split("/")[0]
        async with transport.new_client() as client:
            for url in (
                f"https://127.0.0.1:{port}/hooks",
                f"https://localhost:{port}/hooks",
                f"https://[::1]:{port}/hooks",
                receiver.url,  # plain http
            ):
                outcome = await transport.post(client, url, {}, b"{}", allow_insecure=False)
                assert outcome.status_code is None
                assert outcome.error is not None and outcome.error.startswith("refused")
            assert receiver.received == []
            outcome = await transport.post(client, receiver.url, {}, b"{}", allow_insecure=True)
            assert outcome.status_code == 204 and len(receiver.received) == 1
    finally:
        receiver.stop()


async def test_answer_kept_up_to_1_kib_redirects_not_followed_and_timeout() -> None:
    receiver = Receiver().start()
    try:
        async with transport.new_client() as client:
            receiver.reply(200, "é".encode() * 4000)
            outcome = await transport.post(client, receiver.url, {}, b"{}", allow_insecure=True)
            assert outcome.delivered and outcome.response is not None
            assert len(outcome.response.encode()) <= transport.KEPT_RESPONSE_BYTES + 3

            receiver.reply(307, Location="http://127.0.0.1:1/elsewhere")
            outcome = await transport.post(client, receiver.url, {}, b"{}", allow_insecure=True)
            assert outcome.status_code == 307 and not outcome.delivered
            assert len(receiver.received) == 2

            receiver.hold = threading.Event()  # the receiver hangs
            outcome = await transport.post(
                client, receiver.url, {}, b"{}", allow_insecure=True, timeout=0.5
            )
            assert outcome.status_code is None and outcome.error is not None
            assert outcome.error.startswith("timeout")
    finally:
        receiver.stop()


def test_the_default_timeout_is_10_seconds() -> None:
    assert transport.TIMEOUT_SECONDS == 10.0
    client = transport.new_client()
    assert client.timeout == httpx.Timeout(10.0)
    assert client.follow_redirects is False
