"""The GraphQL shapes of review cases, mapped from their rows."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry
from strawberry.scalars import JSON

from account_alerts.domain import cases
from account_alerts.domain.cases import is_overdue
from account_alerts.store.cases import CaseTimelineEntry, ReviewCase

CaseSource = strawberry.enum(cases.CaseSource)
CaseStatus = strawberry.enum(cases.CaseStatus)
CaseOutcome = strawberry.enum(cases.CaseOutcome)
CaseEventKind = strawberry.enum(cases.CaseEventKind)


@strawberry.type(description="Why a feature pushed the anomaly score: its share of it.")
class FeatureContribution:
    feature: str
    value: JSON | None
    contribution: float | None


@strawberry.type
class CaseRuleHit:
    rule_id: str | None
    version_id: str | None
    name: str | None
    score: int | None
    shadow: bool
    suppressed: bool
    null_features: list[str]
    features: JSON
    explanation: list[FeatureContribution] | None


@strawberry.type(description="The decision that opened the case, as it was made.")
class CaseDecision:
    outcome: str | None
    score: int | None
    hits: list[CaseRuleHit]


@strawberry.type
class CaseTimelineItem:
    kind: cases.CaseEventKind
    actor: str = strawberry.field(description="The staff member's token subject, or system.")
    occurred_at: datetime
    details: JSON


@strawberry.type
class ReviewCaseNode:
    id: strawberry.ID
    mobile_user_id: int
    source: cases.CaseSource
    event_id: str | None
    event_kind: str | None
    alert_id: strawberry.ID | None
    decision: CaseDecision | None
    status: cases.CaseStatus
    outcome: cases.CaseOutcome | None
    opened_at: datetime
    ack_due_at: datetime
    overdue: bool
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    assignee: str | None
    resolved_at: datetime | None
    resolved_by: str | None
    resolution_notes: str | None
    escalation_steps_taken: int
    customer_locked: bool
    timeline: list[CaseTimelineItem]

    @classmethod
    def build(
        cls,
        row: ReviewCase,
        *,
        customer_locked: bool,
        timeline: list[CaseTimelineEntry],
        now: datetime,
    ) -> ReviewCaseNode:
        assert row.id is not None
        return cls(
            id=strawberry.ID(str(row.id)),
            mobile_user_id=row.mobile_user_id,
            source=row.source,
            event_id=row.event_id,
            event_kind=row.event_kind,
            alert_id=strawberry.ID(str(row.alert_id)) if row.alert_id is not None else None,
            decision=decision_of(row.decision),
            status=row.status,
            outcome=row.outcome,
            opened_at=row.opened_at,
            ack_due_at=row.ack_due_at,
            overdue=is_overdue(status=row.status, ack_due_at=row.ack_due_at, now=now),
            acknowledged_at=row.acknowledged_at,
            acknowledged_by=row.acknowledged_by,
            assignee=row.assignee,
            resolved_at=row.resolved_at,
            resolved_by=row.resolved_by,
            resolution_notes=row.resolution_notes,
            escalation_steps_taken=row.next_step,
            customer_locked=customer_locked,
            timeline=[
                CaseTimelineItem(
                    kind=entry.kind,
                    actor=entry.actor,
                    occurred_at=entry.occurred_at,
                    details=JSON(entry.details),
                )
                for entry in timeline
            ],
        )


@strawberry.type
class ReviewCasePage:
    items: list[ReviewCaseNode]
    total_count: int
    limit: int
    offset: int


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _hit(hit: dict[str, Any]) -> CaseRuleHit:
    explanation = hit.get("explanation")
    return CaseRuleHit(
        rule_id=_text(hit.get("ruleId")),
        version_id=_text(hit.get("versionId")),
        name=_text(hit.get("name")),
        score=_int(hit.get("score")),
        shadow=bool(hit.get("shadow")),
        suppressed=bool(hit.get("suppressed")),
        null_features=[str(name) for name in hit.get("nullFeatures") or []],
        features=JSON(hit.get("features") or {}),
        explanation=(
            [
                FeatureContribution(
                    feature=str(part.get("feature")),
                    value=JSON(part.get("value")),
                    contribution=(
                        float(part["contribution"])
                        if isinstance(part.get("contribution"), (int, float))
                        else None
                    ),
                )
                for part in explanation
                if isinstance(part, dict)
            ]
            if isinstance(explanation, list)
            else None
        ),
    )


def decision_of(document: dict[str, Any] | None) -> CaseDecision | None:
    """Whatever the decision holds, read leniently: it was written by the rules of its
    day, and a case must stay readable whatever they wrote."""
    if document is None:
        return None
    hits = document.get("hits") or []
    return CaseDecision(
        outcome=_text(document.get("outcome")),
        score=_int(document.get("score")),
        hits=[_hit(hit) for hit in hits if isinstance(hit, dict)],
    )


@strawberry.type(description="Service levels over a window: the risk team's and the customers'.")
class RiskSlaReport:
    start: datetime = strawberry.field(name="from")
    end: datetime = strawberry.field(name="to")
    cases: int = strawberry.field(description="Review cases opened in the window.")
    cases_acknowledged_within_sla: int
    share_acknowledged_within_sla: float | None = strawberry.field(
        description="Of the cases whose acknowledgement is due or done: acknowledged in "
        "time. Null when there are none."
    )
    ack_seconds_p50: float | None
    ack_seconds_p95: float | None
    customer_alerts: int = strawberry.field(
        description="Customer alerts raised by events in the window with a channel to go out on."
    )
    send_seconds_p50: float | None = strawberry.field(
        description="From the event to the alert's first send, over the alerts sent."
    )
    send_seconds_p99: float | None
    share_sent_within_5_minutes: float | None = strawberry.field(
        description="An alert not sent at all counts as late."
    )
