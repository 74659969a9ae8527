"""LOW_BALANCE: strictly below the threshold, at most once in 24 hours either side."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from account_alerts.domain.alert_settings import (
    AlertPreferences,
    ThresholdDefaults,
    default_preferences,
)
from account_alerts.domain.decisions import Verdict
from account_alerts.domain.enums import AlertType, NotificationChannel
from account_alerts.domain.rules.low_balance import low_balance

AT = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
ACCOUNT = "1000123456"


@pytest.fixture
def prefs() -> AlertPreferences:
    return default_preferences(ThresholdDefaults(Decimal(5000), Decimal(50000)))


def judge(
    prefs: AlertPreferences,
    balance: Decimal,
    *,
    earlier: list[datetime] | None = None,
    at: datetime = AT,
) -> Verdict:
    return low_balance(
        account_number=ACCOUNT,
        balance=balance,
        currency="MWK",
        at=at,
        prefs=prefs,
        earlier_alerts=earlier or [],
    )


def test_low_balance_fires_strictly_below_the_threshold(prefs: AlertPreferences) -> None:
    verdict = judge(prefs, Decimal("4999.9999"))
    assert len(verdict.alerts) == 1
    assert verdict.alerts[0].alert_type is AlertType.LOW_BALANCE
    assert verdict.suppressed == []
    assert verdict.skipped == []


def test_low_balance_does_not_fire_at_exactly_the_threshold(prefs: AlertPreferences) -> None:
    assert judge(prefs, Decimal("5000")) == Verdict()
    assert judge(prefs, Decimal("5000.0000")) == Verdict()


def test_low_balance_does_not_fire_above_the_threshold(prefs: AlertPreferences) -> None:
    assert judge(prefs, Decimal("5000.0001")) == Verdict()


def test_low_balance_fires_for_a_negative_balance(prefs: AlertPreferences) -> None:
    verdict = judge(prefs, Decimal("-12.5"))
    assert verdict.alerts[0].data["currentBalance"] == "-12.5000"


def test_low_balance_disabled_is_suppressed_not_alerted(prefs: AlertPreferences) -> None:
    verdict = judge(replace(prefs, low_balance_enabled=False), Decimal(100))
    assert verdict.alerts == []
    assert len(verdict.suppressed) == 1
    assert verdict.suppressed[0].alert_type is AlertType.LOW_BALANCE
    assert verdict.suppressed[0].reason == "disabled by the customer"


def test_low_balance_disabled_above_threshold_records_nothing(prefs: AlertPreferences) -> None:
    assert judge(replace(prefs, low_balance_enabled=False), Decimal(6000)) == Verdict()


@pytest.mark.parametrize(
    "offset",
    [
        pytest.param(-timedelta(hours=23, minutes=59), id="earlier-alert-before"),
        pytest.param(timedelta(hours=23, minutes=59), id="earlier-alert-after-out-of-order"),
        pytest.param(timedelta(0), id="same-instant"),
    ],
)
def test_low_balance_fires_once_per_day(prefs: AlertPreferences, offset: timedelta) -> None:
    previous = AT + offset
    verdict = judge(prefs, Decimal(100), earlier=[previous])
    assert verdict.alerts == []
    assert len(verdict.suppressed) == 1
    held = verdict.suppressed[0]
    assert held.alert_type is AlertType.LOW_BALANCE
    assert held.reason == "already alerted within 24 hours"
    assert held.details == {"previousAlertAt": previous.isoformat()}


def test_low_balance_suppression_names_the_nearest_earlier_alert(
    prefs: AlertPreferences,
) -> None:
    near = AT - timedelta(hours=2)
    verdict = judge(prefs, Decimal(100), earlier=[AT - timedelta(hours=20), near])
    assert verdict.suppressed[0].details == {"previousAlertAt": near.isoformat()}


@pytest.mark.parametrize(
    "offset",
    [
        pytest.param(-timedelta(hours=24), id="24h-before"),
        pytest.param(timedelta(hours=24), id="24h-after"),
    ],
)
def test_low_balance_fires_again_exactly_24_hours_apart(
    prefs: AlertPreferences, offset: timedelta
) -> None:
    verdict = judge(prefs, Decimal(100), earlier=[AT + offset])
    assert len(verdict.alerts) == 1
    assert verdict.suppressed == []


def test_low_balance_ignores_alerts_older_than_a_day(prefs: AlertPreferences) -> None:
    verdict = judge(prefs, Decimal(100), earlier=[AT - timedelta(days=3), AT - timedelta(hours=25)])
    assert len(verdict.alerts) == 1


def test_low_balance_accepts_earlier_alerts_as_any_iterable(prefs: AlertPreferences) -> None:
    verdict = low_balance(
        account_number=ACCOUNT,
        balance=Decimal(100),
        currency="MWK",
        at=AT,
        prefs=prefs,
        earlier_alerts=iter([AT - timedelta(hours=1)]),
    )
    assert verdict.suppressed[0].reason == "already alerted within 24 hours"


def test_low_balance_alert_carries_threshold_balance_and_currency(
    prefs: AlertPreferences,
) -> None:
    alert = judge(prefs, Decimal("1234.5")).alerts[0]
    assert alert.data == {
        "threshold": "5000.0000",
        "currentBalance": "1234.5000",
        "currency": "MWK",
    }
    assert alert.account_number == ACCOUNT
    assert alert.triggered_at == AT
    assert alert.detections == ()
    assert alert.risk_score is None
    assert not alert.is_security


def test_low_balance_alert_quantizes_balance_to_four_places(prefs: AlertPreferences) -> None:
    alert = judge(prefs, Decimal(12)).alerts[0]
    assert alert.data["currentBalance"] == "12.0000"


def test_low_balance_alert_uses_a_custom_threshold(prefs: AlertPreferences) -> None:
    custom = replace(prefs, low_balance_threshold=Decimal("250.5000"))
    assert judge(custom, Decimal("250.50")) == Verdict()
    alert = judge(custom, Decimal("250.4999")).alerts[0]
    assert alert.data["threshold"] == "250.5000"


def test_low_balance_alert_goes_to_the_low_balance_channels(prefs: AlertPreferences) -> None:
    assert judge(prefs, Decimal(1)).alerts[0].channels == prefs.low_balance_channels
    chosen = (NotificationChannel.SMS, NotificationChannel.EMAIL)
    custom = replace(prefs, low_balance_channels=chosen)
    assert judge(custom, Decimal(1)).alerts[0].channels == chosen
