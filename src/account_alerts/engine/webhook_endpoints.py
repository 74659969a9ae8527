"""The risk team's admins manage webhook endpoints: register one (its secret shown once),
rotate its secret, disable it, and send a delivery again. Each change is audited."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from account_alerts.config import Settings
from account_alerts.delivery.webhooks import destinations
from account_alerts.delivery.webhooks.secrets import SecretBox, new_secret
from account_alerts.domain.webhooks import WebhookDeliveryStatus, WebhookEventType
from account_alerts.engine.actor import Actor
from account_alerts.errors import BadUserInput, NotFound, ServiceUnavailable
from account_alerts.store import webhook_endpoints as store
from account_alerts.store.base import row_key
from account_alerts.store.database import Database
from account_alerts.store.webhook_tables import WebhookDelivery, WebhookEndpoint

MAX_URL = 2048
MAX_DESCRIPTION = 500
MAX_OVERLAP_SECONDS = 7 * 24 * 3600


def secret_box(settings: Settings) -> SecretBox:
    if not settings.webhook_keys:
        raise ServiceUnavailable(
            "webhooks are not configured here: ALERTS_WEBHOOK_ENCRYPTION_KEY is not set"
        )
    return SecretBox(settings.webhook_keys)


async def checked_url(url: str, settings: Settings) -> str:
    """The URL, if webhooks may go there now (scheme, and every address its host
    resolves to); else BadUserInput on ``url``."""
    if len(url) > MAX_URL:
        raise BadUserInput(f"url may be at most {MAX_URL} characters", field="url")
    try:
        destination = destinations.parse(url, allow_http=not settings.is_production)
        await destinations.resolve(destination, settings.webhook_networks)
    except destinations.RefusedDestination as exc:
        raise BadUserInput(str(exc), field="url") from exc
    return url


async def create_endpoint(
    db: Database,
    settings: Settings,
    *,
    actor: Actor,
    url: str,
    event_types: Sequence[WebhookEventType],
    description: str,
    now: datetime,
) -> tuple[WebhookEndpoint, str]:
    """The endpoint and its secret, which is not kept in the clear and not shown again."""
    if len(description) > MAX_DESCRIPTION:
        raise BadUserInput(
            f"description may be at most {MAX_DESCRIPTION} characters", field="description"
        )
    if not event_types:
        raise BadUserInput("subscribe to at least one event type", field="eventTypes")
    box = secret_box(settings)
    await checked_url(url, settings)
    secret = new_secret()
    async with db.transaction() as session:
        endpoint = WebhookEndpoint(
            url=url,
            description=description,
            event_types=sorted({t.name for t in event_types}),
            secret_encrypted=box.seal(secret),
            created_by=actor.id,
            created_at=now,
            updated_at=now,
        )
        session.add(endpoint)
        await session.flush()
        assert endpoint.id is not None
        store.audit(
            session,
            actor_role=actor.role.value,
            actor_id=actor.id,
            action="webhook_endpoint.created",
            subject_type="webhook_endpoint",
            subject_id=endpoint.id,
            now=now,
            before=None,
            after=store.described(endpoint),
        )
    return endpoint, secret


def _endpoint_id(value: str) -> int:
    key = row_key(value)
    if key is None:
        raise NotFound(f"no webhook endpoint {value}")
    return key


async def rotate_secret(
    db: Database,
    settings: Settings,
    *,
    actor: Actor,
    endpoint_id: str,
    overlap_seconds: int | None,
    now: datetime,
) -> tuple[WebhookEndpoint, str]:
    """A new secret signs from now on; the current one signs too for the overlap (two
    signatures), so receivers can switch without missing a message."""
    overlap = (
        settings.webhook_rotation_overlap_seconds if overlap_seconds is None else overlap_seconds
    )
    if not 0 <= overlap <= MAX_OVERLAP_SECONDS:
        raise BadUserInput(
            f"overlapSeconds must be between 0 and {MAX_OVERLAP_SECONDS}", field="overlapSeconds"
        )
    box = secret_box(settings)
    secret = new_secret()
    async with db.transaction() as session:
        endpoint = await store.locked_endpoint(session, _endpoint_id(endpoint_id))
        if endpoint is None or endpoint.id is None:
            raise NotFound(f"no webhook endpoint {endpoint_id}")
        before = store.described(endpoint)
        endpoint.previous_secret_encrypted = endpoint.secret_encrypted if overlap else None
        endpoint.previous_secret_expires_at = now + timedelta(seconds=overlap) if overlap else None
        endpoint.secret_encrypted = box.seal(secret)
        endpoint.updated_at = now
        session.add(endpoint)
        store.audit(
            session,
            actor_role=actor.role.value,
            actor_id=actor.id,
            action="webhook_endpoint.secret_rotated",
            subject_type="webhook_endpoint",
            subject_id=endpoint.id,
            now=now,
            before=before,
            after=store.described(endpoint),
        )
    return endpoint, secret


async def disable_endpoint(
    db: Database, *, actor: Actor, endpoint_id: str, now: datetime
) -> WebhookEndpoint:
    async with db.transaction() as session:
        endpoint = await store.locked_endpoint(session, _endpoint_id(endpoint_id))
        if endpoint is None:
            raise NotFound(f"no webhook endpoint {endpoint_id}")
        if endpoint.disabled_at is not None:
            raise BadUserInput(f"webhook endpoint {endpoint_id} is already disabled", field="id")
        await store.disable(
            session,
            endpoint,
            reason=f"disabled by {actor.id}",
            actor_role=actor.role.value,
            actor_id=actor.id,
            now=now,
        )
    return endpoint


async def replay_delivery(
    db: Database, *, actor: Actor, delivery_id: str, now: datetime
) -> WebhookDelivery:
    """Send a delivery that ended (FAILED, or DELIVERED and wanted again) once more, with
    the same webhook-id, on a fresh retry schedule."""
    key = row_key(delivery_id)
    if key is None:
        raise NotFound(f"no webhook delivery {delivery_id}")
    async with db.transaction() as session:
        delivery = await store.locked_delivery(session, key)
        if delivery is None or delivery.id is None:
            raise NotFound(f"no webhook delivery {delivery_id}")
        if delivery.status is WebhookDeliveryStatus.PENDING:
            raise BadUserInput(f"webhook delivery {delivery_id} is still being sent", field="id")
        endpoint = await store.locked_endpoint(session, delivery.endpoint_id)
        if endpoint is None or endpoint.disabled_at is not None:
            raise BadUserInput(
                f"the endpoint of webhook delivery {delivery_id} is disabled", field="id"
            )
        before = {"status": delivery.status.value, "tries": delivery.tries}
        delivery.status = WebhookDeliveryStatus.PENDING
        delivery.tries = 0
        delivery.next_attempt_at = now
        delivery.lease_owner = None
        delivery.lease_expires_at = None
        delivery.updated_at = now
        session.add(delivery)
        store.audit(
            session,
            actor_role=actor.role.value,
            actor_id=actor.id,
            action="webhook_delivery.replayed",
            subject_type="webhook_delivery",
            subject_id=delivery.id,
            now=now,
            before=before,
            after={"status": delivery.status.value, "tries": 0},
        )
    return delivery
