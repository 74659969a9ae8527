"""ACCOUNT_LOGIN: tell the customer about a sign-in, in the one mode they chose.

NEW_DEVICE: the first successful sign-in (or transaction) from this deviceId.
NEW_LOCATION: more than 100 km from every earlier successful sign-in of the last 90 days.
EVERY_LOGIN: every successful sign-in."""

from __future__ import annotations

from collections.abc import Sequence

from account_alerts.domain.alert_settings import AlertPreferences
from account_alerts.domain.decisions import RaiseAlert, SkippedCheck, Verdict
from account_alerts.domain.enums import AlertType, LoginAlertMode
from account_alerts.domain.events import LoginEvent
from account_alerts.domain.geo import UNUSUAL_DISTANCE_KM, GeoPoint, nearest_unless_within


def login_alert(
    event: LoginEvent,
    *,
    prefs: AlertPreferences,
    device_known: bool,
    earlier_login_places: Sequence[GeoPoint],
) -> Verdict:
    verdict = Verdict()
    is_new_device = event.device_id is not None and not device_known
    nearest = (
        nearest_unless_within(event.location, earlier_login_places, UNUSUAL_DISTANCE_KM)
        if event.location
        else None
    )
    is_new_location = nearest is not None and nearest > UNUSUAL_DISTANCE_KM
    mode = prefs.login_alert_mode
    if mode is LoginAlertMode.NEW_DEVICE and event.device_id is None:
        verdict.skipped.append(SkippedCheck("LOGIN_NEW_DEVICE", "the sign-in names no device"))
        return verdict
    if mode is LoginAlertMode.NEW_LOCATION and nearest is None:
        reason = (
            "the sign-in has no location"
            if event.location is None
            else "no earlier sign-in locations in the last 90 days"
        )
        verdict.skipped.append(SkippedCheck("LOGIN_NEW_LOCATION", reason))
        return verdict
    fires = {
        LoginAlertMode.EVERY_LOGIN: True,
        LoginAlertMode.NEW_DEVICE: is_new_device,
        LoginAlertMode.NEW_LOCATION: is_new_location,
    }[mode]
    if fires:
        verdict.alerts.append(
            RaiseAlert(
                alert_type=AlertType.ACCOUNT_LOGIN,
                account_number=None,
                triggered_at=event.occurred_at,
                data={
                    "deviceId": event.device_id,
                    "deviceName": event.device_name,
                    "deviceModel": event.device_model,
                    "deviceOs": event.device_os,
                    "ipAddress": event.ip_address,
                    "location": event.location.as_json() if event.location else None,
                    "loginMethod": event.login_method.value if event.login_method else None,
                    "isNewDevice": is_new_device,
                    "isNewLocation": is_new_location,
                    "loginTimestamp": event.occurred_at.isoformat(),
                },
                channels=prefs.login_alert_channels,
            )
        )
    return verdict
