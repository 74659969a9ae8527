"""Inputs and results of the bank services' mutations."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import strawberry

from account_alerts.api.types.alerts import AccountAlertView
from account_alerts.api.types.fraud import FraudDecisionView
from account_alerts.api.types.input_building import built_directly
from account_alerts.domain.enums import LoginMethod, PaymentStatus, PaymentType, TransactionType
from account_alerts.domain.events import BalanceSync, LoginEvent, TransactionEvent
from account_alerts.domain.geo import GeoPoint
from account_alerts.engine.payments import PaymentFacts
from account_alerts.errors import BadUserInput


@built_directly
@strawberry.input
class AccountInput:
    account_number: str
    mobile_user_id: int
    currency: str
    time_zone: str | None = None


@built_directly
@strawberry.input
class GeoPointInput:
    latitude: float
    longitude: float
    label: str | None = None

    def to_domain(self) -> GeoPoint:
        if self.label is not None and len(self.label) > 255:
            raise BadUserInput("location.label may be at most 255 characters", field="location")
        try:
            return GeoPoint(self.latitude, self.longitude, self.label)
        except ValueError as exc:
            raise BadUserInput(f"location: {exc}", field="location") from exc


def _location(value: GeoPointInput | None) -> GeoPoint | None:
    return value.to_domain() if value is not None else None


def _instant(value: datetime) -> datetime:
    """The same instant; a UTC time (``Z``, ``+00:00``) with the standard library's UTC.

    The DateTime scalar parses ``Z`` with dateutil's own UTC zone, whose offset is a
    Python call: every comparison with another zone's time (the activity profile's
    checks compare an event's time with dozens of stored ones) and every ``isoformat``
    then costs several times what it does with ``datetime.UTC``. Other offsets are kept
    as sent (a naive time too: the checks refuse it)."""
    zone = value.tzinfo
    if zone is None or zone is UTC or value.utcoffset():
        return value
    return value.replace(tzinfo=UTC)


@built_directly
@strawberry.input
class TransactionEventInput:
    event_id: str
    account_number: str
    transaction_id: str
    transaction_type: TransactionType
    amount: Decimal
    currency: str
    occurred_at: datetime
    transaction_reference: str | None = None
    transaction_description: str | None = None
    balance_after: Decimal | None = None
    device_id: str | None = None
    ip_address: str | None = None
    location: GeoPointInput | None = None

    def to_domain(self) -> TransactionEvent:
        return TransactionEvent(
            event_id=self.event_id,
            account_number=self.account_number,
            transaction_id=self.transaction_id,
            transaction_type=self.transaction_type,
            amount=self.amount,
            currency=self.currency,
            occurred_at=_instant(self.occurred_at),
            transaction_reference=self.transaction_reference,
            transaction_description=self.transaction_description,
            balance_after=self.balance_after,
            device_id=self.device_id,
            ip_address=self.ip_address,
            location=_location(self.location),
        )


@built_directly
@strawberry.input
class BalanceSyncInput:
    event_id: str
    account_number: str
    balance: Decimal
    currency: str
    as_of: datetime

    def to_domain(self) -> BalanceSync:
        return BalanceSync(
            event_id=self.event_id,
            account_number=self.account_number,
            balance=self.balance,
            currency=self.currency,
            as_of=_instant(self.as_of),
        )


@built_directly
@strawberry.input
class LoginEventInput:
    event_id: str
    mobile_user_id: int
    successful: bool
    occurred_at: datetime
    device_id: str | None = None
    device_name: str | None = None
    device_model: str | None = None
    device_os: str | None = None
    ip_address: str | None = None
    location: GeoPointInput | None = None
    login_method: LoginMethod | None = None

    def to_domain(self) -> LoginEvent:
        return LoginEvent(
            event_id=self.event_id,
            mobile_user_id=self.mobile_user_id,
            successful=self.successful,
            occurred_at=_instant(self.occurred_at),
            device_id=self.device_id,
            device_name=self.device_name,
            device_model=self.device_model,
            device_os=self.device_os,
            ip_address=self.ip_address,
            location=_location(self.location),
            login_method=self.login_method,
        )


@strawberry.type
class EventError:
    code: str
    message: str
    field: str | None


@strawberry.type
class EventResult:
    accepted: bool
    duplicate: bool
    alerts: list[AccountAlertView]
    event_id: str | None = None
    user_locked: bool = strawberry.field(
        default=False, description="The customer's access is locked (they reported fraud)."
    )
    error: EventError | None = strawberry.field(
        default=None, description="Why a batch item was refused; single calls raise instead."
    )
    decision: FraudDecisionView | None = strawberry.field(
        default=None,
        description="The risk team's rules on a transaction or sign-in (null for others).",
    )


@strawberry.type
class UserStatus:
    mobile_user_id: int
    locked: bool
    locked_at: datetime | None
    locked_reason: str | None


@built_directly
@strawberry.input
class ScheduledPaymentInput:
    payment_id: str
    account_number: str
    payment_type: PaymentType
    amount_due: Decimal
    currency: str
    due_date: date
    payment_description: str | None = None
    beneficiary_name: str | None = None
    beneficiary_reference: str | None = None
    status: PaymentStatus = PaymentStatus.ACTIVE

    def to_domain(self) -> PaymentFacts:
        return PaymentFacts(
            payment_id=self.payment_id,
            account_number=self.account_number,
            payment_type=self.payment_type,
            amount_due=self.amount_due,
            currency=self.currency,
            due_date=self.due_date,
            status=self.status,
            payment_description=self.payment_description,
            beneficiary_name=self.beneficiary_name,
            beneficiary_reference=self.beneficiary_reference,
        )
