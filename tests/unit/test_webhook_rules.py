"""The rules of webhooks that need no server: the retry schedule, which addresses may
receive, the secret's format, and our signature as the specification's library checks it."""

from __future__ import annotations

import base64
import ipaddress
import time
from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from account_alerts.delivery.webhooks import destinations, signing
from account_alerts.delivery.webhooks.secrets import SecretBox, new_secret, secret_key
from account_alerts.domain.webhooks import (
    DEFAULT_RETRY_SCHEDULE,
    WebhookEventType,
    message_body,
    retry_delay,
)


def test_the_default_schedule_spans_about_a_day_in_eight_tries() -> None:
    waits = [retry_delay(n, DEFAULT_RETRY_SCHEDULE, 0.0) for n in range(1, 8)]
    assert waits[0] == timedelta(seconds=5)
    assert waits[-1] == timedelta(hours=10)
    total = sum((w for w in waits if w is not None), timedelta())
    assert timedelta(hours=27) < total < timedelta(hours=28)
    assert retry_delay(8, DEFAULT_RETRY_SCHEDULE, 0.0) is None


def test_jitter_moves_a_wait_by_at_most_a_fifth() -> None:
    low = retry_delay(2, DEFAULT_RETRY_SCHEDULE, -1.0)
    high = retry_delay(2, DEFAULT_RETRY_SCHEDULE, 1.0)
    assert low == timedelta(minutes=4) and high == timedelta(minutes=6)


@pytest.mark.parametrize(
    ("address", "allowed"),
    [
        ("93.184.215.14", True),
        ("10.0.0.1", False),
        ("172.16.5.4", False),
        ("192.168.1.1", False),
        ("127.0.0.1", False),
        ("169.254.169.254", False),
        ("100.64.0.1", False),
        ("0.0.0.0", False),  # noqa: S104 - an address refused, not bound
        ("::1", False),
        ("fe80::1", False),
        ("fd00::1", False),
        ("::ffff:10.0.0.1", False),
        ("2606:4700::1111", True),
    ],
)
def test_only_public_addresses_receive_by_default(address: str, allowed: bool) -> None:
    assert destinations.allowed(ipaddress.ip_address(address), ()) is allowed


def test_a_configured_network_lets_its_addresses_in() -> None:
    loopback = (ipaddress.ip_network("127.0.0.1/32"),)
    assert destinations.allowed(ipaddress.ip_address("127.0.0.1"), loopback)
    assert not destinations.allowed(ipaddress.ip_address("127.0.0.2"), loopback)


async def test_a_name_is_checked_by_the_addresses_it_resolves_to() -> None:
    target = destinations.parse("https://localhost:8443/hook", allow_http=False)
    with pytest.raises(destinations.RefusedDestination, match="loopback"):
        await destinations.resolve(target, ())
    everything = (ipaddress.ip_network("0.0.0.0/0"), ipaddress.ip_network("::/0"))
    assert (await destinations.resolve(target, everything)).is_loopback


def test_http_only_where_allowed() -> None:
    with pytest.raises(destinations.RefusedDestination, match="https"):
        destinations.parse("http://example.com/hook", allow_http=False)
    parsed = destinations.parse("http://example.com/hook", allow_http=True)
    assert (parsed.scheme, parsed.host, parsed.port) == ("http", "example.com", 80)


def test_a_secret_is_whsec_and_24_to_64_random_bytes() -> None:
    secret = new_secret()
    assert secret.startswith("whsec_")
    assert 24 <= len(base64.b64decode(secret.removeprefix("whsec_"))) <= 64
    assert new_secret() != secret


def test_sealed_secrets_open_only_with_a_key_given() -> None:
    old_key, new_key = (base64.urlsafe_b64encode(bytes([n]) * 32).decode() for n in (1, 2))
    secret = new_secret()
    sealed = SecretBox([old_key]).seal(secret)
    assert secret not in sealed
    assert SecretBox([new_key, old_key]).open(sealed) == secret
    with pytest.raises(ValueError, match="cannot be decrypted"):
        SecretBox([new_key]).open(sealed)


def test_our_headers_verify_with_the_specifications_library() -> None:
    old, new = new_secret(), new_secret()
    now = datetime.now(UTC)
    body = message_body(WebhookEventType.USER_LOCKED, now, {"mobileUserId": 7})
    headers = signing.headers([secret_key(new), secret_key(old)], "msg_1", int(time.time()), body)
    for secret in (new, old):
        payload = Webhook(secret).verify(body, headers)
        assert payload == {
            "type": "user.locked",
            "timestamp": now.isoformat(),
            "data": {"mobileUserId": 7},
        }
    with pytest.raises(WebhookVerificationError, match="signature"):
        Webhook(new_secret()).verify(body, headers)
