"""The customer's notification centre: alert history, badge count, delivery status."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from account_alerts.domain.enums import AlertType
from account_alerts.store.alerts import AccountAlert, AlertDelivery


@dataclass(frozen=True)
class AlertFilter:
    mobile_user_id: int
    account_number: str | None = None
    alert_type: AlertType | None = None
    start: datetime | None = None
    end: datetime | None = None

    def conditions(self) -> list[sa.ColumnElement[bool]]:
        conditions = [col(AccountAlert.mobile_user_id) == self.mobile_user_id]
        if self.account_number is not None:
            conditions.append(col(AccountAlert.account_number) == self.account_number)
        if self.alert_type is not None:
            conditions.append(col(AccountAlert.alert_type) == self.alert_type)
        if self.start is not None:
            conditions.append(col(AccountAlert.triggered_at) >= self.start)
        if self.end is not None:
            conditions.append(col(AccountAlert.triggered_at) <= self.end)
        return conditions


async def page_of_alerts(
    session: AsyncSession, where: AlertFilter, *, limit: int, offset: int
) -> tuple[Sequence[AccountAlert], int]:
    conditions = where.conditions()
    total = (
        await session.exec(select(sa.func.count()).select_from(AccountAlert).where(*conditions))
    ).one()
    rows = (
        await session.exec(
            select(AccountAlert)
            .where(*conditions)
            .order_by(col(AccountAlert.triggered_at).desc(), col(AccountAlert.id).desc())
            .limit(limit)
            .offset(offset)
        )
    ).all()
    return rows, int(total)


async def unacknowledged_count(session: AsyncSession, mobile_user_id: int) -> int:
    total = (
        await session.exec(
            select(sa.func.count())
            .select_from(AccountAlert)
            .where(
                col(AccountAlert.mobile_user_id) == mobile_user_id,
                col(AccountAlert.acknowledged_at).is_(None),
            )
        )
    ).one()
    return int(total)


async def owned_alert(
    session: AsyncSession, *, alert_id: int, mobile_user_id: int, for_update: bool = False
) -> AccountAlert | None:
    query = select(AccountAlert).where(
        AccountAlert.id == alert_id, AccountAlert.mobile_user_id == mobile_user_id
    )
    if for_update:
        query = query.with_for_update(key_share=True)
    return (await session.exec(query)).first()


async def deliveries_by_alert(
    session: AsyncSession, alert_ids: Sequence[int]
) -> dict[int, list[AlertDelivery]]:
    grouped: dict[int, list[AlertDelivery]] = defaultdict(list)
    if not alert_ids:
        return grouped
    rows = (
        await session.exec(
            select(AlertDelivery)
            .where(col(AlertDelivery.alert_id).in_(alert_ids))
            .order_by(col(AlertDelivery.alert_id), col(AlertDelivery.id))
        )
    ).all()
    for row in rows:
        grouped[row.alert_id].append(row)
    return grouped
