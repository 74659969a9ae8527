"""Scheduled payments reported by core banking: bills, loans, subscriptions, recurring."""

from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from account_alerts.domain.enums import PaymentStatus, PaymentType
from account_alerts.store.base import when
from account_alerts.store.types import Money, enum_column


class ScheduledPayment(SQLModel, table=True):
    __tablename__ = "scheduled_payments"
    __table_args__ = (sa.Index("idx_scheduled_payments_due", "status", "due_date"),)

    payment_id: str = Field(primary_key=True, max_length=64)
    account_number: str = Field(max_length=20, foreign_key="accounts.account_number", index=True)
    payment_type: PaymentType = Field(sa_type=enum_column(PaymentType, "payment_type_enum"))
    payment_description: str | None = Field(default=None, max_length=255)
    amount_due: Decimal = Field(sa_type=Money)
    currency: str = Field(max_length=3)
    due_date: date = Field(sa_type=sa.Date)
    beneficiary_name: str | None = Field(default=None, max_length=255)
    beneficiary_reference: str | None = Field(default=None, max_length=64)
    status: PaymentStatus = Field(
        default=PaymentStatus.ACTIVE, sa_type=enum_column(PaymentStatus, "payment_status_enum")
    )
    created_at: datetime = when(now=True)
    updated_at: datetime = when(now=True)
