"""A circuit breaker per provider: after repeated transient failures, stop calling it for a
while instead of piling retries onto a provider that is down."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass
class CircuitBreaker:
    failure_threshold: int
    cooldown: timedelta
    consecutive_failures: int = 0
    open_until: datetime | None = None
    half_open: bool = False

    def allows(self, now: datetime) -> bool:
        if self.open_until is None:
            return True
        if now >= self.open_until:
            # Half-open: let one batch through to probe the provider.
            self.half_open = True
            self.open_until = None
            return True
        return False

    def blocks(self, now: datetime) -> bool:
        """Open and still cooling down: a send now would only add to the provider's load."""
        return self.open_until is not None and now < self.open_until

    def succeeded(self) -> None:
        self.consecutive_failures = 0
        self.half_open = False
        self.open_until = None

    def failed(self, now: datetime) -> None:
        self.consecutive_failures += 1
        if self.half_open or self.consecutive_failures >= self.failure_threshold:
            self.open_until = now + self.cooldown
            self.half_open = False

    @property
    def is_open(self) -> bool:
        return self.open_until is not None
