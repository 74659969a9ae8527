"""A generated bank's EVENTS: normal customers over some weeks, plus injected account
takeovers and mule-account bursts whose causes are known. Their features come from the
replay of the events (``domain.feature_replay``), as the training job computes them.

- Normal: each customer has a home near one of a few towns, a phone, a typical amount
  and a daily habit; a few trips, a few new phones, the odd failed sign-in, households
  sharing one phone, and carrier NAT addresses shared by many customers.
- Takeover: a new device, far abroad, many times the customer's typical amount, at night.
- Mule burst: one phone, set up over the previous weeks for a dozen customers one at a
  time (so it is a known device to each), moving money for all of them within a day.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import numpy as np

from account_alerts.domain.anomaly.features import FEATURE_NAMES, Features
from account_alerts.domain.enums import TransactionType
from account_alerts.domain.events import LoginEvent, TransactionEvent
from account_alerts.domain.feature_replay import FeatureReplay
from account_alerts.domain.geo import GeoPoint

ZONE = ZoneInfo("Africa/Blantyre")
START = datetime(2026, 9, 1, tzinfo=UTC)
TOWNS = (
    GeoPoint(-15.7861, 35.0058),  # Blantyre
    GeoPoint(-13.9626, 33.7741),  # Lilongwe
    GeoPoint(-15.3850, 35.3188),  # Zomba
    GeoPoint(-11.4656, 34.0207),  # Mzuzu
)
ABROAD = (
    GeoPoint(6.5244, 3.3792),  # Lagos
    GeoPoint(51.5072, -0.1276),  # London
    GeoPoint(25.2048, 55.2708),  # Dubai
)
TAKEOVER = "takeover"
MULE = "mule"
CAUSES = {
    TAKEOVER: frozenset({"deviceKnown", "distanceKm", "amountToTypical", "amount", "hourLocal"}),
    MULE: frozenset({"deviceCustomers24h"}),
}


@dataclass(frozen=True)
class Generated:
    customer: int
    account: str
    event: TransactionEvent | LoginEvent
    injected: str | None


def account_of(customer: int) -> str:
    return f"{1_000_000_000 + customer}"


class _Bank:
    def __init__(self, rng: np.random.Generator, customers: int) -> None:
        self.rng = rng
        self.events: list[Generated] = []
        self.home = [TOWNS[int(rng.integers(len(TOWNS)))] for _ in range(customers)]
        self.typical = rng.lognormal(np.log(60.0), 1.0, size=customers)
        self.phone = [f"phone-{c}" for c in range(customers)]
        # Some households share one phone between two customers.
        for c in range(1, customers, 2):
            if rng.random() < 0.15:
                self.phone[c] = self.phone[c - 1]
                self.home[c] = self.home[c - 1]
        self.count = 0

    def near(self, place: GeoPoint, spread: float) -> GeoPoint:
        lat, lon = (float(v) for v in self.rng.normal(0, spread, size=2))
        return GeoPoint(round(place.latitude + lat, 4), round(place.longitude + lon, 4))

    def ip(self) -> str:
        return f"102.70.{int(self.rng.integers(0, 4))}.{int(self.rng.integers(1, 60))}"

    def add(
        self,
        customer: int,
        at: datetime,
        amount: float,
        *,
        device: str,
        place: GeoPoint,
        injected: str | None = None,
    ) -> None:
        self.count += 1
        event = TransactionEvent(
            event_id=f"ev-{self.count}",
            account_number=account_of(customer),
            transaction_id=f"tx-{self.count}",
            transaction_type=TransactionType.DEBIT,
            amount=Decimal(f"{max(amount, 1.0):.2f}"),
            currency="MWK",
            occurred_at=at,
            device_id=device,
            ip_address=self.ip(),
            location=place,
        )
        self.events.append(Generated(customer, account_of(customer), event, injected))

    def sign_in(self, customer: int, at: datetime, *, device: str, successful: bool) -> None:
        self.count += 1
        event = LoginEvent(
            event_id=f"ev-{self.count}",
            mobile_user_id=customer,
            successful=successful,
            occurred_at=at,
            device_id=device,
            ip_address=self.ip(),
            location=self.near(self.home[customer], 0.02),
        )
        self.events.append(Generated(customer, account_of(customer), event, None))

    def local_time(self, day: int, hour: float) -> datetime:
        local = datetime(START.year, START.month, START.day, tzinfo=ZONE) + timedelta(
            days=day, hours=hour
        )
        return local.astimezone(UTC).replace(microsecond=0)

    def normal_day(self, customer: int, day: int) -> None:
        rng = self.rng
        if rng.random() < 0.004:  # a new phone, kept from now on
            self.phone[customer] = f"phone-{customer}-{day}"
        for _ in range(int(rng.poisson(1.0))):
            hour = float(np.clip(rng.normal(14, 3.5), 6, 23.9))
            if rng.random() < 0.02:
                hour = float(rng.uniform(0, 6))
            at = self.local_time(day, hour)
            if rng.random() < 0.03:
                self.sign_in(
                    customer,
                    at - timedelta(minutes=2),
                    device=self.phone[customer],
                    successful=False,
                )
            travelling = rng.random() < 0.04
            town = TOWNS[int(rng.integers(len(TOWNS)))] if travelling else self.home[customer]
            amount = float(self.typical[customer] * rng.lognormal(0.0, 0.5))
            self.add(customer, at, amount, device=self.phone[customer], place=self.near(town, 0.02))


def bank_events(
    *,
    customers: int = 400,
    days: int = 40,
    takeovers: int = 60,
    mule_bursts: int = 6,
    seed: int = 7,
) -> list[Generated]:
    """The events in arrival order (by event time; same-second events by generation)."""
    rng = np.random.default_rng(seed)
    bank = _Bank(rng, customers)
    for customer in range(customers):
        bank.sign_in(customer, bank.local_time(0, 7), device=bank.phone[customer], successful=True)
        for day in range(days):
            bank.normal_day(customer, day)
    for k in range(takeovers):
        victim = int(rng.integers(customers))
        at = bank.local_time(int(rng.integers(days // 3, days)), float(rng.uniform(1, 4.5)))
        amount = float(bank.typical[victim] * rng.uniform(8, 40))
        place = bank.near(ABROAD[int(rng.integers(len(ABROAD)))], 0.05)
        bank.add(victim, at, amount, device=f"intruder-{k}", place=place, injected=TAKEOVER)
    for k in range(mule_bursts):
        phone = f"mule-phone-{k}"
        members = [
            int(c) for c in rng.choice(customers, size=int(rng.integers(8, 14)), replace=False)
        ]
        burst_day = int(rng.integers(days // 2, days))
        for i, member in enumerate(members):
            # Set up on the phone one at a time, days apart: a known device to each.
            bank.sign_in(
                member, bank.local_time(burst_day - 2 - i, 12), device=phone, successful=True
            )
        for i, member in enumerate(members):
            at = bank.local_time(burst_day, 10 + i * 0.25)
            amount = float(bank.typical[member] * rng.lognormal(0.0, 0.5))
            bank.add(
                member,
                at,
                amount,
                device=phone,
                place=bank.near(bank.home[member], 0.02),
                injected=MULE if i >= 2 else None,
            )
    order = sorted(range(len(bank.events)), key=lambda i: (bank.events[i].event.occurred_at, i))
    return [bank.events[i] for i in order]


@dataclass(frozen=True)
class Replayed:
    features: Features
    injected: str | None


@functools.cache
def replayed_bank(seed: int = 7) -> tuple[Replayed, ...]:
    """Every generated transaction's features, replayed from the events in arrival order
    as the training job replays stored ones (cached: several test modules share it)."""
    replay = FeatureReplay(frozenset(FEATURE_NAMES))
    cases = []
    for generated in bank_events(seed=seed):
        is_transaction = isinstance(generated.event, TransactionEvent)
        features = replay.observe(
            generated.customer, generated.event, ZONE, evaluate=is_transaction
        )
        if features is not None:
            cases.append(Replayed(features, generated.injected))
    return tuple(cases)
