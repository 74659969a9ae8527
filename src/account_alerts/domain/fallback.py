"""Where a security alert goes when the channel it was sent on cannot reach the customer:
push falls back to SMS, and a number that opted out of SMS falls back to push, then
email. Other alerts never fall back."""

from __future__ import annotations

from collections.abc import Mapping

from account_alerts.domain.enums import DeliveryStatus, NotificationChannel

PUSH, SMS, EMAIL = NotificationChannel.PUSH, NotificationChannel.SMS, NotificationChannel.EMAIL


def fallback_channel(
    unreachable: NotificationChannel,
    tried: Mapping[NotificationChannel, DeliveryStatus],
    *,
    sms_opted_out: bool,
) -> NotificationChannel | None:
    """The channel to add to the alert, given the one that could not deliver, the
    alert's deliveries by channel (this one's outcome included) and whether the
    customer's number opted out of SMS; None when nothing more is to be tried."""
    if unreachable is PUSH:
        if SMS not in tried:
            return SMS
        if sms_opted_out and tried[SMS] is not DeliveryStatus.SENT and EMAIL not in tried:
            return EMAIL
        return None
    if unreachable is SMS and sms_opted_out:
        if PUSH not in tried:
            return PUSH
        if tried[PUSH] is DeliveryStatus.FAILED and EMAIL not in tried:
            return EMAIL
    # A pending push falls back by itself if it fails; a sent one reached the customer.
    return None
