"""Idempotent ingestion: an eventId is recorded once; a repeat finds what the first did."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from account_alerts.store.base import table_of
from account_alerts.store.direct import Direct, Entities
from account_alerts.store.events import IngestedEvent, TransactionRecord
from account_alerts.store.row_buffer import ColumnValues, RowBuffer

EVENTS = table_of(IngestedEvent)
TRANSACTIONS = table_of(TransactionRecord)
_EVENTS = Entities(IngestedEvent)


def _array(name: str, column: sa.Column[Any]) -> Any:
    return sa.bindparam(name, type_=ColumnValues(column.type))


# On PostgreSQL the keys go as arrays: one statement text for any number of them, which
# PostgreSQL prepares once.
_FIND_EVENTS = sa.select(*EVENTS.c).where(
    EVENTS.c.event_id == sa.any_(_array("event_ids", EVENTS.c.event_id))
)
_PAIRS = (
    sa.func.unnest(
        _array("accounts", TRANSACTIONS.c.account_number),
        _array("transaction_ids", TRANSACTIONS.c.transaction_id),
    )
    .table_valued("account_number", "transaction_id")
    .render_derived(name="pairs")
)
_FIND_TRANSACTIONS = sa.select(
    TRANSACTIONS.c.account_number, TRANSACTIONS.c.transaction_id
).select_from(
    TRANSACTIONS.join(
        _PAIRS,
        sa.and_(
            TRANSACTIONS.c.account_number == _PAIRS.c.account_number,
            TRANSACTIONS.c.transaction_id == _PAIRS.c.transaction_id,
        ),
    )
)


async def find_many(
    session: AsyncSession, direct: Direct | None, event_ids: Iterable[str]
) -> Sequence[IngestedEvent]:
    """The events among ``event_ids`` that were already recorded."""
    wanted = sorted(set(event_ids))
    if direct is not None:
        return [_EVENTS.make(row) for row in await direct.rows(_FIND_EVENTS, {"event_ids": wanted})]
    return (
        await session.exec(select(IngestedEvent).where(col(IngestedEvent.event_id).in_(wanted)))
    ).all()


async def recorded_transactions(
    session: AsyncSession, direct: Direct | None, pairs: Iterable[tuple[str, str]]
) -> set[tuple[str, str]]:
    """The (account number, transaction id) pairs among ``pairs`` already recorded."""
    wanted = sorted(set(pairs))
    if not wanted:
        return set()
    rows: Sequence[Sequence[Any]]
    if direct is not None:
        rows = await direct.rows(
            _FIND_TRANSACTIONS,
            {
                "accounts": [account for account, _ in wanted],
                "transaction_ids": [transaction for _, transaction in wanted],
            },
        )
    else:
        rows = (
            await session.exec(
                select(TRANSACTIONS.c.account_number, TRANSACTIONS.c.transaction_id).where(
                    sa.tuple_(TRANSACTIONS.c.account_number, TRANSACTIONS.c.transaction_id).in_(
                        wanted
                    )
                )
            )
        ).all()
    return {(str(account), str(transaction)) for account, transaction in rows}


def record(
    buffer: RowBuffer,
    *,
    event_id: str,
    kind: str,
    fingerprint: str,
    mobile_user_id: int | None,
    alert_ids: list[int],
    outcome: dict[str, Any],
    now: datetime,
) -> None:
    """Remember the event and what it raised; written with the rest of its transaction."""
    buffer.add(
        EVENTS,
        {
            "event_id": event_id,
            "kind": kind,
            "fingerprint": fingerprint,
            "mobile_user_id": mobile_user_id,
            "alert_ids": alert_ids,
            "outcome": outcome,
            "received_at": now,
        },
    )
