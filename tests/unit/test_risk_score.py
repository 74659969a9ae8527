"""The 0-100 risk score of a suspicious-activity detection and its components."""

from __future__ import annotations

from decimal import Decimal

import pytest

from account_alerts.domain.decisions import Detection
from account_alerts.domain.enums import SuspicionReason
from account_alerts.domain.risk_score import risk_components, risk_score

UNUSUAL = SuspicionReason.UNUSUAL_LOCATION
NEW_DEVICE = SuspicionReason.NEW_DEVICE_TRANSACTION
FAILED = SuspicionReason.MULTIPLE_FAILED_ATTEMPTS
THRESHOLD = Decimal(50000)


def location(km: float) -> Detection:
    return Detection(UNUSUAL, {"distanceKm": km})


def device() -> Detection:
    return Detection(NEW_DEVICE, {"deviceId": "device-9"})


def failures(count: int) -> Detection:
    return Detection(FAILED, {"failedAttempts": count})


@pytest.mark.parametrize(
    ("detection", "base"),
    [(failures(4), 50), (device(), 45), (location(101), 40)],
)
def test_risk_base_is_the_pattern_weight(detection: Detection, base: int) -> None:
    assert risk_components([detection])["base"] == base


def test_risk_base_is_the_strongest_pattern_of_several() -> None:
    assert risk_components([location(101), device()])["base"] == 45
    assert risk_components([device(), failures(4), location(101)])["base"] == 50


@pytest.mark.parametrize(
    ("km", "points"),
    [
        (100.1, 5),
        (199.9, 5),
        (200.0, 10),
        (250.0, 10),
        (499.9, 20),
        (500.0, 25),
        (600.0, 25),
        (20000.0, 25),
    ],
)
def test_risk_distance_adds_five_per_100_km_capped_at_25(km: float, points: int) -> None:
    assert risk_components([location(km)]) == {"base": 40, "distance": points}


@pytest.mark.parametrize(
    ("count", "points"),
    [(4, 0), (5, 5), (6, 10), (9, 25), (10, 25), (50, 25)],
)
def test_risk_failed_attempts_adds_five_per_failure_beyond_the_fourth_capped_at_25(
    count: int, points: int
) -> None:
    assert risk_components([failures(count)]) == {"base": 50, "failedAttempts": points}


@pytest.mark.parametrize(
    ("amount", "points"),
    [
        (Decimal("0.01"), 0),
        (Decimal(2499), 0),
        (Decimal(2500), 1),
        (Decimal(25000), 10),
        (Decimal("49999.99"), 19),
        (Decimal(50000), 20),
        (Decimal(10**7), 20),
    ],
)
def test_risk_amount_is_its_share_of_the_threshold_capped_at_20(
    amount: Decimal, points: int
) -> None:
    parts = risk_components([device()], amount=amount, large_threshold=THRESHOLD)
    assert parts == {"base": 45, "amount": points}


def test_risk_amount_is_left_out_without_an_amount_or_threshold() -> None:
    assert "amount" not in risk_components([device()], large_threshold=THRESHOLD)
    assert "amount" not in risk_components([device()], amount=Decimal(10))
    assert "amount" not in risk_components(
        [device()], amount=Decimal(10), large_threshold=Decimal(0)
    )


@pytest.mark.parametrize(("count", "points"), [(1, None), (2, 15), (3, 30)])
def test_risk_combined_adds_15_per_further_pattern(count: int, points: int | None) -> None:
    detections = [device(), location(101), failures(4)][:count]
    assert risk_components(detections).get("combined") == points


def test_risk_components_for_every_pattern_at_once() -> None:
    parts = risk_components(
        [location(350), device(), failures(6)], amount=Decimal(12500), large_threshold=THRESHOLD
    )
    assert parts == {
        "base": 50,
        "distance": 15,
        "failedAttempts": 10,
        "amount": 5,
        "combined": 30,
    }
    assert risk_score(parts) == 100  # 110, capped


def test_risk_score_is_the_sum_of_its_components() -> None:
    assert risk_score({"base": 40, "distance": 10}) == 50
    assert risk_score({"base": 45, "distance": 10, "amount": 10, "combined": 15}) == 80


def test_risk_score_is_capped_at_100() -> None:
    assert risk_score({"base": 50, "distance": 25, "failedAttempts": 25}) == 100
    assert risk_score({"base": 50, "distance": 25, "failedAttempts": 25, "amount": 20}) == 100


def test_risk_score_never_goes_below_zero() -> None:
    assert risk_score({}) == 0
    assert risk_score({"base": -10}) == 0


def test_risk_score_of_the_strongest_possible_event_stays_within_0_to_100() -> None:
    parts = risk_components(
        [location(20000), device(), failures(100)],
        amount=Decimal(10**9),
        large_threshold=THRESHOLD,
    )
    assert sum(parts.values()) == 50 + 25 + 25 + 20 + 30
    assert risk_score(parts) == 100
