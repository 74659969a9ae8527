"""The specification's three tables, plus the delivery outbox."""

from datetime import datetime, time
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from account_alerts.domain.enums import (
    AlertStatus,
    AlertType,
    DeliveryStatus,
    LoginAlertMode,
    NotificationChannel,
    PaymentReminderInterval,
    ResolutionAction,
    SuspicionReason,
    UserAction,
)
from account_alerts.store.base import json_doc, json_list, user_fk, when
from account_alerts.store.types import Money, enum_column


class AccountAlertSettingsRow(SQLModel, table=True):
    __tablename__ = "account_alert_settings"
    __table_args__ = (
        sa.UniqueConstraint("mobile_user_id", "account_number"),
        sa.Index("idx_alert_settings_user", "mobile_user_id"),
        sa.Index("idx_alert_settings_account", "account_number"),
    )

    id: int | None = Field(default=None, primary_key=True)
    mobile_user_id: int = user_fk()
    account_number: str = Field(max_length=20, foreign_key="accounts.account_number")

    low_balance_enabled: bool = True
    low_balance_threshold: Decimal | None = Field(default=None, sa_type=Money)
    low_balance_channels: list[str] = json_list()

    large_transaction_enabled: bool = True
    large_transaction_threshold: Decimal | None = Field(default=None, sa_type=Money)
    large_transaction_channels: list[str] = json_list()
    large_transaction_debit_only: bool = True

    alert_unusual_location: bool = True
    alert_multiple_failed_attempts: bool = True
    alert_new_device_transaction: bool = True
    suspicious_activity_channels: list[str] = json_list()

    payment_due_enabled: bool = True
    payment_due_channels: list[str] = json_list()
    payment_reminder_interval: PaymentReminderInterval = Field(
        default=PaymentReminderInterval.ONE_DAY,
        sa_type=enum_column(PaymentReminderInterval, "payment_reminder_interval_enum"),
    )

    login_alert_mode: LoginAlertMode = Field(
        default=LoginAlertMode.NEW_DEVICE,
        sa_type=enum_column(LoginAlertMode, "login_alert_mode_enum"),
    )
    login_alert_channels: list[str] = json_list()

    quiet_hours_enabled: bool = False
    quiet_hours_start: time | None = Field(default=None, sa_type=sa.Time)
    quiet_hours_end: time | None = Field(default=None, sa_type=sa.Time)

    created_at: datetime = when(now=True)
    updated_at: datetime = when(now=True)


class AccountAlert(SQLModel, table=True):
    __tablename__ = "account_alerts"
    __table_args__ = (
        sa.Index("idx_alerts_user", "mobile_user_id"),
        sa.Index("idx_alerts_account", "account_number"),
        sa.Index("idx_alerts_type", "alert_type"),
        sa.Index("idx_alerts_status", "status"),
        sa.Index("idx_alerts_triggered_at", "triggered_at"),
        # The app's history page and badge count: one user's alerts, newest first.
        sa.Index("idx_alerts_user_history", "mobile_user_id", "triggered_at", "id"),
        sa.Index("idx_alerts_user_unacknowledged", "mobile_user_id", "acknowledged_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    mobile_user_id: int = user_fk()
    account_number: str | None = Field(default=None, max_length=20)
    alert_type: AlertType = Field(sa_type=enum_column(AlertType, "alert_type_enum"))
    alert_data: dict[str, Any] = json_doc()
    title: str = Field(max_length=200)
    message: str = Field(max_length=2000)
    status: AlertStatus = Field(
        default=AlertStatus.PENDING, sa_type=enum_column(AlertStatus, "alert_status_enum")
    )
    channels_sent: list[str] = json_list()
    sent_at: datetime | None = when()
    acknowledged_at: datetime | None = when()
    user_action: UserAction | None = Field(
        default=None, sa_type=enum_column(UserAction, "user_action_enum"), nullable=True
    )
    is_test: bool = False
    # The event that raised the alert, and a key that makes "once per …" rules hold
    # across processes (a unique index, not a read-then-write).
    event_id: str | None = Field(default=None, max_length=128, index=True)
    dedupe_key: str | None = Field(default=None, max_length=255, unique=True)
    triggered_at: datetime = when(now=True)
    created_at: datetime = when(now=True)
    updated_at: datetime = when(now=True)


class AlertDelivery(SQLModel, table=True):
    """The outbox: one row per alert and channel, written in the alert's transaction."""

    __tablename__ = "alert_deliveries"
    __table_args__ = (
        sa.UniqueConstraint("alert_id", "channel"),
        sa.Index("idx_deliveries_due", "status", "next_attempt_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    alert_id: int = Field(foreign_key="account_alerts.id", index=True)
    channel: NotificationChannel = Field(sa_type=enum_column(NotificationChannel, "alert_channel"))
    status: DeliveryStatus = Field(
        default=DeliveryStatus.PENDING, sa_type=enum_column(DeliveryStatus, "delivery_status_enum")
    )
    attempts: int = 0
    last_error: str | None = Field(default=None, max_length=1000)
    next_attempt_at: datetime = when(now=True)
    lease_owner: str | None = Field(default=None, max_length=64)
    lease_expires_at: datetime | None = when()
    # Set just before a send goes out, cleared when its outcome is recorded: a row taken
    # over with it still set had a send in doubt (domain.in_doubt).
    send_started_at: datetime | None = when()
    attempts_in_doubt: int = 0
    sent_at: datetime | None = when()
    provider_message_id: str | None = Field(default=None, max_length=255)
    created_at: datetime = when(now=True)
    updated_at: datetime = when(now=True)


class SuspiciousActivity(SQLModel, table=True):
    __tablename__ = "suspicious_activity_log"
    __table_args__ = (
        sa.Index("idx_suspicious_user", "mobile_user_id"),
        sa.Index("idx_suspicious_risk", "risk_score"),
        sa.Index("idx_suspicious_resolved", "is_resolved"),
    )

    id: int | None = Field(default=None, primary_key=True)
    alert_id: int | None = Field(default=None, foreign_key="account_alerts.id")
    mobile_user_id: int = user_fk()
    account_number: str | None = Field(default=None, max_length=20)
    suspicion_reason: SuspicionReason = Field(
        sa_type=enum_column(SuspicionReason, "suspicion_reason_enum")
    )
    risk_score: int
    detection_details: dict[str, Any] = json_doc()
    related_transaction_ids: list[str] = json_list()
    device_id: str | None = Field(default=None, max_length=255)
    ip_address: str | None = Field(default=None, max_length=45)
    location: str | None = Field(default=None, max_length=255)
    is_resolved: bool = False
    resolved_at: datetime | None = when()
    resolution_action: ResolutionAction | None = Field(
        default=None,
        sa_type=enum_column(ResolutionAction, "resolution_action_enum"),
        nullable=True,
    )
    admin_notes: str | None = Field(default=None, sa_type=sa.Text)
    detected_at: datetime = when(now=True)
    created_at: datetime = when(now=True)
