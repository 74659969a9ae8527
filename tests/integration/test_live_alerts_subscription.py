"""alertCreated over graphql-transport-ws: a customer receives only their own new alerts."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import websockets

from account_alerts.api.app import create_app
from account_alerts.config import Settings
from account_alerts.domain.enums import AlertType, Role
from account_alerts.serving import server_options
from account_alerts.store.database import Database
from tests.conftest import Api, Clock
from tests.support.factories import make_account, make_alert
from tests.support.live_server import serving

SUBSCRIBE = "subscription { alertCreated { id alertType accountNumber title } }"


async def _subscribe(address: str, token: str | None) -> Any:
    socket = await websockets.connect(
        f"ws://{address}/graphql", subprotocols=["graphql-transport-ws"]
    )
    payload = {"Authorization": f"Bearer {token}"} if token else {}
    await socket.send(json.dumps({"type": "connection_init", "payload": payload}))
    assert json.loads(await socket.recv())["type"] == "connection_ack"
    await socket.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": SUBSCRIBE}}))
    return socket


async def _wait_for_subscribers(app: Any, user_id: int) -> None:
    for _ in range(200):
        if app.state.services.broker.subscriber_count(user_id):
            return
        await asyncio.sleep(0.01)
    raise AssertionError("subscription never registered")


async def test_customer_receives_only_their_own_new_alerts(
    settings: Settings, db: Database, clock: Clock, api: Api
) -> None:
    await make_account(db, user_id=7, account_number="1000000001")
    await make_account(db, user_id=8, account_number="1000000008")
    app = create_app(settings, database=db, clock=clock)
    async with serving(app) as address:
        mine = await _subscribe(address, api.token(7))
        theirs = await _subscribe(address, api.token(8))
        await _wait_for_subscribers(app, 7)
        await _wait_for_subscribers(app, 8)
        alert_id = await make_alert(
            db,
            user_id=7,
            account_number="1000000001",
            alert_type=AlertType.LOW_BALANCE,
            triggered_at=datetime.now(UTC),
        )
        app.state.services.broker.publish(7, alert_id)
        message = json.loads(await asyncio.wait_for(mine.recv(), 5))
        assert message["type"] == "next"
        assert message["payload"]["data"]["alertCreated"] == {
            "id": str(alert_id),
            "alertType": "LOW_BALANCE",
            "accountNumber": "1000000001",
            "title": "Low balance",
        }
        try:
            await asyncio.wait_for(theirs.recv(), 0.5)
            raise AssertionError("another customer received the alert")
        except TimeoutError:
            pass
        await mine.close()
        await theirs.close()


async def _refusal(address: str, payload: Any) -> tuple[int, str]:
    """connection_init with ``payload``: the close code and reason the server answers."""
    socket = await websockets.connect(
        f"ws://{address}/graphql", subprotocols=["graphql-transport-ws"]
    )
    await socket.send(json.dumps({"type": "connection_init", "payload": payload}))
    with pytest.raises(websockets.ConnectionClosed) as closed:
        await asyncio.wait_for(socket.recv(), 5)
    assert closed.value.rcvd is not None
    return closed.value.rcvd.code, closed.value.rcvd.reason


async def test_connection_init_without_a_customer_token_is_closed_with_4403(
    settings: Settings, db: Database, clock: Clock, api: Api
) -> None:
    app = create_app(settings, database=db, clock=clock)
    expired = api.token(7, signed_ago=timedelta(hours=2), lifetime=timedelta(hours=1))
    async with serving(app, **server_options(settings)) as address:
        assert await _refusal(address, {}) == (
            4403,
            'connection_init needs the payload {"Authorization": "Bearer <token>"}',
        )
        assert await _refusal(address, {"Authorization": f"Bearer {expired}"}) == (
            4403,
            "the token has expired; sign in again",
        )
        service = api.token("core-banking", Role.SERVICE)
        assert await _refusal(address, {"Authorization": f"Bearer {service}"}) == (
            4403,
            "live alerts are for customers' tokens",
        )


async def test_a_live_subscription_closes_when_its_token_expires(
    settings: Settings, db: Database, clock: Clock, api: Api
) -> None:
    strict = settings.model_copy(update={"jwt_leeway_seconds": 0})
    app = create_app(strict, database=db, clock=clock)
    async with serving(app, **server_options(strict)) as address:
        socket = await _subscribe(address, api.token(7, lifetime=timedelta(seconds=3)))
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(socket.recv(), 10)
    assert closed.value.rcvd is not None
    assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (
        4403,
        "the token has expired; sign in again",
    )


async def test_a_websocket_message_over_the_limit_closes_the_socket(
    settings: Settings, db: Database, clock: Clock, api: Api
) -> None:
    small = settings.model_copy(update={"max_websocket_message_bytes": 64 * 1024})
    app = create_app(small, database=db, clock=clock)
    async with serving(app, **server_options(small)) as address:
        socket = await _subscribe(address, api.token(7))
        oversized = {"id": "2", "type": "subscribe", "payload": {"query": "#" + "x" * 70_000}}
        await socket.send(json.dumps(oversized))
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(socket.recv(), 5)
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 1009  # message too big
        # The server itself carries on.
        again = await _subscribe(address, api.token(7))
        await again.close()


async def test_a_subscription_document_over_the_character_limit_is_refused(
    settings: Settings, db: Database, clock: Clock, api: Api
) -> None:
    app = create_app(settings, database=db, clock=clock)
    limit = settings.graphql_max_document_chars
    async with serving(app, **server_options(settings)) as address:
        socket = await websockets.connect(
            f"ws://{address}/graphql", subprotocols=["graphql-transport-ws"]
        )
        init = {"type": "connection_init", "payload": {"Authorization": f"Bearer {api.token(7)}"}}
        await socket.send(json.dumps(init))
        assert json.loads(await socket.recv())["type"] == "connection_ack"
        query = "#" + "x" * limit + "\n" + SUBSCRIBE
        await socket.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": query}}))
        message = json.loads(await asyncio.wait_for(socket.recv(), 5))
        assert message["type"] == "error"
        assert message["payload"][0]["extensions"]["code"] == "BAD_USER_INPUT"
        assert f"the limit is {limit}" in message["payload"][0]["message"]
        await socket.close()
