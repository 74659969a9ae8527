"""New alerts announced to live subscribers once the transaction that wrote them commits:
one way for every writer of alerts, on both databases.

A writer calls ``announce(session, user, alert)`` inside its transaction; the Database
that owns the transaction does the rest. On PostgreSQL it sends one NOTIFY alert_created
per alert in the transaction, just before the commit, so every process hears of it, and
only if it commits (each process LISTENs and feeds its own subscriptions). Elsewhere it
hands them to the process's own listener after the commit."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY
from sqlmodel.ext.asyncio.session import AsyncSession

ALERT_CHANNEL = "alert_created"
_KEY = "announced_alerts"

# (mobile user, alert id) of an alert that was just committed.
Listener = Callable[[int, int], None]

# Built once: one NOTIFY per payload, in one statement.
NOTIFY_ALL = sa.select(
    sa.func.pg_notify(
        sa.bindparam("channel", type_=sa.Text),
        sa.func.unnest(sa.bindparam("payloads", type_=ARRAY(sa.Text))),
    )
)


def announce(session: AsyncSession, mobile_user_id: int, alert_id: int) -> None:
    """Tell live subscribers of this alert once the session's transaction commits."""
    session.info.setdefault(_KEY, []).append((mobile_user_id, alert_id))


def take_announced(session: AsyncSession) -> list[tuple[int, int]]:
    """The alerts announced in the session's transaction (each taken once)."""
    taken: list[tuple[int, int]] = session.info.pop(_KEY, [])
    return taken


def notify_parameters(alerts: list[tuple[int, int]]) -> dict[str, Any]:
    return {"channel": ALERT_CHANNEL, "payloads": [f"{user}:{alert}" for user, alert in alerts]}
