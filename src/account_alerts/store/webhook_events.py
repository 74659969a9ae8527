"""Emitting a webhook event: one row in the caller's transaction, so an event is never
lost (the change committed without it) nor invented (it committed without the change).

Whoever changes something the bank's other systems must hear about calls ``emit`` in the
transaction of the change, with the data shape of its type (domain.webhooks). On the
event path the row goes to the unit of work's RowBuffer and joins the event's single
write; elsewhere it is added to the session. Nothing here reads the endpoints: the
dispatcher fans events out when it takes them up."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from account_alerts.domain.masking import mask_account_number
from account_alerts.domain.webhooks import WebhookEventType, message_body
from account_alerts.store.base import table_of
from account_alerts.store.row_buffer import RowBuffer
from account_alerts.store.webhook_tables import WebhookEvent

EVENTS = table_of(WebhookEvent)


def event_row(
    event_type: WebhookEventType, data: dict[str, Any], *, occurred_at: datetime
) -> dict[str, Any]:
    """The outbox row of one event, for a bulk insert of many."""
    return {
        "message_id": f"msg_{uuid.uuid4().hex}",
        "event_type": event_type,
        "body": message_body(event_type, occurred_at, data),
        "occurred_at": occurred_at,
        "dispatched_at": None,
    }


def emit(
    into: AsyncSession | RowBuffer,
    event_type: WebhookEventType,
    data: dict[str, Any],
    *,
    occurred_at: datetime,
) -> None:
    """Write the event in the transaction of ``into``: a session, or the event path's
    buffer of rows (written with the event's other rows, in the same statement)."""
    row = event_row(event_type, data, occurred_at=occurred_at)
    if isinstance(into, RowBuffer):
        into.add(EVENTS, row)
    else:
        into.add(WebhookEvent(**row))


def alert_created(
    *,
    alert_id: int,
    mobile_user_id: int,
    alert_type: str,
    account_number: str | None,
    title: str,
    triggered_at: datetime,
    is_test: bool,
) -> dict[str, Any]:
    """The data of ALERT_CREATED."""
    return {
        "alertId": alert_id,
        "mobileUserId": mobile_user_id,
        "alertType": alert_type,
        "accountNumber": mask_account_number(account_number) if account_number else None,
        "title": title,
        "triggeredAt": triggered_at.isoformat(),
        "isTest": is_test,
    }


def delivery_failed(
    *,
    delivery_id: int,
    alert_id: int,
    mobile_user_id: int | None,
    channel: str,
    attempts: int,
    error: str | None,
) -> dict[str, Any]:
    """The data of DELIVERY_FAILED: a customer's alert that could not go out on a channel."""
    return {
        "deliveryId": delivery_id,
        "alertId": alert_id,
        "mobileUserId": mobile_user_id,
        "channel": channel,
        "attempts": attempts,
        "error": error,
    }
