"""A customer changes their alert preferences."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from account_alerts.config import Settings
from account_alerts.domain.alert_settings import (
    PER_USER_FIELDS,
    PREFERENCE_FIELDS,
    AlertPreferences,
    SettingsError,
    ThresholdDefaults,
    apply_change,
    camel_case,
)
from account_alerts.engine.actor import Actor
from account_alerts.errors import BadUserInput, NotFound
from account_alerts.store import audit_trail
from account_alerts.store.accounts import owned_account
from account_alerts.store.customers import Account
from account_alerts.store.database import Database
from account_alerts.store.preferences import (
    effective_preferences,
    new_row,
    rows_for_user,
    write_row,
)


def thresholds_for(settings: Settings, account: Account) -> ThresholdDefaults:
    defaults = settings.thresholds_for(account.currency)
    if defaults is None:
        # upsertAccount refuses such currencies; an account that predates a config change
        # still reads, with the default currency's figures.
        defaults = settings.thresholds_for(settings.default_currency)
        assert defaults is not None
    return defaults


async def read_preferences(
    db: Database, settings: Settings, *, mobile_user_id: int, account_number: str
) -> tuple[AlertPreferences, datetime | None]:
    async with db.session() as session:
        account = await owned_account(
            session, account_number=account_number, mobile_user_id=mobile_user_id
        )
        if account is None:
            raise NotFound(f"no account {account_number} among your accounts")
        rows = await rows_for_user(session, mobile_user_id)
        return effective_preferences(account_number, rows, thresholds_for(settings, account))


async def update_preferences(
    db: Database,
    settings: Settings,
    *,
    actor: Actor,
    mobile_user_id: int,
    account_number: str,
    change: dict[str, Any],
    now: datetime,
) -> tuple[AlertPreferences, datetime]:
    async with db.transaction() as session:
        account = await owned_account(
            session, account_number=account_number, mobile_user_id=mobile_user_id
        )
        if account is None:
            raise NotFound(f"no account {account_number} among your accounts")
        # Locking the user's rows serialises concurrent changes to the shared fields.
        rows = await rows_for_user(session, mobile_user_id, for_update=True)
        current, _ = effective_preferences(account_number, rows, thresholds_for(settings, account))
        try:
            updated = apply_change(current, change)
        except SettingsError as exc:
            raise BadUserInput(str(exc), field=camel_case(exc.field)) from exc

        own = next((row for row in rows if row.account_number == account_number), None)
        if own is None:
            own = new_row(
                mobile_user_id=mobile_user_id, account_number=account_number, prefs=updated, now=now
            )
            session.add(own)
        else:
            write_row(own, updated, fields=PREFERENCE_FIELDS)
            own.updated_at = now
            session.add(own)

        changed_user_fields = [
            name for name in PER_USER_FIELDS if getattr(current, name) != getattr(updated, name)
        ]
        if changed_user_fields:
            for row in rows:
                if row is not own:
                    write_row(row, updated, fields=changed_user_fields)
                    row.updated_at = now
                    session.add(row)

        before, after = current.to_json(), updated.to_json()
        audit_trail.record(
            session,
            actor_role=actor.role.value,
            actor_id=actor.id,
            action="settings.updated",
            occurred_at=now,
            mobile_user_id=mobile_user_id,
            subject_type="account",
            subject_id=account_number,
            before={k: v for k, v in before.items() if after[k] != v},
            after={k: v for k, v in after.items() if before[k] != v},
            details={
                "requested": sorted(camel_case(name) for name in change),
                "appliesToAllAccounts": sorted(camel_case(name) for name in changed_user_fields),
            },
        )
        return updated, now
