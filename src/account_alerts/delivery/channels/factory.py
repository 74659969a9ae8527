"""The channels this deployment has: a provider where credentials are configured, the sink
otherwise."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from account_alerts.config import Settings
from account_alerts.delivery.channels.base import Channel
from account_alerts.delivery.channels.email import SmtpEmail
from account_alerts.delivery.channels.push import FcmPush
from account_alerts.delivery.channels.sink import SinkChannel, SinkWriter
from account_alerts.delivery.channels.sms import TwilioSms
from account_alerts.domain.enums import NotificationChannel


def build_channels(
    settings: Settings, clock: Callable[[], datetime]
) -> dict[NotificationChannel, Channel]:
    sink = SinkWriter(settings.sink_file, clock)
    channels: dict[NotificationChannel, Channel] = {
        channel: SinkChannel(channel, sink) for channel in NotificationChannel
    }
    if settings.fcm_credentials_file is not None:
        channels[NotificationChannel.PUSH] = FcmPush(
            credentials_file=settings.fcm_credentials_file,
            endpoint=settings.fcm_endpoint,
            timeout=settings.provider_timeout_seconds,
            concurrency=settings.provider_concurrency,
        )
    if settings.twilio_account_sid and settings.twilio_auth_token:
        channels[NotificationChannel.SMS] = TwilioSms(
            account_sid=settings.twilio_account_sid,
            auth_token=settings.twilio_auth_token.get_secret_value(),
            from_number=settings.twilio_from_number,
            messaging_service_sid=settings.twilio_messaging_service_sid,
            status_callback=f"{settings.public_url.rstrip('/')}/webhooks/twilio/status",
            api_base=settings.twilio_api_base,
            timeout=settings.provider_timeout_seconds,
            concurrency=settings.provider_concurrency,
        )
    if settings.smtp_host:
        channels[NotificationChannel.EMAIL] = SmtpEmail(
            host=settings.smtp_host,
            port=settings.smtp_port,
            sender=settings.smtp_from,
            username=settings.smtp_username,
            password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
            starttls=settings.smtp_starttls,
            timeout=settings.smtp_timeout_seconds,
        )
    return channels
