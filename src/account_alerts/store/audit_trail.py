"""Appending to the audit log, inside the caller's transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Required, TypedDict, Unpack

import sqlalchemy as sa
from sqlmodel.ext.asyncio.session import AsyncSession

from account_alerts.store.audit import AuditEntry
from account_alerts.store.base import table_of

AUDIT = table_of(AuditEntry)


class AuditFields(TypedDict, total=False):
    """What one audit entry says: who did what, when, to what; before/after for changes."""

    actor_role: Required[str]
    actor_id: Required[str | None]
    action: Required[str]
    occurred_at: Required[datetime]
    mobile_user_id: int | None
    subject_type: str | None
    subject_id: str | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    details: dict[str, Any] | None


def row(**fields: Unpack[AuditFields]) -> dict[str, Any]:
    """One audit row's values: for ``insert_rows`` (many entries without an object each)
    or ``record``."""
    return {
        "occurred_at": fields["occurred_at"],
        "actor_role": fields["actor_role"],
        "actor_id": fields["actor_id"],
        "action": fields["action"],
        "mobile_user_id": fields.get("mobile_user_id"),
        "subject_type": fields.get("subject_type"),
        "subject_id": fields.get("subject_id"),
        "before": fields.get("before"),
        "after": fields.get("after"),
        "details": fields.get("details") or {},
    }


def record(session: AsyncSession, **fields: Unpack[AuditFields]) -> AuditEntry:
    """Add one audit entry to the caller's transaction."""
    entry = AuditEntry(**row(**fields))
    session.add(entry)
    return entry


async def insert_rows(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Append many audit rows in one statement, inside the caller's transaction."""
    if rows:
        await session.exec(sa.insert(AUDIT), params=rows)
