"""Provider callbacks, signature checked: Twilio's message status reports and the texts
customers send back to the alerts number."""

from __future__ import annotations

import logging
from urllib.parse import parse_qsl

import sqlalchemy as sa
from sqlmodel import col, select
from starlette.requests import Request
from starlette.responses import Response
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse

from account_alerts.api.context import Services
from account_alerts.config import Settings
from account_alerts.domain.enums import DeliveryStatus, NotificationChannel
from account_alerts.domain.sms_keywords import SmsKeyword
from account_alerts.domain.webhooks import WebhookEventType
from account_alerts.engine.sms_consent import receive_reply
from account_alerts.store import audit_trail, outbox, sms_consent
from account_alerts.store.alerts import AccountAlert, AlertDelivery
from account_alerts.store.webhook_events import delivery_failed, emit

logger = logging.getLogger("account_alerts.webhooks")
TWILIO_STATUS_PATH = "/webhooks/twilio/status"
TWILIO_INBOUND_PATH = "/webhooks/twilio/inbound"
FAILED_STATES = {"failed", "undelivered"}
OPTED_OUT_ERROR = "21610"  # Twilio: the recipient replied STOP


async def _signed_params(request: Request, settings: Settings, path: str) -> dict[str, str] | None:
    """The form Twilio posted, or None when its signature does not match."""
    assert settings.twilio_auth_token is not None
    # Twilio posts application/x-www-form-urlencoded; every field takes part in the signature.
    params = dict(parse_qsl((await request.body()).decode(), keep_blank_values=True))
    # Twilio signs the URL it was given, which is our public one, not the one we see.
    url = settings.public_url.rstrip("/") + path
    validator = RequestValidator(settings.twilio_auth_token.get_secret_value())
    if not validator.validate(url, params, request.headers.get("X-Twilio-Signature", "")):
        logger.warning("twilio callback to %s with a bad signature refused", path)
        return None
    return params


def twilio_status_endpoint(services: Services):  # type: ignore[no-untyped-def]
    settings = services.settings

    async def endpoint(request: Request) -> Response:
        if settings.twilio_auth_token is None:
            return Response(status_code=404)
        params = await _signed_params(request, settings, TWILIO_STATUS_PATH)
        if params is None:
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
                alert = await session.get(AccountAlert, delivery.alert_id)
                emit(
                    session,
                    WebhookEventType.DELIVERY_FAILED,
                    delivery_failed(
                        delivery_id=delivery.id,
                        alert_id=delivery.alert_id,
                        mobile_user_id=alert.mobile_user_id if alert else None,
                        channel=delivery.channel.value,
                        attempts=delivery.attempts,
                        error=reason,
                    ),
                    occurred_at=now,
                )
            if params.get("ErrorCode") == OPTED_OUT_ERROR and params.get("To"):
                await sms_consent.record_opt_out(
                    session,
                    phone=params["To"],
                    source="twilio error 21610",
                    by_customer=False,
                    now=now,
                )
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


def twilio_inbound_endpoint(services: Services):  # type: ignore[no-untyped-def]
    """Texts customers send to the alerts number (the number's "A message comes in"
    webhook). Answers in TwiML: the bank's help text for HELP, nothing otherwise (Twilio
    confirms STOP and START itself)."""
    settings = services.settings

    async def endpoint(request: Request) -> Response:
        if settings.twilio_auth_token is None:
            return Response(status_code=404)
        params = await _signed_params(request, settings, TWILIO_INBOUND_PATH)
        if params is None:
            return Response("invalid signature", status_code=403)
        sid = params.get("MessageSid") or params.get("SmsSid")
        sender = params.get("From")
        if not sid or not sender:
            return Response("MessageSid and From are required", status_code=400)
        keyword = await receive_reply(
            services.db,
            message_sid=sid,
            from_phone=sender,
            to_phone=params.get("To"),
            body=params.get("Body", ""),
            now=services.clock(),
        )
        reply = MessagingResponse()
        if keyword is SmsKeyword.HELP:
            reply.message(settings.sms_help_text)
        return Response(str(reply), media_type="application/xml")

    return endpoint
