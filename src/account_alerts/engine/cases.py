"""What the risk team does with a case: acknowledge, assign, comment, resolve.

Each is one transaction that locks the case row first, so two analysts acting at once
are put one after the other: the second sees what the first did (a case resolved by
someone else is a CONFLICT, and nothing is changed)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from account_alerts.delivery import metrics
from account_alerts.domain.cases import CaseOutcome, CaseStatus, unlocks_customer
from account_alerts.engine.actor import Actor
from account_alerts.engine.resolution import unlock_user
from account_alerts.errors import BadUserInput, Conflict, NotFound
from account_alerts.store import team_notifications
from account_alerts.store.base import row_key
from account_alerts.store.cases import (
    ReviewCase,
    record_acknowledged,
    record_assigned,
    record_commented,
    record_resolved,
)
from account_alerts.store.database import Database

MAX_TEXT = 2000
MAX_STAFF_ID = 64


def case_key(case_id: str) -> int:
    """A case id as the database keys it; anything else is no case of ours."""
    key = row_key(case_id)
    if key is None:
        raise NotFound(f"no review case {case_id}")
    return key


@asynccontextmanager
async def _locked_case(
    db: Database, case_id: str
) -> AsyncIterator[tuple[AsyncSession, ReviewCase]]:
    key = case_key(case_id)
    async with db.transaction() as session:
        case = (
            await session.exec(
                select(ReviewCase).where(col(ReviewCase.id) == key).with_for_update()
            )
        ).first()
        if case is None:
            raise NotFound(f"no review case {case_id}")
        yield session, case


def _refuse_resolved(case: ReviewCase, doing: str) -> None:
    if case.status is CaseStatus.RESOLVED:
        assert case.outcome is not None
        raise Conflict(
            f"case {case.id} was already resolved as {case.outcome.value} by "
            f"{case.resolved_by}; it cannot be {doing}",
            field="id",
        )


def _counted_acknowledgement(case: ReviewCase, now: datetime) -> None:
    if case.acknowledged_at is None:
        metrics.CASE_ACK_SECONDS.observe(max(0.0, (now - case.opened_at).total_seconds()))


async def acknowledge_case(db: Database, *, actor: Actor, case_id: str, now: datetime) -> int:
    """Stops the escalation chain at once; acknowledging again changes nothing."""
    async with _locked_case(db, case_id) as (session, case):
        _refuse_resolved(case, "acknowledged")
        assert case.id is not None
        if case.status is CaseStatus.ACKNOWLEDGED:
            return case.id
        _counted_acknowledgement(case, now)
        record_acknowledged(session, case, staff=actor.id, at=now)
        await team_notifications.cancel_escalations(session, case_id=case.id)
        return case.id


async def assign_case(db: Database, *, actor: Actor, case_id: str, to: str, now: datetime) -> int:
    to = to.strip()
    if not to or len(to) > MAX_STAFF_ID:
        raise BadUserInput(
            f"name the staff member to assign to (1 to {MAX_STAFF_ID} characters)", field="to"
        )
    async with _locked_case(db, case_id) as (session, case):
        _refuse_resolved(case, "assigned")
        assert case.id is not None
        if case.assignee != to:
            record_assigned(session, case, staff=actor.id, to=to, at=now)
        return case.id


async def comment_case(
    db: Database, *, actor: Actor, case_id: str, text: str, now: datetime
) -> int:
    """Comments are welcome at any time, a resolved case included."""
    if not text.strip() or len(text) > MAX_TEXT:
        raise BadUserInput(f"a comment has 1 to {MAX_TEXT} characters", field="text")
    async with _locked_case(db, case_id) as (session, case):
        assert case.id is not None
        record_commented(session, case, staff=actor.id, text=text, at=now)
        return case.id


async def resolve_case(
    db: Database,
    *,
    actor: Actor,
    case_id: str,
    outcome: CaseOutcome,
    notes: str | None,
    now: datetime,
) -> int:
    """FALSE_POSITIVE on a case that locked the customer (a BLOCK decision, a customer's
    fraud report) gives them their access back."""
    if notes is not None and len(notes) > MAX_TEXT:
        raise BadUserInput(f"notes may be at most {MAX_TEXT} characters", field="notes")
    async with _locked_case(db, case_id) as (session, case):
        _refuse_resolved(case, "resolved again")
        assert case.id is not None
        _counted_acknowledgement(case, now)
        record_resolved(session, case, staff=actor.id, outcome=outcome, notes=notes, at=now)
        await team_notifications.cancel_escalations(session, case_id=case.id)
        if unlocks_customer(case.source, outcome):
            await unlock_user(
                session,
                actor=actor,
                mobile_user_id=case.mobile_user_id,
                reason=f"review case {case.id} resolved as {outcome.value}",
                now=now,
            )
        return case.id
