"""The rules a customer's alert settings obey, and how identifiers and amounts are handled."""

from __future__ import annotations

from datetime import time
from decimal import Decimal
from typing import Any

import pytest

from account_alerts.domain.alert_actions import LOCKING_ACTIONS, actions_for, locks_user
from account_alerts.domain.alert_settings import (
    AlertPreferences,
    SettingsError,
    ThresholdDefaults,
    apply_change,
    default_preferences,
    validate,
)
from account_alerts.domain.enums import (
    AlertType,
    LoginAlertMode,
    NotificationChannel,
    PaymentReminderInterval,
    UserAction,
)
from account_alerts.domain.masking import mask_account_number, mask_email, mask_phone
from account_alerts.domain.money import MAX_THRESHOLD, MoneyError, parse_money

PUSH, SMS, EMAIL = NotificationChannel.PUSH, NotificationChannel.SMS, NotificationChannel.EMAIL
MWK = ThresholdDefaults(low_balance=Decimal(5000), large_transaction=Decimal(50000))


@pytest.fixture
def defaults() -> AlertPreferences:
    return default_preferences(MWK)


def refused(current: AlertPreferences, change: dict[str, Any]) -> SettingsError:
    with pytest.raises(SettingsError) as caught:
        apply_change(current, change)
    return caught.value


# Defaults


def test_defaults_use_the_currency_thresholds_at_four_decimal_places(
    defaults: AlertPreferences,
) -> None:
    assert str(defaults.low_balance_threshold) == "5000.0000"
    assert str(defaults.large_transaction_threshold) == "50000.0000"


def test_defaults_switch_every_alert_on_with_a_channel_and_no_quiet_hours(
    defaults: AlertPreferences,
) -> None:
    assert defaults.low_balance_enabled and defaults.low_balance_channels == (PUSH,)
    assert defaults.large_transaction_enabled
    assert defaults.large_transaction_channels == (PUSH, SMS)
    assert defaults.large_transaction_debit_only
    assert defaults.alert_unusual_location
    assert defaults.alert_multiple_failed_attempts
    assert defaults.alert_new_device_transaction
    assert defaults.suspicious_activity_channels == (PUSH, SMS, EMAIL)
    assert defaults.payment_due_enabled and defaults.payment_due_channels == (PUSH, SMS)
    assert defaults.payment_reminder_interval is PaymentReminderInterval.ONE_DAY
    assert defaults.login_alert_mode is LoginAlertMode.NEW_DEVICE
    assert defaults.login_alert_channels == (PUSH, EMAIL)
    assert not defaults.quiet_hours_enabled
    assert (defaults.quiet_hours_start, defaults.quiet_hours_end) == (None, None)


def test_defaults_pass_their_own_validation(defaults: AlertPreferences) -> None:
    validate(defaults)


def test_defaults_follow_the_thresholds_given() -> None:
    usd = default_preferences(ThresholdDefaults(Decimal(3), Decimal(30)))
    assert (str(usd.low_balance_threshold), str(usd.large_transaction_threshold)) == (
        "3.0000",
        "30.0000",
    )


# Partial changes


def test_a_change_touches_only_the_fields_given(defaults: AlertPreferences) -> None:
    changed = apply_change(defaults, {"low_balance_threshold": Decimal("2500.5")})
    assert changed.low_balance_threshold == Decimal("2500.5")
    assert str(changed.low_balance_threshold) == "2500.5000"
    assert changed.as_dict() | {"low_balance_threshold": defaults.low_balance_threshold} == (
        defaults.as_dict()
    )


def test_an_empty_change_keeps_everything(defaults: AlertPreferences) -> None:
    assert apply_change(defaults, {}) == defaults


def test_a_refused_change_leaves_the_current_settings_alone(defaults: AlertPreferences) -> None:
    snapshot = defaults.as_dict()
    refused(defaults, {"low_balance_threshold": Decimal(0), "low_balance_enabled": False})
    assert defaults.as_dict() == snapshot


# Thresholds


@pytest.mark.parametrize("field", ["low_balance_threshold", "large_transaction_threshold"])
def test_a_threshold_of_zero_is_refused(defaults: AlertPreferences, field: str) -> None:
    error = refused(defaults, {field: Decimal(0)})
    assert error.field == field
    assert "greater than 0" in str(error)


@pytest.mark.parametrize("field", ["low_balance_threshold", "large_transaction_threshold"])
def test_a_negative_threshold_is_refused(defaults: AlertPreferences, field: str) -> None:
    error = refused(defaults, {field: Decimal("-100")})
    assert error.field == field
    assert "greater than 0" in str(error)


def test_a_threshold_with_five_decimal_places_is_refused(defaults: AlertPreferences) -> None:
    error = refused(defaults, {"low_balance_threshold": Decimal("10.00001")})
    assert error.field == "low_balance_threshold"
    assert "4 decimal places" in str(error)


def test_trailing_zeros_beyond_four_places_are_not_extra_precision(
    defaults: AlertPreferences,
) -> None:
    changed = apply_change(defaults, {"low_balance_threshold": Decimal("10.500000")})
    assert str(changed.low_balance_threshold) == "10.5000"


def test_the_smallest_positive_amount_is_accepted(defaults: AlertPreferences) -> None:
    changed = apply_change(defaults, {"low_balance_threshold": Decimal("0.0001")})
    assert str(changed.low_balance_threshold) == "0.0001"


def test_a_threshold_above_the_maximum_is_refused(defaults: AlertPreferences) -> None:
    error = refused(defaults, {"large_transaction_threshold": MAX_THRESHOLD + Decimal("0.0001")})
    assert error.field == "large_transaction_threshold"
    assert "at most 1,000,000,000,000" in str(error)


def test_a_threshold_exactly_at_the_maximum_is_accepted(defaults: AlertPreferences) -> None:
    changed = apply_change(defaults, {"large_transaction_threshold": MAX_THRESHOLD})
    assert changed.large_transaction_threshold == MAX_THRESHOLD


def test_threshold_errors_name_the_field_as_the_app_knows_it(defaults: AlertPreferences) -> None:
    assert "largeTransactionThreshold" in str(
        refused(defaults, {"large_transaction_threshold": Decimal(-1)})
    )


# Channels


@pytest.mark.parametrize(
    "channels", ["low_balance_channels", "large_transaction_channels", "payment_due_channels"]
)
def test_an_enabled_alert_needs_a_channel(defaults: AlertPreferences, channels: str) -> None:
    error = refused(defaults, {channels: []})
    assert error.field == channels
    assert "at least one channel" in str(error)


@pytest.mark.parametrize(
    ("channels", "enabled"),
    [
        ("low_balance_channels", "low_balance_enabled"),
        ("large_transaction_channels", "large_transaction_enabled"),
        ("payment_due_channels", "payment_due_enabled"),
    ],
)
def test_a_disabled_alert_may_have_no_channels(
    defaults: AlertPreferences, channels: str, enabled: str
) -> None:
    changed = apply_change(defaults, {enabled: False, channels: []})
    assert getattr(changed, channels) == ()
    assert getattr(changed, enabled) is False


def test_enabling_an_alert_that_has_no_channels_is_refused(defaults: AlertPreferences) -> None:
    silent = apply_change(defaults, {"low_balance_enabled": False, "low_balance_channels": []})
    error = refused(silent, {"low_balance_enabled": True})
    assert error.field == "low_balance_channels"


@pytest.mark.parametrize("channels", ["suspicious_activity_channels", "login_alert_channels"])
def test_security_alert_channels_can_never_be_empty(
    defaults: AlertPreferences, channels: str
) -> None:
    error = refused(defaults, {channels: []})
    assert error.field == channels


def test_switching_off_every_suspicious_check_still_needs_a_channel(
    defaults: AlertPreferences,
) -> None:
    error = refused(
        defaults,
        {
            "alert_unusual_location": False,
            "alert_new_device_transaction": False,
            "suspicious_activity_channels": [],
        },
    )
    assert error.field == "suspicious_activity_channels"


def test_duplicate_channels_are_dropped_keeping_the_first_order(
    defaults: AlertPreferences,
) -> None:
    changed = apply_change(
        defaults,
        {
            "low_balance_channels": [SMS, PUSH, SMS, PUSH],
            "login_alert_channels": [EMAIL, EMAIL],
        },
    )
    assert changed.low_balance_channels == (SMS, PUSH)
    assert changed.login_alert_channels == (EMAIL,)


def test_channels_given_as_a_list_are_stored_as_a_tuple(defaults: AlertPreferences) -> None:
    changed = apply_change(defaults, {"payment_due_channels": [EMAIL]})
    assert changed.payment_due_channels == (EMAIL,)


# Failed sign-in attempts


def test_multiple_failed_attempts_alert_cannot_be_switched_off(
    defaults: AlertPreferences,
) -> None:
    error = refused(defaults, {"alert_multiple_failed_attempts": False})
    assert error.field == "alert_multiple_failed_attempts"
    assert "cannot be switched off" in str(error)


def test_the_other_suspicious_checks_can_be_switched_off(defaults: AlertPreferences) -> None:
    changed = apply_change(
        defaults, {"alert_unusual_location": False, "alert_new_device_transaction": False}
    )
    assert not changed.alert_unusual_location
    assert not changed.alert_new_device_transaction


# Quiet hours


@pytest.mark.parametrize(
    "ends",
    [
        {"quiet_hours_start": time(22, 0)},
        {"quiet_hours_end": time(6, 0)},
        {},
    ],
)
def test_enabled_quiet_hours_need_both_ends(
    defaults: AlertPreferences, ends: dict[str, time]
) -> None:
    error = refused(defaults, {"quiet_hours_enabled": True, **ends})
    assert error.field == "quiet_hours_start"
    assert "both" in str(error)


def test_quiet_hours_with_equal_ends_are_refused(defaults: AlertPreferences) -> None:
    error = refused(
        defaults,
        {"quiet_hours_enabled": True, "quiet_hours_start": time(8), "quiet_hours_end": time(8)},
    )
    assert error.field == "quiet_hours_end"
    assert "must differ" in str(error)


def test_quiet_hours_may_run_across_midnight(defaults: AlertPreferences) -> None:
    changed = apply_change(
        defaults,
        {
            "quiet_hours_enabled": True,
            "quiet_hours_start": time(22, 0),
            "quiet_hours_end": time(6, 30),
        },
    )
    assert (changed.quiet_hours_start, changed.quiet_hours_end) == (time(22, 0), time(6, 30))


def test_quiet_hours_ends_may_be_cleared_while_switched_off(defaults: AlertPreferences) -> None:
    window = apply_change(
        defaults,
        {"quiet_hours_enabled": True, "quiet_hours_start": time(22), "quiet_hours_end": time(6)},
    )
    cleared = apply_change(
        window, {"quiet_hours_enabled": False, "quiet_hours_start": None, "quiet_hours_end": None}
    )
    assert (cleared.quiet_hours_start, cleared.quiet_hours_end) == (None, None)


def test_clearing_an_end_of_active_quiet_hours_is_refused(defaults: AlertPreferences) -> None:
    window = apply_change(
        defaults,
        {"quiet_hours_enabled": True, "quiet_hours_start": time(22), "quiet_hours_end": time(6)},
    )
    assert refused(window, {"quiet_hours_end": None}).field == "quiet_hours_start"


# Shape of a change


@pytest.mark.parametrize(
    "field",
    [
        "low_balance_enabled",
        "low_balance_threshold",
        "low_balance_channels",
        "payment_reminder_interval",
        "login_alert_mode",
        "quiet_hours_enabled",
    ],
)
def test_null_for_a_setting_that_always_has_a_value_is_refused(
    defaults: AlertPreferences, field: str
) -> None:
    error = refused(defaults, {field: None})
    assert error.field == field
    assert "cannot be null" in str(error)


def test_an_unknown_setting_is_refused_by_its_name(defaults: AlertPreferences) -> None:
    error = refused(defaults, {"sms_everything": True})
    assert error.field == "sms_everything"
    assert "unknown setting smsEverything" in str(error)


def test_an_unknown_setting_is_refused_even_beside_valid_ones(defaults: AlertPreferences) -> None:
    error = refused(defaults, {"low_balance_enabled": False, "colour": "blue"})
    assert error.field == "colour"


# Money


@pytest.mark.parametrize("raw", [0.1, 5000.0, float("nan"), True, False])
def test_floats_and_booleans_are_not_money(raw: object) -> None:
    with pytest.raises(MoneyError, match="decimal string"):
        parse_money(raw)


@pytest.mark.parametrize(
    "raw", ["NaN", "nan", "sNaN", "Infinity", "-Infinity", "inf", Decimal("NaN"), Decimal("-inf")]
)
def test_non_finite_amounts_are_refused(raw: object) -> None:
    with pytest.raises(MoneyError, match="finite"):
        parse_money(raw)


@pytest.mark.parametrize("raw", ["", "five thousand", "5,000", "12.3.4", None])
def test_text_that_is_not_a_number_is_refused(raw: object) -> None:
    with pytest.raises(MoneyError, match="not a decimal amount"):
        parse_money(raw)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("5000.00", Decimal("5000.00")),
        (" 12.5 ", Decimal("12.5")),
        ("0.0001", Decimal("0.0001")),
        ("-3", Decimal(-3)),
        (5000, Decimal(5000)),
        (0, Decimal(0)),
        (Decimal("7.25"), Decimal("7.25")),
    ],
)
def test_decimal_strings_integers_and_decimals_are_accepted(raw: object, expected: Decimal) -> None:
    parsed = parse_money(raw)
    assert isinstance(parsed, Decimal)
    assert parsed == expected


def test_a_decimal_string_keeps_its_exact_value() -> None:
    assert parse_money("0.1") + parse_money("0.2") == Decimal("0.3")


# Masking


@pytest.mark.parametrize(
    ("number", "masked"),
    [
        ("1000001234", "****1234"),
        ("ACCT00009876", "****9876"),
        ("12345", "****2345"),
    ],
)
def test_account_numbers_show_only_the_last_four(number: str, masked: str) -> None:
    assert mask_account_number(number) == masked


@pytest.mark.parametrize("number", ["1234", "123", ""])
def test_short_account_numbers_show_nothing(number: str) -> None:
    assert mask_account_number(number) == "****"


def test_masked_phone_keeps_the_prefix_and_last_two_digits() -> None:
    assert mask_phone("+265991234567") == "+26********67"


@pytest.mark.parametrize("phone", ["", "1", "12345", "+2659"])
def test_short_phone_numbers_are_fully_hidden(phone: str) -> None:
    assert mask_phone(phone) == "***"


def test_masked_email_keeps_the_first_letter_and_the_domain() -> None:
    assert mask_email("chisomo.banda@example.mw") == "c***@example.mw"


@pytest.mark.parametrize("email", ["not-an-email", "", "chisomo"])
def test_text_without_a_domain_is_fully_hidden_as_an_email(email: str) -> None:
    assert mask_email(email) == "***"


@pytest.mark.parametrize(
    "phone", ["123456", "0888123456", "+265991234567", " +265 99 123 4567 ", "+447700900123"]
)
def test_a_masked_phone_never_reveals_the_whole_number(phone: str) -> None:
    masked = mask_phone(phone)
    assert phone.strip() not in masked
    assert "*" in masked
    assert sum(ch != "*" for ch in masked) < len(phone.strip())


@pytest.mark.parametrize(
    "email", ["ab@example.mw", "chisomo.banda@example.mw", "x.y+alerts@bank.co.mw"]
)
def test_a_masked_email_never_reveals_the_whole_address(email: str) -> None:
    masked = mask_email(email)
    local = email.partition("@")[0]
    assert email not in masked
    assert local not in masked


# Alert actions


@pytest.mark.parametrize("alert_type", list(AlertType))
def test_quick_pay_is_offered_only_for_payment_due(alert_type: AlertType) -> None:
    offered = UserAction.QUICK_PAY in actions_for(alert_type)
    assert offered is (alert_type is AlertType.PAYMENT_DUE)


@pytest.mark.parametrize("alert_type", list(AlertType))
def test_every_alert_can_be_dismissed(alert_type: AlertType) -> None:
    assert UserAction.DISMISSED in actions_for(alert_type)


def test_low_balance_and_payment_due_cannot_be_reported_as_fraud() -> None:
    assert UserAction.REPORT_FRAUD not in actions_for(AlertType.LOW_BALANCE)
    assert UserAction.REPORT_FRAUD not in actions_for(AlertType.PAYMENT_DUE)


@pytest.mark.parametrize("alert_type", [AlertType.ACCOUNT_LOGIN, AlertType.SUSPICIOUS_ACTIVITY])
def test_reporting_fraud_on_a_login_or_suspicious_alert_locks_the_user(
    alert_type: AlertType,
) -> None:
    assert locks_user(alert_type, UserAction.REPORT_FRAUD)


@pytest.mark.parametrize("alert_type", [AlertType.ACCOUNT_LOGIN, AlertType.SUSPICIOUS_ACTIVITY])
@pytest.mark.parametrize("action", [UserAction.THIS_WAS_ME, UserAction.DISMISSED, None])
def test_confirming_or_dismissing_never_locks_the_user(
    alert_type: AlertType, action: UserAction | None
) -> None:
    assert not locks_user(alert_type, action)


@pytest.mark.parametrize("alert_type", [AlertType.LOW_BALANCE, AlertType.PAYMENT_DUE])
@pytest.mark.parametrize("action", list(UserAction))
def test_balance_and_payment_alerts_never_lock_the_user(
    alert_type: AlertType, action: UserAction
) -> None:
    assert not locks_user(alert_type, action)


@pytest.mark.parametrize("alert_type", list(LOCKING_ACTIONS))
def test_every_locking_action_is_one_the_customer_is_offered(alert_type: AlertType) -> None:
    assert LOCKING_ACTIONS[alert_type] <= set(actions_for(alert_type))
