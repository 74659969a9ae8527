"""Every accepted alert reaches the customer: through the real twilio, firebase-admin and
SMTP clients talking to local peers that speak their wire formats, or the sink."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import col, select

from account_alerts.api.app import create_app
from account_alerts.config import Settings
from account_alerts.domain.enums import NotificationChannel
from account_alerts.domain.sms import segments
from account_alerts.store.alerts import AccountAlert, AlertDelivery
from account_alerts.store.audit import AuditEntry
from account_alerts.store.customers import Device
from account_alerts.store.database import Database
from tests.conftest import Api, Clock
from tests.support import providers
from tests.support.delivery import (
    EMAIL,
    PHONE,
    PUSH_TOKEN,
    Delivery,
    count_passes,
    make_delivery,
    reachable_customer,
    sink_lines,
    with_providers,
)
from tests.support.events import (
    RECORD_LOGIN,
    RECORD_TRANSACTION,
    SYNC_BALANCE,
    balance,
    login,
    transaction,
)
from tests.support.factories import make_account
from tests.support.providers import FakeFCM, FakeTwilio, SmtpSink, twilio_signature

fake_twilio = providers.fake_twilio
fake_fcm = providers.fake_fcm
fcm_service_account = providers.fcm_service_account
smtp_sink = providers.smtp_sink

ACCOUNT = "1000000001"


def day(hours: float = 0) -> datetime:
    base = datetime.now(UTC).replace(hour=6, minute=0, second=0, microsecond=0) - timedelta(days=2)
    return base + timedelta(hours=hours)


async def deliveries(db: Database) -> dict[tuple[str, str], AlertDelivery]:
    async with db.session() as session:
        rows = (
            await session.exec(
                select(AccountAlert, AlertDelivery).join(
                    AlertDelivery, col(AlertDelivery.alert_id) == col(AccountAlert.id)
                )
            )
        ).all()
    return {(alert.alert_type.value, d.channel.value): d for alert, d in rows}


async def deliveries_by_attempts(db: Database) -> list[int]:
    async with db.session() as session:
        rows = (await session.exec(select(AlertDelivery).order_by(col(AlertDelivery.id)))).all()
    return [row.attempts for row in rows]


async def alerts(db: Database) -> list[AccountAlert]:
    async with db.session() as session:
        return list((await session.exec(select(AccountAlert).order_by(col(AccountAlert.id)))).all())


@pytest.fixture
async def sink_delivery(
    settings: Settings, db: Database, clock: Clock, tmp_path: Path
) -> AsyncIterator[tuple[Delivery, Path]]:
    path = tmp_path / "sink.jsonl"
    delivery = make_delivery(with_providers(settings, sink_file=path), db, clock)
    yield delivery, path
    await delivery.close()


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
    )
    delivery = make_delivery(configured, db, clock)
    yield delivery
    await delivery.close()


async def test_sink_writes_one_line_per_channel_and_never_twice(
    api: Api, db: Database, sink_delivery: tuple[Delivery, Path]
) -> None:
    delivery, path = sink_delivery
    await make_account(db, user_id=7, account_number=ACCOUNT)
    await reachable_customer(db, 7)
    await api.as_service(RECORD_TRANSACTION, {"input": transaction(ACCOUNT, "60000", day())})
    assert await delivery.drain() == 2
    lines = sink_lines(path)
    assert sorted(line["channel"] for line in lines) == ["PUSH", "SMS"]
    for line in lines:
        assert {"channel", "to", "alertId", "alertType", "title", "body", "sentAt"} <= set(line)
        assert line["alertType"] == "LARGE_TRANSACTION"
        assert ACCOUNT not in line["body"] and "****0001" in line["body"]
        assert PHONE not in line["to"]
    assert await delivery.drain() == 0
    assert len(sink_lines(path)) == 2
    [alert] = await alerts(db)
    assert {line["alertId"] for line in lines} == {str(alert.id)}
    assert alert.status.value == "SENT" and sorted(alert.channels_sent) == ["PUSH", "SMS"]
    sent = await deliveries(db)
    assert {d.status.value for d in sent.values()} == {"SENT"}
    assert all(d.attempts == 1 and d.provider_message_id for d in sent.values())
    body = await api.as_customer(
        7,
        "{ accountAlerts { items { status channelsSent sentAt"
        " deliveries { channel status sentAt } } } }",
    )
    item = body["data"]["accountAlerts"]["items"][0]
    assert item["status"] == "SENT" and item["sentAt"] is not None
    async with db.session() as session:
        attempts = (
            await session.exec(select(AuditEntry).where(AuditEntry.action == "delivery.attempted"))
        ).all()
    assert sorted(a.details["outcome"] for a in attempts) == ["sent", "sent"]


async def test_a_lone_alert_goes_at_once_and_alerts_streaming_in_go_out_together(
    api: Api, db: Database, settings: Settings, clock: Clock, tmp_path: Path
) -> None:
    """The worker's own loop, woken by each new alert: the first alert on a quiet worker is
    claimed at once, alone; the alerts committed within the wave interval after that claim
    are claimed together, in one claim."""
    path = tmp_path / "sink.jsonl"
    configured = with_providers(settings, sink_file=path, worker_wave_interval_ms=2000)
    delivery = make_delivery(configured, db, clock)
    worker = delivery.worker
    claims = count_passes(worker)
    await make_account(db, user_id=7, account_number=ACCOUNT)
    await reachable_customer(db, 7)

    async def sent(count: int) -> None:
        for _ in range(200):
            if len(sink_lines(path)) >= count:
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"{len(sink_lines(path))} of {count} deliveries sent")

    stop = asyncio.Event()
    loop = asyncio.create_task(worker.run(stop))
    try:
        await api.as_service(RECORD_TRANSACTION, {"input": transaction(ACCOUNT, "60000", day())})
        worker.wake.set()
        await sent(2)
        for n in range(3):
            event = transaction(ACCOUNT, "60000", day(0.1 * (n + 1)))
            await api.as_service(RECORD_TRANSACTION, {"input": event})
            worker.wake.set()
        await sent(8)
    finally:
        stop.set()
        await loop
        await delivery.close()
    assert claims == [2, 6]
    assert sorted(line["channel"] for line in sink_lines(path)) == ["PUSH"] * 4 + ["SMS"] * 4


async def test_an_alert_acknowledged_before_delivery_stays_acknowledged(
    api: Api, db: Database, sink_delivery: tuple[Delivery, Path]
) -> None:
    delivery, _ = sink_delivery
    await make_account(db, user_id=7, account_number=ACCOUNT)
    await reachable_customer(db, 7)
    result = await api.as_service(
        RECORD_TRANSACTION, {"input": transaction(ACCOUNT, "60000", day())}
    )
    alert_id = result["data"]["recordTransaction"]["alerts"][0]["id"]
    await api.as_customer(
        7,
        "mutation($id: ID!) { acknowledgeAlert(alertId: $id, action: THIS_WAS_ME) }",
        {"id": alert_id},
    )
    assert await delivery.drain() == 2
    [alert] = await alerts(db)
    assert alert.status.value == "ACKNOWLEDGED"
    assert sorted(alert.channels_sent) == ["PUSH", "SMS"] and alert.sent_at is not None


async def test_unverified_channels_are_skipped_with_the_reason(
    api: Api, db: Database, sink_delivery: tuple[Delivery, Path]
) -> None:
    delivery, path = sink_delivery
    await make_account(db, user_id=7, account_number=ACCOUNT)
    await reachable_customer(db, 7, phone=False, email=False)
    await api.as_service(RECORD_LOGIN, {"input": login(7, day(), device="new")})
    await delivery.drain()
    rows = await deliveries(db)
    assert rows[("ACCOUNT_LOGIN", "EMAIL")].status.value == "SKIPPED"
    assert rows[("ACCOUNT_LOGIN", "EMAIL")].last_error == "no verified email address"
    assert rows[("ACCOUNT_LOGIN", "PUSH")].status.value == "SENT"
    assert [line["channel"] for line in sink_lines(path)] == ["PUSH"]


async def test_security_alert_falls_back_to_sms_without_a_push_device(
    api: Api, db: Database, sink_delivery: tuple[Delivery, Path]
) -> None:
    delivery, path = sink_delivery
    await make_account(db, user_id=7, account_number=ACCOUNT)
    await reachable_customer(db, 7, push=False)
    await api.as_service(RECORD_LOGIN, {"input": login(7, day(), device="new")})
    await delivery.drain()
    rows = await deliveries(db)
    assert rows[("ACCOUNT_LOGIN", "PUSH")].status.value == "FAILED"
    assert rows[("ACCOUNT_LOGIN", "PUSH")].last_error == "no registered push device"
    assert rows[("ACCOUNT_LOGIN", "SMS")].status.value == "SENT"
    assert sorted(line["channel"] for line in sink_lines(path)) == ["EMAIL", "SMS"]


async def test_low_balance_is_not_sent_by_sms_when_push_fails(
    api: Api, db: Database, sink_delivery: tuple[Delivery, Path]
) -> None:
    delivery, _ = sink_delivery
    await make_account(db, user_id=7, account_number=ACCOUNT)
    await reachable_customer(db, 7, push=False)
    await api.as_service(SYNC_BALANCE, {"input": balance(ACCOUNT, "10", day())})
    await delivery.drain()
    rows = await deliveries(db)
    assert list(rows) == [("LOW_BALANCE", "PUSH")]
    assert (await alerts(db))[0].status.value == "FAILED"


async def test_real_clients_deliver_to_each_provider(
    api: Api,
    db: Database,
    provider_delivery: Delivery,
    fake_twilio: FakeTwilio,
    fake_fcm: FakeFCM,
    smtp_sink: SmtpSink,
) -> None:
    await make_account(db, user_id=7, account_number=ACCOUNT)
    await reachable_customer(db, 7)
    await api.as_service(RECORD_LOGIN, {"input": login(7, day(), device="phone-1")})
    await api.as_service(
        RECORD_TRANSACTION, {"input": transaction(ACCOUNT, "10", day(1), balance_after="3250.5")}
    )
    odd = transaction(ACCOUNT, "10", day(2), device="stolen", balance_after="3000")
    await api.as_service(RECORD_TRANSACTION, {"input": odd})
    await provider_delivery.drain()
    pushes = {m.notification["title"]: m for m in fake_fcm.wait_for(3)}
    assert {m.token for m in fake_fcm.messages} == {PUSH_TOKEN}
    push_low, push_suspicious = pushes["Low balance"], pushes["Suspicious activity"]
    assert pushes["New sign-in"].data["alertType"] == "ACCOUNT_LOGIN"
    assert push_low.notification == {
        "title": "Low balance",
        "body": "Your account ****0001 balance is below MWK 5,000.00. Current: MWK 3,250.50.",
    }
    assert push_suspicious.data["actions"] == "THIS_WAS_ME,REPORT_FRAUD"
    [sms] = fake_twilio.wait_for(1)
    assert sms.to == PHONE
    assert sms.body.startswith("Alert: We noticed a transaction from a new device")
    assert sms.body.endswith("Reply STOP to opt out, HELP for help.")
    assert segments(sms.body) <= 2
    assert sms.status_callback.endswith("/webhooks/twilio/status")
    mails = smtp_sink.wait_for(2)
    suspicious_mail = next(m for m in mails if m.subject == "Suspicious activity")
    assert suspicious_mail.rcpt_tos == [EMAIL]
    assert suspicious_mail.html is not None and "Not you? Report fraud" in suspicious_mail.html
    assert "action=REPORT_FRAUD" in (suspicious_mail.text or "")
    assert ACCOUNT not in (suspicious_mail.html + (suspicious_mail.text or ""))
    rows = await deliveries(db)
    assert rows[("SUSPICIOUS_ACTIVITY", "SMS")].provider_message_id == sms.sid
    assert {d.status.value for d in rows.values()} == {"SENT"}


async def test_low_balance_sms_uses_the_specification_wording(
    api: Api, db: Database, provider_delivery: Delivery, fake_twilio: FakeTwilio
) -> None:
    await make_account(db, user_id=7, account_number=ACCOUNT)
    await reachable_customer(db, 7)
    await api.as_customer(
        7,
        """mutation { updateAccountAlertSettings(accountNumber: "1000000001",
           settings: {lowBalanceChannels: [SMS]}) { lowBalanceChannels } }""",
    )
    await api.as_service(SYNC_BALANCE, {"input": balance(ACCOUNT, "1234.5", day())})
    await provider_delivery.drain()
    [sms] = fake_twilio.wait_for(1)
    assert sms.body == (
        "Alert: Your account ****0001 balance is below MWK 5,000.00. Current: MWK 1,234.50. "
        "Reply STOP to opt out, HELP for help."
    )


async def test_provider_failing_then_recovering_is_retried_with_backoff(
    api: Api, db: Database, provider_delivery: Delivery, fake_twilio: FakeTwilio, clock: Clock
) -> None:
    await make_account(db, user_id=7, account_number=ACCOUNT)
    await reachable_customer(db, 7)
    fake_twilio.fail_next(2, status=503)
    await api.as_service(RECORD_TRANSACTION, {"input": transaction(ACCOUNT, "60000", day())})
    await provider_delivery.drain()
    sms = (await deliveries(db))[("LARGE_TRANSACTION", "SMS")]
    assert (sms.status.value, sms.attempts) == ("PENDING", 1)
    assert sms.last_error is not None and "503" in sms.last_error
    first_wait = sms.next_attempt_at - clock.now
    assert timedelta(seconds=1) <= first_wait <= timedelta(seconds=2)
    assert await provider_delivery.drain() == 0  # not due yet
    clock.advance(seconds=3)
    await provider_delivery.drain()
    sms = (await deliveries(db))[("LARGE_TRANSACTION", "SMS")]
    assert (sms.status.value, sms.attempts) == ("PENDING", 2)
    assert timedelta(seconds=2) <= sms.next_attempt_at - clock.now <= timedelta(seconds=4)
    clock.advance(seconds=5)
    await provider_delivery.drain()
    sms = (await deliveries(db))[("LARGE_TRANSACTION", "SMS")]
    assert (sms.status.value, sms.attempts) == ("SENT", 3)
    assert len(fake_twilio.messages) == 1
    assert len(fake_twilio.attempts) == 3


async def test_an_invalid_number_fails_at_once_and_is_visible(
    api: Api, db: Database, provider_delivery: Delivery, fake_twilio: FakeTwilio
) -> None:
    await make_account(db, user_id=7, account_number=ACCOUNT)
    await reachable_customer(db, 7, push=False)
    fake_twilio.reject(PHONE, code=21211)
    await api.as_customer(
        7,
        """mutation { updateAccountAlertSettings(accountNumber: "1000000001",
           settings: {largeTransactionChannels: [SMS]}) { accountNumber } }""",
    )
    await api.as_service(RECORD_TRANSACTION, {"input": transaction(ACCOUNT, "60000", day())})
    await provider_delivery.drain()
    sms = (await deliveries(db))[("LARGE_TRANSACTION", "SMS")]
    assert (sms.status.value, sms.attempts) == ("FAILED", 1)
    assert "21211" in (sms.last_error or "")
    body = await api.as_customer(
        7, "{ accountAlerts { items { status deliveries { channel status lastError attempts } } } }"
    )
    item = body["data"]["accountAlerts"]["items"][0]
    assert item["status"] == "FAILED"
    assert item["deliveries"][0]["status"] == "FAILED"


async def test_unregistered_push_token_is_deactivated_and_sms_takes_over(
    api: Api,
    db: Database,
    provider_delivery: Delivery,
    fake_fcm: FakeFCM,
    fake_twilio: FakeTwilio,
) -> None:
    await make_account(db, user_id=7, account_number=ACCOUNT)
    await reachable_customer(db, 7, email=False)
    fake_fcm.unregister(PUSH_TOKEN)
    await api.as_service(RECORD_LOGIN, {"input": login(7, day(), device="tablet")})
    await provider_delivery.drain()
    rows = await deliveries(db)
    assert rows[("ACCOUNT_LOGIN", "PUSH")].status.value == "FAILED"
    assert rows[("ACCOUNT_LOGIN", "SMS")].status.value == "SENT"
    assert len(fake_twilio.messages) == 1
    async with db.session() as session:
        device = (await session.exec(select(Device).where(Device.device_id == "phone-1"))).one()
    assert device.push_token_active is False
    await api.as_service(RECORD_LOGIN, {"input": login(7, day(1), device="laptop")})
    await provider_delivery.drain()
    assert len(fake_fcm.attempts) == 1  # the dead token is not tried again


async def test_a_provider_down_opens_its_circuit_breaker(
    settings: Settings, api: Api, db: Database, clock: Clock, fake_twilio: FakeTwilio
) -> None:
    configured = with_providers(
        settings, twilio=fake_twilio, breaker_failures=3, breaker_cooldown_seconds=60
    )
    delivery = make_delivery(configured, db, clock)
    try:
        await make_account(db, user_id=7, account_number=ACCOUNT)
        await reachable_customer(db, 7, push=False, email=False)
        await api.as_customer(
            7,
            """mutation { updateAccountAlertSettings(accountNumber: "1000000001",
               settings: {largeTransactionChannels: [SMS]}) { accountNumber } }""",
        )
        fake_twilio.down()
        for minute in range(5):
            event = transaction(ACCOUNT, "60000", day() + timedelta(minutes=minute))
            await api.as_service(RECORD_TRANSACTION, {"input": event})
        await delivery.drain()
        first = await deliveries_by_attempts(db)
        assert first == [1] * 5  # one failed try each, then the breaker opened
        assert delivery.worker.breakers[NotificationChannel.SMS].is_open
        clock.advance(seconds=30)  # retries are due, but the breaker is still open
        await delivery.drain()
        assert await deliveries_by_attempts(db) == [1] * 5
        fake_twilio.up()
        clock.advance(seconds=31 + 600)
        await delivery.drain()
        rows = await deliveries(db)
        assert {d.status.value for d in rows.values()} == {"SENT"}
        assert len(fake_twilio.messages) == 5
    finally:
        await delivery.close()


async def sms_only_customer(api: Api, db: Database) -> None:
    await make_account(db, user_id=7, account_number=ACCOUNT)
    await reachable_customer(db, 7, push=False, email=False)
    await api.as_customer(
        7,
        """mutation { updateAccountAlertSettings(accountNumber: "1000000001",
           settings: {largeTransactionChannels: [SMS]}) { accountNumber } }""",
    )


async def test_the_breaker_stops_the_rest_of_a_batch_once_it_opens(
    settings: Settings, api: Api, db: Database, clock: Clock, fake_twilio: FakeTwilio
) -> None:
    configured = with_providers(
        settings,
        twilio=fake_twilio,
        breaker_failures=3,
        breaker_cooldown_seconds=60,
        provider_concurrency=1,
    )
    delivery = make_delivery(configured, db, clock)
    try:
        await sms_only_customer(api, db)
        fake_twilio.down()
        for minute in range(6):
            event = transaction(ACCOUNT, "60000", day() + timedelta(minutes=minute))
            await api.as_service(RECORD_TRANSACTION, {"input": event})
        assert await delivery.worker.run_once() == 6
        # Three failures open the breaker: the other three are not tried, not counted
        # as attempts, and wait for the breaker to close.
        assert len(fake_twilio.attempts) == 3
        assert await deliveries_by_attempts(db) == [1, 1, 1, 0, 0, 0]
        async with db.session() as session:
            rows = (await session.exec(select(AlertDelivery))).all()
            audited = (
                await session.exec(
                    select(AuditEntry).where(AuditEntry.action == "delivery.attempted")
                )
            ).all()
        assert {row.status.value for row in rows} == {"PENDING"}
        assert len(audited) == 3
        untried = [row for row in rows if row.attempts == 0]
        assert all(row.next_attempt_at >= clock.now + timedelta(seconds=59) for row in untried)
        fake_twilio.up()
        clock.advance(seconds=61 + 600)
        await delivery.drain()
        assert {row.status.value for row in (await deliveries(db)).values()} == {"SENT"}
        assert len(fake_twilio.messages) == 6
    finally:
        await delivery.close()


async def test_a_slow_provider_leaves_the_rest_of_the_batch_to_the_next_claim(
    settings: Settings, api: Api, db: Database, clock: Clock, fake_twilio: FakeTwilio
) -> None:
    """A batch must be recorded well within its lease, or another worker would claim and
    send it again: sends that have not started by half the lease wait for the next claim."""
    configured = with_providers(
        settings, twilio=fake_twilio, worker_lease_seconds=5, provider_concurrency=1
    )
    delivery = make_delivery(configured, db, clock)
    try:
        await sms_only_customer(api, db)
        for minute in range(5):
            event = transaction(ACCOUNT, "60000", day() + timedelta(minutes=minute))
            await api.as_service(RECORD_TRANSACTION, {"input": event})
        fake_twilio.set_delay(1.0)
        assert await delivery.worker.run_once() == 5
        sent_first = len(fake_twilio.messages)
        assert 1 <= sent_first < 5
        attempts = await deliveries_by_attempts(db)
        assert sorted(attempts) == [0] * (5 - sent_first) + [1] * sent_first
        fake_twilio.set_delay(0)
        await delivery.drain()
        assert {row.status.value for row in (await deliveries(db)).values()} == {"SENT"}
        assert await deliveries_by_attempts(db) == [1] * 5
        assert len(fake_twilio.messages) == 5  # none twice
    finally:
        await delivery.close()


async def test_as_many_sends_reach_the_provider_at_once_as_the_setting_says(
    settings: Settings, api: Api, db: Database, clock: Clock, fake_twilio: FakeTwilio
) -> None:
    """ALERTS_PROVIDER_CONCURRENCY is how many sends a slow provider is asked at once: no
    fewer (they had waited for a thread of a pool shared by the whole process, sized by its
    CPUs: at most 32), and no more (each keeps its place until its outcome is written)."""
    places = 40
    configured = with_providers(settings, twilio=fake_twilio, provider_concurrency=places)
    delivery = make_delivery(configured, db, clock)
    try:
        await sms_only_customer(api, db)
        for minute in range(places + 5):
            event = transaction(ACCOUNT, "60000", day() + timedelta(minutes=minute))
            await api.as_service(RECORD_TRANSACTION, {"input": event})
        # Each answer takes 2 s: the first 40 sends all reach the provider within that
        # even on a busy machine (their threads' requests cost about 0.1 s of CPU in all;
        # with 0.5 s, the first answers had come back before the last sends started).
        fake_twilio.set_delay(2.0)
        await delivery.drain()
        assert {row.status.value for row in (await deliveries(db)).values()} == {"SENT"}
        assert len(fake_twilio.messages) == places + 5
        assert fake_twilio.most_in_flight == places
    finally:
        await delivery.close()


async def test_quiet_hours_hold_delivery_until_they_end(
    api: Api, db: Database, sink_delivery: tuple[Delivery, Path], clock: Clock
) -> None:
    delivery, path = sink_delivery
    await make_account(db, user_id=7, account_number=ACCOUNT, time_zone="UTC")
    await reachable_customer(db, 7)
    start = (clock.now - timedelta(hours=1)).time().replace(second=0, microsecond=0)
    end = (clock.now + timedelta(hours=1)).time().replace(second=0, microsecond=0)
    await api.as_customer(
        7,
        """mutation($s: AccountAlertSettingsInput!) {
           updateAccountAlertSettings(accountNumber: "1000000001", settings: $s) {
             accountNumber } }""",
        {
            "s": {
                "quietHoursEnabled": True,
                "quietHoursStart": start.isoformat(),
                "quietHoursEnd": end.isoformat(),
            }
        },
    )
    await api.as_service(SYNC_BALANCE, {"input": balance(ACCOUNT, "10", day())})
    await delivery.drain()
    assert sink_lines(path) == []
    clock.advance(hours=1, minutes=1)
    await delivery.drain()
    assert [line["alertType"] for line in sink_lines(path)] == ["LOW_BALANCE"]


async def test_twilio_status_callback_is_signature_checked(
    settings: Settings, db: Database, clock: Clock, api: Api, fake_twilio: FakeTwilio
) -> None:
    configured = with_providers(settings, twilio=fake_twilio)
    delivery = make_delivery(configured, db, clock)
    app = create_app(configured, database=db, clock=clock, channels=delivery.channels)
    try:
        await make_account(db, user_id=7, account_number=ACCOUNT)
        await reachable_customer(db, 7, push=False, email=False)
        await api.as_service(RECORD_LOGIN, {"input": login(7, day(), device="x")})
        await delivery.drain()
        [message] = fake_twilio.wait_for(1)
        url, params, headers = fake_twilio.status_callback(message, "undelivered", error_code=30003)
        path = "/webhooks/twilio/status"
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://alerts.test"
        ) as client:
            forged = await client.post(path, data=params, headers={"X-Twilio-Signature": "AAAA"})
            assert forged.status_code == 403
            assert (await deliveries(db))[("ACCOUNT_LOGIN", "SMS")].status.value == "SENT"
            good = await client.post(path, data=params, headers=headers)
            assert good.status_code == 204
        sms = (await deliveries(db))[("ACCOUNT_LOGIN", "SMS")]
        assert sms.status.value == "FAILED" and "30003" in (sms.last_error or "")
        assert url == configured.public_url + path
        assert (
            twilio_signature(fake_twilio.auth_token, url, params) == headers["X-Twilio-Signature"]
        )
    finally:
        await delivery.close()


async def test_metrics_count_deliveries_and_queue(
    api: Api, db: Database, sink_delivery: tuple[Delivery, Path]
) -> None:
    delivery, _ = sink_delivery
    await make_account(db, user_id=7, account_number=ACCOUNT)
    await reachable_customer(db, 7)
    await api.as_service(RECORD_TRANSACTION, {"input": transaction(ACCOUNT, "60000", day())})
    queued = (await api.client.get("/metrics")).text
    assert "alerts_outbox_pending 2.0" in queued
    await delivery.drain()
    metrics: Any = (await api.client.get("/metrics")).text
    assert "alerts_outbox_pending 0.0" in metrics
    assert 'alerts_deliveries_total{channel="SMS",outcome="sent"}' in metrics
    assert "alerts_delivery_lag_seconds_bucket" in metrics
    assert 'alerts_provider_latency_seconds_count{provider="sink"}' in metrics
