"""Outcomes are recorded as sends complete, not once per batch: what a worker has sent and
not yet recorded is never more than a few milliseconds' worth, so a worker killed
mid-batch leaves in doubt only what was on the wire."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

Outcome = TypeVar("Outcome")


class OutcomeRecorder(Generic[Outcome]):
    """Buffers finished sends and writes them with ``record``, one write at a time: when
    ``at_most`` are waiting, or ``within`` seconds after the first of them finished,
    whichever comes first."""

    def __init__(
        self,
        record: Callable[[list[Outcome]], Awaitable[None]],
        *,
        at_most: int,
        within: float,
    ) -> None:
        self.record = record
        self.at_most = at_most
        self.within = within
        self._buffer: list[Outcome] = []
        self._full = asyncio.Event()
        self._closing = False
        self._writer: asyncio.Task[None] | None = None

    def add(self, outcome: Outcome) -> None:
        self._buffer.append(outcome)
        if len(self._buffer) >= self.at_most:
            self._full.set()
        if self._writer is None:
            self._writer = asyncio.create_task(self._write())

    async def close(self) -> None:
        """Record everything still buffered; raises what the last write raised."""
        self._closing = True
        self._full.set()
        if self._writer is None and self._buffer:
            self._writer = asyncio.create_task(self._write())
        if self._writer is not None:
            await self._writer

    async def _write(self) -> None:
        while self._buffer:
            if not self._closing:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._full.wait(), self.within)
            self._full.clear()
            batch, self._buffer = self._buffer, []
            await self.record(batch)
        self._writer = None
