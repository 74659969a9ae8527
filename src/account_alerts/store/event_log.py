"""Idempotent ingestion: an eventId is recorded once; a repeat finds what the first did."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from account_alerts.store.base import table_of
from account_alerts.store.events import IngestedEvent
from account_alerts.store.row_buffer import RowBuffer

EVENTS = table_of(IngestedEvent)


async def find_many(session: AsyncSession, event_ids: Iterable[str]) -> Sequence[IngestedEvent]:
    """The events among ``event_ids`` that were already recorded."""
    return (
        await session.exec(
            select(IngestedEvent).where(col(IngestedEvent.event_id).in_(set(event_ids)))
        )
    ).all()


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
