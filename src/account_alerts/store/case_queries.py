"""Reading cases: the queue's page, one case, their timelines."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from account_alerts.domain.cases import CaseSource, CaseStatus
from account_alerts.store.cases import CaseTimelineEntry, ReviewCase
from account_alerts.store.customers import MobileUser


@dataclass(frozen=True)
class CaseFilter:
    status: CaseStatus | None = None
    overdue: bool | None = None
    assignee: str | None = None
    mobile_user_id: int | None = None
    # The queue: open and acknowledged cases, not those resolved.
    unresolved: bool = False


def _conditions(where: CaseFilter, now: datetime) -> list[Any]:
    conditions: list[Any] = []
    if where.status is not None:
        conditions.append(col(ReviewCase.status) == where.status)
    if where.assignee is not None:
        conditions.append(col(ReviewCase.assignee) == where.assignee)
    if where.mobile_user_id is not None:
        conditions.append(col(ReviewCase.mobile_user_id) == where.mobile_user_id)
    if where.unresolved:
        # As a list of statuses, not "!= RESOLVED": the queue's index serves an IN.
        conditions.append(col(ReviewCase.status).in_([CaseStatus.OPEN, CaseStatus.ACKNOWLEDGED]))
    if where.overdue is not None:
        overdue = sa.and_(
            col(ReviewCase.status) == CaseStatus.OPEN, col(ReviewCase.ack_due_at) <= now
        )
        conditions.append(overdue if where.overdue else sa.not_(overdue))
    return conditions


async def page_of_cases(
    session: AsyncSession, where: CaseFilter, *, now: datetime, limit: int, offset: int
) -> tuple[list[tuple[ReviewCase, bool]], int]:
    """Cases by the time their acknowledgement is due (the most urgent first), each with
    whether its customer is locked now; and how many match."""
    conditions = _conditions(where, now)
    total = (
        await session.exec(select(sa.func.count()).select_from(ReviewCase).where(*conditions))
    ).one()
    rows = (
        await session.exec(
            select(ReviewCase, MobileUser.locked)
            .join(MobileUser, col(MobileUser.id) == col(ReviewCase.mobile_user_id))
            .where(*conditions)
            .order_by(col(ReviewCase.ack_due_at), col(ReviewCase.id))
            .limit(limit)
            .offset(offset)
        )
    ).all()
    return [(case, bool(locked)) for case, locked in rows], int(total)


@dataclass(frozen=True)
class QueueEntry:
    """What the queue shows of a case: its row without the decision's hits and features."""

    id: int
    source: CaseSource
    mobile_user_id: int
    status: CaseStatus
    opened_at: datetime
    ack_due_at: datetime
    assignee: str | None
    decision: dict[str, Any] | None  # its outcome and score only


async def queue_page(session: AsyncSession, *, limit: int) -> list[tuple[QueueEntry, bool]]:
    """The ``limit`` most urgent unresolved cases (by the time their acknowledgement is
    due), each with whether its customer is locked now. Only the columns the queue shows:
    it is refreshed every few seconds by every analyst, over thousands of open cases."""
    decision = col(ReviewCase.decision)
    rows = (
        await session.exec(
            select(  # type: ignore[call-overload]
                col(ReviewCase.id),
                col(ReviewCase.source),
                col(ReviewCase.mobile_user_id),
                col(ReviewCase.status),
                col(ReviewCase.opened_at),
                col(ReviewCase.ack_due_at),
                col(ReviewCase.assignee),
                decision["outcome"].as_string(),
                decision["score"].as_float(),
                col(MobileUser.locked),
            )
            .join(MobileUser, col(MobileUser.id) == col(ReviewCase.mobile_user_id))
            .where(col(ReviewCase.status).in_([CaseStatus.OPEN, CaseStatus.ACKNOWLEDGED]))
            .order_by(col(ReviewCase.ack_due_at), col(ReviewCase.id))
            .limit(limit)
        )
    ).all()
    return [
        (
            QueueEntry(
                id=case_id,
                source=CaseSource(source),
                mobile_user_id=customer,
                status=CaseStatus(status),
                opened_at=opened_at,
                ack_due_at=ack_due_at,
                assignee=assignee,
                decision=(
                    {"outcome": outcome, "score": _whole(score)} if outcome is not None else None
                ),
            ),
            bool(locked),
        )
        for (
            case_id,
            source,
            customer,
            status,
            opened_at,
            ack_due_at,
            assignee,
            outcome,
            score,
            locked,
        ) in rows
    ]


def _whole(score: float | None) -> float | int | None:
    return int(score) if score is not None and score == int(score) else score


async def one_case(session: AsyncSession, case_id: int) -> tuple[ReviewCase, bool] | None:
    row = (
        await session.exec(
            select(ReviewCase, MobileUser.locked)
            .join(MobileUser, col(MobileUser.id) == col(ReviewCase.mobile_user_id))
            .where(col(ReviewCase.id) == case_id)
        )
    ).first()
    return (row[0], bool(row[1])) if row is not None else None


async def timelines(
    session: AsyncSession, case_ids: Sequence[int]
) -> dict[int, list[CaseTimelineEntry]]:
    grouped: dict[int, list[CaseTimelineEntry]] = {case_id: [] for case_id in case_ids}
    if not case_ids:
        return grouped
    entries = (
        await session.exec(
            select(CaseTimelineEntry)
            .where(col(CaseTimelineEntry.case_id).in_(list(case_ids)))
            .order_by(col(CaseTimelineEntry.id))
        )
    ).all()
    for entry in entries:
        grouped[entry.case_id].append(entry)
    return grouped


async def open_and_overdue(session: AsyncSession, now: datetime) -> tuple[int, int]:
    """How many cases wait for an acknowledgement, and how many of them are overdue."""
    waiting = col(ReviewCase.status) == CaseStatus.OPEN
    overdue = sa.func.coalesce(
        sa.func.sum(sa.case((col(ReviewCase.ack_due_at) <= now, 1), else_=0)), 0
    )
    row = (await session.exec(select(sa.func.count(), overdue).where(waiting))).one()
    return int(row[0]), int(row[1])
