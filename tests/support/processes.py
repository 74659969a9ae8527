"""Real account-alerts processes (server, worker) for end-to-end tests."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from account_alerts.api.auth import issue_token
from account_alerts.config import Settings
from account_alerts.domain.enums import Role
from account_alerts.store.database import sync_url
from tests.conftest import TEST_SECRET
from tests.support.delivery import PHONE
from tests.support.events import RECORD_TRANSACTION
from tests.support.live_server import free_port

ACCOUNT_ALERTS = shutil.which("account-alerts") or str(
    Path(sys.executable).parent / "account-alerts"
)


SERVICE = issue_token(Settings(jwt_secret=TEST_SECRET), subject="core-banking", role=Role.SERVICE)


def alerts_env(**values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALERTS_")}
    env.update({f"ALERTS_{key.upper()}": value for key, value in values.items()})
    return env


@contextmanager
def running(args: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("ab") as out:
        process = subprocess.Popen(  # noqa: S603
            [ACCOUNT_ALERTS, *args], env=env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@contextmanager
def server(env: dict[str, str], log: Path, *extra: str) -> Iterator[str]:
    with server_process(env, log, *extra) as (base, _):
        yield base


@contextmanager
def server_process(
    env: dict[str, str], log: Path, *extra: str
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A ready `account-alerts serve` (one process): its base URL and the process."""
    port = free_port()
    with running(["serve", "--port", str(port), *extra], env, log) as process:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        else:
            raise AssertionError(f"server did not start:\n{log.read_text()}")
        yield base, process


def sql(url: str, statement: str, **params: Any) -> list[Any]:
    engine = sa.create_engine(sync_url(url), poolclass=sa.pool.NullPool)
    try:
        with engine.begin() as connection:
            result = connection.execute(sa.text(statement), params)
            return list(result.all()) if result.returns_rows else []
    finally:
        engine.dispose()


def seed_customers(url: str, count: int, *, time_zone: str | None = None) -> list[str]:
    """Customers 1..count with a verified phone, a push device and one MWK account each."""
    users = [
        {
            "id": user,
            "phone": PHONE,
            "t": f"token-{user}",
            "a": f"{2000000000 + user}",
            "z": time_zone,
        }
        for user in range(1, count + 1)
    ]
    engine = sa.create_engine(sync_url(url), poolclass=sa.pool.NullPool)
    try:
        with engine.begin() as connection:
            connection.execute(
                sa.text(
                    "INSERT INTO mobile_users (id, phone, phone_verified_at, locked, created_at,"
                    " updated_at) VALUES (:id, :phone, now(), false, now(), now())"
                ),
                users,
            )
            connection.execute(
                sa.text(
                    "INSERT INTO accounts (account_number, mobile_user_id, currency, time_zone,"
                    " locked, created_at, updated_at)"
                    " VALUES (:a, :id, 'MWK', :z, false, now(), now())"
                ),
                users,
            )
            connection.execute(
                sa.text(
                    "INSERT INTO devices (mobile_user_id, device_id, push_token, push_platform,"
                    " push_token_active, created_at, updated_at)"
                    " VALUES (:id, 'phone', :t, 'android', true, now(), now())"
                ),
                users,
            )
    finally:
        engine.dispose()
    return [user["a"] for user in users]


def post_until_accepted(base: str, event: dict[str, Any], deadline: float) -> dict[str, Any]:
    """What a bank service does: retry the same event (same eventId) until it is accepted."""
    while True:
        try:
            response = httpx.post(
                f"{base}/graphql",
                json={"query": RECORD_TRANSACTION, "variables": {"input": event}},
                headers={"Authorization": f"Bearer {SERVICE}"},
                timeout=10,
            )
            body = response.json()
            if "errors" not in body:
                return body["data"]["recordTransaction"]  # type: ignore[no-any-return]
        except (httpx.HTTPError, ValueError):
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"event {event['eventId']} was never accepted")
        time.sleep(0.2)


def wait_until(predicate: Any, timeout: float, message: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(message)


def delivery_states(url: str) -> dict[str, int]:
    return dict(sql(url, "SELECT status, count(*) FROM alert_deliveries GROUP BY status"))
