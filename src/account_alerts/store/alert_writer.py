"""Writing a raised alert: the alert, its outbox rows, its suspicious-activity entries and
its audit row — in the caller's transaction."""

from __future__ import annotations

from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from account_alerts.domain.decisions import RaiseAlert, Suppressed
from account_alerts.domain.delivery_policy import DeliveryPlan
from account_alerts.domain.enums import DeliveryStatus
from account_alerts.domain.messages import render
from account_alerts.store import audit_trail
from account_alerts.store.alerts import AccountAlert, AlertDelivery, SuspiciousActivity
from account_alerts.store.announcements import announce


async def write_alert(
    session: AsyncSession,
    decision: RaiseAlert,
    *,
    mobile_user_id: int,
    event_id: str | None,
    plan: DeliveryPlan,
    actor_role: str,
    actor_id: str,
    now: datetime,
    is_test: bool = False,
) -> AccountAlert:
    title, message = render(decision.alert_type, decision.data, decision.account_number)
    if is_test:
        title = f"Test: {title}"
    alert = AccountAlert(
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
    session.add(alert)
    await session.flush()
    assert alert.id is not None
    announce(session, mobile_user_id, alert.id)
    for channel in decision.channels:
        session.add(
            AlertDelivery(
                alert_id=alert.id,
                channel=channel,
                status=DeliveryStatus.SKIPPED if plan.skipped_reason else DeliveryStatus.PENDING,
                last_error=plan.skipped_reason,
                next_attempt_at=plan.not_before,
                created_at=now,
                updated_at=now,
            )
        )
    location = decision.data.get("location")
    for detection in decision.detections:
        session.add(
            SuspiciousActivity(
                alert_id=alert.id,
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
            )
        )
    audit_trail.record(
        session,
        actor_role=actor_role,
        actor_id=actor_id,
        action="alert.triggered",
        occurred_at=now,
        mobile_user_id=mobile_user_id,
        subject_type="alert",
        subject_id=str(alert.id),
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
    )
    return alert


def record_suppression(
    session: AsyncSession,
    suppressed: Suppressed,
    *,
    mobile_user_id: int,
    subject_id: str | None,
    event_id: str,
    actor_role: str,
    actor_id: str,
    now: datetime,
) -> None:
    audit_trail.record(
        session,
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


def _describe(location: object) -> str | None:
    if not isinstance(location, dict):
        return None
    label = location.get("label")
    if label:
        return str(label)
    return f"{location['latitude']:.4f},{location['longitude']:.4f}"
