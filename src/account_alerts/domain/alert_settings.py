"""A customer's alert preferences: the defaults, which fields are per user, and the rules a
change must satisfy before it is stored."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from datetime import time
from decimal import Decimal
from typing import Any

from account_alerts.domain.enums import (
    LoginAlertMode,
    NotificationChannel,
    PaymentReminderInterval,
)
from account_alerts.domain.money import MoneyError, check_threshold, to_money

PUSH, SMS, EMAIL = NotificationChannel.PUSH, NotificationChannel.SMS, NotificationChannel.EMAIL

# Security settings follow the person, not the account: a change through one account
# applies to all of the user's accounts.
PER_USER_FIELDS = frozenset(
    {
        "alert_unusual_location",
        "alert_multiple_failed_attempts",
        "alert_new_device_transaction",
        "suspicious_activity_channels",
        "login_alert_mode",
        "login_alert_channels",
    }
)

# Quiet-hour ends may be cleared; every other setting always has a value.
NULLABLE_FIELDS = frozenset({"quiet_hours_start", "quiet_hours_end"})

CHANNEL_FIELDS = (
    "low_balance_channels",
    "large_transaction_channels",
    "suspicious_activity_channels",
    "payment_due_channels",
    "login_alert_channels",
)


class SettingsError(ValueError):
    """A settings change a customer must correct; ``field`` names the offending input."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class ThresholdDefaults:
    low_balance: Decimal
    large_transaction: Decimal


@dataclass(frozen=True)
class AlertPreferences:
    low_balance_enabled: bool
    low_balance_threshold: Decimal
    low_balance_channels: tuple[NotificationChannel, ...]
    large_transaction_enabled: bool
    large_transaction_threshold: Decimal
    large_transaction_channels: tuple[NotificationChannel, ...]
    large_transaction_debit_only: bool
    alert_unusual_location: bool
    alert_multiple_failed_attempts: bool
    alert_new_device_transaction: bool
    suspicious_activity_channels: tuple[NotificationChannel, ...]
    payment_due_enabled: bool
    payment_due_channels: tuple[NotificationChannel, ...]
    payment_reminder_interval: PaymentReminderInterval
    login_alert_mode: LoginAlertMode
    login_alert_channels: tuple[NotificationChannel, ...]
    quiet_hours_enabled: bool
    quiet_hours_start: time | None
    quiet_hours_end: time | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def per_user(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in PER_USER_FIELDS}

    def to_json(self) -> dict[str, Any]:
        """A JSON-safe snapshot, for the audit log."""
        out: dict[str, Any] = {}
        for name, value in self.as_dict().items():
            if isinstance(value, tuple):
                out[name] = [str(v) for v in value]
            elif isinstance(value, (Decimal, time)):
                out[name] = str(value)
            elif value is None or isinstance(value, bool):
                out[name] = value
            else:
                out[name] = str(value)
        return out


PREFERENCE_FIELDS = tuple(f.name for f in fields(AlertPreferences))


def default_preferences(thresholds: ThresholdDefaults) -> AlertPreferences:
    return AlertPreferences(
        low_balance_enabled=True,
        low_balance_threshold=to_money(thresholds.low_balance),
        low_balance_channels=(PUSH,),
        large_transaction_enabled=True,
        large_transaction_threshold=to_money(thresholds.large_transaction),
        large_transaction_channels=(PUSH, SMS),
        large_transaction_debit_only=True,
        alert_unusual_location=True,
        alert_multiple_failed_attempts=True,
        alert_new_device_transaction=True,
        suspicious_activity_channels=(PUSH, SMS, EMAIL),
        payment_due_enabled=True,
        payment_due_channels=(PUSH, SMS),
        payment_reminder_interval=PaymentReminderInterval.ONE_DAY,
        login_alert_mode=LoginAlertMode.NEW_DEVICE,
        login_alert_channels=(PUSH, EMAIL),
        quiet_hours_enabled=False,
        quiet_hours_start=None,
        quiet_hours_end=None,
    )


def _dedupe(
    channels: tuple[NotificationChannel, ...] | list[NotificationChannel],
) -> tuple[NotificationChannel, ...]:
    return tuple(dict.fromkeys(channels))


def apply_change(current: AlertPreferences, change: dict[str, Any]) -> AlertPreferences:
    """Merge a partial change into ``current`` and check the result; raise SettingsError."""
    unknown = set(change) - set(PREFERENCE_FIELDS)
    if unknown:
        first = sorted(unknown)[0]
        raise SettingsError(first, f"unknown setting {camel_case(first)}")
    for name, value in change.items():
        if value is None and name not in NULLABLE_FIELDS:
            raise SettingsError(
                name, f"{camel_case(name)} cannot be null; leave it out to keep it unchanged"
            )
    normalised = {
        name: _dedupe(value) if name in CHANNEL_FIELDS else value for name, value in change.items()
    }
    updated = replace(current, **normalised)  # type: ignore[arg-type]  # names checked above
    validate(updated)
    return replace(
        updated,
        low_balance_threshold=to_money(updated.low_balance_threshold),
        large_transaction_threshold=to_money(updated.large_transaction_threshold),
    )


def validate(prefs: AlertPreferences) -> None:
    for name in ("low_balance_threshold", "large_transaction_threshold"):
        try:
            check_threshold(getattr(prefs, name), field=camel_case(name))
        except MoneyError as exc:
            raise SettingsError(name, str(exc)) from exc
    if not prefs.alert_multiple_failed_attempts:
        raise SettingsError(
            "alert_multiple_failed_attempts",
            "alertMultipleFailedAttempts cannot be switched off: repeated failed logins are "
            "always reported, for the customer's protection",
        )
    # Suspicious-activity and login alerts are always on, so they always need a channel.
    enabled = {
        "low_balance_channels": prefs.low_balance_enabled,
        "large_transaction_channels": prefs.large_transaction_enabled,
        "suspicious_activity_channels": True,
        "payment_due_channels": prefs.payment_due_enabled,
        "login_alert_channels": True,
    }
    for name, is_enabled in enabled.items():
        if is_enabled and not getattr(prefs, name):
            raise SettingsError(
                name,
                f"{camel_case(name)} needs at least one channel while that alert is enabled",
            )
    if prefs.quiet_hours_enabled:
        if prefs.quiet_hours_start is None or prefs.quiet_hours_end is None:
            raise SettingsError(
                "quiet_hours_start",
                "quiet hours need both quietHoursStart and quietHoursEnd",
            )
        if prefs.quiet_hours_start == prefs.quiet_hours_end:
            raise SettingsError("quiet_hours_end", "quietHoursStart and quietHoursEnd must differ")


def camel_case(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)
