"""Sends are marked as started before they go out, so a worker that dies leaves a trace of
exactly the sends that were on the wire. The sends that ask at the same moment (a wave of
free provider slots) are marked together, in one statement."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime

import sqlalchemy as sa

from account_alerts.store import outbox
from account_alerts.store.database import Database

logger = logging.getLogger("account_alerts.worker")


class SendMarks:
    def __init__(self, *, db: Database, worker_id: str, clock: Callable[[], datetime]) -> None:
        self.db = db
        self.worker_id = worker_id
        self.clock = clock
        self._waiting: dict[int, asyncio.Future[bool]] = {}
        self._writer: asyncio.Task[None] | None = None

    async def started(self, delivery_id: int) -> bool:
        """Mark the send of ``delivery_id`` as started; whether it may go out (False: the
        delivery is no longer this worker's, or the mark could not be written)."""
        mark: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._waiting[delivery_id] = mark
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write())
        return await mark

    async def _write(self) -> None:
        while self._waiting:
            # One turn of the loop: the other sends given a slot at this moment ask too.
            await asyncio.sleep(0)
            batch, self._waiting = self._waiting, {}
            try:
                async with self.db.statement() as connection:
                    marked = await outbox.mark_started(
                        connection, sorted(batch), worker_id=self.worker_id, now=self.clock()
                    )
            except (sa.exc.DBAPIError, OSError) as exc:
                # Not marked, not sent: the delivery is recorded as not attempted.
                logger.warning(
                    "delivery worker: could not mark %d sends as started (%s)",
                    len(batch),
                    type(exc).__name__,
                )
                marked = set()
            for delivery_id, mark in batch.items():
                if not mark.done():
                    mark.set_result(delivery_id in marked)
