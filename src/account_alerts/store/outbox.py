"""The delivery outbox: claiming due rows under a lease, and recording what happened."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from account_alerts.domain.enums import AlertStatus, DeliveryStatus, NotificationChannel
from account_alerts.store.alerts import AccountAlert, AlertDelivery
from account_alerts.store.customers import Device, MobileUser

DELIVERIES: sa.Table = AlertDelivery.__table__  # type: ignore[attr-defined]


async def claim_due(
    session: AsyncSession,
    *,
    worker_id: str,
    now: datetime,
    lease: timedelta,
    limit: int,
    skip_channels: Iterable[NotificationChannel] = (),
) -> list[int]:
    """Take up to ``limit`` due deliveries for this worker. On PostgreSQL, rows another
    worker is claiming are skipped (SKIP LOCKED); an expired lease — a worker that died —
    makes a row due again."""
    due = (
        select(AlertDelivery.id)
        .where(
            col(AlertDelivery.status) == DeliveryStatus.PENDING,
            col(AlertDelivery.next_attempt_at) <= now,
            sa.or_(
                col(AlertDelivery.lease_expires_at).is_(None),
                col(AlertDelivery.lease_expires_at) < now,
            ),
        )
        .order_by(col(AlertDelivery.next_attempt_at), col(AlertDelivery.id))
        .limit(limit)
    )
    skipped = list(skip_channels)
    if skipped:
        due = due.where(col(AlertDelivery.channel).not_in(skipped))
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    result = await session.exec(
        sa.update(DELIVERIES)
        .where(DELIVERIES.c.id.in_(due.scalar_subquery()))
        .values(lease_owner=worker_id, lease_expires_at=now + lease, updated_at=now)
        .returning(DELIVERIES.c.id)
    )
    return sorted(row[0] for row in result.all())


async def load_claimed(
    session: AsyncSession, delivery_ids: Sequence[int]
) -> list[tuple[AlertDelivery, AccountAlert, MobileUser]]:
    rows = await session.exec(
        select(AlertDelivery, AccountAlert, MobileUser)
        .join(AccountAlert, col(AccountAlert.id) == col(AlertDelivery.alert_id))
        .join(MobileUser, col(MobileUser.id) == col(AccountAlert.mobile_user_id))
        .where(col(AlertDelivery.id).in_(delivery_ids))
        .order_by(col(AlertDelivery.id))
    )
    return list(rows.all())


async def push_tokens(session: AsyncSession, user_ids: Iterable[int]) -> dict[int, list[Device]]:
    devices = await session.exec(
        select(Device)
        .where(col(Device.mobile_user_id).in_(sorted(set(user_ids))), col(Device.push_token_active))
        .order_by(col(Device.updated_at).desc())
    )
    by_user: dict[int, list[Device]] = {}
    for device in devices.all():
        by_user.setdefault(device.mobile_user_id, []).append(device)
    return by_user


async def refresh_alert_status(
    session: AsyncSession, alert_ids: Iterable[int], now: datetime
) -> None:
    """SENT once any channel delivered; FAILED when none can any more and one failed."""
    ids = sorted(set(alert_ids))
    if not ids:
        return
    deliveries = (
        await session.exec(select(AlertDelivery).where(col(AlertDelivery.alert_id).in_(ids)))
    ).all()
    alerts = (await session.exec(select(AccountAlert).where(col(AccountAlert.id).in_(ids)))).all()
    by_alert: dict[int, list[AlertDelivery]] = {}
    for delivery in deliveries:
        by_alert.setdefault(delivery.alert_id, []).append(delivery)
    for alert in alerts:
        assert alert.id is not None
        rows = by_alert.get(alert.id, [])
        sent = sorted((d for d in rows if d.status is DeliveryStatus.SENT), key=lambda d: d.id or 0)
        pending = any(d.status is DeliveryStatus.PENDING for d in rows)
        failed = any(d.status is DeliveryStatus.FAILED for d in rows)
        channels = [d.channel.value for d in sent]
        if alert.channels_sent != channels:
            alert.channels_sent = channels
        if sent:
            alert.sent_at = alert.sent_at or min(d.sent_at for d in sent if d.sent_at)
        if alert.status is not AlertStatus.ACKNOWLEDGED:
            if sent:
                alert.status = AlertStatus.SENT
            elif failed and not pending:
                alert.status = AlertStatus.FAILED
        alert.updated_at = now
        session.add(alert)


async def pending_count(session: AsyncSession) -> int:
    total = (
        await session.exec(
            select(sa.func.count())
            .select_from(AlertDelivery)
            .where(col(AlertDelivery.status) == DeliveryStatus.PENDING)
        )
    ).one()
    return int(total)
