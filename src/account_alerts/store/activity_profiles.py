"""Customers' activity profiles (domain.activity_profile) built from the stored history:
for a customer whose events predate profiles. Once built, a profile is a JSON document on
the customer's row (mobile_users.activity_profile), read with the customer lock and
written with the event's other rows."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from account_alerts.domain.activity_profile import (
    FAILURES_KEPT,
    LOW_BALANCE_KEPT,
    TYPICAL_OF,
    ActivityProfile,
    Recent,
    RecentAmounts,
    Seen,
)
from account_alerts.domain.enums import AlertType, SuspicionReason
from account_alerts.domain.geo import GeoPoint
from account_alerts.store.alerts import AccountAlert, SuspiciousActivity
from account_alerts.store.customers import Device
from account_alerts.store.events import LoginAttempt, TransactionRecord
from account_alerts.store.facts import place_cell

# How many of the newest failed sign-ins, detections and low-balance alerts a profile
# built from history looks at; more than that within the kept span is answered from the
# history (the profile says it pruned them).
_NEWEST = 200


async def _places(
    session: AsyncSession, mobile_user_id: int
) -> list[tuple[GeoPoint, datetime, datetime, datetime | None, datetime | None]]:
    login_lat, login_lon = place_cell(col(LoginAttempt.latitude), col(LoginAttempt.longitude))
    logins = (
        select(
            login_lat,
            login_lon,
            sa.func.min(LoginAttempt.occurred_at),
            sa.func.max(LoginAttempt.occurred_at),
        )
        .where(
            col(LoginAttempt.mobile_user_id) == mobile_user_id,
            col(LoginAttempt.successful).is_(True),
            col(LoginAttempt.latitude).is_not(None),
        )
        .group_by(login_lat, login_lon)
    )
    tx_lat, tx_lon = place_cell(col(TransactionRecord.latitude), col(TransactionRecord.longitude))
    transactions = (
        select(
            tx_lat,
            tx_lon,
            sa.func.min(TransactionRecord.occurred_at),
            sa.func.max(TransactionRecord.occurred_at),
        )
        .where(
            col(TransactionRecord.mobile_user_id) == mobile_user_id,
            col(TransactionRecord.latitude).is_not(None),
        )
        .group_by(tx_lat, tx_lon)
    )
    places: list[tuple[GeoPoint, datetime, datetime, datetime | None, datetime | None]] = []
    for lat, lon, first, last in (await session.exec(logins)).all():
        places.append((GeoPoint(float(lat), float(lon)), first, last, first, last))
    for lat, lon, first, last in (await session.exec(transactions)).all():
        places.append((GeoPoint(float(lat), float(lon)), first, last, None, None))
    return places


def _recent(newest_first: Sequence[datetime], kept: timedelta, *, complete: bool) -> Recent:
    """``complete``: these are all there are (else older ones were not looked at)."""
    recent = Recent()
    for at in reversed(newest_first):
        recent.add(at, kept)
    if not complete and newest_first:
        recent.pruned_until = max(filter(None, [recent.pruned_until, newest_first[-1]]))
    return recent


async def _transactions(
    session: AsyncSession, mobile_user_id: int
) -> tuple[RecentAmounts, list[float]]:
    """The newest transactions (time, amount), and the amounts of the last few to arrive."""
    newest = (
        await session.exec(
            select(col(TransactionRecord.occurred_at), col(TransactionRecord.amount))
            .where(col(TransactionRecord.mobile_user_id) == mobile_user_id)
            .order_by(col(TransactionRecord.occurred_at).desc())
            .limit(_NEWEST)
        )
    ).all()
    recent = RecentAmounts()
    for at, amount in reversed(newest):
        recent.add(at, float(amount))
    if len(newest) == _NEWEST:
        recent.pruned_until = max(filter(None, [recent.pruned_until, newest[-1][0]]))
    arrived = (
        await session.exec(
            select(col(TransactionRecord.amount))
            .where(col(TransactionRecord.mobile_user_id) == mobile_user_id)
            .order_by(col(TransactionRecord.id).desc())
            .limit(TYPICAL_OF)
        )
    ).all()
    return recent, [float(amount) for amount in reversed(arrived)]


async def from_history(session: AsyncSession, mobile_user_id: int) -> ActivityProfile:
    devices = {
        d.device_id: Seen(
            d.first_seen_at,
            d.last_seen_at or d.first_seen_at,
            d.device_name,
            d.device_model,
            d.device_os,
        )
        for d in (
            await session.exec(select(Device).where(col(Device.mobile_user_id) == mobile_user_id))
        ).all()
        if d.first_seen_at is not None
    }
    failures = (
        await session.exec(
            select(LoginAttempt.occurred_at)
            .where(
                col(LoginAttempt.mobile_user_id) == mobile_user_id,
                col(LoginAttempt.successful).is_(False),
            )
            .order_by(col(LoginAttempt.occurred_at).desc())
            .limit(_NEWEST)
        )
    ).all()
    detections = (
        await session.exec(
            select(SuspiciousActivity.detected_at)
            .where(
                col(SuspiciousActivity.mobile_user_id) == mobile_user_id,
                col(SuspiciousActivity.suspicion_reason)
                == SuspicionReason.MULTIPLE_FAILED_ATTEMPTS,
            )
            .order_by(col(SuspiciousActivity.detected_at).desc())
            .limit(_NEWEST)
        )
    ).all()
    low: dict[str, list[datetime]] = {}
    low_alerts = (
        await session.exec(
            select(AccountAlert.account_number, AccountAlert.triggered_at)
            .where(
                col(AccountAlert.mobile_user_id) == mobile_user_id,
                col(AccountAlert.alert_type) == AlertType.LOW_BALANCE,
                col(AccountAlert.is_test).is_(False),
            )
            .order_by(col(AccountAlert.triggered_at).desc())
            .limit(_NEWEST)
        )
    ).all()
    for account_number, at in low_alerts:
        if account_number is not None:
            low.setdefault(account_number, []).append(at)
    transactions, last_amounts = await _transactions(session, mobile_user_id)
    return ActivityProfile.from_history(
        devices=devices,
        transactions=transactions,
        last_amounts=last_amounts,
        places=await _places(session, mobile_user_id),
        failed_logins=_recent(failures, FAILURES_KEPT, complete=len(failures) < _NEWEST),
        failed_login_detections=_recent(
            detections, FAILURES_KEPT, complete=len(detections) < _NEWEST
        ),
        low_balance_alerts={
            account: _recent(times, LOW_BALANCE_KEPT, complete=len(low_alerts) < _NEWEST)
            for account, times in low.items()
        },
    )
