"""The security checks read a customer's activity profile, not their months of history:
the decisions are the history's, an event's reads do not grow with it, and a customer
whose events predate profiles (or a late event older than the profile keeps) is judged
from the stored history."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event as sa_event

from account_alerts.store.database import Database
from tests.conftest import Api
from tests.support.events import (
    BLANTYRE,
    LILONGWE,
    RECORD_LOGIN,
    RECORD_LOGINS,
    RECORD_TRANSACTION,
    RECORD_TRANSACTIONS,
    ZOMBA,
    login,
    transaction,
)
from tests.support.factories import make_account

ACCOUNT = "1000000001"
HISTORY_TABLES = ("transactions", "login_attempts", "account_alerts", "suspicious_activities")


def start() -> datetime:
    return datetime.now(UTC).replace(microsecond=0) - timedelta(days=95)


async def call(api: Api, document: str, variables: dict[str, Any]) -> Any:
    body = await api.as_service(document, variables)
    assert "errors" not in body, body
    return next(iter(body["data"].values()))


def reasons(result: dict[str, Any]) -> list[str]:
    return sorted(
        alert["details"].get("suspicionReason") or alert["alertType"] for alert in result["alerts"]
    )


async def ninety_days(api: Api, count: int) -> datetime:
    """``count`` payments and a sign-in a day from the customer's phone around Blantyre
    and Zomba; returns the time of the last."""
    at = start()
    payments, sign_ins = [], []
    for n in range(count):
        at = start() + timedelta(hours=n * 2160 / count)
        place = BLANTYRE if n % 3 else ZOMBA
        payments.append(transaction(ACCOUNT, "150", at, device="phone-7", location=place))
        if n % 4 == 0:
            sign_ins.append(login(7, at, device="phone-7", location=place))
    for chunk in range(0, len(payments), 200):
        await call(api, RECORD_TRANSACTIONS, {"inputs": payments[chunk : chunk + 200]})
    await call(api, RECORD_LOGINS, {"inputs": sign_ins})
    return at


@contextmanager
def history_reads(db: Database) -> Iterator[list[str]]:
    """The statements that read the history tables (through SQLAlchemy's cursor)."""
    reads: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        text = " ".join(statement.lower().split())
        # The rate limit counts the alerts of the hour before: bounded by the limit itself.
        if text.startswith("select count(*) as count_1 from account_alerts"):
            return
        # (A profile's own parts, profile_transactions, are not history.)
        if text.startswith("select") and any(re.search(rf"\b{t}\b", text) for t in HISTORY_TABLES):
            reads.append(statement)

    sa_event.listen(db.engine.sync_engine, "before_cursor_execute", seen)
    try:
        yield reads
    finally:
        sa_event.remove(db.engine.sync_engine, "before_cursor_execute", seen)


async def forget_profiles(db: Database) -> None:
    async with db.transaction() as session:
        await session.exec(sa.text("UPDATE mobile_users SET activity_profile = NULL"))  # type: ignore[call-overload]


async def test_an_event_reads_no_history_however_long_it_is(api: Api, db: Database) -> None:
    await make_account(db, user_id=7, account_number=ACCOUNT)
    last = await ninety_days(api, 300)
    with history_reads(db) as reads:
        far = transaction(ACCOUNT, "60000", last + timedelta(hours=1), device="phone-7")
        far["location"], far["balanceAfter"] = LILONGWE, "100"
        result = await call(api, RECORD_TRANSACTION, {"input": far})
        again = login(7, last + timedelta(hours=2), device="phone-7", location=BLANTYRE)
        assert (await call(api, RECORD_LOGIN, {"input": again}))["alerts"] == []
        failed = [
            login(7, last + timedelta(hours=3, minutes=m), successful=False) for m in range(5)
        ]
        bursts = await call(api, RECORD_LOGINS, {"inputs": failed})
    assert reasons(result) == ["LARGE_TRANSACTION", "LOW_BALANCE", "UNUSUAL_LOCATION"]
    assert [reasons(r) for r in bursts] == [[], [], [], ["MULTIPLE_FAILED_ATTEMPTS"], []]
    assert reads == []


async def test_a_customer_without_a_profile_is_judged_from_the_history(
    api: Api, db: Database
) -> None:
    await make_account(db, user_id=7, account_number=ACCOUNT)
    last = await ninety_days(api, 40)
    low = transaction(ACCOUNT, "10", last + timedelta(hours=1), device="phone-7")
    low["location"], low["balanceAfter"] = BLANTYRE, "100"
    assert reasons(await call(api, RECORD_TRANSACTION, {"input": low})) == ["LOW_BALANCE"]
    failed = [login(7, last + timedelta(hours=2, minutes=m), successful=False) for m in range(4)]
    await call(api, RECORD_LOGINS, {"inputs": failed})
    await forget_profiles(db)

    # The phone is known, Blantyre is usual, the day's low balance was already told, and
    # this burst of failures was already reported: nothing new.
    later = last + timedelta(hours=2, minutes=5)
    low_again = transaction(ACCOUNT, "10", later, device="phone-7", location=ZOMBA)
    low_again["balanceAfter"] = "50"
    assert reasons(await call(api, RECORD_TRANSACTION, {"input": low_again})) == []
    one_more = login(7, later, successful=False)
    assert reasons(await call(api, RECORD_LOGIN, {"input": one_more})) == []
    await forget_profiles(db)
    # A new phone, far away: both patterns, as the history says.
    stranger = transaction(ACCOUNT, "10", later, device="phone-9", location=LILONGWE)
    found = await call(api, RECORD_TRANSACTION, {"input": stranger})
    assert reasons(found) == ["NEW_DEVICE_TRANSACTION"]
    patterns = found["alerts"][0]["details"]["suspicionDetails"]["patterns"]
    assert sorted(p["reason"] for p in patterns) == ["NEW_DEVICE_TRANSACTION", "UNUSUAL_LOCATION"]
    async with db.session() as session:
        stored = (
            await session.exec(  # type: ignore[call-overload]
                sa.text("SELECT count(*) FROM mobile_users WHERE activity_profile IS NOT NULL")
            )
        ).one()
    assert stored[0] == 1


async def test_a_late_event_older_than_the_profile_keeps_is_judged_from_the_history(
    api: Api, db: Database
) -> None:
    await make_account(db, user_id=7, account_number=ACCOUNT)
    first = datetime.now(UTC).replace(microsecond=0) - timedelta(days=300)
    blantyre = transaction(ACCOUNT, "10", first, device="phone-7", location=BLANTYRE)
    await call(api, RECORD_TRANSACTION, {"input": blantyre})
    moved = transaction(ACCOUNT, "10", first + timedelta(days=200), device="phone-7")
    moved["location"] = LILONGWE
    assert reasons(await call(api, RECORD_TRANSACTION, {"input": moved})) == []
    # Ten days after the first: Blantyre was usual then, Lilongwe not yet.
    late = transaction(ACCOUNT, "10", first + timedelta(days=10), device="phone-7")
    late["location"] = LILONGWE
    assert reasons(await call(api, RECORD_TRANSACTION, {"input": late})) == ["UNUSUAL_LOCATION"]
