"""SUSPICIOUS_ACTIVITY: unusual location, new device paying, a burst of failed sign-ins."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from account_alerts.domain.alert_settings import (
    AlertPreferences,
    ThresholdDefaults,
    default_preferences,
)
from account_alerts.domain.decisions import Detection, RaiseAlert, SkippedCheck, Verdict
from account_alerts.domain.enums import AlertType, NotificationChannel, SuspicionReason
from account_alerts.domain.geo import EARTH_RADIUS_KM, GeoPoint, distance_km
from account_alerts.domain.rules.suspicious_activity import (
    collect,
    failed_attempt_burst,
    multiple_failed_attempts,
    new_device_transaction,
    suspicious_alert,
    unusual_location,
)

AT = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
BLANTYRE = GeoPoint(-15.7861, 35.0058, "Blantyre")
KM_PER_DEGREE = EARTH_RADIUS_KM * math.pi / 180
UNUSUAL = SuspicionReason.UNUSUAL_LOCATION
NEW_DEVICE = SuspicionReason.NEW_DEVICE_TRANSACTION
FAILED = SuspicionReason.MULTIPLE_FAILED_ATTEMPTS


@pytest.fixture
def prefs() -> AlertPreferences:
    return default_preferences(ThresholdDefaults(Decimal(5000), Decimal(50000)))


def north_of(place: GeoPoint, km: float, label: str | None = None) -> GeoPoint:
    """A point ``km`` due north of ``place`` (along a meridian, so exact)."""
    return GeoPoint(place.latitude + km / KM_PER_DEGREE, place.longitude, label)


def minutes(*offsets: float) -> list[datetime]:
    return [AT + timedelta(minutes=m) for m in offsets]


# Unusual location


def test_north_of_helper_is_exact() -> None:
    assert distance_km(BLANTYRE, north_of(BLANTYRE, 101)) == pytest.approx(101, abs=1e-6)


def test_unusual_location_is_skipped_without_a_location(prefs: AlertPreferences) -> None:
    outcome = unusual_location(None, [BLANTYRE], prefs)
    assert outcome == Verdict(
        skipped=[SkippedCheck("UNUSUAL_LOCATION", "the event has no location")]
    )


def test_unusual_location_is_skipped_without_usual_places(prefs: AlertPreferences) -> None:
    outcome = unusual_location(north_of(BLANTYRE, 500), [], prefs)
    assert outcome == Verdict(
        skipped=[SkippedCheck("UNUSUAL_LOCATION", "no usual locations in the last 90 days")]
    )


def test_unusual_location_within_100_km_is_not_suspicious(prefs: AlertPreferences) -> None:
    assert unusual_location(north_of(BLANTYRE, 99), [BLANTYRE], prefs) == Verdict()


def test_unusual_location_at_a_usual_place_is_not_suspicious(prefs: AlertPreferences) -> None:
    assert unusual_location(BLANTYRE, [BLANTYRE], prefs) == Verdict()


def test_unusual_location_more_than_100_km_from_every_place_is_detected(
    prefs: AlertPreferences,
) -> None:
    here = north_of(BLANTYRE, 101, "Somewhere")
    usual = [BLANTYRE, north_of(BLANTYRE, -50)]
    outcome = unusual_location(here, usual, prefs)
    assert isinstance(outcome, Detection)
    assert outcome.reason is UNUSUAL
    assert outcome.details["distanceKm"] == pytest.approx(101.0)
    assert outcome.details["location"] == here.as_json()
    assert outcome.details["usualPlaces"] == 2


def test_unusual_location_reports_distance_to_the_nearest_place_rounded(
    prefs: AlertPreferences,
) -> None:
    usual = [BLANTYRE, north_of(BLANTYRE, 300)]
    outcome = unusual_location(north_of(BLANTYRE, -123.456), usual, prefs)
    assert isinstance(outcome, Detection)
    assert outcome.details["distanceKm"] == 123.5


def test_unusual_location_near_any_one_usual_place_is_not_suspicious(
    prefs: AlertPreferences,
) -> None:
    far_away = north_of(BLANTYRE, 1000)
    here = north_of(BLANTYRE, 30)
    assert unusual_location(here, [far_away, BLANTYRE], prefs) == Verdict()
    assert unusual_location(here, [BLANTYRE, far_away], prefs) == Verdict()


def test_unusual_location_switched_off_is_not_looked_for(prefs: AlertPreferences) -> None:
    off = replace(prefs, alert_unusual_location=False)
    assert unusual_location(north_of(BLANTYRE, 500), [BLANTYRE], off) == Verdict()
    assert unusual_location(None, [BLANTYRE], off) == Verdict()
    assert unusual_location(BLANTYRE, [], off) == Verdict()


# New device transaction


def test_new_device_transaction_is_skipped_without_a_device(prefs: AlertPreferences) -> None:
    outcome = new_device_transaction(None, device_known=False, has_device_history=True, prefs=prefs)
    assert outcome == Verdict(
        skipped=[SkippedCheck("NEW_DEVICE_TRANSACTION", "the transaction names no device")]
    )


def test_new_device_transaction_from_a_known_device_is_not_suspicious(
    prefs: AlertPreferences,
) -> None:
    outcome = new_device_transaction(
        "device-1", device_known=True, has_device_history=True, prefs=prefs
    )
    assert outcome == Verdict()


def test_new_device_transaction_from_an_unknown_device_is_detected(
    prefs: AlertPreferences,
) -> None:
    outcome = new_device_transaction(
        "device-9", device_known=False, has_device_history=True, prefs=prefs
    )
    assert outcome == Detection(NEW_DEVICE, {"deviceId": "device-9"})


def test_new_device_transaction_is_skipped_without_device_history(
    prefs: AlertPreferences,
) -> None:
    outcome = new_device_transaction(
        "device-9", device_known=False, has_device_history=False, prefs=prefs
    )
    assert outcome == Verdict(
        skipped=[SkippedCheck("NEW_DEVICE_TRANSACTION", "no devices seen for this customer yet")]
    )


@pytest.mark.parametrize("device_id", [None, "device-9"])
@pytest.mark.parametrize("known", [True, False])
@pytest.mark.parametrize("history", [True, False])
def test_new_device_transaction_switched_off_is_not_looked_for(
    prefs: AlertPreferences, device_id: str | None, known: bool, history: bool
) -> None:
    off = replace(prefs, alert_new_device_transaction=False)
    outcome = new_device_transaction(
        device_id, device_known=known, has_device_history=history, prefs=off
    )
    assert outcome == Verdict()


# Failed sign-in bursts


def test_multiple_failed_attempts_three_in_ten_minutes_is_not_a_burst() -> None:
    failures = minutes(0, 1, 2)
    assert failed_attempt_burst(failures[-1], failures) is None
    assert multiple_failed_attempts(failures[-1], failures, []) == Verdict()


def test_multiple_failed_attempts_fourth_within_ten_minutes_is_detected() -> None:
    failures = minutes(0, 3, 6, 9)
    outcome = multiple_failed_attempts(failures[-1], failures, [])
    assert isinstance(outcome, Detection)
    assert outcome.reason is FAILED
    assert outcome.details == {
        "failedAttempts": 4,
        "windowStart": failures[0].isoformat(),
        "windowEnd": failures[-1].isoformat(),
    }


def test_multiple_failed_attempts_window_slides_past_older_failures() -> None:
    # The first failure is too old, but the last four fit in one ten-minute window.
    failures = minutes(0, 8, 12, 15, 17.5)
    outcome = multiple_failed_attempts(failures[-1], failures, [])
    assert isinstance(outcome, Detection)
    assert outcome.details["failedAttempts"] == 4
    assert outcome.details["windowStart"] == failures[1].isoformat()
    assert outcome.details["windowEnd"] == failures[-1].isoformat()


def test_multiple_failed_attempts_fourth_just_inside_ten_minutes_is_detected() -> None:
    failures = [*minutes(0, 3, 6), AT + timedelta(minutes=9, seconds=59)]
    outcome = multiple_failed_attempts(failures[-1], failures, [])
    assert isinstance(outcome, Detection)
    assert outcome.details["failedAttempts"] == 4


def test_multiple_failed_attempts_fourth_at_exactly_ten_minutes_is_not_a_burst() -> None:
    # The window is half-open: [first, first + 10 minutes).
    failures = minutes(0, 3, 6, 10)
    assert multiple_failed_attempts(failures[-1], failures, []) == Verdict()


def test_multiple_failed_attempts_spread_over_eleven_minutes_is_not_a_burst() -> None:
    # Four failures, but no ten-minute window holds all four of them.
    failures = minutes(0, 2, 9, 11)
    for judged in failures:
        assert failed_attempt_burst(judged, failures) is None
        assert multiple_failed_attempts(judged, failures, []) == Verdict()


def test_multiple_failed_attempts_failure_after_an_old_burst_is_not_a_burst() -> None:
    # A burst happened earlier; this failure falls outside every window that holds four.
    failures = minutes(0, 1, 2, 3, 12)
    assert failed_attempt_burst(failures[-1], failures) is None
    assert multiple_failed_attempts(failures[-1], failures, []) == Verdict()


def test_multiple_failed_attempts_further_failure_in_a_reported_burst_is_suppressed() -> None:
    failures = minutes(0, 1, 2, 3, 4)
    reported_at = failures[3]
    outcome = multiple_failed_attempts(failures[-1], failures, [reported_at])
    assert isinstance(outcome, Verdict)
    assert outcome.alerts == []
    assert len(outcome.suppressed) == 1
    held = outcome.suppressed[0]
    assert held.alert_type is AlertType.SUSPICIOUS_ACTIVITY
    assert "already reported" in held.reason
    assert held.details == {"suspicionReason": "MULTIPLE_FAILED_ATTEMPTS"}


def test_multiple_failed_attempts_suppressed_by_a_later_report_out_of_order() -> None:
    failures = minutes(0, 1, 2, 3, 4)
    outcome = multiple_failed_attempts(failures[3], failures, [failures[4]])
    assert isinstance(outcome, Verdict)
    assert "already reported" in outcome.suppressed[0].reason


def test_multiple_failed_attempts_report_ten_minutes_away_does_not_suppress() -> None:
    # The earlier report is exactly ten minutes before this failure: a burst of its own.
    failures = minutes(10, 11, 12, 13)
    reported_at = failures[-1] - timedelta(minutes=10)
    outcome = multiple_failed_attempts(failures[-1], failures, [reported_at])
    assert isinstance(outcome, Detection)


def test_multiple_failed_attempts_no_burst_is_not_suppressed_either() -> None:
    failures = minutes(0, 1, 2)
    assert multiple_failed_attempts(failures[-1], failures, [failures[0]]) == Verdict()


def test_multiple_failed_attempts_out_of_order_earliest_failure_still_detects() -> None:
    # The judged failure is the earliest of the four; the other three arrived first.
    failures = minutes(9, 3, 6, 0)
    judged = AT
    outcome = multiple_failed_attempts(judged, failures, [])
    assert isinstance(outcome, Detection)
    assert outcome.details == {
        "failedAttempts": 4,
        "windowStart": AT.isoformat(),
        "windowEnd": (AT + timedelta(minutes=9)).isoformat(),
    }


def test_multiple_failed_attempts_cannot_be_switched_off() -> None:
    # The check takes no preferences at all: it always runs.
    failures = minutes(0, 1, 2, 3)
    assert isinstance(multiple_failed_attempts(failures[-1], failures, []), Detection)


# One alert per event


def location_detection(km: float = 250.0) -> Detection:
    return Detection(UNUSUAL, {"distanceKm": km, "location": None, "usualPlaces": 1})


def device_detection() -> Detection:
    return Detection(NEW_DEVICE, {"deviceId": "device-9"})


def failed_detection(count: int = 4) -> Detection:
    return Detection(FAILED, {"failedAttempts": count})


def alert_for(
    prefs: AlertPreferences, detections: list[Detection], **overrides: object
) -> RaiseAlert:
    arguments: dict[str, object] = {
        "account_number": "1000123456",
        "at": AT,
        "prefs": prefs,
        "device_id": "device-9",
        "ip_address": "203.0.113.7",
        "location": BLANTYRE,
        "related_transaction_ids": ["TX-1"],
        "amount": None,
        **overrides,
    }
    return suspicious_alert(detections, **arguments)  # type: ignore[arg-type]


def test_suspicious_alert_is_one_alert_for_several_detections(
    prefs: AlertPreferences,
) -> None:
    detections = [location_detection(), device_detection()]
    alert = alert_for(prefs, detections)
    assert alert.alert_type is AlertType.SUSPICIOUS_ACTIVITY
    assert alert.detections == tuple(detections)
    patterns = alert.data["suspicionDetails"]["patterns"]
    assert patterns == [
        {"reason": "UNUSUAL_LOCATION", "distanceKm": 250.0, "location": None, "usualPlaces": 1},
        {"reason": "NEW_DEVICE_TRANSACTION", "deviceId": "device-9"},
    ]


@pytest.mark.parametrize(
    ("detections", "primary"),
    [
        ([location_detection()], "UNUSUAL_LOCATION"),
        ([device_detection()], "NEW_DEVICE_TRANSACTION"),
        ([failed_detection()], "MULTIPLE_FAILED_ATTEMPTS"),
        ([location_detection(), device_detection()], "NEW_DEVICE_TRANSACTION"),
        ([device_detection(), location_detection()], "NEW_DEVICE_TRANSACTION"),
        ([location_detection(), failed_detection()], "MULTIPLE_FAILED_ATTEMPTS"),
        ([failed_detection(), device_detection()], "MULTIPLE_FAILED_ATTEMPTS"),
        (
            [location_detection(), device_detection(), failed_detection()],
            "MULTIPLE_FAILED_ATTEMPTS",
        ),
    ],
)
def test_suspicious_alert_is_named_after_the_strongest_pattern(
    prefs: AlertPreferences, detections: list[Detection], primary: str
) -> None:
    assert alert_for(prefs, detections).data["suspicionReason"] == primary


@pytest.mark.parametrize(
    ("detections", "amount"),
    [
        ([location_detection(101)], None),
        ([device_detection()], Decimal(25000)),
        ([failed_detection(4)], None),
        ([location_detection(250), device_detection()], Decimal(25000)),
        ([location_detection(9000), device_detection(), failed_detection(30)], Decimal(10**6)),
    ],
)
def test_suspicious_alert_risk_score_is_the_capped_sum_of_its_components(
    prefs: AlertPreferences, detections: list[Detection], amount: Decimal | None
) -> None:
    alert = alert_for(prefs, detections, amount=amount)
    components = alert.data["suspicionDetails"]["riskComponents"]
    assert components == alert.risk_components
    assert alert.risk_score == alert.data["riskScore"]
    assert 0 <= alert.risk_score <= 100
    assert alert.risk_score == min(100, sum(components.values()))


def test_suspicious_alert_risk_components_for_location_and_new_device(
    prefs: AlertPreferences,
) -> None:
    alert = alert_for(prefs, [location_detection(250), device_detection()], amount=Decimal(25000))
    assert alert.risk_components == {"base": 45, "distance": 10, "amount": 10, "combined": 15}
    assert alert.risk_score == 80


def test_suspicious_alert_risk_score_is_capped_at_100(prefs: AlertPreferences) -> None:
    detections = [location_detection(9000), device_detection(), failed_detection(30)]
    alert = alert_for(prefs, detections, amount=Decimal(10**6))
    assert sum(alert.risk_components.values()) > 100
    assert alert.risk_score == 100
    assert alert.data["riskScore"] == 100


def test_suspicious_alert_requires_action_and_carries_the_event_context(
    prefs: AlertPreferences,
) -> None:
    alert = alert_for(prefs, [device_detection()])
    assert alert.data["actionRequired"] is True
    assert alert.data["deviceId"] == "device-9"
    assert alert.data["ipAddress"] == "203.0.113.7"
    assert alert.data["location"] == BLANTYRE.as_json()
    assert alert.data["relatedTransactionIds"] == ["TX-1"]
    assert alert.data["detectedAt"] == AT.isoformat()
    assert alert.account_number == "1000123456"
    assert alert.triggered_at == AT
    assert alert.is_security


def test_suspicious_alert_without_location_or_account(prefs: AlertPreferences) -> None:
    alert = alert_for(prefs, [failed_detection()], location=None, account_number=None)
    assert alert.data["location"] is None
    assert alert.account_number is None


def test_suspicious_alert_goes_to_the_suspicious_activity_channels(
    prefs: AlertPreferences,
) -> None:
    assert alert_for(prefs, [device_detection()]).channels == prefs.suspicious_activity_channels
    custom = replace(prefs, suspicious_activity_channels=(NotificationChannel.SMS,))
    assert alert_for(custom, [device_detection()]).channels == (NotificationChannel.SMS,)


# Collecting outcomes


def test_collect_keeps_detections_apart_from_verdicts() -> None:
    verdict = Verdict()
    detections: list[Detection] = []
    skipped = Verdict(skipped=[SkippedCheck("UNUSUAL_LOCATION", "the event has no location")])
    collect(verdict, skipped, detections)
    collect(verdict, device_detection(), detections)
    assert detections == [device_detection()]
    assert verdict == skipped
