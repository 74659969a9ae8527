"""A customer who replies STOP gets no more SMS, START brings them back, HELP is
answered: Twilio's signed webhooks from the local Twilio peer, the real twilio,
firebase-admin and SMTP clients delivering, on SQLite and PostgreSQL."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import select
from twilio.request_validator import RequestValidator

from account_alerts.api.app import create_app
from account_alerts.config import Settings
from account_alerts.store.database import Database
from account_alerts.store.sms_consent import SmsReply
from tests.conftest import Api, Clock, error_code
from tests.support import providers
from tests.support.audit import audit_entries
from tests.support.delivery import (
    EMAIL,
    PHONE,
    PUSH_TOKEN,
    Delivery,
    make_delivery,
    reachable_customer,
    with_providers,
)
from tests.support.events import RECORD_LOGIN, RECORD_TRANSACTION, login, transaction
from tests.support.factories import make_account
from tests.support.providers import FakeFCM, FakeTwilio, SmtpSink

fake_twilio = providers.fake_twilio
fake_fcm = providers.fake_fcm
fcm_service_account = providers.fcm_service_account
smtp_sink = providers.smtp_sink

ACCOUNT = "1000000001"
INBOUND = "/webhooks/twilio/inbound"
SETTINGS_QUERY = '{ accountAlertSettings(accountNumber: "1000000001") { smsOptedOut } }'
DELIVERIES_QUERY = (
    "{ accountAlerts { items { alertType status"
    " deliveries { channel status attempts lastError } } } }"
)


def day(hours: float = 0) -> datetime:
    base = datetime.now(UTC).replace(hour=6, minute=0, second=0, microsecond=0) - timedelta(days=2)
    return base + timedelta(hours=hours)


@dataclass
class Bank:
    """The app with every provider pointed at a local peer, its worker, and Twilio."""

    api: Api
    delivery: Delivery
    settings: Settings
    twilio: FakeTwilio
    fcm: FakeFCM
    smtp: SmtpSink

    async def text_from(
        self, phone: str, body: str, *, signed_by: str | None = None
    ) -> httpx.Response:
        """The customer texts ``body`` to the alerts number; Twilio posts it to us."""
        url = self.settings.public_url + INBOUND
        params, headers = self.twilio.incoming_message(url, phone, body)
        if signed_by is not None:
            forged = RequestValidator(signed_by).compute_signature(url, params)
            headers = {**headers, "X-Twilio-Signature": forged}
        return await self.api.client.post(INBOUND, data=params, headers=headers)

    async def sms_opted_out(self, user_id: int) -> bool:
        body = await self.api.as_customer(user_id, SETTINGS_QUERY)
        assert "errors" not in body, body
        return bool(body["data"]["accountAlertSettings"]["smsOptedOut"])

    async def deliveries(self, user_id: int) -> list[dict[str, Any]]:
        body = await self.api.as_customer(user_id, DELIVERIES_QUERY)
        assert "errors" not in body, body
        items: list[dict[str, Any]] = body["data"]["accountAlerts"]["items"]
        return items

    async def large_transaction(self) -> None:
        """A LARGE_TRANSACTION alert: PUSH and SMS by default."""
        body = await self.api.as_service(
            RECORD_TRANSACTION, {"input": transaction(ACCOUNT, "60000", day())}
        )
        assert body["data"]["recordTransaction"]["alerts"], body


@pytest.fixture
async def bank(
    settings: Settings,
    db: Database,
    clock: Clock,
    fake_twilio: FakeTwilio,
    fake_fcm: FakeFCM,
    fcm_service_account: Path,
    smtp_sink: SmtpSink,
) -> AsyncIterator[Bank]:
    configured = with_providers(
        settings,
        twilio=fake_twilio,
        fcm=fake_fcm,
        fcm_credentials=fcm_service_account,
        smtp=smtp_sink,
    )
    delivery = make_delivery(configured, db, clock)
    app = create_app(configured, database=db, clock=clock, channels=delivery.channels)
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://alerts.test") as client:
            yield Bank(
                Api(client, configured, clock),
                delivery,
                configured,
                fake_twilio,
                fake_fcm,
                smtp_sink,
            )
    finally:
        await delivery.close()


def twiml_messages(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/xml")
    root = ET.fromstring(response.text)  # noqa: S314 - our own answer, in a test
    assert root.tag == "Response"
    return [message.text or "" for message in root.iter("Message")]


async def test_after_stop_an_alert_skips_sms_and_still_pushes(bank: Bank, db: Database) -> None:
    await make_account(db, user_id=7, account_number=ACCOUNT)
    await reachable_customer(db, 7)
    assert await bank.sms_opted_out(7) is False

    answer = await bank.text_from(PHONE, " Stop ")
    assert twiml_messages(answer) == []  # Twilio confirms the opt-out itself
    assert await bank.sms_opted_out(7) is True
    [opted_out] = await audit_entries(db, "sms.opted_out")
    assert opted_out.mobile_user_id == 7 and PHONE not in (opted_out.subject_id or "")

    await bank.large_transaction()
    await bank.delivery.drain()
    assert bank.twilio.attempts == []  # never attempted
    [push] = bank.fcm.wait_for(1)
    assert push.token == PUSH_TOKEN
    [alert] = await bank.deliveries(7)
    by_channel = {d["channel"]: d for d in alert["deliveries"]}
    assert alert["status"] == "SENT"
    assert by_channel["PUSH"]["status"] == "SENT"
    sms = by_channel["SMS"]
    assert sms["status"] == "SKIPPED" and sms["attempts"] == 0
    assert "opted out" in sms["lastError"] and "START" in sms["lastError"]
    skipped = [
        entry
        for entry in await audit_entries(db, "delivery.attempted")
        if entry.details["channel"] == "SMS"
    ]
    assert [(e.details["outcome"], "opted out" in e.details["error"]) for e in skipped] == [
        ("skipped", True)
    ]


async def test_after_start_an_alert_is_texted_again(bank: Bank, db: Database) -> None:
    await make_account(db, user_id=7, account_number=ACCOUNT)
    await reachable_customer(db, 7)
    await bank.text_from(PHONE, "STOP")
    assert await bank.sms_opted_out(7) is True

    assert twiml_messages(await bank.text_from(PHONE, "start")) == []
    assert await bank.sms_opted_out(7) is False
    [opted_in] = await audit_entries(db, "sms.opted_in")
    assert opted_in.mobile_user_id == 7 and opted_in.actor_role == "customer"

    await bank.large_transaction()
    await bank.delivery.drain()
    [sms] = bank.twilio.wait_for(1)
    assert sms.to == PHONE and sms.body.endswith("Reply STOP to opt out, HELP for help.")
    [alert] = await bank.deliveries(7)
    assert {d["channel"]: d["status"] for d in alert["deliveries"]} == {
        "PUSH": "SENT",
        "SMS": "SENT",
    }


async def test_twilio_refusing_with_21610_opts_the_number_out(bank: Bank, db: Database) -> None:
    await make_account(db, user_id=7, account_number=ACCOUNT)
    await reachable_customer(db, 7)
    # The customer replied STOP to Twilio before our inbound webhook was configured.
    bank.twilio.reject(PHONE, code=21610, message="Attempt to send to unsubscribed recipient")

    await bank.large_transaction()
    await bank.delivery.drain()
    assert len(bank.twilio.attempts) == 1
    [alert] = await bank.deliveries(7)
    sms = next(d for d in alert["deliveries"] if d["channel"] == "SMS")
    assert sms["status"] == "FAILED" and "21610" in sms["lastError"]
    assert await bank.sms_opted_out(7) is True
    [opted_out] = await audit_entries(db, "sms.opted_out")
    assert opted_out.actor_id == "twilio" and opted_out.details["source"] == "twilio error 21610"

    await bank.large_transaction()
    await bank.delivery.drain()
    assert len(bank.twilio.attempts) == 1  # the next one is not even tried
    newest = (await bank.deliveries(7))[0]
    sms = next(d for d in newest["deliveries"] if d["channel"] == "SMS")
    assert sms["status"] == "SKIPPED" and sms["attempts"] == 0


async def test_a_number_shared_by_two_customers_is_opted_out_for_both(
    bank: Bank, db: Database
) -> None:
    await make_account(db, user_id=7, account_number=ACCOUNT)
    await make_account(db, user_id=8, account_number="1000000002")
    await reachable_customer(db, 7, push=False)
    await reachable_customer(db, 8, push=False)

    await bank.text_from(PHONE, "UNSUBSCRIBE")
    assert await bank.sms_opted_out(7) is True
    shared = await bank.api.as_customer(
        8, '{ accountAlertSettings(accountNumber: "1000000002") { smsOptedOut } }'
    )
    assert shared["data"]["accountAlertSettings"]["smsOptedOut"] is True
    audited = await audit_entries(db, "sms.opted_out")
    assert sorted(entry.mobile_user_id or 0 for entry in audited) == [7, 8]

    for account in (ACCOUNT, "1000000002"):
        await bank.api.as_service(
            RECORD_TRANSACTION, {"input": transaction(account, "60000", day())}
        )
    await bank.delivery.drain()
    assert bank.twilio.attempts == []
    for user in (7, 8):
        [alert] = await bank.deliveries(user)
        sms = next(d for d in alert["deliveries"] if d["channel"] == "SMS")
        assert sms["status"] == "SKIPPED"


async def test_a_forged_signature_is_refused_and_changes_nothing(bank: Bank, db: Database) -> None:
    await make_account(db, user_id=7, account_number=ACCOUNT)
    await reachable_customer(db, 7)

    forged = await bank.text_from(PHONE, "STOP", signed_by="not-our-auth-token")
    assert forged.status_code == 403
    url = bank.settings.public_url + INBOUND
    params, _ = bank.twilio.incoming_message(url, PHONE, "STOP")
    unsigned = await bank.api.client.post(INBOUND, data=params)
    assert unsigned.status_code == 403
    # A valid signature for other content does not carry over.
    _, headers = bank.twilio.incoming_message(url, PHONE, "HELLO")
    swapped = await bank.api.client.post(INBOUND, data=params, headers=headers)
    assert swapped.status_code == 403

    assert await bank.sms_opted_out(7) is False
    assert await audit_entries(db, "sms.opted_out") == []
    async with db.session() as session:
        assert (await session.exec(select(SmsReply))).all() == []


async def test_help_is_answered_with_the_banks_help_text(bank: Bank, db: Database) -> None:
    await make_account(db, user_id=7, account_number=ACCOUNT)
    await reachable_customer(db, 7)

    [answer] = twiml_messages(await bank.text_from(PHONE, "help"))
    assert answer == bank.settings.sms_help_text
    assert "STOP" in answer and "START" in answer
    assert await bank.sms_opted_out(7) is False


async def test_other_replies_are_kept_for_the_record_and_change_nothing(
    bank: Bank, db: Database
) -> None:
    await make_account(db, user_id=7, account_number=ACCOUNT)
    await reachable_customer(db, 7)

    answer = await bank.text_from(PHONE, "Thanks, that was me")
    assert twiml_messages(answer) == []
    assert await bank.sms_opted_out(7) is False
    async with db.session() as session:
        [reply] = (await session.exec(select(SmsReply))).all()
    assert (reply.from_phone, reply.body, reply.keyword) == (PHONE, "Thanks, that was me", None)


async def test_the_same_reply_posted_twice_is_acted_on_once(bank: Bank, db: Database) -> None:
    await make_account(db, user_id=7, account_number=ACCOUNT)
    await reachable_customer(db, 7)
    url = bank.settings.public_url + INBOUND
    params, headers = bank.twilio.incoming_message(url, PHONE, "STOP")
    for _ in range(2):
        response = await bank.api.client.post(INBOUND, data=params, headers=headers)
        assert response.status_code == 200
    assert len(await audit_entries(db, "sms.opted_out")) == 1
    async with db.session() as session:
        assert len((await session.exec(select(SmsReply))).all()) == 1


async def test_verifying_the_number_again_does_not_lift_the_opt_out(
    bank: Bank, db: Database
) -> None:
    await make_account(db, user_id=7, account_number=ACCOUNT)
    await reachable_customer(db, 7)
    await bank.text_from(PHONE, "STOP")

    body = await bank.api.as_customer(
        7,
        "mutation($to: String!) { startChannelVerification(channel: SMS, destination: $to) }",
        {"to": PHONE},
    )
    assert error_code(body) == "BAD_USER_INPUT"
    assert body["errors"][0]["extensions"]["field"] == "destination"
    assert "START" in body["errors"][0]["message"]
    assert bank.twilio.attempts == []
    assert await bank.sms_opted_out(7) is True
    assert await audit_entries(db, "channel.verification_started") == []


async def set_login_channels(bank: Bank, channels: list[str]) -> None:
    body = await bank.api.as_customer(
        7,
        """mutation($c: [NotificationChannel!]!) {
             updateAccountAlertSettings(accountNumber: "1000000001",
               settings: {loginAlertMode: EVERY_LOGIN, loginAlertChannels: $c}) {
             loginAlertChannels } }""",
        {"c": channels},
    )
    assert "errors" not in body, body


async def test_a_security_alert_texted_only_falls_back_to_push(bank: Bank, db: Database) -> None:
    await make_account(db, user_id=7, account_number=ACCOUNT)
    await reachable_customer(db, 7)
    await set_login_channels(bank, ["SMS"])
    await bank.text_from(PHONE, "STOP")

    await bank.api.as_service(RECORD_LOGIN, {"input": login(7, day())})
    await bank.delivery.drain()
    assert bank.twilio.attempts == []
    [push] = bank.fcm.wait_for(1)
    assert push.notification["title"] == "New sign-in"
    assert bank.smtp.messages == []
    [alert] = await bank.deliveries(7)
    assert alert["status"] == "SENT"
    assert [(d["channel"], d["status"]) for d in alert["deliveries"]] == [
        ("SMS", "SKIPPED"),
        ("PUSH", "SENT"),
    ]
    [fallback] = await audit_entries(db, "delivery.fallback")
    assert (fallback.details["from"], fallback.details["to"]) == ("SMS", "PUSH")
    assert "opted out" in fallback.details["because"]


async def test_when_push_cannot_reach_either_the_security_alert_goes_by_email(
    bank: Bank, db: Database
) -> None:
    await make_account(db, user_id=7, account_number=ACCOUNT)
    await reachable_customer(db, 7)
    bank.fcm.unregister(PUSH_TOKEN)  # the app was uninstalled
    await set_login_channels(bank, ["SMS"])
    await bank.text_from(PHONE, "STOP")

    await bank.api.as_service(RECORD_LOGIN, {"input": login(7, day())})
    await bank.delivery.drain()
    [mail] = bank.smtp.wait_for(1)
    assert mail.rcpt_tos == [EMAIL] and mail.subject == "New sign-in"
    assert bank.twilio.attempts == []
    [alert] = await bank.deliveries(7)
    assert alert["status"] == "SENT"
    assert [(d["channel"], d["status"]) for d in alert["deliveries"]] == [
        ("SMS", "SKIPPED"),
        ("PUSH", "FAILED"),
        ("EMAIL", "SENT"),
    ]
    fallbacks = await audit_entries(db, "delivery.fallback")
    assert [(f.details["from"], f.details["to"]) for f in fallbacks] == [
        ("SMS", "PUSH"),
        ("PUSH", "EMAIL"),
    ]


async def test_other_alerts_to_an_opted_out_number_do_not_fall_back(
    bank: Bank, db: Database
) -> None:
    await make_account(db, user_id=7, account_number=ACCOUNT)
    await reachable_customer(db, 7)
    body = await bank.api.as_customer(
        7,
        """mutation { updateAccountAlertSettings(accountNumber: "1000000001",
           settings: {lowBalanceChannels: [SMS]}) { lowBalanceChannels } }""",
    )
    assert "errors" not in body, body
    await bank.text_from(PHONE, "STOP")
    await bank.api.as_service(
        RECORD_TRANSACTION,
        {"input": transaction(ACCOUNT, "10", day(), balance_after="100")},
    )
    await bank.delivery.drain()
    [alert] = await bank.deliveries(7)
    assert [(d["channel"], d["status"]) for d in alert["deliveries"]] == [("SMS", "SKIPPED")]
    assert bank.fcm.messages == [] and bank.twilio.attempts == []
    assert await audit_entries(db, "delivery.fallback") == []


async def test_a_status_report_of_error_21610_opts_the_number_out(bank: Bank, db: Database) -> None:
    await make_account(db, user_id=7, account_number=ACCOUNT)
    await reachable_customer(db, 7)
    await bank.large_transaction()
    await bank.delivery.drain()
    [message] = bank.twilio.wait_for(1)
    url, params, headers = bank.twilio.status_callback(message, "undelivered", error_code=21610)
    response = await bank.api.client.post(
        url.removeprefix(bank.settings.public_url), data=params, headers=headers
    )
    assert response.status_code == 204
    assert await bank.sms_opted_out(7) is True
