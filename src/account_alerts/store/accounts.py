"""Looking up customers' accounts, always scoped to their owner."""

from __future__ import annotations

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from account_alerts.store.customers import Account


async def owned_account(
    session: AsyncSession, *, account_number: str, mobile_user_id: int
) -> Account | None:
    """The account if it exists and belongs to the user; None otherwise, so another
    customer's account is indistinguishable from one that does not exist."""
    return (
        await session.exec(
            select(Account).where(
                Account.account_number == account_number,
                Account.mobile_user_id == mobile_user_id,
            )
        )
    ).first()
