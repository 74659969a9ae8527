"""A worker that stops mid-batch leaves in doubt exactly the sends it had on the wire: the
worker that takes them over records each as an attempt in doubt and sends it again, with
the same collapse identity (push), Message-ID (email) or key (sink) as the first copy.
Outcomes are recorded as sends complete, and a claim the database failed under is given
back at once rather than left to its lease."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import select

from account_alerts.config import Settings
from account_alerts.delivery.worker import DeliveryWorker
from account_alerts.domain.enums import NotificationChannel
from account_alerts.domain.in_doubt import collapse_identity
from account_alerts.store import outbox
from account_alerts.store.alerts import AccountAlert, AlertDelivery
from account_alerts.store.database import Database
from tests.conftest import Api, Clock
from tests.support import providers
from tests.support.audit import audit_entries
from tests.support.delivery import (
    Delivery,
    make_delivery,
    reachable_customer,
    sink_lines,
    with_providers,
)
from tests.support.events import RECORD_LOGIN, RECORD_TRANSACTION, login, transaction
from tests.support.factories import make_account
from tests.support.pg_cluster import PostgresCluster
from tests.support.providers import FakeFCM, FakeTwilio, SmtpSink

fake_twilio = providers.fake_twilio
fake_fcm = providers.fake_fcm
fcm_service_account = providers.fcm_service_account
smtp_sink = providers.smtp_sink

ACCOUNT = "1000000001"
DELIVERIES_QUERY = """{ accountAlerts { items { alertType status
    deliveries { channel status attempts attemptsInDoubt } } } }"""


def day(hours: float = 0) -> datetime:
    base = datetime.now(UTC).replace(hour=6, minute=0, second=0, microsecond=0) - timedelta(days=2)
    return base + timedelta(hours=hours)


async def rows(db: Database) -> dict[tuple[int, str], AlertDelivery]:
    async with db.session() as session:
        found = (await session.exec(select(AlertDelivery))).all()
    return {(row.alert_id, row.channel.value): row for row in found}


async def wait_for(predicate: Any, timeout: float, message: str) -> None:
    deadline = time.monotonic() + timeout
    while not await predicate():
        if time.monotonic() > deadline:
            raise AssertionError(message)
        await asyncio.sleep(0.02)


def stand_in(delivery: Delivery, worker_id: str) -> DeliveryWorker:
    """Another worker process, as far as the database can tell: same channels, own id."""
    return DeliveryWorker(
        db=delivery.worker.db,
        settings=delivery.settings,
        channels=delivery.channels,
        clock=delivery.clock,
        worker_id=worker_id,
    )


@pytest.fixture
async def provider_delivery(
    settings: Settings,
    db: Database,
    clock: Clock,
    fake_twilio: FakeTwilio,
    fake_fcm: FakeFCM,
    fcm_service_account: Path,
    smtp_sink: SmtpSink,
) -> AsyncIterator[Delivery]:
    configured = with_providers(
        settings,
        twilio=fake_twilio,
        fcm=fake_fcm,
        fcm_credentials=fcm_service_account,
        smtp=smtp_sink,
        provider_concurrency=1,
    )
    delivery = make_delivery(configured, db, clock)
    yield delivery
    await delivery.close()


async def test_a_worker_stopped_mid_send_leaves_in_doubt_only_what_was_on_the_wire(
    api: Api,
    db: Database,
    clock: Clock,
    provider_delivery: Delivery,
    fake_twilio: FakeTwilio,
    fake_fcm: FakeFCM,
    smtp_sink: SmtpSink,
) -> None:
    await make_account(db, user_id=7, account_number=ACCOUNT)
    await reachable_customer(db, 7)
    # ACCOUNT_LOGIN on PUSH and EMAIL, then LARGE_TRANSACTION on PUSH and SMS.
    await api.as_service(RECORD_LOGIN, {"input": login(7, day(), device="tablet")})
    await api.as_service(RECORD_TRANSACTION, {"input": transaction(ACCOUNT, "60000", day(1))})
    for peer in (fake_twilio, fake_fcm, smtp_sink):
        peer.set_delay(1.0)

    # One send per channel at a time: the second push waits for the first one's slot.
    stopped = stand_in(provider_delivery, "stopped-worker")
    batch = asyncio.create_task(stopped.run_once())

    async def three_on_the_wire() -> bool:
        started = [r for r in (await rows(db)).values() if r.send_started_at is not None]
        return len(started) == 3

    await wait_for(three_on_the_wire, 10, "the sends never started")
    await asyncio.sleep(0.3)  # the messages are on their way to the providers
    batch.cancel()  # the worker stops: nothing after this point is recorded
    with pytest.raises(asyncio.CancelledError):
        await batch
    on_the_wire = {key for key, row in (await rows(db)).items() if row.send_started_at}
    assert {channel for _, channel in on_the_wire} == {"PUSH", "SMS", "EMAIL"}
    # The providers got the messages whose outcome the worker never heard.
    await asyncio.to_thread(fake_fcm.wait_for, 1, 5)
    await asyncio.to_thread(fake_twilio.wait_for, 1, 5)
    await asyncio.to_thread(smtp_sink.wait_for, 1, 5)
    for peer in (fake_twilio, fake_fcm, smtp_sink):
        peer.set_delay(0)

    assert await provider_delivery.worker.run_once() == 0  # the lease still holds
    clock.advance(seconds=31)
    assert await provider_delivery.drain() == 4
    after = await rows(db)
    assert {row.status.value for row in after.values()} == {"SENT"}
    for key, row in after.items():
        expected = (2, 1) if key in on_the_wire else (1, 0)
        assert (row.attempts, row.attempts_in_doubt) == expected, key

    pushes: dict[str, list[providers.FcmMessage]] = {}
    for message in fake_fcm.messages:
        pushes.setdefault((message.data or {})["alertId"], []).append(message)
    assert sorted(len(copies) for copies in pushes.values()) == [1, 2]
    for alert_id, copies in pushes.items():
        key = collapse_identity(int(alert_id), NotificationChannel.PUSH)
        for copy in copies:
            assert copy.android is not None and copy.apns is not None
            assert copy.android["collapse_key"] == key
            assert copy.android["notification"]["tag"] == key
            assert copy.apns["headers"]["apns-collapse-id"] == key
    mails = smtp_sink.messages
    assert len(mails) == 2
    assert mails[0].message["Message-ID"] == mails[1].message["Message-ID"]
    assert len(fake_twilio.messages) == 2  # an SMS cannot be recalled: the customer has two

    doubts = await audit_entries(db, "delivery.in_doubt")
    assert sorted((d.details["channel"], d.details["repeat"]) for d in doubts) == [
        ("EMAIL", "FOLDED"),
        ("PUSH", "REPLACED"),
        ("SMS", "SEEN_TWICE"),
    ]
    assert {int(d.subject_id or 0) for d in doubts} == {after[key].id for key in on_the_wire}
    body = await api.as_customer(7, DELIVERIES_QUERY)
    seen = {
        (item["alertType"], d["channel"]): (d["status"], d["attempts"], d["attemptsInDoubt"])
        for item in body["data"]["accountAlerts"]["items"]
        for d in item["deliveries"]
    }
    assert sorted(seen.values()) == [("SENT", 1, 0)] + [("SENT", 2, 1)] * 3


async def test_outcomes_are_recorded_as_sends_complete_not_at_the_end_of_the_batch(
    settings: Settings, api: Api, db: Database, clock: Clock, fake_twilio: FakeTwilio
) -> None:
    configured = with_providers(settings, twilio=fake_twilio, provider_concurrency=1)
    delivery = make_delivery(configured, db, clock)
    try:
        await make_account(db, user_id=7, account_number=ACCOUNT)
        await reachable_customer(db, 7, push=False, email=False)
        await api.as_customer(
            7,
            """mutation { updateAccountAlertSettings(accountNumber: "1000000001",
               settings: {largeTransactionChannels: [SMS]}) { accountNumber } }""",
        )
        for minute in range(4):
            event = transaction(ACCOUNT, "60000", day() + timedelta(minutes=minute))
            await api.as_service(RECORD_TRANSACTION, {"input": event})
        fake_twilio.set_delay(0.4)
        batch = asyncio.create_task(delivery.worker.run_once())

        async def one_sent() -> bool:
            return any(r.status.value == "SENT" for r in (await rows(db)).values())

        await wait_for(one_sent, 10, "no outcome was recorded while the batch ran")
        assert not batch.done()
        assert len(fake_twilio.messages) < 4
        assert await batch == 4
        assert {r.status.value for r in (await rows(db)).values()} == {"SENT"}
    finally:
        await delivery.close()


async def test_an_outcome_of_a_send_another_worker_took_over_leaves_its_record_alone(
    settings: Settings, api: Api, db: Database, clock: Clock, fake_twilio: FakeTwilio
) -> None:
    configured = with_providers(settings, twilio=fake_twilio, provider_concurrency=1)
    delivery = make_delivery(configured, db, clock)
    try:
        await make_account(db, user_id=7, account_number=ACCOUNT)
        await reachable_customer(db, 7, push=False, email=False)
        await api.as_customer(
            7,
            """mutation { updateAccountAlertSettings(accountNumber: "1000000001",
               settings: {largeTransactionChannels: [SMS]}) { accountNumber } }""",
        )
        await api.as_service(RECORD_TRANSACTION, {"input": transaction(ACCOUNT, "60000", day())})
        fake_twilio.set_delay(0.5)
        batch = asyncio.create_task(delivery.worker.run_once())

        async def on_the_wire() -> bool:
            return any(r.send_started_at is not None for r in (await rows(db)).values())

        await wait_for(on_the_wire, 10, "the send never started")
        # Its lease ran out meanwhile and another worker took the delivery over.
        async with db.transaction() as session:
            await session.exec(
                sa.update(outbox.DELIVERIES).values(lease_owner="other", send_started_at=None)
            )
        assert await batch == 1
        (row,) = (await rows(db)).values()
        assert (row.status.value, row.lease_owner, row.attempts) == ("PENDING", "other", 0)
        assert await audit_entries(db, "delivery.attempted") == []
        assert len(fake_twilio.messages) == 1
    finally:
        await delivery.close()


async def test_a_sink_repeat_carries_the_same_delivery_key(
    settings: Settings, api: Api, db: Database, clock: Clock, tmp_path: Path
) -> None:
    path = tmp_path / "sink.jsonl"
    delivery = make_delivery(with_providers(settings, sink_file=path), db, clock)
    try:
        await make_account(db, user_id=7, account_number=ACCOUNT)
        await reachable_customer(db, 7)
        await api.as_service(RECORD_TRANSACTION, {"input": transaction(ACCOUNT, "60000", day())})
        assert await delivery.drain() == 2
        # The same deliveries again, as a takeover after a send in doubt would send them.
        async with db.transaction() as session:
            await session.exec(
                sa.update(outbox.DELIVERIES).values(
                    status="PENDING", send_started_at=clock.now, lease_owner="gone"
                )
            )
        clock.advance(seconds=1)
        assert await delivery.drain() == 2
        lines = sink_lines(path)
        keys = {line["channel"]: set() for line in lines}
        for line in lines:
            keys[line["channel"]].add(line["deliveryKey"])
        alert_id = lines[0]["alertId"]
        assert len(lines) == 4
        assert keys == {
            "PUSH": {collapse_identity(alert_id, NotificationChannel.PUSH)},
            "SMS": {collapse_identity(alert_id, NotificationChannel.SMS)},
        }
    finally:
        await delivery.close()


@pytest.mark.postgresql_only
async def test_a_claim_the_database_failed_under_is_given_back_at_once(
    pg_cluster: PostgresCluster,
    api: Api,
    db: Database,
    clock: Clock,
    settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path = tmp_path / "sink.jsonl"
    delivery = make_delivery(with_providers(settings, sink_file=path), db, clock)
    try:
        await make_account(db, user_id=7, account_number=ACCOUNT)
        await reachable_customer(db, 7)
        await api.as_service(RECORD_TRANSACTION, {"input": transaction(ACCOUNT, "60000", day())})
        read_claimed = outbox.load_claimed

        async def restart_then_read(session: Any, ids: Any) -> Any:
            await session.connection()  # the connection the read will use, then the restart
            await asyncio.to_thread(pg_cluster.restart)
            monkeypatch.setattr(outbox, "load_claimed", read_claimed)
            return await read_claimed(session, ids)

        monkeypatch.setattr(outbox, "load_claimed", restart_then_read)
        with pytest.raises(sa.exc.DBAPIError):
            await delivery.worker.run_once()
        claimed = await rows(db)
        assert {(r.status.value, r.lease_owner) for r in claimed.values()} == {("PENDING", None)}
        assert all(r.send_started_at is None and r.attempts == 0 for r in claimed.values())
        # Same instant: nothing waits for the 30-second lease.
        assert await delivery.drain() == 2
        assert {r.status.value for r in (await rows(db)).values()} == {"SENT"}
        assert len(sink_lines(path)) == 2
        async with db.session() as session:
            alert = (await session.exec(select(AccountAlert))).one()
        assert alert.status.value == "SENT"
    finally:
        await delivery.close()
