"""How long to wait before trying a delivery again."""

from __future__ import annotations

import random
from datetime import timedelta

MAX_ATTEMPTS = 6
BASE_DELAY = timedelta(seconds=2)
MAX_DELAY = timedelta(minutes=10)


def backoff(
    attempts: int,
    *,
    retry_after: float | None = None,
    rng: random.Random | None = None,
    base: timedelta = BASE_DELAY,
    cap: timedelta = MAX_DELAY,
) -> timedelta:
    """Exponential backoff with full jitter in [delay/2, delay]; a provider's Retry-After is
    honoured as a floor."""
    exponential = min(cap, base * (2 ** max(0, attempts - 1)))
    jitter = (rng or random.SystemRandom()).uniform(0.5, 1.0)
    delay: timedelta = exponential * jitter
    if retry_after is not None:
        delay = max(delay, timedelta(seconds=min(retry_after, cap.total_seconds())))
    return delay


def exhausted(attempts: int, max_attempts: int = MAX_ATTEMPTS) -> bool:
    return attempts >= max_attempts
