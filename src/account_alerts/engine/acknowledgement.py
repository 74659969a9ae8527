"""A customer acknowledges an alert, optionally answering it ("This was me", "Report fraud")."""

from __future__ import annotations

from datetime import datetime, timedelta

from account_alerts.domain.alert_actions import actions_for, locks_user
from account_alerts.domain.cases import CaseSource
from account_alerts.domain.enums import AlertStatus, UserAction
from account_alerts.engine.actor import Actor
from account_alerts.engine.resolution import lock_user
from account_alerts.errors import BadUserInput, NotFound
from account_alerts.store import audit_trail
from account_alerts.store.alert_history import owned_alert
from account_alerts.store.base import row_key
from account_alerts.store.cases import open_case
from account_alerts.store.database import Database


async def acknowledge_alert(
    db: Database,
    *,
    actor: Actor,
    mobile_user_id: int,
    alert_id: str,
    action: UserAction | None,
    now: datetime,
    case_ack_sla: timedelta,
) -> bool:
    """A fraud report locks the customer and opens a review case for the risk team, in
    the same transaction as the answer."""
    key = row_key(alert_id)
    if key is None:
        raise NotFound(f"no alert {alert_id} among your alerts")
    async with db.transaction() as session:
        alert = await owned_alert(
            session, alert_id=key, mobile_user_id=mobile_user_id, for_update=True
        )
        if alert is None:
            raise NotFound(f"no alert {alert_id} among your alerts")
        allowed = actions_for(alert.alert_type)
        if action is not None and action not in allowed:
            raise BadUserInput(
                f"{action.value} does not apply to a {alert.alert_type.value} alert; "
                f"choose one of {', '.join(a.value for a in allowed)}",
                field="action",
            )
        if alert.acknowledged_at is not None:
            if action is None or action == alert.user_action:
                return True  # the same acknowledgement again changes nothing
            # Reporting fraud is always heard, even after "dismiss" or "this was me".
            if action is not UserAction.REPORT_FRAUD:
                raise BadUserInput(
                    f"this alert was already answered with "
                    f"{alert.user_action.value if alert.user_action else 'an acknowledgement'}",
                    field="action",
                )
        before = {"status": alert.status.value, "userAction": _value(alert.user_action)}
        alert.acknowledged_at = alert.acknowledged_at or now
        alert.status = AlertStatus.ACKNOWLEDGED
        alert.user_action = action
        alert.updated_at = now
        session.add(alert)
        audit_trail.record(
            session,
            actor_role=actor.role.value,
            actor_id=actor.id,
            action="alert.acknowledged",
            occurred_at=now,
            mobile_user_id=mobile_user_id,
            subject_type="alert",
            subject_id=str(alert.id),
            before=before,
            after={"status": alert.status.value, "userAction": _value(action)},
        )
        if locks_user(alert.alert_type, action):
            await lock_user(
                session,
                actor=actor,
                mobile_user_id=mobile_user_id,
                reason=f"customer reported fraud on alert {alert.id}",
                now=now,
            )
            await open_case(
                session,
                mobile_user_id=mobile_user_id,
                source=CaseSource.REPORT_FRAUD,
                event_id=alert.event_id,
                event_kind=None,
                decision=None,
                opened_at=now,
                actor=actor.id,
                ack_sla=case_ack_sla,
                alert_id=alert.id,
            )
    return True


def _value(action: UserAction | None) -> str | None:
    return action.value if action is not None else None
