"""What the bank's services reported: the facts the alert rules judge."""

from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from account_alerts.domain.enums import LoginMethod, TransactionType
from account_alerts.store.base import json_doc, json_list, user_fk, when
from account_alerts.store.types import Money, enum_column


class IngestedEvent(SQLModel, table=True):
    """Idempotency: one row per eventId, with a fingerprint of what it said."""

    __tablename__ = "ingested_events"

    event_id: str = Field(primary_key=True, max_length=128)
    kind: str = Field(max_length=32)
    fingerprint: str = Field(max_length=64)
    mobile_user_id: int | None = Field(default=None, sa_type=sa.BigInteger, index=True)
    alert_ids: list[int] = json_list()
    outcome: dict[str, Any] = json_doc()
    received_at: datetime = when(now=True)


class TransactionRecord(SQLModel, table=True):
    __tablename__ = "transactions"
    __table_args__ = (
        sa.UniqueConstraint("account_number", "transaction_id"),
        sa.Index("idx_transactions_user_time", "mobile_user_id", "occurred_at"),
        # The fraud features counting customers on one device (the other customers' rows
        # without reading the event's own customer's) or one IP address (one hour of it).
        sa.Index("idx_transactions_device_user_time", "device_id", "mobile_user_id", "occurred_at"),
        sa.Index("idx_transactions_ip_time", "ip_address", "occurred_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    event_id: str = Field(max_length=128)
    account_number: str = Field(max_length=20, foreign_key="accounts.account_number")
    mobile_user_id: int = user_fk()
    transaction_id: str = Field(max_length=64)
    transaction_reference: str | None = Field(default=None, max_length=64)
    transaction_description: str | None = Field(default=None, max_length=255)
    transaction_type: TransactionType = Field(
        sa_type=enum_column(TransactionType, "transaction_type_enum")
    )
    amount: Decimal = Field(sa_type=Money)
    currency: str = Field(max_length=3)
    balance_after: Decimal | None = Field(default=None, sa_type=Money)
    device_id: str | None = Field(default=None, max_length=255)
    ip_address: str | None = Field(default=None, max_length=45)
    latitude: float | None = None
    longitude: float | None = None
    location_label: str | None = Field(default=None, max_length=255)
    occurred_at: datetime = when(required=True)
    created_at: datetime = when(now=True)
    # 0-100 from the ACTIVE anomaly model, and from the SHADOW one (stored, never used);
    # null when no model was in place.
    anomaly_score: float | None = None
    anomaly_shadow_score: float | None = None


class LoginAttempt(SQLModel, table=True):
    """The specification's device_login_attempt history."""

    __tablename__ = "login_attempts"
    __table_args__ = (
        sa.Index("idx_login_attempts_user_time", "mobile_user_id", "occurred_at"),
        sa.Index(
            "idx_login_attempts_device_user_time", "device_id", "mobile_user_id", "occurred_at"
        ),
        sa.Index("idx_login_attempts_ip_time", "ip_address", "occurred_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    event_id: str = Field(max_length=128)
    mobile_user_id: int = user_fk()
    successful: bool
    device_id: str | None = Field(default=None, max_length=255)
    ip_address: str | None = Field(default=None, max_length=45)
    latitude: float | None = None
    longitude: float | None = None
    location_label: str | None = Field(default=None, max_length=255)
    login_method: LoginMethod | None = Field(
        default=None, sa_type=enum_column(LoginMethod, "login_method_enum"), nullable=True
    )
    occurred_at: datetime = when(required=True)
    created_at: datetime = when(now=True)


class BalanceSnapshot(SQLModel, table=True):
    __tablename__ = "balance_snapshots"
    __table_args__ = (sa.Index("idx_balance_snapshots_account_time", "account_number", "as_of"),)

    id: int | None = Field(default=None, primary_key=True)
    event_id: str = Field(max_length=128)
    account_number: str = Field(max_length=20, foreign_key="accounts.account_number")
    balance: Decimal = Field(sa_type=Money)
    currency: str = Field(max_length=3)
    as_of: datetime = when(required=True)
    created_at: datetime = when(now=True)
