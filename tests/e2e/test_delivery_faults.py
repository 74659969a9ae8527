"""Faults with real processes on PostgreSQL: a worker killed mid-batch, the database
restarted under load, alerts raised in one process reaching a subscriber of another."""

from __future__ import annotations

import asyncio
import json
import signal
import time
from pathlib import Path
from typing import Any

import pytest
import websockets

from account_alerts.api.auth import issue_token
from account_alerts.config import Settings
from tests.conftest import TEST_SECRET
from tests.support.events import transaction
from tests.support.pg_cluster import PostgresCluster
from tests.support.processes import (
    alerts_env,
    delivery_states,
    post_until_accepted,
    running,
    seed_customers,
    server,
    sql,
    wait_until,
)
from tests.support.providers import FakeTwilio

pytestmark = pytest.mark.postgresql_only

SETTINGS = Settings(jwt_secret=TEST_SECRET)


def test_worker_killed_mid_batch_loses_nothing_and_resends_nothing_sent(
    pg_shared: str, database_url_pg: str, tmp_path: Path
) -> None:
    url = database_url_pg
    accounts = seed_customers(url, 12)
    with FakeTwilio() as twilio:
        env = alerts_env(
            database_url=url,
            jwt_secret=TEST_SECRET,
            sink_file=str(tmp_path / "sink.jsonl"),
            twilio_account_sid=twilio.account_sid,
            twilio_auth_token=twilio.auth_token,
            twilio_from_number="+15005550006",
            twilio_api_base=twilio.base_url,
            worker_lease_seconds="5",
            worker_batch_size="4",
            worker_poll_seconds="0.2",
        )
        with server(env, tmp_path / "server.log", "--no-worker") as base:
            deadline = time.monotonic() + 60
            for index, account in enumerate(accounts):
                post_until_accepted(
                    base,
                    transaction(
                        account, str(60000 + index), _yesterday(), event_id=f"kill-{index}"
                    ),
                    deadline,
                )
        sms_total = 12
        twilio.set_delay(1.5)
        with running(["worker"], env, tmp_path / "worker-1.log") as first:
            wait_until(
                lambda: len(twilio.attempts) >= 1 or delivery_states(url).get("SENT", 0) > 0,
                30,
                "the first worker never sent anything",
            )
            time.sleep(2.0)  # mid-batch: some sent and recorded, a batch in flight
            first.send_signal(signal.SIGKILL)
            first.wait()
        sent_before = {
            row[0]
            for row in sql(
                url, "SELECT id FROM alert_deliveries WHERE channel = 'SMS' AND status = 'SENT'"
            )
        }
        bodies_before = {
            row[0]: row[1]
            for row in sql(
                url,
                "SELECT d.id, a.message FROM alert_deliveries d JOIN account_alerts a "
                "ON a.id = d.alert_id WHERE d.channel = 'SMS' AND d.status = 'SENT'",
            )
        }
        assert len(sent_before) < sms_total, "the kill came too late to test anything"
        twilio.set_delay(0)
        with running(["worker"], env, tmp_path / "worker-2.log"):
            wait_until(
                lambda: delivery_states(url) == {"SENT": 2 * sms_total},
                60,
                f"not everything was delivered: {delivery_states(url)}",
            )
        received: dict[str, int] = {}
        for message in twilio.messages:
            received[message.body] = received.get(message.body, 0) + 1
        for delivery_id in sent_before:
            body = bodies_before[delivery_id]
            assert sum(n for b, n in received.items() if body in b) == 1, body
        assert len({m.body for m in twilio.messages}) == sms_total


def test_database_restart_under_load_loses_and_duplicates_nothing(
    pg_cluster: PostgresCluster, database_url_pg: str, tmp_path: Path
) -> None:
    url = database_url_pg
    accounts = seed_customers(url, 20)
    sink = tmp_path / "sink.jsonl"
    env = alerts_env(
        database_url=url, jwt_secret=TEST_SECRET, sink_file=str(sink), worker_poll_seconds="0.2"
    )
    with (
        server(env, tmp_path / "server.log", "--no-worker") as base,
        running(["worker"], env, tmp_path / "worker.log"),
    ):
        deadline = time.monotonic() + 120
        events = [
            transaction(accounts[i % 20], str(60000 + i), _yesterday(), event_id=f"restart-{i}")
            for i in range(60)
        ]
        for index, event in enumerate(events):
            if index == 25:
                pg_cluster.restart()
            post_until_accepted(base, event, deadline)
        for event in events[20:30]:  # the bank resends what it was unsure of
            assert post_until_accepted(base, event, deadline)["duplicate"] is True
        wait_until(
            lambda: delivery_states(url) == {"SENT": 120},
            90,
            f"deliveries did not finish: {delivery_states(url)}",
        )
    assert sql(url, "SELECT count(*) FROM account_alerts")[0][0] == 60
    lines = [json.loads(line) for line in sink.read_text().splitlines()]
    sent_keys = [(line["alertId"], line["channel"]) for line in lines]
    assert len(sent_keys) == len(set(sent_keys)) == 120


def test_alert_raised_in_one_process_reaches_a_subscriber_of_another(
    database_url_pg: str, tmp_path: Path
) -> None:
    url = database_url_pg
    [account] = seed_customers(url, 1)
    env = alerts_env(
        database_url=url, jwt_secret=TEST_SECRET, sink_file=str(tmp_path / "sink.jsonl")
    )
    customer = issue_token(SETTINGS, subject="1")
    stranger = issue_token(SETTINGS, subject="2")
    with (
        server(env, tmp_path / "a.log", "--no-worker") as first,
        server(env, tmp_path / "b.log", "--no-worker") as second,
    ):

        async def scenario() -> tuple[dict[str, Any], bool]:
            ws_url = first.replace("http", "ws") + "/graphql"
            mine = await _subscribe(ws_url, customer)
            theirs = await _subscribe(ws_url, stranger)
            await asyncio.sleep(0.5)
            await asyncio.to_thread(
                post_until_accepted,
                second,
                transaction(account, "75000", _yesterday(), event_id="cross-1"),
                time.monotonic() + 30,
            )
            message = json.loads(await asyncio.wait_for(mine.recv(), 10))
            try:
                await asyncio.wait_for(theirs.recv(), 1)
                leaked = True
            except TimeoutError:
                leaked = False
            await mine.close()
            await theirs.close()
            return message, leaked

        message, leaked = asyncio.run(scenario())
    assert message["type"] == "next"
    assert message["payload"]["data"]["alertCreated"]["alertType"] == "LARGE_TRANSACTION"
    assert not leaked


async def _subscribe(url: str, token: str) -> Any:
    socket = await websockets.connect(url, subprotocols=["graphql-transport-ws"])
    await socket.send(
        json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}})
    )
    assert json.loads(await socket.recv())["type"] == "connection_ack"
    await socket.send(
        json.dumps(
            {
                "id": "1",
                "type": "subscribe",
                "payload": {"query": "subscription { alertCreated { id alertType } }"},
            }
        )
    )
    return socket


def _yesterday() -> Any:
    from datetime import UTC, datetime, timedelta

    return datetime.now(UTC) - timedelta(days=1)
