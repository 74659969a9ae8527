"""The README's first command, as a newcomer runs it: a real server process on the
embedded SQLite default, demo data, a printed token that works."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.live_server import free_port

ACCOUNT_ALERTS = shutil.which("account-alerts") or str(
    Path(sys.executable).parent / "account-alerts"
)


@pytest.fixture
def demo_server(tmp_path: Path) -> Iterator[tuple[str, str, Path]]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALERTS_")}
    process = subprocess.Popen(  # noqa: S603
        [ACCOUNT_ALERTS, "serve", "--demo", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output: list[str] = []
    token = None
    deadline = time.monotonic() + 60
    assert process.stdout is not None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        output.append(line)
        match = re.search(r"customer token:\s+(\S+)", line)
        if match:
            token = match.group(1)
        if "Uvicorn running" in line or "Application startup complete" in line:
            break
    try:
        assert token, "".join(output)
        # What a newcomer reads first is the banner, not the migrations' steps.
        assert output[0].strip() == "" and output[1].startswith("account-alerts demo:"), output
        assert "alembic" not in "".join(output)
        yield f"http://127.0.0.1:{port}", token, tmp_path
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def test_demo_server_answers_with_the_printed_token(demo_server: tuple[str, str, Path]) -> None:
    base, token, workdir = demo_server
    assert (workdir / "account_alerts.db").exists()
    assert httpx.get(f"{base}/healthz").json() == {"status": "ok"}
    assert httpx.get(f"{base}/readyz").json()["database"] == "sqlite"
    graphiql = httpx.get(f"{base}/graphql", headers={"Accept": "text/html"})
    assert graphiql.status_code == 200 and "graphiql" in graphiql.text.lower()
    response = httpx.post(
        f"{base}/graphql",
        json={
            "query": "{ unacknowledgedAlertCount accountAlerts(limit: 5) { totalCount "
            "items { alertType message details { __typename } } } "
            'accountAlertSettings(accountNumber: "1000123456") { loginAlertMode } }'
        },
        headers={"Authorization": f"Bearer {token}"},
    )
    body = response.json()
    assert "errors" not in body, body
    data = body["data"]
    assert data["unacknowledgedAlertCount"] == data["accountAlerts"]["totalCount"] >= 3
    assert {i["alertType"] for i in data["accountAlerts"]["items"]} >= {
        "LOW_BALANCE",
        "LARGE_TRANSACTION",
        "ACCOUNT_LOGIN",
    }
    assert all("1000123456" not in i["message"] for i in data["accountAlerts"]["items"])
    assert data["accountAlertSettings"] == {"loginAlertMode": "NEW_DEVICE"}


@pytest.mark.parametrize("verbose", [False, True])
def test_migration_steps_are_logged_only_with_verbose(tmp_path: Path, verbose: bool) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALERTS_")}
    result = subprocess.run(  # noqa: S603
        [ACCOUNT_ALERTS, "migrate", *(["--verbose"] if verbose else [])],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert result.stdout == "database is at the latest schema\n"
    assert ("Running upgrade" in result.stderr) is verbose
    assert ("alembic" in result.stderr) is verbose
