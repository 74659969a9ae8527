"""A backtest's report, tallied event by event (DESIGN §5.1): hits, customers, days,
overlap with the LIVE rules, the confusion matrix against labels and sample hits."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from account_alerts.domain.fraud_features import Features

SAMPLES = 20


@dataclass
class Tally:
    live: set[str]
    labels: dict[str, bool]
    seed: int
    evaluated: int = 0
    hits: int = 0
    customers: set[int] = field(default_factory=set)
    per_day: dict[str, int] = field(default_factory=dict)
    hit_events: set[str] = field(default_factory=set)
    evaluated_live: int = 0
    confusion: dict[str, int] = field(default_factory=lambda: {"tp": 0, "fp": 0, "fn": 0, "tn": 0})
    samples: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)  # noqa: S311 (a sample, not a secret)

    def add(
        self, event_id: str, customer: int, occurred_at: datetime, holds: bool, features: Features
    ) -> None:
        self.evaluated += 1
        if event_id in self.live:
            self.evaluated_live += 1
        label = self.labels.get(event_id)
        if label is not None:
            key = ("tp" if holds else "fn") if label else ("fp" if holds else "tn")
            self.confusion[key] += 1
        if not holds:
            return
        self.hits += 1
        self.customers.add(customer)
        self.hit_events.add(event_id)
        day = occurred_at.date().isoformat()
        self.per_day[day] = self.per_day.get(day, 0) + 1
        sample = {"eventId": event_id, "occurredAt": occurred_at.isoformat(), "features": features}
        # Reservoir sampling: every hit equally likely to be shown, the same for a seed.
        if len(self.samples) < SAMPLES:
            self.samples.append(sample)
        else:
            slot = self._random.randrange(self.hits)
            if slot < SAMPLES:
                self.samples[slot] = sample

    def report(self) -> dict[str, Any]:
        both = len(self.hit_events & self.live)
        tp, fp, fn, tn = (self.confusion[k] for k in ("tp", "fp", "fn", "tn"))
        return {
            "evaluated": self.evaluated,
            "hits": self.hits,
            "hitRate": self.hits / self.evaluated if self.evaluated else 0.0,
            "distinctCustomers": len(self.customers),
            "overlap": {
                "both": both,
                "newOnly": self.hits - both,
                "liveOnly": self.evaluated_live - both,
            },
            "labelled": {
                "truePositives": tp,
                "falsePositives": fp,
                "falseNegatives": fn,
                "trueNegatives": tn,
                "precision": tp / (tp + fp) if tp + fp else None,
                "recall": tp / (tp + fn) if tp + fn else None,
            },
            "perDay": [{"day": d, "hits": n} for d, n in sorted(self.per_day.items())],
            "sampleHits": sorted(self.samples, key=lambda s: (s["occurredAt"], s["eventId"])),
        }
