"""The pause of the delivery loops (customers' deliveries, webhooks, the risk team's
notifications): until they are woken, told to stop, or their poll interval has passed."""

from __future__ import annotations

import asyncio
import contextlib
import time


async def until_any(timeout: float, *events: asyncio.Event) -> None:
    """Return once one of ``events`` is set or ``timeout`` seconds have passed."""
    waiters = [asyncio.create_task(event.wait()) for event in events]
    try:
        await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()


async def rest_of_wave(interval: float, last_found: float, stop: asyncio.Event) -> None:
    """Woken less than ``interval`` seconds after a pass that found work (``last_found``,
    on ``time.monotonic``), i.e. work streaming in: wait out the rest (or until ``stop``),
    so that the next pass takes all that came meanwhile at once (a pass costs far more
    than an item in it). Woken later, on a quiet loop: return at once."""
    rest = interval - (time.monotonic() - last_found)
    if rest > 0:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=rest)
