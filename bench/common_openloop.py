"""An open-loop (constant-throughput) load generator for the event path, run as a process
of its own; wrk2's -R, which Debian's wrk lacks.

    python bench/common_openloop.py --url http://127.0.0.1:8000/graphql --token T \\
        --rate 200 --duration 15 --bodies bodies.txt --tag run1 --output out.json

The request bodies are bench/event_mix.py's templates, one a line (``live_bodies``),
filled as bench/wrk/record_transaction.lua fills them; ``start`` writes them.

Request i is due at start + i/rate whatever happened to the others: it is sent then on an
idle keep-alive connection, or a new one (up to --max-connections), or, when all are busy,
as soon as one frees up. Its latency is measured from when it was due, not from when it
could be sent, so a stalled server shows up in the latency instead of slowing the
schedule (no coordinated omission). The client is a few lines of HTTP/1.1 over asyncio
streams, cheap enough not to compete with the server for the CPU.

With ``--warmup S`` it first sends at the same rate for S seconds, on the same schedule and
connections, and records none of it: the measured requests find the connections open and
the server's caches warm, as wrk's warm-up leaves them (wrk2 likewise leaves its first
seconds out). The output file holds every measured request as [due (s after the measured
start), latency (ms), ok], the wall clock of the measured start, and the generator's own
lag behind the schedule."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import subprocess
import sys
import time
from collections import deque
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from event_mix import FIRST_USER_ID, Filler, customers, live_bodies, read_bodies, write_bodies

BODIES = 20_000  # templates written by ``start``; the generator goes round them


Connection = tuple[asyncio.StreamReader, asyncio.StreamWriter]
# uvicorn closes a keep-alive connection idle for 5 s; one idle this long is not reused.
IDLE_LIMIT = 3.0


class _Pool:
    """Keep-alive connections to one server, opened on demand up to a limit."""

    def __init__(self, host: str, port: int, limit: int) -> None:
        self.host, self.port, self.limit = host, port, limit
        self.idle: list[tuple[Connection, float]] = []
        self.waiters: deque[asyncio.Future[Any]] = deque()
        self.total = 0
        self.opened = 0

    async def acquire(self) -> tuple[Connection, bool]:
        """A connection, and whether it served a request before."""
        while self.idle:
            conn, since = self.idle.pop()
            if time.perf_counter() - since < IDLE_LIMIT:
                return conn, True
            conn[1].close()
            self.total -= 1
        if self.total < self.limit:
            return await self._open(), False
        waiter: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.waiters.append(waiter)
        result: tuple[Connection, bool] = await waiter
        return result

    async def _open(self) -> Connection:
        self.total += 1
        try:
            conn = await asyncio.open_connection(self.host, self.port)
        except BaseException:
            self.total -= 1
            raise
        self.opened += 1
        return conn

    def release(self, conn: Connection, reused: bool = True) -> None:
        while self.waiters:
            waiter = self.waiters.popleft()
            if not waiter.done():
                waiter.set_result((conn, reused))
                return
        self.idle.append((conn, time.perf_counter()))

    def discard(self, conn: Connection) -> None:
        conn[1].close()
        self.total -= 1
        if self.waiters:
            asyncio.get_running_loop().create_task(self._replace())

    async def _replace(self) -> None:
        with contextlib.suppress(OSError):
            self.release(await self._open(), reused=False)

    def close(self) -> None:
        for (_, writer), _since in self.idle:
            writer.close()


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip().lower()
    if "content-length" in headers:
        body = await reader.readexactly(int(headers["content-length"]))
    elif headers.get("transfer-encoding") == "chunked":
        parts = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip(), 16)
            parts.append(await reader.readexactly(size + 2))
            if size == 0:
                break
        body = b"".join(part[:-2] for part in parts)
    else:
        body = await reader.read()
    return status, body, headers.get("connection") != "close"


def _ok(status: int, body: bytes) -> bool:
    return status == 200 and b'"errors"' not in body and b'"accepted":false' not in body


async def _run(args: argparse.Namespace) -> dict[str, Any]:
    parts = urlsplit(args.url)
    host, port, path = parts.hostname or "127.0.0.1", parts.port or 80, parts.path or "/"
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
        f"Authorization: Bearer {args.token}\r\n"
    )
    pool = _Pool(host, port, args.max_connections)
    rng = random.Random(args.seed)
    total = int(args.rate * args.duration)
    warm = int(args.rate * args.warmup)
    records: list[list[float] | None] = [None] * total
    loop = asyncio.get_running_loop()
    # Not loop.time(): uvloop's clock has millisecond resolution and is cached per turn.
    clock = time.perf_counter
    errors: list[str] = []

    templates = read_bodies(args.bodies)
    filler = Filler(args.tag)
    first = rng.randrange(len(templates))

    def request(i: int) -> bytes:
        at = datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
        body = filler.fill(templates[(first + i) % len(templates)], at).encode()
        return (head + f"Content-Length: {len(body)}\r\n\r\n").encode() + body

    async def exchange(payload: bytes) -> tuple[int, bytes]:
        for attempt in (1, 2):
            conn, reused = await pool.acquire()
            try:
                conn[1].write(payload)
                status, body, keep = await _read_response(conn[0])
            except (OSError, asyncio.IncompleteReadError):
                pool.discard(conn)
                # The server closed a kept-alive connection: resend once on a new one, as
                # HTTP clients do. The latency still counts from the request's due time.
                if reused and attempt == 1:
                    continue
                raise
            except BaseException:
                pool.discard(conn)
                raise
            if keep:
                pool.release(conn)
            else:
                pool.discard(conn)
            return status, body
        raise AssertionError("unreachable")

    async def one(i: int, due: float, payload: bytes) -> None:
        ok = False
        try:
            status, body = await asyncio.wait_for(exchange(payload), args.timeout)
            ok = _ok(status, body)
            if not ok and len(errors) < 5 and i >= warm:
                errors.append(f"HTTP {status}: {body[:300].decode(errors='replace')}")
        except (OSError, TimeoutError, asyncio.IncompleteReadError, ValueError) as exc:
            if len(errors) < 5 and i >= warm:
                errors.append(f"{type(exc).__name__} after {clock() - due:.1f} s")
        if i >= warm:
            records[i - warm] = [round(due - start, 6), round((clock() - due) * 1000, 3), int(ok)]

    if args.start_at:
        await asyncio.sleep(max(0.0, args.start_at - time.time()))
    # The measured part starts ``warm`` requests after the first is due.
    start = clock() + 0.05 + warm / args.rate
    wall_start = time.time() + (start - clock())
    tasks = []
    max_lag = 0.0
    for i in range(warm + total):
        due = start + (i - warm) / args.rate
        payload = request(i)
        delay = due - clock()
        if delay > 0:
            await asyncio.sleep(delay)
        max_lag = max(max_lag, clock() - due)
        tasks.append(loop.create_task(one(i, due, payload)))
    await asyncio.wait(tasks, timeout=args.timeout + 5)
    pool.close()
    done = [r for r in records if r is not None]
    unfinished = total - len(done)
    return {
        "rate": args.rate,
        "duration_s": args.duration,
        "wall_start": wall_start,
        "scheduled": total,
        "unfinished": unfinished,
        "connections_opened": pool.opened,
        "max_schedule_lag_ms": round(max_lag * 1000, 3),
        "error_samples": errors,
        "records": done,
    }


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--rate", type=float, required=True, help="requests per second")
    parser.add_argument("--duration", type=float, required=True, help="seconds measured")
    parser.add_argument(
        "--warmup", type=float, default=0.0, help="seconds sent first, at the rate, unrecorded"
    )
    parser.add_argument("--bodies", type=Path, required=True, help="request templates")
    parser.add_argument("--tag", required=True, help="makes this run's eventIds unique")
    parser.add_argument("--max-connections", type=int, default=64)
    parser.add_argument("--timeout", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--start-at", type=float, default=0.0, help="wall-clock start")
    parser.add_argument("--output", type=Path, required=True)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        import uvloop

        runner = uvloop.run
    except ImportError:  # pragma: no cover - uvloop is a dependency of the server
        runner = asyncio.run
    result = runner(_run(args))
    args.output.write_text(json.dumps(result))
    return 0


# -- used by the benchmarks --------------------------------------------------------------


def start(
    *,
    url: str,
    token: str,
    rate: float,
    duration: float,
    tag: str,
    output: Path,
    accounts: int = 0,
    kind: str = "plain",
    bodies: Path | None = None,
    start_at: float = 0.0,
    max_connections: int = 64,
    warmup: float = 0.0,
) -> subprocess.Popen[bytes]:
    """The generator as a child process; wait for it, then read ``output``. It sends
    ``bodies``, or else events of ``kind`` (bench/event_mix.py's ``live_bodies``) over the
    first ``accounts`` customers; ``warmup`` seconds of them first, unrecorded (its
    measured part starts ``warmup`` seconds after ``start_at``)."""
    if bodies is None:
        people = customers(FIRST_USER_ID, accounts)
        count = min(BODIES, max(1, int(rate * duration)))
        bodies = write_bodies(output.with_suffix(".bodies"), live_bodies(people, kind, count, 1))
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        f"--url={url}",
        f"--token={token}",
        f"--rate={rate}",
        f"--duration={duration}",
        f"--warmup={warmup}",
        f"--bodies={bodies}",
        f"--tag={tag}",
        f"--start-at={start_at}",
        f"--max-connections={max_connections}",
        f"--output={output}",
    ]
    return subprocess.Popen(command, stdin=subprocess.DEVNULL, start_new_session=True)


def finish(process: subprocess.Popen[bytes], output: Path, timeout: float) -> dict[str, Any]:
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        raise RuntimeError("the open-loop generator did not finish in time") from None
    if process.returncode != 0:
        raise RuntimeError(f"the open-loop generator exited with {process.returncode}")
    result: dict[str, Any] = json.loads(output.read_text())
    return result


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.kill()
        process.wait()


if __name__ == "__main__":
    raise SystemExit(main())
