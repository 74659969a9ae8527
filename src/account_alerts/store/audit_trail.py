"""Appending to the audit log, inside the caller's transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel.ext.asyncio.session import AsyncSession

from account_alerts.store.audit import AuditEntry

AUDIT: sa.Table = AuditEntry.__table__  # type: ignore[attr-defined]


def record(
    session: AsyncSession,
    *,
    actor_role: str,
    actor_id: str | None,
    action: str,
    occurred_at: datetime,
    mobile_user_id: int | None = None,
    subject_type: str | None = None,
    subject_id: str | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEntry:
    entry = AuditEntry(
        occurred_at=occurred_at,
        actor_role=actor_role,
        actor_id=actor_id,
        action=action,
        mobile_user_id=mobile_user_id,
        subject_type=subject_type,
        subject_id=subject_id,
        before=before,
        after=after,
        details=details or {},
    )
    session.add(entry)
    return entry


def row(
    *,
    actor_role: str,
    actor_id: str | None,
    action: str,
    occurred_at: datetime,
    mobile_user_id: int | None = None,
    subject_type: str | None = None,
    subject_id: str | None = None,
    details: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One audit row's values, for ``insert_rows``: many entries without an object each."""
    return {
        "occurred_at": occurred_at,
        "actor_role": actor_role,
        "actor_id": actor_id,
        "action": action,
        "mobile_user_id": mobile_user_id,
        "subject_type": subject_type,
        "subject_id": subject_id,
        "before": None,
        "after": None,
        "details": details or {},
    }


async def insert_rows(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Append many audit rows in one statement, inside the caller's transaction."""
    if rows:
        await session.exec(sa.insert(AUDIT), params=rows)
