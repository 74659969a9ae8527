"""Batches of one caller that arrive while its batches are being written share the next
transaction, and each batch still gets exactly the answers and the rows it would get had
the batches come one after the other."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlmodel import select

from account_alerts.config import Settings
from account_alerts.engine.ingest import Ingestor
from account_alerts.store.alerts import AccountAlert
from account_alerts.store.database import Database
from account_alerts.store.events import IngestedEvent, TransactionRecord
from tests.conftest import Clock
from tests.integration.test_event_group_commit import (
    ACCOUNTS,
    Service,
    _service,
    day,
    fail_to_record,
)
from tests.support.events import RECORD_TRANSACTIONS, transaction

Batch = list[dict[str, Any]]


class BatchService(Service):
    """A bank service posting batches at once, and the transactions they took."""

    async def post(self, batch: Batch) -> dict[str, Any]:  # type: ignore[override]
        response = await self.client.post(
            "/graphql", json={"query": RECORD_TRANSACTIONS, "variables": {"inputs": batch}}
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def post_all(self, batches: list[Batch]) -> list[dict[str, Any]]:  # type: ignore[override]
        return list(await asyncio.gather(*(self.post(batch) for batch in batches)))


async def _batch_service(
    settings: Settings, db: Database, clock: Clock
) -> AsyncIterator[BatchService]:
    async for made in _service(settings, db, clock, BatchService):
        assert isinstance(made, BatchService)
        yield made


@pytest.fixture
async def service(settings: Settings, db: Database, clock: Clock) -> AsyncIterator[BatchService]:
    async for made in _batch_service(settings, db, clock):
        yield made


def _batches(count: int, size: int) -> list[Batch]:
    """Batches over the same customers (they would wait for each other's locks), every
    fourth event a large transaction."""
    return [
        [
            transaction(
                ACCOUNTS[(b + i) % len(ACCOUNTS)],
                "75000" if i % 4 == 0 else "10",
                day(b + i / 100),
            )
            for i in range(size)
        ]
        for b in range(count)
    ]


def _answers(body: dict[str, Any]) -> list[dict[str, Any]]:
    assert "errors" not in body, body
    answers: list[dict[str, Any]] = body["data"]["recordTransactions"]
    return answers


def _group_sizes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many batches each write of batches of an app made from now on was given."""
    sizes: list[int] = []
    write = Ingestor._write_batches

    async def counted(self: Ingestor, actor: Any, batches: Any) -> Any:
        sizes.append(len(batches))
        return await write(self, actor, batches)

    monkeypatch.setattr(Ingestor, "_write_batches", counted)
    return sizes


async def _count(db: Database, table: Any) -> int:
    async with db.session() as session:
        return len((await session.exec(select(table))).all())


async def test_batches_arriving_together_share_transactions_and_keep_their_answers(
    service: BatchService, db: Database, settings: Settings
) -> None:
    batches = _batches(6, 8)
    results = await service.post_all(batches)
    # The first ones are written at once; the rest waited for them and went together.
    writers, most = settings.event_batch_group_writers, settings.event_batch_group_max
    assert service.commits == writers + -(-(len(batches) - writers) // most)
    assert service.commits < len(batches)
    for batch, body in zip(batches, results, strict=True):
        answers = _answers(body)
        assert [a["eventId"] for a in answers] == [e["eventId"] for e in batch]
        for event, answer in zip(batch, answers, strict=True):
            assert answer["accepted"] and not answer["duplicate"] and answer["error"] is None
            kinds = [alert["alertType"] for alert in answer["alerts"]]
            assert kinds == (["LARGE_TRANSACTION"] if event["amount"] == "75000" else [])
    assert await _count(db, IngestedEvent) == 48
    assert await _count(db, TransactionRecord) == 48
    assert await _count(db, AccountAlert) == 12


async def test_a_later_batch_written_together_sees_the_earlier_ones_events(
    service: BatchService, db: Database
) -> None:
    """In one transaction the batches are judged in arrival order, as if one after the
    other: a repeat of an earlier batch's event is its duplicate (same alerts), the same
    eventId with other content is refused, and so is the same transaction under another
    eventId; each batch's other events go on."""
    first, second, third, fourth = _batches(4, 4)
    large = transaction(ACCOUNTS[0], "80000", day(9), event_id="the-large-one")
    third.append(large)
    fourth += [
        large,
        {**large, "amount": "81000"},
        {**large, "eventId": "another-event-id"},
    ]
    results = await service.post_all([first, second, third, fourth])
    assert service.commits == 2  # the first alone, the other three together
    original = _answers(results[2])[-1]
    repeat, changed, reused = _answers(results[3])[-3:]
    assert not original["duplicate"] and repeat["duplicate"]
    assert [a["id"] for a in repeat["alerts"]] == [a["id"] for a in original["alerts"]]
    assert [a["alertType"] for a in original["alerts"]] == ["LARGE_TRANSACTION"]
    assert not changed["accepted"] and changed["error"]["code"] == "BAD_USER_INPUT"
    assert changed["error"]["field"] == "eventId"
    assert not reused["accepted"] and reused["error"]["field"] == "transactionId"
    for body in results:
        assert sum(a["accepted"] for a in _answers(body)) >= 4
    assert await _count(db, IngestedEvent) == 17
    assert await _count(db, TransactionRecord) == 17


async def test_a_batch_that_fails_fails_alone_when_written_together(
    settings: Settings, db: Database, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The transaction of two batches fails because of one of them: each is then written
    on its own, and only the one that fails again is lost."""
    batches = _batches(4, 4)
    doomed = transaction(ACCOUNTS[2], "10", day(9), event_id="doomed-event")
    batches[3].insert(2, doomed)
    fail_to_record(monkeypatch, "doomed-event")
    written = _group_sizes(monkeypatch)
    async for service in _batch_service(settings, db, clock):
        results = await service.post_all(batches)
    assert written == [1, 3]  # the last three batches went together (and then alone)
    for body in results[:3]:
        assert all(a["accepted"] for a in _answers(body))
    assert results[3]["errors"][0]["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    assert "disk full" not in str(results[3])
    async with db.session() as session:
        stored = set((await session.exec(select(TransactionRecord.event_id))).all())
    assert stored == {e["eventId"] for batch in batches[:3] for e in batch}


async def test_batches_written_together_can_be_switched_off(
    settings: Settings, db: Database, clock: Clock
) -> None:
    alone = settings.model_copy(update={"event_batch_group_max": 1})
    async for service in _batch_service(alone, db, clock):
        batches = _batches(5, 3)
        results = await service.post_all(batches)
        assert service.commits == len(batches)
        for body in results:
            assert all(a["accepted"] for a in _answers(body))


def _unit_metrics(text: str) -> dict[tuple[str, str], float]:
    """The units-of-work samples of a /metrics page: (sample name, phase) -> value."""
    found: dict[tuple[str, str], float] = {}
    for family in text_string_to_metric_families(text):
        if family.name.startswith("alerts_event_unit"):
            for sample in family.samples:
                found[(sample.name, sample.labels.get("phase", ""))] = sample.value
    return found


async def test_metrics_report_each_unit_of_work_its_events_and_its_phases(
    service: BatchService,
) -> None:
    before = _unit_metrics((await service.client.get("/metrics")).text)
    batches = _batches(6, 8)
    results = await service.post_all(batches)
    assert all(answer["accepted"] for body in results for answer in _answers(body))
    after = _unit_metrics((await service.client.get("/metrics")).text)

    def grew(name: str, phase: str = "") -> float:
        return after[(name, phase)] - before.get((name, phase), 0.0)

    # One unit per transaction the batches took, holding the 48 events between them.
    units = service.commits
    assert 1 < units < len(batches)
    assert grew("alerts_event_unit_events_count") == units
    assert grew("alerts_event_unit_events_sum") == 48
    for phase in ("lock", "judge", "write"):
        assert grew("alerts_event_unit_seconds_count", phase) == units
        assert grew("alerts_event_unit_seconds_sum", phase) > 0
