"""The risk team's notifications of cases: one row per step, channel and destination,
claimed under a lease like the customers' outbox.

A unique key makes each step's notifications exist once however many runners take the
step; a lease makes each be sent by one runner at a time, and a runner killed mid-send
leaves its lease to expire, after which another runner sends it again."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Field, SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from account_alerts.domain.cases import TeamChannel, TeamMessageKind, TeamNotificationStatus
from account_alerts.store.base import on_postgresql, table_of, when
from account_alerts.store.types import enum_column


class CaseNotification(SQLModel, table=True):
    __tablename__ = "case_notifications"
    __table_args__ = (
        sa.UniqueConstraint(
            "case_id", "step", "channel", "destination", name="uq_case_notifications_step"
        ),
        sa.Index("idx_case_notifications_due", "status", "next_attempt_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="review_cases.id", index=True)
    step: int
    level: str = Field(max_length=64)
    kind: TeamMessageKind = Field(sa_type=enum_column(TeamMessageKind, "team_message_kind"))
    channel: TeamChannel = Field(sa_type=enum_column(TeamChannel, "team_channel"))
    destination: str = Field(max_length=2048)
    status: TeamNotificationStatus = Field(
        default=TeamNotificationStatus.PENDING,
        sa_type=enum_column(TeamNotificationStatus, "team_notification_status"),
    )
    attempts: int = Field(default=0)
    next_attempt_at: datetime = when(required=True)
    lease_owner: str | None = Field(default=None, max_length=128)
    lease_expires_at: datetime | None = when()
    sent_at: datetime | None = when()
    last_error: str | None = Field(default=None, max_length=500)
    created_at: datetime = when(required=True)


NOTIFICATIONS = table_of(CaseNotification)


@dataclass(frozen=True)
class Claimed:
    id: int
    case_id: int
    step: int
    level: str
    kind: TeamMessageKind
    channel: TeamChannel
    destination: str
    attempts: int


async def add_step(
    session: AsyncSession,
    *,
    case_id: int,
    step: int,
    level: str,
    kind: TeamMessageKind,
    targets: list[tuple[TeamChannel, str]],
    now: datetime,
) -> None:
    """The notifications of one step, in the caller's transaction; a step already written
    (by a runner that got there first) is left as it is."""
    if not targets:
        return
    rows = [
        {
            "case_id": case_id,
            "step": step,
            "level": level,
            "kind": kind,
            "channel": channel,
            "destination": destination,
            "status": TeamNotificationStatus.PENDING,
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        }
        for channel, destination in targets
    ]
    dialect = postgresql if on_postgresql(session) else sqlite
    statement = dialect.insert(NOTIFICATIONS).on_conflict_do_nothing(
        index_elements=["case_id", "step", "channel", "destination"]
    )
    await session.exec(statement, params=rows)


async def claim_due(
    session: AsyncSession, *, owner: str, now: datetime, lease: timedelta, limit: int
) -> list[Claimed]:
    """Take up to ``limit`` due notifications for ``owner``: pending, and either never
    leased or leased by a runner whose lease has run out."""
    due = (
        select(CaseNotification.id)
        .where(
            col(CaseNotification.status) == TeamNotificationStatus.PENDING,
            col(CaseNotification.next_attempt_at) <= now,
            sa.or_(
                col(CaseNotification.lease_expires_at).is_(None),
                col(CaseNotification.lease_expires_at) < now,
            ),
        )
        .order_by(col(CaseNotification.next_attempt_at), col(CaseNotification.id))
        .limit(limit)
    )
    if on_postgresql(session):
        due = due.with_for_update(skip_locked=True)
    result = await session.exec(
        sa.update(NOTIFICATIONS)
        .where(NOTIFICATIONS.c.id.in_(due.scalar_subquery()))
        .values(lease_owner=owner, lease_expires_at=now + lease)
        .returning(
            NOTIFICATIONS.c.id,
            NOTIFICATIONS.c.case_id,
            NOTIFICATIONS.c.step,
            NOTIFICATIONS.c.level,
            NOTIFICATIONS.c.kind,
            NOTIFICATIONS.c.channel,
            NOTIFICATIONS.c.destination,
            NOTIFICATIONS.c.attempts,
        )
    )
    return sorted((Claimed(*row) for row in result.all()), key=lambda claimed: claimed.id)


async def finish(
    session: AsyncSession,
    *,
    notification_id: int,
    owner: str,
    status: TeamNotificationStatus,
    attempts: int,
    now: datetime,
    next_attempt_at: datetime | None = None,
    error: str | None = None,
) -> bool:
    """Record a send's outcome, if ``owner`` still holds the lease (False: another runner
    took it over, and its outcome counts)."""
    values: dict[str, object] = {
        "status": status,
        "attempts": attempts,
        "lease_owner": None,
        "lease_expires_at": None,
        "last_error": error[:500] if error else None,
    }
    if status == TeamNotificationStatus.SENT:
        values["sent_at"] = now
    if next_attempt_at is not None:
        values["next_attempt_at"] = next_attempt_at
    result = await session.exec(
        sa.update(NOTIFICATIONS)
        .where(
            NOTIFICATIONS.c.id == notification_id,
            NOTIFICATIONS.c.lease_owner == owner,
            NOTIFICATIONS.c.status == TeamNotificationStatus.PENDING,
        )
        .values(**values)
    )
    return bool(result.rowcount)


async def cancel_escalations(session: AsyncSession, *, case_id: int) -> None:
    """Acknowledging stops the chain at once: escalations not yet sent never will be."""
    await session.exec(
        sa.update(NOTIFICATIONS)
        .where(
            NOTIFICATIONS.c.case_id == case_id,
            NOTIFICATIONS.c.status == TeamNotificationStatus.PENDING,
            NOTIFICATIONS.c.kind == TeamMessageKind.CASE_ESCALATED,
        )
        .values(status=TeamNotificationStatus.CANCELLED, lease_owner=None, lease_expires_at=None)
    )
