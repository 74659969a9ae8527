"""Webhooks to the bank's other systems: the event types, the message body of the
Standard Webhooks specification, and when a failed delivery is tried again.

The data of each event type (``data`` in the body; camelCase keys, account numbers
masked):

- ``alert.created``: ``alertId``, ``mobileUserId``, ``alertType``, ``accountNumber``
  (masked or null), ``title``, ``triggeredAt``, ``isTest``.
- ``decision.review`` / ``decision.block``: ``eventId``, ``mobileUserId``,
  ``accountNumber`` (masked or null), ``outcome``, ``score``, ``ruleIds`` (the LIVE rules
  counted), ``hits`` (``ruleId``, ``name``, ``score`` of each).
- ``case.opened`` / ``case.escalated`` / ``case.resolved``: ``caseId``, ``mobileUserId``,
  ``source`` (DECISION_REVIEW, DECISION_BLOCK, REPORT_FRAUD), ``status``, ``outcome`` (or
  null), ``assignee`` (or null), ``eventId`` (or null), ``path`` (the case's page in the
  console, under ``ALERTS_PUBLIC_URL``).
- ``user.locked`` / ``user.unlocked``: ``mobileUserId``, ``reason``, ``at``.
- ``delivery.failed``: ``deliveryId``, ``alertId``, ``mobileUserId``, ``channel``,
  ``attempts``, ``error``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import orjson


class WebhookEventType(StrEnum):
    """The body's ``type``: dot-separated, as the specification recommends."""

    ALERT_CREATED = "alert.created"
    DECISION_REVIEW = "decision.review"
    DECISION_BLOCK = "decision.block"
    CASE_OPENED = "case.opened"
    CASE_ESCALATED = "case.escalated"
    CASE_RESOLVED = "case.resolved"
    USER_LOCKED = "user.locked"
    USER_UNLOCKED = "user.unlocked"
    DELIVERY_FAILED = "delivery.failed"


class WebhookDeliveryStatus(StrEnum):
    PENDING = "PENDING"
    DELIVERED = "DELIVERED"
    FAILED = "FAILED"


# Seconds to wait after the 1st, 2nd… failed try: about a day in all, eight tries.
DEFAULT_RETRY_SCHEDULE = (5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0)
# A retry's wait varies by up to this fraction either way, so that the deliveries of one
# outage do not all come back in the same second.
JITTER = 0.2


def message_body(event_type: WebhookEventType, occurred_at: datetime, data: dict[str, Any]) -> str:
    """The JSON body every endpoint receives for one event, byte for byte the same on
    every try (the signature covers these bytes)."""
    return orjson.dumps(
        {"type": event_type.value, "timestamp": occurred_at.isoformat(), "data": data}
    ).decode()


def retry_delay(tries: int, schedule: Sequence[float], jitter: float) -> timedelta | None:
    """The wait before the next try after ``tries`` failed ones, or None when the schedule
    is used up (the delivery is FAILED). ``jitter`` in [-1, 1] (the caller's randomness)."""
    if tries < 1 or tries > len(schedule):
        return None
    return timedelta(seconds=schedule[tries - 1] * (1 + JITTER * jitter))


def ends_delivery(status_code: int) -> bool:
    """A 2xx answer: the receiver has the message."""
    return 200 <= status_code < 300


GONE = 410  # the receiver asks not to be called again: the endpoint is disabled
