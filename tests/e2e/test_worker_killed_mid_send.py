"""A worker process SIGKILLed while it has sent part of a batch, on PostgreSQL, through the
real firebase-admin, twilio and SMTP clients: the only repeats are the sends it had in
flight, each recorded as an attempt in doubt, and every push or email repeat carries the
same collapse identity or Message-ID as the first copy."""

from __future__ import annotations

import json
import signal
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from account_alerts.domain.enums import AlertType, NotificationChannel
from account_alerts.domain.in_doubt import collapse_identity
from account_alerts.domain.messages import render
from tests.conftest import TEST_SECRET
from tests.support.delivery import PHONE
from tests.support.factories import sample_data
from tests.support.processes import alerts_env, delivery_states, running, seed_customers, sql
from tests.support.providers import (
    SMTP_PASSWORD,
    SMTP_USER,
    FakeFCM,
    FakeTwilio,
    SmtpSink,
    write_service_account,
)

pytestmark = pytest.mark.postgresql_only

CUSTOMERS = 8
CHANNELS = (NotificationChannel.PUSH, NotificationChannel.SMS, NotificationChannel.EMAIL)
IN_FLIGHT_PER_CHANNEL = 2


def seed_alerts(url: str) -> dict[int, str]:
    """One LARGE_TRANSACTION alert per customer, due on PUSH, SMS and EMAIL; the alert id
    by the SMS-unique amount it carries."""
    seed_customers(url, CUSTOMERS)
    sql(
        url,
        "UPDATE mobile_users SET email = 'customer' || id || '@example.mw', "
        "email_verified_at = now()",
    )
    when = datetime.now(UTC) - timedelta(days=1)
    amounts: dict[int, str] = {}
    for user in range(1, CUSTOMERS + 1):
        account = f"{2000000000 + user}"
        data = dict(sample_data(AlertType.LARGE_TRANSACTION, when))
        data["transactionAmount"] = f"{60000 + user * 111}.0000"
        title, message = render(AlertType.LARGE_TRANSACTION, data, account)
        [(alert_id,)] = sql(
            url,
            "INSERT INTO account_alerts (mobile_user_id, account_number, alert_type, "
            "alert_data, title, message, status, channels_sent, is_test, triggered_at, "
            "created_at, updated_at) VALUES (:user, :account, 'LARGE_TRANSACTION', "
            "CAST(:data AS jsonb), :title, :message, 'PENDING', '[]', false, :when, now(), "
            "now()) RETURNING id",
            user=user,
            account=account,
            data=json.dumps(data),
            title=title,
            message=message,
            when=when,
        )
        amounts[alert_id] = f"{60000 + user * 111:,}"
    sql(
        url,
        "INSERT INTO alert_deliveries (alert_id, channel, status, attempts, next_attempt_at, "
        "created_at, updated_at) SELECT a.id, c.channel, 'PENDING', 0, now(), now(), now() "
        "FROM account_alerts a CROSS JOIN (VALUES ('PUSH'), ('SMS'), ('EMAIL')) AS c(channel)",
    )
    return amounts


def test_a_killed_worker_repeats_only_its_sends_in_flight_each_marked_in_doubt(
    pg_shared: str, database_url_pg: str, tmp_path: Path
) -> None:
    url = database_url_pg
    amounts = seed_alerts(url)
    total = CUSTOMERS * len(CHANNELS)
    with FakeTwilio() as twilio, FakeFCM() as fcm, SmtpSink(SMTP_USER, SMTP_PASSWORD) as smtp:
        env = alerts_env(
            database_url=url,
            jwt_secret=TEST_SECRET,
            sink_file=str(tmp_path / "sink.jsonl"),
            twilio_account_sid=twilio.account_sid,
            twilio_auth_token=twilio.auth_token,
            twilio_from_number="+15005550006",
            twilio_api_base=twilio.base_url,
            fcm_credentials_file=str(write_service_account(fcm, tmp_path / "fcm.json")),
            fcm_endpoint=fcm.base_url,
            smtp_host=smtp.host,
            smtp_port=str(smtp.port),
            smtp_username=SMTP_USER,
            smtp_password=SMTP_PASSWORD,
            smtp_starttls="false",
            worker_lease_seconds="5",
            worker_poll_seconds="0.2",
            provider_concurrency=str(IN_FLIGHT_PER_CHANNEL),
        )
        for peer in (twilio, fcm, smtp):
            peer.set_delay(1.0)
        with running(["worker"], env, tmp_path / "worker-1.log") as first:
            deadline = time.monotonic() + 60
            while delivery_states(url).get("SENT", 0) < 2 * len(CHANNELS):
                assert time.monotonic() < deadline, "the first worker never sent a wave"
                time.sleep(0.05)
            time.sleep(0.5)  # the next wave is on the wire
            first.send_signal(signal.SIGKILL)
            first.wait()
        sent_before = {
            row[0] for row in sql(url, "SELECT id FROM alert_deliveries WHERE status = 'SENT'")
        }
        in_flight = {
            (row[0], row[1])
            for row in sql(
                url,
                "SELECT alert_id, channel FROM alert_deliveries "
                "WHERE status = 'PENDING' AND send_started_at IS NOT NULL",
            )
        }
        assert 0 < len(sent_before) < total, "the kill came too late to test anything"
        # What was on the wire: at most each channel's sends in flight.
        assert 0 < len(in_flight) <= IN_FLIGHT_PER_CHANNEL * len(CHANNELS)
        time.sleep(1.5)  # the providers finish what the dead worker had sent them
        for peer in (twilio, fcm, smtp):
            peer.set_delay(0)
        with running(["worker"], env, tmp_path / "worker-2.log"):
            deadline = time.monotonic() + 60
            while delivery_states(url) != {"SENT": total}:
                assert time.monotonic() < deadline, f"not delivered: {delivery_states(url)}"
                time.sleep(0.2)

        copies: Counter[tuple[int, str]] = Counter()
        for push in fcm.messages:
            alert_id = int((push.data or {})["alertId"])
            copies[(alert_id, "PUSH")] += 1
            key = collapse_identity(alert_id, NotificationChannel.PUSH)
            assert push.android is not None and push.apns is not None
            assert push.android["collapse_key"] == key
            assert push.android["notification"]["tag"] == key
            assert push.apns["headers"]["apns-collapse-id"] == key
        for mail in smtp.messages:
            message_id = str(mail.message["Message-ID"])
            [alert_id] = [a for a in amounts if f"<alert-{a}-email@" in message_id]
            copies[(alert_id, "EMAIL")] += 1
        for text in twilio.messages:
            assert text.to == PHONE
            [alert_id] = [a for a, amount in amounts.items() if amount in text.body]
            copies[(alert_id, "SMS")] += 1

    every_delivery = {(a, c.value) for a in amounts for c in CHANNELS}
    assert set(copies) == every_delivery  # nothing lost
    repeated = {key for key, n in copies.items() if n > 1}
    assert max(copies.values()) <= 2
    assert repeated, "no send was in flight at the kill: the test proved nothing"
    assert repeated <= in_flight  # only what was on the wire came twice
    doubts = {
        (row[0], row[1]): row[2]
        for row in sql(url, "SELECT alert_id, channel, attempts_in_doubt FROM alert_deliveries")
    }
    assert {key for key, n in doubts.items() if n} == in_flight
    audited = sql(
        url,
        "SELECT d.alert_id, d.channel FROM audit_log l JOIN alert_deliveries d "
        "ON CAST(d.id AS text) = l.subject_id WHERE l.action = 'delivery.in_doubt'",
    )
    assert {(row[0], row[1]) for row in audited} == in_flight
