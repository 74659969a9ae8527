"""Local peers that speak the real wire formats of our delivery providers.

* ``FakeTwilio`` -- the Twilio Programmable Messaging REST API (``/2010-04-01/.../Messages.json``).
* ``FakeFCM`` -- Google's OAuth2 token endpoint plus the FCM HTTP v1 ``messages:send`` API.
* ``SmtpSink`` -- an aiosmtpd server that records what it accepts.

Each listens on 127.0.0.1 only and runs in a thread of its own with its own event loop, so it
answers the same whether the client is synchronous code in the test's thread, a worker thread
(``asyncio.to_thread``) or async code in the test's loop. The real ``twilio`` and
``firebase_admin`` clients are pointed at the fakes by ``twilio_client()`` and
``firebase_app()``; nothing in the libraries is patched globally.

Fixtures: ``fake_twilio``, ``twilio_rest``, ``fake_fcm``, ``fcm_service_account``, ``fcm_app``,
``smtp_sink``.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import email
import email.policy
import email.utils
import itertools
import json
import math
import secrets
import socket
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Generic, Self, TypeVar
from urllib.parse import parse_qsl, urlsplit, urlunsplit

import firebase_admin
import httpx
import jwt
import pytest
import uvicorn
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword
from aiosmtpd.smtp import Session as SmtpSession
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from firebase_admin import _http_client, credentials, messaging
from firebase_admin._retry import HttpxRetry
from requests.adapters import HTTPAdapter
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response as TwilioResponse
from twilio.request_validator import RequestValidator
from twilio.rest import Client

LOOPBACK = "127.0.0.1"


def _now() -> datetime:
    return datetime.now(UTC)


def _reserve_socket(port: int = 0) -> socket.socket:
    """A listening-ready socket bound to a loopback port (0: a free one, no reuse race)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((LOOPBACK, port))
    return sock


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


class _BackgroundServer:
    """A Starlette app served by uvicorn on a loopback port, in a thread with its own loop."""

    def __init__(self, app: Starlette) -> None:
        self._app = app
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    def start(self, port: int = 0) -> str:
        sock = _reserve_socket(port)
        self.port = int(sock.getsockname()[1])
        config = uvicorn.Config(
            self._app,
            log_level="warning",
            lifespan="off",
            access_log=False,
            timeout_graceful_shutdown=2,
        )
        server = uvicorn.Server(config)
        self._server = server
        self._thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name=f"peer-{self.port}", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not server.started:
            if not self._thread.is_alive():
                raise RuntimeError("provider peer failed to start")
            if time.monotonic() > deadline:
                raise TimeoutError("provider peer did not start within 10 s")
            time.sleep(0.005)
        return f"http://{LOOPBACK}:{self.port}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
            if self._thread.is_alive():
                raise RuntimeError("provider peer did not stop within 10 s")
        self._server = None
        self._thread = None


_T = TypeVar("_T")
_Peer = TypeVar("_Peer", "FakeTwilio", "FakeFCM", "SmtpSink")


class _LocalPeer:
    """A provider's wire protocol served on 127.0.0.1 by a background server."""

    def __init__(self, app: Starlette) -> None:
        self._server = _BackgroundServer(app)
        self.base_url = ""

    def start(self) -> Self:
        self.base_url = self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class _Recorder(Generic[_T]):
    """Thread-safe record of what a peer accepted, with waiting."""

    def __init__(self) -> None:
        self._items: list[_T] = []
        self._cond = threading.Condition()

    def add(self, item: _T) -> None:
        with self._cond:
            self._items.append(item)
            self._cond.notify_all()

    def snapshot(self) -> list[_T]:
        with self._cond:
            return list(self._items)

    def clear(self) -> None:
        with self._cond:
            self._items.clear()

    def wait_for(self, count: int, timeout: float) -> list[_T]:
        with self._cond:
            if not self._cond.wait_for(lambda: len(self._items) >= count, timeout):
                raise TimeoutError(
                    f"expected {count} item(s) within {timeout} s, got {len(self._items)}"
                )
            return list(self._items)


@dataclass
class _Script:
    """Shared failure script: queued transient failures, delay, and an outage switch."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    pending: list[tuple[int, float | None]] = field(default_factory=list)
    delay: float = 0.0
    is_down: bool = False
    in_flight: int = 0
    most_in_flight: int = 0  # the most requests being answered at one moment

    def enter(self) -> None:
        with self.lock:
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)

    def leave(self) -> None:
        with self.lock:
            self.in_flight -= 1

    def push(self, n: int, status: int, retry_after: float | None) -> None:
        with self.lock:
            self.pending.extend([(status, retry_after)] * n)

    def pop(self) -> tuple[int, float | None] | None:
        with self.lock:
            if self.is_down:
                return (503, None)
            return self.pending.pop(0) if self.pending else None

    def reset(self) -> None:
        with self.lock:
            self.pending.clear()
            self.delay = 0.0
            self.is_down = False
            self.most_in_flight = 0


async def _form(request: Request) -> dict[str, str]:
    """An x-www-form-urlencoded body (Starlette's request.form() needs python-multipart)."""
    body = (await request.body()).decode()
    return dict(parse_qsl(body, keep_blank_values=True))


def _retry_after_headers(retry_after: float | None) -> dict[str, str]:
    return {} if retry_after is None else {"Retry-After": str(math.ceil(retry_after))}


# --------------------------------------------------------------------------------------------
# Twilio
# --------------------------------------------------------------------------------------------

_GSM7_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM7_EXTENDED = set("^{}\\[~]|€\f")


def sms_segments(body: str) -> int:
    """How many SMS segments Twilio bills for ``body`` (GSM-7 160/153, else UCS-2 70/67)."""
    if all(ch in _GSM7_BASIC or ch in _GSM7_EXTENDED for ch in body):
        septets = sum(2 if ch in _GSM7_EXTENDED else 1 for ch in body)
        return 1 if septets <= 160 else math.ceil(septets / 153)
    units = len(body.encode("utf-16-le")) // 2
    return 1 if units <= 70 else math.ceil(units / 67)


def _twilio_error(
    status: int, code: int, message: str, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(
        {
            "code": code,
            "message": message,
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status,
        },
        status_code=status,
        headers=dict(headers or {}),
    )


_TWILIO_TRANSIENT = {
    429: (20429, "Too Many Requests"),
    500: (20500, "An internal server error has occurred"),
    502: (20502, "Bad Gateway"),
    503: (20503, "Service Unavailable"),
    504: (20504, "Gateway Timeout"),
}


@dataclass(frozen=True)
class TwilioMessage:
    """One message FakeTwilio accepted (HTTP 201)."""

    sid: str
    account_sid: str
    to: str
    from_: str | None
    messaging_service_sid: str | None
    body: str
    status_callback: str | None
    status: str
    num_segments: int
    received_at: datetime
    params: dict[str, str]
    resource: dict[str, Any]


class FakeTwilio(_LocalPeer):
    """The Twilio Messages API on a loopback port. Use ``twilio_client(fake)`` to talk to it.

    ``messages``: what was accepted; ``attempts``: every POST to Messages.json that passed auth
    (accepted, scripted failure or rejection), for counting retries."""

    def __init__(self, account_sid: str | None = None, auth_token: str | None = None) -> None:
        self.account_sid = account_sid or "AC" + secrets.token_hex(16)
        self.auth_token = auth_token or secrets.token_hex(16)
        self._messages: _Recorder[TwilioMessage] = _Recorder()
        self._attempts: _Recorder[dict[str, str]] = _Recorder()
        self._script = _Script()
        self._rejections: dict[str, tuple[int, str]] = {}
        super().__init__(
            Starlette(
                routes=[
                    Route(
                        "/2010-04-01/Accounts/{account_sid}/Messages.json",
                        self._counted_create_message,
                        methods=["POST"],
                    ),
                    Route(
                        "/2010-04-01/Accounts/{account_sid}/Messages/{sid}.json",
                        self._fetch_message,
                        methods=["GET"],
                    ),
                ]
            )
        )

    @property
    def messages_url(self) -> str:
        return f"{self.base_url}/2010-04-01/Accounts/{self.account_sid}/Messages.json"

    # inspection
    @property
    def messages(self) -> list[TwilioMessage]:
        return self._messages.snapshot()

    @property
    def attempts(self) -> list[dict[str, str]]:
        return self._attempts.snapshot()

    @property
    def most_in_flight(self) -> int:
        """The most message requests that were being answered at one moment."""
        return self._script.most_in_flight

    def wait_for(self, count: int, timeout: float = 5.0) -> list[TwilioMessage]:
        """Block until ``count`` messages were accepted (use ``asyncio.to_thread`` from async)."""
        return self._messages.wait_for(count, timeout)

    # scripting
    def fail_next(self, n: int = 1, status: int = 503, retry_after: float | None = None) -> None:
        """The next ``n`` sends get ``status`` (5xx, or 429) with Twilio's error JSON."""
        self._script.push(n, status, retry_after)

    def reject(
        self,
        to_number: str,
        code: int = 21211,
        message: str = "The 'To' number is not a valid phone number.",
    ) -> None:
        """Every send to ``to_number`` gets a permanent HTTP 400 with this Twilio error code."""
        self._rejections[to_number] = (code, message)

    def set_delay(self, seconds: float) -> None:
        """Hold every response this long (the server keeps serving other requests)."""
        self._script.delay = seconds

    def down(self) -> None:
        self._script.is_down = True

    def up(self) -> None:
        self._script.is_down = False

    def reset(self) -> None:
        """Forget scripted failures, rejections, delay and records."""
        self._script.reset()
        self._rejections.clear()
        self._messages.clear()
        self._attempts.clear()

    # status callbacks, the way Twilio sends them
    def status_callback(
        self, message: TwilioMessage, status: str, error_code: int | None = None
    ) -> tuple[str, dict[str, str], dict[str, str]]:
        """(url, form params, headers) of the status callback Twilio would POST for ``message``."""
        if not message.status_callback:
            raise ValueError(f"message {message.sid} was sent without a StatusCallback")
        params = {
            "AccountSid": message.account_sid,
            "ApiVersion": "2010-04-01",
            "From": message.from_ or "",
            "MessageSid": message.sid,
            "MessageStatus": status,
            "SmsSid": message.sid,
            "SmsStatus": status,
            "To": message.to,
        }
        if message.messaging_service_sid:
            params["MessagingServiceSid"] = message.messaging_service_sid
        if error_code is not None:
            params["ErrorCode"] = str(error_code)
        url = message.status_callback
        headers = {
            "X-Twilio-Signature": twilio_signature(self.auth_token, url, params),
            "User-Agent": "TwilioProxy/1.1",
        }
        return url, params, headers

    async def send_status_callback(
        self,
        message: TwilioMessage,
        status: str,
        error_code: int | None = None,
        client: httpx.AsyncClient | None = None,
    ) -> httpx.Response:
        """POST the signed status callback to the message's StatusCallback URL."""
        url, params, headers = self.status_callback(message, status, error_code)
        if client is not None:
            return await client.post(url, data=params, headers=headers)
        async with httpx.AsyncClient(timeout=10) as own:
            return await own.post(url, data=params, headers=headers)

    # incoming messages, the way Twilio posts them to the number's webhook
    def incoming_message(
        self, url: str, from_: str, body: str, to: str = "+15005550006"
    ) -> tuple[dict[str, str], dict[str, str]]:
        """(form params, headers) of the webhook Twilio POSTs to ``url`` when ``from_``
        texts ``body`` to our number ``to``; each call is a new message (a new SID)."""
        sid = "SM" + secrets.token_hex(16)
        params = {
            "AccountSid": self.account_sid,
            "ApiVersion": "2010-04-01",
            "Body": body,
            "From": from_,
            "MessageSid": sid,
            "NumMedia": "0",
            "NumSegments": str(sms_segments(body)),
            "SmsMessageSid": sid,
            "SmsSid": sid,
            "SmsStatus": "received",
            "To": to,
        }
        headers = {
            "X-Twilio-Signature": twilio_signature(self.auth_token, url, params),
            "User-Agent": "TwilioProxy/1.1",
        }
        return params, headers

    # handlers
    def _authorized(self, request: Request) -> bool:
        header = request.headers.get("authorization", "")
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            user, _, password = base64.b64decode(encoded).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        return secrets.compare_digest(user, self.account_sid) and secrets.compare_digest(
            password, self.auth_token
        )

    def _resource(self, sid: str) -> str:
        return f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}"

    async def _counted_create_message(self, request: Request) -> Response:
        self._script.enter()
        try:
            return await self._create_message(request)
        finally:
            self._script.leave()

    async def _create_message(self, request: Request) -> Response:
        if self._script.delay:
            await asyncio.sleep(self._script.delay)
        if not self._authorized(request):
            return _twilio_error(401, 20003, "Authenticate")
        if request.path_params["account_sid"] != self.account_sid:
            return _twilio_error(
                404, 20404, f"The requested resource {request.url.path} was not found"
            )
        params = await _form(request)
        self._attempts.add(params)
        scripted = self._script.pop()
        if scripted is not None:
            http_status, retry_after = scripted
            code, text = _TWILIO_TRANSIENT.get(http_status, (http_status, "Service error"))
            return _twilio_error(http_status, code, text, _retry_after_headers(retry_after))
        to = params.get("To", "")
        sender = params.get("From")
        service = params.get("MessagingServiceSid")
        body = params.get("Body", "")
        if not to:
            return _twilio_error(400, 21604, "A 'To' phone number is required.")
        if not sender and not service:
            return _twilio_error(400, 21603, "A 'From' phone number is required.")
        if not body and not params.get("MediaUrl") and not params.get("ContentSid"):
            return _twilio_error(400, 21602, "Message body is required.")
        if to in self._rejections:
            code, text = self._rejections[to]
            return _twilio_error(400, code, text)
        sid = "SM" + secrets.token_hex(16)
        received_at = _now()
        stamp = email.utils.format_datetime(received_at.replace(microsecond=0))
        segments = sms_segments(body)
        # With only a Messaging Service, Twilio answers "accepted" (it picks the sender later).
        status = "queued" if sender else "accepted"
        resource: dict[str, Any] = {
            "account_sid": self.account_sid,
            "api_version": "2010-04-01",
            "body": body,
            "date_created": stamp,
            "date_sent": None,
            "date_updated": stamp,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": sender,
            "messaging_service_sid": service,
            "num_media": "0",
            "num_segments": str(segments),
            "price": None,
            "price_unit": "USD",
            "sid": sid,
            "status": status,
            "subresource_uris": {"media": f"{self._resource(sid)}/Media.json"},
            "to": to,
            "uri": f"{self._resource(sid)}.json",
        }
        self._messages.add(
            TwilioMessage(
                sid=sid,
                account_sid=self.account_sid,
                to=to,
                from_=sender,
                messaging_service_sid=service,
                body=body,
                status_callback=params.get("StatusCallback"),
                status=status,
                num_segments=segments,
                received_at=received_at,
                params=params,
                resource=resource,
            )
        )
        return JSONResponse(resource, status_code=201)

    async def _fetch_message(self, request: Request) -> Response:
        if not self._authorized(request):
            return _twilio_error(401, 20003, "Authenticate")
        for message in self._messages.snapshot():
            if message.sid == request.path_params["sid"]:
                return JSONResponse(message.resource)
        return _twilio_error(404, 20404, f"The requested resource {request.url.path} was not found")


class LoopbackTwilioHttpClient(TwilioHttpClient):  # type: ignore[misc]
    """Twilio's own HTTP client (requests), with every ``https://*.twilio.com`` URL sent to
    ``base_url`` instead. Passed to ``twilio.rest.Client(http_client=...)``, a documented
    constructor argument, so all of the library above the transport runs as in production."""

    def __init__(self, base_url: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.base_url = base_url.rstrip("/")
        if self.session is not None:
            self.session.trust_env = False  # never route loopback traffic through a proxy

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> TwilioResponse:
        parts = urlsplit(url)
        host = parts.hostname or ""
        if host == "twilio.com" or host.endswith(".twilio.com"):
            url = self.base_url + urlunsplit(("", "", parts.path, parts.query, ""))
        return super().request(method, url, *args, **kwargs)


def twilio_client(fake: FakeTwilio, *, timeout: float = 10.0) -> Client:
    """A real ``twilio.rest.Client`` whose requests go to ``fake``."""
    return Client(
        fake.account_sid,
        fake.auth_token,
        http_client=LoopbackTwilioHttpClient(fake.base_url, timeout=timeout),
    )


def twilio_signature(auth_token: str, url: str, params: Mapping[str, str]) -> str:
    """``X-Twilio-Signature`` for a form POST to ``url``, exactly as Twilio computes it."""
    return str(RequestValidator(auth_token).compute_signature(url, dict(params)))


# --------------------------------------------------------------------------------------------
# FCM (OAuth2 token endpoint + HTTP v1 send)
# --------------------------------------------------------------------------------------------

_FCM_ERROR_TYPE = "type.googleapis.com/google.firebase.fcm.v1.FcmError"
_JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
GOOGLE_TOKEN_AUDIENCE = "https://oauth2.googleapis.com/token"
_FCM_TRANSIENT = {
    429: ("RESOURCE_EXHAUSTED", "QUOTA_EXCEEDED", "Quota exceeded for quota metric 'Send'."),
    500: ("INTERNAL", "INTERNAL", "Internal error encountered."),
    503: ("UNAVAILABLE", "UNAVAILABLE", "The service is currently unavailable."),
}


def _fcm_error(
    status: int,
    grpc_status: str,
    message: str,
    fcm_code: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    error: dict[str, Any] = {"code": status, "message": message, "status": grpc_status}
    if fcm_code is not None:
        error["details"] = [{"@type": _FCM_ERROR_TYPE, "errorCode": fcm_code}]
    return JSONResponse({"error": error}, status_code=status, headers=dict(headers or {}))


@dataclass(frozen=True)
class ServiceAccountKey:
    client_email: str
    private_key_id: str
    public_key_pem: bytes


@dataclass(frozen=True)
class TokenGrant:
    """One successful JWT-bearer exchange at FakeFCM's /token."""

    client_email: str
    scopes: tuple[str, ...]
    access_token: str
    received_at: datetime


@dataclass(frozen=True)
class FcmMessage:
    """One message FakeFCM accepted (``validate_only`` requests are not recorded here).

    firebase-admin 7.7 deprecates ``Message(token=...)`` for ``Message(fid=...)`` (a Firebase
    installation ID); each is sent as its own JSON field, so each has its own attribute."""

    name: str
    project_id: str
    fid: str | None
    token: str | None
    topic: str | None
    condition: str | None
    notification: dict[str, Any] | None
    data: dict[str, str] | None
    android: dict[str, Any] | None
    apns: dict[str, Any] | None
    webpush: dict[str, Any] | None
    message: dict[str, Any]
    headers: dict[str, str]
    received_at: datetime


class FakeFCM(_LocalPeer):
    """Google's OAuth2 token endpoint (``POST /token``) and the FCM HTTP v1 send API
    (``POST /v1/projects/{project}/messages:send``) on a loopback port.

    ``write_service_account(fake, path)`` makes a key the fake trusts; ``firebase_app()`` wires
    a real firebase_admin App to it."""

    def __init__(self, project_id: str = "account-alerts-test") -> None:
        self.project_id = project_id
        self._keys: dict[str, ServiceAccountKey] = {}
        self._access_tokens: dict[str, float] = {}
        self._tokens_lock = threading.Lock()
        self._grants: _Recorder[TokenGrant] = _Recorder()
        self._token_requests: _Recorder[dict[str, str]] = _Recorder()
        self._messages: _Recorder[FcmMessage] = _Recorder()
        self._attempts: _Recorder[dict[str, Any]] = _Recorder()
        self._script = _Script()
        self._token_script = _Script()
        self._token_failures: dict[str, tuple[int, str, str, str]] = {}
        self._ids = itertools.count(1)
        super().__init__(
            Starlette(
                routes=[
                    Route("/token", self._token, methods=["POST"]),
                    Route("/v1/projects/{project_id}/messages:send", self._send, methods=["POST"]),
                ]
            )
        )

    @property
    def token_uri(self) -> str:
        return f"{self.base_url}/token"

    @property
    def send_url(self) -> str:
        return f"{self.base_url}/v1/projects/{self.project_id}/messages:send"

    def trust(self, key: ServiceAccountKey) -> None:
        """Accept JWT assertions signed by this service-account key."""
        self._keys[key.client_email] = key

    # inspection
    @property
    def messages(self) -> list[FcmMessage]:
        return self._messages.snapshot()

    @property
    def attempts(self) -> list[dict[str, Any]]:
        """Every authorised POST to messages:send (request JSON), including failed ones."""
        return self._attempts.snapshot()

    @property
    def token_grants(self) -> list[TokenGrant]:
        return self._grants.snapshot()

    @property
    def token_requests(self) -> list[dict[str, str]]:
        """Every POST to /token (form fields), including refused ones."""
        return self._token_requests.snapshot()

    def wait_for(self, count: int, timeout: float = 5.0) -> list[FcmMessage]:
        return self._messages.wait_for(count, timeout)

    # scripting
    def fail_next(self, n: int = 1, status: int = 503, retry_after: float | None = None) -> None:
        """The next ``n`` sends fail: 503 UNAVAILABLE, 429 QUOTA_EXCEEDED, 500 INTERNAL."""
        self._script.push(n, status, retry_after)

    def fail_token_next(self, n: int = 1, status: int = 503) -> None:
        """The next ``n`` requests to /token fail with ``status``."""
        self._token_script.push(n, status, None)

    def unregister(self, token: str) -> None:
        """Sends to ``token`` (registration token or fid) get 404 NOT_FOUND / UNREGISTERED
        (app uninstalled, token expired)."""
        self._token_failures[token] = (
            404,
            "NOT_FOUND",
            "Requested entity was not found.",
            "UNREGISTERED",
        )

    def invalid(self, token: str) -> None:
        """Sends to ``token`` get 400 INVALID_ARGUMENT (malformed registration token)."""
        self._token_failures[token] = (
            400,
            "INVALID_ARGUMENT",
            "The registration token is not a valid FCM registration token",
            "INVALID_ARGUMENT",
        )

    def set_delay(self, seconds: float) -> None:
        self._script.delay = seconds

    def down(self) -> None:
        self._script.is_down = True

    def up(self) -> None:
        self._script.is_down = False

    def revoke_access_tokens(self) -> None:
        """Forget every issued access token: the next send gets 401 UNAUTHENTICATED."""
        with self._tokens_lock:
            self._access_tokens.clear()

    def reset(self) -> None:
        self._script.reset()
        self._token_script.reset()
        self._token_failures.clear()
        for recorder in (self._grants, self._token_requests, self._messages, self._attempts):
            recorder.clear()

    # handlers
    async def _token(self, request: Request) -> Response:
        form = await _form(request)
        self._token_requests.add(form)
        scripted = self._token_script.pop()
        if scripted is not None:
            return JSONResponse(
                {"error": "internal_failure", "error_description": "Backend Error"},
                status_code=scripted[0],
            )
        if form.get("grant_type") != _JWT_BEARER:
            return JSONResponse(
                {
                    "error": "unsupported_grant_type",
                    "error_description": f"Invalid grant_type: {form.get('grant_type', '')}",
                },
                status_code=400,
            )
        try:
            claims = self._verify_assertion(form.get("assertion", ""))
        except (jwt.PyJWTError, KeyError, ValueError) as exc:
            return JSONResponse(
                {"error": "invalid_grant", "error_description": f"Invalid JWT: {exc}"},
                status_code=400,
            )
        access_token = "ya29.fake-" + secrets.token_urlsafe(24)
        with self._tokens_lock:
            self._access_tokens[access_token] = time.time() + 3600
        self._grants.add(
            TokenGrant(
                client_email=str(claims["iss"]),
                scopes=tuple(str(claims.get("scope", "")).split()),
                access_token=access_token,
                received_at=_now(),
            )
        )
        return JSONResponse(
            {"access_token": access_token, "expires_in": 3600, "token_type": "Bearer"}
        )

    def _verify_assertion(self, assertion: str) -> dict[str, Any]:
        unverified = jwt.decode(assertion, options={"verify_signature": False})
        key = self._keys.get(str(unverified.get("iss")))
        if key is None:
            raise ValueError(f"unknown service account {unverified.get('iss')!r}")
        header = jwt.get_unverified_header(assertion)
        if header.get("kid") != key.private_key_id:
            raise ValueError(f"unknown key id {header.get('kid')!r}")
        claims: dict[str, Any] = jwt.decode(
            assertion,
            key.public_key_pem,
            algorithms=["RS256"],
            # google-auth always uses Google's endpoint as "aud", whatever token_uri says.
            audience=[GOOGLE_TOKEN_AUDIENCE, self.token_uri],
            issuer=key.client_email,
            options={"require": ["iss", "aud", "iat", "exp"]},
        )
        return claims

    def _bearer_ok(self, request: Request) -> bool:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer":
            return False
        with self._tokens_lock:
            expiry = self._access_tokens.get(token)
        return expiry is not None and expiry > time.time()

    async def _send(self, request: Request) -> Response:
        if self._script.delay:
            await asyncio.sleep(self._script.delay)
        if not self._bearer_ok(request):
            return _fcm_error(
                401,
                "UNAUTHENTICATED",
                "Request had invalid authentication credentials. Expected OAuth 2 access "
                "token, login cookie or other valid authentication credential.",
            )
        project = request.path_params["project_id"]
        if project != self.project_id:
            return _fcm_error(
                403,
                "PERMISSION_DENIED",
                f"Permission 'cloudmessaging.messages.create' denied on resource "
                f"'//cloudresourcemanager.googleapis.com/projects/{project}' (or it may not "
                "exist).",
            )
        try:
            payload = json.loads(await request.body())
        except ValueError:
            return _fcm_error(400, "INVALID_ARGUMENT", "Invalid JSON payload received.")
        self._attempts.add(payload)
        scripted = self._script.pop()
        if scripted is not None:
            status, retry_after = scripted
            grpc_status, fcm_code, text = _FCM_TRANSIENT.get(
                status, ("UNAVAILABLE", "UNAVAILABLE", "The service is currently unavailable.")
            )
            return _fcm_error(
                status, grpc_status, text, fcm_code, _retry_after_headers(retry_after)
            )
        message = payload.get("message") if isinstance(payload, dict) else None
        if not isinstance(message, dict):
            return _fcm_error(400, "INVALID_ARGUMENT", "Request contains an invalid argument.")
        targets = [key for key in ("fid", "token", "topic", "condition") if message.get(key)]
        if len(targets) != 1:
            return _fcm_error(
                400,
                "INVALID_ARGUMENT",
                "Request contains an invalid argument.",
                "INVALID_ARGUMENT",
            )
        token = message.get("token")
        fid = message.get("fid")
        failure = self._token_failures.get(token or fid or "")
        if failure is not None:
            status, grpc_status, text, fcm_code = failure
            return _fcm_error(status, grpc_status, text, fcm_code)
        if payload.get("validate_only"):
            return JSONResponse({"name": f"projects/{project}/messages/fake_message_id"})
        name = f"projects/{project}/messages/0:{int(time.time() * 1000)}%{next(self._ids):016x}"
        self._messages.add(
            FcmMessage(
                name=name,
                project_id=project,
                fid=fid,
                token=token,
                topic=message.get("topic"),
                condition=message.get("condition"),
                notification=message.get("notification"),
                data=message.get("data"),
                android=message.get("android"),
                apns=message.get("apns"),
                webpush=message.get("webpush"),
                message=message,
                headers=dict(request.headers),
                received_at=_now(),
            )
        )
        return JSONResponse({"name": name})


def write_service_account(fake: FakeFCM, path: Path, *, client_email: str | None = None) -> Path:
    """Write a service-account JSON whose token_uri is ``fake``'s /token; ``fake`` trusts it."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    email_address = (
        client_email or f"firebase-adminsdk-test@{fake.project_id}.iam.gserviceaccount.com"
    )
    key_id = secrets.token_hex(20)
    fake.trust(ServiceAccountKey(email_address, key_id, public_pem))
    info = {
        "type": "service_account",
        "project_id": fake.project_id,
        "private_key_id": key_id,
        "private_key": private_pem.decode(),
        "client_email": email_address,
        "client_id": str(secrets.randbelow(10**21)),
        "auth_uri": f"{fake.base_url}/auth",
        "token_uri": fake.token_uri,
        "auth_provider_x509_cert_url": f"{fake.base_url}/certs",
        "client_x509_cert_url": f"{fake.base_url}/certs/{email_address}",
        "universe_domain": "googleapis.com",
    }
    path.write_text(json.dumps(info, indent=2))
    return path


def firebase_app(
    fake: FakeFCM,
    credentials_path: Path,
    name: str,
    *,
    http_timeout: float = 10.0,
    library_retries: bool = True,
) -> firebase_admin.App:
    """A real firebase_admin App from ``credentials_path`` whose FCM sends go to ``fake``.

    The OAuth exchange needs nothing special: google-auth posts to the key file's token_uri.
    FCM's URL is fixed in firebase-admin (``_MessagingService.FCM_URL``; no app option or
    environment variable changes it), so this builds the App's messaging service the way
    ``messaging.send(app=...)`` would and points that one instance's URLs at the fake. No
    class attribute or module is patched: other Apps keep talking to Google.

    ``library_retries=False`` removes firebase-admin's own retries of 500/503 (and of 429/503
    carrying Retry-After) for this App, on both the requests path (send, send_each) and the
    httpx path (send_each_async), so a test sees each failure at once."""
    app = firebase_admin.initialize_app(
        credentials.Certificate(str(credentials_path)),
        {"projectId": fake.project_id, "httpTimeout": http_timeout},
        name=name,
    )
    service = messaging._get_messaging_service(app)
    project = service._project_id
    service._fcm_url = f"{fake.base_url}/v1/projects/{project}/messages:send"
    service._fcm_topic_url = f"{fake.base_url}/v1/projects/{project}/registrations"
    if not library_retries:
        service._client.session.mount(fake.base_url, HTTPAdapter(max_retries=0))
        service._async_client = _http_client.HttpxAsyncClient(
            credential=service._credential,
            timeout=http_timeout,
            retry_config=HttpxRetry(max_retries=0),
        )
    return app


def delete_firebase_app(app: firebase_admin.App) -> None:
    """``firebase_admin.delete_app`` in a thread of its own.

    The messaging service's close() runs ``asyncio.run(httpx_client.aclose())``: that raises
    inside a running event loop, and raises "Event loop is closed" when send_each_async's
    connections belong to a loop that has ended (nothing is left to close then)."""
    errors: list[BaseException] = []

    def run() -> None:
        try:
            firebase_admin.delete_app(app)
        except RuntimeError as exc:
            if "Event loop is closed" not in str(exc):
                errors.append(exc)
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=run, name="firebase-delete-app")
    thread.start()
    thread.join(timeout=10)
    if errors:
        raise errors[0]


# --------------------------------------------------------------------------------------------
# SMTP
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReceivedEmail:
    mail_from: str
    rcpt_tos: list[str]
    subject: str | None
    from_header: str | None
    to_header: str | None
    text: str | None
    html: str | None
    message: EmailMessage
    raw: bytes
    auth_user: str | None
    received_at: datetime


def _part_content(message: EmailMessage, subtype: str) -> str | None:
    part = message.get_body(preferencelist=(subtype,))
    if part is None or part.get_content_type() != f"text/{subtype}":
        return None
    return str(part.get_content())


class _SinkHandler:
    def __init__(self, sink: SmtpSink) -> None:
        self._sink = sink

    async def handle_MAIL(
        self,
        server: SMTP,
        session: SmtpSession,
        envelope: Envelope,
        address: str,
        mail_options: list[str],
    ) -> str:
        # Checked here rather than with aiosmtpd's auth_required=True, which warns on every
        # connection when TLS is not required; the reply is the same 530.
        if self._sink.username is not None and not session.authenticated:
            return "530 5.7.0 Authentication required"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(
        self,
        server: SMTP,
        session: SmtpSession,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        rejection = self._sink._rejections.get(address.lower())
        if rejection is not None:
            return rejection
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: SmtpSession, envelope: Envelope) -> str:
        with self._sink._lock:
            failure = self._sink._data_failures.pop(0) if self._sink._data_failures else None
        if failure is not None:
            return failure
        raw = envelope.original_content or envelope.content
        assert isinstance(raw, bytes)
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        auth = session.auth_data
        self._sink._messages.add(
            ReceivedEmail(
                mail_from=str(envelope.mail_from),
                rcpt_tos=list(envelope.rcpt_tos),
                subject=parsed["Subject"],
                from_header=parsed["From"],
                to_header=parsed["To"],
                text=_part_content(parsed, "plain"),
                html=_part_content(parsed, "html"),
                message=parsed,
                raw=raw,
                auth_user=auth.login.decode() if isinstance(auth, LoginPassword) else None,
                received_at=_now(),
            )
        )
        if self._sink.delay:
            # Accepted, then a slow reply: the sender cannot know the message arrived.
            await asyncio.sleep(self._sink.delay)
        return "250 2.0.0 Message accepted for delivery"


class SmtpSink:
    """An SMTP server on 127.0.0.1 that records the mail it accepts.

    With ``username`` and ``password`` it requires AUTH (PLAIN or LOGIN) before MAIL, without
    TLS (loopback only)."""

    def __init__(self, username: str | None = None, password: str | None = None) -> None:
        self.username = username
        self.password = password
        self.host = LOOPBACK
        self.port = 0
        self._messages: _Recorder[ReceivedEmail] = _Recorder()
        self._rejections: dict[str, str] = {}
        self._data_failures: list[str] = []
        self._lock = threading.Lock()
        self._controller: Controller | None = None
        self.delay = 0.0

    def start(self) -> Self:
        self.port = _free_port()
        kwargs: dict[str, Any] = {}
        if self.username is not None:
            kwargs.update(authenticator=self._authenticate, auth_require_tls=False)
        self._controller = Controller(
            _SinkHandler(self), hostname=self.host, port=self.port, **kwargs
        )
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _authenticate(
        self,
        server: SMTP,
        session: SmtpSession,
        envelope: Envelope,
        mechanism: str,
        auth_data: object,
    ) -> AuthResult:
        if not isinstance(auth_data, LoginPassword) or self.password is None:
            return AuthResult(success=False, handled=False)
        ok = auth_data.login.decode() == self.username and secrets.compare_digest(
            auth_data.password, self.password.encode()
        )
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)

    @property
    def messages(self) -> list[ReceivedEmail]:
        return self._messages.snapshot()

    def wait_for(self, count: int, timeout: float = 5.0) -> list[ReceivedEmail]:
        return self._messages.wait_for(count, timeout)

    def reject(
        self, address: str, code: int = 550, message: str = "5.1.1 Recipient address rejected"
    ) -> None:
        """RCPT TO ``address`` is refused with ``code`` (550 = permanent, 4xx = transient)."""
        self._rejections[address.lower()] = f"{code} {message}"

    def fail_next(
        self, n: int = 1, code: int = 451, message: str = "4.3.0 Temporary failure, try later"
    ) -> None:
        """The next ``n`` DATA commands are answered with ``code`` (nothing is recorded)."""
        with self._lock:
            self._data_failures.extend([f"{code} {message}"] * n)

    def set_delay(self, seconds: float) -> None:
        """Hold the reply to every accepted message this long (it is recorded first)."""
        self.delay = seconds

    def reset(self) -> None:
        self._rejections.clear()
        with self._lock:
            self._data_failures.clear()
        self._messages.clear()
        self.delay = 0.0


# --------------------------------------------------------------------------------------------
# Fixtures
# --------------------------------------------------------------------------------------------

SMTP_USER = "alerts-mailer"
SMTP_PASSWORD = "smtp-sink-password"
_app_names = itertools.count(1)


@contextlib.contextmanager
def _running(peer: _Peer) -> Iterator[_Peer]:
    peer.start()
    try:
        yield peer
    finally:
        peer.stop()


@pytest.fixture
def fake_twilio() -> Iterator[FakeTwilio]:
    with _running(FakeTwilio()) as fake:
        yield fake


@pytest.fixture
def twilio_rest(fake_twilio: FakeTwilio) -> Client:
    """A real twilio.rest.Client talking to ``fake_twilio``."""
    return twilio_client(fake_twilio)


@pytest.fixture
def fake_fcm() -> Iterator[FakeFCM]:
    with _running(FakeFCM()) as fake:
        yield fake


@pytest.fixture
def fcm_service_account(fake_fcm: FakeFCM, tmp_path: Path) -> Path:
    """Path of a service-account JSON that ``fake_fcm`` trusts."""
    return write_service_account(fake_fcm, tmp_path / "service-account.json")


@pytest.fixture
def fcm_app(fake_fcm: FakeFCM, fcm_service_account: Path) -> Iterator[firebase_admin.App]:
    """A real firebase_admin App sending to ``fake_fcm``; deleted afterwards."""
    app = firebase_app(fake_fcm, fcm_service_account, f"fake-fcm-{next(_app_names)}")
    try:
        yield app
    finally:
        delete_firebase_app(app)


@pytest.fixture
def smtp_sink() -> Iterator[SmtpSink]:
    """An SmtpSink requiring AUTH as ``SMTP_USER`` / ``SMTP_PASSWORD``."""
    with _running(SmtpSink(SMTP_USER, SMTP_PASSWORD)) as sink:
        yield sink


__all__ = [
    "SMTP_PASSWORD",
    "SMTP_USER",
    "FakeFCM",
    "FakeTwilio",
    "FcmMessage",
    "LoopbackTwilioHttpClient",
    "ReceivedEmail",
    "ServiceAccountKey",
    "SmtpSink",
    "TokenGrant",
    "TwilioMessage",
    "delete_firebase_app",
    "fake_fcm",
    "fake_twilio",
    "fcm_app",
    "fcm_service_account",
    "firebase_app",
    "sms_segments",
    "smtp_sink",
    "twilio_client",
    "twilio_rest",
    "twilio_signature",
    "write_service_account",
]
