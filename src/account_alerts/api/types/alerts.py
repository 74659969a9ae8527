"""AccountAlert, its typed details (one member per alert type) and its deliveries."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Protocol

import strawberry
from sqlmodel.ext.asyncio.session import AsyncSession
from strawberry.scalars import JSON

from account_alerts.api.context import Info
from account_alerts.domain.alert_actions import actions_for
from account_alerts.domain.enums import (
    AlertStatus,
    AlertType,
    DeliveryStatus,
    LoginMethod,
    NotificationChannel,
    PaymentReminderInterval,
    PaymentType,
    SuspicionReason,
    TransactionType,
    UserAction,
)
from account_alerts.store.alert_history import deliveries_by_alert


@strawberry.type
class GeoPoint:
    latitude: float
    longitude: float
    label: str | None = None

    @classmethod
    def from_data(cls, data: Any) -> GeoPoint | None:
        if not isinstance(data, dict) or data.get("latitude") is None:
            return None
        return cls(
            latitude=float(data["latitude"]),
            longitude=float(data["longitude"]),
            label=data.get("label"),
        )


def _money(data: dict[str, Any], key: str) -> Decimal | None:
    value = data.get(key)
    return None if value is None else Decimal(str(value))


def _when(data: dict[str, Any], key: str) -> datetime | None:
    value = data.get(key)
    return None if value is None else datetime.fromisoformat(value)


def _enum(enum: Any, data: dict[str, Any], key: str) -> Any:
    value = data.get(key)
    return None if value is None else enum(value)


@strawberry.type
class LowBalanceDetails:
    threshold: Decimal
    current_balance: Decimal
    currency: str

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> LowBalanceDetails:
        return cls(
            threshold=Decimal(str(data["threshold"])),
            current_balance=Decimal(str(data["currentBalance"])),
            currency=data["currency"],
        )


@strawberry.type
class LargeTransactionDetails:
    threshold: Decimal
    transaction_amount: Decimal
    transaction_type: TransactionType
    transaction_id: str
    transaction_reference: str | None
    transaction_description: str | None
    currency: str

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> LargeTransactionDetails:
        return cls(
            threshold=Decimal(str(data["threshold"])),
            transaction_amount=Decimal(str(data["transactionAmount"])),
            transaction_type=TransactionType(data["transactionType"]),
            transaction_id=data["transactionId"],
            transaction_reference=data.get("transactionReference"),
            transaction_description=data.get("transactionDescription"),
            currency=data["currency"],
        )


@strawberry.type
class SuspiciousActivityDetails:
    suspicion_reason: SuspicionReason
    suspicion_details: JSON
    related_transaction_ids: list[str]
    device_id: str | None
    location: GeoPoint | None
    ip_address: str | None
    detected_at: datetime
    action_required: bool
    risk_score: int

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> SuspiciousActivityDetails:
        detected_at = _when(data, "detectedAt")
        assert detected_at is not None
        return cls(
            suspicion_reason=SuspicionReason(data["suspicionReason"]),
            suspicion_details=JSON(data.get("suspicionDetails") or {}),
            related_transaction_ids=list(data.get("relatedTransactionIds") or []),
            device_id=data.get("deviceId"),
            location=GeoPoint.from_data(data.get("location")),
            ip_address=data.get("ipAddress"),
            detected_at=detected_at,
            action_required=bool(data.get("actionRequired", True)),
            risk_score=int(data["riskScore"]),
        )


@strawberry.type
class PaymentDueDetails:
    payment_type: PaymentType
    payment_description: str | None
    amount_due: Decimal
    currency: str
    due_date: datetime
    reminder_interval: PaymentReminderInterval
    beneficiary_name: str | None
    beneficiary_reference: str | None

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> PaymentDueDetails:
        due_date = _when(data, "dueDate")
        assert due_date is not None
        return cls(
            payment_type=PaymentType(data["paymentType"]),
            payment_description=data.get("paymentDescription"),
            amount_due=Decimal(str(data["amountDue"])),
            currency=data["currency"],
            due_date=due_date,
            reminder_interval=PaymentReminderInterval(data["reminderInterval"]),
            beneficiary_name=data.get("beneficiaryName"),
            beneficiary_reference=data.get("beneficiaryReference"),
        )


@strawberry.type
class AccountLoginDetails:
    device_id: str | None
    device_name: str | None
    device_model: str | None
    device_os: str | None
    ip_address: str | None
    location: GeoPoint | None
    login_method: LoginMethod | None
    is_new_device: bool
    is_new_location: bool
    login_timestamp: datetime

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> AccountLoginDetails:
        login_timestamp = _when(data, "loginTimestamp")
        assert login_timestamp is not None
        return cls(
            device_id=data.get("deviceId"),
            device_name=data.get("deviceName"),
            device_model=data.get("deviceModel"),
            device_os=data.get("deviceOs"),
            ip_address=data.get("ipAddress"),
            location=GeoPoint.from_data(data.get("location")),
            login_method=_enum(LoginMethod, data, "loginMethod"),
            is_new_device=bool(data.get("isNewDevice")),
            is_new_location=bool(data.get("isNewLocation")),
            login_timestamp=login_timestamp,
        )


AlertDetails = Annotated[
    LowBalanceDetails
    | LargeTransactionDetails
    | SuspiciousActivityDetails
    | PaymentDueDetails
    | AccountLoginDetails,
    strawberry.union("AlertDetails"),
]

_DETAILS: dict[AlertType, Any] = {
    AlertType.LOW_BALANCE: LowBalanceDetails,
    AlertType.LARGE_TRANSACTION: LargeTransactionDetails,
    AlertType.SUSPICIOUS_ACTIVITY: SuspiciousActivityDetails,
    AlertType.PAYMENT_DUE: PaymentDueDetails,
    AlertType.ACCOUNT_LOGIN: AccountLoginDetails,
}


class AlertRow(Protocol):
    """What a view reads of an alert: a history record or a stored entity."""

    @property
    def id(self) -> int | None: ...
    @property
    def alert_type(self) -> AlertType: ...
    @property
    def account_number(self) -> str | None: ...
    @property
    def status(self) -> AlertStatus: ...
    @property
    def title(self) -> str: ...
    @property
    def message(self) -> str: ...
    @property
    def alert_data(self) -> dict[str, Any]: ...
    @property
    def channels_sent(self) -> list[str]: ...
    @property
    def sent_at(self) -> datetime | None: ...
    @property
    def acknowledged_at(self) -> datetime | None: ...
    @property
    def user_action(self) -> UserAction | None: ...
    @property
    def triggered_at(self) -> datetime: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def is_test(self) -> bool: ...


class DeliveryRow(Protocol):
    @property
    def channel(self) -> NotificationChannel: ...
    @property
    def status(self) -> DeliveryStatus: ...
    @property
    def attempts(self) -> int: ...
    @property
    def attempts_in_doubt(self) -> int: ...
    @property
    def last_error(self) -> str | None: ...
    @property
    def sent_at(self) -> datetime | None: ...
    @property
    def provider_message_id(self) -> str | None: ...


@strawberry.type(name="AlertDelivery")
class AlertDeliveryView:
    channel: NotificationChannel
    status: DeliveryStatus
    attempts: int
    # Attempts whose outcome is unknown (a worker stopped after the send went out and
    # before recording it); each was sent again (domain.in_doubt).
    attempts_in_doubt: int
    last_error: str | None
    sent_at: datetime | None
    provider_message_id: str | None

    @classmethod
    def from_row(cls, row: DeliveryRow) -> AlertDeliveryView:
        return cls(
            channel=row.channel,
            status=row.status,
            attempts=row.attempts,
            attempts_in_doubt=row.attempts_in_doubt,
            last_error=row.last_error,
            sent_at=row.sent_at,
            provider_message_id=row.provider_message_id,
        )


@strawberry.type(name="AccountAlert")
class AccountAlertView:
    id: strawberry.ID
    alert_type: AlertType
    account_number: str | None
    status: AlertStatus
    title: str
    message: str
    details: AlertDetails
    actions: list[UserAction]
    channels_sent: list[NotificationChannel]
    sent_at: datetime | None
    acknowledged_at: datetime | None
    user_action: UserAction | None
    triggered_at: datetime
    created_at: datetime
    is_test: bool
    deliveries: list[AlertDeliveryView]

    @classmethod
    async def many(
        cls, info: Info, rows: Sequence[AlertRow], *, session: AsyncSession | None = None
    ) -> list[AccountAlertView]:
        """Views of ``rows`` and, when the query asks for them, their deliveries in one
        statement: in the caller's ``session`` if it has one open, else batched with the
        request's other alerts through its DataLoader."""
        selected = _selected(info.selected_fields)
        wanted = any(getattr(field, "name", None) == "deliveries" for field in selected)
        ids = [row.id for row in rows if row.id is not None]
        by_alert: Mapping[int, Sequence[DeliveryRow]] = {}
        if wanted and ids:
            if session is not None:
                by_alert = await deliveries_by_alert(session, ids)
            else:
                loaded = await info.context.loaders.deliveries.load_many(ids)
                by_alert = dict(zip(ids, loaded, strict=True))
        return [
            cls.from_row(row, [AlertDeliveryView.from_row(d) for d in by_alert.get(row.id, [])])
            for row in rows
            if row.id is not None
        ]

    @classmethod
    def from_row(cls, row: AlertRow, deliveries: list[AlertDeliveryView]) -> AccountAlertView:
        assert row.id is not None
        return cls(
            id=strawberry.ID(str(row.id)),
            deliveries=deliveries,
            alert_type=row.alert_type,
            account_number=row.account_number,
            status=row.status,
            title=row.title,
            message=row.message,
            details=_DETAILS[row.alert_type].from_data(row.alert_data),
            actions=list(actions_for(row.alert_type)),
            channels_sent=[NotificationChannel(channel) for channel in row.channels_sent],
            sent_at=row.sent_at,
            acknowledged_at=row.acknowledged_at,
            user_action=row.user_action,
            triggered_at=row.triggered_at,
            created_at=row.created_at,
            is_test=row.is_test,
        )


def _selected(fields: Sequence[Any]) -> Iterator[Any]:
    """Every field selected anywhere below ``fields`` (fragments included)."""
    for field in fields:
        yield field
        yield from _selected(getattr(field, "selections", None) or [])


@strawberry.type
class AccountAlertsResult:
    items: list[AccountAlertView]
    total_count: int
    limit: int
    offset: int
