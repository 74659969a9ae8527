"""ACCOUNT_LOGIN: tell the customer about a sign-in, in the one mode they chose."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from account_alerts.domain.alert_settings import (
    AlertPreferences,
    ThresholdDefaults,
    default_preferences,
)
from account_alerts.domain.decisions import SkippedCheck, Verdict
from account_alerts.domain.enums import (
    AlertType,
    LoginAlertMode,
    LoginMethod,
    NotificationChannel,
)
from account_alerts.domain.events import LoginEvent
from account_alerts.domain.geo import EARTH_RADIUS_KM, GeoPoint
from account_alerts.domain.rules.account_login import login_alert

AT = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
BLANTYRE = GeoPoint(-15.7861, 35.0058, "Blantyre")
KM_PER_DEGREE = EARTH_RADIUS_KM * math.pi / 180


@pytest.fixture
def prefs() -> AlertPreferences:
    return default_preferences(ThresholdDefaults(Decimal(5000), Decimal(50000)))


def mode(prefs: AlertPreferences, chosen: LoginAlertMode) -> AlertPreferences:
    return replace(prefs, login_alert_mode=chosen)


def north_of(place: GeoPoint, km: float) -> GeoPoint:
    return GeoPoint(place.latitude + km / KM_PER_DEGREE, place.longitude)


def sign_in(**overrides: object) -> LoginEvent:
    event = LoginEvent(
        event_id="login-1",
        mobile_user_id=42,
        successful=True,
        occurred_at=AT,
        device_id="device-1",
        device_name="Chikondi's phone",
        device_model="Pixel 8",
        device_os="Android 15",
        ip_address="203.0.113.7",
        location=BLANTYRE,
        login_method=LoginMethod.BIOMETRIC,
    )
    return replace(event, **overrides)  # type: ignore[arg-type]


def judge(
    prefs: AlertPreferences,
    event: LoginEvent,
    *,
    device_known: bool = True,
    places: list[GeoPoint] | None = None,
) -> Verdict:
    return login_alert(
        event,
        prefs=prefs,
        device_known=device_known,
        earlier_login_places=[BLANTYRE] if places is None else places,
    )


# EVERY_LOGIN


@pytest.mark.parametrize(
    "event",
    [
        pytest.param(sign_in(), id="known-device-usual-place"),
        pytest.param(sign_in(device_id=None, location=None), id="no-device-no-location"),
    ],
)
@pytest.mark.parametrize("known", [True, False])
def test_login_every_login_always_fires(
    prefs: AlertPreferences, event: LoginEvent, known: bool
) -> None:
    verdict = judge(mode(prefs, LoginAlertMode.EVERY_LOGIN), event, device_known=known)
    assert len(verdict.alerts) == 1
    assert verdict.alerts[0].alert_type is AlertType.ACCOUNT_LOGIN
    assert verdict.skipped == []
    assert verdict.suppressed == []


def test_login_every_login_fires_without_earlier_places(prefs: AlertPreferences) -> None:
    verdict = judge(mode(prefs, LoginAlertMode.EVERY_LOGIN), sign_in(), places=[])
    assert len(verdict.alerts) == 1
    assert verdict.alerts[0].data["isNewLocation"] is False


# NEW_DEVICE


def test_login_new_device_is_the_default_mode(prefs: AlertPreferences) -> None:
    assert prefs.login_alert_mode is LoginAlertMode.NEW_DEVICE


def test_login_new_device_fires_for_an_unknown_device(prefs: AlertPreferences) -> None:
    verdict = judge(prefs, sign_in(device_id="device-9"), device_known=False)
    assert len(verdict.alerts) == 1
    assert verdict.alerts[0].data["isNewDevice"] is True
    assert verdict.alerts[0].data["deviceId"] == "device-9"


def test_login_new_device_does_not_fire_for_a_known_device(prefs: AlertPreferences) -> None:
    assert judge(prefs, sign_in(), device_known=True) == Verdict()


def test_login_new_device_does_not_fire_for_a_known_device_far_away(
    prefs: AlertPreferences,
) -> None:
    event = sign_in(location=north_of(BLANTYRE, 800))
    assert judge(prefs, event, device_known=True) == Verdict()


def test_login_new_device_is_skipped_when_the_sign_in_names_no_device(
    prefs: AlertPreferences,
) -> None:
    verdict = judge(prefs, sign_in(device_id=None), device_known=False)
    assert verdict == Verdict(
        skipped=[SkippedCheck("LOGIN_NEW_DEVICE", "the sign-in names no device")]
    )


# NEW_LOCATION


def test_login_new_location_fires_more_than_100_km_from_every_earlier_place(
    prefs: AlertPreferences,
) -> None:
    event = sign_in(location=north_of(BLANTYRE, 101))
    places = [BLANTYRE, north_of(BLANTYRE, -40)]
    verdict = judge(mode(prefs, LoginAlertMode.NEW_LOCATION), event, places=places)
    assert len(verdict.alerts) == 1
    assert verdict.alerts[0].data["isNewLocation"] is True


def test_login_new_location_does_not_fire_within_100_km(prefs: AlertPreferences) -> None:
    event = sign_in(location=north_of(BLANTYRE, 99))
    assert judge(mode(prefs, LoginAlertMode.NEW_LOCATION), event) == Verdict()


def test_login_new_location_does_not_fire_near_any_one_earlier_place(
    prefs: AlertPreferences,
) -> None:
    event = sign_in(location=north_of(BLANTYRE, 20))
    places = [north_of(BLANTYRE, 1000), BLANTYRE]
    assert judge(mode(prefs, LoginAlertMode.NEW_LOCATION), event, places=places) == Verdict()


def test_login_new_location_ignores_an_unknown_device(prefs: AlertPreferences) -> None:
    verdict = judge(mode(prefs, LoginAlertMode.NEW_LOCATION), sign_in(), device_known=False)
    assert verdict == Verdict()


def test_login_new_location_is_skipped_without_a_location(prefs: AlertPreferences) -> None:
    verdict = judge(mode(prefs, LoginAlertMode.NEW_LOCATION), sign_in(location=None))
    assert verdict == Verdict(
        skipped=[SkippedCheck("LOGIN_NEW_LOCATION", "the sign-in has no location")]
    )


def test_login_new_location_is_skipped_without_earlier_places(prefs: AlertPreferences) -> None:
    verdict = judge(mode(prefs, LoginAlertMode.NEW_LOCATION), sign_in(), places=[])
    assert verdict == Verdict(
        skipped=[
            SkippedCheck("LOGIN_NEW_LOCATION", "no earlier sign-in locations in the last 90 days")
        ]
    )


# The alert


def test_login_alert_carries_the_sign_in_details(prefs: AlertPreferences) -> None:
    here = north_of(BLANTYRE, 300)
    event = sign_in(location=here)
    verdict = judge(mode(prefs, LoginAlertMode.EVERY_LOGIN), event, device_known=False)
    alert = verdict.alerts[0]
    assert alert.data == {
        "deviceId": "device-1",
        "deviceName": "Chikondi's phone",
        "deviceModel": "Pixel 8",
        "deviceOs": "Android 15",
        "ipAddress": "203.0.113.7",
        "location": here.as_json(),
        "loginMethod": "BIOMETRIC",
        "isNewDevice": True,
        "isNewLocation": True,
        "loginTimestamp": AT.isoformat(),
    }
    assert alert.triggered_at == AT
    assert alert.is_security


def test_login_alert_has_no_account_number(prefs: AlertPreferences) -> None:
    verdict = judge(mode(prefs, LoginAlertMode.EVERY_LOGIN), sign_in())
    assert verdict.alerts[0].account_number is None


def test_login_alert_without_optional_details(prefs: AlertPreferences) -> None:
    event = sign_in(
        device_id=None,
        device_name=None,
        device_model=None,
        device_os=None,
        ip_address=None,
        location=None,
        login_method=None,
    )
    data = judge(mode(prefs, LoginAlertMode.EVERY_LOGIN), event, device_known=False).alerts[0].data
    assert data["deviceName"] is None
    assert data["loginMethod"] is None
    assert data["location"] is None
    assert data["isNewDevice"] is False  # no device named, so not a new one
    assert data["isNewLocation"] is False
    assert data["loginTimestamp"] == AT.isoformat()


def test_login_alert_goes_to_the_login_alert_channels(prefs: AlertPreferences) -> None:
    every = mode(prefs, LoginAlertMode.EVERY_LOGIN)
    assert judge(every, sign_in()).alerts[0].channels == prefs.login_alert_channels
    custom = replace(every, login_alert_channels=(NotificationChannel.SMS,))
    assert judge(custom, sign_in()).alerts[0].channels == (NotificationChannel.SMS,)
