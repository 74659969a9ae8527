"""The written policy for sends in doubt: every channel sends again, and says what the
customer sees of the second copy."""

from __future__ import annotations

import pytest

from account_alerts.domain.enums import NotificationChannel
from account_alerts.domain.in_doubt import Repeat, collapse_identity, resend_in_doubt


@pytest.mark.parametrize("channel", list(NotificationChannel))
def test_every_channel_resends_a_send_in_doubt_and_counts_it(channel: NotificationChannel) -> None:
    resend = resend_in_doubt(channel, attempts=2, attempts_in_doubt=0)
    assert (resend.attempts, resend.attempts_in_doubt) == (3, 1)


def test_only_sms_repeats_are_seen_by_the_customer() -> None:
    repeats = {
        channel: resend_in_doubt(channel, attempts=0, attempts_in_doubt=0).repeat
        for channel in NotificationChannel
    }
    assert repeats == {
        NotificationChannel.PUSH: Repeat.REPLACED,
        NotificationChannel.EMAIL: Repeat.FOLDED,
        NotificationChannel.SMS: Repeat.SEEN_TWICE,
    }


def test_collapse_identity_is_fixed_per_delivery_and_distinct_between_deliveries() -> None:
    push = collapse_identity(41, NotificationChannel.PUSH)
    assert push == collapse_identity(41, NotificationChannel.PUSH)
    others = {
        collapse_identity(42, NotificationChannel.PUSH),
        collapse_identity(41, NotificationChannel.EMAIL),
        collapse_identity(41, NotificationChannel.SMS),
    }
    assert push not in others and len(others) == 3
    # APNs refuses an apns-collapse-id longer than 64 bytes.
    assert len(collapse_identity(10**18, NotificationChannel.EMAIL).encode()) <= 64
