"""Rows for tests, written straight to the database."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from account_alerts.domain.cases import CaseSource
from account_alerts.domain.enums import AlertType, DeliveryStatus, NotificationChannel
from account_alerts.domain.messages import render
from account_alerts.store.alerts import AccountAlert, AlertDelivery
from account_alerts.store.cases import open_case
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


def sample_decision(outcome: str = "BLOCK", score: int = 85) -> dict[str, Any]:
    """A decision as the fraud rules write it: one live hit with an explained anomaly
    score and a null feature, one shadow hit."""
    return {
        "outcome": outcome,
        "score": score,
        "hits": [
            {
                "ruleId": "rule-7",
                "versionId": "rule-7-v3",
                "name": "Large night transfer from a new device",
                "score": score,
                "shadow": False,
                "suppressed": False,
                "nullFeatures": ["distanceKm"],
                "features": {"amount": "250000.0000", "hourLocal": 3, "distanceKm": None},
                "explanation": [
                    {"feature": "amount", "value": "250000.0000", "contribution": 0.61},
                    {"feature": "hourLocal", "value": 3, "contribution": 0.27},
                ],
            },
            {
                "ruleId": "rule-9",
                "versionId": "rule-9-v1",
                "name": "Shadow: many customers on one device",
                "score": 30,
                "shadow": True,
                "suppressed": False,
                "nullFeatures": [],
                "features": {"deviceCustomers24h": 4},
            },
        ],
    }


async def make_case(
    db: Database,
    *,
    user_id: int,
    opened_at: datetime,
    source: CaseSource = CaseSource.DECISION_BLOCK,
    event_id: str | None = "tx-event-case",
    ack_sla: timedelta = timedelta(seconds=300),
) -> int:
    """A case opened the way a fraud decision opens one, in the event's transaction; a
    BLOCK locks the customer in the same transaction."""
    decision = None
    if source is not CaseSource.REPORT_FRAUD:
        outcome = "BLOCK" if source is CaseSource.DECISION_BLOCK else "REVIEW"
        decision = sample_decision(outcome, 85 if outcome == "BLOCK" else 45)
    async with db.transaction() as session:
        if source is CaseSource.DECISION_BLOCK:
            user = await session.get(MobileUser, user_id)
            assert user is not None
            user.locked, user.locked_at, user.locked_reason = True, opened_at, "BLOCK decision"
            session.add(user)
        return await open_case(
            session,
            mobile_user_id=user_id,
            source=source.value,
            event_id=event_id,
            event_kind="TRANSACTION" if decision else None,
            decision=decision,
            opened_at=opened_at,
            actor="core-banking",
            ack_sla=ack_sla,
        )
