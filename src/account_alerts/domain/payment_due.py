"""PAYMENT_DUE: at 08:00 in the customer's own time zone, a reminder for each payment due in
exactly the interval the customer chose (7, 3 or 1 days) — one per payment and due date.

A run at any moment covers every time zone where it is already 08:00 or later today, so a
run missed while the service was down is caught up later the same day; the reminder key
makes a second run (or a second scheduler) a no-op."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from account_alerts.domain.enums import PaymentReminderInterval

REMINDER_TIME = time(8, 0)


def reminder_day(now: datetime, zone: ZoneInfo) -> date | None:
    """The local date whose reminders are due at ``now`` in ``zone``; None before 08:00."""
    local = now.astimezone(zone)
    return local.date() if local.time() >= REMINDER_TIME else None


def due_date_for(day: date, interval: PaymentReminderInterval) -> date:
    return day + timedelta(days=interval.days)


def reminder_key(payment_id: str, due: date) -> str:
    return f"PAYMENT_DUE:{payment_id}:{due.isoformat()}"
