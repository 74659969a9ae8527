"""The risk team's admins manage the webhooks the bank's other systems receive."""

from __future__ import annotations

from datetime import datetime

import strawberry

from account_alerts.api.context import Info
from account_alerts.api.permissions import IsAdmin
from account_alerts.api.types import enums as _exposed  # noqa: F401 - registers the enums
from account_alerts.domain.webhooks import WebhookDeliveryStatus, WebhookEventType
from account_alerts.engine import webhook_endpoints as engine
from account_alerts.errors import BadUserInput, NotFound
from account_alerts.store import webhook_endpoints as store
from account_alerts.store.base import row_key
from account_alerts.store.webhook_tables import WebhookDelivery as DeliveryRow
from account_alerts.store.webhook_tables import WebhookEndpoint as EndpointRow

MAX_PAGE = 100


@strawberry.type
class WebhookEndpoint:
    id: strawberry.ID
    url: str
    description: str
    event_types: list[WebhookEventType]
    enabled: bool
    disabled_at: datetime | None
    disabled_reason: str | None
    secret_rotating_until: datetime | None = strawberry.field(
        description="Until then the previous secret signs too (two signatures)."
    )
    created_at: datetime
    updated_at: datetime

    @classmethod
    def build(cls, row: EndpointRow) -> WebhookEndpoint:
        return cls(
            id=strawberry.ID(str(row.id)),
            url=row.url,
            description=row.description,
            event_types=[WebhookEventType[name] for name in row.event_types],
            enabled=row.disabled_at is None,
            disabled_at=row.disabled_at,
            disabled_reason=row.disabled_reason,
            secret_rotating_until=row.previous_secret_expires_at
            if row.previous_secret_encrypted
            else None,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )


@strawberry.type
class WebhookEndpointWithSecret:
    endpoint: WebhookEndpoint
    secret: str = strawberry.field(
        description="whsec_…: shown this once, it cannot be read again. Verify deliveries "
        "with it (Standard Webhooks)."
    )


@strawberry.type
class WebhookAttempt:
    attempted_at: datetime
    status_code: int | None
    latency_ms: float
    error: str | None


@strawberry.type
class WebhookDelivery:
    id: strawberry.ID
    endpoint_id: strawberry.ID
    event_type: WebhookEventType
    message_id: str = strawberry.field(description="The webhook-id header of every try.")
    status: WebhookDeliveryStatus
    tries: int = strawberry.field(description="Tries in the current schedule.")
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    delivered_at: datetime | None
    created_at: datetime
    attempts: list[WebhookAttempt] = strawberry.field(description="Every try, oldest first.")

    @classmethod
    def build(cls, view: store.DeliveryView, attempts: list[store.AttemptView]) -> WebhookDelivery:
        return cls(
            id=strawberry.ID(str(view.id)),
            endpoint_id=strawberry.ID(str(view.endpoint_id)),
            event_type=WebhookEventType(view.event_type),
            message_id=view.message_id,
            status=WebhookDeliveryStatus(view.status),
            tries=view.tries,
            next_attempt_at=view.next_attempt_at
            if view.status is WebhookDeliveryStatus.PENDING
            else None,
            last_status_code=view.last_status_code,
            last_error=view.last_error,
            delivered_at=view.delivered_at,
            created_at=view.created_at,
            attempts=[
                WebhookAttempt(
                    attempted_at=a.attempted_at,
                    status_code=a.status_code,
                    latency_ms=a.latency_ms,
                    error=a.error,
                )
                for a in attempts
            ],
        )


@strawberry.type
class WebhookDeliveryPage:
    items: list[WebhookDelivery]
    total_count: int
    limit: int
    offset: int


@strawberry.type
class WebhookQuery:
    @strawberry.field(permission_classes=[IsAdmin], description="Every endpoint, oldest first.")
    async def webhook_endpoints(self, info: Info) -> list[WebhookEndpoint]:
        async with info.context.db.session() as session:
            rows = await store.endpoints(session)
        return [WebhookEndpoint.build(row) for row in rows]

    @strawberry.field(permission_classes=[IsAdmin], description="Newest first, with every try.")
    async def webhook_deliveries(
        self,
        info: Info,
        endpoint_id: strawberry.ID,
        status: WebhookDeliveryStatus | None = None,
        limit: int = 20,
        offset: int = 0,
    ) -> WebhookDeliveryPage:
        if not 1 <= limit <= MAX_PAGE:
            raise BadUserInput(f"limit must be between 1 and {MAX_PAGE}", field="limit")
        if offset < 0:
            raise BadUserInput("offset cannot be negative", field="offset")
        key = row_key(str(endpoint_id))
        if key is None:
            raise NotFound(f"no webhook endpoint {endpoint_id}")
        async with info.context.db.session() as session:
            if await session.get(EndpointRow, key) is None:
                raise NotFound(f"no webhook endpoint {endpoint_id}")
            views, total = await store.deliveries(
                session, endpoint_id=key, status=status, limit=limit, offset=offset
            )
            attempts = await store.attempts(session, [v.id for v in views])
        return WebhookDeliveryPage(
            items=[WebhookDelivery.build(v, attempts.get(v.id, [])) for v in views],
            total_count=total,
            limit=limit,
            offset=offset,
        )


async def _delivery(info: Info, row: DeliveryRow) -> WebhookDelivery:
    assert row.id is not None
    async with info.context.db.session() as session:
        view = await store.delivery_view(session, row.id)
        attempts = await store.attempts(session, [row.id])
    assert view is not None
    return WebhookDelivery.build(view, attempts.get(row.id, []))


@strawberry.type
class WebhookMutation:
    @strawberry.mutation(
        permission_classes=[IsAdmin],
        description="Register an endpoint for the event types given. https only in "
        "production; its host must not resolve to a private, loopback or link-local "
        "address. The secret is in the answer, and only there.",
    )
    async def create_webhook_endpoint(
        self,
        info: Info,
        url: str,
        event_types: list[WebhookEventType],
        description: str = "",
    ) -> WebhookEndpointWithSecret:
        row, secret = await engine.create_endpoint(
            info.context.db,
            info.context.settings,
            actor=info.context.actor(),
            url=url,
            event_types=event_types,
            description=description,
            now=info.context.now(),
        )
        return WebhookEndpointWithSecret(endpoint=WebhookEndpoint.build(row), secret=secret)

    @strawberry.mutation(
        permission_classes=[IsAdmin],
        description="A new secret (in the answer, only there). The previous one keeps "
        "signing too for overlapSeconds (default: the server's setting).",
    )
    async def rotate_webhook_secret(
        self, info: Info, id: strawberry.ID, overlap_seconds: int | None = None
    ) -> WebhookEndpointWithSecret:
        row, secret = await engine.rotate_secret(
            info.context.db,
            info.context.settings,
            actor=info.context.actor(),
            endpoint_id=str(id),
            overlap_seconds=overlap_seconds,
            now=info.context.now(),
        )
        return WebhookEndpointWithSecret(endpoint=WebhookEndpoint.build(row), secret=secret)

    @strawberry.mutation(permission_classes=[IsAdmin], description="Stop sending to it.")
    async def disable_webhook_endpoint(self, info: Info, id: strawberry.ID) -> WebhookEndpoint:
        row = await engine.disable_endpoint(
            info.context.db, actor=info.context.actor(), endpoint_id=str(id), now=info.context.now()
        )
        return WebhookEndpoint.build(row)

    @strawberry.mutation(
        permission_classes=[IsAdmin],
        description="Send a delivery that ended once more, with the same webhook-id.",
    )
    async def replay_webhook_delivery(self, info: Info, id: strawberry.ID) -> WebhookDelivery:
        row = await engine.replay_delivery(
            info.context.db, actor=info.context.actor(), delivery_id=str(id), now=info.context.now()
        )
        return await _delivery(info, row)
