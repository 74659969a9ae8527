"""A known-answer test: a whole day of events for 300 customers, sent as the bank's services
would send them, must raise exactly the alerts an independent oracle expects — and sending
the whole day again must change nothing."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import select

from account_alerts.store.alerts import AccountAlert
from account_alerts.store.database import Database
from tests.conftest import Api, Clock
from tests.support.day_of_events import (
    ALERT_TYPES,
    BALANCE,
    LOGIN,
    SUSPICIOUS_ACTIVITY,
    TRANSACTION,
    Day,
    DayEvent,
    Expected,
    expected_alerts,
    generate_day,
    in_batches,
)

RESULT = "eventId accepted duplicate error { code message field } alerts { id }"


def _batch_mutation(name: str, input_type: str) -> tuple[str, str]:
    return name, f"mutation($in: [{input_type}!]!) {{ {name}(inputs: $in) {{ {RESULT} }} }}"


MUTATIONS = {
    TRANSACTION: _batch_mutation("recordTransactions", "TransactionEventInput"),
    LOGIN: _batch_mutation("recordLogins", "LoginEventInput"),
    BALANCE: _batch_mutation("syncBalances", "BalanceSyncInput"),
}
UPSERT_ACCOUNT = """mutation($input: AccountInput!) {
  upsertAccount(input: $input) { accepted error { code message } } }"""
UPDATE_SETTINGS = """mutation($a: String!, $s: AccountAlertSettingsInput!) {
  updateAccountAlertSettings(accountNumber: $a, settings: $s) { accountNumber } }"""


async def send(api: Api, batch: list[DayEvent]) -> list[dict[str, Any]]:
    name, document = MUTATIONS[batch[0].kind]
    body = await api.as_service(document, {"in": [event.payload for event in batch]})
    assert "errors" not in body, body["errors"]
    results: list[dict[str, Any]] = body["data"][name]
    assert [result["eventId"] for result in results] == [event.event_id for event in batch]
    return results


async def set_up_customers(api: Api, day: Day) -> None:
    """The day's accounts, and each customer's own settings."""
    for customer in day.customers:
        account = {"accountNumber": customer.account, "mobileUserId": customer.user}
        body = await api.as_service(UPSERT_ACCOUNT, {"input": {**account, "currency": "MWK"}})
        assert body["data"]["upsertAccount"]["accepted"], body
        if customer.settings:
            # The customer's own change, with a token signed just now (a fresh sign-in).
            body = await api.as_customer(
                customer.user, UPDATE_SETTINGS, {"a": customer.account, "s": customer.settings}
            )
            assert "errors" not in body, body


async def stored_alerts(db: Database) -> list[tuple[int, Expected]]:
    """Every alert row, as (id, the oracle's tuple)."""
    async with db.session() as session:
        rows = (await session.exec(select(AccountAlert))).all()
    stored = []
    for row in rows:
        assert row.id is not None
        suspicious = row.alert_type.value == SUSPICIOUS_ACTIVITY
        stored.append(
            (
                row.id,
                (
                    row.mobile_user_id,
                    row.alert_type.value,
                    row.triggered_at.astimezone(UTC).isoformat(),
                    row.alert_data.get("suspicionReason") if suspicious else None,
                ),
            )
        )
    return stored


def difference(expected: list[Expected], actual: list[Expected], day: Day) -> str:
    """Missing and unexpected alerts, each with the event that should have (not) raised it."""
    missing = sorted((Counter(expected) - Counter(actual)).elements())
    unexpected = sorted((Counter(actual) - Counter(expected)).elements())
    events = {(event.user, event.at.isoformat()): event for event in day.events}
    lines = [f"{len(missing)} expected alerts missing, {len(unexpected)} unexpected (first 20)"]
    for title, items in (("missing", missing), ("unexpected", unexpected)):
        for user, alert_type, at, reason in items[:20]:
            event = events.get((user, at))
            source = f"{event.kind} {event.payload}" if event else "no event at that time"
            lines.append(f"  {title}: user {user} {alert_type} {reason or ''} at {at}: {source}")
    return "\n".join(lines)


async def test_a_day_of_events_raises_exactly_the_expected_alerts(
    api: Api, db: Database, clock: Clock
) -> None:
    base = (clock.now - timedelta(days=3)).replace(hour=0, minute=0, second=0, microsecond=0)
    day = generate_day(base)
    assert generate_day(base) == day, "the day must be the same on every run"
    assert [e.at for e in day.events] == sorted(e.at for e in day.events)
    assert day.events[-1].at <= clock.now - timedelta(days=1)
    expected = expected_alerts(day)
    per_type = Counter(alert_type for _, alert_type, _, _ in expected)
    per_reason = Counter(reason for _, _, _, reason in expected if reason)
    # Not vacuous: every event-driven alert type, and every suspicion, many times over.
    assert all(per_type[alert_type] >= 5 for alert_type in ALERT_TYPES), per_type
    assert len(per_reason) == 3 and min(per_reason.values()) >= 5, per_reason

    await set_up_customers(api, day)

    # The live day: in event-time order, consecutive events of a kind sent together.
    live: dict[str, list[str]] = {}
    for batch in in_batches(day.events, 100):
        for event, result in zip(batch, await send(api, batch), strict=True):
            assert result["accepted"] and not result["duplicate"], (event.payload, result)
            assert result["error"] is None, (event.payload, result)
            live[event.event_id] = [alert["id"] for alert in result["alerts"]]

    stored = await stored_alerts(db)
    actual = [alert for _, alert in stored]
    assert Counter(actual) == Counter(expected), difference(expected, actual, day)
    # Each stored alert was answered to the event that raised it, and only to that one.
    answered = sorted(int(alert_id) for ids in live.values() for alert_id in ids)
    assert answered == sorted(alert_id for alert_id, _ in stored)

    # The day again, all of it at once: every event is a duplicate with its first answer,
    # and not one alert more.
    for batch in in_batches(sorted(day.events, key=lambda event: event.kind), 500):
        for event, result in zip(batch, await send(api, batch), strict=True):
            assert result["accepted"] and result["duplicate"], (event.payload, result)
            assert result["error"] is None, (event.payload, result)
            assert [alert["id"] for alert in result["alerts"]] == live[event.event_id]
    assert sorted(await stored_alerts(db)) == sorted(stored)


async def test_a_day_judged_from_the_stored_history_alone_raises_the_same_alerts(
    api: Api, db: Database, clock: Clock
) -> None:
    """Customers' activity profiles forgotten after every batch: each is built again from
    the stored history, and the day's alerts are the oracle's all the same."""
    base = (clock.now - timedelta(days=3)).replace(hour=0, minute=0, second=0, microsecond=0)
    day = generate_day(base, customers=120)
    await set_up_customers(api, day)
    for batch in in_batches(day.events, 25):
        await send(api, batch)
        async with db.transaction() as session:
            forget = sa.text("UPDATE mobile_users SET activity_profile = NULL")
            await session.exec(forget)  # type: ignore[call-overload]
    actual = [alert for _, alert in await stored_alerts(db)]
    expected = expected_alerts(day)
    assert len(expected) > 100
    assert Counter(actual) == Counter(expected), difference(expected, actual, day)
