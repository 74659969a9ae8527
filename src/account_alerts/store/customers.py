"""Customers, their accounts, their devices and their verified contact channels."""

from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from account_alerts.domain.enums import NotificationChannel
from account_alerts.store.base import user_fk, when, whole_doc
from account_alerts.store.types import Money, enum_column


class MobileUser(SQLModel, table=True):
    __tablename__ = "mobile_users"

    id: int = Field(
        sa_type=sa.BigInteger, primary_key=True, sa_column_kwargs={"autoincrement": False}
    )
    email: str | None = Field(default=None, max_length=254)
    email_verified_at: datetime | None = when()
    phone: str | None = Field(default=None, max_length=20)
    phone_verified_at: datetime | None = when()
    # "Not you?" locks access at once; the bank's auth service reads this flag.
    locked: bool = Field(default=False)
    locked_at: datetime | None = when()
    locked_reason: str | None = Field(default=None, max_length=255)
    # What the security checks need of their past (domain.activity_profile); NULL until
    # their first event after profiles came, which builds it from their history.
    activity_profile: dict[str, Any] | None = whole_doc()
    created_at: datetime = when(now=True)
    updated_at: datetime = when(now=True)


class ProfileTransactions(SQLModel, table=True):
    """One part of a customer's recent transactions as their activity profile keeps them
    (domain.activity_profile.RecentAmounts): their times (microseconds since the epoch) and
    amounts as JSON arrays, in the order they arrived. A unit of work adds the ones it saw as
    a part, with the profile's document; after a few dozen parts one replaces them all."""

    __tablename__ = "profile_transactions"

    id: int | None = Field(
        default=None, primary_key=True, sa_type=sa.BigInteger().with_variant(sa.Integer, "sqlite")
    )
    mobile_user_id: int = user_fk(index=True)
    times: str = Field(sa_type=sa.Text)
    amounts: str = Field(sa_type=sa.Text)


class Account(SQLModel, table=True):
    __tablename__ = "accounts"

    account_number: str = Field(primary_key=True, max_length=20)
    mobile_user_id: int = user_fk(index=True)
    currency: str = Field(max_length=3)
    time_zone: str | None = Field(default=None, max_length=64)
    balance: Decimal | None = Field(default=None, sa_type=Money)
    balance_as_of: datetime | None = when()
    locked: bool = Field(default=False)
    created_at: datetime = when(now=True)
    updated_at: datetime = when(now=True)


class Device(SQLModel, table=True):
    __tablename__ = "devices"
    __table_args__ = (sa.UniqueConstraint("mobile_user_id", "device_id"),)

    id: int | None = Field(default=None, primary_key=True)
    mobile_user_id: int = user_fk()
    device_id: str = Field(max_length=255)
    device_name: str | None = Field(default=None, max_length=255)
    device_model: str | None = Field(default=None, max_length=255)
    device_os: str | None = Field(default=None, max_length=255)
    push_token: str | None = Field(default=None, max_length=4096)
    push_platform: str | None = Field(default=None, max_length=16)
    push_token_active: bool = Field(default=False)
    first_seen_at: datetime | None = when()
    last_seen_at: datetime | None = when()
    created_at: datetime = when(now=True)
    updated_at: datetime = when(now=True)


class ChannelVerification(SQLModel, table=True):
    __tablename__ = "channel_verifications"

    id: int | None = Field(default=None, primary_key=True)
    mobile_user_id: int = user_fk(index=True)
    channel: NotificationChannel = Field(sa_type=enum_column(NotificationChannel, "alert_channel"))
    destination: str = Field(max_length=254)
    code_hash: str = Field(max_length=128)
    attempts: int = Field(default=0)
    expires_at: datetime = when(required=True)
    verified_at: datetime | None = when()
    created_at: datetime = when(now=True)
