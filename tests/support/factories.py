"""Rows for tests, written straight to the database."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from account_alerts.domain.enums import AlertType, DeliveryStatus, NotificationChannel
from account_alerts.domain.messages import render
from account_alerts.store.alerts import AccountAlert, AlertDelivery
from account_alerts.store.customers import Account, MobileUser
from account_alerts.store.database import Database


async def make_account(
    db: Database,
    *,
    user_id: int,
    account_number: str,
    currency: str = "MWK",
    time_zone: str | None = None,
) -> None:
    async with db.transaction() as session:
        if await session.get(MobileUser, user_id) is None:
            session.add(MobileUser(id=user_id))
            await session.flush()
        session.add(
            Account(
                account_number=account_number,
                mobile_user_id=user_id,
                currency=currency,
                time_zone=time_zone,
            )
        )


def sample_data(alert_type: AlertType, when: datetime) -> dict[str, Any]:
    return {
        AlertType.LOW_BALANCE: {
            "threshold": "5000.0000",
            "currentBalance": "1200.0000",
            "currency": "MWK",
        },
        AlertType.LARGE_TRANSACTION: {
            "threshold": "50000.0000",
            "transactionAmount": "75000.5000",
            "transactionType": "DEBIT",
            "transactionId": "TX-1",
            "transactionReference": "REF-1",
            "transactionDescription": "Rent",
            "currency": "MWK",
        },
        AlertType.SUSPICIOUS_ACTIVITY: {
            "suspicionReason": "UNUSUAL_LOCATION",
            "suspicionDetails": {"distanceKm": 812.4},
            "relatedTransactionIds": ["TX-9"],
            "deviceId": "dev-9",
            "location": {"latitude": -13.96, "longitude": 33.77, "label": "Lilongwe"},
            "ipAddress": "102.70.2.2",
            "detectedAt": when.isoformat(),
            "actionRequired": True,
            "riskScore": 72,
        },
        AlertType.PAYMENT_DUE: {
            "paymentType": "LOAN",
            "paymentDescription": "Car loan instalment",
            "amountDue": "150000.0000",
            "currency": "MWK",
            "dueDate": (when + timedelta(days=1)).isoformat(),
            "reminderInterval": "ONE_DAY",
            "beneficiaryName": "Bank Auto Finance",
            "beneficiaryReference": "LN-77",
        },
        AlertType.ACCOUNT_LOGIN: {
            "deviceId": "dev-1",
            "deviceName": "Pixel 8",
            "deviceModel": "Google Pixel 8",
            "deviceOs": "Android 15",
            "ipAddress": "102.70.1.1",
            "location": {"latitude": -15.78, "longitude": 35.0, "label": "Blantyre"},
            "loginMethod": "BIOMETRIC",
            "isNewDevice": True,
            "isNewLocation": False,
            "loginTimestamp": when.isoformat(),
        },
    }[alert_type]


async def make_alert(
    db: Database,
    *,
    user_id: int,
    account_number: str | None,
    alert_type: AlertType,
    triggered_at: datetime,
    channels: tuple[NotificationChannel, ...] = (NotificationChannel.PUSH,),
) -> int:
    data = sample_data(alert_type, triggered_at)
    title, message = render(alert_type, data, account_number)
    async with db.transaction() as session:
        alert = AccountAlert(
            mobile_user_id=user_id,
            account_number=account_number,
            alert_type=alert_type,
            alert_data=data,
            title=title,
            message=message,
            triggered_at=triggered_at,
            created_at=triggered_at,
            updated_at=triggered_at,
        )
        session.add(alert)
        await session.flush()
        assert alert.id is not None
        for channel in channels:
            session.add(
                AlertDelivery(alert_id=alert.id, channel=channel, status=DeliveryStatus.PENDING)
            )
        return alert.id
