"""What a backtest reads: the stored transactions and sign-ins in arrival order, as the
events the live path judged, and the labels the risk team's outcomes give them.

Arrival order is (created_at, id) within each table; the two tables are merged by
created_at, a sign-in before a transaction written at the same instant. Each table is
streamed from one ordered query on its own connection, a page at a time, so memory stays
flat however many rows there are. The rows stay plain values (numbers and text): the
replay, perhaps in another process, makes them events (domain.backtest)."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

import psycopg
import sqlalchemy as sa
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from account_alerts.domain.activity_profile import micros
from account_alerts.domain.backtest import StoredRow
from account_alerts.domain.cases import CaseOutcome
from account_alerts.domain.enums import UserAction
from account_alerts.store.alerts import AccountAlert
from account_alerts.store.base import on_postgresql, table_of
from account_alerts.store.cases import ReviewCase
from account_alerts.store.customers import Account
from account_alerts.store.events import LoginAttempt, TransactionRecord
from account_alerts.store.fraud_tables import FraudRuleHit

TRANSACTIONS = table_of(TransactionRecord)
LOGINS = table_of(LoginAttempt)
ALERTS = table_of(AccountAlert)
ACCOUNTS = table_of(Account)
HITS = table_of(FraudRuleHit)
CASES = table_of(ReviewCase)
PAGE = 5_000


async def count_before(session: AsyncSession, end: datetime) -> int:
    total = 0
    for table in (TRANSACTIONS, LOGINS):
        total += int(
            (
                await session.exec(
                    select(sa.func.count()).select_from(table).where(table.c.occurred_at < end)
                )
            ).one()
        )
    return total


async def time_zones(session: AsyncSession) -> dict[str, str | None]:
    rows = await session.exec(select(ACCOUNTS.c.account_number, ACCOUNTS.c.time_zone))
    return {number: zone for number, zone in rows.all()}


# When a row arrived and when its event occurred, in whole microseconds since the epoch
# (PostgreSQL works them out exactly; SQLite's rows are converted here).


def _micros(column: Any, postgresql: bool) -> Any:
    if not postgresql:
        return column
    return sa.cast(sa.extract("epoch", column) * 1_000_000, sa.BigInteger)


def _text(column: Any, postgresql: bool) -> Any:
    return sa.cast(column, sa.Text) if postgresql else column


def _plain(value: Any) -> Any:
    """A SQLite row's value as PostgreSQL gives it here."""
    if isinstance(value, datetime):
        return micros(value)
    if isinstance(value, Decimal):
        return str(value)
    return value


async def _pages(
    session: AsyncSession, table: sa.Table, columns: list[Any], end: datetime
) -> AsyncIterator[Sequence[Any]]:
    """The rows in arrival order, streamed a page at a time (one sort, one cursor), as
    plain values.

    On PostgreSQL the rows come from a server-side cursor of the driver itself, as plain
    tuples: a backtest reads every stored event, and SQLAlchemy's rows and type
    processing cost more than the driver's own reading."""
    query = (
        sa.select(*columns)
        .where(table.c.occurred_at < end)
        .order_by(table.c.created_at, table.c.id)
        .execution_options(yield_per=PAGE)
    )
    connection = await session.connection()
    if connection.dialect.name != "postgresql":
        result = await session.stream(query)
        async for page in result.partitions():
            yield [tuple(_plain(value) for value in row) for row in page]
        return
    compiled = query.compile(dialect=connection.dialect)
    driver = (await connection.get_raw_connection()).driver_connection
    assert isinstance(driver, psycopg.AsyncConnection)
    async with driver.cursor(name=f"backtest_{table.name}") as cursor:
        await cursor.execute(compiled.string, compiled.params)
        while rows := await cursor.fetchmany(PAGE):
            yield rows


async def _transactions(
    session: AsyncSession, end: datetime, zones: dict[str, str | None]
) -> AsyncIterator[list[StoredRow]]:
    t = TRANSACTIONS
    pg = on_postgresql(session)
    columns = [
        _micros(t.c.created_at, pg), t.c.id, t.c.mobile_user_id, t.c.event_id,
        t.c.account_number, t.c.transaction_id, t.c.transaction_type, _text(t.c.amount, pg),
        t.c.currency, t.c.device_id, t.c.ip_address, t.c.latitude, t.c.longitude,
        t.c.location_label, _micros(t.c.occurred_at, pg),
    ]  # fmt: skip
    async for page in _pages(session, t, columns, end):
        # The account's time zone after the customer: STORED_TRANSACTION's layout.
        yield [(row[0], 1, row[1], row[2], zones.get(row[4]), *row[3:]) for row in page]


async def _logins(session: AsyncSession, end: datetime) -> AsyncIterator[list[StoredRow]]:
    t = LOGINS
    pg = on_postgresql(session)
    columns = [
        _micros(t.c.created_at, pg), t.c.id, t.c.mobile_user_id, t.c.event_id, t.c.successful,
        t.c.device_id, t.c.ip_address, t.c.latitude, t.c.longitude, t.c.location_label,
        t.c.login_method, _micros(t.c.occurred_at, pg),
    ]  # fmt: skip
    async for page in _pages(session, t, columns, end):
        yield [(row[0], 0, row[1], row[2], None, *row[3:]) for row in page]


async def events_before(
    transactions: AsyncSession, logins: AsyncSession, end: datetime
) -> AsyncGenerator[list[StoredRow]]:
    """Every transaction and sign-in that occurred before ``end``, in arrival order, as
    plain rows (domain.backtest.STORED_TRANSACTION, STORED_LOGIN), a list at a time (two
    sessions: each table is paged on its own connection). Each list ends where one
    table's page does: the two pages are merged, and what is left of the other waits for
    the next."""
    zones = await time_zones(transactions)
    payments, sign_ins = _transactions(transactions, end, zones), _logins(logins, end)
    payment_page, sign_in_page = await anext(payments, None), await anext(sign_ins, None)
    while payment_page is not None or sign_in_page is not None:
        if payment_page is None or sign_in_page is None:
            yield payment_page or sign_in_page or []
            if payment_page is not None:
                payment_page = await anext(payments, None)
            else:
                sign_in_page = await anext(sign_ins, None)
            continue
        merged, p, s = [], 0, 0
        while p < len(payment_page) and s < len(sign_in_page):
            # Arrival (a sign-in before a transaction written at the same microsecond),
            # then each table's own order.
            if sign_in_page[s][0] <= payment_page[p][0]:
                merged.append(sign_in_page[s])
                s += 1
            else:
                merged.append(payment_page[p])
                p += 1
        yield merged
        payment_page, sign_in_page = payment_page[p:], sign_in_page[s:]
        if not payment_page:
            payment_page = await anext(payments, None)
        if not sign_in_page:
            sign_in_page = await anext(sign_ins, None)


async def labels(session: AsyncSession) -> dict[str, bool]:
    """Events with a label: True for fraud (the customer reported an alert it raised as
    fraud, or its case was resolved CONFIRMED_FRAUD), False for legitimate (the customer
    said it was them, or the case was a FALSE_POSITIVE). Fraud wins a disagreement."""
    rows = await session.exec(
        select(ALERTS.c.event_id, ALERTS.c.user_action).where(
            ALERTS.c.event_id.is_not(None),
            ALERTS.c.user_action.in_([UserAction.REPORT_FRAUD.value, UserAction.THIS_WAS_ME.value]),
        )
    )
    found: dict[str, bool] = {}
    for event_id, action in rows.all():
        fraud = action == UserAction.REPORT_FRAUD.value
        found[event_id] = found.get(event_id, False) or fraud
    resolved = await session.exec(
        select(CASES.c.event_id, CASES.c.outcome).where(
            CASES.c.event_id.is_not(None), CASES.c.outcome.is_not(None)
        )
    )
    for event_id, outcome in resolved.all():
        fraud = outcome == CaseOutcome.CONFIRMED_FRAUD.value
        found[event_id] = found.get(event_id, False) or fraud
    return found


async def live_hits(
    session: AsyncSession, start: datetime, end: datetime, version_id: int
) -> set[str]:
    """Events of the window that a LIVE version (other than this one) counted."""
    rows = await session.exec(
        select(HITS.c.event_id).where(
            HITS.c.occurred_at >= start,
            HITS.c.occurred_at < end,
            HITS.c.shadow.is_(False),
            HITS.c.suppressed.is_(False),
            HITS.c.version_id != version_id,
        )
    )
    return set(rows.all())
