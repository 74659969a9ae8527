"""A customer asks for a test alert to check their channels."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlmodel import col, select

from account_alerts.config import Settings
from account_alerts.domain.alert_settings import AlertPreferences
from account_alerts.domain.decisions import RaiseAlert
from account_alerts.domain.delivery_policy import DeliveryPlan
from account_alerts.domain.enums import AlertType, NotificationChannel
from account_alerts.engine.actor import Actor
from account_alerts.engine.preferences import thresholds_for
from account_alerts.errors import NotFound, RateLimited
from account_alerts.store.accounts import owned_account
from account_alerts.store.alert_writer import write_alert
from account_alerts.store.alerts import AccountAlert
from account_alerts.store.database import Database
from account_alerts.store.preferences import effective_preferences, rows_for_user

TEST_ALERTS_PER_HOUR = 5


def _channels(alert_type: AlertType, prefs: AlertPreferences) -> tuple[NotificationChannel, ...]:
    return {
        AlertType.LOW_BALANCE: prefs.low_balance_channels,
        AlertType.LARGE_TRANSACTION: prefs.large_transaction_channels,
        AlertType.SUSPICIOUS_ACTIVITY: prefs.suspicious_activity_channels,
        AlertType.PAYMENT_DUE: prefs.payment_due_channels,
        AlertType.ACCOUNT_LOGIN: prefs.login_alert_channels,
    }[alert_type]


def sample_data(
    alert_type: AlertType, prefs: AlertPreferences, currency: str, now: datetime
) -> dict[str, Any]:
    if alert_type is AlertType.LOW_BALANCE:
        return {
            "threshold": str(prefs.low_balance_threshold),
            "currentBalance": str(prefs.low_balance_threshold - Decimal(1)),
            "currency": currency,
        }
    if alert_type is AlertType.LARGE_TRANSACTION:
        return {
            "threshold": str(prefs.large_transaction_threshold),
            "transactionAmount": str(prefs.large_transaction_threshold + Decimal(1)),
            "transactionType": "DEBIT",
            "transactionId": "TEST",
            "transactionReference": "TEST",
            "transactionDescription": "Test alert",
            "currency": currency,
        }
    if alert_type is AlertType.SUSPICIOUS_ACTIVITY:
        return {
            "suspicionReason": "UNUSUAL_LOCATION",
            "suspicionDetails": {"test": True},
            "relatedTransactionIds": [],
            "deviceId": None,
            "location": None,
            "ipAddress": None,
            "detectedAt": now.isoformat(),
            "actionRequired": False,
            "riskScore": 0,
        }
    if alert_type is AlertType.PAYMENT_DUE:
        return {
            "paymentType": "BILL",
            "paymentDescription": "Test payment",
            "amountDue": "100.0000",
            "currency": currency,
            "dueDate": (now + timedelta(days=prefs.payment_reminder_interval.days)).isoformat(),
            "reminderInterval": prefs.payment_reminder_interval.value,
            "beneficiaryName": "Test beneficiary",
            "beneficiaryReference": "TEST",
        }
    return {
        "deviceId": None,
        "deviceName": "this device",
        "deviceModel": None,
        "deviceOs": None,
        "ipAddress": None,
        "location": None,
        "loginMethod": None,
        "isNewDevice": False,
        "isNewLocation": False,
        "loginTimestamp": now.isoformat(),
    }


async def send_test_alert(
    db: Database,
    settings: Settings,
    *,
    actor: Actor,
    mobile_user_id: int,
    account_number: str,
    alert_type: AlertType,
    now: datetime,
) -> AccountAlert:
    """An isTest alert through the customer's channels for that type, now: outside the
    rate limit, the once-a-day rule and quiet hours. Limited to a few an hour."""
    async with db.transaction() as session:
        account = await owned_account(
            session, account_number=account_number, mobile_user_id=mobile_user_id
        )
        if account is None:
            raise NotFound(f"no account {account_number} among your accounts")
        recent = (
            await session.exec(
                select(sa.func.count())
                .select_from(AccountAlert)
                .where(
                    col(AccountAlert.mobile_user_id) == mobile_user_id,
                    col(AccountAlert.is_test).is_(True),
                    col(AccountAlert.created_at) > now - timedelta(hours=1),
                )
            )
        ).one()
        if recent >= TEST_ALERTS_PER_HOUR:
            raise RateLimited(
                f"at most {TEST_ALERTS_PER_HOUR} test alerts an hour; try again later"
            )
        rows = await rows_for_user(session, mobile_user_id)
        prefs, _ = effective_preferences(account_number, rows, thresholds_for(settings, account))
        decision = RaiseAlert(
            alert_type=alert_type,
            account_number=None if alert_type is AlertType.ACCOUNT_LOGIN else account_number,
            triggered_at=now,
            data=sample_data(alert_type, prefs, account.currency, now),
            channels=_channels(alert_type, prefs),
        )
        return await write_alert(
            session,
            decision,
            mobile_user_id=mobile_user_id,
            event_id=None,
            plan=DeliveryPlan(not_before=now),
            actor_role=actor.role.value,
            actor_id=actor.id,
            now=now,
            is_test=True,
        )
