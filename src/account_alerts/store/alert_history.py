"""The customer's notification centre: alert history, badge count, delivery status."""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from account_alerts.domain.enums import (
    AlertStatus,
    AlertType,
    DeliveryStatus,
    NotificationChannel,
    UserAction,
)
from account_alerts.store.alerts import AccountAlert, AlertDelivery
from account_alerts.store.base import columns_of, table_of

ALERTS = table_of(AccountAlert)
DELIVERIES = table_of(AlertDelivery)


@dataclass(frozen=True, slots=True)
class AlertRecord:
    """An alert as the history shows it: a plain row, no ORM entity (a page is 50 of
    them, read and never written back)."""

    id: int
    alert_type: AlertType
    account_number: str | None
    status: AlertStatus
    title: str
    message: str
    alert_data: dict[str, Any]
    channels_sent: list[str]
    sent_at: datetime | None
    acknowledged_at: datetime | None
    user_action: UserAction | None
    triggered_at: datetime
    created_at: datetime
    is_test: bool


@dataclass(frozen=True, slots=True)
class DeliveryRecord:
    alert_id: int
    channel: NotificationChannel
    status: DeliveryStatus
    attempts: int
    attempts_in_doubt: int
    last_error: str | None
    sent_at: datetime | None
    provider_message_id: str | None


_ALERT_COLUMNS = columns_of(ALERTS, AlertRecord)
_DELIVERY_COLUMNS = columns_of(DELIVERIES, DeliveryRecord)
_DELIVERIES_OF = (
    sa.select(*_DELIVERY_COLUMNS)
    .where(DELIVERIES.c.alert_id.in_(sa.bindparam("alert_ids", expanding=True)))
    .order_by(DELIVERIES.c.alert_id, DELIVERIES.c.id)
)


@dataclass(frozen=True)
class AlertFilter:
    mobile_user_id: int
    account_number: str | None = None
    alert_type: AlertType | None = None
    start: datetime | None = None
    end: datetime | None = None

    def parameters(self) -> dict[str, Any]:
        """The filters that are set, by name (None means "any")."""
        return {name: value for name, value in vars(self).items() if value is not None}


# Each filter as a condition on a parameter of its own name.
_CONDITIONS: dict[str, sa.ColumnElement[bool]] = {
    "mobile_user_id": ALERTS.c.mobile_user_id == sa.bindparam("mobile_user_id"),
    "account_number": ALERTS.c.account_number == sa.bindparam("account_number"),
    "alert_type": ALERTS.c.alert_type == sa.bindparam("alert_type"),
    "start": ALERTS.c.triggered_at >= sa.bindparam("start"),
    "end": ALERTS.c.triggered_at <= sa.bindparam("end"),
}


@functools.lru_cache(maxsize=len(_CONDITIONS) ** 2)
def _page_statements(filters: tuple[str, ...]) -> tuple[sa.Select[Any], sa.Select[Any]]:
    """The count and the page for one combination of filters, built once: building them
    costs about as much as running them."""
    conditions = [_CONDITIONS[name] for name in filters]
    count = sa.select(sa.func.count()).select_from(ALERTS).where(*conditions)
    page = (
        sa.select(*_ALERT_COLUMNS)
        .where(*conditions)
        .order_by(ALERTS.c.triggered_at.desc(), ALERTS.c.id.desc())
        .limit(sa.bindparam("limit"))
        .offset(sa.bindparam("offset"))
    )
    return count, page


async def page_of_alerts(
    session: AsyncSession, where: AlertFilter, *, limit: int, offset: int
) -> tuple[list[AlertRecord], int]:
    parameters = where.parameters()
    count, page = _page_statements(tuple(parameters))
    connection = await session.connection()
    total = (await connection.execute(count, parameters)).scalar_one()
    rows = await connection.execute(page, {**parameters, "limit": limit, "offset": offset})
    return [AlertRecord(*row) for row in rows], int(total)


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
) -> dict[int, list[DeliveryRecord]]:
    grouped: dict[int, list[DeliveryRecord]] = defaultdict(list)
    if not alert_ids:
        return grouped
    connection = await session.connection()
    rows = await connection.execute(_DELIVERIES_OF, {"alert_ids": list(alert_ids)})
    for row in rows:
        record = DeliveryRecord(*row)
        grouped[record.alert_id].append(record)
    return grouped
