"""A backtest's replay and report, tallied event by event (DESIGN §5.1): hits, customers,
days, overlap with the LIVE rules, the confusion matrix against labels and sample hits."""

from __future__ import annotations

import hashlib
import heapq
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from account_alerts.domain.activity_profile import from_micros
from account_alerts.domain.enums import LoginMethod, TransactionType
from account_alerts.domain.events import LoginEvent, TransactionEvent
from account_alerts.domain.feature_replay import FeatureReplay
from account_alerts.domain.fraud_features import CROWD_FEATURES, EventKind, Features, kind_of
from account_alerts.domain.geo import GeoPoint
from account_alerts.domain.rule_conditions import Condition

SAMPLES = 20


def _sample_key(seed: int, event_id: str) -> int:
    return int.from_bytes(
        hashlib.blake2b(f"{seed}:{event_id}".encode(), digest_size=8).digest(), "big"
    )


@dataclass
class Tally:
    """One replay's counts. Replays of disjoint sets of customers (the shards of one
    backtest) are combined by ``report``.

    The sample hits are the SAMPLES hits whose seeded hash of the event id is smallest:
    every hit equally likely to be shown, the same for a seed whatever the order or the
    shard an event was judged in."""

    live: set[str]
    labels: dict[str, bool]
    seed: int
    evaluated: int = 0
    hits: int = 0
    customers: set[int] = field(default_factory=set)
    per_day: dict[str, int] = field(default_factory=dict)
    both: int = 0
    evaluated_live: int = 0
    confusion: dict[str, int] = field(default_factory=lambda: {"tp": 0, "fp": 0, "fn": 0, "tn": 0})
    # (-key, event id, sample): a heap whose top is the largest key kept.
    samples: list[tuple[int, str, dict[str, Any]]] = field(default_factory=list)

    def add(
        self, event_id: str, customer: int, occurred_at: datetime, holds: bool, features: Features
    ) -> None:
        self.evaluated += 1
        live = event_id in self.live
        if live:
            self.evaluated_live += 1
        label = self.labels.get(event_id)
        if label is not None:
            key = ("tp" if holds else "fn") if label else ("fp" if holds else "tn")
            self.confusion[key] += 1
        if not holds:
            return
        self.hits += 1
        self.both += live
        self.customers.add(customer)
        day = occurred_at.date().isoformat()
        self.per_day[day] = self.per_day.get(day, 0) + 1
        sample = {"eventId": event_id, "occurredAt": occurred_at.isoformat(), "features": features}
        entry = (-_sample_key(self.seed, event_id), event_id, sample)
        if len(self.samples) < SAMPLES:
            heapq.heappush(self.samples, entry)
        elif entry > self.samples[0]:
            heapq.heapreplace(self.samples, entry)

    def part(self) -> dict[str, Any]:
        """The counts as plain data (what a replay process sends back)."""
        return {
            "evaluated": self.evaluated,
            "hits": self.hits,
            "customers": len(self.customers),
            "perDay": self.per_day,
            "both": self.both,
            "evaluatedLive": self.evaluated_live,
            "confusion": self.confusion,
            "samples": [[-key, sample] for key, _, sample in self.samples],
        }


def report(parts: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """The report of a backtest from the ``part`` of each of its replays (each of its own
    customers)."""
    evaluated = hits = customers = both = evaluated_live = 0
    per_day: dict[str, int] = {}
    confusion = {"tp": 0, "fp": 0, "fn": 0, "tn": 0}
    samples: list[tuple[int, dict[str, Any]]] = []
    for part in parts:
        evaluated += part["evaluated"]
        hits += part["hits"]
        customers += part["customers"]
        both += part["both"]
        evaluated_live += part["evaluatedLive"]
        for day, count in part["perDay"].items():
            per_day[day] = per_day.get(day, 0) + count
        for name in confusion:
            confusion[name] += part["confusion"][name]
        samples.extend((key, sample) for key, sample in part["samples"])
    shown = [sample for _, sample in sorted(samples, key=lambda s: s[0])[:SAMPLES]]
    tp, fp, fn, tn = (confusion[k] for k in ("tp", "fp", "fn", "tn"))
    return {
        "evaluated": evaluated,
        "hits": hits,
        "hitRate": hits / evaluated if evaluated else 0.0,
        "distinctCustomers": customers,
        "overlap": {"both": both, "newOnly": hits - both, "liveOnly": evaluated_live - both},
        "labelled": {
            "truePositives": tp,
            "falsePositives": fp,
            "falseNegatives": fn,
            "trueNegatives": tn,
            "precision": tp / (tp + fp) if tp + fp else None,
            "recall": tp / (tp + fn) if tp + fn else None,
        },
        "perDay": [{"day": d, "hits": n} for d, n in sorted(per_day.items())],
        "sampleHits": sorted(shown, key=lambda s: (s["occurredAt"], s["eventId"])),
    }


# A stored event as a backtest reads it (store.backtest_source): plain values, cheap to
# send to another process. Times are whole microseconds since the epoch, amounts exact
# decimal text. Each row starts with (arrived, 1 for a transaction or 0 for a sign-in,
# row id, customer, the account's time zone or None for the server's default), then:
#   transaction: event id, account, transaction id, type, amount, currency, device, IP
#                address, latitude, longitude, place label, occurred;
#   sign-in:     event id, successful, device, IP address, latitude, longitude, place
#                label, login method, occurred.
StoredRow = tuple[Any, ...]
_TRANSACTION_TYPES = {kind.value: kind for kind in TransactionType}
_LOGIN_METHODS = {method.value: method for method in LoginMethod}


def _point(latitude: float | None, longitude: float | None, label: str | None) -> GeoPoint | None:
    if latitude is None or longitude is None:
        return None
    return GeoPoint(latitude, longitude, label)


def event_of(row: StoredRow) -> TransactionEvent | LoginEvent:
    """The event a stored row records, as the live path judged it (its balance, which no
    feature reads, is left out)."""
    if row[1]:
        (
            _, _, _, _, _, event_id, account, transaction_id, kind, amount, currency,
            device_id, ip_address, latitude, longitude, label, occurred,
        ) = row  # fmt: skip
        return TransactionEvent(
            event_id=event_id,
            account_number=account,
            transaction_id=transaction_id,
            transaction_type=_TRANSACTION_TYPES[kind],
            amount=Decimal(amount),
            currency=currency,
            occurred_at=from_micros(occurred),
            device_id=device_id,
            ip_address=ip_address,
            location=_point(latitude, longitude, label),
        )
    (
        _, _, _, customer, _, event_id, successful, device_id, ip_address, latitude,
        longitude, label, method, occurred,
    ) = row  # fmt: skip
    return LoginEvent(
        event_id=event_id,
        mobile_user_id=customer,
        successful=successful,
        occurred_at=from_micros(occurred),
        device_id=device_id,
        ip_address=ip_address,
        location=_point(latitude, longitude, label),
        login_method=_LOGIN_METHODS[method] if method else None,
    )


def crowd_keys(row: StoredRow) -> tuple[str | None, str | None]:
    """The device and IP address a stored row names (all the cross-customer counts read)."""
    return (row[11], row[12]) if row[1] else (row[7], row[8])


class BacktestRun:
    """A version replayed over every stored event, fed in arrival order: the events of the
    window and of the version's kinds are judged with their features as they were at the
    time (domain.feature_replay) and tallied; the others only build the state.

    A run can own one shard of the customers (``customer % shards == shard``): it judges
    and keeps the state of its own customers only, and of the others' events notes only
    what the cross-customer counts need, so that runs of every shard, fed the same rows,
    tally the whole backtest between them."""

    def __init__(
        self,
        condition: Condition,
        kinds: frozenset[EventKind],
        *,
        start: datetime,
        end: datetime,
        tally: Tally,
        default_zone: str,
        shard: int = 0,
        shards: int = 1,
    ) -> None:
        self.condition, self.kinds = condition, kinds
        self.start, self.end = start, end
        self.tally = tally
        self.default_zone = default_zone
        self.shard, self.shards = shard, shards
        self.replay = FeatureReplay(needed=condition.features)
        self._zones: dict[str, ZoneInfo] = {}

    def feed(self, rows: Iterable[StoredRow]) -> None:
        start, end, kinds, replay, tally = (
            self.start, self.end, self.kinds, self.replay, self.tally
        )  # fmt: skip
        shard, shards = self.shard, self.shards
        crowds = bool(replay.needed & CROWD_FEATURES)
        for row in rows:
            customer = row[3]
            if customer % shards != shard:
                if crowds:
                    at = from_micros(row[-1])
                    replay.saw_elsewhere(customer, *crowd_keys(row), at)
                continue
            event, zone = event_of(row), self._zone(row[4])
            if start <= event.occurred_at < end and kind_of(event) in kinds:
                holds, features = replay.judge(customer, event, zone, self.condition)
                tally.add(event.event_id, customer, event.occurred_at, holds, features)
            else:
                replay.observe(customer, event, zone, evaluate=False)

    def _zone(self, name: str | None) -> ZoneInfo:
        key = name or self.default_zone
        zone = self._zones.get(key)
        if zone is None:
            zone = self._zones[key] = ZoneInfo(key)
        return zone
