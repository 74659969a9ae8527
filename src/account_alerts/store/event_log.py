"""Idempotent ingestion: claim an eventId once; a repeat finds what the first one did."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from account_alerts.store.events import IngestedEvent


async def claim(
    session: AsyncSession,
    *,
    event_id: str,
    kind: str,
    fingerprint: str,
    mobile_user_id: int | None,
    now: datetime,
) -> bool:
    """Insert the event's row; False when the eventId was already taken. On PostgreSQL a
    concurrent claim of the same id waits for the first to commit or roll back."""
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    table: sa.Table = IngestedEvent.__table__  # type: ignore[attr-defined]
    values: dict[str, Any] = {
        "event_id": event_id,
        "kind": kind,
        "fingerprint": fingerprint,
        "mobile_user_id": mobile_user_id,
        "alert_ids": [],
        "outcome": {},
        "received_at": now,
    }
    statement = (
        insert(table)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["event_id"])
        .returning(table.c.event_id)
    )
    result = await session.exec(statement)
    return result.first() is not None


async def find(session: AsyncSession, event_id: str) -> IngestedEvent | None:
    return (
        await session.exec(select(IngestedEvent).where(col(IngestedEvent.event_id) == event_id))
    ).first()


async def finish(
    session: AsyncSession, *, event_id: str, alert_ids: list[int], outcome: dict[str, Any]
) -> None:
    table: sa.Table = IngestedEvent.__table__  # type: ignore[attr-defined]
    await session.exec(
        sa.update(table)
        .where(table.c.event_id == event_id)
        .values(alert_ids=alert_ids, outcome=outcome)
    )
