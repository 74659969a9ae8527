"""What the bank's services report, checked before anything is stored."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from dataclasses import asdict, dataclass, fields, is_dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import orjson

from account_alerts.domain.alert_settings import camel_case
from account_alerts.domain.enums import LoginMethod, TransactionType
from account_alerts.domain.geo import GeoPoint
from account_alerts.domain.money import MONEY_PLACES, MoneyError, decimal_places

# Clocks drift; an event from further ahead than this is a feed error, not the future.
MAX_CLOCK_SKEW = timedelta(minutes=5)
EVENT_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
CURRENCY = re.compile(r"^[A-Z]{3}$")
MAX_AMOUNT = Decimal("999999999999999.9999")
TEXT_LIMITS = {
    "transaction_id": 64,
    "transaction_reference": 64,
    "transaction_description": 255,
    "device_id": 255,
    "device_name": 255,
    "device_model": 255,
    "device_os": 255,
    "ip_address": 45,
}


class EventError(ValueError):
    """An event the sender must correct; nothing of it is stored."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class TransactionEvent:
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
    location: GeoPoint | None = None


@dataclass(frozen=True)
class BalanceSync:
    event_id: str
    account_number: str
    balance: Decimal
    currency: str
    as_of: datetime


@dataclass(frozen=True)
class LoginEvent:
    event_id: str
    mobile_user_id: int
    successful: bool
    occurred_at: datetime
    device_id: str | None = None
    device_name: str | None = None
    device_model: str | None = None
    device_os: str | None = None
    ip_address: str | None = None
    location: GeoPoint | None = None
    login_method: LoginMethod | None = None


Event = TransactionEvent | BalanceSync | LoginEvent


# Fingerprints written now start with this; those without it (64 hex digits) were written
# before and are checked the way they were made (``fingerprint_v1``).
FINGERPRINT_PREFIX = "v2:"


def fingerprint(event: Event) -> str:
    """A digest of everything the event says, to tell a retry from a conflicting reuse.
    Stored with the event: the same event must always give the same digest. Amounts are
    compared by value (10 and 10.00 are the same), times as written (with their offset).
    The canonical document is orjson's, keys sorted; an event's text fields are short
    and its numbers plain, so orjson refusing one is a bug, not an input to fall back on.

    An event is frozen, so its digest is worked out once and kept on it (outside its
    fields, as functools.cached_property keeps a value): the ingest works it out before
    the event waits for its unit of work (engine.ingest)."""
    kept: str | None = event.__dict__.get(_KEPT_DIGEST)
    if kept is not None:
        return kept
    canonical = orjson.dumps(
        _payload(event),
        option=orjson.OPT_SORT_KEYS | orjson.OPT_PASSTHROUGH_DATETIME,
        default=_canonical,
    )
    digest = base64.urlsafe_b64encode(hashlib.sha256(canonical).digest()).rstrip(b"=")
    kept = FINGERPRINT_PREFIX + digest.decode()
    event.__dict__[_KEPT_DIGEST] = kept
    return kept


_KEPT_DIGEST = "_fingerprint"


def same_event(stored: str, event: Event, digest: str) -> bool:
    """Whether the fingerprint ``stored`` with an eventId is that of ``event``, whose
    fingerprint is ``digest``: compared as the stored one was made."""
    if stored.startswith(FINGERPRINT_PREFIX):
        return stored == digest
    return stored == fingerprint_v1(event)


def fingerprint_v1(event: Event) -> str:
    """The fingerprint as it was first written (the standard library's JSON, hex SHA-256),
    for events stored with it."""
    payload = {
        name: asdict(value) if _is_nested(type(value)) else value
        for name, value in _payload(event).items()
    }
    canonical = json.dumps(payload, sort_keys=True, default=_canonical, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _payload(event: Event) -> dict[str, Any]:
    """Everything the event says, by field, with its kind; field by field rather than
    asdict(): the same document without deep-copying it."""
    payload: dict[str, Any] = {"kind": type(event).__name__}
    for name in _field_names(type(event)):
        payload[name] = getattr(event, name)
    return payload


# Per class: its fields' names; whether its values are dataclass instances (a place).
_FIELD_NAMES: dict[type, tuple[str, ...]] = {}
_NESTED: dict[type, bool] = {}


def _field_names(kind: type) -> tuple[str, ...]:
    names = _FIELD_NAMES.get(kind)
    if names is None:
        names = _FIELD_NAMES[kind] = tuple(item.name for item in fields(kind))
    return names


def _is_nested(kind: type) -> bool:
    nested = _NESTED.get(kind)
    if nested is None:
        nested = _NESTED[kind] = is_dataclass(kind)
    return nested


def _canonical(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def _check_common(event_id: str, occurred_at: datetime, field: str, now: datetime) -> None:
    if not EVENT_ID.match(event_id):
        raise EventError("eventId", "eventId must be 1-128 letters, digits or ._:- characters")
    if occurred_at.tzinfo is None:
        raise EventError(field, f"{field} must include a time zone offset, e.g. Z or +02:00")
    if occurred_at > now + MAX_CLOCK_SKEW:
        raise EventError(field, f"{field} is in the future; check the sender's clock")


def _check_text(values: dict[str, str | None]) -> None:
    for name, value in values.items():
        limit = TEXT_LIMITS[name]
        if value is not None and len(value) > limit:
            raise EventError(
                camel_case(name), f"{camel_case(name)} may be at most {limit} characters"
            )


def _check_amount(value: Decimal, field: str, *, positive: bool) -> None:
    try:
        if not value.is_finite():
            raise MoneyError(f"{field} must be a finite amount")
        if positive and value <= 0:
            raise MoneyError(f"{field} must be greater than 0")
        if abs(value) > MAX_AMOUNT:
            raise MoneyError(f"{field} is too large")
        if decimal_places(value) > MONEY_PLACES:
            raise MoneyError(f"{field} may have at most {MONEY_PLACES} decimal places")
    except MoneyError as exc:
        raise EventError(field, str(exc)) from exc


def _check_currency(currency: str, account_currency: str) -> None:
    if not CURRENCY.match(currency):
        raise EventError("currency", "currency must be an ISO 4217 code such as MWK")
    if currency != account_currency:
        raise EventError(
            "currency", f"currency {currency} does not match the account's {account_currency}"
        )


def check_transaction(event: TransactionEvent, *, account_currency: str, now: datetime) -> None:
    _check_common(event.event_id, event.occurred_at, "occurredAt", now)
    if not event.transaction_id:
        raise EventError("transactionId", "transactionId is required")
    _check_text(
        {
            "transaction_id": event.transaction_id,
            "transaction_reference": event.transaction_reference,
            "transaction_description": event.transaction_description,
            "device_id": event.device_id,
            "ip_address": event.ip_address,
        }
    )
    _check_amount(event.amount, "amount", positive=True)
    if event.balance_after is not None:
        _check_amount(event.balance_after, "balanceAfter", positive=False)
    _check_currency(event.currency, account_currency)


def check_balance_sync(event: BalanceSync, *, account_currency: str, now: datetime) -> None:
    _check_common(event.event_id, event.as_of, "asOf", now)
    _check_amount(event.balance, "balance", positive=False)
    _check_currency(event.currency, account_currency)


def check_login(event: LoginEvent, *, now: datetime) -> None:
    _check_common(event.event_id, event.occurred_at, "occurredAt", now)
    if event.mobile_user_id <= 0:
        raise EventError("mobileUserId", "mobileUserId must be a positive number")
    _check_text(
        {
            "device_id": event.device_id,
            "device_name": event.device_name,
            "device_model": event.device_model,
            "device_os": event.device_os,
            "ip_address": event.ip_address,
        }
    )
