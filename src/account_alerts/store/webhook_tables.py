"""Webhooks: the endpoints admins register, the events written with the changes they
report, and one delivery per event and subscribed endpoint with every attempt."""

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from account_alerts.domain.webhooks import WebhookDeliveryStatus, WebhookEventType
from account_alerts.store.base import json_list, when
from account_alerts.store.types import enum_column


class WebhookEndpoint(SQLModel, table=True):
    __tablename__ = "webhook_endpoints"

    id: int | None = Field(default=None, primary_key=True)
    url: str = Field(max_length=2048)
    description: str = Field(default="", max_length=500)
    event_types: list[str] = json_list()
    # Fernet tokens (delivery.webhooks.secrets): the database alone cannot sign.
    secret_encrypted: str = Field(max_length=500)
    # While a secret rotates, the previous one signs too, until it expires.
    previous_secret_encrypted: str | None = Field(default=None, max_length=500)
    previous_secret_expires_at: datetime | None = when()
    disabled_at: datetime | None = when()
    disabled_reason: str | None = Field(default=None, max_length=500)
    created_by: str | None = Field(default=None, max_length=64)
    created_at: datetime = when(now=True)
    updated_at: datetime = when(now=True)


class WebhookEvent(SQLModel, table=True):
    """The webhook outbox: written in the transaction of the change it reports; fanned
    out to the endpoints subscribed when the dispatcher takes it up."""

    __tablename__ = "webhook_events"
    # The events still to fan out, in id order, whatever the number dispatched before.
    __table_args__ = (
        sa.Index(
            "idx_webhook_events_undispatched",
            "id",
            postgresql_where=sa.text("dispatched_at IS NULL"),
            sqlite_where=sa.text("dispatched_at IS NULL"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    # The webhook-id header: the same on every try and replay to every endpoint.
    message_id: str = Field(max_length=64, unique=True)
    event_type: WebhookEventType = Field(
        sa_type=enum_column(WebhookEventType, "webhook_event_type_enum")
    )
    # The body as sent (domain.webhooks.message_body).
    body: str = Field(sa_type=sa.Text)
    occurred_at: datetime = when(required=True)
    dispatched_at: datetime | None = when()


class WebhookDelivery(SQLModel, table=True):
    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        sa.UniqueConstraint("event_id", "endpoint_id"),
        sa.Index("idx_webhook_deliveries_due", "status", "next_attempt_at"),
        sa.Index("idx_webhook_deliveries_endpoint", "endpoint_id", "status", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    event_id: int = Field(foreign_key="webhook_events.id")
    endpoint_id: int = Field(foreign_key="webhook_endpoints.id")
    status: WebhookDeliveryStatus = Field(
        default=WebhookDeliveryStatus.PENDING,
        sa_type=enum_column(WebhookDeliveryStatus, "webhook_delivery_status_enum"),
    )
    # Tries in the current schedule (a replay starts a new one); every try is an attempt row.
    tries: int = 0
    next_attempt_at: datetime = when(now=True)
    lease_owner: str | None = Field(default=None, max_length=64)
    lease_expires_at: datetime | None = when()
    last_status_code: int | None = None
    last_error: str | None = Field(default=None, max_length=1000)
    delivered_at: datetime | None = when()
    created_at: datetime = when(now=True)
    updated_at: datetime = when(now=True)


class WebhookAttempt(SQLModel, table=True):
    __tablename__ = "webhook_attempts"
    __table_args__ = (sa.Index("idx_webhook_attempts_delivery", "delivery_id", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    delivery_id: int = Field(foreign_key="webhook_deliveries.id")
    attempted_at: datetime = when(required=True)
    status_code: int | None = None
    latency_ms: float = 0.0
    error: str | None = Field(default=None, max_length=1000)
