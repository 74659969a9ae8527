"""Group commit: single events that arrive while one is being written share the next
transaction, and each still gets exactly the answer and the rows it would get alone."""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import event as sa_event
from sqlmodel import select

from account_alerts.api.app import create_app
from account_alerts.config import Settings
from account_alerts.domain.enums import Role
from account_alerts.store import event_log
from account_alerts.store.alerts import AccountAlert, AlertDelivery
from account_alerts.store.audit import AuditEntry
from account_alerts.store.database import Database
from account_alerts.store.events import IngestedEvent, TransactionRecord
from tests.conftest import TEST_SECRET, Clock, error_code
from tests.support.events import RECORD_TRANSACTION, transaction
from tests.support.factories import make_account

ACCOUNTS = [f"100000{n:04d}" for n in range(1, 6)]


def day(hours: float = 0) -> datetime:
    base = datetime.now(UTC).replace(hour=6, minute=0, second=0, microsecond=0) - timedelta(days=2)
    return base + timedelta(hours=hours)


class Service:
    """A bank service posting single events at once, and the transactions they took."""

    def __init__(self, client: httpx.AsyncClient, db: Database) -> None:
        self.client = client
        self.commits = 0
        sa_event.listen(db.engine.sync_engine, "commit", self._commit)

    def _commit(self, _conn: Any) -> None:
        self.commits += 1

    async def post(self, event: dict[str, Any]) -> dict[str, Any]:
        response = await self.client.post(
            "/graphql", json={"query": RECORD_TRANSACTION, "variables": {"input": event}}
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def post_all(self, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return list(await asyncio.gather(*(self.post(e) for e in events)))


async def _service(
    settings: Settings, db: Database, clock: Clock, kind: type[Service] = Service
) -> AsyncIterator[Service]:
    from account_alerts.api.auth import issue_token

    for number, account in enumerate(ACCOUNTS, start=1):
        await make_account(db, user_id=number, account_number=account)
    app = create_app(settings, database=db, clock=clock)
    token = issue_token(settings, subject="core-banking", role=Role.SERVICE)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://alerts.test",
        headers={"Authorization": f"Bearer {token}"},
    ) as client:
        yield kind(client, db)


@pytest.fixture
async def service(settings: Settings, db: Database, clock: Clock) -> AsyncIterator[Service]:
    # No waiting for company (see the tests of that below): groups form only behind a
    # transaction in flight, so their number is known.
    async for made in _service(settings.model_copy(update={"event_group_wait_ms": 0}), db, clock):
        yield made


def fail_to_record(monkeypatch: pytest.MonkeyPatch, event_id: str) -> None:
    """Recording the event ``event_id`` fails as if the disk were full, every time."""
    original = event_log.record

    def record(*args: Any, **kwargs: Any) -> None:
        if kwargs.get("event_id") == event_id:
            raise RuntimeError("disk full")
        original(*args, **kwargs)

    monkeypatch.setattr(event_log, "record", record)


async def _rows(db: Database) -> dict[str, int]:
    tables: list[Any] = [AccountAlert, AlertDelivery, AuditEntry, IngestedEvent, TransactionRecord]
    async with db.session() as session:
        return {t.__tablename__: len((await session.exec(select(t))).all()) for t in tables}


async def test_events_arriving_together_share_transactions_and_keep_their_answers(
    service: Service, db: Database, settings: Settings
) -> None:
    events = [
        transaction(account, amount, day(i / 10), balance_after="100000")
        for i, (account, amount) in enumerate(
            (ACCOUNTS[i % len(ACCOUNTS)], "75000" if i % 4 == 0 else "10") for i in range(40)
        )
    ]
    results = await service.post_all(events)
    # The first ones are written at once; the rest waited for them and went in groups.
    writers, largest = settings.event_group_writers, settings.event_group_max
    assert service.commits == writers + math.ceil((len(events) - writers) / largest)
    assert service.commits < len(events) / 2
    for event, body in zip(events, results, strict=True):
        assert "errors" not in body, body
        result = body["data"]["recordTransaction"]
        assert result["eventId"] == event["eventId"]
        assert result["accepted"] and not result["duplicate"]
        kinds = [alert["alertType"] for alert in result["alerts"]]
        assert kinds == (["LARGE_TRANSACTION"] if event["amount"] == "75000" else [])
        if kinds:
            assert result["alerts"][0]["accountNumber"].endswith(event["accountNumber"][-4:])
    rows = await _rows(db)
    assert rows["ingested_events"] == 40
    assert rows["transactions"] == 40
    assert rows["account_alerts"] == 10
    # Every alert has its outbox rows (PUSH and SMS by default) and its audit trail.
    assert rows["alert_deliveries"] == 20
    async with db.session() as session:
        triggered = (
            await session.exec(select(AuditEntry).where(AuditEntry.action == "alert.triggered"))
        ).all()
    assert len(triggered) == 10


async def test_a_refused_event_in_a_group_stops_none_of_the_others(
    service: Service, db: Database
) -> None:
    good = [transaction(ACCOUNTS[i % 5], "10", day(i / 10)) for i in range(12)]
    unknown = transaction("1999999999", "10", day(2))
    wrong_currency = transaction(ACCOUNTS[0], "10", day(2), currency="USD")
    zero = transaction(ACCOUNTS[1], "0", day(2))
    events = [good[0], *good[1:6], unknown, *good[6:9], wrong_currency, zero, *good[9:]]
    results = dict(zip((e["eventId"] for e in events), await service.post_all(events), strict=True))
    assert error_code(results[unknown["eventId"]]) == "NOT_FOUND"
    assert error_code(results[wrong_currency["eventId"]]) == "BAD_USER_INPUT"
    assert error_code(results[zero["eventId"]]) == "BAD_USER_INPUT"
    for event in good:
        body = results[event["eventId"]]
        assert "errors" not in body, body
        assert body["data"]["recordTransaction"]["accepted"]
    rows = await _rows(db)
    assert rows["ingested_events"] == len(good)
    assert rows["transactions"] == len(good)


async def test_repeats_in_one_group_are_duplicates_of_the_first(
    service: Service, db: Database
) -> None:
    first = transaction(ACCOUNTS[2], "75000", day(1), event_id="the-same-event")
    changed = {**first, "amount": "76000"}
    others = [transaction(ACCOUNTS[3], "10", day(i / 10)) for i in range(3)]
    results = await service.post_all([*others, first, first, changed, first])
    answers = [
        body["data"]["recordTransaction"] if "errors" not in body else body for body in results
    ]
    repeats = [answers[3], answers[4], answers[6]]
    assert [r["duplicate"] for r in repeats] == [False, True, True]
    assert len({tuple(a["id"] for a in r["alerts"]) for r in repeats}) == 1
    assert error_code(results[5]) == "BAD_USER_INPUT"
    assert "already used for a different event" in results[5]["errors"][0]["message"]
    assert (await _rows(db))["account_alerts"] == 1


async def test_a_failure_in_a_group_fails_only_its_own_event(
    service: Service, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    doomed = transaction(ACCOUNTS[4], "75000", day(3), event_id="doomed-event")
    events = [transaction(ACCOUNTS[i % 4], "75000", day(i / 10)) for i in range(9)]
    events.insert(5, doomed)
    fail_to_record(monkeypatch, "doomed-event")
    results = await service.post_all(events)
    for event, body in zip(events, results, strict=True):
        if event is doomed:
            assert error_code(body) == "INTERNAL_SERVER_ERROR"
            assert "disk full" not in str(body)
        else:
            assert "errors" not in body, body
            assert [a["alertType"] for a in body["data"]["recordTransaction"]["alerts"]] == [
                "LARGE_TRANSACTION"
            ]
    rows = await _rows(db)
    assert rows["ingested_events"] == 9
    assert rows["account_alerts"] == 9
    async with db.session() as session:
        stored = (await session.exec(select(TransactionRecord.event_id))).all()
    assert "doomed-event" not in stored


async def test_group_commit_can_be_switched_off(
    settings: Settings, db: Database, clock: Clock
) -> None:
    alone = Settings(
        database_url=settings.database_url,
        jwt_secret=SecretStr(TEST_SECRET),
        event_group_max=1,
    )
    async for service in _service(alone, db, clock):
        events = [transaction(ACCOUNTS[i % 5], "10", day(i / 10)) for i in range(10)]
        results = await service.post_all(events)
        assert all("errors" not in body for body in results)
        assert service.commits == 10


# One alone (two with two writers), then those that waited, in groups of at most 4.
@pytest.mark.parametrize(("writers", "commits"), [(1, 1 + 3), (2, 2 + 3)])
async def test_a_group_is_no_larger_than_the_setting(
    settings: Settings, db: Database, clock: Clock, writers: int, commits: int
) -> None:
    small = Settings(
        database_url=settings.database_url,
        jwt_secret=SecretStr(TEST_SECRET),
        event_group_max=4,
        event_group_writers=writers,
        event_group_wait_ms=0,
    )
    async for service in _service(small, db, clock):
        events = [transaction(ACCOUNTS[i % 5], "10", day(i / 10)) for i in range(13)]
        results = await service.post_all(events)
        assert all("errors" not in body for body in results)
        assert service.commits == commits
        assert (await _rows(db))["ingested_events"] == 13


async def test_an_event_stored_before_is_a_duplicate_in_a_group_too(
    service: Service, db: Database
) -> None:
    earlier = transaction(ACCOUNTS[0], "75000", day(1))
    first = (await service.post(earlier))["data"]["recordTransaction"]
    others = [transaction(ACCOUNTS[i % 5], "10", day(2 + i / 10)) for i in range(6)]
    results = await service.post_all([*others[:3], earlier, *others[3:]])
    answers = [body["data"]["recordTransaction"] for body in results]
    again = answers[3]
    assert again["duplicate"] and again["accepted"]
    assert [a["id"] for a in again["alerts"]] == [a["id"] for a in first["alerts"]]
    assert all(a["accepted"] and not a["duplicate"] for a in answers[:3] + answers[4:])
    rows = await _rows(db)
    assert rows["ingested_events"] == 7
    assert rows["account_alerts"] == 1


# A lone event while other requests are in progress: it waits for those that bring events.


def _group_commit(service: Service) -> Any:
    app = service.client._transport.app  # type: ignore[attr-defined]
    return app.state.services.ingestor.group_commit


def _waiting(settings: Settings, milliseconds: float) -> Settings:
    # model_copy does not validate: a wait far beyond the setting's bound shows that the
    # event did not sit out the whole of it.
    return settings.model_copy(update={"event_group_wait_ms": milliseconds})


async def test_a_lone_event_waits_for_the_events_in_progress_and_shares_their_transaction(
    settings: Settings, db: Database, clock: Clock
) -> None:
    async for service in _service(_waiting(settings, 600_000), db, clock):
        group = _group_commit(service)
        group.in_progress = lambda: 5
        events = [transaction(ACCOUNTS[i], "75000", day(i / 10)) for i in range(5)]
        results = await asyncio.wait_for(service.post_all(events), timeout=30)
        assert service.commits == 1  # the first waited for the other four, then all went
        for event, body in zip(events, results, strict=True):
            assert "errors" not in body, body
            result = body["data"]["recordTransaction"]
            assert result["eventId"] == event["eventId"] and result["accepted"]
            assert [a["alertType"] for a in result["alerts"]] == ["LARGE_TRANSACTION"]
        assert (await _rows(db))["account_alerts"] == 5


async def test_the_wait_for_company_is_bounded(
    settings: Settings, db: Database, clock: Clock
) -> None:
    async for service in _service(_waiting(settings, 300), db, clock):
        group = _group_commit(service)
        # Another request is in progress, but it brings no event.
        group.in_progress = lambda: 2
        started = asyncio.get_running_loop().time()
        body = await service.post(transaction(ACCOUNTS[0], "10", day()))
        waited = asyncio.get_running_loop().time() - started
        assert body["data"]["recordTransaction"]["accepted"], body
        assert waited >= 0.3
        assert service.commits == 1


async def test_nothing_waits_once_the_requests_in_progress_have_ended(
    settings: Settings, db: Database, clock: Clock
) -> None:
    # The app's own count of requests in progress: after a burst it is back to the one
    # request asking, so a lone event is written at once (or this would wait ten minutes).
    async for service in _service(_waiting(settings, 600_000), db, clock):
        burst = [transaction(ACCOUNTS[i % 5], "10", day(i / 10)) for i in range(12)]
        results = await asyncio.wait_for(service.post_all(burst), timeout=30)
        assert all(body["data"]["recordTransaction"]["accepted"] for body in results)
        group = _group_commit(service)
        assert group.in_progress() == 0
        body = await asyncio.wait_for(service.post(transaction(ACCOUNTS[0], "10", day(5))), 30)
        assert body["data"]["recordTransaction"]["accepted"], body
        assert (await _rows(db))["ingested_events"] == 13


async def test_a_server_stopping_while_an_event_waits_for_company_leaves_nobody_hanging(
    settings: Settings, db: Database, clock: Clock
) -> None:
    async for service in _service(_waiting(settings, 600_000), db, clock):
        group = _group_commit(service)
        group.in_progress = lambda: 3
        posts = [
            asyncio.ensure_future(service.post(transaction(ACCOUNTS[i], "10", day(i / 10))))
            for i in range(2)
        ]
        while len(group._waiting.get(next(iter(group._waiting), None), [])) < 2:
            await asyncio.sleep(0.01)
        for task in list(group._tasks):
            task.cancel()
        done, pending = await asyncio.wait(posts, timeout=30)
        assert not pending
        # Each caller hears that its event was not recorded (and may send it again).
        for post in done:
            assert post.cancelled() or post.exception() or "errors" in post.result()
        assert (await _rows(db))["ingested_events"] == 0
        assert not group._writing and not group._waiting
