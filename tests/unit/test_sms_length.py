"""SMS bodies: GSM-7 versus UCS-2 counting, and every alert fits in two segments."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from account_alerts.delivery.rendering import sms_text
from account_alerts.domain.enums import AlertType
from account_alerts.domain.messages import render
from account_alerts.domain.sms import fit, is_gsm7, segments, units
from account_alerts.store.alerts import AccountAlert
from tests.support.factories import sample_data


def test_gsm7_text_counts_septets_and_extension_characters_twice() -> None:
    assert is_gsm7("Balance: MWK 5,000.00 @ 08:00")
    assert units("€[]") == 6
    assert segments("a" * 160) == 1
    assert segments("a" * 161) == 2
    assert segments("a" * 306) == 2
    assert segments("a" * 307) == 3


def test_a_character_outside_gsm7_switches_to_ucs2() -> None:
    text = "Moni! Ndalama zanu zatsala pang'ono ✓"
    assert not is_gsm7(text)
    assert segments("ł" * 70) == 1
    assert segments("ł" * 71) == 2
    assert segments("ł" * 134) == 2
    assert segments("ł" * 135) == 3


@pytest.mark.parametrize("body", ["x" * 500, "ł" * 300, "Alert: " + "é" * 400])
def test_fit_keeps_two_segments_and_the_opt_out(body: str) -> None:
    text = f"{body}. Reply STOP to opt out, HELP for help."
    fitted = fit(text)
    assert segments(fitted) <= 2
    assert fitted.endswith(" Reply STOP to opt out, HELP for help.")
    assert "..." in fitted


def test_short_text_is_left_alone() -> None:
    assert fit("Alert: short. Reply STOP to opt out, HELP for help.") == (
        "Alert: short. Reply STOP to opt out, HELP for help."
    )


@pytest.mark.parametrize("alert_type", list(AlertType))
def test_every_alert_type_fits_two_segments_with_a_masked_account(alert_type: AlertType) -> None:
    now = datetime(2026, 11, 22, 8, tzinfo=UTC)
    data = sample_data(alert_type, now)
    data_long = {**data}
    if "transactionDescription" in data_long:
        data_long["transactionDescription"] = "Transfer to a very long beneficiary name " * 6
    title, message = render(alert_type, data_long, "1000123456")
    alert = AccountAlert(
        id=1,
        mobile_user_id=7,
        account_number="1000123456",
        alert_type=alert_type,
        alert_data=data_long,
        title=title,
        message=message,
        triggered_at=now,
        created_at=now,
        updated_at=now,
    )
    text = sms_text(alert)
    assert segments(text) <= 2
    assert "1000123456" not in text
    assert text.endswith("Reply STOP to opt out, HELP for help.")
