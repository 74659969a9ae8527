"""The provider peers in tests/support/providers.py, driven by the real client libraries.

These pin down what the libraries do against each failure (exception types, and the retries
firebase-admin makes on its own), so an upgrade that changes it shows up here first."""

from __future__ import annotations

import asyncio
import json
import time
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import parse_qsl

import aiosmtplib
import firebase_admin
import google.auth.exceptions
import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from firebase_admin import exceptions as firebase_exceptions
from firebase_admin import messaging
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from twilio.base.exceptions import TwilioRestException
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from tests.support import providers
from tests.support.live_server import serving
from tests.support.providers import (
    SMTP_PASSWORD,
    SMTP_USER,
    FakeFCM,
    FakeTwilio,
    LoopbackTwilioHttpClient,
    SmtpSink,
    delete_firebase_app,
    firebase_app,
    sms_segments,
    twilio_client,
    write_service_account,
)

# The peers' fixtures, by name (tests/conftest.py may re-export them instead).
fake_twilio = providers.fake_twilio
twilio_rest = providers.twilio_rest
fake_fcm = providers.fake_fcm
fcm_service_account = providers.fcm_service_account
fcm_app = providers.fcm_app
smtp_sink = providers.smtp_sink

CUSTOMER = "+15005550006"
SENDER = "+15005550001"
DEVICE = "fid-device-0001"


# --------------------------------------------------------------------------------------------
# Twilio
# --------------------------------------------------------------------------------------------


def test_twilio_client_sends_and_the_fake_records_it(
    fake_twilio: FakeTwilio, twilio_rest: Client
) -> None:
    callback = "https://alerts.example.test/webhooks/twilio/status"
    sent = twilio_rest.messages.create(
        to=CUSTOMER,
        from_=SENDER,
        body="Card ending 1234: $950.00 at ACME",
        status_callback=callback,
    )

    assert sent.sid is not None and sent.sid.startswith("SM") and len(sent.sid) == 34
    assert sent.status == "queued"
    assert (sent.to, sent.from_, sent.num_segments) == (CUSTOMER, SENDER, "1")
    assert sent.account_sid == fake_twilio.account_sid
    assert sent.price is None and sent.error_code is None
    assert sent.date_created is not None and sent.date_created.tzinfo is not None
    [recorded] = fake_twilio.messages
    assert (recorded.sid, recorded.to, recorded.body) == (sent.sid, CUSTOMER, sent.body)
    assert recorded.status_callback == callback
    assert twilio_rest.messages(sent.sid).fetch().body == sent.body


def test_twilio_messaging_service_and_segments(
    fake_twilio: FakeTwilio, twilio_rest: Client
) -> None:
    sent = twilio_rest.messages.create(
        to=CUSTOMER, messaging_service_sid="MG" + "0" * 32, body="Überweisung ✓ " * 10
    )
    # Twilio answers "accepted" when it, not the caller, will pick the sender.
    assert (sent.status, sent.from_) == ("accepted", None)
    assert sent.num_segments == "3"  # 140 UCS-2 characters: 67 per segment
    assert sms_segments("x" * 160) == 1 and sms_segments("x" * 161) == 2
    assert sms_segments("€" * 80) == 1 and sms_segments("€" * 81) == 2


async def test_twilio_sync_client_from_a_worker_thread(
    fake_twilio: FakeTwilio, twilio_rest: Client
) -> None:
    sends = [
        asyncio.to_thread(
            twilio_rest.messages.create, to=f"+1500555{n:04d}", from_=SENDER, body="x"
        )
        for n in range(5)
    ]
    results = await asyncio.gather(*sends)
    assert len({message.sid for message in results}) == 5
    assert len(await asyncio.to_thread(fake_twilio.wait_for, 5)) == 5


def test_twilio_permanent_rejection(fake_twilio: FakeTwilio, twilio_rest: Client) -> None:
    fake_twilio.reject(CUSTOMER)
    with pytest.raises(TwilioRestException) as caught:
        twilio_rest.messages.create(to=CUSTOMER, from_=SENDER, body="hello")
    assert (caught.value.status, caught.value.code) == (400, 21211)
    assert "not a valid phone number" in caught.value.msg
    assert fake_twilio.messages == []

    fake_twilio.reject(CUSTOMER, code=21610, message="Attempt to send to unsubscribed recipient")
    with pytest.raises(TwilioRestException) as caught:
        twilio_rest.messages.create(to=CUSTOMER, from_=SENDER, body="hello")
    assert caught.value.code == 21610


@pytest.mark.parametrize(("status", "code"), [(503, 20503), (500, 20500), (429, 20429)])
def test_twilio_transient_failure_is_not_retried_by_the_library(
    fake_twilio: FakeTwilio, twilio_rest: Client, status: int, code: int
) -> None:
    fake_twilio.fail_next(1, status=status, retry_after=2)
    started = time.monotonic()
    with pytest.raises(TwilioRestException) as caught:
        twilio_rest.messages.create(to=CUSTOMER, from_=SENDER, body="hello")
    assert (caught.value.status, caught.value.code) == (status, code)
    assert time.monotonic() - started < 1.5  # Retry-After was not honoured: no retry at all
    assert len(fake_twilio.attempts) == 1
    # TwilioRestException carries no headers: Retry-After is only on the raw response.
    last = twilio_rest.http_client._test_only_last_response
    assert last is not None and last.headers["Retry-After"] == "2"

    assert twilio_rest.messages.create(to=CUSTOMER, from_=SENDER, body="hello").sid
    assert len(fake_twilio.messages) == 1


def test_twilio_down_up_and_wrong_credentials(fake_twilio: FakeTwilio, twilio_rest: Client) -> None:
    fake_twilio.down()
    for _ in range(2):
        with pytest.raises(TwilioRestException) as caught:
            twilio_rest.messages.create(to=CUSTOMER, from_=SENDER, body="hello")
        assert caught.value.status == 503
    fake_twilio.up()
    assert twilio_rest.messages.create(to=CUSTOMER, from_=SENDER, body="hello").sid

    intruder = Client(
        fake_twilio.account_sid,
        "wrong-token",
        http_client=LoopbackTwilioHttpClient(fake_twilio.base_url),
    )
    with pytest.raises(TwilioRestException) as caught:
        intruder.messages.create(to=CUSTOMER, from_=SENDER, body="hello")
    assert (caught.value.status, caught.value.code) == (401, 20003)


def test_twilio_slow_response_times_out_as_a_requests_error(fake_twilio: FakeTwilio) -> None:
    fake_twilio.set_delay(1.0)
    client = twilio_client(fake_twilio, timeout=0.2)
    with pytest.raises(requests.exceptions.Timeout):  # not a TwilioRestException
        client.messages.create(to=CUSTOMER, from_=SENDER, body="hello")
    fake_twilio.set_delay(0)


async def test_twilio_status_callback_is_signed_like_twilio(
    fake_twilio: FakeTwilio, twilio_rest: Client
) -> None:
    received: list[tuple[bool, dict[str, str]]] = []

    async def webhook(request: Request) -> PlainTextResponse:
        form = dict(parse_qsl((await request.body()).decode()))
        validator = RequestValidator(fake_twilio.auth_token)
        valid = validator.validate(
            str(request.url), form, request.headers.get("X-Twilio-Signature", "")
        )
        received.append((valid, form))
        return PlainTextResponse("", status_code=204 if valid else 403)

    app = Starlette(routes=[Route("/webhooks/twilio/status", webhook, methods=["POST"])])
    async with serving(app) as host:
        callback = f"http://{host}/webhooks/twilio/status"
        await asyncio.to_thread(
            twilio_rest.messages.create,
            to=CUSTOMER,
            from_=SENDER,
            body="hello",
            status_callback=callback,
        )
        [message] = fake_twilio.messages
        response = await fake_twilio.send_status_callback(message, "undelivered", error_code=30003)
    assert response.status_code == 204
    [(valid, form)] = received
    assert valid
    assert form["MessageSid"] == message.sid and form["MessageStatus"] == "undelivered"
    assert form["ErrorCode"] == "30003"

    url, params, headers = fake_twilio.status_callback(message, "delivered")
    assert not RequestValidator("another-token").validate(
        url, params, headers["X-Twilio-Signature"]
    )


# --------------------------------------------------------------------------------------------
# FCM
# --------------------------------------------------------------------------------------------


def _alert(target: str = DEVICE) -> messaging.Message:
    return messaging.Message(
        fid=target,
        notification=messaging.Notification(title="Low balance", body="Checking is below $50"),
        data={"alert_id": "42", "kind": "low_balance"},
        android=messaging.AndroidConfig(priority="high", ttl=3600),
        apns=messaging.APNSConfig(headers={"apns-priority": "10"}),
    )


def test_fcm_send_after_a_real_oauth_exchange(
    fake_fcm: FakeFCM, fcm_app: firebase_admin.App, fcm_service_account: Path
) -> None:
    first = messaging.send(_alert(), app=fcm_app)
    second = messaging.send(_alert("fid-device-0002"), app=fcm_app)

    assert first.startswith(f"projects/{fake_fcm.project_id}/messages/") and first != second
    [grant] = fake_fcm.token_grants  # one exchange; the access token is cached
    account = json.loads(fcm_service_account.read_text())
    assert grant.client_email == account["client_email"]
    assert "https://www.googleapis.com/auth/cloud-platform" in grant.scopes
    sent = fake_fcm.messages
    assert [message.name for message in sent] == [first, second]
    assert sent[0].fid == DEVICE and sent[0].token is None
    assert sent[0].notification == {"title": "Low balance", "body": "Checking is below $50"}
    assert sent[0].data == {"alert_id": "42", "kind": "low_balance"}
    assert sent[0].android == {"priority": "high", "ttl": "3600s"}
    assert sent[0].apns == {"headers": {"apns-priority": "10"}}
    assert sent[0].headers["authorization"] == f"Bearer {grant.access_token}"
    assert sent[0].headers["x-goog-api-format-version"] == "2"


def test_fcm_deprecated_token_target_and_dry_run(
    fake_fcm: FakeFCM, fcm_app: firebase_admin.App
) -> None:
    with pytest.warns(DeprecationWarning, match="Message.token is deprecated"):
        message = messaging.Message(token="registration-token-1", data={"k": "v"})
    messaging.send(message, app=fcm_app)
    assert fake_fcm.messages[0].token == "registration-token-1"
    assert fake_fcm.messages[0].fid is None

    assert messaging.send(_alert(), dry_run=True, app=fcm_app).endswith("/fake_message_id")
    assert len(fake_fcm.messages) == 1  # validate_only is not a delivery


def test_fcm_unregistered_and_invalid_tokens(
    fake_fcm: FakeFCM, fcm_app: firebase_admin.App
) -> None:
    fake_fcm.unregister(DEVICE)
    with pytest.raises(messaging.UnregisteredError) as caught:
        messaging.send(_alert(), app=fcm_app)
    assert isinstance(caught.value, firebase_exceptions.NotFoundError)
    assert caught.value.code == "NOT_FOUND"
    assert caught.value.http_response.status_code == 404
    assert len(fake_fcm.attempts) == 1  # 404 is never retried

    fake_fcm.invalid("garbage")
    with pytest.raises(firebase_exceptions.InvalidArgumentError):
        messaging.send(_alert("garbage"), app=fcm_app)


def test_fcm_library_retries_503_on_its_own(fake_fcm: FakeFCM, fcm_app: firebase_admin.App) -> None:
    fake_fcm.fail_next(2, status=503)
    started = time.monotonic()
    assert messaging.send(_alert(), app=fcm_app)
    # Two retries inside one send(): backoff 0 s, then 1 s (urllib3, backoff_factor 0.5).
    assert len(fake_fcm.attempts) == 3
    assert 0.9 < time.monotonic() - started < 3


def test_fcm_library_gives_up_after_four_retries(
    fake_fcm: FakeFCM, fcm_app: firebase_admin.App
) -> None:
    fake_fcm.fail_next(10, status=503)
    started = time.monotonic()
    with pytest.raises(firebase_exceptions.UnavailableError) as caught:
        messaging.send(_alert(), app=fcm_app)
    elapsed = time.monotonic() - started
    assert caught.value.http_response.status_code == 503
    assert len(fake_fcm.attempts) == 5  # 1 + 4 retries, sleeping 0 + 1 + 2 + 4 s
    assert 6.5 < elapsed < 10


def test_fcm_429_is_retried_only_with_retry_after(
    fake_fcm: FakeFCM, fcm_app: firebase_admin.App
) -> None:
    fake_fcm.fail_next(1, status=429)
    with pytest.raises(messaging.QuotaExceededError) as caught:
        messaging.send(_alert(), app=fcm_app)
    assert caught.value.code == "RESOURCE_EXHAUSTED"
    assert len(fake_fcm.attempts) == 1

    fake_fcm.fail_next(1, status=429, retry_after=1)
    started = time.monotonic()
    assert messaging.send(_alert(), app=fcm_app)  # slept Retry-After, then succeeded
    assert len(fake_fcm.attempts) == 3
    assert time.monotonic() - started >= 0.9


def test_fcm_without_library_retries(
    fake_fcm: FakeFCM, fcm_service_account: Path, tmp_path: Path
) -> None:
    app = firebase_app(fake_fcm, fcm_service_account, "no-retries", library_retries=False)
    try:
        fake_fcm.fail_next(1, status=503, retry_after=30)
        started = time.monotonic()
        with pytest.raises(firebase_exceptions.UnavailableError) as caught:
            messaging.send(_alert(), app=app)
        assert time.monotonic() - started < 1
        assert caught.value.http_response.headers["Retry-After"] == "30"
        assert len(fake_fcm.attempts) == 1

        fake_fcm.down()
        with pytest.raises(firebase_exceptions.UnavailableError):
            messaging.send(_alert(), app=app)
        fake_fcm.up()
        assert messaging.send(_alert(), app=app)
    finally:
        delete_firebase_app(app)


def test_fcm_refreshes_a_rejected_access_token(
    fake_fcm: FakeFCM, fcm_app: firebase_admin.App
) -> None:
    messaging.send(_alert(), app=fcm_app)
    fake_fcm.revoke_access_tokens()
    messaging.send(_alert(), app=fcm_app)  # 401, new token, same request again
    assert len(fake_fcm.token_grants) == 2
    assert len(fake_fcm.messages) == 2


def test_fcm_token_endpoint_failure_is_a_google_auth_error(
    fake_fcm: FakeFCM, fcm_app: firebase_admin.App
) -> None:
    fake_fcm.fail_token_next(3, status=503)
    with pytest.raises(google.auth.exceptions.RefreshError) as caught:
        messaging.send(_alert(), app=fcm_app)
    assert not isinstance(caught.value, firebase_exceptions.FirebaseError)
    assert caught.value.retryable
    assert len(fake_fcm.token_requests) == 3  # google-auth tried three times itself
    assert fake_fcm.attempts == []


def test_fcm_rejects_an_assertion_signed_by_another_key(fake_fcm: FakeFCM, tmp_path: Path) -> None:
    path = write_service_account(fake_fcm, tmp_path / "sa.json")
    info = json.loads(path.read_text())
    impostor = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    info["private_key"] = impostor.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    path.write_text(json.dumps(info))
    app = firebase_app(fake_fcm, path, "impostor")
    try:
        with pytest.raises(google.auth.exceptions.RefreshError, match="invalid_grant"):
            messaging.send(_alert(), app=app)
        assert fake_fcm.token_grants == []
    finally:
        delete_firebase_app(app)


def test_fcm_send_each(fake_fcm: FakeFCM, fcm_app: firebase_admin.App) -> None:
    fake_fcm.unregister("fid-gone")
    batch = messaging.send_each([_alert(), _alert("fid-gone")], app=fcm_app)
    assert batch.success_count == 1
    assert batch.responses[0].message_id == fake_fcm.messages[0].name
    assert isinstance(batch.responses[1].exception, messaging.UnregisteredError)


async def test_fcm_send_each_async(fake_fcm: FakeFCM, fcm_app: firebase_admin.App) -> None:
    fake_fcm.unregister("fid-gone")
    batch = await messaging.send_each_async([_alert(), _alert("fid-gone")], app=fcm_app)
    assert batch.success_count == 1
    assert isinstance(batch.responses[1].exception, messaging.UnregisteredError)
    assert len(fake_fcm.token_grants) == 1


# --------------------------------------------------------------------------------------------
# SMTP
# --------------------------------------------------------------------------------------------


def _email(to: str = "customer@example.test") -> EmailMessage:
    message = EmailMessage()
    message["From"] = "Alerts <alerts@bank.example.test>"
    message["To"] = to
    message["Subject"] = "Large transaction on card ending 1234"
    message.set_content("A purchase of $950.00 was made at ACME.")
    message.add_alternative("<p>A purchase of <b>$950.00</b> was made at ACME.</p>", subtype="html")
    return message


async def test_smtp_send_with_auth(smtp_sink: SmtpSink) -> None:
    errors, reply = await aiosmtplib.send(
        _email(),
        hostname=smtp_sink.host,
        port=smtp_sink.port,
        username=SMTP_USER,
        password=SMTP_PASSWORD,
        timeout=10,
    )
    assert errors == {} and reply.startswith("2.0.0")
    [mail] = smtp_sink.messages
    assert mail.mail_from == "alerts@bank.example.test"
    assert mail.rcpt_tos == ["customer@example.test"]
    assert mail.subject == "Large transaction on card ending 1234"
    assert mail.text is not None and "$950.00" in mail.text
    assert mail.html is not None and "<b>$950.00</b>" in mail.html
    assert mail.auth_user == SMTP_USER


async def test_smtp_auth_is_required_and_checked(smtp_sink: SmtpSink) -> None:
    with pytest.raises(aiosmtplib.SMTPAuthenticationError) as caught:
        await aiosmtplib.send(
            _email(), hostname=smtp_sink.host, port=smtp_sink.port, username=SMTP_USER,
            password="wrong", timeout=10,
        )  # fmt: skip
    assert caught.value.code == 535
    with pytest.raises(aiosmtplib.SMTPSenderRefused) as refused:
        await aiosmtplib.send(_email(), hostname=smtp_sink.host, port=smtp_sink.port, timeout=10)
    assert refused.value.code == 530
    assert smtp_sink.messages == []


async def test_smtp_recipient_rejections(smtp_sink: SmtpSink) -> None:
    login = {"username": SMTP_USER, "password": SMTP_PASSWORD, "timeout": 10}
    smtp_sink.reject("gone@example.test")
    with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as caught:
        await aiosmtplib.send(
            _email("gone@example.test"), hostname=smtp_sink.host, port=smtp_sink.port, **login
        )
    [refusal] = caught.value.recipients
    assert (refusal.code, refusal.recipient) == (550, "gone@example.test")
    assert smtp_sink.messages == []

    # Some recipients refused, some accepted: no exception, the refusals are in the result.
    errors, _ = await aiosmtplib.send(
        _email(),
        hostname=smtp_sink.host,
        port=smtp_sink.port,
        recipients=["gone@example.test", "customer@example.test"],
        **login,
    )
    assert errors["gone@example.test"].code == 550
    assert smtp_sink.messages[0].rcpt_tos == ["customer@example.test"]


async def test_smtp_transient_failure(smtp_sink: SmtpSink) -> None:
    login = {"username": SMTP_USER, "password": SMTP_PASSWORD, "timeout": 10}
    smtp_sink.fail_next(1)
    with pytest.raises(aiosmtplib.SMTPDataError) as caught:
        await aiosmtplib.send(_email(), hostname=smtp_sink.host, port=smtp_sink.port, **login)
    assert caught.value.code == 451
    await aiosmtplib.send(_email(), hostname=smtp_sink.host, port=smtp_sink.port, **login)
    assert len(await asyncio.to_thread(smtp_sink.wait_for, 1)) == 1


async def test_smtp_sink_without_auth() -> None:
    with SmtpSink() as sink:
        await aiosmtplib.send(_email(), hostname=sink.host, port=sink.port, timeout=10)
        assert sink.messages[0].auth_user is None
