"""The append-only audit log: triggers, suppressions, deliveries, settings and actions."""

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from account_alerts.store.base import json_doc, when


class AuditEntry(SQLModel, table=True):
    __tablename__ = "audit_log"
    __table_args__ = (
        sa.Index("idx_audit_user_time", "mobile_user_id", "occurred_at"),
        sa.Index("idx_audit_action", "action"),
    )

    id: int | None = Field(default=None, primary_key=True)
    occurred_at: datetime = when(now=True)
    actor_role: str = Field(max_length=16)
    actor_id: str | None = Field(default=None, max_length=64)
    action: str = Field(max_length=64)
    mobile_user_id: int | None = Field(default=None, sa_type=sa.BigInteger)
    subject_type: str | None = Field(default=None, max_length=32)
    subject_id: str | None = Field(default=None, max_length=128)
    before: dict[str, Any] | None = json_doc(nullable=True)
    after: dict[str, Any] | None = json_doc(nullable=True)
    details: dict[str, Any] = json_doc()
