"""Provider callbacks: Twilio's message status reports, signature checked."""

from __future__ import annotations

import logging
from urllib.parse import parse_qsl

import sqlalchemy as sa
from sqlmodel import col, select
from starlette.requests import Request
from starlette.responses import Response
from twilio.request_validator import RequestValidator

from account_alerts.api.context import Services
from account_alerts.domain.enums import DeliveryStatus, NotificationChannel
from account_alerts.store import audit_trail, outbox
from account_alerts.store.alerts import AlertDelivery

logger = logging.getLogger("account_alerts.webhooks")
TWILIO_STATUS_PATH = "/webhooks/twilio/status"
FAILED_STATES = {"failed", "undelivered"}


def twilio_status_endpoint(services: Services):  # type: ignore[no-untyped-def]
    settings = services.settings

    async def endpoint(request: Request) -> Response:
        if settings.twilio_auth_token is None:
            return Response(status_code=404)
        # Twilio posts application/x-www-form-urlencoded; every field takes part in the signature.
        params = dict(parse_qsl((await request.body()).decode(), keep_blank_values=True))
        # Twilio signs the URL it was given, which is our public one, not the one we see.
        url = settings.public_url.rstrip("/") + TWILIO_STATUS_PATH
        validator = RequestValidator(settings.twilio_auth_token.get_secret_value())
        if not validator.validate(url, params, request.headers.get("X-Twilio-Signature", "")):
            logger.warning("twilio status callback with a bad signature refused")
            return Response("invalid signature", status_code=403)
        sid, state = params.get("MessageSid"), params.get("MessageStatus", "")
        now = services.clock()
        async with services.db.transaction() as session:
            delivery = (
                await session.exec(
                    select(AlertDelivery).where(
                        col(AlertDelivery.provider_message_id) == sid,
                        col(AlertDelivery.channel) == NotificationChannel.SMS,
                    )
                )
            ).first()
            if delivery is None or delivery.id is None:
                return Response(status_code=204)
            if state in FAILED_STATES and delivery.status is DeliveryStatus.SENT:
                reason = f"twilio reported {state} (error {params.get('ErrorCode') or '-'})"
                await session.exec(
                    sa.update(outbox.DELIVERIES)
                    .where(outbox.DELIVERIES.c.id == delivery.id)
                    .values(status=DeliveryStatus.FAILED, last_error=reason, updated_at=now)
                )
                await outbox.refresh_alert_status(session, [delivery.alert_id], now)
            audit_trail.record(
                session,
                actor_role="system",
                actor_id="twilio",
                action="delivery.status_reported",
                occurred_at=now,
                subject_type="delivery",
                subject_id=str(delivery.id),
                details={"status": state, "errorCode": params.get("ErrorCode")},
            )
        return Response(status_code=204)

    return endpoint
