"""A transaction's anomaly scores, written beside it by the event path."""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel.ext.asyncio.session import AsyncSession

from account_alerts.store.event_rows import TRANSACTIONS


async def record_anomaly_scores(
    session: AsyncSession,
    *,
    account_number: str,
    transaction_id: str,
    score: float | None,
    shadow_score: float | None,
) -> bool:
    """Inside the caller's transaction; False when no such transaction is stored."""
    result = await session.exec(
        sa.update(TRANSACTIONS)
        .where(
            TRANSACTIONS.c.account_number == account_number,
            TRANSACTIONS.c.transaction_id == transaction_id,
        )
        .values(anomaly_score=score, anomaly_shadow_score=shadow_score)
    )
    return bool(result.rowcount)
