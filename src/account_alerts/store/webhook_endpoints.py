"""Endpoints and their deliveries as admins see and change them, in the caller's
transaction; every change audited with what it was before and after."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from account_alerts.domain.webhooks import WebhookDeliveryStatus, WebhookEventType
from account_alerts.store import audit_trail
from account_alerts.store.webhook_outbox import ATTEMPTS, DELIVERIES, EVENTS
from account_alerts.store.webhook_tables import WebhookDelivery, WebhookEndpoint


def described(endpoint: WebhookEndpoint) -> dict[str, Any]:
    """An endpoint as the audit log keeps it: never its secret."""
    return {
        "url": endpoint.url,
        "description": endpoint.description,
        "eventTypes": list(endpoint.event_types),
        "disabled": endpoint.disabled_at is not None,
        "previousSecretExpiresAt": endpoint.previous_secret_expires_at.isoformat()
        if endpoint.previous_secret_expires_at
        else None,
    }


def audit(
    session: AsyncSession,
    *,
    actor_role: str,
    actor_id: str | None,
    action: str,
    subject_type: str,
    subject_id: int,
    now: datetime,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> None:
    audit_trail.record(
        session,
        actor_role=actor_role,
        actor_id=actor_id,
        action=action,
        occurred_at=now,
        subject_type=subject_type,
        subject_id=str(subject_id),
        before=before,
        after=after,
    )


async def locked_endpoint(session: AsyncSession, endpoint_id: int) -> WebhookEndpoint | None:
    return (
        await session.exec(
            select(WebhookEndpoint).where(col(WebhookEndpoint.id) == endpoint_id).with_for_update()
        )
    ).first()


async def disable(
    session: AsyncSession,
    endpoint: WebhookEndpoint,
    *,
    reason: str,
    actor_role: str,
    actor_id: str | None,
    now: datetime,
) -> None:
    """Stop sending to the endpoint; its deliveries not yet made stay as they are."""
    if endpoint.disabled_at is not None:
        return
    before = described(endpoint)
    endpoint.disabled_at = now
    endpoint.disabled_reason = reason
    endpoint.updated_at = now
    session.add(endpoint)
    assert endpoint.id is not None
    audit(
        session,
        actor_role=actor_role,
        actor_id=actor_id,
        action="webhook_endpoint.disabled",
        subject_type="webhook_endpoint",
        subject_id=endpoint.id,
        now=now,
        before=before,
        after={**described(endpoint), "reason": reason},
    )


async def endpoints(session: AsyncSession) -> list[WebhookEndpoint]:
    return list(
        (await session.exec(select(WebhookEndpoint).order_by(col(WebhookEndpoint.id)))).all()
    )


@dataclass(frozen=True, slots=True)
class DeliveryView:
    id: int
    endpoint_id: int
    event_type: WebhookEventType
    message_id: str
    status: WebhookDeliveryStatus
    tries: int
    next_attempt_at: datetime
    last_status_code: int | None
    last_error: str | None
    delivered_at: datetime | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class AttemptView:
    delivery_id: int
    attempted_at: datetime
    status_code: int | None
    latency_ms: float
    error: str | None


_VIEW_COLUMNS = (
    DELIVERIES.c.id,
    DELIVERIES.c.endpoint_id,
    EVENTS.c.event_type,
    EVENTS.c.message_id,
    DELIVERIES.c.status,
    DELIVERIES.c.tries,
    DELIVERIES.c.next_attempt_at,
    DELIVERIES.c.last_status_code,
    DELIVERIES.c.last_error,
    DELIVERIES.c.delivered_at,
    DELIVERIES.c.created_at,
)


async def deliveries(
    session: AsyncSession,
    *,
    endpoint_id: int,
    status: WebhookDeliveryStatus | None,
    limit: int,
    offset: int,
) -> tuple[list[DeliveryView], int]:
    """An endpoint's deliveries, newest first, and how many there are in all."""
    where = [DELIVERIES.c.endpoint_id == endpoint_id]
    if status is not None:
        where.append(DELIVERIES.c.status == status)
    connection = await session.connection()
    rows = await connection.execute(
        sa.select(*_VIEW_COLUMNS)
        .select_from(DELIVERIES.join(EVENTS, EVENTS.c.id == DELIVERIES.c.event_id))
        .where(*where)
        .order_by(DELIVERIES.c.id.desc())
        .limit(limit)
        .offset(offset)
    )
    total = await connection.scalar(
        sa.select(sa.func.count()).select_from(DELIVERIES).where(*where)
    )
    return [DeliveryView(*row) for row in rows.all()], int(total or 0)


async def delivery_view(session: AsyncSession, delivery_id: int) -> DeliveryView | None:
    connection = await session.connection()
    row = (
        await connection.execute(
            sa.select(*_VIEW_COLUMNS)
            .select_from(DELIVERIES.join(EVENTS, EVENTS.c.id == DELIVERIES.c.event_id))
            .where(DELIVERIES.c.id == delivery_id)
        )
    ).first()
    return DeliveryView(*row) if row is not None else None


async def attempts(
    session: AsyncSession, delivery_ids: Sequence[int]
) -> dict[int, list[AttemptView]]:
    """Every try of each delivery, the oldest first."""
    connection = await session.connection()
    rows = await connection.execute(
        sa.select(
            ATTEMPTS.c.delivery_id,
            ATTEMPTS.c.attempted_at,
            ATTEMPTS.c.status_code,
            ATTEMPTS.c.latency_ms,
            ATTEMPTS.c.error,
        )
        .where(ATTEMPTS.c.delivery_id.in_(list(delivery_ids)))
        .order_by(ATTEMPTS.c.delivery_id, ATTEMPTS.c.id)
    )
    grouped: dict[int, list[AttemptView]] = {}
    for row in rows.all():
        grouped.setdefault(row[0], []).append(AttemptView(*row))
    return grouped


async def locked_delivery(session: AsyncSession, delivery_id: int) -> WebhookDelivery | None:
    return (
        await session.exec(
            select(WebhookDelivery).where(col(WebhookDelivery.id) == delivery_id).with_for_update()
        )
    ).first()
