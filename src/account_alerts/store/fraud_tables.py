"""The risk team's rules, what they matched, their snoozes, the decision thresholds and
backtest reports (DESIGN §5.1)."""

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from account_alerts.store.base import json_doc, json_list, when


class FraudRule(SQLModel, table=True):
    """A rule: a name that stays while its versions come and go."""

    __tablename__ = "fraud_rules"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=120, unique=True)
    created_by: str = Field(max_length=255)
    created_at: datetime = when(now=True)


class FraudRuleVersion(SQLModel, table=True):
    """One immutable version of a rule: DRAFT -> SHADOW -> LIVE -> RETIRED."""

    __tablename__ = "fraud_rule_versions"
    __table_args__ = (sa.UniqueConstraint("rule_id", "version"),)

    id: int | None = Field(default=None, primary_key=True)
    rule_id: int = Field(foreign_key="fraud_rules.id", index=True)
    version: int
    name: str = Field(max_length=120)
    description: str | None = Field(default=None, max_length=1000)
    condition: dict[str, Any] = json_doc()
    score: int
    event_kinds: list[str] = json_list()
    status: str = Field(max_length=16, index=True)
    author: str = Field(max_length=255)
    approver: str | None = Field(default=None, max_length=255)
    created_at: datetime = when(now=True)
    shadow_at: datetime | None = when()
    live_at: datetime | None = when()
    retired_at: datetime | None = when()


class FraudRuleHit(SQLModel, table=True):
    """A version's condition held for an event (once per event and version)."""

    __tablename__ = "fraud_rule_hits"
    __table_args__ = (
        sa.UniqueConstraint("event_id", "version_id"),
        sa.Index("idx_fraud_rule_hits_version_time", "version_id", "evaluated_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    event_id: str = Field(max_length=128, index=True)
    event_kind: str = Field(max_length=16)
    mobile_user_id: int = Field(sa_type=sa.BigInteger)
    rule_id: int
    version_id: int
    name: str = Field(max_length=120)
    score: int
    shadow: bool
    suppressed: bool
    null_features: list[str] = json_list()
    features: dict[str, Any] = json_doc()
    occurred_at: datetime = when(required=True)
    evaluated_at: datetime = when(required=True)


class FraudSnooze(SQLModel, table=True):
    """A rule's hits in one scope (a customer, an account or a device) kept from counting."""

    __tablename__ = "fraud_snoozes"

    id: int | None = Field(default=None, primary_key=True)
    rule_id: int = Field(foreign_key="fraud_rules.id", index=True)
    scope: str = Field(max_length=16)
    scope_value: str = Field(max_length=255)
    until: datetime = when(required=True)
    reason: str = Field(max_length=500)
    created_by: str = Field(max_length=255)
    created_at: datetime = when(now=True)
    lifted_at: datetime | None = when()
    lifted_by: str | None = Field(default=None, max_length=255)


class DecisionThresholds(SQLModel, table=True):
    """The one row of decision thresholds (absent: the defaults)."""

    __tablename__ = "fraud_decision_thresholds"

    id: int = Field(default=1, primary_key=True)
    review: int
    block: int
    updated_by: str = Field(max_length=255)
    updated_at: datetime = when(now=True)


class Backtest(SQLModel, table=True):
    """A version replayed over a window of stored events; only this row is written."""

    __tablename__ = "fraud_backtests"

    id: int | None = Field(default=None, primary_key=True)
    version_id: int = Field(foreign_key="fraud_rule_versions.id", index=True)
    window_start: datetime = when(required=True)
    window_end: datetime = when(required=True)
    status: str = Field(max_length=16)
    progress: float = 0.0
    started_by: str = Field(max_length=255)
    created_at: datetime = when(now=True)
    finished_at: datetime | None = when()
    heartbeat_at: datetime | None = when()
    cancel_requested: bool = False
    report: dict[str, Any] | None = json_doc(nullable=True)
    error: str | None = Field(default=None, max_length=1000)
