"""What the alert rules need to know about a customer's past, by event time."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from account_alerts.domain.enums import AlertType, SuspicionReason
from account_alerts.domain.geo import GeoPoint
from account_alerts.store.alerts import AccountAlert, SuspiciousActivity
from account_alerts.store.events import LoginAttempt, TransactionRecord


def place_cell(latitude: Any, longitude: Any) -> tuple[Any, Any]:
    """A stored location's place: two decimals (about a kilometre) of the six the columns
    keep, as domain.activity_profile.place_key rounds a point. Few places; 100 km is the
    test."""
    return (
        sa.func.round(sa.cast(latitude, sa.Numeric(9, 6)), 2).label("lat"),
        sa.func.round(sa.cast(longitude, sa.Numeric(9, 6)), 2).label("lon"),
    )


async def usual_places(
    session: AsyncSession,
    mobile_user_id: int,
    *,
    before: datetime,
    window: timedelta,
    logins_only: bool = False,
) -> list[GeoPoint]:
    """Distinct places of successful sign-ins (and transactions) in ``window`` before.
    Those stored at the same instant count: they arrived first (arrival order)."""
    since = before - window
    login_lat, login_lon = place_cell(col(LoginAttempt.latitude), col(LoginAttempt.longitude))
    logins = select(login_lat, login_lon).where(
        col(LoginAttempt.mobile_user_id) == mobile_user_id,
        col(LoginAttempt.successful).is_(True),
        col(LoginAttempt.latitude).is_not(None),
        col(LoginAttempt.occurred_at) >= since,
        col(LoginAttempt.occurred_at) <= before,
    )
    query: Any = logins
    if not logins_only:
        tx_lat, tx_lon = place_cell(
            col(TransactionRecord.latitude), col(TransactionRecord.longitude)
        )
        transactions = select(tx_lat, tx_lon).where(
            col(TransactionRecord.mobile_user_id) == mobile_user_id,
            col(TransactionRecord.latitude).is_not(None),
            col(TransactionRecord.occurred_at) >= since,
            col(TransactionRecord.occurred_at) <= before,
        )
        query = sa.union(logins, transactions)
    else:
        query = logins.distinct()
    rows = (await session.exec(query)).all()
    return [GeoPoint(float(lat), float(lon)) for lat, lon in rows]


async def failed_login_times(
    session: AsyncSession, mobile_user_id: int, *, around: datetime, span: timedelta
) -> list[datetime]:
    rows = (
        await session.exec(
            select(LoginAttempt.occurred_at).where(
                col(LoginAttempt.mobile_user_id) == mobile_user_id,
                col(LoginAttempt.successful).is_(False),
                col(LoginAttempt.occurred_at) > around - span,
                col(LoginAttempt.occurred_at) < around + span,
            )
        )
    ).all()
    return list(rows)


async def suspicion_times(
    session: AsyncSession,
    mobile_user_id: int,
    reason: SuspicionReason,
    *,
    around: datetime,
    span: timedelta,
) -> list[datetime]:
    rows = (
        await session.exec(
            select(SuspiciousActivity.detected_at).where(
                col(SuspiciousActivity.mobile_user_id) == mobile_user_id,
                col(SuspiciousActivity.suspicion_reason) == reason,
                col(SuspiciousActivity.detected_at) > around - span,
                col(SuspiciousActivity.detected_at) < around + span,
            )
        )
    ).all()
    return list(rows)


async def alert_times(
    session: AsyncSession,
    account_number: str,
    alert_type: AlertType,
    *,
    around: datetime,
    span: timedelta,
) -> list[datetime]:
    rows = (
        await session.exec(
            select(AccountAlert.triggered_at).where(
                col(AccountAlert.account_number) == account_number,
                col(AccountAlert.alert_type) == alert_type,
                col(AccountAlert.is_test).is_(False),
                col(AccountAlert.triggered_at) > around - span,
                col(AccountAlert.triggered_at) < around + span,
            )
        )
    ).all()
    return list(rows)


# The customer's alerts (not tests) triggered in a window, built once. The event path
# (PostgreSQL) runs it inside the statement that inserts an alert (store.alert_writer).
_ALERTS = AccountAlert.__table__  # type: ignore[attr-defined]
ALERTS_IN_WINDOW = (
    sa.select(sa.func.count())
    .select_from(_ALERTS)
    .where(
        _ALERTS.c.mobile_user_id
        == sa.bindparam("window_user", type_=_ALERTS.c.mobile_user_id.type),
        _ALERTS.c.is_test.is_(False),
        _ALERTS.c.triggered_at > sa.bindparam("window_since", type_=_ALERTS.c.triggered_at.type),
        _ALERTS.c.triggered_at <= sa.bindparam("window_ending", type_=_ALERTS.c.triggered_at.type),
    )
)


def window_values(mobile_user_id: int, *, ending: datetime, span: timedelta) -> dict[str, Any]:
    """``ALERTS_IN_WINDOW``'s parameters: the window is (ending - span, ending]."""
    return {"window_user": mobile_user_id, "window_since": ending - span, "window_ending": ending}


async def alerts_in_window(
    session: AsyncSession, mobile_user_id: int, *, ending: datetime, span: timedelta
) -> int:
    """The customer's alerts (not tests) triggered in (ending - span, ending]."""
    connection = await session.connection()
    values = window_values(mobile_user_id, ending=ending, span=span)
    return int((await connection.execute(ALERTS_IN_WINDOW, values)).scalar_one())
