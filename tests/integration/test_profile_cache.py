"""The activity-profile cache (engine.profile_cache) changes no answer: a day of events
sent one at a time gives the same alerts and stores the same profiles with the cache and
without it, the profiles it keeps are the ones stored, and two processes writing the same
customers never take each other's stale profile. PostgreSQL only: elsewhere there is no
cache."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from account_alerts.api.app import create_app
from account_alerts.config import Settings
from account_alerts.delivery.metrics import REGISTRY
from account_alerts.engine import unit_facts
from account_alerts.engine.ingest import Ingestor
from account_alerts.store.database import Database
from account_alerts.store.types import json_bytes
from tests.conftest import TEST_SECRET, Api, Clock
from tests.integration.test_known_answer_day import (
    difference,
    set_up_customers,
    stored_alerts,
)
from tests.support.day_of_events import (
    BALANCE,
    LOGIN,
    TRANSACTION,
    Day,
    DayEvent,
    expected_alerts,
    generate_day,
)
from tests.support.pg_cluster import PostgresCluster

pytestmark = pytest.mark.postgresql_only

_SINGLE = {
    TRANSACTION: ("recordTransaction", "TransactionEventInput"),
    LOGIN: ("recordLogin", "LoginEventInput"),
    BALANCE: ("syncBalance", "BalanceSyncInput"),
}


def _cache_lookups(result: str) -> float:
    value = REGISTRY.get_sample_value("alerts_activity_profile_cache_total", {"result": result})
    return value or 0.0


@asynccontextmanager
async def _served(
    url: str, clock: Clock, **settings: Any
) -> AsyncIterator[tuple[Api, Database, Ingestor]]:
    config = Settings(database_url=url, jwt_secret=TEST_SECRET, **settings)
    db = Database(url, pool_size=5)
    app = create_app(config, database=db, clock=clock)
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://alerts.test") as client:
            yield Api(client, config, clock), db, app.state.services.ingestor
    finally:
        await db.dispose()


async def _send_one(api: Api, event: DayEvent) -> list[str]:
    name, input_type = _SINGLE[event.kind]
    document = (
        f"mutation($in: {input_type}!) {{ {name}(input: $in) "
        "{ eventId accepted duplicate error { code message } alerts { id } } }"
    )
    body = await api.as_service(document, {"in": event.payload})
    assert "errors" not in body, body
    result = body["data"][name]
    assert result["accepted"] and not result["duplicate"] and result["error"] is None, result
    return [alert["id"] for alert in result["alerts"]]


async def _profiles(db: Database) -> dict[int, str]:
    async with db.transaction() as session:
        rows = await session.exec(  # type: ignore[call-overload]
            sa.text("SELECT id, activity_profile FROM mobile_users ORDER BY id")
        )
        return {row[0]: row[1] for row in rows}


async def _row_versions(db: Database) -> dict[int, str]:
    """Each customer's stored profile version, as PostgreSQL gives it (event_unit's lock
    reads it the same way): customer, the transaction that wrote the row, bytes."""
    async with db.transaction() as session:
        rows = await session.exec(  # type: ignore[call-overload]
            sa.text("SELECT id, xmin::text, octet_length(activity_profile) FROM mobile_users")
        )
        return {row[0]: f"{row[0]}/{row[1]}/{row[2]}" for row in rows}


def _alerts(stored: list[tuple[int, Any]]) -> Counter[Any]:
    return Counter(alert for _, alert in stored)


@pytest.fixture
def day(clock: Clock) -> Day:
    base = (clock.now - timedelta(days=3)).replace(hour=0, minute=0, second=0, microsecond=0)
    return generate_day(base, customers=120)


async def test_a_day_one_event_at_a_time_is_judged_and_stored_the_same_with_and_without_it(
    pg_cluster: PostgresCluster,
    pg_template: str,
    clock: Clock,
    day: Day,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    expected = expected_alerts(day)
    assert len(expected) > 100
    results: dict[str, tuple[Counter[Any], dict[int, str]]] = {}
    variants = (("cached", 10_000), ("uncached", 0), ("forgetful", 10_000), ("evicted", 10_000))
    for name, size in variants:
        url = pg_cluster.create_database(f"profile_cache_{name}", template=pg_template)
        hits = _cache_lookups("hit")
        async with _served(url, clock, activity_profile_cache_size=size) as (api, db, ingestor):
            await set_up_customers(api, day)
            if name == "forgetful":
                # Every profile the lock leaves out is gone from the cache by the time the
                # unit looks for it (as when a unit that took it failed): read again.
                _forget_after_naming(ingestor)
                for event in day.events:
                    await _send_one(api, event)
                assert _cache_lookups("hit") == hits
                results[name] = (_alerts(await stored_alerts(db)), await _profiles(db))
                continue
            if name == "evicted":
                # Every profile comes with the lock and looks like the one kept, so its
                # parts are left unread; by the time the unit takes it, it is gone (other
                # units' profiles pushed it out): the parts are read then.
                _evict_after_loading(ingestor)
                parts_read = _count_parts_read(monkeypatch)
                for event in day.events:
                    await _send_one(api, event)
                assert parts_read  # read when taken, not at the lock
                results[name] = (_alerts(await stored_alerts(db)), await _profiles(db))
                continue
            parts_read = _count_parts_read(monkeypatch)
            for event in day.events:
                await _send_one(api, event)
            stored = await stored_alerts(db)
            profiles = await _profiles(db)
            if size:
                assert ingestor.profiles is not None
                kept = dict(ingestor.profiles.items())
                # Every customer's later events took the profile their earlier one left.
                assert len(kept) == len(day.customers)
                assert _cache_lookups("hit") - hits >= len(day.events) - 2 * len(day.customers)
                # Every profile came from the cache, a sign-in's included: none was read
                # with its transactions' parts.
                assert parts_read == []
                versions = await _row_versions(db)
                for user_id, item in kept.items():
                    assert profiles[user_id] == item.text
                    assert json_bytes(item.profile.to_json()).decode() == item.text
                    # The version kept is the stored row's: the lock would leave it out.
                    assert item.version == versions[user_id]
            else:
                assert ingestor.profiles is None
                assert _cache_lookups("hit") == hits
        actual = [alert for _, alert in stored]
        assert Counter(actual) == Counter(expected), difference(expected, actual, day)
        results[name] = (_alerts(stored), profiles)
    assert results["cached"] == results["uncached"] == results["forgetful"]
    assert results["evicted"] == results["cached"]


def _count_parts_read(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The customers whose transactions' parts units read (with their profile)."""
    asked: list[int] = []
    read = unit_facts.stored_transactions

    async def counting(unit: Any, mobile_user_ids: Sequence[int]) -> Any:
        asked.extend(mobile_user_ids)
        return await read(unit, mobile_user_ids)

    monkeypatch.setattr(unit_facts, "stored_transactions", counting)
    return asked


def _evict_after_loading(ingestor: Ingestor) -> None:
    cache = ingestor.profiles
    assert cache is not None
    take = cache.take

    def known(accounts: Sequence[str], users: Sequence[int]) -> list[str]:
        return []  # the lock sends every profile

    asked: Counter[int] = Counter()

    def holds(user: int, stored: str) -> bool:
        asked[user] += 1
        return asked[user] % 2 == 1  # at the lock, yes; when the unit takes it, gone

    def taken(user: int, stored: str | None, version: str | None) -> Any:
        take(user, stored, version)
        return None  # evicted meanwhile

    cache.known = known  # type: ignore[method-assign]
    cache.holds = holds  # type: ignore[method-assign]
    cache.take = taken  # type: ignore[method-assign]


def _forget_after_naming(ingestor: Ingestor) -> None:
    cache = ingestor.profiles
    assert cache is not None
    name = cache.known

    def known(accounts: Sequence[str], users: Sequence[int]) -> list[str]:
        versions = name(accounts, users)
        for user, _ in cache.items():
            cache.take(user, None, None)
        return versions

    cache.known = known  # type: ignore[method-assign]


async def test_two_processes_writing_the_same_customers_never_take_a_stale_profile(
    pg_cluster: PostgresCluster, pg_template: str, clock: Clock, day: Day
) -> None:
    """Each event goes to the other process than the one before: every profile a process
    kept is stale by the time its customer's next event reaches it, and is decoded from
    the stored text instead."""
    url = pg_cluster.create_database("profile_cache_two", template=pg_template)
    async with (
        _served(url, clock) as (first, db, _),
        _served(url, clock) as (second, _, _),
    ):
        await set_up_customers(first, day)
        misses, hits = _cache_lookups("miss"), _cache_lookups("hit")
        for n, event in enumerate(day.events):
            await _send_one(second if n % 2 else first, event)
        assert _cache_lookups("miss") - misses > len(day.customers)
        # A customer's events that follow each other on one process still hit.
        assert _cache_lookups("hit") > hits
        stored = await stored_alerts(db)
    expected = expected_alerts(day)
    actual = [alert for _, alert in stored]
    assert Counter(actual) == Counter(expected), difference(expected, actual, day)
