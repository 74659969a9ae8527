"""Stored events replayed in arrival order into the features each had when it arrived.

A backtest (and the anomaly model's training) must see every feature as it was at each
event's time, never what came later: the replay keeps each customer's activity profile and
the cross-customer windows in memory, computes an event's features from them exactly as
the live path does (``domain.fraud_features``), and only then lets the event change them,
as the live path's judging does."""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from account_alerts.domain.activity_profile import ActivityProfile
from account_alerts.domain.events import LoginEvent, TransactionEvent
from account_alerts.domain.fraud_features import (
    CROWD_FEATURES,
    DEVICE_CUSTOMERS_WINDOW,
    IP_CUSTOMERS_WINDOW,
    Crowd,
    Features,
    LazyFeatures,
    compute,
)
from account_alerts.domain.rule_conditions import Condition

# The features read from the customer's recent transactions.
TRANSACTION_STATE_FEATURES = frozenset({"txCount1h", "txSum24h", "amountToTypical"})


@dataclass
class CrowdWindow:
    """Which customers used each key (a device, an IP address) when, for ``span``."""

    span: timedelta
    seen: dict[str, list[tuple[datetime, int]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._kept = 2 * self.span

    def customers(self, key: str, at: datetime, customer: int) -> int:
        """Distinct customers on ``key`` in (at - span, at], ``customer`` included."""
        entries = self.seen.get(key, [])
        start = bisect.bisect_right(entries, (at - self.span, 1 << 62))
        return len({c for when, c in entries[start:] if when <= at} | {customer})

    def add(self, key: str, at: datetime, customer: int) -> None:
        entries = self.seen.get(key)
        if entries is None:
            self.seen[key] = [(at, customer)]
            return
        bisect.insort(entries, (at, customer))
        # Events a little late still find their window; older entries are done with.
        cutoff = entries[-1][0] - self._kept
        if entries[0][0] < cutoff:
            del entries[: bisect.bisect_left(entries, (cutoff, -1))]


@dataclass
class FeatureReplay:
    """Feed every stored event in arrival order; ``observe`` answers with the event's
    features (those ``needed``) or None for events only replayed to build the state."""

    needed: frozenset[str]
    profiles: dict[int, ActivityProfile] = field(default_factory=dict)
    devices: CrowdWindow = field(default_factory=lambda: CrowdWindow(DEVICE_CUSTOMERS_WINDOW))
    addresses: CrowdWindow = field(default_factory=lambda: CrowdWindow(IP_CUSTOMERS_WINDOW))

    def __post_init__(self) -> None:
        # The state each feature reads; a replay keeps only its features' state.
        self._keep = self.needed | (
            {"transactions"} if self.needed & TRANSACTION_STATE_FEATURES else set()
        )

    def observe(
        self,
        customer: int,
        event: TransactionEvent | LoginEvent,
        zone: ZoneInfo,
        *,
        evaluate: bool = True,
        anomaly_score: float | None = None,
    ) -> Features | None:
        profile = self.profiles.get(customer)
        if profile is None:
            profile = self.profiles[customer] = ActivityProfile()
        features: Features | None = None
        if evaluate:
            crowd = self._crowd(customer, event) if self.needed & CROWD_FEATURES else None
            features = compute(
                event,
                profile,
                zone=zone,
                needed=self.needed,
                crowd=crowd,
                anomaly_score=anomaly_score,
            )
        self._saw(customer, event, profile)
        return features

    def judge(
        self,
        customer: int,
        event: TransactionEvent | LoginEvent,
        zone: ZoneInfo,
        condition: Condition,
    ) -> tuple[bool, Features]:
        """Whether ``condition`` holds for the event, with the values of its features when
        it does; each feature is worked out only if the condition reads it (a backtest's
        condition stops at its first false clause for most events)."""
        profile = self.profiles.get(customer)
        if profile is None:
            profile = self.profiles[customer] = ActivityProfile()
        features = LazyFeatures(
            event,
            profile,
            zone=zone,
            needed=self.needed,
            crowd=lambda: self._crowd(customer, event),
        )
        holds, _ = condition.evaluate(features)
        values = {name: features[name] for name in condition.features} if holds else {}
        self._saw(customer, event, profile)
        return holds, values

    def _crowd(self, customer: int, event: TransactionEvent | LoginEvent) -> Crowd:
        at = event.occurred_at
        return Crowd(
            device_customers_24h=(
                self.devices.customers(event.device_id, at, customer) if event.device_id else None
            ),
            ip_customers_1h=(
                self.addresses.customers(event.ip_address, at, customer)
                if event.ip_address
                else None
            ),
        )

    def saw_elsewhere(
        self, customer: int, device: str | None, address: str | None, at: datetime
    ) -> None:
        """An event of a customer another replay keeps: only the cross-customer counts
        hear of it."""
        keep = self._keep
        if device and "deviceCustomers24h" in keep:
            self.devices.add(device, at, customer)
        if address and "ipCustomers1h" in keep:
            self.addresses.add(address, at, customer)

    def _saw(
        self, customer: int, event: TransactionEvent | LoginEvent, profile: ActivityProfile
    ) -> None:
        """What the event leaves behind, as engine.judging records it; only what the
        ``needed`` features read is kept."""
        at, keep = event.occurred_at, self._keep
        self.saw_elsewhere(customer, event.device_id, event.ip_address, at)
        device = event.device_id if "deviceKnown" in keep else None
        place = event.location if "distanceKm" in keep else None
        if isinstance(event, TransactionEvent):
            if device is not None:
                profile.saw_device(device, at)
            if place is not None:
                profile.saw_place(place, at, login=False)
            if "transactions" in keep:
                profile.saw_transaction(at, float(event.amount))
        elif event.successful:
            if device is not None:
                profile.saw_device(device, at)
            if place is not None:
                profile.saw_place(place, at, login=True)
        elif "failedLogins10m" in keep:
            profile.failed_login(at)


def replay(
    events: Iterable[tuple[int, TransactionEvent | LoginEvent, ZoneInfo]],
    needed: frozenset[str],
) -> list[Features]:
    """Every event's features, for callers with the whole stream at hand."""
    state = FeatureReplay(needed)
    return [
        features
        for customer, event, zone in events
        if (features := state.observe(customer, event, zone)) is not None
    ]
