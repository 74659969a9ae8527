"""The dispatcher's side of the webhook outbox: fanning events out to the endpoints
subscribed when they are taken up, claiming due deliveries under a lease, and recording
every try. As store.outbox: on PostgreSQL rows another worker holds are skipped (SKIP
LOCKED); a worker that dies leaves its claims to expire, and they are tried again with
the same webhook-id."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel.ext.asyncio.session import AsyncSession

from account_alerts.domain.webhooks import WebhookDeliveryStatus, WebhookEventType
from account_alerts.store.base import on_postgresql, table_of
from account_alerts.store.webhook_tables import (
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)

ENDPOINTS = table_of(WebhookEndpoint)
EVENTS = table_of(WebhookEvent)
DELIVERIES = table_of(WebhookDelivery)
ATTEMPTS = table_of(WebhookAttempt)


def undispatched(limit: int, *, skip_locked: bool) -> sa.Select[Any]:
    """The oldest ``limit`` events not yet fanned out (``skip_locked``: but those another
    dispatcher is taking up, PostgreSQL). Read through the index of the undispatched
    alone, so a poll costs the same however many events went out before."""
    due = (
        sa.select(EVENTS.c.id, EVENTS.c.event_type)
        .where(EVENTS.c.dispatched_at.is_(None))
        .order_by(EVENTS.c.id)
        .limit(limit)
    )
    return due.with_for_update(skip_locked=True) if skip_locked else due


async def fan_out(session: AsyncSession, *, now: datetime, limit: int) -> int:
    """Give up to ``limit`` new events a delivery to each endpoint enabled and subscribed
    to their type now; the number of events taken up."""
    due = undispatched(limit, skip_locked=on_postgresql(session))
    connection = await session.connection()
    events = (await connection.execute(due)).all()
    if not events:
        return 0
    endpoints = (
        await connection.execute(
            sa.select(ENDPOINTS.c.id, ENDPOINTS.c.event_types).where(
                ENDPOINTS.c.disabled_at.is_(None)
            )
        )
    ).all()
    rows = [
        {
            "event_id": event_id,
            "endpoint_id": endpoint_id,
            "status": WebhookDeliveryStatus.PENDING,
            "tries": 0,
            "next_attempt_at": now,
            "created_at": now,
            "updated_at": now,
        }
        for event_id, event_type in events
        for endpoint_id, types in endpoints
        if WebhookEventType(event_type).name in types
    ]
    if rows:
        await connection.execute(sa.insert(DELIVERIES), rows)
    await connection.execute(
        sa.update(EVENTS)
        .where(EVENTS.c.id.in_([event_id for event_id, _ in events]))
        .values(dispatched_at=now)
    )
    return len(events)


async def claim_due(
    session: AsyncSession,
    *,
    worker_id: str,
    now: datetime,
    lease: timedelta,
    limit: int,
    per_endpoint: int,
    skip_endpoints: Iterable[int] = (),
) -> list[int]:
    """Take up to ``limit`` due deliveries, at most ``per_endpoint`` of any one endpoint
    (a slow endpoint's backlog cannot fill a batch), none of ``skip_endpoints`` (full, or
    their breaker open) nor of a disabled endpoint. The ids claimed."""
    free = sa.or_(DELIVERIES.c.lease_expires_at.is_(None), DELIVERIES.c.lease_expires_at < now)
    rank = (
        sa.func.row_number()
        .over(
            partition_by=DELIVERIES.c.endpoint_id,
            order_by=(DELIVERIES.c.next_attempt_at, DELIVERIES.c.id),
        )
        .label("rank")
    )
    ranked = (
        sa.select(DELIVERIES.c.id, rank)
        .select_from(DELIVERIES.join(ENDPOINTS, ENDPOINTS.c.id == DELIVERIES.c.endpoint_id))
        .where(
            DELIVERIES.c.status == WebhookDeliveryStatus.PENDING,
            DELIVERIES.c.next_attempt_at <= now,
            free,
            ENDPOINTS.c.disabled_at.is_(None),
        )
    )
    skipped = sorted(set(skip_endpoints))
    if skipped:
        ranked = ranked.where(DELIVERIES.c.endpoint_id.not_in(skipped))
    firsts = ranked.subquery()
    connection = await session.connection()
    candidates = list(
        (
            await connection.execute(
                sa.select(firsts.c.id)
                .where(firsts.c.rank <= per_endpoint)
                .order_by(firsts.c.id)
                .limit(limit)
            )
        ).scalars()
    )
    if not candidates:
        return []
    # Then claimed by their keys, in a statement of its own: a queue that grows faster
    # than its statistics otherwise gets a plan that ranks once per row. The conditions
    # again on the rows themselves: one another worker claimed meanwhile is checked anew
    # once its lock is free, or skipped while locked.
    due = sa.select(DELIVERIES.c.id).where(
        DELIVERIES.c.id.in_(candidates),
        DELIVERIES.c.status == WebhookDeliveryStatus.PENDING,
        free,
    )
    if on_postgresql(session):
        due = due.with_for_update(skip_locked=True)
    result = await connection.execute(
        sa.update(DELIVERIES)
        .where(DELIVERIES.c.id.in_(due.scalar_subquery()))
        .values(lease_owner=worker_id, lease_expires_at=now + lease, updated_at=now)
        .returning(DELIVERIES.c.id)
    )
    return sorted(row[0] for row in result.all())


@dataclass(frozen=True, slots=True)
class ClaimedWebhook:
    """What one try of a delivery needs."""

    delivery_id: int
    endpoint_id: int
    tries: int
    message_id: str
    body: str
    url: str
    secret_encrypted: str
    previous_secret_encrypted: str | None
    previous_secret_expires_at: datetime | None


async def load_claimed(session: AsyncSession, ids: Sequence[int]) -> list[ClaimedWebhook]:
    connection = await session.connection()
    rows = await connection.execute(
        sa.select(
            DELIVERIES.c.id,
            DELIVERIES.c.endpoint_id,
            DELIVERIES.c.tries,
            EVENTS.c.message_id,
            EVENTS.c.body,
            ENDPOINTS.c.url,
            ENDPOINTS.c.secret_encrypted,
            ENDPOINTS.c.previous_secret_encrypted,
            ENDPOINTS.c.previous_secret_expires_at,
        )
        .select_from(
            DELIVERIES.join(EVENTS, EVENTS.c.id == DELIVERIES.c.event_id).join(
                ENDPOINTS, ENDPOINTS.c.id == DELIVERIES.c.endpoint_id
            )
        )
        .where(DELIVERIES.c.id.in_(ids))
        .order_by(DELIVERIES.c.id)
    )
    return [ClaimedWebhook(*row) for row in rows.all()]


@dataclass(frozen=True, slots=True)
class Outcome:
    """One try's result as the delivery row and its attempt record it."""

    delivery_id: int
    endpoint_id: int
    attempted_at: datetime
    status_code: int | None
    latency_ms: float
    error: str | None
    status: WebhookDeliveryStatus
    tries: int
    next_attempt_at: datetime
    gone: bool  # the receiver answered 410 Gone: its endpoint is disabled


async def record(
    session: AsyncSession, outcomes: Sequence[Outcome], *, worker_id: str, now: datetime
) -> list[Outcome]:
    """Write the outcomes of deliveries still this worker's (one whose lease ran out and
    another worker took keeps that worker's record), with their attempts; the outcomes
    written."""
    connection = await session.connection()
    owned_query = sa.select(DELIVERIES.c.id).where(
        DELIVERIES.c.id.in_([o.delivery_id for o in outcomes]),
        DELIVERIES.c.lease_owner == worker_id,
        DELIVERIES.c.status == WebhookDeliveryStatus.PENDING,
    )
    if on_postgresql(session):
        owned_query = owned_query.with_for_update()
    owned = set((await connection.execute(owned_query)).scalars())
    written = [o for o in outcomes if o.delivery_id in owned]
    if not written:
        return []
    await connection.execute(
        sa.update(DELIVERIES)
        .where(DELIVERIES.c.id == sa.bindparam("delivery_id"))
        .values(
            status=sa.bindparam("status"),
            tries=sa.bindparam("tries"),
            next_attempt_at=sa.bindparam("next_attempt_at"),
            last_status_code=sa.bindparam("status_code"),
            last_error=sa.bindparam("error"),
            delivered_at=sa.bindparam("delivered_at"),
            lease_owner=None,
            lease_expires_at=None,
            updated_at=now,
        ),
        [_delivery_values(o) for o in written],
    )
    await connection.execute(
        sa.insert(ATTEMPTS),
        [
            {
                "delivery_id": o.delivery_id,
                "attempted_at": o.attempted_at,
                "status_code": o.status_code,
                "latency_ms": round(o.latency_ms, 3),
                "error": o.error,
            }
            for o in written
        ],
    )
    return written


def _delivery_values(outcome: Outcome) -> dict[str, Any]:
    delivered = outcome.status is WebhookDeliveryStatus.DELIVERED
    return {
        "delivery_id": outcome.delivery_id,
        "status": outcome.status,
        "tries": outcome.tries,
        "next_attempt_at": outcome.next_attempt_at,
        "status_code": outcome.status_code,
        "error": outcome.error,
        "delivered_at": outcome.attempted_at if delivered else None,
    }
