"""No credentials configured: write what would be sent as one JSON line, so everything
works on a fresh machine. Destinations are masked: the sink may be the log."""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import orjson

from account_alerts.delivery.channels.base import Channel, OutgoingMessage, Receipt
from account_alerts.domain.enums import NotificationChannel
from account_alerts.domain.masking import mask_email, mask_phone

logger = logging.getLogger("account_alerts.sink")


def mask_destination(channel: NotificationChannel, to: str) -> str:
    if channel is NotificationChannel.SMS:
        return mask_phone(to)
    if channel is NotificationChannel.EMAIL:
        return mask_email(to)
    return to[:8] + "…" if len(to) > 8 else to


class SinkWriter:
    """One writer shared by the channels: appends lines to a file, or logs them. A line is
    appended with one short write in the event loop: cheaper than a thread hop per line,
    and whole lines from several processes never interleave. The file is opened for each
    line, so a rotated or removed sink is written afresh; with the operating system's calls
    rather than a Python file object, which cost more than the write itself."""

    def __init__(self, path: Path | None, clock: Callable[[], datetime]) -> None:
        self.path = path
        self.clock = clock

    async def write(self, record: dict[str, object]) -> None:
        line = orjson.dumps(record, option=orjson.OPT_SORT_KEYS | orjson.OPT_APPEND_NEWLINE)
        if self.path is None:
            logger.info("%s", line[:-1].decode())
            return
        sink = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
        try:
            view = memoryview(line)
            while view:
                view = view[os.write(sink, view) :]
        finally:
            os.close(sink)


class SinkChannel(Channel):
    provider = "sink"

    def __init__(self, channel: NotificationChannel, writer: SinkWriter) -> None:
        self.channel = channel
        self.writer = writer

    async def send(self, message: OutgoingMessage) -> Receipt:
        message_id = f"sink-{uuid.uuid4().hex}"
        await self.writer.write(
            {
                "channel": message.channel.value,
                "to": mask_destination(message.channel, message.to),
                # The alert's GraphQL ID, as the app and the API show it.
                "alertId": None if message.alert_id is None else str(message.alert_id),
                "alertType": message.alert_type.value if message.alert_type else None,
                "title": message.title,
                "body": message.body,
                "data": message.data,
                "sentAt": self.writer.clock().isoformat(),
                "messageId": message_id,
                # The same on every line of one delivery: a repeat is recognisable.
                "deliveryKey": message.delivery_key,
            }
        )
        return Receipt(provider_message_id=message_id)
