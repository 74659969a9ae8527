"""A worker process SIGKILLed while webhooks are on the wire, on PostgreSQL: nothing is
lost, the only repeats are the deliveries it had in flight, and a repeat carries the same
webhook-id and body, signed anew (verified with the standardwebhooks library)."""

from __future__ import annotations

import base64
import signal
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from account_alerts.delivery.webhooks.secrets import SecretBox, new_secret
from account_alerts.domain.webhooks import WebhookEventType
from account_alerts.store.webhook_events import event_row
from tests.conftest import TEST_SECRET
from tests.support.processes import alerts_env, running, sql
from tests.support.webhook_receiver import WebhookReceiver

pytestmark = pytest.mark.postgresql_only

EVENTS = 24
IN_FLIGHT = 2
ENCRYPTION_KEY = base64.urlsafe_b64encode(b"k" * 32).decode()


def webhook_states(url: str) -> dict[str, int]:
    return dict(sql(url, "SELECT status, count(*) FROM webhook_deliveries GROUP BY status"))


def seed(url: str, receiver: WebhookReceiver, secret: str) -> set[str]:
    """One endpoint for USER_LOCKED and EVENTS such events; their message ids."""
    now = datetime.now(UTC)
    sql(
        url,
        "INSERT INTO webhook_endpoints (url, description, event_types, secret_encrypted, "
        "created_at, updated_at) "
        "VALUES (:target, 'risk', '[\"USER_LOCKED\"]', :sealed, now(), now())",
        target=receiver.url("risk"),
        sealed=SecretBox([ENCRYPTION_KEY]).seal(secret),
    )
    ids = set()
    for user in range(EVENTS):
        row = event_row(
            WebhookEventType.USER_LOCKED,
            {"mobileUserId": user, "reason": "test", "at": now.isoformat()},
            occurred_at=now,
        )
        sql(
            url,
            "INSERT INTO webhook_events (message_id, event_type, body, occurred_at) "
            "VALUES (:message_id, 'user.locked', :body, :occurred_at)",
            **{k: row[k] for k in ("message_id", "body", "occurred_at")},
        )
        ids.add(row["message_id"])
    return ids


def test_a_killed_worker_loses_no_webhook_and_repeats_only_those_in_flight(
    pg_shared: str, database_url_pg: str, tmp_path: Path
) -> None:
    url = database_url_pg
    secret = new_secret()
    with WebhookReceiver() as receiver:
        message_ids = seed(url, receiver, secret)
        receiver.delay("risk", 1.0)
        env = alerts_env(
            database_url=url,
            jwt_secret=TEST_SECRET,
            sink_file=str(tmp_path / "sink.jsonl"),
            webhook_encryption_key=ENCRYPTION_KEY,
            webhook_allowed_networks="127.0.0.1/32",
            webhook_lease_seconds="5",
            webhook_poll_seconds="0.2",
            webhook_endpoint_concurrency=str(IN_FLIGHT),
        )
        with running(["worker"], env, tmp_path / "worker-1.log") as first:
            deadline = time.monotonic() + 60
            while webhook_states(url).get("DELIVERED", 0) < 2 * IN_FLIGHT:
                assert time.monotonic() < deadline, "the first worker never delivered"
                time.sleep(0.05)
            time.sleep(0.5)  # the next requests are on the wire
            first.send_signal(signal.SIGKILL)
            first.wait()
        in_flight = {
            row[0]
            for row in sql(
                url,
                "SELECT e.message_id FROM webhook_deliveries d JOIN webhook_events e "
                "ON e.id = d.event_id WHERE d.status = 'PENDING' AND d.lease_owner IS NOT NULL",
            )
        }
        assert 0 < webhook_states(url).get("DELIVERED", 0) < EVENTS, "the kill came too late"
        assert len(in_flight) <= 2 * IN_FLIGHT  # what a claim may take of one endpoint
        receiver.delay("risk", 0)
        with running(["worker"], env, tmp_path / "worker-2.log"):
            deadline = time.monotonic() + 60
            while webhook_states(url) != {"DELIVERED": EVENTS}:
                assert time.monotonic() < deadline, f"not delivered: {webhook_states(url)}"
                time.sleep(0.2)
        received = receiver.received("risk")

    copies = Counter(request.webhook_id for request in received)
    assert set(copies) == message_ids  # nothing lost
    repeated = {message_id for message_id, n in copies.items() if n > 1}
    assert repeated, "nothing was in flight at the kill: the test proved nothing"
    assert repeated <= in_flight
    bodies: dict[str, bytes] = {}
    for request in received:
        payload = request.verified(secret)
        assert payload["type"] == "user.locked"
        assert bodies.setdefault(request.webhook_id, request.body) == request.body
