"""SMS through the twilio library. Its client is synchronous and does not retry; it runs in
a thread and our worker decides about retries."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from account_alerts.delivery.channels.base import (
    DeliveryError,
    OutgoingMessage,
    Receipt,
    ThreadedChannel,
)
from account_alerts.domain.enums import NotificationChannel

# Twilio error codes that no retry will fix: the number itself is unusable.
INVALID_DESTINATION = {21211, 21214, 21217, 21407, 21408, 21421, 21612, 21614}
# The recipient replied STOP to our number: Twilio refuses every send until they reply START.
OPTED_OUT = 21610


class _RoutedHttpClient(TwilioHttpClient):
    """Sends Twilio's requests to another base URL (a regional edge, or a test peer)."""

    def __init__(self, base_url: str, timeout: float) -> None:
        super().__init__(timeout=timeout)
        self.base_url = base_url.rstrip("/")
        self.session.trust_env = False

    def request(self, method: str, url: str, *args: object, **kwargs: object) -> object:
        parts = urlsplit(url)
        if (parts.hostname or "").endswith("twilio.com"):
            url = self.base_url + urlunsplit(("", "", parts.path, parts.query, ""))
        return super().request(method, url, *args, **kwargs)


class TwilioSms(ThreadedChannel):
    channel = NotificationChannel.SMS
    provider = "twilio"

    def __init__(
        self,
        *,
        account_sid: str,
        auth_token: str,
        from_number: str | None,
        messaging_service_sid: str | None,
        status_callback: str | None,
        api_base: str | None = None,
        timeout: float = 10,
        concurrency: int = 8,
    ) -> None:
        super().__init__(concurrency)
        http_client = (
            _RoutedHttpClient(api_base, timeout) if api_base else TwilioHttpClient(timeout=timeout)
        )
        # As many connections kept open as sends at once (requests keeps 10 per host and
        # opens and drops the rest); no retries, as before: the worker decides about those.
        adapter = HTTPAdapter(pool_maxsize=concurrency, max_retries=0)
        for scheme in ("https://", "http://"):
            http_client.session.mount(scheme, adapter)
        self.client = Client(account_sid, auth_token, http_client=http_client)
        self.from_number = from_number
        self.messaging_service_sid = messaging_service_sid
        self.status_callback = status_callback

    def _send(self, message: OutgoingMessage) -> Receipt:
        kwargs: dict[str, str] = {"to": message.to, "body": message.body}
        if self.messaging_service_sid:
            kwargs["messaging_service_sid"] = self.messaging_service_sid
        elif self.from_number:
            kwargs["from_"] = self.from_number
        if self.status_callback:
            kwargs["status_callback"] = self.status_callback
        try:
            sent = self.client.messages.create(**kwargs)
        except TwilioRestException as exc:
            status = exc.status or 0
            if exc.code == OPTED_OUT:
                raise DeliveryError(
                    f"twilio {exc.code}: the recipient has opted out (replied STOP)",
                    transient=False,
                    opted_out=True,
                ) from exc
            if exc.code in INVALID_DESTINATION:
                raise DeliveryError(
                    f"twilio {exc.code}: invalid destination",
                    transient=False,
                    stale_destination=True,
                ) from exc
            transient = status == 429 or status >= 500
            raise DeliveryError(
                f"twilio HTTP {status} error {exc.code}", transient=transient
            ) from exc
        except requests.RequestException as exc:
            raise DeliveryError(
                f"twilio unreachable: {type(exc).__name__}", transient=True
            ) from exc
        return Receipt(provider_message_id=sent.sid)
