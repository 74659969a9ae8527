"""Outcomes are recorded as sends complete, not once per batch. A send that went out keeps
its provider slot until its outcome is written, so a worker killed at any moment leaves in
doubt only the sends that hold a slot: those on the wire, and those whose outcome is being
written."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

Outcome = TypeVar("Outcome")


class OutcomeRecorder(Generic[Outcome]):
    """Buffers finished sends and writes them with ``record``, one write at a time: at once
    when no send that started is still out (a wave of sends has come back), else when
    ``at_most`` are waiting or ``within`` seconds after the first, whichever comes first.
    One per worker: the waves of its claim loops are written together."""

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
        self._written: list[asyncio.Future[None]] = []
        self._out = 0
        self._ready = asyncio.Event()
        self._writer: asyncio.Task[None] | None = None

    def sending(self) -> None:
        """A send is going out; its outcome will follow through ``recorded``."""
        self._out += 1

    async def recorded(self, outcome: Outcome, *, went_out: bool = True) -> None:
        """Buffer an outcome (of a send that went out, announced by ``sending``, or not)
        and wait until it is written; raises what its write raised."""
        if went_out:
            self._out -= 1
        written: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._written.append(written)
        self._buffer.append(outcome)
        if len(self._buffer) >= self.at_most or self._out == 0:
            self._ready.set()
        if self._writer is None:
            self._writer = asyncio.create_task(self._write())
        await written

    async def _write(self) -> None:
        while self._buffer:
            if not self._ready.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._ready.wait(), self.within)
            self._ready.clear()
            batch, self._buffer = self._buffer, []
            written, self._written = self._written, []
            try:
                await self.record(batch)
            except Exception as exc:
                for waiter in written:
                    if not waiter.done():
                        waiter.set_exception(exc)
                continue
            for waiter in written:
                if not waiter.done():
                    waiter.set_result(None)
        self._writer = None
