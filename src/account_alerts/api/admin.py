"""The risk team: the suspicious-activity log and its resolution."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.scalars import JSON

from account_alerts.api.context import Info
from account_alerts.api.permissions import IsAdmin
from account_alerts.domain.enums import ResolutionAction, SuspicionReason
from account_alerts.engine.resolution import resolve_suspicious_activity
from account_alerts.errors import BadUserInput
from account_alerts.store.alerts import SuspiciousActivity
from account_alerts.store.customers import MobileUser
from account_alerts.store.suspicious_log import SuspicionFilter, page_of_suspicions

MAX_PAGE = 100


@strawberry.type
class SuspiciousActivityEntry:
    id: strawberry.ID
    alert_id: strawberry.ID | None
    mobile_user_id: int
    account_number: str | None
    suspicion_reason: SuspicionReason
    risk_score: int
    detection_details: JSON
    related_transaction_ids: list[str]
    device_id: str | None
    ip_address: str | None
    location: str | None
    is_resolved: bool
    resolved_at: datetime | None
    resolution_action: ResolutionAction | None
    admin_notes: str | None
    detected_at: datetime
    user_locked: bool = strawberry.field(description="The customer's access is locked.")

    @classmethod
    def build(cls, row: SuspiciousActivity, user_locked: bool) -> SuspiciousActivityEntry:
        return cls(
            id=strawberry.ID(str(row.id)),
            alert_id=strawberry.ID(str(row.alert_id)) if row.alert_id is not None else None,
            mobile_user_id=row.mobile_user_id,
            account_number=row.account_number,
            suspicion_reason=row.suspicion_reason,
            risk_score=row.risk_score,
            detection_details=JSON(row.detection_details),
            related_transaction_ids=list(row.related_transaction_ids),
            device_id=row.device_id,
            ip_address=row.ip_address,
            location=row.location,
            is_resolved=row.is_resolved,
            resolved_at=row.resolved_at,
            resolution_action=row.resolution_action,
            admin_notes=row.admin_notes,
            detected_at=row.detected_at,
            user_locked=user_locked,
        )


@strawberry.type
class SuspiciousActivityPage:
    items: list[SuspiciousActivityEntry]
    total_count: int
    limit: int
    offset: int


@strawberry.type
class AdminQuery:
    @strawberry.field(permission_classes=[IsAdmin], description="Newest first.")
    async def suspicious_activities(
        self,
        info: Info,
        mobile_user_id: int | None = None,
        resolved: bool | None = None,
        suspicion_reason: SuspicionReason | None = None,
        min_risk_score: int | None = None,
        limit: int = 20,
        offset: int = 0,
    ) -> SuspiciousActivityPage:
        if not 1 <= limit <= MAX_PAGE:
            raise BadUserInput(f"limit must be between 1 and {MAX_PAGE}", field="limit")
        if offset < 0:
            raise BadUserInput("offset cannot be negative", field="offset")
        async with info.context.db.session() as session:
            rows, total = await page_of_suspicions(
                session,
                SuspicionFilter(
                    mobile_user_id=mobile_user_id,
                    resolved=resolved,
                    reason=suspicion_reason,
                    min_risk_score=min_risk_score,
                ),
                limit=limit,
                offset=offset,
            )
        return SuspiciousActivityPage(
            items=[SuspiciousActivityEntry.build(row, locked) for row, locked in rows],
            total_count=total,
            limit=limit,
            offset=offset,
        )


@strawberry.type
class AdminMutation:
    @strawberry.mutation(
        permission_classes=[IsAdmin],
        description="CONFIRMED_LEGITIMATE closes the case; FRAUD_REPORTED also locks the "
        "customer's access; ACCOUNT_LOCKED locks the account involved.",
    )
    async def resolve_suspicious_activity(
        self,
        info: Info,
        id: strawberry.ID,
        action: ResolutionAction,
        notes: str | None = None,
    ) -> SuspiciousActivityEntry:
        entry = await resolve_suspicious_activity(
            info.context.db,
            actor=info.context.actor(),
            entry_id=str(id),
            action=action,
            notes=notes,
            now=info.context.now(),
        )
        async with info.context.db.session() as session:
            user = await session.get(MobileUser, entry.mobile_user_id)
        return SuspiciousActivityEntry.build(entry, bool(user and user.locked))
