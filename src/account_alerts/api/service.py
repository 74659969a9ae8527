"""The bank's own services report what happened; this is where alerts are triggered."""

from __future__ import annotations

import strawberry

from account_alerts.api.context import Info
from account_alerts.api.permissions import IsService
from account_alerts.api.types.service import AccountInput, EventResult
from account_alerts.engine.accounts import AccountFacts, upsert_account
from account_alerts.engine.actor import Actor


def _actor(info: Info) -> Actor:
    assert info.context.caller is not None
    return Actor(role=info.context.caller.role, id=info.context.caller.subject)


@strawberry.type
class ServiceMutation:
    @strawberry.mutation(
        permission_classes=[IsService],
        description="Create or update an account: its owner, currency and time zone.",
    )
    async def upsert_account(self, info: Info, input: AccountInput) -> EventResult:
        changed = await upsert_account(
            info.context.db,
            info.context.settings,
            actor=_actor(info),
            facts=AccountFacts(
                account_number=input.account_number.strip(),
                mobile_user_id=input.mobile_user_id,
                currency=input.currency.strip(),
                time_zone=input.time_zone,
            ),
            now=info.context.now(),
        )
        return EventResult(accepted=True, duplicate=not changed, alerts=[])
