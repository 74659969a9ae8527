"""Prometheus metrics of the event path's units of work: how many events each one held
(how far group commit shares a transaction among single events and batches), and where
its time went. A unit's time is wall time, waits included: the event loop the unit
shares with the requests, and the database's locks and answers."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from prometheus_client import Histogram

from account_alerts.delivery.metrics import REGISTRY

UNIT_EVENTS = Histogram(
    "alerts_event_unit_events",
    "Events judged in one committed unit of work (one transaction): a single event, single"
    " events written together, or batches.",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048),
    registry=REGISTRY,
)
UNIT_SECONDS = Histogram(
    "alerts_event_unit_seconds",
    "Time a committed unit of work spent in each phase: lock (from taking a connection to"
    " having the customers locked and what the checks need), judge (the events judged and"
    " their rows buffered), write (the write, the announcement and the commit).",
    ["phase"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
    registry=REGISTRY,
)
_PHASES = ("lock", "judge", "write")
_OBSERVE = [UNIT_SECONDS.labels(phase).observe for phase in _PHASES]


@dataclass
class UnitTimer:
    """The moments a unit passed from one phase to the next; observed once it committed."""

    marks: list[float] = field(default_factory=lambda: [time.perf_counter()])

    def mark(self) -> None:
        self.marks.append(time.perf_counter())

    def committed(self, events: int) -> None:
        self.mark()
        UNIT_EVENTS.observe(events)
        marks = self.marks
        for observe, start, end in zip(_OBSERVE, marks[:-1], marks[1:], strict=True):
            observe(end - start)
