"""The risk team resolves a suspicious-activity entry."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from account_alerts.domain.enums import ResolutionAction
from account_alerts.domain.webhooks import WebhookEventType
from account_alerts.engine.actor import Actor
from account_alerts.errors import BadUserInput, NotFound
from account_alerts.store import audit_trail
from account_alerts.store.alerts import SuspiciousActivity
from account_alerts.store.base import row_key
from account_alerts.store.customers import Account, MobileUser
from account_alerts.store.database import Database
from account_alerts.store.webhook_events import emit

MAX_NOTES = 2000


async def resolve_suspicious_activity(
    db: Database,
    *,
    actor: Actor,
    entry_id: str,
    action: ResolutionAction,
    notes: str | None,
    now: datetime,
) -> SuspiciousActivity:
    """CONFIRMED_LEGITIMATE closes the case; FRAUD_REPORTED also locks the customer's
    access; ACCOUNT_LOCKED locks the account involved (the customer, for a sign-in)."""
    if notes is not None and len(notes) > MAX_NOTES:
        raise BadUserInput(f"notes may be at most {MAX_NOTES} characters", field="notes")
    key = row_key(entry_id)
    if key is None:
        raise NotFound(f"no suspicious-activity entry {entry_id}")
    async with db.transaction() as session:
        entry = (
            await session.exec(
                select(SuspiciousActivity)
                .where(col(SuspiciousActivity.id) == key)
                .with_for_update()
            )
        ).first()
        if entry is None:
            raise NotFound(f"no suspicious-activity entry {entry_id}")
        if entry.is_resolved:
            raise BadUserInput(
                f"entry {entry_id} was already resolved as {entry.resolution_action}",
                field="id",
            )
        entry.is_resolved = True
        entry.resolved_at = now
        entry.resolution_action = action
        entry.admin_notes = notes
        session.add(entry)
        audit_trail.record(
            session,
            actor_role=actor.role.value,
            actor_id=actor.id,
            action="suspicious_activity.resolved",
            occurred_at=now,
            mobile_user_id=entry.mobile_user_id,
            subject_type="suspicious_activity",
            subject_id=entry_id,
            after={"resolutionAction": action.value, "notes": notes},
        )
        if action is ResolutionAction.FRAUD_REPORTED or (
            action is ResolutionAction.ACCOUNT_LOCKED and entry.account_number is None
        ):
            await lock_user(
                session,
                actor=actor,
                mobile_user_id=entry.mobile_user_id,
                reason=f"risk team: {action.value} on suspicious activity {entry_id}",
                now=now,
            )
        elif action is ResolutionAction.ACCOUNT_LOCKED:
            account = await session.get(Account, entry.account_number)
            if account is not None and not account.locked:
                account.locked = True
                account.updated_at = now
                session.add(account)
                audit_trail.record(
                    session,
                    actor_role=actor.role.value,
                    actor_id=actor.id,
                    action="account.locked",
                    occurred_at=now,
                    mobile_user_id=entry.mobile_user_id,
                    subject_type="account",
                    subject_id=account.account_number,
                    details={"suspiciousActivityId": entry_id},
                )
        return entry


async def lock_user(
    session: AsyncSession, *, actor: Actor, mobile_user_id: int, reason: str, now: datetime
) -> None:
    user = await session.get(MobileUser, mobile_user_id, with_for_update={"key_share": True})
    if user is None or user.locked:
        return
    user.locked = True
    user.locked_at = now
    user.locked_reason = reason
    user.updated_at = now
    session.add(user)
    audit_trail.record(
        session,
        actor_role=actor.role.value,
        actor_id=actor.id,
        action="user.locked",
        occurred_at=now,
        mobile_user_id=mobile_user_id,
        subject_type="mobile_user",
        subject_id=str(mobile_user_id),
        details={"reason": reason},
    )
    emit(
        session,
        WebhookEventType.USER_LOCKED,
        {"mobileUserId": mobile_user_id, "reason": reason, "at": now.isoformat()},
        occurred_at=now,
    )


async def unlock_user(
    session: AsyncSession, *, actor: Actor, mobile_user_id: int, reason: str, now: datetime
) -> bool:
    """Give a locked customer their access back (audited); False if they were not locked."""
    user = await session.get(MobileUser, mobile_user_id, with_for_update={"key_share": True})
    if user is None or not user.locked:
        return False
    before = {"locked": True, "lockedReason": user.locked_reason}
    user.locked = False
    user.locked_at = None
    user.locked_reason = None
    user.updated_at = now
    session.add(user)
    audit_trail.record(
        session,
        actor_role=actor.role.value,
        actor_id=actor.id,
        action="user.unlocked",
        occurred_at=now,
        mobile_user_id=mobile_user_id,
        subject_type="mobile_user",
        subject_id=str(mobile_user_id),
        before=before,
        after={"locked": False},
        details={"reason": reason},
    )
    emit(
        session,
        WebhookEventType.USER_UNLOCKED,
        {"mobileUserId": mobile_user_id, "reason": reason, "at": now.isoformat()},
        occurred_at=now,
    )
    return True
