"""A delivery taken over with a send started and no outcome: the provider may or may not
have the message. The attempt is counted as in doubt, on the delivery and in the audit
log, and the delivery is sent again by the worker that took it over (domain.in_doubt)."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from account_alerts.delivery import metrics
from account_alerts.domain.in_doubt import resend_in_doubt
from account_alerts.store import audit_trail, outbox

logger = logging.getLogger("account_alerts.worker")


async def count_in_doubt(
    session: AsyncSession, delivery_ids: list[int], *, worker_id: str, now: datetime
) -> None:
    """In the claim's transaction: the takeover and its record commit together."""
    rows, audit_rows = [], []
    for doubt in await outbox.in_doubt(session, delivery_ids):
        resend = resend_in_doubt(
            doubt.channel, attempts=doubt.attempts, attempts_in_doubt=doubt.attempts_in_doubt
        )
        rows.append(
            {
                "delivery_id": doubt.id,
                "attempts": resend.attempts,
                "attempts_in_doubt": resend.attempts_in_doubt,
            }
        )
        metrics.DELIVERIES.labels(doubt.channel.value, "in_doubt").inc()
        logger.warning(
            "delivery %s: a send started at %s has no outcome; sending again",
            doubt.id,
            doubt.send_started_at.isoformat(),
        )
        audit_rows.append(
            audit_trail.row(
                actor_role="system",
                actor_id=worker_id,
                action="delivery.in_doubt",
                occurred_at=now,
                mobile_user_id=doubt.mobile_user_id,
                subject_type="delivery",
                subject_id=str(doubt.id),
                details={
                    "alertId": doubt.alert_id,
                    "channel": doubt.channel.value,
                    "outcome": "in_doubt",
                    "attempt": resend.attempts,
                    "sendStartedAt": doubt.send_started_at.isoformat(),
                    "repeat": resend.repeat.value,
                },
            )
        )
    await outbox.count_in_doubt(session, rows)
    await audit_trail.insert_rows(session, audit_rows)
