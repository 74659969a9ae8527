"""Events from the bank's services in, alerts out.

A batch (or a group of single events: engine.group_commit) is one unit of work
(store.event_unit): its customers are locked (their events are judged one at a time, so
two concurrent events cannot both take "the one low-balance alert of the day") and what
the rules need to know of them is loaded once (engine.unit_facts); then each event is
checked, its eventId claimed, judged (engine.judging) and its rows, alerts, outbox rows,
suspicious-activity entries and audit rows written, all committed together. A refused
event stores nothing and stops none of the others. Nothing is announced to live
subscribers until the transaction has committed."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from account_alerts.config import Settings
from account_alerts.domain.activity_profile import ActivityProfile
from account_alerts.domain.events import (
    BalanceSync,
    Event,
    EventError,
    LoginEvent,
    TransactionEvent,
    check_balance_sync,
    check_login,
    check_transaction,
    fingerprint,
)
from account_alerts.domain.fraud_decision import ALLOW, Outcome, RuleSet
from account_alerts.engine import fraud_live
from account_alerts.engine.actor import Actor
from account_alerts.engine.anomaly_scoring import AnomalyScorer
from account_alerts.engine.group_commit import GroupCommit, GroupLimits, answer_previous
from account_alerts.engine.judging import Judging
from account_alerts.engine.profile_cache import ProfileCache
from account_alerts.engine.unit_facts import EventOutcome, Recorded, UnitFacts
from account_alerts.engine.unit_metrics import UnitTimer
from account_alerts.errors import ApiError, BadUserInput
from account_alerts.store import event_log, event_rows
from account_alerts.store.database import Database
from account_alerts.store.event_unit import Conflict, EventUnit, event_unit


class Ingestor:
    def __init__(
        self,
        *,
        db: Database,
        settings: Settings,
        clock: Callable[[], datetime],
    ) -> None:
        self.db = db
        self.settings = settings
        self.clock = clock
        # Each event's rows are stamped a microsecond after the one before in this process
        # at least, so created_at orders a customer's transactions and sign-ins by arrival
        # (replays and backtests read them in that order).
        self._last_arrival: datetime | None = None
        # The profiles this process wrote last, by their stored text (engine.profile_cache).
        self.profiles = (
            ProfileCache(settings.activity_profile_cache_size)
            if settings.activity_profile_cache_size > 0
            else None
        )
        # The anomaly models in place, scoring transactions (engine.anomaly_scoring).
        self.anomaly = AnomalyScorer(db)
        self.rule_sets = fraud_live.RuleSets(
            db, refresh_seconds=settings.fraud_rules_refresh_seconds, clock=clock
        )
        # Single events of one caller share transactions under load (engine.group_commit).
        self.group_commit: GroupCommit[Actor, Event, EventOutcome] = GroupCommit(
            self._write_group,
            GroupLimits(
                max_group=settings.event_group_max,
                writers=settings.event_group_writers,
                wait_ms=settings.event_group_wait_ms,
            ),
        )
        # So do batches of one caller's that arrive together.
        self.batches: GroupCommit[Actor, Sequence[Event], list[EventOutcome]] = GroupCommit(
            self._write_batches,
            GroupLimits(
                max_group=settings.event_batch_group_max,
                writers=settings.event_batch_group_writers,
                wait_ms=0,
                answer_with_next=True,
            ),
        )

    async def ingest(self, event: Event, actor: Actor) -> EventOutcome:
        """One event; a refused event raises its ApiError and stores nothing. Judged and
        written exactly as in a batch, perhaps in one transaction with other single events
        of the same caller's that arrived together (engine.group_commit)."""
        fingerprint(event)  # now, not in the unit of work (domain.events.fingerprint)
        outcome = await self.group_commit.submit(actor, event)
        if outcome.error is not None:
            raise outcome.error
        return outcome

    async def _write_group(
        self, actor: Actor, events: Sequence[Event]
    ) -> list[EventOutcome | Exception]:
        """Single events written together: written optimistically, each its own part."""
        written = await self._together(actor, [[event] for event in events], optimistic=True)
        return [part if isinstance(part, Exception) else part[0] for part in written]

    async def ingest_many(self, events: Sequence[Event], actor: Actor) -> list[EventOutcome]:
        """A batch in one transaction. Every check that can refuse an event runs before it
        writes anything, so a refused event stores nothing and the others go on; the facts
        the rules need are loaded once for the whole batch. Customers are locked in id order
        up front, so concurrent batches cannot deadlock. Perhaps in one transaction with
        other batches of the same caller's that arrived together (engine.group_commit),
        judged as if they had come one after the other, in arrival order."""
        # Worked out now, while other units are in the database, rather than in this
        # batch's unit: units follow one another (domain.events.fingerprint).
        for event in events:
            fingerprint(event)
        return await self.batches.submit(actor, events)

    async def _write_batches(
        self, actor: Actor, batches: Sequence[Sequence[Event]]
    ) -> list[list[EventOutcome] | Exception]:
        return await self._together(actor, batches, optimistic=False)

    async def _together(
        self, actor: Actor, parts: Sequence[Sequence[Event]], *, optimistic: bool
    ) -> list[list[EventOutcome] | Exception]:
        """The parts (single events, batches) in one transaction, in order; if that fails
        as a whole (a concurrent writer's conflict, an unexpected error), each part again
        on its own, so that one part's trouble is not its neighbours'. Each part's
        outcomes, or the exception it alone raised."""
        if len(parts) > 1:
            try:
                events = [event for part in parts for event in part]
                outcomes = await self._attempt(events, actor, optimistic=optimistic)
            except Exception:
                outcomes = None
            if outcomes is not None:
                split: list[list[EventOutcome] | Exception] = []
                start = 0
                for part in parts:
                    split.append(outcomes[start : start + len(part)])
                    start += len(part)
                return split
        results: list[list[EventOutcome] | Exception] = []
        for part in parts:
            try:
                results.append(await self._one_batch(part, actor))
            except Exception as exc:
                results.append(exc)
        return results

    async def _one_batch(self, events: Sequence[Event], actor: Actor) -> list[EventOutcome]:
        outcomes = await self._attempt(events, actor)
        if outcomes is None:
            # Another request stored the same eventId or transaction at the same moment;
            # nothing of this call was kept, and sending it again gives the right answer.
            conflict = BadUserInput(
                "a concurrent request recorded one of these events; send them again",
                field="eventId",
            )
            return [EventOutcome(e.event_id, accepted=False, error=conflict) for e in events]
        return outcomes

    async def _attempt(
        self, events: Sequence[Event], actor: Actor, *, optimistic: bool | None = None
    ) -> list[EventOutcome] | None:
        """The events written, or None when a concurrent request's unique keys refused
        them (nothing of them was kept).

        Single events (alone or grouped) are written optimistically: they are almost
        always new, so rather than look up their eventIds and transaction ids first, the
        unique keys on them refuse a repeat, and the events are then judged again the
        careful way (which finds the first one and answers as it did). A batch a service
        sent is more often a repeat, and is looked up first."""
        now = self.clock()
        if optimistic is None:
            optimistic = len(events) == 1
        with contextlib.suppress(Conflict):
            return await self._ingest_all(events, actor, now, optimistic=optimistic)
        if not optimistic:
            return None
        with contextlib.suppress(Conflict):
            return await self._ingest_all(events, actor, now, optimistic=False)
        return None

    async def _ingest_all(
        self, events: Sequence[Event], actor: Actor, now: datetime, *, optimistic: bool
    ) -> list[EventOutcome]:
        outcomes: list[EventOutcome] = []
        rules = await self.rule_sets.current()
        await self.anomaly.refresh_if_due(now)
        stored: list[tuple[int, str, ActivityProfile]] = []
        timer = UnitTimer()
        async with event_unit(self.db) as unit:
            batch = await UnitFacts.load(
                unit,
                events,
                rules,
                self.anomaly,
                look_up_repeats=not optimistic,
                cache=self.profiles,
            )
            timer.mark()
            for index, event in enumerate(events):
                if unit.alerts is not None:
                    unit.alerts.events_left = len(events) - index - 1
                try:
                    outcomes.append(await self._ingest(unit, batch, event, actor, now, rules))
                except ApiError as error:
                    outcomes.append(EventOutcome(event.event_id, accepted=False, error=error))
            for user_id, profile in batch.profiles.items():
                text = event_rows.activity_profile(unit.buffer, user_id, profile)
                if text is not None:
                    stored.append((user_id, text, profile))
            # Batches written before may be answered while this unit's write is in the
            # database (engine.group_commit).
            answer_previous()
            timer.mark()
        timer.committed(len(events))
        if self.profiles is not None:
            self.profiles.keep(batch.written(stored))  # committed
        return outcomes

    def _arrival(self, now: datetime) -> datetime:
        last = self._last_arrival
        self._last_arrival = now if last is None or now > last else last + _TICK
        return self._last_arrival

    async def _ingest(
        self,
        unit: EventUnit,
        batch: UnitFacts,
        event: Event,
        actor: Actor,
        now: datetime,
        rules: RuleSet,
    ) -> EventOutcome:
        account = batch.account_of(event)
        try:
            if isinstance(event, TransactionEvent):
                check_transaction(event, account_currency=account.currency, now=now)
            elif isinstance(event, BalanceSync):
                check_balance_sync(event, account_currency=account.currency, now=now)
            else:
                check_login(event, now=now)
        except EventError as exc:
            raise BadUserInput(str(exc), field=exc.field) from exc
        digest = fingerprint(event)
        # The customer is locked, so no other transaction can be recording this event now.
        seen = batch.recorded.get(event.event_id)
        if seen is not None:
            return seen.repeat(event, digest)
        if isinstance(event, TransactionEvent):
            key = (event.account_number, event.transaction_id)
            if key in batch.transactions:
                raise BadUserInput(
                    f"transaction {event.transaction_id} on this account was already recorded "
                    "under another eventId",
                    field="transactionId",
                )
            batch.transactions.add(key)

        user = await batch.user_of(unit.session, event, now)
        context = Judging(
            unit=unit,
            settings=self.settings,
            user=user,
            account=account if not isinstance(event, LoginEvent) else None,
            rows=batch.rows.get(user.id, []),
            profile=await batch.profile_of(unit, user.id),
            actor=actor,
            now=now,
            event_id=event.event_id,
            arrival=self._arrival(now),
            preferences=batch.preferences,
        )
        decision = None
        if isinstance(event, BalanceSync):
            verdict = await context.judge_balance(event)
        else:
            # The risk team's rules see the customer as they were before this event.
            decision = await context.decide(rules, event, batch.crowds, self.anomaly)
            if isinstance(event, TransactionEvent):
                verdict = await context.judge_transaction(event)
            else:
                verdict = await context.judge_login(event)
            if decision is not None:
                await context.act_on(decision, event, verdict)
        alerts = await context.write(verdict)
        if decision is not None and decision.outcome is not Outcome.ALLOW:
            assert not isinstance(event, BalanceSync)
            await context.open_case(decision, event, alerts)
        alert_ids = [alert.id for alert in alerts if alert.id is not None]
        outcome = verdict.outcome()
        if decision is not None:
            outcome["decision"] = decision.to_json()
        event_log.record(
            unit.buffer,
            event_id=event.event_id,
            kind=type(event).__name__,
            fingerprint=digest,
            mobile_user_id=user.id,
            alert_ids=alert_ids,
            outcome=outcome,
            now=now,
        )
        if decision is None and not isinstance(event, BalanceSync):
            decision = ALLOW
        batch.recorded[event.event_id] = Recorded(digest, alert_ids, user, decision)
        return EventOutcome(
            event.event_id,
            accepted=True,
            alert_ids=alert_ids,
            alerts=alerts,
            mobile_user_id=user.id,
            user_locked=user.locked,
            decision=decision,
        )


_TICK = timedelta(microseconds=1)
