"""The delivery worker: claims due outbox rows, sends them through their channels, and
records every attempt as it completes. A worker that dies mid-batch loses nothing: its
lease expires and another worker takes the rows up again. A row recorded SENT is never
sent again; a send marked started and never recorded is taken over as an attempt in doubt
and sent again (domain.in_doubt)."""

from __future__ import annotations

import asyncio
import logging
import math
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

import sqlalchemy as sa
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from account_alerts.config import Settings
from account_alerts.delivery import metrics
from account_alerts.delivery.breaker import CircuitBreaker
from account_alerts.delivery.channels.base import Channel, DeliveryError, Receipt
from account_alerts.delivery.in_doubt import count_in_doubt
from account_alerts.delivery.rendering import render
from account_alerts.delivery.send_ledger import SendLedger
from account_alerts.delivery.waiting import rest_of_wave, until_any
from account_alerts.domain.decisions import SECURITY_ALERTS
from account_alerts.domain.enums import DeliveryStatus, NotificationChannel
from account_alerts.domain.fallback import fallback_channel
from account_alerts.domain.retry_policy import backoff, exhausted
from account_alerts.domain.webhooks import WebhookEventType
from account_alerts.store import audit_trail, outbox, sms_consent
from account_alerts.store.alerts import AlertDelivery
from account_alerts.store.database import Database
from account_alerts.store.webhook_events import delivery_failed, emit

logger = logging.getLogger("account_alerts.worker")
SMS_OPTED_OUT = "the phone number opted out of SMS (replied STOP); reply START to resume"
_T = TypeVar("_T")

# Finished sends are written as soon as no other send is out, else when this many are
# waiting or this long after the first of them finished, whichever comes first.
RECORD_AT_MOST = 64
RECORD_WITHIN_SECONDS = 0.005


@dataclass
class _Attempt:
    delivery: outbox.ClaimedDelivery
    alert: outbox.ClaimedAlert
    user: outbox.Recipient
    devices: list[outbox.PushDevice]
    sms_opted_out: bool = False
    receipt: Receipt | None = None
    error: DeliveryError | None = None
    skipped: str | None = None
    deferred: bool = False
    marked: bool = False  # marked as started: from here on, the send may be in doubt
    stale_tokens: tuple[str, ...] = ()
    latency: float = 0.0


def _worker_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


class DeliveryWorker:
    def __init__(
        self,
        *,
        db: Database,
        settings: Settings,
        channels: dict[NotificationChannel, Channel],
        clock: Callable[[], datetime],
        worker_id: str | None = None,
    ) -> None:
        self.db = db
        self.settings = settings
        self.channels = channels
        self.clock = clock
        self.worker_id = worker_id or _worker_id()
        self.breakers = {
            channel: CircuitBreaker(
                settings.breaker_failures, timedelta(seconds=settings.breaker_cooldown_seconds)
            )
            for channel in channels
        }
        self.lease = timedelta(seconds=settings.worker_lease_seconds)
        self.wake = asyncio.Event()
        # When the last claim that found deliveries began (time.monotonic()).
        self._last_found = -math.inf
        # The claim loops take turns to claim: two loops woken for the same wave would
        # otherwise split it between them (SKIP LOCKED hands each a part of the rows).
        self._claiming = asyncio.Lock()
        # Sends marked and not yet recorded, per channel: a slow provider holds a few
        # places, not the batch, and a worker killed leaves no more than these in doubt.
        self.ledger: SendLedger[NotificationChannel, _Attempt] = SendLedger(
            self._write,
            in_flight=settings.provider_concurrency,
            at_most=RECORD_AT_MOST,
            within=RECORD_WITHIN_SECONDS,
        )

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until ``stop`` is set; database outages are waited out, not fatal.

        Several claim loops run side by side, so one batch is claimed and loaded while
        another is being sent; their sends share the channels' places (self.ledger). Their
        claims never overlap (SKIP LOCKED and the lease)."""
        loops = self.settings.worker_concurrency if self.db.is_postgresql else 1
        await asyncio.gather(*(self._loop(stop) for _ in range(loops)))

    async def _loop(self, stop: asyncio.Event) -> None:
        pause = self.settings.worker_poll_seconds
        interval = self.settings.worker_wave_interval_ms / 1000
        while not stop.is_set():
            # Cleared before the claim, not after: an alert committed while this batch is
            # out must wake the loop at once rather than wait for the next poll.
            self.wake.clear()
            started = time.monotonic()
            try:
                handled = await self.run_once()
                if handled:
                    self._last_found = max(self._last_found, started)
                pause = self.settings.worker_poll_seconds
            except (sa.exc.DBAPIError, OSError) as exc:
                logger.warning(
                    "delivery worker: database unavailable (%s); retrying", type(exc).__name__
                )
                handled = 0
                pause = min(pause * 2, 10.0)
            if handled >= self.settings.worker_batch_size:
                continue
            await until_any(pause, self.wake, stop)
            # Woken soon after a claim (of any loop) that found deliveries, i.e. alerts
            # streaming in: the next claim waits for the interval to pass, taking every
            # alert committed meanwhile. A quiet worker claims at once.
            await rest_of_wave(interval, self._last_found, stop)

    async def run_once(self) -> int:
        """Claim one batch, send it, record it; the number of deliveries handled."""
        now = self.clock()
        closed = [c for c, breaker in self.breakers.items() if not breaker.allows(now)]
        for channel, breaker in self.breakers.items():
            metrics.BREAKER_OPEN.labels(self.channels[channel].provider).set(int(breaker.is_open))
        async with self._claiming, self.db.transaction() as session:
            claims = await outbox.claim_due(
                session,
                worker_id=self.worker_id,
                now=now,
                lease=self.lease,
                limit=self.settings.worker_batch_size,
                skip_channels=closed,
            )
            in_doubt = [claim.id for claim in claims if claim.send_started_at is not None]
            if in_doubt:
                await count_in_doubt(session, in_doubt, worker_id=self.worker_id, now=now)
        if not claims:
            return 0
        ids = [claim.id for claim in claims]
        try:
            attempts = await self._load(ids)
        except (sa.exc.DBAPIError, OSError):
            # Nothing was sent: give the claim back rather than let it wait out the lease.
            await self._until_stored(f"release {len(ids)} claimed deliveries", self._release, ids)
            raise
        # A send not started by then waits for the next claim: the batch must be recorded
        # well before its lease runs out, or another worker would send it again. Each
        # batch has its own (the claim loops run side by side).
        deadline = time.monotonic() + self.lease.total_seconds() / 2
        await asyncio.gather(*(self._send(attempt, deadline) for attempt in attempts))
        return len(attempts)

    async def _load(self, ids: list[int]) -> list[_Attempt]:
        async with self.db.session() as session:
            claimed = await outbox.load_claimed(session, ids)
            devices = await outbox.push_tokens(session, {user.id for _, _, user in claimed})
            opted_out = await sms_consent.opted_out_numbers(
                session, {user.phone for _, _, user in claimed if user.phone}
            )
        return [
            _Attempt(delivery, alert, user, devices.get(user.id, []), user.phone in opted_out)
            for delivery, alert, user in claimed
        ]

    async def _release(self, ids: list[int]) -> None:
        async with self.db.transaction() as session:
            await outbox.release(session, ids, worker_id=self.worker_id, now=self.clock())

    async def _write(self, attempts: list[_Attempt], to_mark: list[int]) -> set[int]:
        """Record outcomes and mark the next sends as started, in one transaction; the ids
        marked. What was sent must be recorded, or it would be sent again when the lease
        runs out: while our lease holds, a database outage is waited out rather than given
        up. A mark is not retried: a send not marked does not go out."""
        try:
            return await self._record(attempts, to_mark)
        except (sa.exc.DBAPIError, OSError) as exc:
            if to_mark:
                logger.warning(
                    "delivery worker: could not mark %d sends as started (%s)",
                    len(to_mark),
                    type(exc).__name__,
                )
            if not attempts:
                return set()
        await self._until_stored(f"record {len(attempts)} outcomes", self._record, attempts)
        return set()

    async def _until_stored(
        self, what: str, write: Callable[[list[_T]], Awaitable[object]], items: list[_T]
    ) -> None:
        deadline = time.monotonic() + self.lease.total_seconds() * 0.8
        pause = 0.2
        while True:
            try:
                await write(items)
                return
            except (sa.exc.DBAPIError, OSError) as exc:
                if time.monotonic() + pause > deadline:
                    raise
                logger.warning(
                    "delivery worker: could not %s (%s); retrying", what, type(exc).__name__
                )
                await asyncio.sleep(pause)
                pause = min(pause * 2, 5.0)

    async def _send(self, attempt: _Attempt, deadline: float) -> None:
        channel = attempt.delivery.channel
        breaker = self.breakers[channel]
        destinations = self._destinations(attempt)
        if destinations and self._may_send(attempt, deadline):
            attempt.marked = await self.ledger.start(channel, attempt.delivery.id)
            if not attempt.marked:
                attempt.deferred = True
            # Checked again: the wait for a place may have outlasted the deadline, or
            # failures of the sends before it opened the breaker.
            elif self._may_send(attempt, deadline):
                await self._send_now(attempt, destinations)
        if attempt.receipt is not None:
            breaker.succeeded()
        elif attempt.error is not None and attempt.error.transient:
            breaker.failed(self.clock())
        # A marked send keeps its place until its outcome is written: a worker killed
        # now leaves it in doubt, and never more sends than its places.
        await self.ledger.recorded(attempt, marked_on=channel if attempt.marked else None)

    def _may_send(self, attempt: _Attempt, deadline: float) -> bool:
        """False, and the attempt deferred, past the deadline or while the breaker is open."""
        breaker = self.breakers[attempt.delivery.channel]
        attempt.deferred = time.monotonic() > deadline or breaker.blocks(self.clock())
        return not attempt.deferred

    async def _send_now(self, attempt: _Attempt, destinations: list[str]) -> None:
        channel = attempt.delivery.channel
        sender = self.channels[channel]
        stale: list[str] = []
        for to in destinations:
            started = time.perf_counter()
            try:
                message = render(attempt.alert, channel, to, public_url=self.settings.public_url)
                attempt.receipt = await sender.send(message)
                attempt.error = None
            except DeliveryError as exc:
                attempt.error = exc
                if exc.stale_destination and channel is NotificationChannel.PUSH:
                    stale.append(to)
            finally:
                attempt.latency += time.perf_counter() - started
                metrics.PROVIDER_LATENCY.labels(sender.provider).observe(
                    time.perf_counter() - started
                )
            if attempt.receipt is not None:
                break  # one device of the customer's is enough
        attempt.stale_tokens = tuple(stale)

    def _destinations(self, attempt: _Attempt) -> list[str]:
        channel, user = attempt.delivery.channel, attempt.user
        if channel is NotificationChannel.PUSH:
            tokens = [d.push_token for d in attempt.devices if d.push_token]
            if not tokens:
                attempt.error = DeliveryError("no registered push device", transient=False)
            return tokens
        if channel is NotificationChannel.SMS:
            if user.phone and user.phone_verified_at and attempt.sms_opted_out:
                attempt.skipped = SMS_OPTED_OUT
                return []
            if user.phone and user.phone_verified_at:
                return [user.phone]
            attempt.skipped = "no verified phone number"
            return []
        if user.email and user.email_verified_at:
            return [user.email]
        attempt.skipped = "no verified email address"
        return []

    async def _record(self, attempts: list[_Attempt], to_mark: Sequence[int] = ()) -> set[int]:
        """Record outcomes and mark sends as started, in one transaction; the ids marked.
        Marks alone are one statement. On PostgreSQL a wave with nothing to do after its
        write (no stale push token, opt-out or fallback) is one round trip, its commit
        included (outbox.record_wave); otherwise the write and what follows it share a
        session's transaction."""
        now = self.clock()
        if not attempts:
            async with self.db.statement() as connection:
                return await outbox.mark_started(
                    connection, to_mark, worker_id=self.worker_id, now=now
                )
        outcomes = {a.delivery.id: self._outcome(a, now) for a in attempts}
        wave = outbox.Wave(
            rows=[row for row, _ in outcomes.values()],
            to_mark=to_mark,
            audit_rows=[
                (a.delivery.id, self._audit_row(a, row, outcome, now))
                for a in attempts
                for row, outcome in [outcomes[a.delivery.id]]
                if outcome != "deferred"
            ],
            alert_ids=[a.alert.id for a in attempts if a.alert.id is not None],
            worker_id=self.worker_id,
            now=now,
        )
        follow_up = [a for a in attempts if self._follows_up(a, outcomes[a.delivery.id][1])]
        if self.db.is_postgresql and not follow_up:
            async with self.db.engine.connect() as connection:
                owned, marked = await outbox.record_wave(connection, wave)
            self._count(attempts, outcomes, owned, now)
            return marked
        async with self.db.transaction() as session:
            # Rows whose lease ran out were taken over by another worker: its record stands.
            owned, marked = await outbox.record_outcomes(session, wave)
            self._count(attempts, outcomes, owned, now)
            for attempt in follow_up:
                if attempt.delivery.id in owned:
                    await self._follow_up(session, attempt, outcomes[attempt.delivery.id], now)
        return marked

    def _count(
        self,
        attempts: list[_Attempt],
        outcomes: dict[int, tuple[dict[str, object], str]],
        owned: set[int],
        now: datetime,
    ) -> None:
        """The metrics of the outcomes written; a row taken over by another worker is not."""
        for attempt in attempts:
            if attempt.delivery.id not in owned:
                logger.warning("delivery %s was taken over by another worker", attempt.delivery.id)
                continue
            outcome = outcomes[attempt.delivery.id][1]
            metrics.DELIVERIES.labels(attempt.delivery.channel.value, outcome).inc()
            if outcome == "sent":
                metrics.LAG.labels(attempt.delivery.channel.value).observe(
                    max(0.0, (now - attempt.alert.created_at).total_seconds())
                )

    def _follows_up(self, attempt: _Attempt, outcome: str) -> bool:
        """Whether writing this outcome calls for more: a failure to announce (signed
        webhooks), a stale push token to deactivate, an opt-out to keep, or a fallback
        channel to add."""
        return bool(
            outcome == "failed"
            or attempt.stale_tokens
            or (attempt.error is not None and attempt.error.opted_out and attempt.user.phone)
            or self._unreachable(attempt, outcome)
        )

    async def _follow_up(
        self,
        session: AsyncSession,
        attempt: _Attempt,
        outcome: tuple[dict[str, object], str],
        now: datetime,
    ) -> None:
        row, name = outcome
        if name == "failed":
            emit(
                session,
                WebhookEventType.DELIVERY_FAILED,
                delivery_failed(
                    delivery_id=attempt.delivery.id,
                    alert_id=attempt.delivery.alert_id,
                    mobile_user_id=attempt.user.id,
                    channel=attempt.delivery.channel.value,
                    attempts=int(str(row["attempts"])),
                    error=attempt.error.reason if attempt.error else None,
                ),
                occurred_at=now,
            )
        for token in attempt.stale_tokens:
            await self._deactivate(session, attempt, token, now)
        if attempt.error is not None and attempt.error.opted_out and attempt.user.phone:
            await sms_consent.record_opt_out(
                session,
                phone=attempt.user.phone,
                source="twilio error 21610",
                by_customer=False,
                now=now,
            )
            attempt.sms_opted_out = True
        # The wave's alerts are locked (outbox.record_outcomes): two workers finishing
        # channels of one alert add its fallback once.
        if self._unreachable(attempt, name):
            await self._fall_back(session, attempt, now)

    def _outcome(self, attempt: _Attempt, now: datetime) -> tuple[dict[str, object], str]:
        """The delivery row's new values, and the outcome's name for metrics and audit."""
        delivery = attempt.delivery
        channel = delivery.channel
        breaker = self.breakers[channel]
        row: dict[str, object] = {
            "delivery_id": delivery.id,
            "status": delivery.status,
            "attempts": delivery.attempts + (0 if attempt.skipped else 1),
            "last_error": delivery.last_error,
            "next_attempt_at": delivery.next_attempt_at,
            "sent_at": delivery.sent_at,
            "provider_message_id": delivery.provider_message_id,
        }
        if attempt.deferred:
            # Not attempted: due again when the breaker lets the channel through.
            row.update(attempts=delivery.attempts)
            if breaker.open_until is not None:
                row.update(next_attempt_at=max(delivery.next_attempt_at, breaker.open_until))
            return row, "deferred"
        if attempt.skipped:
            row.update(status=DeliveryStatus.SKIPPED, last_error=attempt.skipped)
            return row, "skipped"
        if attempt.receipt is not None:
            row.update(
                status=DeliveryStatus.SENT,
                sent_at=now,
                provider_message_id=attempt.receipt.provider_message_id,
                last_error=None,
            )
            return row, "sent"
        error = attempt.error
        assert error is not None
        tries = int(str(row["attempts"]))
        if error.transient and not exhausted(tries, self.settings.worker_max_attempts):
            row.update(
                last_error=error.reason,
                next_attempt_at=now + backoff(tries, retry_after=error.retry_after),
            )
            return row, "retry"
        row.update(status=DeliveryStatus.FAILED, last_error=error.reason)
        return row, "failed"

    def _audit_row(
        self, attempt: _Attempt, row: dict[str, object], outcome: str, now: datetime
    ) -> dict[str, object]:
        delivery = attempt.delivery
        return audit_trail.row(
            actor_role="system",
            actor_id=self.worker_id,
            action="delivery.attempted",
            occurred_at=now,
            mobile_user_id=attempt.user.id,
            subject_type="delivery",
            subject_id=str(delivery.id),
            details={
                "alertId": delivery.alert_id,
                "channel": delivery.channel.value,
                "outcome": outcome,
                "attempt": row["attempts"],
                "error": (attempt.error.reason if attempt.error and outcome != "sent" else None)
                or attempt.skipped,
                "providerMessageId": attempt.receipt.provider_message_id
                if attempt.receipt
                else None,
            },
        )

    async def _deactivate(
        self, session: AsyncSession, attempt: _Attempt, token: str, now: datetime
    ) -> None:
        for device in attempt.devices:
            if device.push_token == token:
                await session.exec(
                    sa.update(outbox.DEVICES)
                    .where(outbox.DEVICES.c.id == device.id)
                    .values(push_token_active=False, updated_at=now)
                )
                audit_trail.record(
                    session,
                    actor_role="system",
                    actor_id=self.worker_id,
                    action="device.push_token_deactivated",
                    occurred_at=now,
                    mobile_user_id=attempt.user.id,
                    subject_type="device",
                    subject_id=device.device_id,
                    details={"reason": attempt.error.reason if attempt.error else None},
                )

    @staticmethod
    def _unreachable(attempt: _Attempt, outcome: str) -> bool:
        """A security alert's channel that cannot reach the customer: a push that failed,
        or an SMS to a number that opted out."""
        if attempt.alert.alert_type not in SECURITY_ALERTS:
            return False
        channel = attempt.delivery.channel
        if channel is NotificationChannel.PUSH:
            return outcome == "failed"
        return (
            channel is NotificationChannel.SMS
            and attempt.sms_opted_out
            and outcome in ("skipped", "failed")
        )

    async def _fall_back(self, session: AsyncSession, attempt: _Attempt, now: datetime) -> None:
        """Security alerts must reach the customer: add the next channel that may."""
        tried = {
            NotificationChannel(channel): DeliveryStatus(status)
            for channel, status in (
                await session.exec(
                    select(AlertDelivery.channel, AlertDelivery.status).where(
                        col(AlertDelivery.alert_id) == attempt.delivery.alert_id
                    )
                )
            ).all()
        }
        target = fallback_channel(
            attempt.delivery.channel, tried, sms_opted_out=attempt.sms_opted_out
        )
        if target is None:
            return
        session.add(
            AlertDelivery(
                alert_id=attempt.delivery.alert_id,
                channel=target,
                next_attempt_at=now,
                created_at=now,
                updated_at=now,
            )
        )
        audit_trail.record(
            session,
            actor_role="system",
            actor_id=self.worker_id,
            action="delivery.fallback",
            occurred_at=now,
            mobile_user_id=attempt.user.id,
            subject_type="alert",
            subject_id=str(attempt.delivery.alert_id),
            details={
                "from": attempt.delivery.channel.value,
                "to": target.value,
                "because": attempt.error.reason if attempt.error else attempt.skipped,
            },
        )
