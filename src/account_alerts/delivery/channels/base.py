"""What every channel does: send one message, or say why it could not."""

from __future__ import annotations

import asyncio
import contextvars
import functools
from abc import ABC, abstractmethod
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from account_alerts.domain.enums import AlertType, NotificationChannel


@dataclass(frozen=True)
class OutgoingMessage:
    channel: NotificationChannel
    to: str
    alert_id: int | None
    alert_type: AlertType | None
    title: str
    body: str
    data: dict[str, str] = field(default_factory=dict)
    html: str | None = None
    # The same for every send of one delivery (domain.in_doubt.collapse_identity): a
    # repeat carries it, so the device, the mail client or the sink's reader folds it.
    # None for a verification code.
    delivery_key: str | None = None


@dataclass(frozen=True)
class Receipt:
    provider_message_id: str | None


class DeliveryError(Exception):
    """A send that did not go through. Transient errors are retried; permanent ones are not.
    ``retry_after`` is the provider's own hint in seconds; ``stale_destination`` means the
    destination itself is gone (an unregistered push token, an invalid number);
    ``opted_out`` that the recipient asked not to receive such messages (replied STOP)."""

    def __init__(
        self,
        reason: str,
        *,
        transient: bool,
        retry_after: float | None = None,
        stale_destination: bool = False,
        opted_out: bool = False,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.transient = transient
        self.retry_after = retry_after
        self.stale_destination = stale_destination
        self.opted_out = opted_out


class Channel(ABC):
    channel: NotificationChannel
    provider: str

    @abstractmethod
    async def send(self, message: OutgoingMessage) -> Receipt:
        """Deliver ``message`` or raise DeliveryError."""

    async def close(self) -> None:  # noqa: B027 - optional for channels holding resources
        """Release connections."""

    def describe(self) -> dict[str, Any]:
        return {"channel": self.channel.value, "provider": self.provider}


class ThreadedChannel(Channel):
    """A channel whose provider library blocks. Its sends run on threads of its own, as
    many as the sends the worker lets it have in flight (``concurrency``): the process's
    shared pool is sized by CPUs and serves everyone, so a slow provider would have held
    the other channels' sends waiting for a thread, and the setting would not say how many
    sends reach the provider at once."""

    def __init__(self, concurrency: int) -> None:
        self.concurrency = concurrency
        self._threads = ThreadPoolExecutor(
            max_workers=concurrency, thread_name_prefix=f"{self.provider}-send"
        )

    async def send(self, message: OutgoingMessage) -> Receipt:
        # As asyncio.to_thread does: the send sees the caller's context variables.
        call = functools.partial(contextvars.copy_context().run, self._send, message)
        return await asyncio.get_running_loop().run_in_executor(self._threads, call)

    @abstractmethod
    def _send(self, message: OutgoingMessage) -> Receipt:
        """Deliver ``message`` or raise DeliveryError, blocking."""

    async def close(self) -> None:
        await asyncio.to_thread(self._threads.shutdown)
