"""One HTTP POST of a webhook. The connection goes only to addresses checked as the host
is resolved for it (``CheckedResolver``), so a name that later resolves to an internal
address (DNS rebinding) reaches nothing inside; TLS still checks the certificate against
the URL's host. Redirects are not followed, and only the first bytes of an answer are
read. aiohttp, not httpx: with a hundred requests in flight it keeps its pace where
httpx's connection pool slows to a fraction (bench/README.md)."""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass

import aiohttp
from aiohttp.abc import ResolveResult

from account_alerts.delivery.webhooks.destinations import Network, allowed


@dataclass(frozen=True, slots=True)
class Answer:
    """What one try got: a status code, or an error before any answer."""

    status_code: int | None
    latency_ms: float
    error: str | None
    body: bytes = b""


class RefusedAddress(OSError):
    """The host resolved to an address webhooks may not go to."""

    def __init__(self, message: str) -> None:
        # As (errno, strerror): aiohttp reports the strerror of a failed resolution.
        super().__init__(errno.EACCES, message)


class CheckedResolver(aiohttp.ThreadedResolver):
    """The system's resolver, refusing every answer with an address not allowed."""

    def __init__(self, networks: Sequence[Network]) -> None:
        super().__init__()
        self.networks = tuple(networks)

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await super().resolve(host, port, family)
        for result in results:
            address = ipaddress.ip_address(result["host"].split("%")[0])
            if not allowed(address, self.networks):
                raise RefusedAddress(f"{host} resolves to {address}, which is not allowed")
        return results


class WebhookSender:
    def __init__(
        self,
        *,
        timeout: float,
        max_response_bytes: int,
        connections: int,
        networks: Sequence[Network],
    ) -> None:
        self.timeout = timeout
        self.max_response_bytes = max_response_bytes
        self.connections = connections
        self.networks = tuple(networks)
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        # Made on first use: aiohttp binds a session to the running event loop.
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(
                    resolver=CheckedResolver(self.networks),
                    use_dns_cache=False,
                    limit=self.connections,
                ),
                timeout=aiohttp.ClientTimeout(total=self.timeout),
                auto_decompress=False,
                trust_env=False,
                headers={"user-agent": "account-alerts-webhooks"},
            )
        return self._session

    async def post(self, url: str, headers: dict[str, str], body: str) -> Answer:
        started = time.perf_counter()
        try:
            async with self._client().post(
                url, data=body.encode(), headers=headers, allow_redirects=False
            ) as response:
                kept = await response.content.read(self.max_response_bytes)
                return Answer(response.status, _since(started), None, kept)
        except TimeoutError:
            return Answer(None, _since(started), "timed out")
        except (aiohttp.ClientError, OSError) as exc:
            return Answer(None, _since(started), (str(exc) or type(exc).__name__)[:500])

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            await asyncio.sleep(0)  # lets the connector close its transports


def _since(started: float) -> float:
    return (time.perf_counter() - started) * 1000
