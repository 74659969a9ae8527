"""Payment-due reminders: at 08:00 local time, in the chosen interval, once per due date."""

from __future__ import annotations

import asyncio
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import col, select

from account_alerts.config import Settings
from account_alerts.scheduling import payment_due_job
from account_alerts.store.alerts import AccountAlert, AlertDelivery
from account_alerts.store.database import Database
from account_alerts.store.payments import ScheduledPayment
from tests.conftest import Api, error_code
from tests.support.factories import make_account

BLANTYRE = ZoneInfo("Africa/Blantyre")
TOKYO = ZoneInfo("Asia/Tokyo")
ACCOUNT = "1000000001"
UPSERT = """mutation($input: ScheduledPaymentInput!) {
  upsertScheduledPayment(input: $input) { eventId accepted duplicate } }"""
UPSERT_MANY = """mutation($inputs: [ScheduledPaymentInput!]!) {
  upsertScheduledPayments(inputs: $inputs) { eventId accepted duplicate error { code field } } }"""
SETTINGS = """mutation($a: String!, $s: AccountAlertSettingsInput!) {
  updateAccountAlertSettings(accountNumber: $a, settings: $s) { accountNumber } }"""
DAY = date(2026, 12, 1)


def at(hour: int, minute: int = 0, *, day: date = DAY, zone: ZoneInfo = BLANTYRE) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone)


def payment(payment_id: str, due: date, **extra: Any) -> dict[str, Any]:
    return {
        "paymentId": payment_id,
        "accountNumber": ACCOUNT,
        "paymentType": "LOAN",
        "paymentDescription": "Car loan instalment",
        "amountDue": "150000.00",
        "currency": "MWK",
        "dueDate": due.isoformat(),
        "beneficiaryName": "Auto Finance",
        "beneficiaryReference": "LN-77",
        **extra,
    }


async def upsert(api: Api, item: dict[str, Any]) -> dict[str, Any]:
    body = await api.as_service(UPSERT, {"input": item})
    assert "errors" not in body, body
    return body["data"]["upsertScheduledPayment"]  # type: ignore[no-any-return]


async def reminders(db: Database) -> list[AccountAlert]:
    async with db.session() as session:
        rows = await session.exec(
            select(AccountAlert)
            .where(col(AccountAlert.alert_type) == "PAYMENT_DUE")
            .order_by(col(AccountAlert.id))
        )
        return list(rows.all())


async def test_a_reminder_at_eight_the_day_before_with_quick_pay(
    api: Api, db: Database, settings: Settings
) -> None:
    await make_account(db, user_id=7, account_number=ACCOUNT)
    await upsert(api, payment("P1", DAY + timedelta(days=1)))
    await upsert(api, payment("P2", DAY + timedelta(days=2)))
    assert (await payment_due_job(db, settings, now=at(7, 59))).reminders == 0
    run = await payment_due_job(db, settings, now=at(8, 0))
    assert run.reminders == 1
    [alert] = await reminders(db)
    assert alert.dedupe_key == "PAYMENT_DUE:P1:2026-12-02"
    body = await api.as_customer(
        7,
        """{ accountAlerts(alertType: PAYMENT_DUE) { items { title message actions
             details { ... on PaymentDueDetails { paymentType amountDue currency dueDate
               reminderInterval beneficiaryName beneficiaryReference paymentDescription } }
             deliveries { channel status } } } }""",
    )
    [item] = body["data"]["accountAlerts"]["items"]
    assert item["actions"] == ["QUICK_PAY", "DISMISSED"]
    assert item["details"]["reminderInterval"] == "ONE_DAY"
    assert item["details"]["amountDue"] == "150000.0000"
    assert item["details"]["dueDate"].startswith("2026-12-02")
    assert "****0001" in item["message"] and ACCOUNT not in item["message"]
    assert sorted(d["channel"] for d in item["deliveries"]) == ["PUSH", "SMS"]


async def test_reruns_restarts_and_late_runs_give_one_reminder(
    api: Api, db: Database, settings: Settings
) -> None:
    await make_account(db, user_id=7, account_number=ACCOUNT)
    await upsert(api, payment("P1", DAY + timedelta(days=1)))
    late = await payment_due_job(db, settings, now=at(15, 30))  # the 08:00 run was missed
    assert late.reminders == 1
    for hour in (16, 23):
        run = await payment_due_job(db, settings, now=at(hour))
        assert (run.reminders, run.already_sent) == (0, 1)
    next_day = await payment_due_job(db, settings, now=at(8, day=DAY + timedelta(days=1)))
    assert next_day.reminders == 0
    assert len(await reminders(db)) == 1


async def test_a_new_due_date_gets_its_own_reminder(
    api: Api, db: Database, settings: Settings
) -> None:
    await make_account(db, user_id=7, account_number=ACCOUNT)
    await upsert(api, payment("P1", DAY + timedelta(days=1)))
    await payment_due_job(db, settings, now=at(8))
    moved = await upsert(api, payment("P1", DAY + timedelta(days=2)))
    assert moved == {"eventId": "P1", "accepted": True, "duplicate": False}
    assert (await upsert(api, payment("P1", DAY + timedelta(days=2))))["duplicate"] is True
    await payment_due_job(db, settings, now=at(8, day=DAY + timedelta(days=1)))
    assert [a.dedupe_key for a in await reminders(db)] == [
        "PAYMENT_DUE:P1:2026-12-02",
        "PAYMENT_DUE:P1:2026-12-03",
    ]


async def test_paid_cancelled_and_disabled_get_nothing(
    api: Api, db: Database, settings: Settings
) -> None:
    await make_account(db, user_id=7, account_number=ACCOUNT)
    await make_account(db, user_id=8, account_number="1000000008")
    await upsert(api, payment("PAID", DAY + timedelta(days=1), status="PAID"))
    await upsert(api, payment("GONE", DAY + timedelta(days=1), status="CANCELLED"))
    await upsert(api, payment("OFF", DAY + timedelta(days=1), accountNumber="1000000008"))
    await api.as_customer(8, SETTINGS, {"a": "1000000008", "s": {"paymentDueEnabled": False}})
    run = await payment_due_job(db, settings, now=at(9))
    assert (run.reminders, run.skipped_disabled) == (0, 1)
    assert await reminders(db) == []


async def test_only_the_chosen_interval_reminds(api: Api, db: Database, settings: Settings) -> None:
    await make_account(db, user_id=7, account_number=ACCOUNT)
    await api.as_customer(
        7, SETTINGS, {"a": ACCOUNT, "s": {"paymentReminderInterval": "THREE_DAYS"}}
    )
    for days in (1, 3, 7):
        await upsert(api, payment(f"P{days}", DAY + timedelta(days=days)))
    await payment_due_job(db, settings, now=at(8))
    assert [a.dedupe_key for a in await reminders(db)] == ["PAYMENT_DUE:P3:2026-12-04"]


async def test_eight_oclock_is_the_customers_own(
    api: Api, db: Database, settings: Settings
) -> None:
    await make_account(db, user_id=7, account_number=ACCOUNT)  # the default zone, Blantyre
    await make_account(db, user_id=9, account_number="1000000009", time_zone="Asia/Tokyo")
    await upsert(api, payment("MW", DAY + timedelta(days=1)))
    await upsert(api, payment("JP", DAY + timedelta(days=1), accountNumber="1000000009"))
    tokyo_morning = at(8, 30, zone=TOKYO)  # 01:30 in Blantyre
    await payment_due_job(db, settings, now=tokyo_morning)
    assert [a.account_number for a in await reminders(db)] == ["1000000009"]
    await payment_due_job(db, settings, now=at(8, 0))
    assert sorted(a.account_number or "" for a in await reminders(db)) == [ACCOUNT, "1000000009"]


async def test_quiet_hours_hold_the_reminder_until_they_end(
    api: Api, db: Database, settings: Settings
) -> None:
    await make_account(db, user_id=7, account_number=ACCOUNT)
    await api.as_customer(
        7,
        SETTINGS,
        {
            "a": ACCOUNT,
            "s": {
                "quietHoursEnabled": True,
                "quietHoursStart": "21:00:00",
                "quietHoursEnd": "09:00:00",
            },
        },
    )
    await upsert(api, payment("P1", DAY + timedelta(days=1)))
    await payment_due_job(db, settings, now=at(8))
    async with db.session() as session:
        held = (await session.exec(select(AlertDelivery))).all()
    assert {d.next_attempt_at for d in held} == {at(9)}


async def test_bad_payments_are_refused_item_by_item(api: Api, db: Database) -> None:
    await make_account(db, user_id=7, account_number=ACCOUNT)
    body = await api.as_service(
        UPSERT_MANY,
        {
            "inputs": [
                payment("OK", DAY),
                payment("ZERO", DAY, amountDue="0"),
                payment("USD", DAY, currency="USD"),
                payment("NOACC", DAY, accountNumber="9999999999"),
                payment("bad id!", DAY),
            ]
        },
    )
    results = body["data"]["upsertScheduledPayments"]
    assert [r["accepted"] for r in results] == [True, False, False, False, False]
    assert [r["error"] and r["error"]["field"] for r in results] == [
        None,
        "amountDue",
        "currency",
        "accountNumber",
        "paymentId",
    ]
    async with db.session() as session:
        stored = [p.payment_id for p in (await session.exec(select(ScheduledPayment))).all()]
    assert stored == ["OK"]
    single = await api.as_service(UPSERT, {"input": payment("ZERO", DAY, amountDue="-1")})
    assert error_code(single) == "BAD_USER_INPUT"
    assert error_code(await api.as_customer(7, UPSERT, {"input": payment("X", DAY)})) == "FORBIDDEN"


@pytest.mark.postgresql_only
async def test_two_schedulers_at_once_write_each_reminder_once(
    api: Api, db: Database, settings: Settings
) -> None:
    for user in range(1, 41):
        account = f"{1100000000 + user}"
        await make_account(db, user_id=user, account_number=account)
        await upsert(api, payment(f"P{user}", DAY + timedelta(days=1), accountNumber=account))
    other = Database(settings.database_url)
    try:
        runs = await asyncio.gather(
            payment_due_job(db, settings, now=at(8)),
            payment_due_job(other, settings, now=at(8)),
            payment_due_job(other, settings, now=at(8, 1)),
        )
    finally:
        await other.dispose()
    assert sum(run.reminders for run in runs) == 40
    assert len(await reminders(db)) == 40
