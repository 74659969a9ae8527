"""Writing a raised alert: the alert, its outbox rows, its suspicious-activity entries, its
audit row and its webhook event — in the caller's transaction."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel.ext.asyncio.session import AsyncSession

from account_alerts.domain.decisions import RaiseAlert, Suppressed
from account_alerts.domain.delivery_policy import RATE_WINDOW, DeliveryPlan
from account_alerts.domain.enums import DeliveryStatus
from account_alerts.domain.messages import render
from account_alerts.domain.webhooks import WebhookEventType
from account_alerts.store import audit_trail, facts
from account_alerts.store.alerts import AccountAlert, AlertDelivery, SuspiciousActivity
from account_alerts.store.announcements import announce
from account_alerts.store.base import new_row, table_of
from account_alerts.store.direct import Entities
from account_alerts.store.new_alerts import NewAlerts
from account_alerts.store.row_buffer import RowBuffer
from account_alerts.store.webhook_events import alert_created, emit

ALERTS = table_of(AccountAlert)
DELIVERIES = table_of(AlertDelivery)
SUSPICIOUS = table_of(SuspiciousActivity)
# The alert as written, as a loaded alert of a closed session is.
_ALERTS = Entities(AccountAlert)

# When a raised alert's deliveries may go out, as a function of the customer's alerts (not
# tests) triggered in the hour up to it (``RATE_WINDOW``), counted before it is written.
Planner = Callable[[int], DeliveryPlan]


async def write_alert(
    session: AsyncSession,
    decision: RaiseAlert,
    *,
    mobile_user_id: int,
    event_id: str | None,
    plan: DeliveryPlan | Planner,
    actor_role: str,
    actor_id: str,
    now: datetime,
    is_test: bool = False,
    rows: RowBuffer | None = None,
    new_alerts: NewAlerts | None = None,
    ahead: int = 1,
) -> AccountAlert:
    """The alert is inserted at once (its id names the rest); its outbox rows,
    suspicious-activity entries and audit row go to ``rows``, the caller's buffer (the
    event path's unit of work writes them with the event's other rows), or are inserted
    here when there is none. With ``new_alerts`` (the event path's unit of work on
    PostgreSQL) its id comes from there and the alert itself goes to ``rows`` too;
    ``ahead``: the alerts of the same event still to write, this one included. Returns the
    alert as written (not tracked by the session).

    ``plan``: when its deliveries may go out; or a ``Planner``, given the count of the
    customer's alerts in the hour before this one (on PostgreSQL the statement that inserts
    the alert, or that takes its id, counts them too: one round trip, not two)."""
    title, message = render(decision.alert_type, decision.data, decision.account_number)
    if is_test:
        title = f"Test: {title}"
    values = new_row(
        AccountAlert,
        mobile_user_id=mobile_user_id,
        account_number=decision.account_number,
        alert_type=decision.alert_type,
        alert_data=decision.data,
        title=title,
        message=message,
        event_id=event_id,
        is_test=is_test,
        triggered_at=decision.triggered_at,
        created_at=now,
        updated_at=now,
    )
    counting = not isinstance(plan, DeliveryPlan)
    buffer = rows if rows is not None else RowBuffer()
    if new_alerts is not None and rows is not None and not is_test:
        alert_id, recent = await new_alerts.take(
            mobile_user_id, decision.triggered_at, counting=counting, ahead=ahead
        )
        buffer.add(ALERTS, {"id": alert_id, **values})
    else:
        alert_id, recent = await _insert_alert(session, rows, values, counting=counting)
    alert: AccountAlert = _ALERTS.make(
        [alert_id if c.name == "id" else values[c.name] for c in ALERTS.columns]
    )
    if not isinstance(plan, DeliveryPlan):
        plan = plan(recent)
    announce(session, mobile_user_id, alert_id)
    status = DeliveryStatus.SKIPPED if plan.skipped_reason else DeliveryStatus.PENDING
    for channel in decision.channels:
        buffer.add(
            DELIVERIES,
            new_row(
                AlertDelivery,
                alert_id=alert_id,
                channel=channel,
                status=status,
                last_error=plan.skipped_reason,
                next_attempt_at=plan.not_before,
                created_at=now,
                updated_at=now,
            ),
        )
    location = decision.data.get("location")
    for detection in decision.detections:
        buffer.add(
            SUSPICIOUS,
            new_row(
                SuspiciousActivity,
                alert_id=alert_id,
                mobile_user_id=mobile_user_id,
                account_number=decision.account_number,
                suspicion_reason=detection.reason,
                risk_score=decision.risk_score or 0,
                detection_details={
                    **detection.details,
                    "riskComponents": decision.risk_components,
                    "eventId": event_id,
                },
                related_transaction_ids=list(decision.data.get("relatedTransactionIds") or []),
                device_id=decision.data.get("deviceId"),
                ip_address=decision.data.get("ipAddress"),
                location=_describe(location),
                detected_at=decision.triggered_at,
                created_at=now,
            ),
        )
    buffer.add(
        audit_trail.AUDIT,
        audit_trail.row(
            actor_role=actor_role,
            actor_id=actor_id,
            action="alert.triggered",
            occurred_at=now,
            mobile_user_id=mobile_user_id,
            subject_type="alert",
            subject_id=str(alert_id),
            details={
                "alertType": decision.alert_type.value,
                "eventId": event_id,
                "channels": [c.value for c in decision.channels],
                "isTest": is_test,
                **(
                    {"heldUntil": plan.not_before.isoformat(), "heldBecause": plan.held_reason}
                    if plan.held_reason
                    else {}
                ),
                **({"notDelivered": plan.skipped_reason} if plan.skipped_reason else {}),
            },
        ),
    )
    emit(
        buffer,
        WebhookEventType.ALERT_CREATED,
        alert_created(
            alert_id=alert_id,
            mobile_user_id=mobile_user_id,
            alert_type=decision.alert_type.value,
            account_number=decision.account_number,
            title=title,
            triggered_at=decision.triggered_at,
            is_test=is_test,
        ),
        occurred_at=now,
    )
    if rows is None:
        await buffer.flush(session)
    return alert


# Every column but the id, so that nothing is left to a client-side default.
_INSERT_ALERT = (
    sa.insert(ALERTS)
    .values({c.name: sa.bindparam(c.name, type_=c.type) for c in ALERTS.columns if c.name != "id"})
    .returning(ALERTS.c.id)
)
# The same, and the customer's alerts in a window (store.facts): all parts of one statement
# see the table as it was before it, so the new alert is not counted.
_INSERTED = _INSERT_ALERT.cte("inserted")
_INSERT_ALERT_COUNTING = sa.select(_INSERTED.c.id, facts.ALERTS_IN_WINDOW.scalar_subquery())


async def _insert_alert(
    session: AsyncSession, rows: RowBuffer | None, values: dict[str, Any], *, counting: bool
) -> tuple[int, int]:
    """The new alert's id, and with ``counting`` the customer's alerts in the hour before
    it (else 0)."""
    # Rows of the session's (a customer first seen in this batch) come before the alert.
    if session.new or session.dirty or session.deleted:
        await session.flush()
    user_id, ending = values["mobile_user_id"], values["triggered_at"]
    if rows is not None and rows.direct is not None:
        if counting:
            window = facts.window_values(user_id, ending=ending, span=RATE_WINDOW)
            [(alert_id, recent)] = await rows.direct.rows(_INSERT_ALERT_COUNTING, values | window)
            return int(alert_id), int(recent)
        [(alert_id,)] = await rows.direct.rows(_INSERT_ALERT, values)
        return int(alert_id), 0
    recent = (
        await facts.alerts_in_window(session, user_id, ending=ending, span=RATE_WINDOW)
        if counting
        else 0
    )
    connection = await session.connection()
    return int((await connection.execute(_INSERT_ALERT, values)).scalar_one()), recent


def record_suppression(
    rows: RowBuffer,
    suppressed: Suppressed,
    *,
    mobile_user_id: int,
    subject_id: str | None,
    event_id: str,
    actor_role: str,
    actor_id: str,
    now: datetime,
) -> None:
    """The audit row of an alert not raised or not sent, written with the event's rows."""
    entry = audit_trail.row(
        actor_role=actor_role,
        actor_id=actor_id,
        action="alert.suppressed",
        occurred_at=now,
        mobile_user_id=mobile_user_id,
        subject_type="account" if subject_id else "mobile_user",
        subject_id=subject_id or str(mobile_user_id),
        details={
            "alertType": suppressed.alert_type.value,
            "reason": suppressed.reason,
            "eventId": event_id,
            **suppressed.details,
        },
    )
    rows.add(audit_trail.AUDIT, entry)


def _describe(location: object) -> str | None:
    if not isinstance(location, dict):
        return None
    label = location.get("label")
    if label:
        return str(label)
    return f"{location['latitude']:.4f},{location['longitude']:.4f}"
