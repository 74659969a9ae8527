"""The scale-out run: 2 API processes, 2 delivery workers and 2 schedulers on one
PostgreSQL. Events go to both APIs at once (some to both); every expected alert exists
once, every delivery reaches the sink once, every reminder is written once."""

from __future__ import annotations

import json
import random
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from tests.conftest import TEST_SECRET
from tests.support.events import RECORD_TRANSACTIONS, transaction
from tests.support.processes import (
    SERVICE,
    alerts_env,
    delivery_states,
    running,
    seed_customers,
    server,
    sql,
    wait_until,
)

pytestmark = pytest.mark.postgresql_only
CUSTOMERS = 200
EVENTS_PER_CUSTOMER = 12


def _morning_zone() -> str:
    """An IANA zone where it is now between 09:00 and 20:00, so reminders are due."""
    now = datetime.now(UTC)
    for offset in range(-12, 15):
        name = f"Etc/GMT{'+' if offset <= 0 else '-'}{abs(offset)}"
        if 9 <= now.astimezone(ZoneInfo(name)).hour < 20:
            return name
    raise AssertionError("no suitable time zone")


def _events(accounts: list[str]) -> tuple[list[dict[str, Any]], dict[str, int]]:
    rng = random.Random(7)
    start = datetime.now(UTC) - timedelta(hours=6)
    events, expected = [], {"LARGE_TRANSACTION": 0, "LOW_BALANCE": 0}
    for number, account in enumerate(accounts):
        balance = 100_000
        went_low = False
        for index in range(EVENTS_PER_CUSTOMER):
            amount = rng.choice([500, 2_000, 9_000, 60_000])
            balance = max(balance - amount, rng.randint(0, 3_000))
            large = amount > 50_000
            expected["LARGE_TRANSACTION"] += large
            if balance < 5_000 and not went_low:
                went_low = True
                expected["LOW_BALANCE"] += 1
            events.append(
                transaction(
                    account,
                    str(amount),
                    start + timedelta(minutes=index, seconds=number),
                    balance_after=str(balance),
                    event_id=f"scale-{number}-{index}",
                )
            )
    return events, expected


def _send(base: str, batch: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for _ in range(20):
        try:
            response = httpx.post(
                f"{base}/graphql",
                json={"query": RECORD_TRANSACTIONS, "variables": {"inputs": batch}},
                headers={"Authorization": f"Bearer {SERVICE}"},
                timeout=60,
            )
            body = response.json()
            if "errors" not in body:
                return body["data"]["recordTransactions"]  # type: ignore[no-any-return]
        except (httpx.HTTPError, ValueError):
            pass
        time.sleep(0.5)
    raise AssertionError("a batch was never accepted")


def test_two_of_everything_on_one_database(database_url_pg: str, tmp_path: Path) -> None:
    url = database_url_pg
    zone = _morning_zone()
    accounts = seed_customers(url, CUSTOMERS, time_zone=zone)
    tomorrow = (datetime.now(UTC).astimezone(ZoneInfo(zone)) + timedelta(days=1)).date()
    sql(
        url,
        "INSERT INTO scheduled_payments (payment_id, account_number, payment_type, amount_due,"
        " currency, due_date, status, created_at, updated_at)"
        " SELECT 'PAY-' || account_number, account_number, 'LOAN', 1000, 'MWK', :due, 'ACTIVE',"
        " now(), now() FROM accounts",
        due=tomorrow,
    )
    events, expected = _events(accounts)
    batches = [events[i : i + 100] for i in range(0, len(events), 100)]
    base_env = {"database_url": url, "jwt_secret": TEST_SECRET, "worker_poll_seconds": "0.2"}
    with ExitStack() as stack:
        apis = [
            stack.enter_context(
                server(
                    alerts_env(**base_env),
                    tmp_path / f"api-{n}.log",
                    "--no-worker",
                    "--no-scheduler",
                )
            )
            for n in (1, 2)
        ]
        for n in (1, 2):
            env = alerts_env(**base_env, sink_file=str(tmp_path / f"sink-{n}.jsonl"))
            stack.enter_context(running(["worker"], env, tmp_path / f"worker-{n}.log"))
            stack.enter_context(running(["scheduler"], env, tmp_path / f"scheduler-{n}.log"))
        rng = random.Random(11)
        plan = [(apis[i % 2], batch) for i, batch in enumerate(batches)]
        plan += [(apis[rng.randrange(2)], batch) for batch in rng.sample(batches, 5)]  # resent
        with ThreadPoolExecutor(max_workers=6) as pool:
            results = list(pool.map(lambda job: _send(*job), plan))
        assert all(item["accepted"] for batch in results for item in batch)
        # Channels by default: large transactions and reminders PUSH+SMS, low balance PUSH.
        total = expected["LARGE_TRANSACTION"] * 2 + expected["LOW_BALANCE"] + CUSTOMERS * 2
        wait_until(
            lambda: delivery_states(url) == {"SENT": total},
            180,
            f"deliveries did not finish: {delivery_states(url)} (expected {total} SENT)",
        )
    counts = dict(sql(url, "SELECT alert_type, count(*) FROM account_alerts GROUP BY alert_type"))
    assert counts == {**expected, "PAYMENT_DUE": CUSTOMERS}
    assert sql(url, "SELECT count(*) FROM ingested_events")[0][0] == len(events)
    lines = [
        json.loads(line)
        for n in (1, 2)
        if (tmp_path / f"sink-{n}.jsonl").exists()
        for line in (tmp_path / f"sink-{n}.jsonl").read_text().splitlines()
    ]
    sent = [(line["alertId"], line["channel"]) for line in lines]
    assert len(sent) == len(set(sent)) == total
    assert {line["channel"] for line in lines} == {"PUSH", "SMS"}
    # Each process froze what it had built at start out of the garbage collector's passes
    # (a worker that did not paused about 95 ms at each full collection).
    for name in ("api-1", "api-2", "worker-1", "worker-2", "scheduler-1", "scheduler-2"):
        log = (tmp_path / f"{name}.log").read_text()
        assert "objects built at start frozen out of its passes" in log, name
