"""Load drivers: wrk (Debian's package, preferred) or a lean asyncio HTTP/1.1 driver.

Both keep N connections busy for a fixed time against a list of requests (chosen at
random for GETs, in order per connection for POSTs so every write is new), and return
requests/s, p50 and p99 in ms and the count of errors (transport errors and statuses
other than the expected ones).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx


@dataclass
class Result:
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    requests: int


@dataclass
class Load:
    """What to send: method, paths (one is picked per request) and optional bodies."""

    method: str
    paths: list[str]
    bodies: list[bytes] | None = None  # POST: one body per request, used in order
    headers: dict[str, str] | None = None


def ensure_wrk() -> str | None:
    """The wrk binary; tries Debian's package once (as root) when it is missing."""
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print("wrk not found: trying `apt-get install -y wrk`", flush=True)
        subprocess.run(
            ["apt-get", "install", "-y", "wrk"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=False,
        )
        return shutil.which("wrk")
    return None


_LUA = r"""
local paths = {}
for line in io.lines("%(paths)s") do paths[#paths + 1] = line end
local bodies = {}
%(load_bodies)s
local counter = 0
local started = 0
-- setup() runs in the main Lua state; thread:set() gives each thread's own state a
-- global thread_id (a chunk-level local of the same name would shadow it: every thread
-- would then send the same bodies, and every body twice).
function setup(thread)
  started = started + 1
  thread:set("thread_id", started)
end
function init(args)
  math.randomseed(os.time() + thread_id * 7919)
  counter = 0
end
wrk.method = "%(method)s"
%(headers)s
request = function()
  if #bodies > 0 then
    counter = counter + 1
    local i = ((counter * %(threads)d + thread_id - 1) %% #bodies) + 1
    return wrk.format(nil, paths[1], nil, bodies[i])
  end
  return wrk.format(nil, paths[math.random(#paths)])
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "RESULT {\"requests\": %%d, \"duration_us\": %%d, \"p50_us\": %%d, \"p99_us\": %%d, " ..
    "\"errors\": %%d}\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.timeout + e.status))
end
"""


def run_wrk(
    wrk: str, base: str, load: Load, seconds: float, connections: int, threads: int = 2
) -> Result:
    with tempfile.TemporaryDirectory(prefix="berdaya-wrk-") as tmp:
        paths_file = Path(tmp) / "paths.txt"
        paths_file.write_text("\n".join(load.paths) + "\n")
        load_bodies = ""
        if load.bodies:
            bodies_file = Path(tmp) / "bodies.txt"
            bodies_file.write_bytes(b"\n".join(load.bodies) + b"\n")
            load_bodies = f'for line in io.lines("{bodies_file}") do bodies[#bodies + 1] = line end'
        headers = "\n".join(f'wrk.headers["{k}"] = "{v}"' for k, v in (load.headers or {}).items())
        if load.bodies:
            headers += '\nwrk.headers["Content-Type"] = "application/json"'
        script = Path(tmp) / "load.lua"
        script.write_text(
            _LUA
            % {
                "paths": paths_file,
                "load_bodies": load_bodies,
                "method": load.method,
                "headers": headers,
                "threads": threads,
            }
        )
        out = subprocess.run(
            [
                wrk,
                f"-t{threads}",
                f"-c{connections}",
                f"-d{max(1, int(seconds))}s",
                "--timeout",
                "10s",
                "-s",
                str(script),
                base,
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        for line in out.stdout.splitlines():
            if line.startswith("RESULT "):
                data = json.loads(line[len("RESULT ") :])
                return Result(
                    rps=data["requests"] / (data["duration_us"] / 1e6),
                    p50_ms=data["p50_us"] / 1000,
                    p99_ms=data["p99_us"] / 1000,
                    errors=data["errors"],
                    requests=data["requests"],
                )
        raise RuntimeError(f"wrk gave no result: {out.stdout[-500:]} {out.stderr[-500:]}")


# --- the Python fallback ---------------------------------------------------------------------


async def _python_load(
    base: str, load: Load, seconds: float, connections: int
) -> tuple[list[float], int, float]:
    parts = urlsplit(base)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    extra = "".join(f"{k}: {v}\r\n" for k, v in (load.headers or {}).items())
    latencies: list[float] = []
    errors = 0
    counter = 0
    deadline = time.perf_counter() + seconds

    async def connection() -> None:
        nonlocal errors, counter
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while time.perf_counter() < deadline:
                if load.bodies:
                    body = load.bodies[counter % len(load.bodies)]
                    counter += 1
                    path = load.paths[0]
                    head = (
                        f"{load.method} {path} HTTP/1.1\r\nHost: {host}\r\n{extra}"
                        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
                    )
                    payload = head.encode() + body
                else:
                    path = random.choice(load.paths)
                    payload = (
                        f"{load.method} {path} HTTP/1.1\r\nHost: {host}\r\n{extra}\r\n".encode()
                    )
                started = time.perf_counter()
                writer.write(payload)
                status_line = await reader.readline()
                length = 0
                while True:
                    line = await reader.readline()
                    if line in (b"\r\n", b""):
                        break
                    if line[:15].lower() == b"content-length:":
                        length = int(line[15:])
                if length:
                    await reader.readexactly(length)
                latencies.append(time.perf_counter() - started)
                status = int(status_line.split()[1]) if status_line else 599
                if status >= 400:
                    errors += 1
        finally:
            writer.close()

    began = time.perf_counter()
    await asyncio.gather(*(connection() for _ in range(connections)))
    return latencies, errors, time.perf_counter() - began


def run_python(base: str, load: Load, seconds: float, connections: int) -> Result:
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    latencies, errors, elapsed = asyncio.run(_python_load(base, load, seconds, connections))
    latencies.sort()
    n = len(latencies)
    return Result(
        rps=n / elapsed,
        p50_ms=latencies[n // 2] * 1000 if n else 0.0,
        p99_ms=latencies[max(0, int(n * 0.99) - 1)] * 1000 if n else 0.0,
        errors=errors,
        requests=n,
    )


def probe(base: str, load: Load) -> None:
    """Send one request of ``load`` (its last body, which is then dropped) and stop the run
    unless it succeeds: a scenario must not measure error answers."""
    body = load.bodies.pop() if load.bodies else None
    headers = {**(load.headers or {}), **({"Content-Type": "application/json"} if body else {})}
    response = httpx.request(
        load.method, base + load.paths[0], content=body, headers=headers, timeout=60
    )
    if response.status_code >= 400:
        raise SystemExit(
            f"probe {load.method} {load.paths[0]}: {response.status_code} {response.text[:300]}"
        )


def drive(
    base: str, load: Load, seconds: float, connections: int, *, prefer_wrk: bool = True
) -> Result:
    probe(base, load)
    wrk = ensure_wrk() if prefer_wrk else None
    if wrk:
        return run_wrk(wrk, base, load, seconds, connections)
    return run_python(base, load, seconds, connections)


if __name__ == "__main__":  # quick self-check: python bench/driver.py http://127.0.0.1:8001/ping
    target = sys.argv[1]
    split = urlsplit(target)
    print(drive(f"{split.scheme}://{split.netloc}", Load("GET", [split.path]), 5, 32))
