"""What a backtest reads: the stored transactions and sign-ins in arrival order, as the
events the live path judged, and the labels the risk team's outcomes give them.

Arrival order is (created_at, id) within each table; the two tables are merged by
created_at, a sign-in before a transaction written at the same instant. Each table is
streamed from one ordered query on its own connection, a page at a time, so memory stays
flat however many rows there are."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from account_alerts.domain.cases import CaseOutcome
from account_alerts.domain.enums import LoginMethod, TransactionType, UserAction
from account_alerts.domain.events import LoginEvent, TransactionEvent
from account_alerts.domain.geo import GeoPoint
from account_alerts.store.alerts import AccountAlert
from account_alerts.store.base import table_of
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

# One replayed event: its arrival key, customer, the event, and the account's time zone.
Replayed = tuple[tuple[datetime, int, int], int, TransactionEvent | LoginEvent, str | None]


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


def _point(row: Any) -> GeoPoint | None:
    if row.latitude is None or row.longitude is None:
        return None
    return GeoPoint(row.latitude, row.longitude, row.location_label)


async def _pages(
    session: AsyncSession, table: sa.Table, columns: list[Any], end: datetime
) -> AsyncIterator[Sequence[Any]]:
    """The rows in arrival order, streamed a page at a time (one sort, one cursor)."""
    query = (
        sa.select(*columns)
        .where(table.c.occurred_at < end)
        .order_by(table.c.created_at, table.c.id)
        .execution_options(yield_per=PAGE)
    )
    result = await session.stream(query)
    async for page in result.partitions():
        yield page


async def _transactions(
    session: AsyncSession, end: datetime, zones: dict[str, str | None]
) -> AsyncIterator[Replayed]:
    t = TRANSACTIONS
    columns = [
        t.c.id, t.c.created_at, t.c.event_id, t.c.account_number, t.c.mobile_user_id,
        t.c.transaction_id, t.c.transaction_type, t.c.amount, t.c.currency, t.c.balance_after,
        t.c.device_id, t.c.ip_address, t.c.latitude, t.c.longitude, t.c.location_label,
        t.c.occurred_at,
    ]  # fmt: skip
    async for page in _pages(session, t, columns, end):
        for row in page:
            event = TransactionEvent(
                event_id=row.event_id,
                account_number=row.account_number,
                transaction_id=row.transaction_id,
                transaction_type=TransactionType(row.transaction_type),
                amount=Decimal(row.amount),
                currency=row.currency,
                occurred_at=row.occurred_at,
                balance_after=row.balance_after,
                device_id=row.device_id,
                ip_address=row.ip_address,
                location=_point(row),
            )
            key = (row.created_at, 1, row.id)
            yield key, row.mobile_user_id, event, zones.get(row.account_number)


async def _logins(session: AsyncSession, end: datetime) -> AsyncIterator[Replayed]:
    t = LOGINS
    columns = [
        t.c.id, t.c.created_at, t.c.event_id, t.c.mobile_user_id, t.c.successful,
        t.c.device_id, t.c.ip_address, t.c.latitude, t.c.longitude, t.c.location_label,
        t.c.login_method, t.c.occurred_at,
    ]  # fmt: skip
    async for page in _pages(session, t, columns, end):
        for row in page:
            event = LoginEvent(
                event_id=row.event_id,
                mobile_user_id=row.mobile_user_id,
                successful=row.successful,
                occurred_at=row.occurred_at,
                device_id=row.device_id,
                ip_address=row.ip_address,
                location=_point(row),
                login_method=LoginMethod(row.login_method) if row.login_method else None,
            )
            yield (row.created_at, 0, row.id), row.mobile_user_id, event, None


async def events_before(
    transactions: AsyncSession, logins: AsyncSession, end: datetime
) -> AsyncIterator[Replayed]:
    """Every transaction and sign-in that occurred before ``end``, in arrival order (two
    sessions: each table is paged on its own connection)."""
    zones = await time_zones(transactions)
    payments, sign_ins = _transactions(transactions, end, zones), _logins(logins, end)
    payment, sign_in = await anext(payments, None), await anext(sign_ins, None)
    while payment is not None or sign_in is not None:
        if sign_in is not None and (payment is None or sign_in[0] < payment[0]):
            yield sign_in
            sign_in = await anext(sign_ins, None)
        else:
            assert payment is not None
            yield payment
            payment = await anext(payments, None)


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


def zone_of(name: str | None, default: str, cache: dict[str, ZoneInfo]) -> ZoneInfo:
    key = name or default
    zone = cache.get(key)
    if zone is None:
        zone = cache[key] = ZoneInfo(key)
    return zone
