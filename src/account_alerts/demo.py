"""Demo data for the quick start: one customer, one account, a few alerts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from account_alerts.domain.cases import CaseSource
from account_alerts.domain.enums import (
    AlertStatus,
    AlertType,
    DeliveryStatus,
    NotificationChannel,
)
from account_alerts.domain.messages import render
from account_alerts.store.alerts import AccountAlert, AlertDelivery
from account_alerts.store.cases import open_case
from account_alerts.store.customers import Account, Device, MobileUser
from account_alerts.store.database import Database

DEMO_USER_ID = 1001
DEMO_ACCOUNT = "1000123456"
DEMO_STAFF = "risk-analyst-1"
# A REVIEW decision for the console's queue: one live rule and its features.
DEMO_DECISION = {
    "outcome": "REVIEW",
    "score": 45,
    "hits": [
        {
            "ruleId": "demo-rule-1",
            "versionId": "demo-rule-1-v1",
            "name": "Large transfer at night",
            "score": 45,
            "shadow": False,
            "suppressed": False,
            "nullFeatures": ["distanceKm"],
            "features": {"amount": "120000.0000", "hourLocal": 2, "distanceKm": None},
        }
    ],
}


def _demo_alerts(
    now: datetime,
) -> list[tuple[AlertType, dict[str, Any], list[NotificationChannel]]]:
    return [
        (
            AlertType.LOW_BALANCE,
            {"threshold": "5000.0000", "currentBalance": "3250.5000", "currency": "MWK"},
            [NotificationChannel.PUSH],
        ),
        (
            AlertType.LARGE_TRANSACTION,
            {
                "threshold": "50000.0000",
                "transactionAmount": "125000.0000",
                "transactionType": "DEBIT",
                "transactionId": "TX-DEMO-1",
                "transactionReference": "FT26326ABC",
                "transactionDescription": "Transfer to ESCOM",
                "currency": "MWK",
            },
            [NotificationChannel.PUSH, NotificationChannel.SMS],
        ),
        (
            AlertType.ACCOUNT_LOGIN,
            {
                "deviceId": "demo-pixel-8",
                "deviceName": "Pixel 8",
                "deviceModel": "Google Pixel 8",
                "deviceOs": "Android 15",
                "ipAddress": "102.70.1.10",
                "location": {"latitude": -15.7861, "longitude": 35.0058, "label": "Blantyre"},
                "loginMethod": "BIOMETRIC",
                "isNewDevice": True,
                "isNewLocation": False,
                "loginTimestamp": (now - timedelta(hours=1)).isoformat(),
            },
            [NotificationChannel.PUSH, NotificationChannel.EMAIL],
        ),
    ]


async def seed_demo(db: Database, *, now: datetime | None = None) -> bool:
    """Add the demo customer once; False when it is already there."""
    now = now or datetime.now(UTC)
    async with db.transaction() as session:
        if await session.get(MobileUser, DEMO_USER_ID) is not None:
            return False
        session.add(
            MobileUser(
                id=DEMO_USER_ID,
                email="demo@example.com",
                email_verified_at=now,
                phone="+265991234567",
                phone_verified_at=now,
            )
        )
        await session.flush()
        session.add(
            Device(
                mobile_user_id=DEMO_USER_ID,
                device_id="demo-pixel-8",
                device_name="Pixel 8",
                push_token="demo-fcm-registration-token",  # noqa: S106 - a demo device
                push_platform="android",
                push_token_active=True,
                first_seen_at=now - timedelta(days=30),
                last_seen_at=now,
            )
        )
        session.add(
            Account(
                account_number=DEMO_ACCOUNT,
                mobile_user_id=DEMO_USER_ID,
                currency="MWK",
                balance=Decimal("3250.50"),
                balance_as_of=now,
            )
        )
        await session.flush()
        for index, (alert_type, data, channels) in enumerate(_demo_alerts(now)):
            title, message = render(alert_type, data, DEMO_ACCOUNT)
            triggered = now - timedelta(hours=3 - index)
            alert = AccountAlert(
                mobile_user_id=DEMO_USER_ID,
                account_number=DEMO_ACCOUNT,
                alert_type=alert_type,
                alert_data=data,
                title=title,
                message=message,
                status=AlertStatus.SENT,
                channels_sent=[c.value for c in channels],
                sent_at=triggered,
                triggered_at=triggered,
                created_at=triggered,
                updated_at=triggered,
            )
            session.add(alert)
            await session.flush()
            assert alert.id is not None
            for channel in channels:
                session.add(
                    AlertDelivery(
                        alert_id=alert.id,
                        channel=channel,
                        status=DeliveryStatus.SENT,
                        attempts=1,
                        sent_at=triggered,
                        provider_message_id=f"demo-{alert.id}-{channel.value.lower()}",
                    )
                )
        await open_case(
            session,
            mobile_user_id=DEMO_USER_ID,
            source=CaseSource.DECISION_REVIEW,
            event_id="demo-tx-review",
            event_kind="TRANSACTION",
            decision=DEMO_DECISION,
            opened_at=now,
            actor="core-banking",
        )
    return True
