"""The features a fraud rule can ask about an event: one registry, one computation.

Every feature is computed on event time from what had arrived before the event (events
with the same ``occurredAt`` are ordered by arrival), from the customer's activity
profile as it stood just before the event; the cross-customer counts (one device or one
IP address used by many customers) come from the caller, who sees every customer.

The same functions serve the live event path and the replay of stored events
(``domain.feature_replay``), so a backtest sees exactly what the live rules saw. A window
reaching back further than the profile keeps (an event more than a day late) reads null,
in both places alike."""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from account_alerts.domain.activity_profile import ActivityProfile
from account_alerts.domain.events import LoginEvent, TransactionEvent
from account_alerts.domain.geo import distance_km
from account_alerts.domain.rules.suspicious_activity import USUAL_LOCATION_WINDOW

Value = float | str | bool | None
Features = dict[str, Value]

FAILED_LOGINS_WINDOW = timedelta(minutes=10)
TX_COUNT_WINDOW = timedelta(hours=1)
TX_SUM_WINDOW = timedelta(hours=24)
DEVICE_CUSTOMERS_WINDOW = timedelta(hours=24)
IP_CUSTOMERS_WINDOW = timedelta(hours=1)


class FeatureType(StrEnum):
    NUMBER = "NUMBER"
    STRING = "STRING"
    BOOLEAN = "BOOLEAN"


class EventKind(StrEnum):
    TRANSACTION = "TRANSACTION"
    LOGIN = "LOGIN"


BOTH = frozenset(EventKind)
TRANSACTION = frozenset({EventKind.TRANSACTION})
LOGIN = frozenset({EventKind.LOGIN})


@dataclass(frozen=True)
class Feature:
    name: str
    type: FeatureType
    kinds: frozenset[EventKind]
    description: str


FEATURES: dict[str, Feature] = {
    f.name: f
    for f in (
        Feature("amount", FeatureType.NUMBER, TRANSACTION, "The transaction's amount."),
        Feature("transactionType", FeatureType.STRING, TRANSACTION, "DEBIT or CREDIT."),
        Feature("currency", FeatureType.STRING, TRANSACTION, "The ISO 4217 currency code."),
        Feature(
            "hourLocal",
            FeatureType.NUMBER,
            BOTH,
            "The hour (0-23) of occurredAt in the account's time zone (the bank's for sign-ins).",
        ),
        Feature(
            "deviceKnown",
            FeatureType.BOOLEAN,
            BOTH,
            "Whether the customer used this deviceId before (by arrival for the same "
            "second); null without a deviceId.",
        ),
        Feature(
            "distanceKm",
            FeatureType.NUMBER,
            BOTH,
            "Kilometres to the nearest of the customer's usual places (those seen in the 90 "
            "days before); null without a location or without usual places.",
        ),
        Feature(
            "failedLogins10m",
            FeatureType.NUMBER,
            BOTH,
            "The customer's failed sign-ins in the 10 minutes up to the event, this one included.",
        ),
        Feature(
            "txCount1h",
            FeatureType.NUMBER,
            BOTH,
            "The customer's transactions in the hour up to the event, this one included.",
        ),
        Feature(
            "txSum24h",
            FeatureType.NUMBER,
            BOTH,
            "The sum of the customer's transaction amounts in the 24 hours up to the event, "
            "this one included.",
        ),
        Feature(
            "amountToTypical",
            FeatureType.NUMBER,
            TRANSACTION,
            "The amount divided by the median of the customer's last 30 transactions; null "
            "for their first.",
        ),
        Feature(
            "deviceCustomers24h",
            FeatureType.NUMBER,
            BOTH,
            "Distinct customers seen on this deviceId in the 24 hours up to the event, this "
            "customer included; null without a deviceId.",
        ),
        Feature(
            "ipCustomers1h",
            FeatureType.NUMBER,
            BOTH,
            "Distinct customers seen from this IP address in the hour up to the event, this "
            "customer included; null without an ipAddress.",
        ),
        Feature(
            "loginSuccessful",
            FeatureType.BOOLEAN,
            LOGIN,
            "Whether the sign-in succeeded.",
        ),
        Feature(
            "anomalyScore",
            FeatureType.NUMBER,
            TRANSACTION,
            "The anomaly model's score, 0-100; null while no model is active.",
        ),
    )
}

# Counted across customers: the caller (who sees every customer) supplies them.
CROWD_FEATURES = frozenset({"deviceCustomers24h", "ipCustomers1h"})


@dataclass(frozen=True)
class Crowd:
    """Distinct customers on the event's device (24 h) and IP address (1 h)."""

    device_customers_24h: int | None = None
    ip_customers_1h: int | None = None


def kind_of(event: TransactionEvent | LoginEvent) -> EventKind:
    return EventKind.LOGIN if isinstance(event, LoginEvent) else EventKind.TRANSACTION


def compute(
    event: TransactionEvent | LoginEvent,
    profile: ActivityProfile,
    *,
    zone: ZoneInfo,
    needed: Iterable[str],
    crowd: Crowd | None = None,
    anomaly_score: float | None = None,
) -> Features:
    """The ``needed`` features of ``event``, from ``profile`` as it was before the event."""
    features: Features = {}
    for name in needed:
        features[name] = _one(name, event, profile, zone, crowd, anomaly_score)
    return features


class LazyFeatures(Mapping[str, Value]):
    """The ``needed`` features of an event, each computed when a condition first reads it:
    a condition such as ``amount >= 50000 and distanceKm > 100`` stops at the amount for
    most events, and the distance (the costliest feature) is never worked out for them.
    Read it before the profile changes; ``crowd`` is asked at most once."""

    def __init__(
        self,
        event: TransactionEvent | LoginEvent,
        profile: ActivityProfile,
        *,
        zone: ZoneInfo,
        needed: frozenset[str],
        crowd: Callable[[], Crowd | None] = lambda: None,
        anomaly_score: float | None = None,
    ) -> None:
        self._event, self._profile, self._zone = event, profile, zone
        self._needed = needed
        self._count_crowd = crowd
        self._crowd: Crowd | None = None
        self._anomaly_score = anomaly_score
        self._known: Features = {}

    def __getitem__(self, name: str) -> Value:
        if name in self._known:
            return self._known[name]
        if name not in self._needed:
            raise KeyError(name)
        if name in CROWD_FEATURES and self._crowd is None:
            self._crowd = self._count_crowd()
        value = _one(name, self._event, self._profile, self._zone, self._crowd, self._anomaly_score)
        self._known[name] = value
        return value

    def get(self, name: str, default: Value = None) -> Value:  # type: ignore[override]
        # Mapping.get catches a KeyError from __getitem__; every operand asks this way.
        known = self._known
        if name in known:
            return known[name]
        return self[name] if name in self._needed else default

    def __iter__(self) -> Iterator[str]:
        return iter(self._needed)

    def __len__(self) -> int:
        return len(self._needed)


def _one(
    name: str,
    event: TransactionEvent | LoginEvent,
    profile: ActivityProfile,
    zone: ZoneInfo,
    crowd: Crowd | None,
    anomaly_score: float | None,
) -> Value:
    at = event.occurred_at
    transaction = event if isinstance(event, TransactionEvent) else None
    match name:
        case "amount":
            return float(transaction.amount) if transaction else None
        case "transactionType":
            return transaction.transaction_type.value if transaction else None
        case "currency":
            return transaction.currency if transaction else None
        case "hourLocal":
            return at.astimezone(zone).hour
        case "deviceKnown":
            if event.device_id is None:
                return None
            seen = profile.devices.get(event.device_id)
            return seen is not None and seen.first <= at
        case "distanceKm":
            if event.location is None:
                return None
            places = profile.usual_places(at, USUAL_LOCATION_WINDOW)
            if not places:
                return None
            return min(distance_km(event.location, place) for place in places)
        case "failedLogins10m":
            failures = profile.failed_logins.around(at, FAILED_LOGINS_WINDOW)
            if failures is None:
                return None
            this = 1 if isinstance(event, LoginEvent) and not event.successful else 0
            return len([t for t in failures if t <= at]) + this
        case "txCount1h" | "txSum24h":
            span = TX_COUNT_WINDOW if name == "txCount1h" else TX_SUM_WINDOW
            amounts = profile.transactions.within(at, span)
            if amounts is None:
                return None
            if transaction is not None:
                amounts = [*amounts, float(transaction.amount)]
            return len(amounts) if name == "txCount1h" else sum(amounts)
        case "amountToTypical":
            if transaction is None or not profile.last_amounts:
                return None
            typical = statistics.median(profile.last_amounts)
            return float(transaction.amount) / typical if typical > 0 else None
        case "deviceCustomers24h":
            return crowd.device_customers_24h if crowd and event.device_id else None
        case "ipCustomers1h":
            return crowd.ip_customers_1h if crowd and event.ip_address else None
        case "loginSuccessful":
            return event.successful if isinstance(event, LoginEvent) else None
        case "anomalyScore":
            return anomaly_score
    raise KeyError(name)


def null_features(features: Mapping[str, Value]) -> list[str]:
    return sorted(name for name, value in features.items() if value is None)
