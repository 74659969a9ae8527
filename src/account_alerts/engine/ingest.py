"""Events from the bank's services in, alerts out — one database transaction per event.

For each event: find the customer and lock them (their events are judged one at a time,
so two concurrent events cannot both take "the one low-balance alert of the day"), check
the event, claim its eventId, gather the facts the rules need, let the rules decide, then
write the event, the alerts, their outbox rows, suspicious-activity entries and audit rows
together. Nothing is published to live subscribers until the transaction has committed."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from account_alerts.config import Settings
from account_alerts.domain.activity_profile import ActivityProfile
from account_alerts.domain.alert_settings import AlertPreferences
from account_alerts.domain.decisions import (
    Detection,
    RaiseAlert,
    SkippedCheck,
    Suppressed,
    Verdict,
)
from account_alerts.domain.delivery_policy import RATE_WINDOW, over_rate_limit, quiet_hours_end
from account_alerts.domain.enums import AlertType, SuspicionReason, TransactionType
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
from account_alerts.domain.geo import GeoPoint
from account_alerts.domain.rules.account_login import login_alert
from account_alerts.domain.rules.large_transaction import large_transaction
from account_alerts.domain.rules.low_balance import ONCE_PER, is_low, low_balance
from account_alerts.domain.rules.suspicious_activity import (
    FAILED_ATTEMPT_WINDOW,
    USUAL_LOCATION_WINDOW,
    collect,
    multiple_failed_attempts,
    new_device_transaction,
    suspicious_alert,
    unusual_location,
)
from account_alerts.engine.actor import Actor
from account_alerts.engine.group_commit import GroupCommit, GroupLimits
from account_alerts.engine.preferences import thresholds_for
from account_alerts.errors import ApiError, BadUserInput, NotFound
from account_alerts.store import activity_profiles, event_log, facts
from account_alerts.store.alert_writer import DeliveryPlan, record_suppression, write_alert
from account_alerts.store.alerts import AccountAlert, AccountAlertSettingsRow
from account_alerts.store.base import table_of
from account_alerts.store.customers import Account, Device, MobileUser
from account_alerts.store.database import Database
from account_alerts.store.direct import INTEGRITY_ERRORS, Direct, Entities
from account_alerts.store.events import (
    BalanceSnapshot,
    LoginAttempt,
    TransactionRecord,
)
from account_alerts.store.preferences import effective_preferences
from account_alerts.store.row_buffer import RowBuffer

ACCOUNTS = table_of(Account)
DEVICES = table_of(Device)
TRANSACTIONS = table_of(TransactionRecord)
SNAPSHOTS = table_of(BalanceSnapshot)
LOGINS = table_of(LoginAttempt)

# Held until quiet hours end; security alerts never are.
QUIET_HOURS_APPLY = frozenset({AlertType.LOW_BALANCE, AlertType.PAYMENT_DUE})


@dataclass
class EventOutcome:
    event_id: str
    accepted: bool
    duplicate: bool = False
    alert_ids: list[int] = field(default_factory=list)
    # The alerts this call wrote, as written (a repeat has only their ids).
    alerts: list[AccountAlert] = field(default_factory=list)
    mobile_user_id: int | None = None
    user_locked: bool = False
    error: ApiError | None = None


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
        # Single events of one caller share transactions under load (engine.group_commit).
        self.group_commit: GroupCommit[Actor, Event, EventOutcome] = GroupCommit(
            self._write_group,
            GroupLimits(
                max_group=settings.event_group_max,
                writers=settings.event_group_writers,
                wait_ms=settings.event_group_wait_ms,
            ),
        )

    async def ingest(self, event: Event, actor: Actor) -> EventOutcome:
        """One event; a refused event raises its ApiError and stores nothing. Judged and
        written exactly as in a batch, perhaps in one transaction with other single events
        of the same caller's that arrived together (engine.group_commit)."""
        outcome = await self.group_commit.submit(actor, event)
        if outcome.error is not None:
            raise outcome.error
        return outcome

    async def _write_group(
        self, actor: Actor, events: Sequence[Event]
    ) -> list[EventOutcome | Exception]:
        """The events in one transaction; if that fails as a whole (a concurrent writer's
        conflict, an unexpected error), each again on its own, so that one event's
        trouble is not its neighbours'."""
        if len(events) > 1:
            try:
                outcomes = await self._attempt(events, actor, optimistic=True)
            except Exception:
                outcomes = None
            if outcomes is not None:
                return list(outcomes)
        results: list[EventOutcome | Exception] = []
        for event in events:
            try:
                results.append((await self.ingest_many([event], actor))[0])
            except Exception as exc:
                results.append(exc)
        return results

    async def ingest_many(self, events: Sequence[Event], actor: Actor) -> list[EventOutcome]:
        """A batch in one transaction. Every check that can refuse an event runs before it
        writes anything, so a refused event stores nothing and the others go on; the facts
        the rules need are loaded once for the whole batch. Customers are locked in id order
        up front, so concurrent batches cannot deadlock."""
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
        outcomes: list[EventOutcome] | None = None
        with contextlib.suppress(*INTEGRITY_ERRORS):
            outcomes = await self._ingest_all(events, actor, now, optimistic=optimistic)
        if outcomes is None and optimistic:
            with contextlib.suppress(*INTEGRITY_ERRORS):
                outcomes = await self._ingest_all(events, actor, now, optimistic=False)
        return outcomes

    async def _ingest_all(
        self, events: Sequence[Event], actor: Actor, now: datetime, *, optimistic: bool
    ) -> list[EventOutcome]:
        outcomes: list[EventOutcome] = []
        async with self.db.event_transaction() as (session, direct):
            batch = await _Batch.load(session, direct, events, look_up_repeats=not optimistic)
            for event in events:
                try:
                    outcomes.append(await self._ingest(session, batch, event, actor, now))
                except ApiError as error:
                    outcomes.append(EventOutcome(event.event_id, accepted=False, error=error))
            batch.keep_profiles()
            await batch.buffer.flush(session)
        return outcomes

    async def _ingest(
        self, session: AsyncSession, batch: _Batch, event: Event, actor: Actor, now: datetime
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
            return seen.repeat(event.event_id, digest)
        if isinstance(event, TransactionEvent):
            key = (event.account_number, event.transaction_id)
            if key in batch.transactions:
                raise BadUserInput(
                    f"transaction {event.transaction_id} on this account was already recorded "
                    "under another eventId",
                    field="transactionId",
                )
            batch.transactions.add(key)

        user = await batch.user_of(session, event, now)
        context = _Judging(
            session=session,
            settings=self.settings,
            user=user,
            account=account if not isinstance(event, LoginEvent) else None,
            rows=batch.rows.get(user.id, []),
            profile=await batch.profile_of(session, user.id),
            actor=actor,
            now=now,
            event_id=event.event_id,
            buffer=batch.buffer,
        )
        if isinstance(event, TransactionEvent):
            verdict = await context.judge_transaction(event)
        elif isinstance(event, BalanceSync):
            verdict = await context.judge_balance(event)
        else:
            verdict = await context.judge_login(event)
        alerts = await context.write(verdict)
        alert_ids = [alert.id for alert in alerts if alert.id is not None]
        event_log.record(
            batch.buffer,
            event_id=event.event_id,
            kind=type(event).__name__,
            fingerprint=digest,
            mobile_user_id=user.id,
            alert_ids=alert_ids,
            outcome=verdict.outcome(),
            now=now,
        )
        batch.recorded[event.event_id] = _Recorded(digest, alert_ids, user)
        return EventOutcome(
            event.event_id,
            accepted=True,
            alert_ids=alert_ids,
            alerts=alerts,
            mobile_user_id=user.id,
            user_locked=user.locked,
        )


@dataclass
class _Recorded:
    """An event already stored (before or earlier in this batch): what it said and did."""

    fingerprint: str
    alert_ids: list[int]
    user: MobileUser | None

    def repeat(self, event_id: str, digest: str) -> EventOutcome:
        if self.fingerprint != digest:
            raise BadUserInput(
                f"eventId {event_id} was already used for a different event", field="eventId"
            )
        return EventOutcome(
            event_id,
            accepted=True,
            duplicate=True,
            alert_ids=list(self.alert_ids),
            mobile_user_id=self.user.id if self.user else None,
            user_locked=bool(self.user and self.user.locked),
        )


@dataclass
class _Batch:
    """What the rules need to know of a batch's customers, loaded in a few statements."""

    accounts: dict[str, Account]
    users: dict[int, MobileUser]
    recorded: dict[str, _Recorded]
    rows: dict[int, list[AccountAlertSettingsRow]]
    transactions: set[tuple[str, str]]
    buffer: RowBuffer = field(default_factory=RowBuffer)
    # The customers' activity profiles in use by this batch.
    profiles: dict[int, ActivityProfile] = field(default_factory=dict)

    @classmethod
    async def load(
        cls,
        session: AsyncSession,
        direct: Direct | None,
        events: Sequence[Event],
        *,
        look_up_repeats: bool = True,
    ) -> _Batch:
        """``look_up_repeats=False`` skips looking for eventIds and transactions stored
        before: the caller relies on their unique keys to refuse a repeat instead."""
        accounts, users, rows = await _lock_customers(session, direct, events)
        stored = (
            await event_log.find_many(session, (e.event_id for e in events))
            if look_up_repeats
            else []
        )
        recorded = {
            e.event_id: _Recorded(
                e.fingerprint, list(e.alert_ids), users.get(e.mobile_user_id or 0)
            )
            for e in stored
        }
        pairs = {
            (e.account_number, e.transaction_id) for e in events if isinstance(e, TransactionEvent)
        }
        transactions: set[tuple[str, str]] = set()
        if pairs and look_up_repeats:
            transactions = set(
                (
                    await session.exec(
                        select(
                            TransactionRecord.account_number, TransactionRecord.transaction_id
                        ).where(
                            sa.tuple_(
                                col(TransactionRecord.account_number),
                                col(TransactionRecord.transaction_id),
                            ).in_(sorted(pairs))
                        )
                    )
                ).all()
            )
        return cls(accounts, users, recorded, rows, transactions, RowBuffer(direct))

    def account_of(self, event: Event) -> Account:
        if isinstance(event, LoginEvent):
            if event.mobile_user_id <= 0:
                raise BadUserInput("mobileUserId must be a positive number", field="mobileUserId")
            return _NO_ACCOUNT
        account = self.accounts.get(event.account_number)
        if account is None:
            raise NotFound(
                f"account {event.account_number} is not known; send upsertAccount first",
                field="accountNumber",
            )
        return account

    async def profile_of(self, session: AsyncSession, user_id: int) -> ActivityProfile:
        profile = self.profiles.get(user_id)
        if profile is None:
            document = self.users[user_id].activity_profile
            if document is not None:
                profile = ActivityProfile.from_json(document)
            else:
                # A customer whose events predate profiles (or a new one): from the history.
                await self.buffer.flush(session)
                profile = await activity_profiles.from_history(session, user_id)
            self.profiles[user_id] = profile
        return profile

    def keep_profiles(self) -> None:
        """The profiles the batch's events changed, written with its other rows (on the
        customer's row: the lock's re-read of a row it waited for sees the newest one)."""
        for user_id, profile in self.profiles.items():
            self.buffer.update(USERS, user_id, {"activity_profile": profile.to_json()})

    async def user_of(self, session: AsyncSession, event: Event, now: datetime) -> MobileUser:
        if not isinstance(event, LoginEvent):
            return self.users[self.accounts[event.account_number].mobile_user_id]
        user = self.users.get(event.mobile_user_id)
        if user is None:
            # The auth service may report sign-ins of customers core banking has not sent yet.
            user = MobileUser(id=event.mobile_user_id, created_at=now, updated_at=now)
            session.add(user)
            await session.flush()
            self.users[user.id] = user
        return user


def _place(location: GeoPoint | None) -> dict[str, object]:
    """The location columns of a stored transaction or sign-in."""
    return {
        "latitude": location.latitude if location else None,
        "longitude": location.longitude if location else None,
        "location_label": location.label if location else None,
    }


# Sign-ins belong to a customer, not an account.
_NO_ACCOUNT = Account(account_number="", mobile_user_id=0, currency="")


@dataclass
class _Judging:
    """The facts of one customer while one event is judged and written."""

    session: AsyncSession
    settings: Settings
    user: MobileUser
    account: Account | None
    rows: Sequence[AccountAlertSettingsRow]
    profile: ActivityProfile
    actor: Actor
    now: datetime
    event_id: str
    buffer: RowBuffer

    async def _written(self) -> AsyncSession:
        """The session, with this batch's buffered rows in the database: for reading them."""
        await self.buffer.flush(self.session)
        return self.session

    def prefs(self) -> AlertPreferences:
        if self.account is None:
            defaults = self.settings.thresholds_for(self.settings.default_currency)
            assert defaults is not None
            account_number = ""
        else:
            defaults = thresholds_for(self.settings, self.account)
            account_number = self.account.account_number
        return effective_preferences(account_number, self.rows, defaults)[0]

    @property
    def user_id(self) -> int:
        return self.user.id

    async def judge_transaction(self, event: TransactionEvent) -> Verdict:
        assert self.account is not None
        prefs = self.prefs()
        verdict = large_transaction(event, prefs)
        if event.transaction_type is TransactionType.DEBIT:
            if event.balance_after is None:
                verdict.skipped.append(
                    SkippedCheck("LOW_BALANCE", "the debit carries no balanceAfter")
                )
            else:
                verdict.extend(
                    await self._low_balance(
                        event.balance_after, event.currency, event.occurred_at, prefs
                    )
                )
        seen = self.profile.device_first_seen()
        detections: list[Detection] = []
        collect(
            verdict,
            new_device_transaction(
                event.device_id,
                device_known=facts.first_seen_before(seen, event.device_id, event.occurred_at),
                has_device_history=facts.any_seen_before(seen, event.occurred_at),
                prefs=prefs,
            ),
            detections,
        )
        collect(
            verdict,
            await self._unusual_location(event.location, event.occurred_at, prefs),
            detections,
        )
        if detections:
            verdict.alerts.append(
                suspicious_alert(
                    detections,
                    account_number=event.account_number,
                    at=event.occurred_at,
                    prefs=prefs,
                    device_id=event.device_id,
                    ip_address=event.ip_address,
                    location=event.location,
                    related_transaction_ids=[event.transaction_id],
                    amount=event.amount,
                )
            )
        await self._record_transaction(event)
        await self._saw_device(event.device_id, event.occurred_at)
        if event.location is not None:
            self.profile.saw_place(event.location, event.occurred_at, login=False)
        self._update_balance(event.balance_after, event.occurred_at)
        return verdict

    async def judge_balance(self, event: BalanceSync) -> Verdict:
        prefs = self.prefs()
        verdict = await self._low_balance(event.balance, event.currency, event.as_of, prefs)
        assert self.account is not None
        self.buffer.add(
            SNAPSHOTS,
            {
                "event_id": event.event_id,
                "account_number": self.account.account_number,
                "balance": event.balance,
                "currency": event.currency,
                "as_of": event.as_of,
                "created_at": self.now,
            },
        )
        self._update_balance(event.balance, event.as_of)
        return verdict

    async def judge_login(self, event: LoginEvent) -> Verdict:
        prefs = self.prefs()
        verdict = Verdict()
        detections: list[Detection] = []
        if event.successful:
            seen = self.profile.device_first_seen()
            earlier_logins = (
                await self._usual_places(event.occurred_at, logins_only=True)
                if event.location is not None
                else []
            )
            verdict.extend(
                login_alert(
                    event,
                    prefs=prefs,
                    device_known=facts.first_seen_before(seen, event.device_id, event.occurred_at),
                    earlier_login_places=earlier_logins,
                )
            )
            collect(
                verdict,
                await self._unusual_location(event.location, event.occurred_at, prefs),
                detections,
            )
            await self._saw_device(event.device_id, event.occurred_at, event)
            if event.location is not None:
                self.profile.saw_place(event.location, event.occurred_at, login=True)
        else:
            at = event.occurred_at
            failures = self.profile.failed_logins.around(at, FAILED_ATTEMPT_WINDOW)
            if failures is None:
                failures = await facts.failed_login_times(
                    await self._written(), self.user_id, around=at, span=FAILED_ATTEMPT_WINDOW
                )
            earlier = self.profile.failed_login_detections.around(at, FAILED_ATTEMPT_WINDOW)
            if earlier is None:
                earlier = await facts.suspicion_times(
                    self.session,
                    self.user_id,
                    SuspicionReason.MULTIPLE_FAILED_ATTEMPTS,
                    around=at,
                    span=FAILED_ATTEMPT_WINDOW,
                )
            outcome = multiple_failed_attempts(at, [*failures, at], earlier)
            collect(verdict, outcome, detections)
            self.profile.failed_login(at)
            if isinstance(outcome, Detection):
                self.profile.failed_logins_detected(at)
        if detections:
            verdict.alerts.append(
                suspicious_alert(
                    detections,
                    account_number=None,
                    at=event.occurred_at,
                    prefs=prefs,
                    device_id=event.device_id,
                    ip_address=event.ip_address,
                    location=event.location,
                    related_transaction_ids=[],
                )
            )
        self.buffer.add(
            LOGINS,
            {
                "event_id": event.event_id,
                "mobile_user_id": self.user_id,
                "successful": event.successful,
                "device_id": event.device_id,
                "ip_address": event.ip_address,
                **_place(event.location),
                "login_method": event.login_method,
                "occurred_at": event.occurred_at,
                "created_at": self.now,
            },
        )
        return verdict

    async def _low_balance(
        self, balance: Decimal, currency: str, at: datetime, prefs: AlertPreferences
    ) -> Verdict:
        assert self.account is not None
        account_number = self.account.account_number
        earlier: list[datetime] = []
        if is_low(balance, prefs) and prefs.low_balance_enabled:
            kept = self.profile.low_balance_alerts_around(account_number, at, ONCE_PER)
            earlier = (
                kept
                if kept is not None
                else await facts.alert_times(
                    self.session, account_number, AlertType.LOW_BALANCE, around=at, span=ONCE_PER
                )
            )
        verdict = low_balance(
            account_number=account_number,
            balance=balance,
            currency=currency,
            at=at,
            prefs=prefs,
            earlier_alerts=earlier,
        )
        if verdict.alerts:
            self.profile.low_balance_alert(account_number, at)
        return verdict

    async def _unusual_location(
        self, location: GeoPoint | None, at: datetime, prefs: AlertPreferences
    ) -> Verdict | Detection:
        places = (
            await self._usual_places(at)
            if location is not None and prefs.alert_unusual_location
            else []
        )
        return unusual_location(location, places, prefs)

    async def _usual_places(self, at: datetime, *, logins_only: bool = False) -> list[GeoPoint]:
        places = self.profile.usual_places(at, USUAL_LOCATION_WINDOW, logins_only=logins_only)
        if places is None:  # older than what the profile keeps: the stored history tells
            places = await facts.usual_places(
                await self._written(),
                self.user_id,
                before=at,
                window=USUAL_LOCATION_WINDOW,
                logins_only=logins_only,
            )
        return places

    async def _record_transaction(self, event: TransactionEvent) -> None:
        assert self.account is not None
        self.buffer.add(
            TRANSACTIONS,
            {
                "event_id": event.event_id,
                "account_number": event.account_number,
                "mobile_user_id": self.user_id,
                "transaction_id": event.transaction_id,
                "transaction_reference": event.transaction_reference,
                "transaction_description": event.transaction_description,
                "transaction_type": event.transaction_type,
                "amount": event.amount,
                "currency": event.currency,
                "balance_after": event.balance_after,
                "device_id": event.device_id,
                "ip_address": event.ip_address,
                **_place(event.location),
                "occurred_at": event.occurred_at,
                "created_at": self.now,
            },
        )

    async def _saw_device(
        self, device_id: str | None, at: datetime, login: LoginEvent | None = None
    ) -> None:
        """The device's row follows the profile: an update with the other rows when the
        profile knows it, otherwise (rarely) through the session, which finds or makes it."""
        if device_id is None:
            return
        known = device_id in self.profile.devices
        seen = self.profile.saw_device(device_id, at)
        device = None if known else await self._device_row(device_id)
        if device is not None:  # perhaps registered for push before it was seen in an event
            seen.named(device.device_name, device.device_model, device.device_os)
        if login is not None:
            seen.named(login.device_name, login.device_model, login.device_os)
        values = {
            "first_seen_at": seen.first,
            "last_seen_at": seen.last,
            "device_name": seen.name,
            "device_model": seen.model,
            "device_os": seen.os,
            "updated_at": self.now,
        }
        if device is None:
            self.buffer.update(
                DEVICES, (self.user_id, device_id), values, by=("mobile_user_id", "device_id")
            )
            return
        for name, value in values.items():
            setattr(device, name, value)
        self.session.add(device)

    async def _device_row(self, device_id: str) -> Device:
        session = await self._written()
        device = (
            await session.exec(
                select(Device).where(
                    col(Device.mobile_user_id) == self.user_id, col(Device.device_id) == device_id
                )
            )
        ).first()
        return device or Device(
            mobile_user_id=self.user_id, device_id=device_id, created_at=self.now
        )

    def _update_balance(self, balance: Decimal | None, at: datetime) -> None:
        account = self.account
        if account is None or balance is None:
            return
        # Out-of-order feeds: only a newer figure replaces the account's balance.
        if account.balance_as_of is None or at >= account.balance_as_of:
            values = {"balance": balance, "balance_as_of": at, "updated_at": self.now}
            # Written with the batch's other plain rows; the loaded account shows the new
            # figures to the rest of the batch without the session tracking a change.
            for name, value in values.items():
                set_committed_value(account, name, value)
            self.buffer.update(ACCOUNTS, account.account_number, values)

    async def write(self, verdict: Verdict) -> list[AccountAlert]:
        subject = self.account.account_number if self.account else None
        for suppressed in verdict.suppressed:
            self._suppressed(suppressed, subject)
        written: list[AccountAlert] = []
        zone = ZoneInfo(
            (self.account.time_zone if self.account else None) or self.settings.timezone
        )
        for decision in verdict.alerts:
            plan = await self._plan(decision, zone)
            alert = await write_alert(
                self.session,
                decision,
                mobile_user_id=self.user_id,
                event_id=self.event_id,
                plan=plan,
                actor_role=self.actor.role.value,
                actor_id=self.actor.id,
                now=self.now,
            )
            assert alert.id is not None
            written.append(alert)
        return written

    async def _plan(self, decision: RaiseAlert, zone: ZoneInfo) -> DeliveryPlan:
        if decision.is_security:
            return DeliveryPlan(not_before=self.now)
        recent = await facts.alerts_in_window(
            self.session, self.user_id, ending=decision.triggered_at, span=RATE_WINDOW
        )
        if over_rate_limit(recent):
            reason = f"rate limit: {recent} alerts in the hour before this one"
            self._suppressed(
                Suppressed(decision.alert_type, reason, {"delivery": "in-app only"}),
                decision.account_number,
            )
            return DeliveryPlan(not_before=self.now, skipped_reason=reason)
        if decision.alert_type in QUIET_HOURS_APPLY:
            prefs = self.prefs()
            until = quiet_hours_end(prefs, self.now, zone)
            if until is not None:
                return DeliveryPlan(not_before=until, held_reason="quiet hours")
        return DeliveryPlan(not_before=self.now)

    def _suppressed(self, suppressed: Suppressed, subject: str | None) -> None:
        record_suppression(
            self.session,
            suppressed,
            mobile_user_id=self.user_id,
            subject_id=subject,
            event_id=self.event_id,
            actor_role=self.actor.role.value,
            actor_id=self.actor.id,
            now=self.now,
        )


# The customer locks, built once. NO KEY UPDATE serialises a customer's events but, unlike
# FOR UPDATE, does not wait for transactions that merely reference the customer (the
# reminder job inserting thousands of alerts). Only the customer row is locked, not the
# outer-joined settings rows. Each row holds an account's columns (by account), the
# customer's and one settings row's (NULL when there is none), in table order.
_ACCOUNTS = Entities(Account)
_USERS = Entities(MobileUser)
_SETTINGS = Entities(AccountAlertSettingsRow)
USERS = table_of(MobileUser)
SETTINGS = table_of(AccountAlertSettingsRow)


def _lock_statement(by_account: bool, *, as_array: bool) -> sa.Select[Any]:
    """``as_array``: the keys as one array parameter (PostgreSQL, one statement for any
    number of keys); otherwise an expanding IN list."""
    key = ACCOUNTS.c.account_number if by_account else USERS.c.id
    keys = (
        key == sa.any_(sa.bindparam("keys", type_=postgresql.ARRAY(key.type)))
        if as_array
        else key.in_(sa.bindparam("keys", expanding=True))
    )
    with_settings = USERS.outerjoin(SETTINGS, SETTINGS.c.mobile_user_id == USERS.c.id)
    source = (
        ACCOUNTS.join(with_settings, USERS.c.id == ACCOUNTS.c.mobile_user_id)
        if by_account
        else with_settings
    )
    columns = [*(ACCOUNTS.c if by_account else []), *USERS.c, *SETTINGS.c]
    return (
        sa.select(*columns)
        .select_from(source)
        .where(keys)
        .order_by(USERS.c.id, SETTINGS.c.id)
        .with_for_update(of=USERS, key_share=True)
    )


_LOCKS = {
    (by_account, as_array): _lock_statement(by_account, as_array=as_array)
    for by_account in (True, False)
    for as_array in (True, False)
}


async def _lock_customers(
    session: AsyncSession, direct: Direct | None, events: Sequence[Event]
) -> tuple[dict[str, Account], dict[int, MobileUser], dict[int, list[AccountAlertSettingsRow]]]:
    """Load and lock the events' customers (and accounts) in id order: concurrent batches
    cannot deadlock, and no other event of theirs is judged until this one commits. Their
    alert settings rows come in the same statement (their activity profile is on the
    customer's row)."""
    account_numbers = sorted(
        {e.account_number for e in events if isinstance(e, (TransactionEvent, BalanceSync))}
    )
    login_users = sorted({e.mobile_user_id for e in events if isinstance(e, LoginEvent)})
    accounts: dict[str, Account] = {}
    users: dict[int, MobileUser] = {}
    # Per customer, their settings rows by id (a customer comes once per account).
    settings: dict[int, dict[int, AccountAlertSettingsRow]] = {}

    async def locked(by_account: bool, keys: Sequence[Any]) -> Sequence[Sequence[Any]]:
        statement = _LOCKS[(by_account, direct is not None)]
        if direct is not None:
            return await direct.rows(statement, {"keys": list(keys)})
        connection = await session.connection()
        rows: Sequence[Sequence[Any]] = (
            await connection.execute(statement, {"keys": list(keys)})
        ).all()
        return rows

    def keep(row: Sequence[Any]) -> None:
        user_id = row[0]
        user = users.get(user_id)
        if user is None:
            user = users[user_id] = _USERS.make(row[: _USERS.width])
        mine = settings.setdefault(user_id, {})
        values = row[_USERS.width : _USERS.width + _SETTINGS.width]
        settings_id = values[0]
        if settings_id is not None and settings_id not in mine:
            mine[settings_id] = _SETTINGS.make(values)

    if account_numbers:
        for row in await locked(True, account_numbers):
            number = row[0]
            if number not in accounts:
                accounts[number] = _ACCOUNTS.make(row[: _ACCOUNTS.width])
            keep(row[_ACCOUNTS.width :])
    if login_users:
        for row in await locked(False, login_users):
            keep(row)
    # In settings id order, as the statements order them.
    rows = {user_id: list(by_id.values()) for user_id, by_id in settings.items() if by_id}
    return accounts, users, rows
