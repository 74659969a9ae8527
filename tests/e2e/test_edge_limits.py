"""The limits at the edge, against a real `account-alerts serve` process and raw sockets:
what a client that sends too much sees, and what everyone else still gets meanwhile."""

from __future__ import annotations

import json
import multiprocessing
import select
import socket
import statistics
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from account_alerts.config import Settings
from tests.support.processes import alerts_env, server_process

LIMIT = Settings().max_request_bytes
HUNDRED_MB = 100 * 1024 * 1024
# What loopback socket buffers may hold between the client and a server not reading.
IN_FLIGHT = 16 * 1024 * 1024


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    """One server on the zero-setup default (SQLite): its base URL and process id."""
    workdir = tmp_path_factory.mktemp("edge")
    env = alerts_env(database_url=f"sqlite:///{workdir / 'alerts.db'}")
    with server_process(env, workdir / "server.log") as (base, process):
        yield base, process.pid


def address(base: str) -> tuple[str, int]:
    parts = urlsplit(base)
    assert parts.hostname is not None and parts.port is not None
    return parts.hostname, parts.port


def peak_memory_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


def upload(base: str, head: bytes, body: Iterable[bytes]) -> tuple[bytes, int]:
    """Sends ``head``, then ``body`` as long as the server reads it, reading whatever the
    server answers meanwhile: (the response, the body bytes sent when it came)."""
    sock = socket.create_connection(address(base))
    sock.sendall(head)
    sock.setblocking(False)
    response, sent, pending = b"", 0, b""
    chunks = iter(body)
    try:
        while True:
            readable, writable, _ = select.select([sock], [sock], [], 30)
            if not readable and not writable:
                raise AssertionError("the server neither read nor answered for 30 s")
            if readable:
                data = sock.recv(65536)
                if not data:
                    break
                response += data
                continue
            pending = pending or next(chunks, b"")
            if not pending:
                sock.setblocking(True)
                sock.settimeout(30)
                while data := sock.recv(65536):
                    response += data
                break
            written = sock.send(pending)
            sent, pending = sent + written, pending[written:]
    except (BrokenPipeError, ConnectionResetError):
        # The server closed after answering; its answer may still be here to read.
        sock.setblocking(True)
        sock.settimeout(5)
        try:
            while data := sock.recv(65536):
                response += data
        except OSError:
            pass
    finally:
        sock.close()
    return response, sent


def post_head(length: int | None) -> bytes:
    framing = f"Content-Length: {length}" if length is not None else "Transfer-Encoding: chunked"
    return (
        f"POST /graphql HTTP/1.1\r\nHost: alerts.test\r\nContent-Type: application/json\r\n"
        f"{framing}\r\n\r\n"
    ).encode()


def comment_body(size: int, piece: int = 1 << 20) -> Iterator[bytes]:
    """A JSON body of ``size`` bytes whose query is one long comment, then a field."""
    opening, closing = b'{"query": "#', b'\\n{ __typename }"}'
    yield opening
    remaining = size - len(opening) - len(closing)
    while remaining > 0:
        yield b"x" * min(piece, remaining)
        remaining -= piece
    yield closing


def chunked(pieces: Iterable[bytes]) -> Iterator[bytes]:
    for piece in pieces:
        yield f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
    yield b"0\r\n\r\n"


def status_and_body(response: bytes) -> tuple[int, dict[str, object]]:
    head, _, body = response.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)


def test_a_200_mb_comment_is_refused_before_it_is_read(served: tuple[str, int]) -> None:
    base, pid = served
    size = 2 * HUNDRED_MB
    before = peak_memory_bytes(pid)
    started = time.monotonic()
    response, sent = upload(base, post_head(size), comment_body(size))
    elapsed = time.monotonic() - started
    status, body = status_and_body(response)
    assert status == 413
    assert body == {
        "errors": [
            {
                "message": f"the request body is larger than the limit of {LIMIT} bytes",
                "extensions": {"code": "BAD_USER_INPUT"},
            }
        ]
    }
    assert sent < IN_FLIGHT, sent
    assert elapsed < 5
    assert peak_memory_bytes(pid) - before < 20 * 1024 * 1024
    assert httpx.get(f"{base}/healthz").status_code == 200


def test_a_chunked_body_over_the_limit_is_refused_at_the_limit(served: tuple[str, int]) -> None:
    base, pid = served
    before = peak_memory_bytes(pid)
    response, sent = upload(base, post_head(None), chunked(comment_body(2 * HUNDRED_MB)))
    status, body = status_and_body(response)
    assert status == 413
    assert "larger than the limit" in str(body)
    # The server read up to the limit, no further (the rest is the sockets' buffers).
    assert LIMIT < sent < LIMIT + IN_FLIGHT, sent
    assert peak_memory_bytes(pid) - before < 40 * 1024 * 1024


def test_the_largest_legitimate_batch_fits_under_the_limit(served: tuple[str, int]) -> None:
    base, _ = served
    wide = "\U0001f3e6"  # four bytes in UTF-8
    login = {
        "eventId": "e" * 128,
        "mobileUserId": 2**31 - 1,
        "successful": True,
        "occurredAt": "2026-12-01T08:00:00.000000+02:00",
        "deviceId": wide * 255,
        "deviceName": wide * 255,
        "deviceModel": wide * 255,
        "deviceOs": wide * 255,
        "ipAddress": "f" * 45,
        "location": {"latitude": -15.786111, "longitude": 35.005833, "label": wide * 255},
        "loginMethod": "BIOMETRIC",
    }
    document = {
        "query": "mutation($inputs: [LoginEventInput!]!) { recordLogins(inputs: $inputs) "
        "{ accepted } }",
        "variables": {"inputs": [login] * 500},
    }
    body = json.dumps(document, ensure_ascii=False).encode()
    assert 2_500_000 < len(body) <= LIMIT
    response = httpx.post(
        f"{base}/graphql",
        content=body,
        headers={"Content-Type": "application/json"},
        timeout=30,
    )
    # Read, parsed and refused for want of a token: not for its size.
    assert response.status_code == 200
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


def test_headers_over_the_limit_are_refused_with_431(served: tuple[str, int]) -> None:
    base, _ = served
    limit = Settings().max_header_bytes
    sock = socket.create_connection(address(base))
    try:
        sock.settimeout(10)
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: alerts.test\r\n")
        try:
            for _ in range(64):
                sock.sendall(b"X-Padding: " + b"p" * 16_000 + b"\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass
        response = b""
        try:
            while data := sock.recv(65536):
                response += data
        except ConnectionResetError:
            pass
    finally:
        sock.close()
    assert response.startswith(b"HTTP/1.1 431 ")
    assert f"larger than the limit of {limit} bytes".encode() in response
    # A request with headers of ordinary size is answered as before.
    ordinary = httpx.get(f"{base}/healthz", headers={"X-Padding": "p" * 8_000})
    assert ordinary.status_code == 200


def send_oversized(kind: str, base: str, seconds: float) -> None:
    """One kind of oversized request, again and again for ``seconds`` (in a process of
    its own, so that the measuring client does not wait on it for the interpreter)."""
    deadline = time.monotonic() + seconds
    n = 0
    while time.monotonic() < deadline:
        n += 1
        if kind == "announced":
            response, _ = upload(base, post_head(2 * HUNDRED_MB), comment_body(2 * HUNDRED_MB))
            assert status_and_body(response)[0] == 413
        elif kind == "chunked":
            body = chunked(comment_body(LIMIT + 1024 * 1024))
            assert status_and_body(upload(base, post_head(None), body)[0])[0] == 413
        else:
            # Just under the document limit: a new document each time, parsed anew.
            query = f"#{n}" + "x" * 99_000 + "\n{ __typename }"
            answer = httpx.post(f"{base}/graphql", json={"query": query}, timeout=60)
            assert answer.json() == {"data": {"__typename": "Query"}}


def test_healthz_answers_within_100_ms_while_oversized_requests_arrive(
    served: tuple[str, int],
) -> None:
    base, _ = served
    window = 6.0
    spawn = multiprocessing.get_context("spawn")
    senders = [
        spawn.Process(target=send_oversized, args=(kind, base, window + 1))
        for kind in ("announced", "chunked", "long document")
    ]
    latencies: list[float] = []
    with httpx.Client(base_url=base, timeout=5) as client:
        client.get("/healthz")
        for sender in senders:
            sender.start()
        time.sleep(1)
        deadline = time.monotonic() + window - 1
        while time.monotonic() < deadline:
            started = time.perf_counter()
            response = client.get("/healthz")
            latencies.append(time.perf_counter() - started)
            assert response.json() == {"status": "ok"}
            time.sleep(0.05)
    for sender in senders:
        sender.join(timeout=60)
    assert [sender.exitcode for sender in senders] == [0, 0, 0]
    latencies.sort()
    p95 = latencies[int(len(latencies) * 0.95)]
    print(
        f"/healthz under load: {len(latencies)} requests, median "
        f"{statistics.median(latencies) * 1000:.1f} ms, 95th percentile {p95 * 1000:.1f} ms, "
        f"max {latencies[-1] * 1000:.1f} ms"
    )
    # On a shared machine the scheduler alone can hold a probe back now and then (an
    # idle server's slowest of 60 reached 30 ms here, and once, in a full run, a single
    # probe of about 90 took 1.4 s while the others stayed under 20 ms). A loop blocked by
    # oversized requests holds back every probe that meets one, so the bounds are on the
    # 95th percentile and on the second slowest probe, far from the seconds a blocked
    # loop took.
    assert p95 < 0.1, latencies[-5:]
    assert latencies[-2] < 0.25, latencies[-5:]
