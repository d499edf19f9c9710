"""A small HTTP/1.1 load generator, run in a process of its own (never in the server's
event loop): the fallback when `wrk` is not installed, and the open-loop latency probe
of W3 (wrk cannot send at a fixed rate).

    python loadgen.py '<json spec>'      prints one line: LOADGEN {json result}

Spec: host, port, method, path, headers {}, body "" or body_template "...{n}..." with
body_range N (a random n in [0, N) per request), connections, duration (s), total (stop
after this many responses), rate (requests/s: open loop; latency counted from the
scheduled send time, so a stalled server is not hidden by a waiting client).
Keep-alive connections, Content-Length and chunked bodies; uvloop when installed.
"""

import asyncio
import json
import random
import sys
import time
from collections import Counter
from typing import Any


class Stats:
    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.statuses: Counter[int] = Counter()
        self.errors = 0
        self.issued = 0


def _request_bytes(spec: dict[str, Any]) -> bytes:
    template = spec.get("body_template")
    if template is not None:
        body = template.replace("{n}", str(random.randrange(spec["body_range"]))).encode()
    else:
        body = spec.get("body", "").encode()
    lines = [f"{spec.get('method', 'GET')} {spec['path']} HTTP/1.1", f"Host: {spec['host']}"]
    lines += [f"{name}: {value}" for name, value in spec.get("headers", {}).items()]
    if body or spec.get("method", "GET") != "GET":
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """The status of one response (its body read and dropped) and whether the server
    will close the connection."""
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length, chunked, close = 0, False, False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
        elif name == b"connection" and b"close" in value.lower():
            close = True
    if chunked:
        while True:
            size = int((await reader.readline()).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    elif length:
        await reader.readexactly(length)
    return status, close


class Connection:
    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def send(self) -> int:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(
                self.spec["host"], self.spec["port"]
            )
        assert self.reader is not None
        self.writer.write(_request_bytes(self.spec))
        status, close = await _read_response(self.reader)
        if close:
            self.close()
        return status

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


ERRORS = (OSError, asyncio.IncompleteReadError, asyncio.TimeoutError, ValueError)


async def _one(conn: Connection, stats: Stats, started: float, timeout: float) -> None:
    reused = conn.writer is not None
    try:
        status = await asyncio.wait_for(conn.send(), timeout)
    except ERRORS:
        conn.close()
        if not reused:
            stats.errors += 1
            return
        try:  # the server closed an idle keep-alive connection: once more, on a new one
            status = await asyncio.wait_for(conn.send(), timeout)
        except ERRORS:
            stats.errors += 1
            conn.close()
            return
    stats.latencies.append(time.perf_counter() - started)
    stats.statuses[status] += 1


async def closed_loop(spec: dict[str, Any], stats: Stats) -> None:
    deadline = time.perf_counter() + spec.get("duration", 3600)
    total = spec.get("total")
    timeout = spec.get("timeout", 30)

    async def worker() -> None:
        conn = Connection(spec)
        while time.perf_counter() < deadline and (total is None or stats.issued < total):
            stats.issued += 1
            await _one(conn, stats, time.perf_counter(), timeout)
        conn.close()

    await asyncio.gather(*(worker() for _ in range(spec.get("connections", 1))))


async def open_loop(spec: dict[str, Any], stats: Stats) -> None:
    interval = 1.0 / spec["rate"]
    count = int(spec.get("duration", 1) * spec["rate"])
    idle: list[Connection] = [Connection(spec) for _ in range(spec.get("connections", 1))]
    timeout = spec.get("timeout", 30)
    tasks = []

    async def fire(scheduled: float) -> None:
        conn = idle.pop() if idle else Connection(spec)
        await _one(conn, stats, scheduled, timeout)
        idle.append(conn)

    start = time.perf_counter()
    for index in range(count):
        scheduled = start + index * interval
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        stats.issued += 1
        tasks.append(asyncio.create_task(fire(scheduled)))
    await asyncio.gather(*tasks)
    for conn in idle:
        conn.close()


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of `values` (0 when empty)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(fraction * len(ordered) + 0.999999)))
    return ordered[rank - 1]


async def run(spec: dict[str, Any]) -> dict[str, Any]:
    stats = Stats()
    started = time.perf_counter()
    if spec.get("rate"):
        await open_loop(spec, stats)
    else:
        await closed_loop(spec, stats)
    elapsed = time.perf_counter() - started
    lat = stats.latencies
    non2xx = sum(n for code, n in stats.statuses.items() if not 200 <= code < 400)
    return {
        "requests": len(lat),
        "duration_s": elapsed,
        "rps": len(lat) / elapsed if elapsed else 0.0,
        "p50_ms": percentile(lat, 0.50) * 1000,
        "p90_ms": percentile(lat, 0.90) * 1000,
        "p99_ms": percentile(lat, 0.99) * 1000,
        "max_ms": max(lat, default=0.0) * 1000,
        "non2xx": non2xx,
        "errors": stats.errors,
        "statuses": {str(code): n for code, n in sorted(stats.statuses.items())},
    }


def main() -> None:
    spec = json.loads(sys.argv[1])
    try:
        import uvloop
    except ImportError:  # the project's .venv has it; plain asyncio otherwise
        result = asyncio.run(run(spec))
    else:
        result = uvloop.run(run(spec))
    print("LOADGEN " + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
