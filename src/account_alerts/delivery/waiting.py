"""The pause of the delivery loops (customers' deliveries, webhooks, the risk team's
notifications): until they are woken, told to stop, or their poll interval has passed."""

from __future__ import annotations

import asyncio


async def until_any(timeout: float, *events: asyncio.Event) -> None:
    """Return once one of ``events`` is set or ``timeout`` seconds have passed."""
    waiters = [asyncio.create_task(event.wait()) for event in events]
    try:
        await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
