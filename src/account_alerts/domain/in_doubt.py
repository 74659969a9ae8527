"""Sends in doubt: a worker marked a send as started and stopped (killed, its host lost)
before it recorded the outcome. Whether the provider got the message is unknown.

The policy, per channel: every send in doubt is sent again, at once, by the worker that
takes the delivery over (at least once: a missed security alert is worse than a second
one). What differs is what the customer sees of the second copy:

- PUSH: nothing new. Both copies carry the alert's collapse identity (the Android
  notification tag, the FCM collapse key, the APNs ``apns-collapse-id``), so the repeat
  replaces the first notification on the device.
- EMAIL: one message. Both copies carry the same ``Message-ID``, fixed per delivery, so
  mail clients fold the repeat into the first.
- SMS: two texts. A text cannot be recalled or replaced; the number of SMS in doubt is
  bounded by the sends a worker has in flight at once.

The attempt in doubt counts as an attempt and is recorded as such, on the delivery and in
the audit log."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from account_alerts.domain.enums import NotificationChannel


class Repeat(StrEnum):
    """What the customer sees when a send in doubt had in fact arrived."""

    REPLACED = "REPLACED"  # the device shows the second notification in place of the first
    FOLDED = "FOLDED"  # the mail client shows one message
    SEEN_TWICE = "SEEN_TWICE"  # two copies


REPEATS: dict[NotificationChannel, Repeat] = {
    NotificationChannel.PUSH: Repeat.REPLACED,
    NotificationChannel.EMAIL: Repeat.FOLDED,
    NotificationChannel.SMS: Repeat.SEEN_TWICE,
}


@dataclass(frozen=True, slots=True)
class InDoubtResend:
    """What becomes of a delivery whose last send is in doubt."""

    attempts: int
    attempts_in_doubt: int
    repeat: Repeat


def resend_in_doubt(
    channel: NotificationChannel, *, attempts: int, attempts_in_doubt: int
) -> InDoubtResend:
    """The attempt in doubt is counted, and the delivery goes out again now."""
    return InDoubtResend(
        attempts=attempts + 1,
        attempts_in_doubt=attempts_in_doubt + 1,
        repeat=REPEATS[channel],
    )


def collapse_identity(alert_id: int, channel: NotificationChannel) -> str:
    """The same for every send of one alert on one channel (one delivery), and different
    for any other: a repeat is recognised, never confused with another alert."""
    return f"alert-{alert_id}-{channel.value.lower()}"
