"""Scheduled payments from core banking, and the daily reminder job."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from account_alerts.config import Settings
from account_alerts.domain.alert_settings import camel_case, default_preferences
from account_alerts.domain.delivery_policy import quiet_hours_end
from account_alerts.domain.enums import (
    AlertStatus,
    AlertType,
    DeliveryStatus,
    PaymentReminderInterval,
    PaymentStatus,
    PaymentType,
)
from account_alerts.domain.events import EVENT_ID
from account_alerts.domain.messages import render
from account_alerts.domain.money import MONEY_PLACES, decimal_places, to_money
from account_alerts.domain.payment_due import due_date_for, reminder_day, reminder_key
from account_alerts.domain.webhooks import WebhookEventType
from account_alerts.engine.actor import Actor
from account_alerts.engine.preferences import thresholds_for
from account_alerts.errors import BadUserInput, NotFound
from account_alerts.store import audit_trail, outbox
from account_alerts.store.alerts import AccountAlert, AccountAlertSettingsRow
from account_alerts.store.announcements import announce
from account_alerts.store.base import table_of
from account_alerts.store.customers import Account
from account_alerts.store.database import Database
from account_alerts.store.payments import ScheduledPayment
from account_alerts.store.preferences import preferences_from_row
from account_alerts.store.webhook_events import EVENTS, alert_created, event_row

logger = logging.getLogger("account_alerts.payments")
JOB_LOCK_KEY = 0x5041594D  # "PAYM": one reminder run at a time across replicas
MAX_DUE_YEARS = 50


@dataclass(frozen=True)
class PaymentFacts:
    payment_id: str
    account_number: str
    payment_type: PaymentType
    amount_due: Decimal
    currency: str
    due_date: date
    status: PaymentStatus = PaymentStatus.ACTIVE
    payment_description: str | None = None
    beneficiary_name: str | None = None
    beneficiary_reference: str | None = None


def check_payment(facts: PaymentFacts, account: Account, today: date) -> None:
    if not EVENT_ID.match(facts.payment_id) or len(facts.payment_id) > 64:
        raise BadUserInput(
            "paymentId must be 1-64 letters, digits or ._:- characters", field="paymentId"
        )
    if facts.amount_due <= 0 or not facts.amount_due.is_finite():
        raise BadUserInput("amountDue must be greater than 0", field="amountDue")
    if decimal_places(facts.amount_due) > MONEY_PLACES:
        raise BadUserInput("amountDue may have at most 4 decimal places", field="amountDue")
    if facts.currency != account.currency:
        raise BadUserInput(
            f"currency {facts.currency} does not match the account's {account.currency}",
            field="currency",
        )
    if abs(facts.due_date.year - today.year) > MAX_DUE_YEARS:
        raise BadUserInput("dueDate is not a plausible date", field="dueDate")
    for name, limit in (
        ("payment_description", 255),
        ("beneficiary_name", 255),
        ("beneficiary_reference", 64),
    ):
        value = getattr(facts, name)
        if value is not None and len(value) > limit:
            camel = camel_case(name)
            raise BadUserInput(f"{camel} may be at most {limit} characters", field=camel)


async def upsert_payment(
    session: AsyncSession, facts: PaymentFacts, *, actor: Actor, now: datetime
) -> bool:
    """Create or update one payment in the caller's transaction; True when it changed."""
    account = await session.get(Account, facts.account_number)
    if account is None:
        raise NotFound(
            f"account {facts.account_number} is not known; send upsertAccount first",
            field="accountNumber",
        )
    check_payment(facts, account, now.date())
    payment = await session.get(ScheduledPayment, facts.payment_id)
    values: dict[str, Any] = {
        "account_number": facts.account_number,
        "payment_type": facts.payment_type,
        "payment_description": facts.payment_description,
        "amount_due": to_money(facts.amount_due),
        "currency": facts.currency,
        "due_date": facts.due_date,
        "beneficiary_name": facts.beneficiary_name,
        "beneficiary_reference": facts.beneficiary_reference,
        "status": facts.status,
    }
    if payment is None:
        payment = ScheduledPayment(
            payment_id=facts.payment_id, created_at=now, updated_at=now, **values
        )
        before = None
    else:
        if payment.account_number != facts.account_number:
            raise BadUserInput(
                f"payment {facts.payment_id} belongs to another account", field="accountNumber"
            )
        changed = {k: v for k, v in values.items() if getattr(payment, k) != v}
        if not changed:
            return False
        before = {k: str(getattr(payment, k)) for k in changed}
        for key, value in changed.items():
            setattr(payment, key, value)
        payment.updated_at = now
    session.add(payment)
    audit_trail.record(
        session,
        actor_role=actor.role.value,
        actor_id=actor.id,
        action="payment.created" if before is None else "payment.updated",
        occurred_at=now,
        mobile_user_id=account.mobile_user_id,
        subject_type="scheduled_payment",
        subject_id=facts.payment_id,
        before=before,
        after={k: str(v) for k, v in values.items()},
    )
    await session.flush()
    return True


@dataclass
class ReminderRun:
    now: datetime
    reminders: int = 0
    already_sent: int = 0
    skipped_disabled: int = 0
    zones: dict[str, str] = field(default_factory=dict)
    created: list[tuple[int, int]] = field(default_factory=list)  # (mobile user, alert)
    ran: bool = True


async def run_payment_due(db: Database, settings: Settings, *, now: datetime) -> ReminderRun:
    """Write every reminder due at ``now``: the alerts and their outbox rows, once."""
    run = ReminderRun(now=now)
    async with db.transaction() as session:
        if db.is_postgresql:
            locked = (
                await session.exec(select(sa.func.pg_try_advisory_xact_lock(JOB_LOCK_KEY)))
            ).one()
            if not locked:
                run.ran = False
                return run
        zones = (await session.exec(select(Account.time_zone).distinct())).all()
        for zone_name in zones:
            zone = ZoneInfo(zone_name or settings.timezone)
            day = reminder_day(now, zone)
            run.zones[zone_name or settings.timezone] = day.isoformat() if day else "before 08:00"
            if day is not None:
                await _remind_zone(session, settings, run, zone_name, zone, day)
        audit_trail.record(
            session,
            actor_role="system",
            actor_id="scheduler",
            action="job.payment_due",
            occurred_at=datetime.now(UTC),
            details={
                "now": now.isoformat(),
                "reminders": run.reminders,
                "alreadySent": run.already_sent,
            },
        )
    return run


async def _remind_zone(
    session: AsyncSession,
    settings: Settings,
    run: ReminderRun,
    zone_name: str | None,
    zone: ZoneInfo,
    day: date,
) -> None:
    candidates = [due_date_for(day, interval) for interval in PaymentReminderInterval]
    zone_filter = (
        col(Account.time_zone).is_(None)
        if zone_name is None
        else col(Account.time_zone) == zone_name
    )
    rows = (
        await session.exec(
            select(ScheduledPayment, Account, AccountAlertSettingsRow)
            .join(Account, col(Account.account_number) == col(ScheduledPayment.account_number))
            .join(
                AccountAlertSettingsRow,
                sa.and_(
                    col(AccountAlertSettingsRow.account_number) == col(Account.account_number),
                    col(AccountAlertSettingsRow.mobile_user_id) == col(Account.mobile_user_id),
                ),
                isouter=True,
            )
            .where(
                col(ScheduledPayment.status) == PaymentStatus.ACTIVE,
                col(ScheduledPayment.due_date).in_(candidates),
                zone_filter,
            )
        )
    ).all()
    alerts: list[dict[str, Any]] = []
    plans: dict[str, tuple[list[str], datetime]] = {}
    for payment, account, row in rows:
        defaults = thresholds_for(settings, account)
        prefs = preferences_from_row(row, defaults) if row else default_preferences(defaults)
        if payment.due_date != due_date_for(day, prefs.payment_reminder_interval):
            continue
        if not prefs.payment_due_enabled:
            run.skipped_disabled += 1
            continue
        data = {
            "paymentType": payment.payment_type.value,
            "paymentDescription": payment.payment_description,
            "amountDue": str(payment.amount_due),
            "currency": payment.currency,
            "dueDate": datetime.combine(payment.due_date, time(0), tzinfo=zone).isoformat(),
            "reminderInterval": prefs.payment_reminder_interval.value,
            "beneficiaryName": payment.beneficiary_name,
            "beneficiaryReference": payment.beneficiary_reference,
        }
        title, message = render(AlertType.PAYMENT_DUE, data, account.account_number)
        key = reminder_key(payment.payment_id, payment.due_date)
        alerts.append(
            {
                "mobile_user_id": account.mobile_user_id,
                "account_number": account.account_number,
                "alert_type": AlertType.PAYMENT_DUE,
                "alert_data": data,
                "title": title,
                "message": message,
                "status": AlertStatus.PENDING,
                "channels_sent": [],
                "is_test": False,
                "dedupe_key": key,
                "triggered_at": run.now,
                "created_at": run.now,
                "updated_at": run.now,
            }
        )
        plans[key] = (
            [c.value for c in prefs.payment_due_channels],
            quiet_hours_end(prefs, run.now, zone) or run.now,
        )
    for chunk_start in range(0, len(alerts), 1000):
        chunk = alerts[chunk_start : chunk_start + 1000]
        created = await _insert_new(session, chunk)
        run.reminders += len(created)
        run.already_sent += len(chunk) - len(created)
        deliveries = [
            {
                "alert_id": alert_id,
                "channel": channel,
                "status": DeliveryStatus.PENDING,
                "attempts": 0,
                "next_attempt_at": plans[key][1],
                "created_at": run.now,
                "updated_at": run.now,
            }
            for alert_id, key in created
            for channel in plans[key][0]
        ]
        if deliveries:
            await session.exec(sa.insert(outbox.DELIVERIES), params=deliveries)
        users = {a["dedupe_key"]: a["mobile_user_id"] for a in chunk}
        announced = [(users[key], alert_id) for alert_id, key in created]
        run.created.extend(announced)
        if announced:
            await audit_trail.insert_rows(
                session,
                [
                    audit_trail.row(
                        occurred_at=run.now,
                        actor_role="system",
                        actor_id="scheduler",
                        action="alert.triggered",
                        mobile_user_id=user_id,
                        subject_type="alert",
                        subject_id=str(alert_id),
                        details={"alertType": "PAYMENT_DUE", "job": "payment-due"},
                    )
                    for user_id, alert_id in announced
                ],
            )
            by_key = {a["dedupe_key"]: a for a in chunk}
            await session.exec(
                sa.insert(EVENTS),
                params=[
                    event_row(
                        WebhookEventType.ALERT_CREATED,
                        alert_created(
                            alert_id=alert_id,
                            mobile_user_id=by_key[key]["mobile_user_id"],
                            alert_type=AlertType.PAYMENT_DUE.value,
                            account_number=by_key[key]["account_number"],
                            title=by_key[key]["title"],
                            triggered_at=run.now,
                            is_test=False,
                        ),
                        occurred_at=run.now,
                    )
                    for alert_id, key in created
                ],
            )
        for user_id, alert_id in announced:
            announce(session, user_id, alert_id)


async def _insert_new(session: AsyncSession, rows: list[dict[str, Any]]) -> list[tuple[int, str]]:
    """Insert the reminders not sent before; (alert id, reminder key) of those inserted."""
    table = table_of(AccountAlert)
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    # One statement, many parameter sets: compiled once, not once per chunk of values.
    statement = (
        insert(table)
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
        .returning(table.c.id, table.c.dedupe_key)
    )
    result = await session.exec(statement, params=rows)
    return [(row[0], row[1]) for row in result.all()]
