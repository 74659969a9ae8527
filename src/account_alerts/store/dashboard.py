"""What the console's dashboard counts over a window: alerts by type, deliveries by
channel and outcome, cases by source and outcome."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from account_alerts.store.alerts import AccountAlert, AlertDelivery
from account_alerts.store.cases import ReviewCase


@dataclass(frozen=True)
class Counts:
    alerts_by_type: dict[str, int]
    deliveries: dict[tuple[str, str], int]  # (channel, status) -> count
    cases_by_source: dict[str, int]
    outcomes: dict[str, int]  # resolved cases by outcome


async def counts(session: AsyncSession, *, start: datetime, end: datetime) -> Counts:
    in_window = (col(AccountAlert.triggered_at) >= start, col(AccountAlert.triggered_at) < end)
    by_type = (
        await session.exec(
            select(AccountAlert.alert_type, sa.func.count())
            .where(*in_window, col(AccountAlert.is_test).is_(False))
            .group_by(col(AccountAlert.alert_type))
        )
    ).all()
    by_channel = (
        await session.exec(
            select(AlertDelivery.channel, AlertDelivery.status, sa.func.count())
            .join(AccountAlert, col(AccountAlert.id) == col(AlertDelivery.alert_id))
            .where(*in_window)
            .group_by(col(AlertDelivery.channel), col(AlertDelivery.status))
        )
    ).all()
    opened = (col(ReviewCase.opened_at) >= start, col(ReviewCase.opened_at) < end)
    by_source = (
        await session.exec(
            select(ReviewCase.source, sa.func.count())
            .where(*opened)
            .group_by(col(ReviewCase.source))
        )
    ).all()
    by_outcome = (
        await session.exec(
            select(ReviewCase.outcome, sa.func.count())
            .where(*opened, col(ReviewCase.outcome).is_not(None))
            .group_by(col(ReviewCase.outcome))
        )
    ).all()
    return Counts(
        alerts_by_type={str(kind): int(n) for kind, n in by_type},
        deliveries={(str(channel), str(status)): int(n) for channel, status, n in by_channel},
        cases_by_source={str(source): int(n) for source, n in by_source},
        outcomes={str(outcome): int(n) for outcome, n in by_outcome if outcome is not None},
    )
