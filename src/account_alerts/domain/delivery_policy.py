"""When an alert may reach the customer: quiet hours and the hourly rate limit."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from account_alerts.domain.alert_settings import AlertPreferences

RATE_LIMIT_PER_HOUR = 10
RATE_WINDOW = timedelta(hours=1)


def in_window(moment: time, start: time, end: time) -> bool:
    """Whether ``moment`` is inside [start, end); a window may cross midnight."""
    if start < end:
        return start <= moment < end
    return moment >= start or moment < end


def quiet_hours_end(prefs: AlertPreferences, now: datetime, zone: ZoneInfo) -> datetime | None:
    """When a held delivery may go out, if ``now`` falls in the customer's quiet hours."""
    if not prefs.quiet_hours_enabled or prefs.quiet_hours_start is None:
        return None
    assert prefs.quiet_hours_end is not None
    local = now.astimezone(zone)
    if not in_window(local.time(), prefs.quiet_hours_start, prefs.quiet_hours_end):
        return None
    end = datetime.combine(local.date(), prefs.quiet_hours_end, tzinfo=zone)
    if end <= local:
        end = datetime.combine(local.date() + timedelta(days=1), prefs.quiet_hours_end, tzinfo=zone)
    return end.astimezone(now.tzinfo)


def over_rate_limit(alerts_in_last_hour: int) -> bool:
    return alerts_in_last_hour >= RATE_LIMIT_PER_HOUR
