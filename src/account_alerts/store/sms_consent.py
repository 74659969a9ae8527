"""Phone numbers that opted out of SMS, and the texts customers send back.

An opt-out belongs to the number, not to a customer: every customer using that number
stops receiving SMS from the moment it is recorded, until the number texts START."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Field, SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from account_alerts.domain.masking import mask_phone
from account_alerts.store import audit_trail
from account_alerts.store.base import on_postgresql, table_of, when
from account_alerts.store.customers import MobileUser


class SmsOptOut(SQLModel, table=True):
    __tablename__ = "sms_opt_outs"

    phone: str = Field(primary_key=True, max_length=20)
    opted_out_at: datetime = when(required=True)
    # What told us: the customer's reply, or the provider refusing a send.
    source: str = Field(max_length=64)


class SmsReply(SQLModel, table=True):
    """A text a customer sent to the alerts number, kept for their record."""

    __tablename__ = "sms_replies"

    id: int | None = Field(default=None, primary_key=True)
    message_sid: str = Field(max_length=64, unique=True)
    from_phone: str = Field(max_length=20, index=True)
    to_phone: str | None = Field(default=None, max_length=20)
    body: str = Field(sa_type=sa.Text)
    keyword: str | None = Field(default=None, max_length=16)
    received_at: datetime = when(required=True)


OPT_OUTS = table_of(SmsOptOut)


async def opted_out_numbers(session: AsyncSession, phones: Iterable[str]) -> set[str]:
    wanted = sorted(set(phones))
    if not wanted:
        return set()
    found = await session.exec(select(SmsOptOut.phone).where(col(SmsOptOut.phone).in_(wanted)))
    return set(found.all())


async def customers_using(session: AsyncSession, phone: str) -> list[int]:
    found = await session.exec(
        select(MobileUser.id).where(col(MobileUser.phone) == phone).order_by(col(MobileUser.id))
    )
    return list(found.all())


async def record_opt_out(
    session: AsyncSession, *, phone: str, source: str, by_customer: bool, now: datetime
) -> bool:
    """Mark ``phone`` opted out (audited for each customer using it); False when it
    already was."""
    dialect = postgresql if on_postgresql(session) else sqlite
    inserted = await session.exec(
        dialect.insert(OPT_OUTS)
        .values(phone=phone, opted_out_at=now, source=source)
        .on_conflict_do_nothing(index_elements=["phone"])
        .returning(OPT_OUTS.c.phone)
    )
    if inserted.first() is None:
        return False
    await _audit(session, "sms.opted_out", phone, source, by_customer=by_customer, now=now)
    return True


async def record_opt_in(session: AsyncSession, *, phone: str, source: str, now: datetime) -> bool:
    """Lift the opt-out of ``phone`` (audited for each customer using it); False when it
    was not opted out."""
    removed = await session.exec(
        sa.delete(OPT_OUTS).where(OPT_OUTS.c.phone == phone).returning(OPT_OUTS.c.phone)
    )
    if removed.first() is None:
        return False
    await _audit(session, "sms.opted_in", phone, source, by_customer=True, now=now)
    return True


async def _audit(
    session: AsyncSession, action: str, phone: str, source: str, *, by_customer: bool, now: datetime
) -> None:
    customers: list[int | None] = [*await customers_using(session, phone)] or [None]
    await audit_trail.insert_rows(
        session,
        [
            audit_trail.row(
                actor_role="customer" if by_customer and customer else "system",
                actor_id=str(customer) if by_customer and customer else "twilio",
                action=action,
                occurred_at=now,
                mobile_user_id=customer,
                subject_type="phone",
                subject_id=mask_phone(phone),
                details={"source": source, "customersUsingNumber": len(customers)},
            )
            for customer in customers
        ],
    )
