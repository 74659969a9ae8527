"""Where a webhook may go. Addresses are checked after DNS resolution: when an endpoint is
created (``resolve``), and for every connection a try opens, by the resolver the sender
connects with (delivery.webhooks.sender): a name that later resolves to an internal
address (DNS rebinding) reaches nothing inside."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class RefusedDestination(ValueError):
    """The URL or the address it resolves to may not receive webhooks."""


@dataclass(frozen=True, slots=True)
class Destination:
    scheme: str
    host: str
    port: int


def parse(url: str, *, allow_http: bool) -> Destination:
    """The URL's parts, or RefusedDestination: https only (http too in development), a
    host, no credentials, no fragment."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise RefusedDestination(f"not a valid URL: {exc}") from exc
    if parts.scheme not in ("https", "http") or (parts.scheme == "http" and not allow_http):
        raise RefusedDestination("the URL must use https")
    if not parts.hostname:
        raise RefusedDestination("the URL has no host")
    if parts.username or parts.password:
        raise RefusedDestination("the URL may not carry credentials")
    if parts.fragment:
        raise RefusedDestination("the URL may not have a fragment")
    return Destination(
        parts.scheme, parts.hostname, port or (443 if parts.scheme == "https" else 80)
    )


def allowed(address: Address, networks: Sequence[Network]) -> bool:
    """Public addresses; private, loopback, link-local and other special ones only when a
    configured network holds them."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if any(address in network for network in networks):
        return True
    return address.is_global and not address.is_multicast


def check_literal(destination: Destination, networks: Sequence[Network]) -> None:
    """RefusedDestination for a URL whose host is an address not allowed (an address is
    connected to as it is, without resolution)."""
    try:
        address = ipaddress.ip_address(destination.host)
    except ValueError:
        return
    if not allowed(address, networks):
        raise RefusedDestination(
            f"{address} is a {_kind(address)} address not in ALERTS_WEBHOOK_ALLOWED_NETWORKS"
        )


async def resolve(destination: Destination, networks: Sequence[Network]) -> Address:
    """The first address the host resolves to, every one of them allowed; else
    RefusedDestination."""
    try:
        literal: Address | None = ipaddress.ip_address(destination.host)
    except ValueError:
        literal = None
    if literal is not None:
        addresses = [literal]
    else:
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(
                destination.host, destination.port, type=socket.SOCK_STREAM
            )
        except OSError as exc:
            raise RefusedDestination(f"the host {destination.host} does not resolve") from exc
        addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
        if not addresses:
            raise RefusedDestination(f"the host {destination.host} does not resolve")
    for address in addresses:
        if not allowed(address, networks):
            raise RefusedDestination(
                f"{destination.host} resolves to {address}, a {_kind(address)} address not in "
                "ALERTS_WEBHOOK_ALLOWED_NETWORKS"
            )
    return addresses[0]


def _kind(address: Address) -> str:
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link-local"
    if address.is_private:
        return "private"
    return "reserved"
