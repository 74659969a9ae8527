"""The risk team looking at one customer: every read is audited (who, whom, when), and
the overview gathers what an analyst needs to judge a case."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import col, select

from account_alerts.config import Settings
from account_alerts.domain.alert_settings import AlertPreferences
from account_alerts.engine.actor import Actor
from account_alerts.engine.preferences import thresholds_for
from account_alerts.errors import NotFound
from account_alerts.store import audit_trail, sms_consent
from account_alerts.store.alerts import SuspiciousActivity
from account_alerts.store.case_queries import CaseFilter, page_of_cases
from account_alerts.store.cases import ReviewCase
from account_alerts.store.customers import Account, Device, MobileUser
from account_alerts.store.database import Database
from account_alerts.store.events import IngestedEvent
from account_alerts.store.preferences import effective_preferences, rows_for_user
from account_alerts.store.suspicious_log import SuspicionFilter, page_of_suspicions

RECENT = 20


async def record_customer_read(
    db: Database, *, actor: Actor, mobile_user_id: int, view: str, now: datetime
) -> None:
    """Audit that a staff member read this customer's data, before they see it."""
    async with db.transaction() as session:
        audit_trail.record(
            session,
            actor_role=actor.role.value,
            actor_id=actor.id,
            action="customer.viewed",
            occurred_at=now,
            mobile_user_id=mobile_user_id,
            subject_type="mobile_user",
            subject_id=str(mobile_user_id),
            details={"view": view},
        )


@dataclass(frozen=True)
class AccountView:
    account: Account
    preferences: AlertPreferences
    settings_updated_at: datetime | None


@dataclass(frozen=True)
class Overview:
    user: MobileUser
    accounts: list[AccountView]
    sms_opted_out: bool
    push_devices: int
    recent_events: list[IngestedEvent]
    suspicious: list[SuspiciousActivity]
    cases: list[ReviewCase]


async def customer_overview(
    db: Database, settings: Settings, *, actor: Actor, mobile_user_id: int, now: datetime
) -> Overview:
    async with db.session() as session:
        user = await session.get(MobileUser, mobile_user_id)
    if user is None:
        raise NotFound(f"no customer {mobile_user_id}")
    await record_customer_read(
        db, actor=actor, mobile_user_id=mobile_user_id, view="customerOverview", now=now
    )
    async with db.session() as session:
        accounts = (
            await session.exec(
                select(Account)
                .where(col(Account.mobile_user_id) == mobile_user_id)
                .order_by(col(Account.account_number))
            )
        ).all()
        rows = await rows_for_user(session, mobile_user_id)
        views = []
        for account in accounts:
            prefs, updated_at = effective_preferences(
                account.account_number, rows, thresholds_for(settings, account)
            )
            views.append(AccountView(account, prefs, updated_at))
        opted_out = bool(user.phone and await sms_consent.opted_out_numbers(session, [user.phone]))
        devices = (
            await session.exec(
                select(Device).where(
                    col(Device.mobile_user_id) == mobile_user_id,
                    col(Device.push_token_active).is_(True),
                )
            )
        ).all()
        events = (
            await session.exec(
                select(IngestedEvent)
                .where(col(IngestedEvent.mobile_user_id) == mobile_user_id)
                .order_by(col(IngestedEvent.received_at).desc())
                .limit(RECENT)
            )
        ).all()
        suspicious, _ = await page_of_suspicions(
            session, SuspicionFilter(mobile_user_id=mobile_user_id), limit=RECENT, offset=0
        )
        cases, _ = await page_of_cases(
            session, CaseFilter(mobile_user_id=mobile_user_id), now=now, limit=RECENT, offset=0
        )
    return Overview(
        user=user,
        accounts=views,
        sms_opted_out=opted_out,
        push_devices=len(devices),
        recent_events=list(events),
        suspicious=[entry for entry, _ in suspicious],
        cases=[case for case, _ in cases],
    )
