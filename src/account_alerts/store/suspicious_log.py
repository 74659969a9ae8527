"""The risk team's view of the suspicious-activity log."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from account_alerts.domain.enums import SuspicionReason
from account_alerts.store.alerts import SuspiciousActivity
from account_alerts.store.customers import MobileUser


@dataclass(frozen=True)
class SuspicionFilter:
    mobile_user_id: int | None = None
    resolved: bool | None = None
    reason: SuspicionReason | None = None
    min_risk_score: int | None = None

    def conditions(self) -> list[sa.ColumnElement[bool]]:
        conditions: list[sa.ColumnElement[bool]] = []
        if self.mobile_user_id is not None:
            conditions.append(col(SuspiciousActivity.mobile_user_id) == self.mobile_user_id)
        if self.resolved is not None:
            conditions.append(col(SuspiciousActivity.is_resolved).is_(self.resolved))
        if self.reason is not None:
            conditions.append(col(SuspiciousActivity.suspicion_reason) == self.reason)
        if self.min_risk_score is not None:
            conditions.append(col(SuspiciousActivity.risk_score) >= self.min_risk_score)
        return conditions


async def page_of_suspicions(
    session: AsyncSession, where: SuspicionFilter, *, limit: int, offset: int
) -> tuple[Sequence[tuple[SuspiciousActivity, bool]], int]:
    """Newest first, each with whether its customer's access is locked."""
    conditions = where.conditions()
    total = (
        await session.exec(
            select(sa.func.count()).select_from(SuspiciousActivity).where(*conditions)
        )
    ).one()
    rows = (
        await session.exec(
            select(SuspiciousActivity, MobileUser.locked)
            .join(MobileUser, col(MobileUser.id) == col(SuspiciousActivity.mobile_user_id))
            .where(*conditions)
            .order_by(col(SuspiciousActivity.detected_at).desc(), col(SuspiciousActivity.id).desc())
            .limit(limit)
            .offset(offset)
        )
    ).all()
    return [(entry, bool(locked)) for entry, locked in rows], int(total)
