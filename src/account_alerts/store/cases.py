"""Review cases, their timeline, and one function per change of a case.

Every change of a case goes through one of the ``record_*`` functions below, which write
the timeline entry and the audit entry in the caller's transaction. Announcing a change
to other systems (CASE_OPENED, CASE_ESCALATED, CASE_RESOLVED) belongs in
``record_opened``, ``record_escalated`` and ``record_resolved``."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from account_alerts.domain.cases import (
    CaseEventKind,
    CaseOutcome,
    CaseSource,
    CaseStatus,
    TeamMessageKind,
)
from account_alerts.domain.webhooks import WebhookEventType
from account_alerts.store import audit_trail
from account_alerts.store.base import json_doc, user_fk, when
from account_alerts.store.types import enum_column
from account_alerts.store.webhook_events import emit

SYSTEM = "system"


class ReviewCase(SQLModel, table=True):
    __tablename__ = "review_cases"
    __table_args__ = (
        # The queue: open cases by the time their acknowledgement is due.
        sa.Index("idx_review_cases_queue", "status", "ack_due_at", "id"),
        # The escalation runner: cases whose next step has come.
        sa.Index("idx_review_cases_next_step", "next_step_at"),
        # Backtests read the labels by event.
        sa.Index("idx_review_cases_event", "event_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    mobile_user_id: int = user_fk(index=True)
    source: CaseSource = Field(sa_type=enum_column(CaseSource, "case_source"))
    event_id: str | None = Field(default=None, max_length=128)
    event_kind: str | None = Field(default=None, max_length=16)
    alert_id: int | None = Field(default=None)
    decision: dict[str, Any] | None = json_doc(nullable=True)
    status: CaseStatus = Field(
        default=CaseStatus.OPEN, sa_type=enum_column(CaseStatus, "case_status")
    )
    outcome: CaseOutcome | None = Field(
        default=None, sa_type=enum_column(CaseOutcome, "case_outcome"), nullable=True
    )
    opened_at: datetime = when(required=True)
    ack_due_at: datetime = when(required=True)
    acknowledged_at: datetime | None = when()
    acknowledged_by: str | None = Field(default=None, max_length=64)
    assignee: str | None = Field(default=None, max_length=64, index=True)
    resolved_at: datetime | None = when()
    resolved_by: str | None = Field(default=None, max_length=64)
    resolution_notes: str | None = Field(default=None, max_length=2000)
    # The escalation chain: the next step to take, and when (NULL: the chain has stopped).
    next_step: int = Field(default=0)
    next_step_at: datetime | None = when()
    updated_at: datetime = when(required=True)


class CaseTimelineEntry(SQLModel, table=True):
    __tablename__ = "review_case_timeline"
    __table_args__ = (sa.Index("idx_case_timeline_case", "case_id", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="review_cases.id")
    kind: CaseEventKind = Field(sa_type=enum_column(CaseEventKind, "case_event_kind"))
    actor: str = Field(max_length=64)
    occurred_at: datetime = when(required=True)
    details: dict[str, Any] = json_doc()


async def open_case(
    session: AsyncSession,
    *,
    mobile_user_id: int,
    source: str,
    event_id: str | None,
    event_kind: str | None,
    decision: dict[str, Any] | None,
    opened_at: datetime,
    actor: str,
    ack_sla: timedelta = timedelta(seconds=300),
    alert_id: int | None = None,
) -> int:
    """Open a case inside the caller's transaction (an event's, a customer's answer):
    rows are added and flushed, never committed. The escalation runner tells the team at
    once (its first step is due when the case opens)."""
    case = ReviewCase(
        mobile_user_id=mobile_user_id,
        source=CaseSource(source),
        event_id=event_id,
        event_kind=event_kind,
        alert_id=alert_id,
        decision=decision,
        opened_at=opened_at,
        ack_due_at=opened_at + ack_sla,
        next_step=0,
        next_step_at=opened_at,
        updated_at=opened_at,
    )
    session.add(case)
    await session.flush()
    assert case.id is not None
    record_opened(session, case, actor=actor)
    return case.id


def _record(
    session: AsyncSession,
    case: ReviewCase,
    kind: CaseEventKind,
    *,
    actor: str,
    actor_role: str,
    at: datetime,
    details: dict[str, Any] | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    assert case.id is not None
    session.add(
        CaseTimelineEntry(
            case_id=case.id, kind=kind, actor=actor, occurred_at=at, details=details or {}
        )
    )
    audit_trail.record(
        session,
        actor_role=actor_role,
        actor_id=actor,
        action=f"case.{kind.value.lower()}",
        occurred_at=at,
        mobile_user_id=case.mobile_user_id,
        subject_type="review_case",
        subject_id=str(case.id),
        before=before,
        after=after,
        details=details,
    )
    announced = _ANNOUNCED.get(kind)
    if announced is not None:
        emit(
            session,
            announced,
            {
                "caseId": case.id,
                "mobileUserId": case.mobile_user_id,
                "source": case.source.value,
                "status": case.status.value,
                "outcome": case.outcome.value if case.outcome else None,
                "assignee": case.assignee,
                "eventId": case.event_id,
                "path": f"/admin/cases/{case.id}",
            },
            occurred_at=at,
        )


# The case's changes the bank's other systems hear of (signed webhooks).
_ANNOUNCED = {
    CaseEventKind.OPENED: WebhookEventType.CASE_OPENED,
    CaseEventKind.ESCALATED: WebhookEventType.CASE_ESCALATED,
    CaseEventKind.RESOLVED: WebhookEventType.CASE_RESOLVED,
}


def _state(case: ReviewCase) -> dict[str, Any]:
    return {
        "status": case.status.value,
        "outcome": case.outcome.value if case.outcome else None,
        "assignee": case.assignee,
        "acknowledgedBy": case.acknowledged_by,
    }


def record_opened(session: AsyncSession, case: ReviewCase, *, actor: str) -> None:
    _record(
        session,
        case,
        CaseEventKind.OPENED,
        actor=actor,
        actor_role=SYSTEM,
        at=case.opened_at,
        details={"source": case.source.value, "eventId": case.event_id},
        after=_state(case),
    )


def record_notified(
    session: AsyncSession,
    case: ReviewCase,
    *,
    at: datetime,
    kind: TeamMessageKind,
    level: str,
    channel: str,
    to: str,
) -> None:
    """A team member or channel was told (the sent notification, not its scheduling)."""
    _record(
        session,
        case,
        CaseEventKind.NOTIFIED,
        actor=SYSTEM,
        actor_role=SYSTEM,
        at=at,
        details={"message": kind.value, "level": level, "channel": channel, "to": to},
    )


def record_escalated(
    session: AsyncSession, case: ReviewCase, *, at: datetime, step: int, level: str
) -> None:
    _record(
        session,
        case,
        CaseEventKind.ESCALATED,
        actor=SYSTEM,
        actor_role=SYSTEM,
        at=at,
        details={"step": step, "level": level},
    )


def record_acknowledged(
    session: AsyncSession, case: ReviewCase, *, staff: str, at: datetime
) -> None:
    before = _state(case)
    case.status = CaseStatus.ACKNOWLEDGED
    case.acknowledged_at = at
    case.acknowledged_by = staff
    _stop_chain(case, at)
    _record(
        session,
        case,
        CaseEventKind.ACKNOWLEDGED,
        actor=staff,
        actor_role="admin",
        at=at,
        before=before,
        after=_state(case),
    )


def record_assigned(
    session: AsyncSession, case: ReviewCase, *, staff: str, to: str, at: datetime
) -> None:
    before = _state(case)
    case.assignee = to
    case.updated_at = at
    session.add(case)
    _record(
        session,
        case,
        CaseEventKind.ASSIGNED,
        actor=staff,
        actor_role="admin",
        at=at,
        details={"to": to},
        before=before,
        after=_state(case),
    )


def record_commented(
    session: AsyncSession, case: ReviewCase, *, staff: str, text: str, at: datetime
) -> None:
    _record(
        session,
        case,
        CaseEventKind.COMMENTED,
        actor=staff,
        actor_role="admin",
        at=at,
        details={"text": text},
    )


def record_resolved(
    session: AsyncSession,
    case: ReviewCase,
    *,
    staff: str,
    outcome: CaseOutcome,
    notes: str | None,
    at: datetime,
) -> None:
    """Resolving answers the case: one never acknowledged counts as acknowledged now."""
    before = _state(case)
    case.status = CaseStatus.RESOLVED
    case.outcome = outcome
    case.resolved_at = at
    case.resolved_by = staff
    case.resolution_notes = notes
    if case.acknowledged_at is None:
        case.acknowledged_at = at
        case.acknowledged_by = staff
    _stop_chain(case, at)
    _record(
        session,
        case,
        CaseEventKind.RESOLVED,
        actor=staff,
        actor_role="admin",
        at=at,
        details={"outcome": outcome.value, "notes": notes},
        before=before,
        after=_state(case),
    )


def _stop_chain(case: ReviewCase, at: datetime) -> None:
    case.next_step_at = None
    case.updated_at = at
