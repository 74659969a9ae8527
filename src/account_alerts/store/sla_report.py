"""What the SLA report reads: cases opened, and customer alerts with their first send,
in a window."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from account_alerts.domain.enums import DeliveryStatus
from account_alerts.domain.sla import AlertSla, CaseSla
from account_alerts.store.alerts import AccountAlert, AlertDelivery
from account_alerts.store.cases import ReviewCase
from account_alerts.store.types import UTCDateTime


async def case_sla(
    session: AsyncSession, *, start: datetime, end: datetime, now: datetime
) -> CaseSla:
    rows = (
        await session.exec(
            select(ReviewCase.opened_at, ReviewCase.ack_due_at, ReviewCase.acknowledged_at).where(
                col(ReviewCase.opened_at) >= start, col(ReviewCase.opened_at) < end
            )
        )
    ).all()
    acknowledged = [(opened, due, at) for opened, due, at in rows if at is not None]
    return CaseSla(
        cases=len(rows),
        decided=sum(1 for _, due, at in rows if at is not None or due <= now),
        acknowledged_within_sla=sum(1 for _, due, at in acknowledged if at <= due),
        ack_seconds=[(at - opened).total_seconds() for opened, _, at in acknowledged],
    )


async def alert_sla(session: AsyncSession, *, start: datetime, end: datetime) -> AlertSla:
    """Customer alerts (not tests) that had a channel to go out on, by event time."""
    # Typed as the column it aggregates: SQLite hands back text otherwise.
    first_send = sa.type_coerce(
        sa.func.min(
            sa.case((col(AlertDelivery.status) == DeliveryStatus.SENT, col(AlertDelivery.sent_at)))
        ),
        UTCDateTime(),
    )
    rows = (
        await session.exec(
            select(AccountAlert.triggered_at, first_send)
            .join(AlertDelivery, col(AlertDelivery.alert_id) == col(AccountAlert.id))
            .where(
                col(AccountAlert.triggered_at) >= start,
                col(AccountAlert.triggered_at) < end,
                col(AccountAlert.is_test).is_(False),
            )
            .group_by(col(AccountAlert.id), col(AccountAlert.triggered_at))
        )
    ).all()
    return AlertSla(
        alerts=len(rows),
        send_seconds=[
            max(0.0, (sent - triggered).total_seconds())
            for triggered, sent in rows
            if sent is not None
        ],
    )
