"""The webhook dispatcher, in the delivery worker's process: fans new events out to the
endpoints subscribed, claims due deliveries under a lease, signs and posts each, and
records every try.

Delivery is at least once: a try whose answer was not recorded (a worker killed, a lease
run out) is made again with the same webhook-id. Order is not promised, not even per
endpoint: retries and concurrent tries overtake one another.

A slow or dead endpoint holds only its own places (``webhook_endpoint_concurrency``
requests in flight, a claim takes no more than that of its deliveries) and, after
repeated failures, its circuit breaker keeps it out of claims for a while. Each try runs
on its own: the claim loop never waits for a batch's answers, so other endpoints and the
customers' alerts go on."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import socket
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

import sqlalchemy as sa

from account_alerts.config import Settings
from account_alerts.delivery.breaker import CircuitBreaker
from account_alerts.delivery.waiting import rest_of_wave, until_any
from account_alerts.delivery.webhooks import destinations, signing
from account_alerts.delivery.webhooks.secrets import SecretBox, secret_key
from account_alerts.delivery.webhooks.sender import Answer, WebhookSender
from account_alerts.domain.webhooks import GONE, WebhookDeliveryStatus, ends_delivery, retry_delay
from account_alerts.store import webhook_endpoints, webhook_outbox
from account_alerts.store.database import Database
from account_alerts.store.webhook_outbox import ClaimedWebhook, Outcome

logger = logging.getLogger("account_alerts.webhooks")

# Finished tries are written together: when this many wait, or this long after the first.
# (A try not yet recorded when the worker dies is made again: webhooks are at least once.)
RECORD_AT_MOST = 256
RECORD_WITHIN_SECONDS = 0.02


def _worker_id() -> str:
    return f"wh-{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


class WebhookDispatcher:
    def __init__(
        self,
        *,
        db: Database,
        settings: Settings,
        clock: Callable[[], datetime],
        worker_id: str | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.db = db
        self.settings = settings
        self.clock = clock
        self.worker_id = worker_id or _worker_id()
        self.rng = rng or random.Random()  # noqa: S311 - jitter, not a secret
        self.sender = WebhookSender(
            timeout=settings.webhook_timeout_seconds,
            max_response_bytes=settings.webhook_max_response_bytes,
            connections=max(64, settings.webhook_batch_size),
            networks=settings.webhook_networks,
        )
        self.lease = timedelta(seconds=settings.webhook_lease_seconds)
        self._can_sign = bool(settings.webhook_keys)
        self.wake = asyncio.Event()
        self._breakers: dict[int, CircuitBreaker] = {}
        self._places: dict[int, asyncio.Semaphore] = {}
        # Per endpoint: deliveries claimed and not yet answered.
        self._claimed: dict[int, int] = {}
        self._tries: set[asyncio.Task[None]] = set()
        self._finished: list[Outcome] = []
        self._writer: asyncio.Task[None] | None = None
        self._keys: dict[str, bytes] = {}
        self._refusals: dict[str, str | None] = {}

    async def run(self, stop: asyncio.Event) -> None:
        """Dispatch until ``stop`` is set; database outages are waited out."""
        pause = self.settings.webhook_poll_seconds
        interval = self.settings.webhook_wave_interval_ms / 1000
        last_found = -interval
        try:
            while not stop.is_set():
                # Cleared before the pass: an event committed meanwhile wakes the next one.
                self.wake.clear()
                started = time.monotonic()
                try:
                    handled = await self.run_once()
                    if handled:
                        last_found = started
                    pause = self.settings.webhook_poll_seconds
                except (sa.exc.DBAPIError, OSError) as exc:
                    logger.warning(
                        "webhooks: database unavailable (%s); retrying", type(exc).__name__
                    )
                    handled = 0
                    pause = min(pause * 2, 10.0)
                if handled >= self.settings.webhook_batch_size:
                    continue
                await until_any(pause, self.wake, stop)
                await rest_of_wave(interval, last_found, stop)
        finally:
            await self.close()

    async def run_once(self) -> int:
        """Fan out new events, claim due deliveries and start their tries (not waiting
        for them); the number of events and deliveries taken up."""
        now = self.clock()
        per_endpoint = self.settings.webhook_endpoint_concurrency
        busy = {e for e, count in self._claimed.items() if count >= per_endpoint}
        busy |= {e for e, breaker in self._breakers.items() if not breaker.allows(now)}
        # One transaction: a claim whose rows cannot be read is never committed, so no
        # delivery waits out a lease because the database failed in between.
        async with self.db.transaction() as session:
            fanned = await webhook_outbox.fan_out(
                session, now=now, limit=self.settings.webhook_batch_size
            )
            if not self._can_sign:
                return fanned  # no secret can be read: nothing is signed (README, settings)
            ids = await webhook_outbox.claim_due(
                session,
                worker_id=self.worker_id,
                now=now,
                lease=self.lease,
                limit=self.settings.webhook_batch_size,
                per_endpoint=per_endpoint,
                skip_endpoints=busy,
            )
            claimed = await webhook_outbox.load_claimed(session, ids) if ids else []
        for delivery in claimed:
            self._claimed[delivery.endpoint_id] = self._claimed.get(delivery.endpoint_id, 0) + 1
            task = asyncio.create_task(self._deliver(delivery))
            self._tries.add(task)
            task.add_done_callback(self._tries.discard)
        return fanned + len(claimed)

    async def drain(self, rounds: int = 10) -> int:
        """Run rounds until nothing is due, each waiting for its tries to be recorded (for
        tests, benchmarks and a graceful stop)."""
        total = 0
        for _ in range(rounds):
            handled = await self.run_once()
            await self.settled()
            total += handled
            if not handled:
                break
        return total

    async def settled(self) -> None:
        """Wait for the tries in flight and for their outcomes to be written."""
        while self._tries or self._writer is not None:
            await asyncio.gather(*self._tries, *([self._writer] if self._writer else []))

    async def close(self) -> None:
        """Let the tries in flight finish within the timeout, then stop; a try cut short
        is made again after its lease (the same webhook-id)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.settled(), self.settings.webhook_timeout_seconds + 1)
        for task in list(self._tries):
            task.cancel()
        await self.sender.close()

    def _place(self, endpoint_id: int) -> asyncio.Semaphore:
        place = self._places.get(endpoint_id)
        if place is None:
            place = self._places[endpoint_id] = asyncio.Semaphore(
                self.settings.webhook_endpoint_concurrency
            )
        return place

    def _breaker(self, endpoint_id: int) -> CircuitBreaker:
        breaker = self._breakers.get(endpoint_id)
        if breaker is None:
            breaker = self._breakers[endpoint_id] = CircuitBreaker(
                self.settings.breaker_failures,
                timedelta(seconds=self.settings.breaker_cooldown_seconds),
            )
        return breaker

    async def _deliver(self, delivery: ClaimedWebhook) -> None:
        try:
            async with self._place(delivery.endpoint_id):
                now = self.clock()
                answer = await self._post(delivery, now)
            breaker = self._breaker(delivery.endpoint_id)
            if answer.status_code is not None and ends_delivery(answer.status_code):
                breaker.succeeded()
            elif (
                answer.status_code is None or answer.status_code >= 500 or answer.status_code == 429
            ):
                breaker.failed(self.clock())
            self._finish(self._outcome(delivery, answer, now))
        except Exception:
            # Left to its lease: tried again later, with the same webhook-id.
            logger.exception("webhooks: delivery %s could not be tried", delivery.delivery_id)
        finally:
            # Its place is free once the answer is in (its outcome is written in the next
            # batch): the claim loop may take the endpoint's next delivery at once.
            self._claimed[delivery.endpoint_id] -= 1
            self.wake.set()

    async def _post(self, delivery: ClaimedWebhook, now: datetime) -> Answer:
        refused = self._refusal(delivery.url)
        if refused is not None:
            return Answer(None, 0.0, refused)
        headers = signing.headers(
            self._signing_keys(delivery, now),
            delivery.message_id,
            int(now.timestamp()),
            delivery.body,
        )
        return await self.sender.post(delivery.url, headers, delivery.body)

    def _refusal(self, url: str) -> str | None:
        """Why a URL may not be posted to, or None; the answer kept per URL (the settings
        it depends on do not change while the worker runs). A host name's addresses are
        checked as it is resolved for each connection."""
        if url in self._refusals:
            return self._refusals[url]
        try:
            destination = destinations.parse(url, allow_http=not self.settings.is_production)
            destinations.check_literal(destination, self.sender.networks)
            refused = None
        except destinations.RefusedDestination as exc:
            refused = f"refused: {exc}"
        if len(self._refusals) > 10_000:
            self._refusals.clear()
        self._refusals[url] = refused
        return refused

    def _signing_keys(self, delivery: ClaimedWebhook, now: datetime) -> list[bytes]:
        keys = [self._key(delivery.secret_encrypted)]
        expires = delivery.previous_secret_expires_at
        if delivery.previous_secret_encrypted and expires is not None and now < expires:
            keys.append(self._key(delivery.previous_secret_encrypted))
        return keys

    def _key(self, sealed: str) -> bytes:
        key = self._keys.get(sealed)
        if key is None:
            key = self._keys[sealed] = secret_key(
                SecretBox(self.settings.webhook_keys).open(sealed)
            )
        return key

    def _outcome(self, delivery: ClaimedWebhook, answer: Answer, now: datetime) -> Outcome:
        tries = delivery.tries + 1
        code = answer.status_code
        error = answer.error
        if code is not None and not ends_delivery(code):
            error = f"HTTP {code}: {answer.body.decode(errors='replace')}".strip()[:1000]
        if code is not None and ends_delivery(code):
            status, next_at = WebhookDeliveryStatus.DELIVERED, now
        elif code == GONE:
            status, next_at = WebhookDeliveryStatus.FAILED, now
        else:
            wait = retry_delay(tries, self.settings.webhook_retry_schedule, self.rng.uniform(-1, 1))
            if wait is None:
                status, next_at = WebhookDeliveryStatus.FAILED, now
            else:
                status, next_at = WebhookDeliveryStatus.PENDING, now + wait
        return Outcome(
            delivery_id=delivery.delivery_id,
            endpoint_id=delivery.endpoint_id,
            attempted_at=now,
            status_code=code,
            latency_ms=answer.latency_ms,
            error=error,
            status=status,
            tries=tries,
            next_attempt_at=next_at,
            gone=code == GONE,
        )

    def _finish(self, outcome: Outcome) -> None:
        self._finished.append(outcome)
        if self._writer is None:
            self._writer = asyncio.create_task(self._write_finished())

    async def _write_finished(self) -> None:
        """Write finished tries in batches until none wait. A batch that cannot be written
        within its lease is left to expire: those deliveries are tried again."""
        try:
            while self._finished:
                started = time.monotonic()
                while (
                    len(self._finished) < RECORD_AT_MOST
                    and time.monotonic() - started < RECORD_WITHIN_SECONDS
                    and self._tries
                ):
                    await asyncio.sleep(RECORD_WITHIN_SECONDS / 2)
                batch, self._finished = self._finished, []
                await self._record(batch)
        finally:
            self._writer = None

    async def _record(self, batch: list[Outcome]) -> None:
        deadline = time.monotonic() + self.lease.total_seconds() * 0.8
        pause = 0.2
        while True:
            try:
                await self._write(batch)
                return
            except (sa.exc.DBAPIError, OSError) as exc:
                if time.monotonic() + pause > deadline:
                    logger.warning("webhooks: %d outcomes not recorded (%s)", len(batch), exc)
                    return
                await asyncio.sleep(pause)
                pause = min(pause * 2, 5.0)

    async def _write(self, batch: list[Outcome]) -> None:
        now = self.clock()
        async with self.db.transaction() as session:
            written = await webhook_outbox.record(session, batch, worker_id=self.worker_id, now=now)
            for endpoint_id in sorted({o.endpoint_id for o in written if o.gone}):
                endpoint = await webhook_endpoints.locked_endpoint(session, endpoint_id)
                if endpoint is not None:
                    await webhook_endpoints.disable(
                        session,
                        endpoint,
                        reason="the receiver answered 410 Gone",
                        actor_role="system",
                        actor_id=self.worker_id,
                        now=now,
                    )
        if len(written) < len(batch):
            logger.warning(
                "webhooks: %d deliveries were taken over by another worker",
                len(batch) - len(written),
            )
