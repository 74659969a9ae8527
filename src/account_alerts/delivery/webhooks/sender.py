"""One HTTP POST of a webhook, to the address checked (delivery.webhooks.destinations)
rather than to whatever the name resolves to by then; TLS still checks the certificate
against the URL's host. Redirects are not followed, and only the first bytes of an answer
are read."""

from __future__ import annotations

import ipaddress
import time
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import httpx

from account_alerts.delivery.webhooks.destinations import Address, Destination


@dataclass(frozen=True, slots=True)
class Answer:
    """What one try got: a status code, or an error before any answer."""

    status_code: int | None
    latency_ms: float
    error: str | None
    body: bytes = b""


class WebhookSender:
    def __init__(self, *, timeout: float, max_response_bytes: int, connections: int) -> None:
        self.max_response_bytes = max_response_bytes
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout),
            follow_redirects=False,
            limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
            trust_env=False,
            headers={"user-agent": "account-alerts-webhooks"},
        )

    async def post(
        self,
        url: str,
        destination: Destination,
        address: Address,
        headers: dict[str, str],
        body: str,
    ) -> Answer:
        parts = urlsplit(url)
        host = f"[{address}]" if isinstance(address, ipaddress.IPv6Address) else str(address)
        target = urlunsplit(
            (parts.scheme, f"{host}:{destination.port}", parts.path or "/", parts.query, "")
        )
        default_port = 443 if destination.scheme == "https" else 80
        host_header = (
            destination.host
            if destination.port == default_port
            else f"{destination.host}:{destination.port}"
        )
        extensions = {"sni_hostname": destination.host} if destination.scheme == "https" else {}
        started = time.perf_counter()
        try:
            async with self._client.stream(
                "POST",
                target,
                content=body.encode(),
                headers={**headers, "host": host_header},
                extensions=extensions,
            ) as response:
                kept = bytearray()
                async for chunk in response.aiter_raw():
                    kept += chunk
                    if len(kept) >= self.max_response_bytes:
                        break
                return Answer(
                    response.status_code,
                    (time.perf_counter() - started) * 1000,
                    None,
                    bytes(kept[: self.max_response_bytes]),
                )
        except httpx.TimeoutException:
            return Answer(None, (time.perf_counter() - started) * 1000, "timed out")
        except httpx.HTTPError as exc:
            reason = str(exc) or type(exc).__name__
            return Answer(None, (time.perf_counter() - started) * 1000, reason[:500])

    async def close(self) -> None:
        await self._client.aclose()
