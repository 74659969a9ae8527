"""Live in-app alerts: each subscriber gets the new alerts of one mobile user.

Within a process, an AlertBroker fans new alert ids out to subscriptions. Across processes
on PostgreSQL, the transaction that stores an alert also sends NOTIFY alert_created (so it
is heard only if it commits), and every process LISTENs and feeds its own broker."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import AsyncIterator, Callable

import psycopg
from sqlalchemy.engine import make_url

from account_alerts.store.announcements import ALERT_CHANNEL

logger = logging.getLogger("account_alerts.in_app")


class AlertBroker:
    """In-process fan-out of new alert ids to the subscriptions of their owner."""

    def __init__(self, queue_size: int = 100) -> None:
        self._queues: dict[int, set[asyncio.Queue[int]]] = defaultdict(set)
        self._queue_size = queue_size
        self._listeners: list[Callable[[], None]] = []

    def on_publish(self, listener: Callable[[], None]) -> None:
        """Called after each publish, e.g. to wake the delivery worker."""
        self._listeners.append(listener)

    def publish(self, mobile_user_id: int, alert_id: int) -> None:
        for queue in self._queues.get(mobile_user_id, ()):
            if queue.full():
                # A stalled client loses the oldest live update; the alert stays in history.
                queue.get_nowait()
            queue.put_nowait(alert_id)
        for listener in self._listeners:
            listener()

    async def subscribe(self, mobile_user_id: int) -> AsyncIterator[int]:
        queue: asyncio.Queue[int] = asyncio.Queue(self._queue_size)
        self._queues[mobile_user_id].add(queue)
        try:
            while True:
                yield await queue.get()
        finally:
            self._queues[mobile_user_id].discard(queue)
            if not self._queues[mobile_user_id]:
                del self._queues[mobile_user_id]

    def subscriber_count(self, mobile_user_id: int) -> int:
        return len(self._queues.get(mobile_user_id, ()))


async def listen_for_alerts(database_url: str, broker: AlertBroker, stop: asyncio.Event) -> None:
    """Feed ``broker`` from PostgreSQL notifications until ``stop``; reconnects on failure."""
    conninfo = (
        make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)
    )
    pause = 0.5
    while not stop.is_set():
        try:
            async with await psycopg.AsyncConnection.connect(conninfo, autocommit=True) as conn:
                await conn.execute(f"LISTEN {ALERT_CHANNEL}")
                pause = 0.5
                generator = conn.notifies()
                stopper = asyncio.create_task(stop.wait())
                try:
                    while not stop.is_set():
                        waiter = asyncio.create_task(anext(generator))
                        done, _ = await asyncio.wait(
                            {waiter, stopper}, return_when=asyncio.FIRST_COMPLETED
                        )
                        if waiter not in done:
                            waiter.cancel()
                            break
                        user, _, alert = waiter.result().payload.partition(":")
                        broker.publish(int(user), int(alert))
                finally:
                    stopper.cancel()
        except (psycopg.Error, OSError) as exc:
            logger.warning("alert notifications: %s; reconnecting", type(exc).__name__)
            try:
                await asyncio.wait_for(stop.wait(), timeout=pause)
            except TimeoutError:
                pause = min(pause * 2, 10.0)
