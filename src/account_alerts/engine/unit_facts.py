"""What judging a unit's events needs to know of their customers, loaded once for the
unit after its customers are locked: their accounts, settings rows and activity profiles,
the events among them already recorded, the cross-customer counts of the rules."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from sqlmodel.ext.asyncio.session import AsyncSession

from account_alerts.domain.activity_profile import ActivityProfile, Part
from account_alerts.domain.alert_settings import AlertPreferences
from account_alerts.domain.events import (
    BalanceSync,
    Event,
    LoginEvent,
    TransactionEvent,
    same_event,
)
from account_alerts.domain.fraud_decision import ALLOW, Decision, RuleSet
from account_alerts.engine import fraud_live
from account_alerts.engine.anomaly_scoring import AnomalyScorer
from account_alerts.engine.profile_cache import ProfileCache, Written
from account_alerts.errors import ApiError, BadUserInput, NotFound
from account_alerts.store import activity_profiles, event_log, event_rows
from account_alerts.store.alerts import AccountAlert, AccountAlertSettingsRow
from account_alerts.store.customers import Account, MobileUser
from account_alerts.store.event_unit import (
    EventUnit,
    none_stored,
    profile_version,
    stored_profile,
    stored_transactions,
)


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
    # The risk team's rules on a transaction or sign-in (None for other events).
    decision: Decision | None = None


@dataclass
class Recorded:
    """An event already stored (before or earlier in this batch): what it said and did."""

    fingerprint: str
    alert_ids: list[int]
    user: MobileUser | None
    decision: Decision | None = None

    def repeat(self, event: Event, digest: str) -> EventOutcome:
        event_id = event.event_id
        if not same_event(self.fingerprint, event, digest):
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
            decision=self.decision,
        )


@dataclass
class UnitFacts:
    """What the rules need to know of a unit's customers, loaded in a few statements."""

    accounts: dict[str, Account]
    users: dict[int, MobileUser]
    recorded: dict[str, Recorded]
    rows: dict[int, list[AccountAlertSettingsRow]]
    transactions: set[tuple[str, str]]
    # The cross-customer counts of its events (asked with the rest).
    crowds: fraud_live.UnitCrowds
    # The customers' activity profiles as stored (store.event_unit.Locked), and the stored
    # parts of their recent transactions (those with a profile that came).
    stored_profiles: dict[int, str | dict[str, Any] | None] = field(default_factory=dict)
    stored_parts: dict[int, list[Part]] = field(default_factory=dict)
    # PostgreSQL: the versions of the stored profiles, and the unit's transaction id.
    profile_versions: dict[int, str] = field(default_factory=dict)
    transaction: str | None = None
    # Profiles this process wrote, with the text it stored (None: none kept).
    cache: ProfileCache | None = None
    # The customers' activity profiles in use by this batch.
    profiles: dict[int, ActivityProfile] = field(default_factory=dict)
    # Each customer's alert preferences for an account ("": their sign-ins), worked out
    # once per unit: no event changes a customer's settings.
    preferences: dict[tuple[int, str], AlertPreferences] = field(default_factory=dict)

    @classmethod
    async def load(
        cls,
        unit: EventUnit,
        events: Sequence[Event],
        rules: RuleSet,
        anomaly: AnomalyScorer | None,
        *,
        look_up_repeats: bool = True,
        cache: ProfileCache | None = None,
    ) -> UnitFacts:
        """``look_up_repeats=False`` skips looking for eventIds and transactions stored
        before: the caller relies on their unique keys to refuse a repeat instead."""
        locked = await unit.lock_customers(events, cache.known if cache is not None else None)
        accounts, users = locked.accounts, locked.users
        session = unit.session
        # The parts of the profiles that came, unless this process kept that profile.
        parts = await stored_transactions(
            unit,
            [
                user
                for user, document in locked.profiles.items()
                if _parts_wanted(cache, user, document)
            ],
        )
        stored = (
            await event_log.find_many(session, unit.direct, (e.event_id for e in events))
            if look_up_repeats
            else []
        )
        recorded = {
            e.event_id: Recorded(
                e.fingerprint,
                list(e.alert_ids),
                users.get(e.mobile_user_id or 0),
                _stored_decision(e.kind, e.outcome),
            )
            for e in stored
        }
        transactions = (
            await event_log.recorded_transactions(
                session,
                unit.direct,
                (
                    (e.account_number, e.transaction_id)
                    for e in events
                    if isinstance(e, TransactionEvent)
                ),
            )
            if look_up_repeats
            else set()
        )
        customers = _customers(events, accounts)
        if unit.alerts is not None:
            unit.alerts.expect(
                (user, event.as_of if isinstance(event, BalanceSync) else event.occurred_at)
                for event, user in customers
            )
        crowds = await fraud_live.UnitCrowds.ask(
            session,
            unit.direct,
            lambda: unit.buffer.added(event_rows.TRANSACTIONS, event_rows.LOGINS),
            rules=rules,
            anomaly=anomaly,
            events=[
                (event, user)
                for event, user in customers
                if isinstance(event, (TransactionEvent, LoginEvent))
            ],
        )
        return cls(
            accounts,
            users,
            recorded,
            locked.settings,
            transactions,
            crowds,
            stored_profiles=locked.profiles,
            stored_parts=parts,
            profile_versions=locked.versions,
            transaction=locked.transaction,
            cache=cache,
        )

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

    async def profile_of(self, unit: EventUnit, user_id: int) -> ActivityProfile:
        profile = self.profiles.get(user_id)
        if profile is None:
            if user_id not in self.stored_parts and _parts_wanted(
                self.cache, user_id, self.stored_profiles.get(user_id)
            ):
                # Its parts were left unread for the profile this process kept, which has
                # left the cache since (evicted by other units' profiles): read them now.
                self.stored_parts.update(await stored_transactions(unit, [user_id]))
            profile = self._stored_profile(user_id)
            if profile is None and self._left_out(user_id):
                # The lock left it out for a version this process had kept, and no longer
                # has (a unit of the customer's that took it before this lock failed).
                self.stored_profiles[user_id] = await stored_profile(unit, user_id)
                self.stored_parts.update(await stored_transactions(unit, [user_id]))
                del self.profile_versions[user_id]
                profile = self._stored_profile(user_id)
            if profile is None:
                # A customer whose events predate profiles (or this format of them), or a
                # new one: from the history.
                profile = await activity_profiles.from_history(await unit.written(), user_id)
            self.profiles[user_id] = profile
        return profile

    def _stored_profile(self, user_id: int) -> ActivityProfile | None:
        document = self.stored_profiles.get(user_id)
        version = self.profile_versions.get(user_id)
        if self.cache is not None and version is not None:  # PostgreSQL
            kept = self.cache.take(
                user_id, document if isinstance(document, str) else None, version
            )
            if kept is not None:
                return kept
        if isinstance(document, str):  # PostgreSQL: the text as stored
            document = orjson.loads(document)
        if document is not None and ActivityProfile.is_current(document):
            return ActivityProfile.from_json(document, self.stored_parts.get(user_id))
        return None

    def _left_out(self, user_id: int) -> bool:
        version = self.profile_versions.get(user_id)
        return (
            self.stored_profiles.get(user_id) is None
            and version is not None
            and not none_stored(version)
        )

    def written(self, stored: Iterable[tuple[int, str, ActivityProfile]]) -> list[Written]:
        """Profiles this unit stores (customer, text, profile), as the cache keeps them once
        the unit commits (none where the unit has no transaction id: not PostgreSQL)."""
        if self.transaction is None:
            return []
        accounts: dict[int, list[str]] = {}
        for number, account in self.accounts.items():
            accounts.setdefault(account.mobile_user_id, []).append(number)
        return [
            Written(
                user_id,
                text,
                profile,
                profile_version(user_id, self.transaction, text),
                tuple(accounts.get(user_id, ())),
            )
            for user_id, text, profile in stored
        ]

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


def _parts_wanted(
    cache: ProfileCache | None, user_id: int, document: str | dict[str, Any] | None
) -> bool:
    """Whether a stored profile that came with the lock needs its transactions' parts:
    it is not the one this process kept (``ProfileCache.holds``)."""
    if document is None:
        return False
    return not (cache is not None and isinstance(document, str) and cache.holds(user_id, document))


def _customers(events: Sequence[Event], accounts: dict[str, Account]) -> list[tuple[Event, int]]:
    """The events whose customer is known, each with its customer."""
    found: list[tuple[Event, int]] = []
    for event in events:
        if isinstance(event, LoginEvent):
            if event.mobile_user_id > 0:
                found.append((event, event.mobile_user_id))
        elif (account := accounts.get(event.account_number)) is not None:
            found.append((event, account.mobile_user_id))
    return found


def _stored_decision(kind: str, outcome: dict[str, Any]) -> Decision | None:
    """What a recorded event was decided (ALLOW where no rule applied to it)."""
    if "decision" in outcome:
        return Decision.from_json(outcome["decision"])
    return ALLOW if kind in (TransactionEvent.__name__, LoginEvent.__name__) else None


# Sign-ins belong to a customer, not an account.
_NO_ACCOUNT = Account(account_number="", mobile_user_id=0, currency="")
