"""Slack incoming webhooks: one JSON POST per message."""

from __future__ import annotations

import asyncio
from typing import Any

import requests

from account_alerts.delivery.channels.base import DeliveryError


class SlackWebhook:
    def __init__(self, *, timeout: float) -> None:
        self.timeout = timeout
        self._session = requests.Session()

    async def post(self, url: str, message: dict[str, Any]) -> None:
        """Post ``message``; raise DeliveryError (transient for 429, 5xx and the network).
        The URL is a credential: errors never include it."""
        try:
            response = await asyncio.to_thread(
                self._session.post, url, json=message, timeout=self.timeout
            )
        except requests.RequestException as exc:
            raise DeliveryError(f"slack unreachable: {type(exc).__name__}", transient=True) from exc
        if response.status_code == 200:
            return
        retry_after = response.headers.get("retry-after")
        raise DeliveryError(
            f"slack {response.status_code}: {response.text[:100]}",
            transient=response.status_code == 429 or response.status_code >= 500,
            retry_after=float(retry_after) if retry_after and retry_after.isdigit() else None,
        )

    def close(self) -> None:
        self._session.close()
