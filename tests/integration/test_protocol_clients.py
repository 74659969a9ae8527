"""Clients others wrote against a real server: the GraphQL-over-HTTP audit that ships
with graphql-http, and graphql-ws, the GraphQL-over-WebSocket reference client."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from account_alerts.api.app import create_app
from account_alerts.api.auth import issue_token
from account_alerts.config import Settings
from account_alerts.domain.enums import AlertType, Role
from account_alerts.serving import server_options
from account_alerts.store.database import Database
from tests.conftest import TEST_SECRET, Clock
from tests.support.factories import make_account, make_alert
from tests.support.live_server import serving
from tests.support.node_clients import node_command


async def node_lines(*args: str, until: str | None = None, timeout: float = 60) -> list[Any]:
    """The JSON lines a node client prints, to its end or to the first ``until`` event."""
    process = await asyncio.create_subprocess_exec(
        *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    assert process.stdout is not None and process.stderr is not None
    lines: list[Any] = []
    try:
        async with asyncio.timeout(timeout):
            async for raw in process.stdout:
                lines.append(json.loads(raw))
                if until is not None and lines[-1].get("event") == until:
                    break
    finally:
        if process.returncode is None:
            process.kill()
        errors = (await process.stderr.read()).decode()
        await process.wait()
    assert lines, errors
    return lines


async def test_the_graphql_over_http_audit_passes_with_no_warning(tmp_path: Path) -> None:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'unused.db'}", jwt_secret=SecretStr(TEST_SECRET)
    )
    app = create_app(settings)
    async with serving(app, **server_options(settings)) as address:
        results = await node_lines(*node_command("audit.mjs"), f"http://{address}/graphql")
    assert len(results) >= 58
    assert [r for r in results if r["status"] != "ok"] == []
    assert {r["id"] for r in results} >= {"22EB", "D586", "5E5B", "86EE", "5A70", "9C48", "6A70"}


SUBSCRIBER = 7
ACCOUNT = "1000000001"


@pytest.fixture
async def live_server(settings: Settings, db: Database, clock: Clock) -> Any:
    await make_account(db, user_id=SUBSCRIBER, account_number=ACCOUNT)
    short_lived = settings.model_copy(update={"jwt_leeway_seconds": 0})
    app = create_app(short_lived, database=db, clock=clock)
    async with serving(app, **server_options(short_lived)) as address:
        yield app, f"ws://{address}/graphql"


def token(settings: Settings, *, role: Role = Role.CUSTOMER, lifetime: float = 3600) -> str:
    subject = str(SUBSCRIBER) if role is Role.CUSTOMER else "core-banking"
    return issue_token(settings, subject=subject, role=role, lifetime=timedelta(seconds=lifetime))


async def publish_when_subscribed(app: Any, db: Database) -> int:
    broker = app.state.services.broker
    for _ in range(500):
        if broker.subscriber_count(SUBSCRIBER):
            break
        await asyncio.sleep(0.01)
    else:
        raise AssertionError("the subscription never registered")
    alert_id = await make_alert(
        db,
        user_id=SUBSCRIBER,
        account_number=ACCOUNT,
        alert_type=AlertType.LOW_BALANCE,
        triggered_at=datetime.now(UTC),
    )
    broker.publish(SUBSCRIBER, alert_id)
    return alert_id


async def test_graphql_ws_receives_a_new_alert(
    live_server: Any, settings: Settings, db: Database
) -> None:
    app, url = live_server
    client = asyncio.create_task(
        node_lines(*node_command("live_alerts.mjs"), url, token(settings), until="next")
    )
    alert_id = await publish_when_subscribed(app, db)
    events = await client
    assert events[0] == {"event": "acknowledged"}
    assert events[-1]["payload"]["data"]["alertCreated"] == {
        "id": str(alert_id),
        "alertType": "LOW_BALANCE",
        "accountNumber": ACCOUNT,
        "title": "Low balance",
    }


@pytest.mark.parametrize(
    ("credential", "reason"),
    [
        ("none", "connection_init needs the payload"),
        ("expired", "the token has expired; sign in again"),
        ("service", "live alerts are for customers' tokens"),
        ("forged", "the token's signature is not valid"),
    ],
)
async def test_graphql_ws_is_refused_with_4403_for_a_bad_token(
    live_server: Any, settings: Settings, credential: str, reason: str
) -> None:
    _, url = live_server
    tokens = {
        "none": "",
        "expired": token(settings, lifetime=-60),
        "service": token(settings, role=Role.SERVICE),
        "forged": token(settings.model_copy(update={"jwt_secret": SecretStr("x" * 40)})),
    }
    events = await node_lines(*node_command("live_alerts.mjs"), url, tokens[credential])
    assert {"event": "acknowledged"} not in events
    closed = events[-1]
    assert closed["event"] == "closed"
    assert closed["code"] == 4403
    assert reason in closed["reason"]


async def test_graphql_ws_subscription_ends_when_the_token_expires(
    live_server: Any, settings: Settings
) -> None:
    _, url = live_server
    started = asyncio.get_running_loop().time()
    events = await node_lines(
        *node_command("live_alerts.mjs"), url, token(settings, lifetime=8), timeout=20
    )
    assert events[0] == {"event": "acknowledged"}
    assert events[-1] == {
        "event": "closed",
        "code": 4403,
        "reason": "the token has expired; sign in again",
    }
    assert 5 < asyncio.get_running_loop().time() - started < 15
