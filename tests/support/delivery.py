"""A delivery set-up for tests: settings pointing every channel at a local protocol peer,
the real channels built from them, and a worker on the test clock."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from account_alerts.config import Settings
from account_alerts.delivery.channels.base import Channel
from account_alerts.delivery.channels.factory import build_channels
from account_alerts.delivery.worker import DeliveryWorker
from account_alerts.domain.enums import NotificationChannel
from account_alerts.store.customers import Device, MobileUser
from account_alerts.store.database import Database
from tests.conftest import Clock
from tests.support.providers import SMTP_PASSWORD, SMTP_USER, FakeFCM, FakeTwilio, SmtpSink

PHONE = "+265991234567"
EMAIL = "chikondi@example.mw"
PUSH_TOKEN = "fcm-token-of-phone-1"


def with_providers(
    settings: Settings,
    *,
    twilio: FakeTwilio | None = None,
    fcm: FakeFCM | None = None,
    fcm_credentials: Path | None = None,
    smtp: SmtpSink | None = None,
    sink_file: Path | None = None,
    **overrides: Any,
) -> Settings:
    values: dict[str, Any] = {"sink_file": sink_file, "worker_lease_seconds": 30, **overrides}
    if twilio is not None:
        values.update(
            twilio_account_sid=twilio.account_sid,
            twilio_auth_token=SecretStr(twilio.auth_token),
            twilio_from_number="+15005550006",
            twilio_api_base=twilio.base_url,
        )
    if fcm is not None:
        values.update(fcm_credentials_file=fcm_credentials, fcm_endpoint=fcm.base_url)
    if smtp is not None:
        values.update(
            smtp_host=smtp.host,
            smtp_port=smtp.port,
            smtp_username=SMTP_USER,
            smtp_password=SecretStr(SMTP_PASSWORD),
            smtp_starttls=False,
        )
    return settings.model_copy(update=values)


@dataclass
class Delivery:
    settings: Settings
    channels: dict[NotificationChannel, Channel]
    worker: DeliveryWorker
    clock: Clock

    async def drain(self, rounds: int = 5) -> int:
        total = 0
        for _ in range(rounds):
            handled = await self.worker.run_once()
            total += handled
            if not handled:
                break
        return total

    async def close(self) -> None:
        for channel in self.channels.values():
            await channel.close()


def make_delivery(settings: Settings, db: Database, clock: Clock) -> Delivery:
    channels = build_channels(settings, clock)
    worker = DeliveryWorker(
        db=db, settings=settings, channels=channels, clock=clock, worker_id="test-worker"
    )
    return Delivery(settings, channels, worker, clock)


async def reachable_customer(
    db: Database, user_id: int, *, phone: bool = True, email: bool = True, push: bool = True
) -> None:
    """A customer with verified contacts and a registered phone."""
    now = datetime.now(UTC) - timedelta(days=1)
    async with db.transaction() as session:
        user = await session.get(MobileUser, user_id)
        if user is None:
            user = MobileUser(id=user_id)
        if phone:
            user.phone, user.phone_verified_at = PHONE, now
        if email:
            user.email, user.email_verified_at = EMAIL, now
        session.add(user)
        await session.flush()
        if push:
            session.add(
                Device(
                    mobile_user_id=user_id,
                    device_id="phone-1",
                    push_token=PUSH_TOKEN,
                    push_platform="android",
                    push_token_active=True,
                )
            )


def sink_lines(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def count_passes(loop: Any) -> list[int]:
    """Wrap a delivery loop's ``run_once`` (the delivery worker's, the webhook
    dispatcher's): the list it returns gets what each pass that found work handled."""
    passes: list[int] = []
    run_once = loop.run_once

    async def counted() -> int:
        handled: int = await run_once()
        if handled:
            passes.append(handled)
        return handled

    loop.run_once = counted
    return passes
