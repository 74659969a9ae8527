"""The bank's own services report what happened; this is where alerts are triggered."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import strawberry
from sqlmodel import col, select

from account_alerts.api.context import Info
from account_alerts.api.permissions import IsService
from account_alerts.api.types.alerts import AccountAlertView
from account_alerts.api.types.fraud import FraudDecisionView
from account_alerts.api.types.service import (
    AccountInput,
    BalanceSyncInput,
    EventError,
    EventResult,
    LoginEventInput,
    ScheduledPaymentInput,
    TransactionEventInput,
    UserStatus,
)
from account_alerts.domain.events import Event
from account_alerts.engine.accounts import AccountFacts, upsert_account
from account_alerts.engine.payments import upsert_payment
from account_alerts.engine.unit_facts import EventOutcome
from account_alerts.errors import ApiError, BadUserInput, NotFound
from account_alerts.store.alerts import AccountAlert
from account_alerts.store.customers import MobileUser

MAX_BATCH = 500


async def _results(info: Info, outcomes: Sequence[EventOutcome]) -> list[EventResult]:
    # Alerts this call wrote are at hand; a repeated event's are read back.
    rows: dict[int, AccountAlert] = {
        alert.id: alert for outcome in outcomes for alert in outcome.alerts if alert.id is not None
    }
    wanted = [i for outcome in outcomes for i in outcome.alert_ids if i not in rows]
    if wanted:
        async with info.context.db.session() as session:
            found = await session.exec(select(AccountAlert).where(col(AccountAlert.id).in_(wanted)))
            rows.update({row.id: row for row in found.all() if row.id is not None})
    # One call for the whole batch's alerts (their deliveries in one load), then each
    # event's own, in order.
    parts = [[rows[i] for i in outcome.alert_ids if i in rows] for outcome in outcomes]
    every = await AccountAlertView.many(info, [row for part in parts for row in part])
    views = []
    start = 0
    for part in parts:
        views.append(every[start : start + len(part)])
        start += len(part)
    results = []
    for index, outcome in enumerate(outcomes):
        error = outcome.error
        results.append(
            EventResult(
                event_id=outcome.event_id,
                accepted=outcome.accepted,
                duplicate=outcome.duplicate,
                alerts=views[index],
                user_locked=outcome.user_locked,
                decision=FraudDecisionView.build(outcome.decision)
                if outcome.decision is not None
                else None,
                error=EventError(
                    code=error.extensions["code"],
                    message=error.message,
                    field=error.extensions.get("field"),
                )
                if error is not None
                else None,
            )
        )
    return results


async def _one(info: Info, make: Callable[[], Event]) -> EventResult:
    outcome = await info.context.services.ingestor.ingest(make(), info.context.actor())
    return (await _results(info, [outcome]))[0]


async def _batch(info: Info, inputs: Sequence[Any]) -> list[EventResult]:
    if len(inputs) > MAX_BATCH:
        raise BadUserInput(f"send at most {MAX_BATCH} events per call", field="inputs")
    events: list[Event] = []
    refused: dict[int, EventOutcome] = {}
    for index, item in enumerate(inputs):
        try:
            events.append(item.to_domain())
        except ApiError as error:
            refused[index] = EventOutcome(item.event_id, accepted=False, error=error)
    outcomes = iter(await info.context.services.ingestor.ingest_many(events, info.context.actor()))
    ordered = [refused[i] if i in refused else next(outcomes) for i in range(len(inputs))]
    return await _results(info, ordered)


async def _payments(info: Info, inputs: Sequence[ScheduledPaymentInput]) -> list[EventResult]:
    """Each payment in a savepoint of its own: a bad one stores nothing, the rest go on."""
    results: list[EventResult] = []
    now = info.context.now()
    async with info.context.db.transaction() as session:
        for item in inputs:
            try:
                async with session.begin_nested():
                    changed = await upsert_payment(
                        session, item.to_domain(), actor=info.context.actor(), now=now
                    )
                results.append(
                    EventResult(
                        event_id=item.payment_id, accepted=True, duplicate=not changed, alerts=[]
                    )
                )
            except ApiError as error:
                results.append(
                    EventResult(
                        event_id=item.payment_id,
                        accepted=False,
                        duplicate=False,
                        alerts=[],
                        error=EventError(
                            code=error.extensions["code"],
                            message=error.message,
                            field=error.extensions.get("field"),
                        ),
                    )
                )
    return results


def _as_error(error: EventError) -> ApiError:
    kind = NotFound if error.code == "NOT_FOUND" else BadUserInput
    return kind(error.message, field=error.field)


@strawberry.type
class ServiceQuery:
    @strawberry.field(
        permission_classes=[IsService],
        description="Whether a customer's access is locked, e.g. after they reported fraud.",
    )
    async def user_status(self, info: Info, mobile_user_id: int) -> UserStatus:
        async with info.context.db.session() as session:
            user = await session.get(MobileUser, mobile_user_id)
        if user is None:
            raise NotFound(f"mobile user {mobile_user_id} is not known", field="mobileUserId")
        return UserStatus(
            mobile_user_id=user.id,
            locked=user.locked,
            locked_at=user.locked_at,
            locked_reason=user.locked_reason,
        )


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
            actor=info.context.actor(),
            facts=AccountFacts(
                account_number=input.account_number.strip(),
                mobile_user_id=input.mobile_user_id,
                currency=input.currency.strip(),
                time_zone=input.time_zone,
            ),
            now=info.context.now(),
        )
        return EventResult(accepted=True, duplicate=not changed, alerts=[])

    @strawberry.mutation(
        permission_classes=[IsService],
        description="Create or update a scheduled payment; PAID or CANCELLED withdraws it.",
    )
    async def upsert_scheduled_payment(
        self,
        info: Info,
        input: ScheduledPaymentInput,
    ) -> EventResult:
        [result] = await _payments(info, [input])
        if result.error is not None:
            raise _as_error(result.error)
        return result

    @strawberry.mutation(permission_classes=[IsService], description="At most 500 per call.")
    async def upsert_scheduled_payments(
        self, info: Info, inputs: list[ScheduledPaymentInput]
    ) -> list[EventResult]:
        if len(inputs) > MAX_BATCH:
            raise BadUserInput(f"send at most {MAX_BATCH} payments per call", field="inputs")
        return await _payments(info, inputs)

    @strawberry.mutation(permission_classes=[IsService])
    async def record_transaction(
        self,
        info: Info,
        input: TransactionEventInput,
    ) -> EventResult:
        return await _one(info, input.to_domain)

    @strawberry.mutation(permission_classes=[IsService], description="At most 500 per call.")
    async def record_transactions(
        self, info: Info, inputs: list[TransactionEventInput]
    ) -> list[EventResult]:
        return await _batch(info, inputs)

    @strawberry.mutation(permission_classes=[IsService])
    async def sync_balance(self, info: Info, input: BalanceSyncInput) -> EventResult:
        return await _one(info, input.to_domain)

    @strawberry.mutation(permission_classes=[IsService], description="At most 500 per call.")
    async def sync_balances(self, info: Info, inputs: list[BalanceSyncInput]) -> list[EventResult]:
        return await _batch(info, inputs)

    @strawberry.mutation(permission_classes=[IsService])
    async def record_login(self, info: Info, input: LoginEventInput) -> EventResult:
        return await _one(info, input.to_domain)

    @strawberry.mutation(permission_classes=[IsService], description="At most 500 per call.")
    async def record_logins(self, info: Info, inputs: list[LoginEventInput]) -> list[EventResult]:
        return await _batch(info, inputs)
