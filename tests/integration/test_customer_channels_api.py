"""The app registers push devices, verifies SMS and email, and asks for test alerts."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import col, select

from account_alerts.api.app import create_app
from account_alerts.config import Settings
from account_alerts.store.alerts import AccountAlert
from account_alerts.store.audit import AuditEntry
from account_alerts.store.customers import ChannelVerification, Device, MobileUser
from account_alerts.store.database import Database
from tests.conftest import Api, Clock, error_code
from tests.support.delivery import make_delivery, reachable_customer, sink_lines, with_providers
from tests.support.factories import make_account

ACCOUNT = "1000000001"
REGISTER = """mutation($d: String!, $t: String!, $p: String!) {
  registerPushDevice(deviceId: $d, token: $t, platform: $p) }"""
START = """mutation($c: NotificationChannel!, $d: String!) {
  startChannelVerification(channel: $c, destination: $d) }"""
CONFIRM = """mutation($c: NotificationChannel!, $code: String!) {
  confirmChannelVerification(channel: $c, code: $code) }"""
TEST_ALERT = (
    """mutation($a: String!, $t: AlertType!) { testAlert(accountNumber: $a, alertType: $t) }"""
)


class SinkApi(Api):
    sink: Path


@pytest.fixture
async def sink_api(
    settings: Settings, db: Database, clock: Clock, tmp_path: Path
) -> AsyncIterator[SinkApi]:
    configured = with_providers(settings, sink_file=tmp_path / "sink.jsonl")
    app = create_app(configured, database=db, clock=clock)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://alerts.test"
    ) as client:
        api = SinkApi(client, configured, clock)
        api.sink = tmp_path / "sink.jsonl"
        yield api


def code_in(line: dict[str, Any]) -> str:
    match = re.search(r"\b(\d{6})\b", line["body"])
    assert match, line
    return match.group(1)


async def test_registering_a_push_device(sink_api: SinkApi, db: Database) -> None:
    body = await sink_api.as_customer(7, REGISTER, {"d": "phone-1", "t": "tok-1", "p": "Android"})
    assert body == {"data": {"registerPushDevice": True}}
    again = await sink_api.as_customer(7, REGISTER, {"d": "phone-1", "t": "tok-2", "p": "android"})
    assert again == {"data": {"registerPushDevice": True}}
    async with db.session() as session:
        [device] = (await session.exec(select(Device))).all()
    assert (device.push_token, device.push_platform, device.push_token_active) == (
        "tok-2",
        "android",
        True,
    )
    for variables, field in [
        ({"d": "phone-1", "t": "tok", "p": "symbian"}, "platform"),
        ({"d": "", "t": "tok", "p": "ios"}, "deviceId"),
        ({"d": "phone-1", "t": "x" * 4097, "p": "ios"}, "token"),
    ]:
        refused = await sink_api.as_customer(7, REGISTER, variables)
        assert error_code(refused) == "BAD_USER_INPUT"
        assert refused["errors"][0]["extensions"]["field"] == field


async def test_a_token_that_moves_to_another_customer_leaves_the_first(
    sink_api: SinkApi, db: Database
) -> None:
    await sink_api.as_customer(7, REGISTER, {"d": "shared", "t": "same-token", "p": "ios"})
    await sink_api.as_customer(8, REGISTER, {"d": "shared", "t": "same-token", "p": "ios"})
    async with db.session() as session:
        devices = {d.mobile_user_id: d for d in (await session.exec(select(Device))).all()}
    assert devices[7].push_token_active is False
    assert devices[8].push_token_active is True


async def test_verifying_a_phone_number_with_the_code_sent_to_it(
    sink_api: SinkApi, db: Database
) -> None:
    body = await sink_api.as_customer(7, START, {"c": "SMS", "d": "0991 234 567"})
    assert body == {"data": {"startChannelVerification": True}}
    [line] = sink_lines(sink_api.sink)
    assert line["channel"] == "SMS" and line["alertId"] is None
    assert line["to"] != "+265991234567" and line["to"].startswith("+26")
    code = code_in(line)
    wrong = "000000" if code != "000000" else "111111"
    refused = await sink_api.as_customer(7, CONFIRM, {"c": "SMS", "code": wrong})
    assert error_code(refused) == "BAD_USER_INPUT"
    assert "4 tries left" in refused["errors"][0]["message"]
    ok = await sink_api.as_customer(7, CONFIRM, {"c": "SMS", "code": code})
    assert ok == {"data": {"confirmChannelVerification": True}}
    async with db.session() as session:
        user = await session.get(MobileUser, 7)
        stored = (await session.exec(select(ChannelVerification))).one()
        audit = (
            await session.exec(select(AuditEntry).where(col(AuditEntry.action).like("channel.%")))
        ).all()
    assert user is not None and user.phone == "+265991234567" and user.phone_verified_at
    assert code not in stored.code_hash
    assert all("+265991234567" not in str(entry.details) for entry in audit)
    reused = await sink_api.as_customer(7, CONFIRM, {"c": "SMS", "code": code})
    assert error_code(reused) == "BAD_USER_INPUT"


async def test_codes_expire_and_allow_five_tries(sink_api: SinkApi, db: Database) -> None:
    await sink_api.as_customer(7, START, {"c": "EMAIL", "d": "Chikondi@Example.MW"})
    code = code_in(sink_lines(sink_api.sink)[-1])
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(5):
        await sink_api.as_customer(7, CONFIRM, {"c": "EMAIL", "code": wrong})
    locked = await sink_api.as_customer(7, CONFIRM, {"c": "EMAIL", "code": code})
    assert "request a new one" in locked["errors"][0]["message"]
    await sink_api.as_customer(7, START, {"c": "EMAIL", "d": "chikondi@example.mw"})
    fresh = code_in(sink_lines(sink_api.sink)[-1])
    sink_api.clock.advance(minutes=11)
    expired = await sink_api.as_customer(7, CONFIRM, {"c": "EMAIL", "code": fresh})
    assert "expired" in expired["errors"][0]["message"]
    async with db.session() as session:
        user = await session.get(MobileUser, 7)
    assert user is not None and user.email_verified_at is None


async def test_bad_destinations_are_refused(sink_api: SinkApi) -> None:
    for channel, destination in [
        ("SMS", "12"),
        ("SMS", "not a number"),
        ("EMAIL", "a@"),
        ("PUSH", "token"),
    ]:
        body = await sink_api.as_customer(7, START, {"c": channel, "d": destination})
        assert error_code(body) == "BAD_USER_INPUT", (channel, destination, body)
    assert sink_lines(sink_api.sink) == []


async def test_verification_requests_are_limited(sink_api: SinkApi) -> None:
    for _ in range(5):
        await sink_api.as_customer(7, START, {"c": "SMS", "d": "+265991234567"})
    body = await sink_api.as_customer(7, START, {"c": "SMS", "d": "+265991234567"})
    assert error_code(body) == "RATE_LIMITED"
    assert len(sink_lines(sink_api.sink)) == 5


async def test_test_alert_goes_through_the_customers_channels(
    sink_api: SinkApi, db: Database, clock: Clock
) -> None:
    await make_account(db, user_id=7, account_number=ACCOUNT)
    await reachable_customer(db, 7)
    body = await sink_api.as_customer(7, TEST_ALERT, {"a": ACCOUNT, "t": "LARGE_TRANSACTION"})
    assert body == {"data": {"testAlert": True}}
    history = await sink_api.as_customer(
        7, "{ accountAlerts { items { isTest title alertType deliveries { channel } } } }"
    )
    [item] = history["data"]["accountAlerts"]["items"]
    assert item["isTest"] is True and item["title"].startswith("Test:")
    assert sorted(d["channel"] for d in item["deliveries"]) == ["PUSH", "SMS"]
    delivery = make_delivery(sink_api.settings, db, clock)
    try:
        await delivery.drain()
    finally:
        await delivery.close()
    assert sorted(line["channel"] for line in sink_lines(sink_api.sink)) == ["PUSH", "SMS"]


async def test_test_alerts_ignore_the_daily_rule_but_are_limited(
    sink_api: SinkApi, db: Database
) -> None:
    await make_account(db, user_id=7, account_number=ACCOUNT)
    for _ in range(5):
        body = await sink_api.as_customer(7, TEST_ALERT, {"a": ACCOUNT, "t": "LOW_BALANCE"})
        assert body == {"data": {"testAlert": True}}
    sixth = await sink_api.as_customer(7, TEST_ALERT, {"a": ACCOUNT, "t": "LOW_BALANCE"})
    assert error_code(sixth) == "RATE_LIMITED"
    async with db.session() as session:
        stored = (await session.exec(select(AccountAlert))).all()
    assert len(stored) == 5 and all(alert.is_test for alert in stored)
    sink_api.clock.advance(hours=1, seconds=1)
    assert (await sink_api.as_customer(7, TEST_ALERT, {"a": ACCOUNT, "t": "PAYMENT_DUE"}))[
        "data"
    ] == {"testAlert": True}
    foreign = await sink_api.as_customer(8, TEST_ALERT, {"a": ACCOUNT, "t": "LOW_BALANCE"})
    assert error_code(foreign) == "NOT_FOUND"
