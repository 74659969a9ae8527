"""The bank's services report events; the engine raises the right alerts, once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlmodel import col, select

from account_alerts.domain.enums import TransactionType
from account_alerts.domain.events import TransactionEvent, fingerprint, fingerprint_v1
from account_alerts.domain.geo import GeoPoint
from account_alerts.store.alerts import AccountAlert, AlertDelivery, SuspiciousActivity
from account_alerts.store.audit import AuditEntry
from account_alerts.store.customers import Account, Device
from account_alerts.store.database import Database
from account_alerts.store.events import IngestedEvent, LoginAttempt, TransactionRecord
from tests.conftest import Api, error_code
from tests.support.events import (
    BLANTYRE,
    LILONGWE,
    RECORD_LOGIN,
    RECORD_TRANSACTION,
    RECORD_TRANSACTIONS,
    SYNC_BALANCE,
    SYNC_BALANCES,
    ZOMBA,
    balance,
    login,
    transaction,
)
from tests.support.factories import make_account

ACCOUNT = "1000000001"
UPDATE = """mutation($a: String!, $s: AccountAlertSettingsInput!) {
  updateAccountAlertSettings(accountNumber: $a, settings: $s) { accountNumber } }"""


def day(hours: float = 0) -> datetime:
    """Event time: yesterday morning, so windows are well inside the past."""
    base = datetime.now(UTC).replace(hour=6, minute=0, second=0, microsecond=0) - timedelta(days=2)
    return base + timedelta(hours=hours)


async def send(api: Api, document: str, event: dict[str, Any]) -> dict[str, Any]:
    body = await api.as_service(document, {"input": event})
    assert "errors" not in body, body
    return next(iter(body["data"].values()))  # type: ignore[no-any-return]


def kinds(result: dict[str, Any]) -> list[str]:
    return sorted(alert["alertType"] for alert in result["alerts"])


async def all_alerts(db: Database) -> list[AccountAlert]:
    async with db.session() as session:
        return list((await session.exec(select(AccountAlert).order_by(col(AccountAlert.id)))).all())


async def test_large_debit_raises_an_alert_with_its_details(api: Api, db: Database) -> None:
    await make_account(db, user_id=7, account_number=ACCOUNT)
    result = await send(api, RECORD_TRANSACTION, transaction(ACCOUNT, "50000.01", day()))
    assert result["accepted"] and not result["duplicate"]
    assert kinds(result) == ["LARGE_TRANSACTION"]
    alert = result["alerts"][0]
    assert alert["details"]["transactionAmount"] == "50000.0100"
    assert alert["triggeredAt"] == day().isoformat()
    assert [d["channel"] for d in alert["deliveries"]] == ["PUSH", "SMS"]
    assert kinds(await send(api, RECORD_TRANSACTION, transaction(ACCOUNT, "50000", day(1)))) == []
    credit = transaction(ACCOUNT, "90000", day(2), kind="CREDIT")
    assert kinds(await send(api, RECORD_TRANSACTION, credit)) == []


async def test_credits_alert_when_debit_only_is_off(api: Api, db: Database) -> None:
    await make_account(db, user_id=7, account_number=ACCOUNT)
    await api.as_customer(7, UPDATE, {"a": ACCOUNT, "s": {"largeTransactionDebitOnly": False}})
    credit = transaction(ACCOUNT, "90000", day(), kind="CREDIT")
    assert kinds(await send(api, RECORD_TRANSACTION, credit)) == ["LARGE_TRANSACTION"]


async def test_low_balance_fires_once_per_day_even_after_recovery(api: Api, db: Database) -> None:
    await make_account(db, user_id=7, account_number=ACCOUNT)
    first = await send(
        api, RECORD_TRANSACTION, transaction(ACCOUNT, "10", day(), balance_after="4999.99")
    )
    assert kinds(first) == ["LOW_BALANCE"]
    assert first["alerts"][0]["details"]["currentBalance"] == "4999.9900"
    assert kinds(await send(api, SYNC_BALANCE, balance(ACCOUNT, "9000", day(2)))) == []
    again = await send(
        api, RECORD_TRANSACTION, transaction(ACCOUNT, "10", day(5), balance_after="100")
    )
    assert kinds(again) == []
    assert kinds(await send(api, SYNC_BALANCE, balance(ACCOUNT, "50", day(23.9)))) == []
    assert kinds(await send(api, SYNC_BALANCE, balance(ACCOUNT, "50", day(24)))) == ["LOW_BALANCE"]
    async with db.session() as session:
        reasons = [
            e.details["reason"]
            for e in (
                await session.exec(
                    select(AuditEntry).where(AuditEntry.action == "alert.suppressed")
                )
            ).all()
        ]
    assert reasons == ["already alerted within 24 hours"] * 2


async def test_balance_exactly_at_the_threshold_is_not_low(api: Api, db: Database) -> None:
    await make_account(db, user_id=7, account_number=ACCOUNT)
    assert kinds(await send(api, SYNC_BALANCE, balance(ACCOUNT, "5000", day()))) == []
    assert kinds(await send(api, SYNC_BALANCE, balance(ACCOUNT, "4999.9999", day(1)))) == [
        "LOW_BALANCE"
    ]


async def test_disabled_low_balance_alerts_produce_nothing_but_a_record(
    api: Api, db: Database
) -> None:
    await make_account(db, user_id=7, account_number=ACCOUNT)
    await api.as_customer(7, UPDATE, {"a": ACCOUNT, "s": {"lowBalanceEnabled": False}})
    assert kinds(await send(api, SYNC_BALANCE, balance(ACCOUNT, "1", day()))) == []
    assert await all_alerts(db) == []
    async with db.session() as session:
        entry = (
            await session.exec(select(AuditEntry).where(AuditEntry.action == "alert.suppressed"))
        ).one()
    assert entry.details["reason"] == "disabled by the customer"


async def test_the_same_event_twice_gives_the_same_result_and_one_alert(
    api: Api, db: Database
) -> None:
    await make_account(db, user_id=7, account_number=ACCOUNT)
    event = transaction(ACCOUNT, "80000", day(), balance_after="10")
    first = await send(api, RECORD_TRANSACTION, event)
    second = await send(api, RECORD_TRANSACTION, event)
    assert not first["duplicate"] and second["duplicate"]
    assert [a["id"] for a in second["alerts"]] == [a["id"] for a in first["alerts"]]
    assert len(await all_alerts(db)) == 2
    async with db.session() as session:
        assert len((await session.exec(select(TransactionRecord))).all()) == 1


async def test_reusing_an_event_id_for_other_content_is_refused(api: Api, db: Database) -> None:
    await make_account(db, user_id=7, account_number=ACCOUNT)
    event = transaction(ACCOUNT, "80000", day())
    await send(api, RECORD_TRANSACTION, event)
    body = await api.as_service(RECORD_TRANSACTION, {"input": {**event, "amount": "80001"}})
    assert error_code(body) == "BAD_USER_INPUT"
    assert "already used for a different event" in body["errors"][0]["message"]


async def test_an_event_stored_with_the_first_fingerprint_format_is_still_told_apart(
    api: Api, db: Database
) -> None:
    """Events recorded before fingerprints were orjson's keep their hex digest: a retry of
    one is still a duplicate, and other content under its eventId is still refused."""
    await make_account(db, user_id=7, account_number=ACCOUNT)
    event = transaction(ACCOUNT, "80000", day(), location=BLANTYRE)
    first = await send(api, RECORD_TRANSACTION, event)
    as_stored = TransactionEvent(
        event_id=event["eventId"],
        account_number=ACCOUNT,
        transaction_id=event["transactionId"],
        transaction_type=TransactionType.DEBIT,
        amount=Decimal("80000"),
        currency="MWK",
        occurred_at=datetime.fromisoformat(event["occurredAt"]),
        transaction_reference=event["transactionReference"],
        transaction_description=event["transactionDescription"],
        ip_address=event["ipAddress"],
        location=GeoPoint(**BLANTYRE),
    )
    async with db.transaction() as session:
        stored = await session.get(IngestedEvent, event["eventId"])
        assert stored is not None and stored.fingerprint == fingerprint(as_stored)
        stored.fingerprint = fingerprint_v1(as_stored)
    assert len(fingerprint_v1(as_stored)) == 64
    again = await send(api, RECORD_TRANSACTION, {**event, "amount": "80000.00"})
    assert again["duplicate"] and again["alerts"] == first["alerts"]
    body = await api.as_service(RECORD_TRANSACTION, {"input": {**event, "amount": "80001"}})
    assert error_code(body) == "BAD_USER_INPUT"
    assert "already used for a different event" in body["errors"][0]["message"]
    assert len(await all_alerts(db)) == 1


async def test_the_same_transaction_under_a_new_event_id_is_refused(api: Api, db: Database) -> None:
    await make_account(db, user_id=7, account_number=ACCOUNT)
    event = transaction(ACCOUNT, "80000", day())
    await send(api, RECORD_TRANSACTION, event)
    body = await api.as_service(RECORD_TRANSACTION, {"input": {**event, "eventId": "other-id"}})
    assert error_code(body) == "BAD_USER_INPUT"
    assert body["errors"][0]["extensions"]["field"] == "transactionId"
    assert len(await all_alerts(db)) == 1


BAD_EVENTS = [
    ({"amount": "0"}, "BAD_USER_INPUT", "amount"),
    ({"amount": "-5"}, "BAD_USER_INPUT", "amount"),
    ({"amount": "1.00001"}, "BAD_USER_INPUT", "amount"),
    ({"currency": "USD"}, "BAD_USER_INPUT", "currency"),
    ({"currency": "mwk"}, "BAD_USER_INPUT", "currency"),
    ({"accountNumber": "9999999999"}, "NOT_FOUND", "accountNumber"),
    ({"occurredAt": "2999-01-01T00:00:00+00:00"}, "BAD_USER_INPUT", "occurredAt"),
    ({"occurredAt": "2026-01-01T00:00:00"}, "BAD_USER_INPUT", "occurredAt"),
    ({"transactionDescription": "x" * 256}, "BAD_USER_INPUT", "transactionDescription"),
    ({"deviceId": "d" * 256}, "BAD_USER_INPUT", "deviceId"),
    ({"eventId": "has spaces"}, "BAD_USER_INPUT", "eventId"),
    ({"location": {"latitude": 91, "longitude": 0}}, "BAD_USER_INPUT", "location"),
]


async def test_bad_events_are_refused_clearly_and_store_nothing(api: Api, db: Database) -> None:
    await make_account(db, user_id=7, account_number=ACCOUNT)
    for change, code, field in BAD_EVENTS:
        event = {**transaction(ACCOUNT, "90000", day(), balance_after="1"), **change}
        body = await api.as_service(RECORD_TRANSACTION, {"input": event})
        assert error_code(body) == code, (change, body)
        assert body["errors"][0]["extensions"]["field"] == field, (change, body)
    async with db.session() as session:
        assert (await session.exec(select(IngestedEvent))).all() == []
        assert (await session.exec(select(TransactionRecord))).all() == []
    assert await all_alerts(db) == []


async def test_a_bad_item_in_a_batch_does_not_stop_the_good_ones(api: Api, db: Database) -> None:
    await make_account(db, user_id=7, account_number=ACCOUNT)
    good_1 = transaction(ACCOUNT, "60000", day())
    bad = transaction(ACCOUNT, "0", day(1))
    unknown = transaction("9999999999", "60000", day(1))
    good_2 = transaction(ACCOUNT, "70000", day(2))
    body = await api.as_service(RECORD_TRANSACTIONS, {"inputs": [good_1, bad, unknown, good_2]})
    assert "errors" not in body, body
    results = body["data"]["recordTransactions"]
    assert [r["eventId"] for r in results] == [e["eventId"] for e in (good_1, bad, unknown, good_2)]
    assert [r["accepted"] for r in results] == [True, False, False, True]
    assert results[1]["error"] == {
        "code": "BAD_USER_INPUT",
        "message": "amount must be greater than 0",
        "field": "amount",
    }
    assert results[2]["error"]["code"] == "NOT_FOUND"
    assert [kinds(r) for r in results] == [["LARGE_TRANSACTION"], [], [], ["LARGE_TRANSACTION"]]
    async with db.session() as session:
        stored = {r.event_id for r in (await session.exec(select(IngestedEvent))).all()}
    assert stored == {good_1["eventId"], good_2["eventId"]}
    again = await api.as_service(RECORD_TRANSACTIONS, {"inputs": [good_1, good_2]})
    assert [r["duplicate"] for r in again["data"]["recordTransactions"]] == [True, True]


async def test_fourth_failed_sign_in_in_ten_minutes_raises_one_alert(
    api: Api, db: Database
) -> None:
    await make_account(db, user_id=7, account_number=ACCOUNT)
    results = []
    for minute in (0, 2, 4, 6, 7, 8):
        event = login(7, day() + timedelta(minutes=minute), successful=False)
        results.append(kinds(await send(api, RECORD_LOGIN, event)))
    assert results == [[], [], [], ["SUSPICIOUS_ACTIVITY"], [], []]
    alerts = await all_alerts(db)
    assert len(alerts) == 1
    details = alerts[0].alert_data
    assert details["suspicionReason"] == "MULTIPLE_FAILED_ATTEMPTS"
    assert details["suspicionDetails"]["patterns"][0]["failedAttempts"] == 4
    async with db.session() as session:
        entry = (await session.exec(select(SuspiciousActivity))).one()
    assert entry.alert_id == alerts[0].id and 0 <= entry.risk_score <= 100
    assert entry.detection_details["riskComponents"]["base"] == 50
    later = login(7, day() + timedelta(minutes=30), successful=False)
    assert kinds(await send(api, RECORD_LOGIN, later)) == []


async def test_failed_sign_ins_spread_beyond_ten_minutes_raise_nothing(
    api: Api, db: Database
) -> None:
    for minute in (0, 4, 8, 12, 16, 20):
        event = login(7, day() + timedelta(minutes=minute), successful=False)
        assert kinds(await send(api, RECORD_LOGIN, event)) == []


async def test_first_sign_in_from_a_new_device_alerts_the_customer(api: Api, db: Database) -> None:
    first = await send(api, RECORD_LOGIN, login(7, day(), device="phone-1", location=BLANTYRE))
    assert kinds(first) == ["ACCOUNT_LOGIN"]
    assert first["alerts"][0]["details"]["isNewDevice"] is True
    assert first["alerts"][0]["accountNumber"] is None
    assert kinds(await send(api, RECORD_LOGIN, login(7, day(1), device="phone-1"))) == []
    assert kinds(await send(api, RECORD_LOGIN, login(7, day(2), device="tablet"))) == [
        "ACCOUNT_LOGIN"
    ]


async def test_every_login_and_new_location_modes(api: Api, db: Database) -> None:
    await make_account(db, user_id=7, account_number=ACCOUNT)
    await api.as_customer(7, UPDATE, {"a": ACCOUNT, "s": {"loginAlertMode": "EVERY_LOGIN"}})
    for hour in (0, 1):
        event = login(7, day(hour), device="phone-1", location=BLANTYRE)
        assert kinds(await send(api, RECORD_LOGIN, event)) == ["ACCOUNT_LOGIN"]
    await api.as_customer(7, UPDATE, {"a": ACCOUNT, "s": {"loginAlertMode": "NEW_LOCATION"}})
    near = login(7, day(2), device="phone-1", location=ZOMBA)
    assert kinds(await send(api, RECORD_LOGIN, near)) == []
    far = await send(api, RECORD_LOGIN, login(7, day(3), device="phone-1", location=LILONGWE))
    assert kinds(far) == ["ACCOUNT_LOGIN", "SUSPICIOUS_ACTIVITY"]
    by_type = {a["alertType"]: a for a in far["alerts"]}
    assert by_type["ACCOUNT_LOGIN"]["details"]["isNewLocation"] is True
    assert by_type["SUSPICIOUS_ACTIVITY"]["details"]["suspicionReason"] == "UNUSUAL_LOCATION"


async def test_transaction_from_a_new_device_far_away_is_suspicious(api: Api, db: Database) -> None:
    await make_account(db, user_id=7, account_number=ACCOUNT)
    await send(api, RECORD_LOGIN, login(7, day(), device="phone-1", location=BLANTYRE))
    usual = transaction(ACCOUNT, "100", day(1), device="phone-1", location=ZOMBA)
    assert kinds(await send(api, RECORD_TRANSACTION, usual)) == []
    odd = transaction(ACCOUNT, "100", day(2), device="stolen-phone", location=LILONGWE)
    result = await send(api, RECORD_TRANSACTION, odd)
    assert kinds(result) == ["SUSPICIOUS_ACTIVITY"]
    details = result["alerts"][0]["details"]
    assert details["suspicionReason"] == "NEW_DEVICE_TRANSACTION"
    assert details["relatedTransactionIds"] == [odd["transactionId"]]
    assert {p["reason"] for p in details["suspicionDetails"]["patterns"]} == {
        "NEW_DEVICE_TRANSACTION",
        "UNUSUAL_LOCATION",
    }
    assert details["suspicionDetails"]["riskComponents"]["combined"] == 15
    async with db.session() as session:
        entries = (await session.exec(select(SuspiciousActivity))).all()
    assert sorted(e.suspicion_reason.value for e in entries) == [
        "NEW_DEVICE_TRANSACTION",
        "UNUSUAL_LOCATION",
    ]
    assert {e.risk_score for e in entries} == {details["riskScore"]}


async def test_switched_off_patterns_produce_nothing(api: Api, db: Database) -> None:
    await make_account(db, user_id=7, account_number=ACCOUNT)
    await send(api, RECORD_LOGIN, login(7, day(), device="phone-1", location=BLANTYRE))
    await api.as_customer(
        7,
        UPDATE,
        {"a": ACCOUNT, "s": {"alertUnusualLocation": False, "alertNewDeviceTransaction": False}},
    )
    odd = transaction(ACCOUNT, "100", day(2), device="stolen-phone", location=LILONGWE)
    assert kinds(await send(api, RECORD_TRANSACTION, odd)) == []


async def test_checks_that_cannot_be_judged_are_recorded(api: Api, db: Database) -> None:
    await make_account(db, user_id=7, account_number=ACCOUNT)
    event = transaction(ACCOUNT, "100", day())
    assert kinds(await send(api, RECORD_TRANSACTION, event)) == []
    async with db.session() as session:
        stored = await session.get(IngestedEvent, event["eventId"])
    assert stored is not None
    assert {(s["check"], s["reason"]) for s in stored.outcome["skippedChecks"]} == {
        ("LOW_BALANCE", "the debit carries no balanceAfter"),
        ("NEW_DEVICE_TRANSACTION", "the transaction names no device"),
        ("UNUSUAL_LOCATION", "the event has no location"),
    }


async def test_quiet_hours_hold_low_balance_but_not_security_alerts(api: Api, db: Database) -> None:
    await make_account(db, user_id=7, account_number=ACCOUNT, time_zone="Africa/Blantyre")
    local_now = api.clock.now.astimezone(__import__("zoneinfo").ZoneInfo("Africa/Blantyre"))
    start = (local_now - timedelta(hours=1)).time().replace(second=0, microsecond=0)
    end = (local_now + timedelta(hours=2)).time().replace(second=0, microsecond=0)
    settings = {
        "quietHoursEnabled": True,
        "quietHoursStart": start.isoformat(),
        "quietHoursEnd": end.isoformat(),
    }
    body = await api.as_customer(7, UPDATE, {"a": ACCOUNT, "s": settings})
    assert "errors" not in body, body
    result = await send(
        api, RECORD_TRANSACTION, transaction(ACCOUNT, "60000", day(), balance_after="1")
    )
    assert kinds(result) == ["LARGE_TRANSACTION", "LOW_BALANCE"]
    async with db.session() as session:
        rows = (
            await session.exec(
                select(AccountAlert, AlertDelivery).join(
                    AlertDelivery, col(AlertDelivery.alert_id) == col(AccountAlert.id)
                )
            )
        ).all()
    due = {(alert.alert_type.value, d.channel.value): d for alert, d in rows}
    assert due[("LARGE_TRANSACTION", "SMS")].next_attempt_at == api.clock.now
    held = due[("LOW_BALANCE", "PUSH")]
    assert held.status.value == "PENDING"
    expected_end = local_now.replace(hour=end.hour, minute=end.minute, second=0, microsecond=0)
    if expected_end <= local_now:
        expected_end += timedelta(days=1)
    assert held.next_attempt_at == expected_end.astimezone(UTC)


async def test_over_ten_alerts_an_hour_the_rest_stay_in_app(api: Api, db: Database) -> None:
    await make_account(db, user_id=7, account_number=ACCOUNT)
    for minute in range(10):
        event = transaction(ACCOUNT, "60000", day() + timedelta(minutes=minute))
        assert kinds(await send(api, RECORD_TRANSACTION, event)) == ["LARGE_TRANSACTION"]
    over = transaction(ACCOUNT, "60000", day() + timedelta(minutes=20), balance_after="3")
    result = await send(api, RECORD_TRANSACTION, over)
    by_type = {a["alertType"]: a for a in result["alerts"]}
    assert {d["status"] for d in by_type["LARGE_TRANSACTION"]["deliveries"]} == {"PENDING"}
    low = by_type["LOW_BALANCE"]["deliveries"]
    assert [(d["status"], d["lastError"].startswith("rate limit")) for d in low] == [
        ("SKIPPED", True)
    ]
    body = await api.as_customer(7, "{ unacknowledgedAlertCount }")
    assert body["data"]["unacknowledgedAlertCount"] == 12
    async with db.session() as session:
        entry = (
            await session.exec(select(AuditEntry).where(AuditEntry.action == "alert.suppressed"))
        ).one()
    assert entry.details["alertType"] == "LOW_BALANCE"
    assert entry.details["delivery"] == "in-app only"


async def test_the_hourly_limit_counts_the_alerts_raised_earlier_in_the_same_batch(
    api: Api, db: Database
) -> None:
    """A batch's alerts count as they are written: ten large debits in one batch, then a
    debit that leaves the balance low within the hour; its alert is stored and shown, not
    sent. Large debits are security alerts, sent whatever came before them."""
    await make_account(db, user_id=7, account_number=ACCOUNT)
    events = [transaction(ACCOUNT, "60000", day() + timedelta(minutes=m)) for m in range(10)]
    events.append(transaction(ACCOUNT, "10", day() + timedelta(minutes=30), balance_after="3"))
    body = await api.as_service(RECORD_TRANSACTIONS, {"inputs": events})
    assert "errors" not in body, body
    results = body["data"]["recordTransactions"]
    assert [kinds(r) for r in results] == [["LARGE_TRANSACTION"]] * 10 + [["LOW_BALANCE"]]
    statuses = [{d["status"] for d in r["alerts"][0]["deliveries"]} for r in results]
    assert statuses == [{"PENDING"}] * 10 + [{"SKIPPED"}]
    low = results[10]["alerts"][0]["deliveries"]
    assert {d["lastError"] for d in low} == {"rate limit: 10 alerts in the hour before this one"}


async def test_sign_ins_of_unknown_customers_are_recorded(api: Api, db: Database) -> None:
    result = await send(api, RECORD_LOGIN, login(4242, day(), successful=False))
    assert result["accepted"]
    async with db.session() as session:
        attempt = (await session.exec(select(LoginAttempt))).one()
    assert attempt.mobile_user_id == 4242


async def _stored_balance(db: Database) -> tuple[str, datetime]:
    async with db.session() as session:
        account = (
            await session.exec(select(Account).where(Account.account_number == ACCOUNT))
        ).one()
    assert account.balance is not None and account.balance_as_of is not None
    return str(account.balance), account.balance_as_of


async def test_the_account_keeps_the_newest_balance_whatever_the_arrival_order(
    api: Api, db: Database
) -> None:
    await make_account(db, user_id=7, account_number=ACCOUNT)
    await send(api, SYNC_BALANCE, balance(ACCOUNT, "9000", day(2)))
    assert await _stored_balance(db) == ("9000.0000", day(2))
    await send(api, SYNC_BALANCE, balance(ACCOUNT, "100", day(1)))  # older: judged, not kept
    assert await _stored_balance(db) == ("9000.0000", day(2))
    # A batch with several figures for the account keeps the newest of them.
    body = await api.as_service(
        SYNC_BALANCES,
        {
            "inputs": [
                balance(ACCOUNT, "8000", day(4)),
                balance(ACCOUNT, "7000", day(3)),
                balance(ACCOUNT, "8500", day(5)),
                balance(ACCOUNT, "6000", day(4.5)),
            ]
        },
    )
    assert all(item["accepted"] for item in body["data"]["syncBalances"]), body
    assert await _stored_balance(db) == ("8500.0000", day(5))
    # A debit's balanceAfter counts as a figure too.
    await send(api, RECORD_TRANSACTION, transaction(ACCOUNT, "10", day(6), balance_after="8490"))
    assert await _stored_balance(db) == ("8490.0000", day(6))


async def test_devices_first_seen_in_a_batch_are_stored_once_with_their_last_sighting(
    api: Api, db: Database
) -> None:
    """A device new to the customer, seen twice in one batch, is one row from its first
    sighting to its last; a device registered before it was seen in an event keeps the
    name it was registered with when the event names none."""
    await make_account(db, user_id=7, account_number=ACCOUNT)
    async with db.transaction() as session:
        session.add(
            Device(
                mobile_user_id=7, device_id="phone-reg", device_name="Ada's phone", push_token="t"
            )
        )
    t1, t2, t3 = (day() + timedelta(minutes=m) for m in (1, 2, 3))
    events = [
        transaction(ACCOUNT, "10", t1, device="phone-new"),
        transaction(ACCOUNT, "10", t2, device="phone-new"),
        transaction(ACCOUNT, "10", t3, device="phone-reg"),
    ]
    body = await api.as_service(RECORD_TRANSACTIONS, {"inputs": events})
    assert "errors" not in body, body
    assert all(r["accepted"] for r in body["data"]["recordTransactions"])

    async def devices() -> dict[str, Device]:
        async with db.session() as session:
            rows = (await session.exec(select(Device).where(Device.mobile_user_id == 7))).all()
        return {row.device_id: row for row in rows}

    stored = await devices()
    assert sorted(stored) == ["phone-new", "phone-reg"]
    assert (stored["phone-new"].first_seen_at, stored["phone-new"].last_seen_at) == (t1, t2)
    assert stored["phone-new"].device_name is None
    assert (stored["phone-reg"].first_seen_at, stored["phone-reg"].last_seen_at) == (t3, t3)
    assert stored["phone-reg"].device_name == "Ada's phone"
    assert stored["phone-reg"].push_token == "t"

    t4 = day() + timedelta(minutes=4)
    assert (await send(api, RECORD_LOGIN, login(7, t4, device="phone-new")))["accepted"]
    again = (await devices())["phone-new"]
    assert (again.first_seen_at, again.last_seen_at) == (t1, t4)
    assert (again.device_name, again.device_os) == ("Pixel 8", "Android 15")
