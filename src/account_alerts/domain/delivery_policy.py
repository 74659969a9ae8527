"""When an alert may reach the customer: quiet hours and the hourly rate limit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from account_alerts.domain.alert_settings import AlertPreferences
from account_alerts.domain.decisions import RaiseAlert, Suppressed
from account_alerts.domain.enums import AlertType

RATE_LIMIT_PER_HOUR = 10
RATE_WINDOW = timedelta(hours=1)
# Held until quiet hours end; security alerts never are.
QUIET_HOURS_APPLY = frozenset({AlertType.LOW_BALANCE, AlertType.PAYMENT_DUE})


@dataclass(frozen=True)
class DeliveryPlan:
    """When the outbox rows may be sent, or why they will not be."""

    not_before: datetime
    held_reason: str | None = None
    skipped_reason: str | None = None


def plan_delivery(
    decision: RaiseAlert,
    *,
    alerts_in_last_hour: int,
    prefs: AlertPreferences,
    now: datetime,
    zone: ZoneInfo,
) -> tuple[DeliveryPlan, Suppressed | None]:
    """When a raised alert goes out. Security alerts at once, always; others not past the
    hourly rate limit (stored and shown in-app only, the suppression recorded), and
    low-balance and payment reminders held through the customer's quiet hours."""
    if decision.is_security:
        return DeliveryPlan(not_before=now), None
    if over_rate_limit(alerts_in_last_hour):
        reason = f"rate limit: {alerts_in_last_hour} alerts in the hour before this one"
        suppressed = Suppressed(decision.alert_type, reason, {"delivery": "in-app only"})
        return DeliveryPlan(not_before=now, skipped_reason=reason), suppressed
    if decision.alert_type in QUIET_HOURS_APPLY:
        until = quiet_hours_end(prefs, now, zone)
        if until is not None:
            return DeliveryPlan(not_before=until, held_reason="quiet hours"), None
    return DeliveryPlan(not_before=now), None


def in_window(moment: time, start: time, end: time) -> bool:
    """Whether ``moment`` is inside [start, end); a window may cross midnight."""
    if start < end:
        return start <= moment < end
    return moment >= start or moment < end


def quiet_hours_end(prefs: AlertPreferences, now: datetime, zone: ZoneInfo) -> datetime | None:
    """When a held delivery may go out, if ``now`` falls in the customer's quiet hours.
    On the nights the clocks change the end is the first such instant after ``now``: the
    second 01:30 of a repeated hour, or the jump itself when the end time is skipped."""
    if not prefs.quiet_hours_enabled or prefs.quiet_hours_start is None:
        return None
    assert prefs.quiet_hours_end is not None
    local = now.astimezone(zone)
    if not in_window(local.time(), prefs.quiet_hours_start, prefs.quiet_hours_end):
        return None
    candidates = []
    for days in (0, 1, 2):
        day = local.date() + timedelta(days=days)
        instants = [
            datetime.combine(day, prefs.quiet_hours_end, tzinfo=zone)
            .replace(fold=fold)
            .astimezone(UTC)
            for fold in (0, 1)
        ]
        wall = datetime.combine(day, prefs.quiet_hours_end)
        if all(i.astimezone(zone).replace(tzinfo=None) != wall for i in instants):
            instants = [_clock_change(min(instants), max(instants), zone)]
        candidates += [instant for instant in instants if instant > now]
    return min(candidates).astimezone(now.tzinfo)


def _clock_change(before: datetime, after: datetime, zone: ZoneInfo) -> datetime:
    """The instant between two UTC times at which the zone's offset changes."""
    start_offset = before.astimezone(zone).utcoffset()
    while after - before > timedelta(seconds=1):
        middle = before + (after - before) / 2
        if middle.astimezone(zone).utcoffset() == start_offset:
            before = middle
        else:
            after = middle
    return after.replace(microsecond=0) if after.microsecond == 0 else after


def over_rate_limit(alerts_in_last_hour: int) -> bool:
    return alerts_in_last_hour >= RATE_LIMIT_PER_HOUR
