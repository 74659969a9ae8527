"""Live in-app alerts: each subscriber gets the new alerts of one mobile user."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterator


class AlertBroker:
    """In-process fan-out of new alert ids to the subscriptions of their owner."""

    def __init__(self, queue_size: int = 100) -> None:
        self._queues: dict[int, set[asyncio.Queue[int]]] = defaultdict(set)
        self._queue_size = queue_size

    def publish(self, mobile_user_id: int, alert_id: int) -> None:
        for queue in self._queues.get(mobile_user_id, ()):
            if queue.full():
                # A stalled client loses the oldest live update; the alert stays in history.
                queue.get_nowait()
            queue.put_nowait(alert_id)

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
