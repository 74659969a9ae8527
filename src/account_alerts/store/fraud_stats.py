"""What a rule version did on live traffic over a window: evaluated, hits, customers and
overlap with the LIVE rules (``FraudRuleVersion.stats``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from account_alerts.domain.enums import SuspicionReason
from account_alerts.domain.events import LoginEvent, TransactionEvent
from account_alerts.store.alerts import AccountAlert, SuspiciousActivity
from account_alerts.store.events import IngestedEvent
from account_alerts.store.fraud_tables import FraudRuleHit, FraudRuleVersion

# Stored event kinds (ingested_events.kind) by rule event kind.
STORED_KIND = {"TRANSACTION": TransactionEvent.__name__, "LOGIN": LoginEvent.__name__}


@dataclass(frozen=True)
class VersionStats:
    evaluated: int
    hits: int
    distinct_customers: int
    overlap_with_live: int

    @property
    def hit_rate(self) -> float:
        return self.hits / self.evaluated if self.evaluated else 0.0


async def _evaluated(
    session: AsyncSession, kinds: list[str], since: datetime, until: datetime
) -> int:
    return int(
        (
            await session.exec(
                select(sa.func.count()).where(
                    col(IngestedEvent.kind).in_([STORED_KIND[k] for k in kinds]),
                    col(IngestedEvent.received_at) >= since,
                    col(IngestedEvent.received_at) < until,
                )
            )
        ).one()
    )


async def built_in_stats(
    session: AsyncSession,
    reason: SuspicionReason,
    kinds: list[str],
    start: datetime,
    end: datetime,
) -> VersionStats:
    """A built-in check's hits are its suspicious-activity entries; overlap: those whose
    event a LIVE rule also counted."""
    entries = (
        select(SuspiciousActivity.mobile_user_id, AccountAlert.event_id)
        .join(AccountAlert, col(AccountAlert.id) == col(SuspiciousActivity.alert_id), isouter=True)
        .where(
            col(SuspiciousActivity.suspicion_reason) == reason,
            col(SuspiciousActivity.detected_at) >= start,
            col(SuspiciousActivity.detected_at) < end,
        )
    ).subquery()
    hits, customers = (
        await session.exec(
            select(sa.func.count(), sa.func.count(sa.distinct(entries.c.mobile_user_id)))
        )
    ).one()
    overlap = (
        await session.exec(
            select(sa.func.count())
            .where(
                sa.exists().where(
                    col(FraudRuleHit.event_id) == entries.c.event_id,
                    col(FraudRuleHit.shadow).is_(False),
                    col(FraudRuleHit.suppressed).is_(False),
                )
            )
            .select_from(entries)
        )
    ).one()
    return VersionStats(
        await _evaluated(session, kinds, start, end), int(hits), int(customers), int(overlap)
    )


async def version_stats(
    session: AsyncSession, version: FraudRuleVersion, start: datetime, end: datetime
) -> VersionStats:
    """Events count as evaluated when they arrived in [start, end) while the version was
    SHADOW or LIVE; its hits are those evaluated in the same window."""
    began = min(filter(None, [version.shadow_at, version.live_at]), default=None)
    evaluated = 0
    if began is not None:
        since, until = max(start, began), min(end, version.retired_at or end)
        if since < until:
            evaluated = (
                await session.exec(
                    select(sa.func.count()).where(
                        col(IngestedEvent.kind).in_([STORED_KIND[k] for k in version.event_kinds]),
                        col(IngestedEvent.received_at) >= since,
                        col(IngestedEvent.received_at) < until,
                    )
                )
            ).one()
    hits, customers = (
        await session.exec(
            select(
                sa.func.count(), sa.func.count(sa.distinct(col(FraudRuleHit.mobile_user_id)))
            ).where(
                col(FraudRuleHit.version_id) == version.id,
                col(FraudRuleHit.evaluated_at) >= start,
                col(FraudRuleHit.evaluated_at) < end,
            )
        )
    ).one()
    hits_table = FraudRuleHit.__table__  # type: ignore[attr-defined]
    live = hits_table.alias("live")
    overlap = (
        await session.exec(
            select(sa.func.count()).where(
                col(FraudRuleHit.version_id) == version.id,
                col(FraudRuleHit.evaluated_at) >= start,
                col(FraudRuleHit.evaluated_at) < end,
                sa.exists().where(
                    live.c.event_id == col(FraudRuleHit.event_id),
                    live.c.version_id != version.id,
                    live.c.shadow.is_(False),
                ),
            )
        )
    ).one()
    return VersionStats(int(evaluated), int(hits), int(customers), int(overlap))
