"""Start marks and outcomes, written together. A send is marked as started before it goes
out and counts against its channel's places until its outcome is written, so a worker
killed at any moment leaves in doubt at most ``in_flight`` sends per channel. The write
that records the outcomes of sends that came back also marks the sends that take their
places: one write per wave, not one to mark and one to record."""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

Outcome = TypeVar("Outcome")
Channel = TypeVar("Channel", bound=Hashable)

# Writes the outcomes and marks the sends of the given delivery ids, in one transaction;
# returns the ids marked (those still this worker's to send).
Write = Callable[[list[Outcome], list[int]], Awaitable[set[int]]]


@dataclass
class _Asking:
    delivery_id: int
    granted: asyncio.Future[bool]


class SendLedger(Generic[Channel, Outcome]):
    """Marks are granted in order per channel, never more than ``in_flight`` marked sends
    without a written outcome. Outcomes are written at once when every marked send has come
    back (a wave), else when ``at_most`` are waiting or ``within`` seconds after the first,
    whichever comes first; a send asking for a mark while its channel has a free place is
    marked at once. One write at a time, one ledger per worker: its claim loops share it."""

    def __init__(
        self, write: Write[Outcome], *, in_flight: int, at_most: int, within: float
    ) -> None:
        self.write = write
        self.in_flight = in_flight
        self.at_most = at_most
        self.within = within
        self._asking: dict[Channel, deque[_Asking]] = {}
        self._marked: dict[Channel, int] = {}  # marked, outcome not yet written
        self._out = 0  # marked and not yet back
        self._outcomes: list[tuple[Channel | None, Outcome, asyncio.Future[None]]] = []
        self._ready = asyncio.Event()
        self._writer: asyncio.Task[None] | None = None

    async def start(self, channel: Channel, delivery_id: int) -> bool:
        """Wait for a place on ``channel`` and the write that marks this send as started;
        whether it may go out (False: no longer this worker's, or the mark failed)."""
        granted: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._asking.setdefault(channel, deque()).append(_Asking(delivery_id, granted))
        if self._has_free_place():
            self._ready.set()
        self._wake_writer()
        return await granted

    async def recorded(self, outcome: Outcome, *, marked_on: Channel | None = None) -> None:
        """Buffer an outcome and wait until it is written; raises what its write raised.
        ``marked_on``: the channel whose mark (from ``start``) this outcome settles; None
        for a send that was never marked."""
        written: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._outcomes.append((marked_on, outcome, written))
        if marked_on is not None:
            self._out -= 1
        if len(self._outcomes) >= self.at_most or self._out == 0:
            self._ready.set()
        self._wake_writer()
        await written

    def _has_free_place(self) -> bool:
        return any(
            queue and self._marked.get(channel, 0) < self.in_flight
            for channel, queue in self._asking.items()
        )

    def _wake_writer(self) -> None:
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write())

    async def _write(self) -> None:
        while self._outcomes or self._has_free_place():
            if not self._ready.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._ready.wait(), self.within)
            # One turn of the loop: the other sends given a place at this moment ask too.
            await asyncio.sleep(0)
            self._ready.clear()
            batch, self._outcomes = self._outcomes, []
            settled: dict[Channel, int] = {}
            for channel, _, _ in batch:
                if channel is not None:
                    settled[channel] = settled.get(channel, 0) + 1
            # The places the outcomes free go to the next sends in the same write.
            asking: list[tuple[Channel, _Asking]] = []
            for channel, queue in self._asking.items():
                free = self.in_flight - self._marked.get(channel, 0) + settled.get(channel, 0)
                while queue and free > 0:
                    asking.append((channel, queue.popleft()))
                    free -= 1
            failure: Exception | None = None
            try:
                marked = await self.write(
                    [outcome for _, outcome, _ in batch], [a.delivery_id for _, a in asking]
                )
            except Exception as exc:
                marked, failure = set(), exc
            for channel, count in settled.items():
                self._marked[channel] -= count
            for channel, ask in asking:
                if ask.granted.done():
                    continue  # the send was cancelled while it asked: no outcome will follow
                if ask.delivery_id in marked:
                    self._marked[channel] = self._marked.get(channel, 0) + 1
                    self._out += 1
                ask.granted.set_result(ask.delivery_id in marked)
            for _, _, written in batch:
                if written.done():
                    continue
                if failure is None:
                    written.set_result(None)
                else:
                    written.set_exception(failure)
            if self._has_free_place():
                self._ready.set()
