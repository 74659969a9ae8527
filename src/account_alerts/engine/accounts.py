"""Core banking tells us which mobile user owns an account, its currency and time zone."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlmodel import select

from account_alerts.config import Settings
from account_alerts.engine.actor import Actor
from account_alerts.errors import BadUserInput
from account_alerts.store import audit_trail
from account_alerts.store.customers import Account, MobileUser
from account_alerts.store.database import Database

ACCOUNT_NUMBER = re.compile(r"^[A-Za-z0-9]{4,20}$")
CURRENCY = re.compile(r"^[A-Z]{3}$")


@dataclass(frozen=True)
class AccountFacts:
    account_number: str
    mobile_user_id: int
    currency: str
    time_zone: str | None = None


def validate_account(facts: AccountFacts, settings: Settings) -> None:
    if not ACCOUNT_NUMBER.match(facts.account_number):
        raise BadUserInput("accountNumber must be 4 to 20 letters or digits", field="accountNumber")
    if facts.mobile_user_id <= 0:
        raise BadUserInput("mobileUserId must be a positive number", field="mobileUserId")
    if not CURRENCY.match(facts.currency):
        raise BadUserInput("currency must be an ISO 4217 code such as MWK", field="currency")
    if settings.thresholds_for(facts.currency) is None:
        raise BadUserInput(
            f"no default alert thresholds are configured for {facts.currency}; "
            "add them to ALERTS_DEFAULT_THRESHOLDS",
            field="currency",
        )
    if facts.time_zone is not None:
        try:
            ZoneInfo(facts.time_zone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise BadUserInput(
                f"{facts.time_zone!r} is not an IANA time zone such as Africa/Blantyre",
                field="timeZone",
            ) from exc


async def upsert_account(
    db: Database, settings: Settings, *, actor: Actor, facts: AccountFacts, now: datetime
) -> bool:
    """Create or update the account; True when anything changed."""
    validate_account(facts, settings)
    async with db.transaction() as session:
        user = await session.get(MobileUser, facts.mobile_user_id)
        if user is None:
            session.add(MobileUser(id=facts.mobile_user_id, created_at=now, updated_at=now))
            # The account's foreign key needs the user row first.
            await session.flush()
        account = (
            await session.exec(
                select(Account)
                .where(Account.account_number == facts.account_number)
                .with_for_update(key_share=True)
            )
        ).first()
        if account is None:
            account = Account(
                account_number=facts.account_number,
                mobile_user_id=facts.mobile_user_id,
                currency=facts.currency,
                time_zone=facts.time_zone,
                created_at=now,
                updated_at=now,
            )
            before = None
        else:
            if account.mobile_user_id != facts.mobile_user_id:
                raise BadUserInput(
                    f"account {facts.account_number} belongs to another mobile user; "
                    "moving an account between users is not supported",
                    field="mobileUserId",
                )
            if account.currency != facts.currency:
                raise BadUserInput(
                    f"account {facts.account_number} is held in {account.currency}; "
                    "its currency cannot change",
                    field="currency",
                )
            if account.time_zone == facts.time_zone:
                return False
            before = {"timeZone": account.time_zone}
            account.time_zone = facts.time_zone
            account.updated_at = now
        session.add(account)
        audit_trail.record(
            session,
            actor_role=actor.role.value,
            actor_id=actor.id,
            action="account.created" if before is None else "account.updated",
            occurred_at=now,
            mobile_user_id=facts.mobile_user_id,
            subject_type="account",
            subject_id=facts.account_number,
            before=before,
            after={"currency": facts.currency, "timeZone": facts.time_zone},
        )
    return True
