"""Which replies are keywords, and where a security alert goes when SMS cannot reach."""

from __future__ import annotations

import pytest

from account_alerts.domain.enums import DeliveryStatus, NotificationChannel
from account_alerts.domain.fallback import fallback_channel
from account_alerts.domain.sms import is_gsm7
from account_alerts.domain.sms_keywords import SMS_FOOTER, SmsKeyword, keyword_of

PUSH, SMS, EMAIL = NotificationChannel.PUSH, NotificationChannel.SMS, NotificationChannel.EMAIL
SENT, FAILED, SKIPPED, PENDING = (
    DeliveryStatus.SENT,
    DeliveryStatus.FAILED,
    DeliveryStatus.SKIPPED,
    DeliveryStatus.PENDING,
)


@pytest.mark.parametrize(
    "reply",
    ["STOP", "stop", " Stop ", "STOPALL", "stop all", "Unsubscribe", "cancel", "END", "quit"],
)
def test_every_standard_stop_word_opts_out(reply: str) -> None:
    assert keyword_of(reply) is SmsKeyword.OPT_OUT


@pytest.mark.parametrize("reply", ["START", "start", "Yes", " unstop\n"])
def test_every_standard_start_word_opts_in(reply: str) -> None:
    assert keyword_of(reply) is SmsKeyword.OPT_IN


def test_help_is_a_keyword_in_any_case() -> None:
    assert keyword_of(" help ") is SmsKeyword.HELP


@pytest.mark.parametrize("reply", ["", "Thanks!", "please stop sending these", "STOP IT NOW"])
def test_other_replies_are_not_keywords(reply: str) -> None:
    assert keyword_of(reply) is None


def test_the_footer_names_the_keywords_that_work_in_plain_gsm7() -> None:
    assert "STOP" in SMS_FOOTER and "HELP" in SMS_FOOTER
    assert keyword_of("STOP") is SmsKeyword.OPT_OUT and keyword_of("HELP") is SmsKeyword.HELP
    assert is_gsm7(SMS_FOOTER)


def test_a_failed_push_falls_back_to_sms_first() -> None:
    assert fallback_channel(PUSH, {PUSH: FAILED}, sms_opted_out=False) is SMS
    assert fallback_channel(PUSH, {PUSH: FAILED, SMS: PENDING}, sms_opted_out=False) is None


def test_a_failed_push_goes_to_email_when_the_number_opted_out() -> None:
    tried = {PUSH: FAILED, SMS: SKIPPED}
    assert fallback_channel(PUSH, tried, sms_opted_out=True) is EMAIL
    assert fallback_channel(PUSH, {**tried, EMAIL: PENDING}, sms_opted_out=True) is None
    assert fallback_channel(PUSH, {PUSH: FAILED, SMS: SENT}, sms_opted_out=True) is None


def test_an_opted_out_sms_falls_back_to_push_then_email() -> None:
    assert fallback_channel(SMS, {SMS: SKIPPED}, sms_opted_out=True) is PUSH
    assert fallback_channel(SMS, {SMS: SKIPPED, PUSH: FAILED}, sms_opted_out=True) is EMAIL
    assert fallback_channel(SMS, {SMS: SKIPPED, PUSH: PENDING}, sms_opted_out=True) is None
    assert fallback_channel(SMS, {SMS: SKIPPED, PUSH: SENT}, sms_opted_out=True) is None


def test_an_sms_that_failed_for_another_reason_does_not_fall_back() -> None:
    assert fallback_channel(SMS, {SMS: FAILED}, sms_opted_out=False) is None
