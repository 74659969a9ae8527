"""The audit log as tests read it."""

from __future__ import annotations

from sqlmodel import col, select

from account_alerts.store.audit import AuditEntry
from account_alerts.store.database import Database


async def audit_entries(db: Database, action: str) -> list[AuditEntry]:
    """The entries of ``action``, in the order they were written."""
    async with db.session() as session:
        rows = await session.exec(
            select(AuditEntry).where(col(AuditEntry.action) == action).order_by(col(AuditEntry.id))
        )
        return list(rows.all())
