"""SUSPICIOUS_ACTIVITY: unusual location, a burst of failed sign-ins, a new device paying.
A pattern the customer switched off is not looked for at all.

"Usual locations" are the places of the customer's successful sign-ins and transactions
in the 90 days before the event (event time). A place more than 100 km from every one of
them is unusual. With no such history, or no location on the event, the check is skipped
and the reason recorded."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from account_alerts.domain.alert_settings import AlertPreferences
from account_alerts.domain.decisions import Detection, RaiseAlert, SkippedCheck, Suppressed, Verdict
from account_alerts.domain.enums import AlertType, SuspicionReason
from account_alerts.domain.geo import UNUSUAL_DISTANCE_KM, GeoPoint, nearest_unless_within
from account_alerts.domain.risk_score import risk_components, risk_score

USUAL_LOCATION_WINDOW = timedelta(days=90)
FAILED_ATTEMPT_WINDOW = timedelta(minutes=10)
FAILED_ATTEMPT_LIMIT = 3  # more than this many in the window is an attack


def unusual_location(
    location: GeoPoint | None, usual_places: Sequence[GeoPoint], prefs: AlertPreferences
) -> Verdict | Detection:
    verdict = Verdict()
    reason = SuspicionReason.UNUSUAL_LOCATION.value
    if not prefs.alert_unusual_location:
        return verdict
    if location is None:
        verdict.skipped.append(SkippedCheck(reason, "the event has no location"))
        return verdict
    nearest = nearest_unless_within(location, usual_places, UNUSUAL_DISTANCE_KM)
    if nearest is None:
        verdict.skipped.append(SkippedCheck(reason, "no usual locations in the last 90 days"))
        return verdict
    if nearest <= UNUSUAL_DISTANCE_KM:
        return verdict
    return Detection(
        SuspicionReason.UNUSUAL_LOCATION,
        {
            "distanceKm": round(nearest, 1),
            "location": location.as_json(),
            "usualPlaces": len(usual_places),
        },
    )


def new_device_transaction(
    device_id: str | None,
    *,
    device_known: bool,
    has_device_history: bool,
    prefs: AlertPreferences,
) -> Verdict | Detection:
    verdict = Verdict()
    reason = SuspicionReason.NEW_DEVICE_TRANSACTION.value
    if not prefs.alert_new_device_transaction:
        return verdict
    if device_id is None:
        verdict.skipped.append(SkippedCheck(reason, "the transaction names no device"))
        return verdict
    if device_known:
        return verdict
    if not has_device_history:
        verdict.skipped.append(SkippedCheck(reason, "no devices seen for this customer yet"))
        return verdict
    return Detection(SuspicionReason.NEW_DEVICE_TRANSACTION, {"deviceId": device_id})


def failed_attempt_burst(at: datetime, failures: Sequence[datetime]) -> list[datetime] | None:
    """The failures (event times, this one included) of a 10-minute window that holds
    ``at`` and more than three failures; None when there is no such window."""
    ordered = sorted(failures)
    for start in ordered:
        window = [when for when in ordered if start <= when < start + FAILED_ATTEMPT_WINDOW]
        if window and window[0] <= at <= window[-1] and len(window) > FAILED_ATTEMPT_LIMIT:
            return window
    return None


def multiple_failed_attempts(
    at: datetime, failures: Sequence[datetime], earlier_alerts: Sequence[datetime]
) -> Verdict | Detection:
    """One alert per burst: none while another was raised within 10 minutes of this one.
    This check cannot be switched off."""
    burst = failed_attempt_burst(at, failures)
    if burst is None:
        return Verdict()
    if any(abs(when - at) < FAILED_ATTEMPT_WINDOW for when in earlier_alerts):
        verdict = Verdict()
        verdict.suppressed.append(
            Suppressed(
                AlertType.SUSPICIOUS_ACTIVITY,
                "this burst of failed sign-ins was already reported",
                {"suspicionReason": SuspicionReason.MULTIPLE_FAILED_ATTEMPTS.value},
            )
        )
        return verdict
    return Detection(
        SuspicionReason.MULTIPLE_FAILED_ATTEMPTS,
        {
            "failedAttempts": len(burst),
            "windowStart": burst[0].isoformat(),
            "windowEnd": burst[-1].isoformat(),
        },
    )


def suspicious_alert(
    detections: list[Detection],
    *,
    account_number: str | None,
    at: datetime,
    prefs: AlertPreferences,
    device_id: str | None,
    ip_address: str | None,
    location: GeoPoint | None,
    related_transaction_ids: list[str],
    amount: Decimal | None = None,
) -> RaiseAlert:
    """One alert for everything seen in one event; the strongest pattern names it."""
    components = risk_components(
        detections, amount=amount, large_threshold=prefs.large_transaction_threshold
    )
    score = risk_score(components)
    primary = max(
        detections,
        key=lambda d: {
            "MULTIPLE_FAILED_ATTEMPTS": 3,
            "NEW_DEVICE_TRANSACTION": 2,
            "UNUSUAL_LOCATION": 1,
        }[d.reason.value],
    )
    details: dict[str, Any] = {
        "patterns": [{"reason": d.reason.value, **d.details} for d in detections],
        "riskComponents": components,
    }
    return RaiseAlert(
        alert_type=AlertType.SUSPICIOUS_ACTIVITY,
        account_number=account_number,
        triggered_at=at,
        data={
            "suspicionReason": primary.reason.value,
            "suspicionDetails": details,
            "relatedTransactionIds": related_transaction_ids,
            "deviceId": device_id,
            "location": location.as_json() if location else None,
            "ipAddress": ip_address,
            "detectedAt": at.isoformat(),
            "actionRequired": True,
            "riskScore": score,
        },
        channels=prefs.suspicious_activity_channels,
        detections=tuple(detections),
        risk_score=score,
        risk_components=components,
    )


def collect(verdict: Verdict, outcome: Verdict | Detection, detections: list[Detection]) -> None:
    if isinstance(outcome, Detection):
        detections.append(outcome)
    else:
        verdict.extend(outcome)
