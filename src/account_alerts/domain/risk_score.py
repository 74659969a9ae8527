"""A 0-100 risk score for a suspicious-activity detection, with its parts kept.

Components (each stored in ``detection_details.riskComponents``):
- ``base``: the strongest pattern — failed sign-ins 50, new-device transaction 45,
  unusual location 40;
- ``distance``: +5 per 100 km beyond the usual places, at most 25;
- ``failedAttempts``: +5 per failed sign-in beyond the fourth in the burst, at most 25;
- ``amount``: for a transaction, its share of the large-transaction threshold, at most 20;
- ``combined``: +15 for each further pattern seen in the same event.
"""

from __future__ import annotations

from decimal import Decimal

from account_alerts.domain.decisions import Detection
from account_alerts.domain.enums import SuspicionReason

BASE = {
    SuspicionReason.MULTIPLE_FAILED_ATTEMPTS: 50,
    SuspicionReason.NEW_DEVICE_TRANSACTION: 45,
    SuspicionReason.UNUSUAL_LOCATION: 40,
}


def risk_components(
    detections: list[Detection],
    *,
    amount: Decimal | None = None,
    large_threshold: Decimal | None = None,
) -> dict[str, int]:
    parts = {"base": max(BASE[d.reason] for d in detections)}
    for detection in detections:
        if detection.reason is SuspicionReason.UNUSUAL_LOCATION:
            parts["distance"] = min(25, int(detection.details["distanceKm"] // 100) * 5)
        if detection.reason is SuspicionReason.MULTIPLE_FAILED_ATTEMPTS:
            parts["failedAttempts"] = min(25, 5 * (detection.details["failedAttempts"] - 4))
    if amount is not None and large_threshold:
        parts["amount"] = min(20, int(Decimal(20) * amount / large_threshold))
    if len(detections) > 1:
        parts["combined"] = 15 * (len(detections) - 1)
    return parts


def risk_score(components: dict[str, int]) -> int:
    return max(0, min(100, sum(components.values())))
