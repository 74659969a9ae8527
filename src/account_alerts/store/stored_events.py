"""Stored transactions and sign-ins read back as events, in the order they arrived, for
replaying them into the features each had (``domain.feature_replay``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from account_alerts.domain.events import LoginEvent, TransactionEvent
from account_alerts.domain.geo import GeoPoint
from account_alerts.store.base import table_of
from account_alerts.store.customers import Account
from account_alerts.store.events import LoginAttempt, TransactionRecord

TRANSACTIONS = table_of(TransactionRecord)
LOGINS = table_of(LoginAttempt)
ACCOUNTS = table_of(Account)
BATCH = 5000

Replayed = tuple[int, TransactionEvent | LoginEvent, ZoneInfo]


async def events_in_arrival_order(
    connection: AsyncConnection, start: datetime, end: datetime, *, bank_zone: str
) -> AsyncIterator[Replayed]:
    """Every transaction and sign-in that happened in [start, end), by arrival (the time
    it was stored, then its row id), each with its customer and time zone (the
    account's for a transaction, the bank's for a sign-in)."""
    transactions = await connection.stream(
        sa.select(
            TRANSACTIONS.c.created_at,
            TRANSACTIONS.c.id,
            TRANSACTIONS.c.mobile_user_id,
            TRANSACTIONS.c.event_id,
            TRANSACTIONS.c.account_number,
            TRANSACTIONS.c.transaction_id,
            TRANSACTIONS.c.transaction_type,
            TRANSACTIONS.c.amount,
            TRANSACTIONS.c.currency,
            TRANSACTIONS.c.occurred_at,
            TRANSACTIONS.c.device_id,
            TRANSACTIONS.c.ip_address,
            TRANSACTIONS.c.latitude,
            TRANSACTIONS.c.longitude,
            ACCOUNTS.c.time_zone,
        )
        .join(ACCOUNTS, ACCOUNTS.c.account_number == TRANSACTIONS.c.account_number)
        .where(TRANSACTIONS.c.occurred_at >= start, TRANSACTIONS.c.occurred_at < end)
        .order_by(TRANSACTIONS.c.created_at, TRANSACTIONS.c.id)
        .execution_options(yield_per=BATCH)
    )
    logins = await connection.stream(
        sa.select(
            LOGINS.c.created_at,
            LOGINS.c.id,
            LOGINS.c.mobile_user_id,
            LOGINS.c.event_id,
            LOGINS.c.successful,
            LOGINS.c.occurred_at,
            LOGINS.c.device_id,
            LOGINS.c.ip_address,
            LOGINS.c.latitude,
            LOGINS.c.longitude,
        )
        .where(LOGINS.c.occurred_at >= start, LOGINS.c.occurred_at < end)
        .order_by(LOGINS.c.created_at, LOGINS.c.id)
        .execution_options(yield_per=BATCH)
    )
    zones: dict[str | None, ZoneInfo] = {None: ZoneInfo(bank_zone)}
    tx_rows = aiter(transactions)
    login_rows = aiter(logins)
    tx = await anext(tx_rows, None)
    login = await anext(login_rows, None)
    while tx is not None or login is not None:
        if login is None or (tx is not None and tx.created_at <= login.created_at):
            assert tx is not None
            zone = zones.get(tx.time_zone) or zones.setdefault(tx.time_zone, ZoneInfo(tx.time_zone))
            yield tx.mobile_user_id, _transaction(tx), zone
            tx = await anext(tx_rows, None)
        else:
            yield login.mobile_user_id, _login(login), zones[None]
            login = await anext(login_rows, None)


def _place(row: Any) -> GeoPoint | None:
    if row.latitude is None or row.longitude is None:
        return None
    return GeoPoint(float(row.latitude), float(row.longitude))


def _transaction(row: Any) -> TransactionEvent:
    return TransactionEvent(
        event_id=row.event_id,
        account_number=row.account_number,
        transaction_id=row.transaction_id,
        transaction_type=row.transaction_type,
        amount=row.amount,
        currency=row.currency,
        occurred_at=row.occurred_at,
        device_id=row.device_id,
        ip_address=row.ip_address,
        location=_place(row),
    )


def _login(row: Any) -> LoginEvent:
    return LoginEvent(
        event_id=row.event_id,
        mobile_user_id=row.mobile_user_id,
        successful=row.successful,
        occurred_at=row.occurred_at,
        device_id=row.device_id,
        ip_address=row.ip_address,
        location=_place(row),
    )
