"""Signed webhooks end to end: endpoints managed over GraphQL, events written with the
changes they report, delivered by the dispatcher to real HTTP receivers on 127.0.0.1 and
verified there with the Standard Webhooks library; faults of the receivers."""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlmodel import col, select
from standardwebhooks.webhooks import WebhookVerificationError

from account_alerts.api.app import create_app
from account_alerts.config import Settings
from account_alerts.delivery.webhooks.dispatcher import WebhookDispatcher
from account_alerts.domain.enums import AlertType
from account_alerts.domain.webhooks import WebhookEventType
from account_alerts.store.audit import AuditEntry
from account_alerts.store.database import Database
from account_alerts.store.tables import WebhookEndpoint, WebhookEvent
from account_alerts.store.webhook_outbox import EVENTS, undispatched
from tests.conftest import TEST_SECRET, Api, Clock, error_code
from tests.support.delivery import count_passes, make_delivery, with_providers
from tests.support.events import RECORD_LOGIN, login
from tests.support.factories import make_account, make_alert
from tests.support.plans import plan_nodes
from tests.support.webhook_receiver import WebhookReceiver

CREATE = """mutation($url: String!, $types: [WebhookEventType!]!, $d: String! = "") {
  createWebhookEndpoint(url: $url, eventTypes: $types, description: $d) {
    secret
    endpoint { id url description eventTypes enabled secretRotatingUntil }
  }
}"""
ROTATE = """mutation($id: ID!, $o: Int) {
  rotateWebhookSecret(id: $id, overlapSeconds: $o) { secret endpoint { id secretRotatingUntil } }
}"""
DISABLE = "mutation($id: ID!) { disableWebhookEndpoint(id: $id) { id enabled disabledReason } }"
ENDPOINTS = "{ webhookEndpoints { id url enabled disabledReason eventTypes } }"
DELIVERIES = """query($e: ID!, $s: WebhookDeliveryStatus) {
  webhookDeliveries(endpointId: $e, status: $s) {
    totalCount
    items {
      id eventType messageId status tries lastStatusCode lastError deliveredAt
      attempts { attemptedAt statusCode latencyMs error }
    }
  }
}"""
REPLAY = "mutation($id: ID!) { replayWebhookDelivery(id: $id) { id status tries messageId } }"
ACK = "mutation($id: ID!, $a: UserAction) { acknowledgeAlert(alertId: $id, action: $a) }"


@pytest.fixture
def settings(database_url: str) -> Settings:
    # Receivers run on 127.0.0.1, allowed here explicitly; retries come at once.
    return Settings(
        database_url=database_url,
        jwt_secret=TEST_SECRET,
        webhook_allowed_networks="127.0.0.1/32",
        webhook_retry_schedule=(0.0, 0.0),
        webhook_timeout_seconds=1.0,
    )


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as running:
        yield running


@pytest.fixture
async def dispatcher(
    settings: Settings, db: Database, clock: Clock
) -> AsyncIterator[WebhookDispatcher]:
    running = WebhookDispatcher(db=db, settings=settings, clock=clock, worker_id="test-webhooks")
    yield running
    await running.close()


async def create(api: Api, url: str, types: list[str], description: str = "") -> dict[str, Any]:
    body = await api.as_admin(CREATE, {"url": url, "types": types, "d": description})
    assert "errors" not in body, body
    created: dict[str, Any] = body["data"]["createWebhookEndpoint"]
    return created


async def deliveries(api: Api, endpoint_id: str, status: str | None = None) -> list[Any]:
    body = await api.as_admin(DELIVERIES, {"e": endpoint_id, "s": status})
    assert "errors" not in body, body
    items: list[Any] = body["data"]["webhookDeliveries"]["items"]
    return items


async def new_device_alert(api: Api, db: Database, user_id: int = 7) -> str:
    """A sign-in from a new device: one ACCOUNT_LOGIN alert."""
    await make_account(db, user_id=user_id, account_number=f"10000000{user_id:02d}")
    at = datetime.now(UTC) - timedelta(hours=1)
    body = await api.as_service(RECORD_LOGIN, {"input": login(user_id, at, device="new")})
    alert_id: str = body["data"]["recordLogin"]["alerts"][0]["id"]
    return alert_id


async def test_an_alert_reaches_subscribed_endpoints_signed_by_the_standard(
    api: Api, db: Database, receiver: WebhookReceiver, dispatcher: WebhookDispatcher
) -> None:
    created = await create(api, receiver.url("core"), ["ALERT_CREATED"], "core banking")
    other = await create(api, receiver.url("chat"), ["USER_LOCKED"])
    secret = created["secret"]
    assert secret.startswith("whsec_")
    assert created["endpoint"]["eventTypes"] == ["ALERT_CREATED"]
    alert_id = await new_device_alert(api, db)

    await dispatcher.drain()

    [request] = receiver.received("core")
    payload = request.verified(secret)
    assert payload["type"] == "alert.created"
    assert payload["data"]["alertId"] == int(alert_id)
    assert payload["data"]["alertType"] == "ACCOUNT_LOGIN"
    assert datetime.fromisoformat(payload["timestamp"]).tzinfo is not None
    assert set(request.headers) >= {"webhook-id", "webhook-timestamp", "webhook-signature"}
    assert len(request.headers["webhook-signature"].split(" ")) == 1
    with pytest.raises(WebhookVerificationError):
        request.verified(other["secret"])
    assert receiver.received("chat") == []

    [delivery] = await deliveries(api, created["endpoint"]["id"])
    assert delivery["status"] == "DELIVERED"
    assert delivery["messageId"] == request.webhook_id
    assert delivery["eventType"] == "ALERT_CREATED"
    [attempt] = delivery["attempts"]
    assert attempt["statusCode"] == 200 and attempt["error"] is None
    assert attempt["latencyMs"] > 0
    assert await deliveries(api, other["endpoint"]["id"]) == []


async def test_a_lone_event_goes_at_once_and_events_streaming_in_go_out_together(
    api: Api,
    db: Database,
    receiver: WebhookReceiver,
    settings: Settings,
    clock: Clock,
) -> None:
    """The dispatcher's own loop, woken by each new alert: the first event on a quiet
    dispatcher is sent at once; the events committed within the wave interval after that
    pass are fanned out and sent together, in one pass."""
    configured = settings.model_copy(update={"webhook_wave_interval_ms": 1500})
    dispatcher = WebhookDispatcher(db=db, settings=configured, clock=clock, worker_id="waves")
    await create(api, receiver.url("core"), ["ALERT_CREATED"])
    passes = count_passes(dispatcher)

    async def received(count: int) -> float:
        for _ in range(200):
            if len(receiver.received("core")) >= count:
                return time.monotonic()
            await asyncio.sleep(0.02)
        raise AssertionError(f"{len(receiver.received('core'))} of {count} webhooks arrived")

    stop = asyncio.Event()
    loop = asyncio.create_task(dispatcher.run(stop))
    try:
        started = time.monotonic()
        await new_device_alert(api, db, user_id=7)
        dispatcher.wake.set()
        first = await received(1) - started
        for user_id in (8, 9, 10):
            await new_device_alert(api, db, user_id=user_id)
            dispatcher.wake.set()
        await received(4)
    finally:
        stop.set()
        await loop
    # Alone and at once; then the three together: one pass fans them out, one sends them.
    assert first < 1.0
    assert passes[:1] == [2] and sum(passes) == 8 and len(passes) <= 3, passes


async def test_the_secret_is_shown_once_and_stored_encrypted(
    api: Api, db: Database, receiver: WebhookReceiver
) -> None:
    created = await create(api, receiver.url("core"), ["ALERT_CREATED"])
    secret = created["secret"]
    listed = (await api.as_admin(ENDPOINTS))["data"]["webhookEndpoints"]
    assert listed == [
        {
            "id": created["endpoint"]["id"],
            "url": receiver.url("core"),
            "enabled": True,
            "disabledReason": None,
            "eventTypes": ["ALERT_CREATED"],
        }
    ]
    async with db.session() as session:
        connection = await session.connection()
        endpoint_rows = (await connection.execute(sa.text("SELECT * FROM webhook_endpoints"))).all()
        audit_rows = (await connection.execute(sa.text("SELECT * FROM audit_log"))).all()
    key = secret.removeprefix("whsec_")
    stored = repr(endpoint_rows) + repr(audit_rows)
    assert key not in stored and secret not in stored
    assert "webhook_endpoint.created" in repr(audit_rows)


async def test_a_rotating_secret_signs_twice_and_each_verifies(
    api: Api, db: Database, receiver: WebhookReceiver, dispatcher: WebhookDispatcher
) -> None:
    created = await create(api, receiver.url("core"), ["ALERT_CREATED"])
    endpoint_id = created["endpoint"]["id"]
    rotated = (await api.as_admin(ROTATE, {"id": endpoint_id, "o": 3600}))["data"][
        "rotateWebhookSecret"
    ]
    assert rotated["secret"] != created["secret"]
    assert rotated["endpoint"]["secretRotatingUntil"] is not None
    await new_device_alert(api, db, 7)
    await dispatcher.drain()
    [during] = receiver.received("core")
    assert len(during.headers["webhook-signature"].split(" ")) == 2
    assert during.verified(created["secret"]) == during.verified(rotated["secret"])

    # Without overlap the old secret stops at once.
    again = (await api.as_admin(ROTATE, {"id": endpoint_id, "o": 0}))["data"]["rotateWebhookSecret"]
    await new_device_alert(api, db, 8)
    await dispatcher.drain()
    after = receiver.received("core")[1]
    assert len(after.headers["webhook-signature"].split(" ")) == 1
    after.verified(again["secret"])
    with pytest.raises(WebhookVerificationError):
        after.verified(rotated["secret"])
    async with db.session() as session:
        actions = (
            await session.exec(
                select(AuditEntry.action, AuditEntry.before, AuditEntry.after)
                .where(col(AuditEntry.action) == "webhook_endpoint.secret_rotated")
                .order_by(col(AuditEntry.id))
            )
        ).all()
    assert len(actions) == 2
    assert actions[0][1]["previousSecretExpiresAt"] is None
    assert actions[0][2]["previousSecretExpiresAt"] is not None


async def test_a_receiver_down_gets_the_message_once_it_answers_with_the_same_id(
    api: Api, db: Database, dispatcher: WebhookDispatcher
) -> None:
    later = WebhookReceiver()  # its port has no listener yet
    created = await create(api, later.url("core"), ["ALERT_CREATED"])
    await new_device_alert(api, db)
    await dispatcher.drain(rounds=1)
    [pending] = await deliveries(api, created["endpoint"]["id"])
    assert pending["status"] == "PENDING"
    assert pending["attempts"][0]["statusCode"] is None
    assert pending["attempts"][0]["error"]

    with later:
        await dispatcher.drain()
        [request] = later.received("core")
    request.verified(created["secret"])
    [delivered] = await deliveries(api, created["endpoint"]["id"])
    assert delivered["status"] == "DELIVERED"
    assert request.webhook_id == delivered["messageId"] == pending["messageId"]
    assert [a["statusCode"] for a in delivered["attempts"]] == [None, 200]


async def test_a_receiver_failing_forever_ends_failed_and_a_replay_delivers(
    api: Api, db: Database, receiver: WebhookReceiver, dispatcher: WebhookDispatcher
) -> None:
    receiver.answer("core", 500)
    created = await create(api, receiver.url("core"), ["ALERT_CREATED"])
    await new_device_alert(api, db)
    await dispatcher.drain()
    # The schedule of the settings: the first try and two retries.
    tries = receiver.received("core")
    assert len(tries) == 3
    assert len({r.webhook_id for r in tries}) == 1
    for request in tries:
        request.verified(created["secret"])
    [failed] = await deliveries(api, created["endpoint"]["id"], "FAILED")
    assert failed["lastStatusCode"] == 500
    assert [a["statusCode"] for a in failed["attempts"]] == [500, 500, 500]
    assert "answer 500" in failed["lastError"]

    receiver.answer("core", 204)
    replayed = (await api.as_admin(REPLAY, {"id": failed["id"]}))["data"]["replayWebhookDelivery"]
    assert replayed["status"] == "PENDING"
    await dispatcher.drain()
    last = receiver.received("core")[-1]
    last.verified(created["secret"])
    assert last.webhook_id == failed["messageId"]
    [delivered] = await deliveries(api, created["endpoint"]["id"])
    assert delivered["status"] == "DELIVERED"
    assert len(delivered["attempts"]) == 4
    async with db.session() as session:
        replay = (
            await session.exec(
                select(AuditEntry).where(col(AuditEntry.action) == "webhook_delivery.replayed")
            )
        ).one()
    assert replay.actor_id == "risk-analyst-1"
    assert replay.before == {"status": "FAILED", "tries": 3}


async def test_a_hanging_receiver_times_out_without_holding_up_the_others(
    api: Api, db: Database, receiver: WebhookReceiver, dispatcher: WebhookDispatcher
) -> None:
    receiver.hang("slow")
    slow = await create(api, receiver.url("slow"), ["ALERT_CREATED"])
    fast = await create(api, receiver.url("fast"), ["ALERT_CREATED"])
    await new_device_alert(api, db)
    await dispatcher.run_once()
    # The fast endpoint has its message while the slow one still holds its request.
    await asyncio.to_thread(receiver.requests.wait_for, 2, 5)
    while not receiver.received("fast"):
        await asyncio.sleep(0.01)
    assert receiver.in_progress == 1 and receiver.received("slow")
    await dispatcher.settled()
    [timed_out] = await deliveries(api, slow["endpoint"]["id"])
    assert timed_out["attempts"][0]["error"] == "timed out"
    assert timed_out["status"] == "PENDING"
    [delivered] = await deliveries(api, fast["endpoint"]["id"])
    assert delivered["status"] == "DELIVERED"


async def test_410_gone_disables_the_endpoint(
    api: Api, db: Database, receiver: WebhookReceiver, dispatcher: WebhookDispatcher
) -> None:
    receiver.answer("core", 410)
    created = await create(api, receiver.url("core"), ["ALERT_CREATED"])
    await new_device_alert(api, db, 7)
    await dispatcher.drain()
    await new_device_alert(api, db, 8)
    await dispatcher.drain()
    assert len(receiver.received("core")) == 1
    [endpoint] = (await api.as_admin(ENDPOINTS))["data"]["webhookEndpoints"]
    assert endpoint["enabled"] is False
    assert "410" in endpoint["disabledReason"]
    [gone] = await deliveries(api, created["endpoint"]["id"], "FAILED")
    assert gone["lastStatusCode"] == 410
    async with db.session() as session:
        entry = (
            await session.exec(
                select(AuditEntry).where(col(AuditEntry.action) == "webhook_endpoint.disabled")
            )
        ).one()
    assert entry.actor_role == "system"
    assert entry.before is not None and entry.before["disabled"] is False
    assert entry.after is not None and entry.after["disabled"] is True


async def test_an_admin_disables_an_endpoint(
    api: Api, db: Database, receiver: WebhookReceiver, dispatcher: WebhookDispatcher
) -> None:
    created = await create(api, receiver.url("core"), ["ALERT_CREATED"])
    endpoint_id = created["endpoint"]["id"]
    body = await api.as_admin(DISABLE, {"id": endpoint_id})
    assert body["data"]["disableWebhookEndpoint"]["enabled"] is False
    assert error_code(await api.as_admin(DISABLE, {"id": endpoint_id})) == "BAD_USER_INPUT"
    assert error_code(await api.as_admin(DISABLE, {"id": "999"})) == "NOT_FOUND"
    await new_device_alert(api, db)
    await dispatcher.drain()
    assert receiver.received("core") == []


async def test_a_customer_locked_is_announced(
    api: Api, db: Database, receiver: WebhookReceiver, dispatcher: WebhookDispatcher
) -> None:
    created = await create(api, receiver.url("risk"), ["USER_LOCKED"])
    alert_id = await new_device_alert(api, db)
    assert (await api.as_customer(7, ACK, {"id": alert_id, "a": "REPORT_FRAUD"}))["data"]
    await dispatcher.drain()
    [request] = receiver.received("risk")
    payload = request.verified(created["secret"])
    assert payload["type"] == "user.locked"
    assert payload["data"]["mobileUserId"] == 7
    assert f"alert {alert_id}" in payload["data"]["reason"]


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("https://10.0.0.1/hook", "private"),
        ("https://169.254.169.254/latest/meta-data", "link-local"),
        ("https://127.0.0.2:9/hook", "loopback"),
        ("ftp://example.com/hook", "https"),
        ("https://user:pw@example.com/hook", "credentials"),
    ],
)
async def test_destinations_refused_store_nothing(
    api: Api, db: Database, url: str, message: str
) -> None:
    # Only 127.0.0.1/32 is allowed.
    body = await api.as_admin(CREATE, {"url": url, "types": ["ALERT_CREATED"]})
    assert error_code(body) == "BAD_USER_INPUT"
    assert body["errors"][0]["extensions"]["field"] == "url"
    assert message in body["errors"][0]["message"]
    await nothing_stored(db)


async def create_in(settings: Settings, db: Database, clock: Clock, url: str) -> dict[str, Any]:
    """createWebhookEndpoint on an app built with ``settings``."""
    app = create_app(settings, database=db, clock=clock)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://alerts.test"
    ) as client:
        return await Api(client, settings, clock).as_admin(
            CREATE, {"url": url, "types": ["ALERT_CREATED"]}
        )


async def test_production_refuses_http_and_webhooks_without_a_key(
    database_url: str, db: Database, clock: Clock
) -> None:
    production = Settings(
        database_url=database_url,
        env="production",
        jwt_secret=TEST_SECRET,
        webhook_encryption_key=base64.urlsafe_b64encode(b"k" * 32).decode(),
        webhook_allowed_networks="127.0.0.1/32",
    )
    body = await create_in(production, db, clock, "http://127.0.0.1:9/hook")
    assert error_code(body) == "BAD_USER_INPUT"
    assert body["errors"][0]["extensions"]["field"] == "url"
    unkeyed = production.model_copy(update={"webhook_encryption_key": None})
    refused = await create_in(unkeyed, db, clock, "https://93.184.215.14/hook")
    assert error_code(refused) == "SERVICE_UNAVAILABLE"
    assert "ALERTS_WEBHOOK_ENCRYPTION_KEY" in refused["errors"][0]["message"]
    await nothing_stored(db)


async def test_bad_requests_are_refused_and_store_nothing(
    api: Api, db: Database, receiver: WebhookReceiver
) -> None:
    unknown = await api.as_admin(CREATE, {"url": receiver.url("x"), "types": ["ALERT_DELETED"]})
    assert error_code(unknown) == "BAD_USER_INPUT"
    assert unknown["errors"][0]["extensions"]["field"] == "eventTypes[0]"
    assert "ALERT_DELETED" in unknown["errors"][0]["message"]
    none = await api.as_admin(CREATE, {"url": receiver.url("x"), "types": []})
    assert error_code(none) == "BAD_USER_INPUT"
    assert none["errors"][0]["extensions"]["field"] == "eventTypes"
    variables = {"url": receiver.url("x"), "types": ["ALERT_CREATED"]}
    assert error_code(await api.as_customer(7, CREATE, variables)) == "FORBIDDEN"
    assert error_code(await api.as_service(CREATE, variables)) == "FORBIDDEN"
    assert error_code(await api.post(CREATE, variables)) == "UNAUTHENTICATED"
    assert error_code(await api.as_admin(REPLAY, {"id": "424242"})) == "NOT_FOUND"
    assert error_code(await api.as_admin(REPLAY, {"id": "not-an-id"})) == "NOT_FOUND"
    assert error_code(await api.as_admin(ROTATE, {"id": "424242"})) == "NOT_FOUND"
    assert error_code(await api.as_customer(7, ENDPOINTS)) == "FORBIDDEN"
    assert error_code(await api.as_admin(DELIVERIES, {"e": "424242"})) == "NOT_FOUND"
    await nothing_stored(db)


async def nothing_stored(db: Database) -> None:
    async with db.session() as session:
        assert (await session.exec(select(WebhookEndpoint))).all() == []
        audited = (
            await session.exec(
                select(AuditEntry).where(col(AuditEntry.action).startswith("webhook"))
            )
        ).all()
        assert audited == []


async def test_events_wait_in_the_outbox_for_endpoints_subscribed_when_fanned_out(
    api: Api, db: Database, receiver: WebhookReceiver, dispatcher: WebhookDispatcher
) -> None:
    alert_id = await new_device_alert(api, db)
    async with db.session() as session:
        [event] = (await session.exec(select(WebhookEvent))).all()
    assert event.event_type.value == "alert.created" and event.dispatched_at is None
    assert f'"alertId":{alert_id}' in event.body
    created = await create(api, receiver.url("core"), ["ALERT_CREATED"])
    await dispatcher.drain()
    [request] = receiver.received("core")
    assert request.webhook_id == event.message_id
    assert request.body.decode() == event.body
    request.verified(created["secret"])


async def test_a_poll_for_new_events_reads_only_those_waiting(db: Database) -> None:
    """However many events went out before, the dispatcher's poll reads the few still to
    fan out, through the index of those alone, even while the table's statistics are
    those of a backlog: PostgreSQL, told that most events wait, had read every event
    through the primary key and filtered out the dispatched ones."""
    now = datetime.now(UTC)
    rows = [
        {
            "message_id": f"msg_{n}",
            "event_type": WebhookEventType.ALERT_CREATED,
            "body": "{}",
            "occurred_at": now,
        }
        for n in range(5_003)
    ]
    async with db.transaction() as session:
        connection = await session.connection()
        await connection.execute(sa.insert(EVENTS), rows)
        if db.is_postgresql:
            await connection.exec_driver_sql("ANALYZE webhook_events")  # during the backlog
    async with db.transaction() as session:
        oldest = sa.select(EVENTS.c.id).order_by(EVENTS.c.id).limit(5_000).scalar_subquery()
        await (await session.connection()).execute(
            sa.update(EVENTS).where(EVENTS.c.id.in_(oldest)).values(dispatched_at=now)
        )
    async with db.transaction() as session:
        connection = await session.connection()
        statement = undispatched(500, skip_locked=db.is_postgresql).compile(
            dialect=connection.dialect, compile_kwargs={"literal_binds": True}
        )
        if db.is_postgresql:
            explain = f"EXPLAIN (ANALYZE, FORMAT JSON) {statement}"
            [[[plan]]] = (await connection.exec_driver_sql(explain)).all()
            nodes = list(plan_nodes(plan["Plan"]))
            assert plan["Plan"]["Actual Rows"] == 3
            assert sum(node.get("Rows Removed by Filter", 0) for node in nodes) == 0
            used = {node.get("Index Name") for node in nodes}
        else:
            explain = f"EXPLAIN QUERY PLAN {statement}"
            details = [row[-1] for row in (await connection.exec_driver_sql(explain)).all()]
            used = {word for detail in details for word in str(detail).split()}
        assert "idx_webhook_events_undispatched" in used
        waiting = (await connection.execute(undispatched(500, skip_locked=False))).all()
        newest = sa.select(EVENTS.c.id).order_by(EVENTS.c.id.desc()).limit(3)
        assert [event_id for event_id, _ in waiting] == sorted(
            (await connection.execute(newest)).scalars()
        )


async def test_a_customer_delivery_that_fails_is_announced(
    api: Api,
    db: Database,
    settings: Settings,
    clock: Clock,
    receiver: WebhookReceiver,
    dispatcher: WebhookDispatcher,
    tmp_path: Path,
) -> None:
    created = await create(api, receiver.url("ops"), ["DELIVERY_FAILED"])
    await make_account(db, user_id=9, account_number="1000000009")
    alert_id = await make_alert(
        db,
        user_id=9,
        account_number="1000000009",
        alert_type=AlertType.LOW_BALANCE,
        triggered_at=clock.now,
    )
    clock.advance(seconds=5)  # the delivery row is due from its insert, in real time
    customers = make_delivery(with_providers(settings, sink_file=tmp_path / "sink"), db, clock)
    try:
        await customers.drain()
    finally:
        await customers.close()
    await dispatcher.drain()
    [request] = receiver.received("ops")
    payload = request.verified(created["secret"])
    assert payload["type"] == "delivery.failed"
    assert payload["data"]["alertId"] == alert_id
    assert payload["data"]["channel"] == "PUSH"
    assert payload["data"]["error"] == "no registered push device"


async def test_each_try_checks_where_the_name_resolves_now(
    api: Api, db: Database, settings: Settings, clock: Clock, receiver: WebhookReceiver
) -> None:
    """A name allowed when the endpoint was made that now resolves somewhere refused (here:
    the network no longer allowed) is not connected to."""
    url = f"http://localhost:{receiver.port}/core"
    created = await create(api, url, ["ALERT_CREATED"])
    await new_device_alert(api, db)
    stricter = settings.model_copy(update={"webhook_allowed_networks": ""})
    refusing = WebhookDispatcher(db=db, settings=stricter, clock=clock, worker_id="strict")
    try:
        await refusing.drain(rounds=1)
    finally:
        await refusing.close()
    assert receiver.received("core") == []
    [pending] = await deliveries(api, created["endpoint"]["id"])
    assert pending["status"] == "PENDING"
    assert "not allowed" in pending["attempts"][0]["error"]
