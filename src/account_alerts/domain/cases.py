"""Review cases and their escalation chain, without I/O: what a case can be, and which
level of the chain is told at each step."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum


class CaseSource(StrEnum):
    DECISION_REVIEW = "DECISION_REVIEW"
    DECISION_BLOCK = "DECISION_BLOCK"
    REPORT_FRAUD = "REPORT_FRAUD"


class CaseStatus(StrEnum):
    OPEN = "OPEN"
    ACKNOWLEDGED = "ACKNOWLEDGED"
    RESOLVED = "RESOLVED"


class CaseOutcome(StrEnum):
    """The labels backtests read: fraud, or a legitimate event flagged by mistake."""

    CONFIRMED_FRAUD = "CONFIRMED_FRAUD"
    FALSE_POSITIVE = "FALSE_POSITIVE"


class CaseEventKind(StrEnum):
    OPENED = "OPENED"
    NOTIFIED = "NOTIFIED"
    ESCALATED = "ESCALATED"
    ACKNOWLEDGED = "ACKNOWLEDGED"
    ASSIGNED = "ASSIGNED"
    COMMENTED = "COMMENTED"
    RESOLVED = "RESOLVED"


class TeamChannel(StrEnum):
    EMAIL = "EMAIL"
    SLACK = "SLACK"


class TeamMessageKind(StrEnum):
    CASE_OPENED = "CASE_OPENED"
    CASE_ESCALATED = "CASE_ESCALATED"


class TeamNotificationStatus(StrEnum):
    PENDING = "PENDING"
    SENT = "SENT"
    FAILED = "FAILED"
    # The case was acknowledged or resolved before this escalation went out.
    CANCELLED = "CANCELLED"


# Cases whose customer was locked when they opened: clearing them unlocks the customer.
LOCKING_SOURCES = frozenset({CaseSource.DECISION_BLOCK, CaseSource.REPORT_FRAUD})


def unlocks_customer(source: CaseSource, outcome: CaseOutcome) -> bool:
    return outcome is CaseOutcome.FALSE_POSITIVE and source in LOCKING_SOURCES


@dataclass(frozen=True)
class ChainStep:
    """One step of a case's escalation: which level is told, and how."""

    step: int
    level: int
    kind: TeamMessageKind


def chain_step(step: int, *, levels: int, repeats: int) -> ChainStep | None:
    """Step 0 tells the first level that the case opened; each later step escalates one
    level up, and past the top repeats the top level ``repeats`` times; then the chain
    ends (None). A chain of no levels tells nobody."""
    if levels == 0 or step >= levels + repeats:
        return None
    kind = TeamMessageKind.CASE_OPENED if step == 0 else TeamMessageKind.CASE_ESCALATED
    return ChainStep(step=step, level=min(step, levels - 1), kind=kind)


def step_due_at(opened_at: datetime, step: int, sla: timedelta) -> datetime:
    """Step 0 at once; step n once the case has waited n SLA periods unacknowledged."""
    return opened_at + sla * step


def is_overdue(*, status: CaseStatus, ack_due_at: datetime, now: datetime) -> bool:
    return status is CaseStatus.OPEN and now >= ack_due_at
