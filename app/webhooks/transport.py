"""One HTTP POST to a receiver, safely: the target's resolved address is checked at every
send (SSRF), the connection goes to that checked address (no second lookup a DNS
rebinding could change), redirects are not followed, at most 1 KiB of the answer is
kept, and the whole attempt is bounded by 10 s. The only module of the app that makes
outbound requests (tests/platform/test_owasp.py holds it to that).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import httpx

TIMEOUT_SECONDS = 10.0
KEPT_RESPONSE_BYTES = 1024

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Client = httpx.AsyncClient  # the only module of the app that calls out (API.md §7)


@dataclass(frozen=True)
class Outcome:
    status_code: int | None
    duration_ms: int
    response: str | None = None
    error: str | None = None

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class RefusedTarget(Exception):
    """The target may not be called (scheme or address)."""


def _embedded_ipv4(ip: IPAddress) -> ipaddress.IPv4Address | None:
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return ip.ipv4_mapped
        if ip.sixtofour is not None:
            return ip.sixtofour
        if ip.teredo is not None:
            return ip.teredo[1]
        if ip in ipaddress.IPv6Network("64:ff9b::/96"):  # NAT64
            return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def is_public(ip: IPAddress) -> bool:
    """A globally routable unicast address: not loopback, private (RFC 1918, ULA),
    link-local (169.254/16 holds cloud metadata), shared (100.64/10), multicast,
    reserved or unspecified; IPv6 forms embedding an IPv4 address are judged by it."""
    embedded = _embedded_ipv4(ip)
    if embedded is not None:
        return is_public(embedded)
    return ip.is_global and not (
        ip.is_multicast or ip.is_loopback or ip.is_link_local or ip.is_reserved
    )


def check_url(url: str, *, allow_insecure: bool) -> None:
    """The URL's shape: https (plain http only when insecure targets are allowed)."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise RefusedTarget("the URL must be an absolute http(s) URL")
    if parts.scheme == "http" and not allow_insecure:
        raise RefusedTarget("the URL must use https")
    if parts.username or parts.password:
        raise RefusedTarget("the URL may not carry credentials")


async def resolve(host: str, port: int, *, allow_insecure: bool) -> IPAddress:
    """The address to connect to; every address the name resolves to must be public."""
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise RefusedTarget("the host name does not resolve") from exc
    addresses = [ipaddress.ip_address(info[4][0].split("%", 1)[0]) for info in infos]
    if not addresses:
        raise RefusedTarget("the host name does not resolve")
    if not allow_insecure:
        for address in addresses:
            if not is_public(address):
                raise RefusedTarget("the target address is not public")
    return addresses[0]


async def post(
    client: httpx.AsyncClient,
    url: str,
    headers: dict[str, str],
    body: bytes,
    *,
    allow_insecure: bool,
    timeout: float = TIMEOUT_SECONDS,  # noqa: ASYNC109
) -> Outcome:
    """POST ``body``; never raises for the receiver's or the network's faults."""
    started = time.monotonic()

    def elapsed() -> int:
        return int((time.monotonic() - started) * 1000)

    try:
        check_url(url, allow_insecure=allow_insecure)
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port or (443 if parts.scheme == "https" else 80)
        async with asyncio.timeout(timeout):
            address = await resolve(host, port, allow_insecure=allow_insecure)
            literal = f"[{address}]" if address.version == 6 else str(address)
            pinned = urlunsplit(
                (parts.scheme, f"{literal}:{port}", parts.path or "/", parts.query, "")
            )
            host_header = host if parts.port is None else f"{host}:{parts.port}"
            request = client.build_request(
                "POST",
                pinned,
                content=body,
                headers={**headers, "host": host_header},
                extensions={"sni_hostname": host} if parts.scheme == "https" else {},
            )
            response = await client.send(request, stream=True, follow_redirects=False)
            try:
                kept = b""
                async for chunk in response.aiter_raw():
                    kept += chunk
                    if len(kept) >= KEPT_RESPONSE_BYTES:
                        break
            finally:
                await response.aclose()
        text = kept[:KEPT_RESPONSE_BYTES].decode("utf-8", "replace")
        return Outcome(response.status_code, elapsed(), response=text or None)
    except RefusedTarget as exc:
        return Outcome(None, elapsed(), error=f"refused: {exc}")
    except TimeoutError:
        return Outcome(None, elapsed(), error=f"timeout after {timeout:g} s")
    except httpx.HTTPError as exc:
        return Outcome(None, elapsed(), error=f"network: {type(exc).__name__}")


def new_client() -> httpx.AsyncClient:
    """The dispatcher's client: no environment proxies, no redirects, TLS verified."""
    return httpx.AsyncClient(
        follow_redirects=False,
        trust_env=False,
        timeout=httpx.Timeout(TIMEOUT_SECONDS),
        limits=httpx.Limits(max_connections=50, max_keepalive_connections=10),
    )
