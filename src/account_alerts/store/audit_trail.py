"""Appending to the audit log, inside the caller's transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel.ext.asyncio.session import AsyncSession

from account_alerts.store.audit import AuditEntry
from account_alerts.store.base import table_of

AUDIT = table_of(AuditEntry)


def row(
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
) -> dict[str, Any]:
    """One audit row's values: for ``insert_rows`` (many entries without an object each)
    or ``record``."""
    return {
        "occurred_at": occurred_at,
        "actor_role": actor_role,
        "actor_id": actor_id,
        "action": action,
        "mobile_user_id": mobile_user_id,
        "subject_type": subject_type,
        "subject_id": subject_id,
        "before": before,
        "after": after,
        "details": details or {},
    }


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
    """Add one audit entry to the caller's transaction."""
    entry = AuditEntry(
        **row(
            actor_role=actor_role,
            actor_id=actor_id,
            action=action,
            occurred_at=occurred_at,
            mobile_user_id=mobile_user_id,
            subject_type=subject_type,
            subject_id=subject_id,
            before=before,
            after=after,
            details=details,
        )
    )
    session.add(entry)
    return entry


async def insert_rows(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Append many audit rows in one statement, inside the caller's transaction."""
    if rows:
        await session.exec(sa.insert(AUDIT), params=rows)
