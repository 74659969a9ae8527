"""`account-alerts serve --workers N`: several server processes on one port and one
PostgreSQL, each with its delivery worker; metrics from any of them cover all of them."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import TEST_SECRET
from tests.support.delivery import sink_lines
from tests.support.events import transaction
from tests.support.live_server import free_port
from tests.support.processes import (
    ACCOUNT_ALERTS,
    alerts_env,
    delivery_states,
    post_until_accepted,
    running,
    seed_customers,
    wait_until,
)

CUSTOMERS = 20
EVENTS = 60


def _children(pid: int) -> list[int]:
    children: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        children += [int(child) for child in text]
    return children


def _tcp_sockets(port: int, state: str) -> set[int]:
    """Inodes of the IPv4 TCP sockets on local ``port`` in ``state`` (0A listen, 01 open)."""
    inodes: set[int] = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[1].split(":")[1], 16) == port and fields[3] == state:
            inodes.add(int(fields[9]))
    return inodes


def _socket_inodes(pid: int) -> set[int]:
    inodes: set[int] = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(int(target[8:-1]))
    return inodes


def _listeners(parent: int, port: int) -> dict[int, set[int]]:
    """The parent's children that listen on ``port``, with their listening sockets."""
    listening = _tcp_sockets(port, "0A")
    owned = {child: _socket_inodes(child) & listening for child in _children(parent)}
    return {child: mine for child, mine in owned.items() if mine}


def _ready(base: str) -> bool:
    try:
        return httpx.get(f"{base}/readyz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _sent_by_metrics(base: str) -> float:
    text = httpx.get(f"{base}/metrics", timeout=5).text
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        if family.name == "alerts_deliveries"
        for sample in family.samples
        if sample.name == "alerts_deliveries_total" and sample.labels.get("outcome") == "sent"
    )


@pytest.mark.postgresql_only
def test_two_server_processes_share_the_port_and_the_work(
    database_url_pg: str, tmp_path: Path
) -> None:
    url = database_url_pg
    accounts = seed_customers(url, CUSTOMERS)
    sink = tmp_path / "sink.jsonl"
    env = alerts_env(
        database_url=url, jwt_secret=TEST_SECRET, sink_file=str(sink), worker_poll_seconds="0.2"
    )
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "serve.log"
    with running(["serve", "--port", str(port), "--workers", "2"], env, log) as parent:
        wait_until(
            lambda: len(_children(parent.pid)) >= 2 and _ready(base),
            60,
            f"two server processes did not start:\n{log.read_text()}",
        )
        start = datetime.now(UTC) - timedelta(hours=1)
        events = [
            transaction(accounts[i % CUSTOMERS], "60000", start + timedelta(seconds=i))
            for i in range(EVENTS)
        ]
        deadline = time.monotonic() + 60
        with ThreadPoolExecutor(max_workers=8) as pool:
            results = list(pool.map(lambda e: post_until_accepted(base, e, deadline), events))
        assert all(len(result["alerts"]) == 1 for result in results)
        # Large transactions go to PUSH and SMS by default: two deliveries each.
        wait_until(
            lambda: delivery_states(url) == {"SENT": EVENTS * 2},
            60,
            f"deliveries did not finish: {delivery_states(url)}",
        )
        lines = sink_lines(sink)
        assert len(lines) == EVENTS * 2
        assert len({(line["alertId"], line["channel"]) for line in lines}) == EVENTS * 2
        # Whichever process answers /metrics reports every process's deliveries.
        for _ in range(4):
            assert _sent_by_metrics(base) == EVENTS * 2
    assert parent.returncode is not None


def test_several_processes_are_refused_on_sqlite(tmp_path: Path) -> None:
    env = alerts_env(database_url=f"sqlite:///{tmp_path / 'alerts.db'}", jwt_secret=TEST_SECRET)
    done = subprocess.run(  # noqa: S603
        [ACCOUNT_ALERTS, "serve", "--workers", "2", "--port", str(free_port())],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert "needs PostgreSQL" in done.stderr
    assert not (tmp_path / "alerts.db").exists()  # refused before touching anything


@pytest.mark.postgresql_only
def test_connections_spread_over_the_processes_and_survive_one_dying(
    database_url_pg: str, tmp_path: Path
) -> None:
    env = alerts_env(database_url=database_url_pg, jwt_secret=TEST_SECRET)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "serve.log"
    with running(
        ["serve", "--port", str(port), "--workers", "2", "--no-worker", "--no-scheduler"], env, log
    ) as parent:
        wait_until(
            lambda: len(_listeners(parent.pid, port)) == 2 and _ready(base),
            60,
            f"two server processes did not start:\n{log.read_text()}",
        )
        # Each process listens on a socket of its own (one shared socket would show once,
        # held by both).
        owned = _listeners(parent.pid, port)
        assert len(_tcp_sockets(port, "0A")) == 2
        assert [len(mine) for mine in owned.values()] == [1, 1]
        assert len(set.union(*owned.values())) == 2
        children = list(owned)

        # Connections opened together land on both processes.
        clients = [socket.create_connection(("127.0.0.1", port)) for _ in range(32)]
        try:
            wait_until(
                lambda: all(_socket_inodes(child) & _tcp_sockets(port, "01") for child in children),
                10,
                "32 connections all went to one process",
            )
        finally:
            for client in clients:
                client.close()

        # A process that dies is replaced on its own socket; no connection is left waiting.
        victim, survivor = children
        os.kill(victim, signal.SIGKILL)
        wait_until(
            lambda: (
                survivor in _listeners(parent.pid, port)
                and _listeners(parent.pid, port).keys() - {survivor, victim}
            ),
            60,
            f"the dead process was not replaced:\n{log.read_text()}",
        )
        now = _listeners(parent.pid, port)
        replacement = next(child for child in now if child != survivor)
        assert now[replacement] == owned[victim]
        for _ in range(40):  # fresh connections, spread over both sockets
            with httpx.Client(timeout=30) as client:
                assert client.get(f"{base}/healthz").status_code == 200
    assert parent.returncode is not None
