"""What the console's templates show: plain data built from rows, never the rows."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from account_alerts.domain.cases import CaseStatus, is_overdue
from account_alerts.domain.masking import mask_email, mask_phone
from account_alerts.engine.customer_views import Overview
from account_alerts.store.case_queries import QueueEntry
from account_alerts.store.cases import CaseTimelineEntry, ReviewCase


def shown_time(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if value else ""


def _epoch_ms(value: datetime) -> int:
    return int(value.timestamp() * 1000)


def queue_row(
    case: ReviewCase | QueueEntry, *, customer_locked: bool, now: datetime
) -> dict[str, Any]:
    decision = case.decision or {}
    return {
        "id": case.id,
        "source": case.source.value,
        "customer": case.mobile_user_id,
        "customer_locked": customer_locked,
        "decision": (
            f"{decision.get('outcome')} · score {decision.get('score')}" if decision else ""
        ),
        "status": case.status.value,
        "opened_at": shown_time(case.opened_at),
        "ack_due_at": shown_time(case.ack_due_at),
        # Counted down in the browser only while nobody has acknowledged the case.
        "due_ms": _epoch_ms(case.ack_due_at) if case.status is CaseStatus.OPEN else None,
        "overdue": is_overdue(status=case.status, ack_due_at=case.ack_due_at, now=now),
        "assignee": case.assignee or "",
    }


def _hit(hit: dict[str, Any]) -> dict[str, Any]:
    features = hit.get("features") if isinstance(hit.get("features"), dict) else {}
    explanation = hit.get("explanation") if isinstance(hit.get("explanation"), list) else []
    return {
        "name": str(hit.get("name") or hit.get("ruleId") or "unnamed rule"),
        "rule": f"{hit.get('ruleId')} / {hit.get('versionId')}",
        "score": hit.get("score"),
        "shadow": bool(hit.get("shadow")),
        "suppressed": bool(hit.get("suppressed")),
        "null_features": [str(name) for name in hit.get("nullFeatures") or []],
        "features": [
            (str(name), "null" if value is None else str(value))
            for name, value in (features or {}).items()
        ],
        "explanation": [
            (str(part.get("feature")), str(part.get("value")), part.get("contribution"))
            for part in explanation or []
            if isinstance(part, dict)
        ],
    }


def case_page(
    case: ReviewCase,
    *,
    customer_locked: bool,
    timeline: list[CaseTimelineEntry],
    now: datetime,
) -> dict[str, Any]:
    decision = case.decision
    return {
        **queue_row(case, customer_locked=customer_locked, now=now),
        "event_id": case.event_id or "",
        "event_kind": case.event_kind or "",
        "alert_id": case.alert_id,
        "outcome": case.outcome.value if case.outcome else "",
        "resolved": case.status is CaseStatus.RESOLVED,
        "acknowledged_at": shown_time(case.acknowledged_at),
        "acknowledged_by": case.acknowledged_by or "",
        "resolved_at": shown_time(case.resolved_at),
        "resolved_by": case.resolved_by or "",
        "resolution_notes": case.resolution_notes or "",
        "decision_outcome": (decision or {}).get("outcome"),
        "decision_score": (decision or {}).get("score"),
        "hits": [_hit(hit) for hit in (decision or {}).get("hits") or [] if isinstance(hit, dict)],
        "timeline": [
            {
                "kind": entry.kind.value,
                "actor": entry.actor,
                "at": shown_time(entry.occurred_at),
                "details": ", ".join(
                    f"{key}: {value}" for key, value in entry.details.items() if value is not None
                ),
            }
            for entry in timeline
        ],
    }


def customer_page(view: Overview, *, now: datetime) -> dict[str, Any]:
    user = view.user
    return {
        "id": user.id,
        "locked": user.locked,
        "locked_at": shown_time(user.locked_at),
        "locked_reason": user.locked_reason or "",
        "accounts": [
            {
                "number": item.account.account_number,
                "currency": item.account.currency,
                "balance": "" if item.account.balance is None else str(item.account.balance),
                "locked": item.account.locked,
                "settings": [
                    (name, ", ".join(map(str, value)) if isinstance(value, tuple) else str(value))
                    for name, value in item.preferences.as_dict().items()
                ],
            }
            for item in view.accounts
        ],
        "channels": [
            (
                "Email",
                mask_email(user.email) if user.email else "none",
                "verified" if user.email_verified_at else "not verified",
            ),
            (
                "SMS",
                mask_phone(user.phone) if user.phone else "none",
                (
                    "opted out (STOP)"
                    if view.sms_opted_out
                    else "verified"
                    if user.phone_verified_at
                    else "not verified"
                ),
            ),
            (
                "Push",
                f"{view.push_devices} device(s)",
                "registered" if view.push_devices else "no device",
            ),
        ],
        "events": [
            (event.event_id, event.kind, shown_time(event.received_at), len(event.alert_ids))
            for event in view.recent_events
        ],
        "suspicious": [
            (
                entry.suspicion_reason.value,
                entry.risk_score,
                shown_time(entry.detected_at),
                "resolved" if entry.is_resolved else "open",
            )
            for entry in view.suspicious
        ],
        "cases": [queue_row(case, customer_locked=user.locked, now=now) for case in view.cases],
    }
