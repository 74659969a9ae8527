"""Reading and writing alert preferences. A missing row reads as the defaults; the
per-user (security) fields are the same on every row of a user."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from account_alerts.domain.alert_settings import (
    CHANNEL_FIELDS,
    PREFERENCE_FIELDS,
    AlertPreferences,
    ThresholdDefaults,
    default_preferences,
)
from account_alerts.domain.enums import NotificationChannel
from account_alerts.domain.money import to_money
from account_alerts.store.alerts import AccountAlertSettingsRow


async def rows_for_user(
    session: AsyncSession, mobile_user_id: int, *, for_update: bool = False
) -> Sequence[AccountAlertSettingsRow]:
    query = select(AccountAlertSettingsRow).where(
        AccountAlertSettingsRow.mobile_user_id == mobile_user_id
    )
    if for_update:
        query = query.with_for_update()
    return (await session.exec(query.order_by(col(AccountAlertSettingsRow.id)))).all()


def preferences_from_row(
    row: AccountAlertSettingsRow, defaults: ThresholdDefaults
) -> AlertPreferences:
    values: dict[str, Any] = {}
    for name in PREFERENCE_FIELDS:
        value = getattr(row, name)
        if name in CHANNEL_FIELDS:
            value = tuple(NotificationChannel(channel) for channel in value)
        values[name] = value
    values["low_balance_threshold"] = to_money(row.low_balance_threshold or defaults.low_balance)
    values["large_transaction_threshold"] = to_money(
        row.large_transaction_threshold or defaults.large_transaction
    )
    return AlertPreferences(**values)


def effective_preferences(
    account_number: str,
    rows: Sequence[AccountAlertSettingsRow],
    defaults: ThresholdDefaults,
) -> tuple[AlertPreferences, datetime | None]:
    """The account's own row, else the defaults; security fields from the user's rows."""
    own = next((row for row in rows if row.account_number == account_number), None)
    if own is not None:
        return preferences_from_row(own, defaults), own.updated_at
    prefs = default_preferences(defaults)
    if rows:
        user_level = preferences_from_row(rows[0], defaults).per_user()
        prefs = AlertPreferences(**{**prefs.as_dict(), **user_level})
    return prefs, None


def write_row(
    row: AccountAlertSettingsRow, prefs: AlertPreferences, *, fields: Sequence[str]
) -> None:
    for name in fields:
        value = getattr(prefs, name)
        if name in CHANNEL_FIELDS:
            value = [channel.value for channel in value]
        setattr(row, name, value)


def new_row(
    *, mobile_user_id: int, account_number: str, prefs: AlertPreferences, now: datetime
) -> AccountAlertSettingsRow:
    row = AccountAlertSettingsRow(
        mobile_user_id=mobile_user_id, account_number=account_number, created_at=now, updated_at=now
    )
    write_row(row, prefs, fields=PREFERENCE_FIELDS)
    return row
