"""AccountAlertSettings and its partial-update input."""

from __future__ import annotations

from datetime import datetime, time
from decimal import Decimal
from typing import Any

import strawberry

from account_alerts.api.context import Info
from account_alerts.domain.alert_settings import PREFERENCE_FIELDS, AlertPreferences
from account_alerts.domain.enums import (
    LoginAlertMode,
    NotificationChannel,
    PaymentReminderInterval,
)
from account_alerts.engine.sms_consent import sms_opted_out
from account_alerts.errors import BadUserInput


@strawberry.type
class AccountAlertSettings:
    account_number: str
    low_balance_enabled: bool
    low_balance_threshold: Decimal
    low_balance_channels: list[NotificationChannel]
    large_transaction_enabled: bool
    large_transaction_threshold: Decimal
    large_transaction_channels: list[NotificationChannel]
    large_transaction_debit_only: bool
    alert_unusual_location: bool
    alert_multiple_failed_attempts: bool
    alert_new_device_transaction: bool
    suspicious_activity_channels: list[NotificationChannel]
    payment_due_enabled: bool
    payment_due_channels: list[NotificationChannel]
    payment_reminder_interval: PaymentReminderInterval
    login_alert_mode: LoginAlertMode
    login_alert_channels: list[NotificationChannel]
    quiet_hours_enabled: bool
    quiet_hours_start: time | None
    quiet_hours_end: time | None
    updated_at: datetime | None = strawberry.field(
        description="When the customer last changed these settings; null while defaults apply"
    )
    mobile_user_id: strawberry.Private[int]

    @strawberry.field(
        description="The customer's phone number replied STOP: no SMS reaches it, whatever "
        "the channels say, until it texts START to the alerts number."
    )
    async def sms_opted_out(self, info: Info) -> bool:
        return await sms_opted_out(info.context.db, mobile_user_id=self.mobile_user_id)

    @classmethod
    def build(
        cls,
        account_number: str,
        prefs: AlertPreferences,
        updated_at: datetime | None,
        *,
        mobile_user_id: int,
    ) -> AccountAlertSettings:
        values: dict[str, Any] = {
            name: list(value) if isinstance(value, tuple) else value
            for name, value in prefs.as_dict().items()
        }
        return cls(
            account_number=account_number,
            updated_at=updated_at,
            mobile_user_id=mobile_user_id,
            **values,
        )


@strawberry.input(description="Only the fields given are changed.")
class AccountAlertSettingsInput:
    low_balance_enabled: bool | None = strawberry.UNSET
    low_balance_threshold: Decimal | None = strawberry.UNSET
    low_balance_channels: list[NotificationChannel] | None = strawberry.UNSET
    large_transaction_enabled: bool | None = strawberry.UNSET
    large_transaction_threshold: Decimal | None = strawberry.UNSET
    large_transaction_channels: list[NotificationChannel] | None = strawberry.UNSET
    large_transaction_debit_only: bool | None = strawberry.UNSET
    alert_unusual_location: bool | None = strawberry.UNSET
    alert_multiple_failed_attempts: bool | None = strawberry.UNSET
    alert_new_device_transaction: bool | None = strawberry.UNSET
    suspicious_activity_channels: list[NotificationChannel] | None = strawberry.UNSET
    payment_due_enabled: bool | None = strawberry.UNSET
    payment_due_channels: list[NotificationChannel] | None = strawberry.UNSET
    payment_reminder_interval: PaymentReminderInterval | None = strawberry.UNSET
    login_alert_mode: LoginAlertMode | None = strawberry.UNSET
    login_alert_channels: list[NotificationChannel] | None = strawberry.UNSET
    quiet_hours_enabled: bool | None = strawberry.UNSET
    quiet_hours_start: time | None = strawberry.UNSET
    quiet_hours_end: time | None = strawberry.UNSET

    def as_change(self) -> dict[str, Any]:
        change = {
            name: getattr(self, name)
            for name in PREFERENCE_FIELDS
            if getattr(self, name) is not strawberry.UNSET
        }
        for name in ("quiet_hours_start", "quiet_hours_end"):
            value = change.get(name)
            if isinstance(value, time) and value.tzinfo is not None:
                raise BadUserInput(
                    "quiet hours are in the customer's local time; give them without an offset",
                    field="quietHoursStart" if name.endswith("start") else "quietHoursEnd",
                )
        if not change:
            raise BadUserInput("settings must change at least one field", field="settings")
        return change
