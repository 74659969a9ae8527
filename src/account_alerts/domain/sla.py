"""The risk team's service levels, computed from durations: pure arithmetic."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

CUSTOMER_ALERT_TARGET_SECONDS = 300.0


def percentile(values: Sequence[float], share: float) -> float | None:
    """The nearest-rank percentile (``share`` in 0..1): a value that occurred, so a p95 of
    a handful of cases is one of them rather than an interpolation. None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(share * len(ordered)))
    return ordered[rank - 1]


def share_of(part: int, whole: int) -> float | None:
    return part / whole if whole else None


@dataclass(frozen=True)
class CaseSla:
    cases: int
    # Cases whose acknowledgement was due by now, or that were acknowledged: the ones
    # that have met or missed the SLA already.
    decided: int
    acknowledged_within_sla: int
    ack_seconds: list[float]

    @property
    def share_within_sla(self) -> float | None:
        return share_of(self.acknowledged_within_sla, self.decided)


@dataclass(frozen=True)
class AlertSla:
    alerts: int
    # Seconds from the event to the first send, per alert sent at all.
    send_seconds: list[float]

    @property
    def within_target(self) -> int:
        return sum(1 for seconds in self.send_seconds if seconds <= CUSTOMER_ALERT_TARGET_SECONDS)

    @property
    def share_within_target(self) -> float | None:
        """Of the alerts meant for a channel: an alert never sent counts as late."""
        return share_of(self.within_target, self.alerts)
