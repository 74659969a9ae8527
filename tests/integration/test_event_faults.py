"""Faults: a failure half-way leaves nothing behind; simultaneous events stay correct."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlmodel import select

from account_alerts.api.app import create_app
from account_alerts.config import Settings
from account_alerts.domain.enums import Role
from account_alerts.store import event_log
from account_alerts.store.alerts import AccountAlert, AlertDelivery, SuspiciousActivity
from account_alerts.store.audit import AuditEntry
from account_alerts.store.database import Database
from account_alerts.store.events import IngestedEvent, TransactionRecord
from tests.conftest import Api, Clock, error_code
from tests.support.events import LILONGWE, RECORD_LOGIN, RECORD_TRANSACTION, login, transaction
from tests.support.factories import make_account
from tests.support.live_server import serving

ACCOUNT = "1000000001"


def day(hours: float = 0) -> datetime:
    base = datetime.now(UTC).replace(hour=6, minute=0, second=0, microsecond=0) - timedelta(days=2)
    return base + timedelta(hours=hours)


async def counts(db: Database) -> dict[str, int]:
    tables: list[Any] = [
        AccountAlert,
        AlertDelivery,
        SuspiciousActivity,
        AuditEntry,
        IngestedEvent,
        TransactionRecord,
    ]
    async with db.session() as session:
        return {t.__tablename__: len((await session.exec(select(t))).all()) for t in tables}


async def test_a_value_error_of_the_servers_own_is_no_bad_input_and_shows_nothing(
    api: Api, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A ValueError raised by the server's own code (a bug), not by reading the request, is
    an internal error: the bank's service is not told its event was wrong, and Python's
    message does not reach it."""
    await make_account(db, user_id=7, account_number=ACCOUNT)
    before = await counts(db)

    def broken(*args: Any, **kwargs: Any) -> None:
        raise ValueError("zip() argument 2 is longer than argument 1")

    monkeypatch.setattr(event_log, "record", broken)
    body = await api.as_service(RECORD_TRANSACTION, {"input": transaction(ACCOUNT, "10", day())})
    assert error_code(body) == "INTERNAL_SERVER_ERROR"
    assert "zip()" not in str(body)
    assert await counts(db) == before
    # A value GraphQL itself cannot read is still the caller's bad input.
    bad = {**transaction(ACCOUNT, "10", day(1)), "occurredAt": "yesterday"}
    body = await api.as_service(RECORD_TRANSACTION, {"input": bad})
    assert error_code(body) == "BAD_USER_INPUT"


async def test_a_failure_half_way_leaves_nothing_behind(
    api: Api, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    await make_account(db, user_id=7, account_number=ACCOUNT)
    await api.as_service(RECORD_LOGIN, {"input": login(7, day(), device="phone-1")})
    before = await counts(db)
    # Everything of the event has been written by the time the event itself is recorded.
    event = transaction(
        ACCOUNT, "90000", day(1), balance_after="1", device="new-phone", location=LILONGWE
    )
    original = event_log.record

    def crash(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(event_log, "record", crash)
    body = await api.as_service(RECORD_TRANSACTION, {"input": event})
    assert error_code(body) == "INTERNAL_SERVER_ERROR"
    assert "disk full" not in str(body)
    assert await counts(db) == before

    monkeypatch.setattr(event_log, "record", original)
    body = await api.as_service(RECORD_TRANSACTION, {"input": event})
    assert "errors" not in body, body
    result = body["data"]["recordTransaction"]
    assert sorted(a["alertType"] for a in result["alerts"]) == [
        "LARGE_TRANSACTION",
        "LOW_BALANCE",
        "SUSPICIOUS_ACTIVITY",
    ]
    after = await counts(db)
    assert after["account_alerts"] == before["account_alerts"] + 3
    assert after["alert_deliveries"] == before["alert_deliveries"] + 2 + 1 + 3


async def _service_client(address: str, settings: Settings) -> httpx.AsyncClient:
    from account_alerts.api.auth import issue_token

    token = issue_token(settings, subject="core-banking", role=Role.SERVICE)
    return httpx.AsyncClient(
        base_url=f"http://{address}", headers={"Authorization": f"Bearer {token}"}, timeout=30
    )


# With group commit the simultaneous events of one process share transactions; without
# it each races the others in the database, on its own connection.
@pytest.mark.parametrize("group_max", [100, 1], ids=["grouped", "one-per-transaction"])
async def test_simultaneous_events_on_one_account_stay_correct(
    settings: Settings, db: Database, clock: Clock, group_max: int
) -> None:
    await make_account(db, user_id=7, account_number=ACCOUNT)
    settings = settings.model_copy(update={"event_group_max": group_max})
    app = create_app(settings, database=db, clock=clock)
    async with serving(app) as address, await _service_client(address, settings) as client:
        debits = [
            transaction(ACCOUNT, "10", day() + timedelta(minutes=i), balance_after=str(4000 - i))
            for i in range(16)
        ]
        same = transaction(ACCOUNT, "75000", day(3), event_id="the-same-event")

        async def post(event: dict[str, Any]) -> dict[str, Any]:
            response = await client.post(
                "/graphql", json={"query": RECORD_TRANSACTION, "variables": {"input": event}}
            )
            body: dict[str, Any] = response.json()
            assert "errors" not in body, body
            return body["data"]["recordTransaction"]  # type: ignore[no-any-return]

        results = await asyncio.gather(*(post(e) for e in [*debits, *[same] * 8]))
    low = [a for r in results[:16] for a in r["alerts"] if a["alertType"] == "LOW_BALANCE"]
    assert len(low) == 1
    repeats = results[16:]
    assert sum(not r["duplicate"] for r in repeats) == 1
    assert len({tuple(a["id"] for a in r["alerts"]) for r in repeats}) == 1
    async with db.session() as session:
        alerts = (await session.exec(select(AccountAlert))).all()
    assert sorted(a.alert_type.value for a in alerts) == ["LARGE_TRANSACTION", "LOW_BALANCE"]
