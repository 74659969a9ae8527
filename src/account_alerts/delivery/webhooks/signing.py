"""The Standard Webhooks signature: HMAC-SHA256 of ``{webhook-id}.{webhook-timestamp}.{body}``
under the endpoint's secret, base64, as ``v1,<signature>``; several space separated."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Sequence


def signature(key: bytes, message_id: str, timestamp: int, body: str) -> str:
    signed = f"{message_id}.{timestamp}.{body}".encode()
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def headers(keys: Sequence[bytes], message_id: str, timestamp: int, body: str) -> dict[str, str]:
    """The three headers of one try; one signature per key (two while a secret rotates)."""
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(signature(k, message_id, timestamp, body) for k in keys),
        "content-type": "application/json",
    }
