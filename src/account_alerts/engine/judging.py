"""Judging one event of one customer: the alert rules applied to what is known of them,
and what the event leaves behind. Pure decisions come from domain/; this gathers their
inputs (from the activity profile, or the stored history where the profile cannot tell)
and writes their outcome into the event's unit of work."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlmodel.ext.asyncio.session import AsyncSession

from account_alerts.config import Settings
from account_alerts.domain.activity_profile import ActivityProfile
from account_alerts.domain.alert_settings import AlertPreferences
from account_alerts.domain.cases import CaseSource
from account_alerts.domain.decisions import Detection, RaiseAlert, SkippedCheck, Suppressed, Verdict
from account_alerts.domain.delivery_policy import DeliveryPlan, plan_delivery
from account_alerts.domain.enums import AlertType, SuspicionReason, TransactionType
from account_alerts.domain.events import BalanceSync, LoginEvent, TransactionEvent
from account_alerts.domain.fraud_decision import Decision, Outcome, RuleSet, rule_match_alert
from account_alerts.domain.fraud_features import kind_of
from account_alerts.domain.geo import GeoPoint
from account_alerts.domain.masking import mask_account_number
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
from account_alerts.domain.webhooks import WebhookEventType
from account_alerts.engine import fraud_live
from account_alerts.engine.actor import Actor
from account_alerts.engine.anomaly_scoring import AnomalyScorer
from account_alerts.engine.preferences import thresholds_for
from account_alerts.engine.resolution import lock_user
from account_alerts.store import cases, event_rows, facts
from account_alerts.store.alert_writer import Planner, record_suppression, write_alert
from account_alerts.store.alerts import AccountAlert, AccountAlertSettingsRow
from account_alerts.store.customers import Account, MobileUser
from account_alerts.store.event_unit import EventUnit
from account_alerts.store.preferences import effective_preferences
from account_alerts.store.webhook_events import emit


@dataclass
class Judging:
    """One event of one customer judged against what is known of them (their settings,
    their activity profile, the stored history where the profile cannot tell), and what
    it leaves behind: its rows, the profile's update, the alerts and suppressions."""

    unit: EventUnit
    settings: Settings
    user: MobileUser
    account: Account | None
    rows: Sequence[AccountAlertSettingsRow]
    profile: ActivityProfile
    actor: Actor
    now: datetime
    event_id: str
    # When its rows say it arrived: ``now``, or a microsecond after the event before it in
    # this process, so that created_at orders transactions and sign-ins by arrival.
    arrival: datetime
    # The preferences worked out so far in the unit, by customer and account number
    # (engine.unit_facts.UnitFacts.preferences).
    preferences: dict[tuple[int, str], AlertPreferences] = field(default_factory=dict)
    # The transaction's anomaly scores (ACTIVE model, SHADOW model), once decided.
    anomaly_scores: tuple[float | None, float | None] = (None, None)

    @property
    def session(self) -> AsyncSession:
        return self.unit.session

    def prefs(self) -> AlertPreferences:
        account_number = self.account.account_number if self.account is not None else ""
        key = (self.user.id, account_number)
        prefs = self.preferences.get(key)
        if prefs is None:
            if self.account is None:
                defaults = self.settings.thresholds_for(self.settings.default_currency)
                assert defaults is not None
            else:
                defaults = thresholds_for(self.settings, self.account)
            prefs = effective_preferences(account_number, self.rows, defaults)[0]
            self.preferences[key] = prefs
        return prefs

    @property
    def user_id(self) -> int:
        return self.user.id

    def zone(self) -> ZoneInfo:
        return ZoneInfo(
            (self.account.time_zone if self.account else None) or self.settings.timezone
        )

    async def decide(
        self,
        rules: RuleSet,
        event: TransactionEvent | LoginEvent,
        crowds: fraud_live.UnitCrowds,
        anomaly: AnomalyScorer | None = None,
    ) -> Decision | None:
        """The risk team's rules and the anomaly model on the event, before it changes the
        customer's profile; a transaction's scores go with its row."""
        judged = await fraud_live.decide(
            rules,
            event,
            customer=self.user_id,
            profile=self.profile,
            zone=self.zone(),
            crowds=crowds,
            now=self.now,
            anomaly=anomaly,
        )
        self.anomaly_scores = (judged.anomaly_score, judged.anomaly_shadow_score)
        return judged.decision

    async def act_on(
        self, decision: Decision, event: TransactionEvent | LoginEvent, verdict: Verdict
    ) -> None:
        """Record the hits; BLOCK locks the customer's access and tells them through their
        security channels (REPORT_FRAUD's lock); shadow and snoozed hits change nothing."""
        fraud_live.write_hits(
            self.unit.buffer, decision, event, customer=self.user_id, now=self.now
        )
        if decision.outcome is not Outcome.ALLOW:
            self._announce(decision, event)
        if decision.outcome is Outcome.BLOCK:
            await lock_user(
                self.session,
                actor=self.actor,
                mobile_user_id=self.user_id,
                reason="RULE_MATCH: " + ", ".join(h.name for h in decision.counted)[:200],
                now=self.now,
            )
            self.user.locked = True
            transaction = event if isinstance(event, TransactionEvent) else None
            verdict.alerts.append(
                rule_match_alert(
                    decision,
                    account_number=transaction.account_number if transaction else None,
                    at=event.occurred_at,
                    prefs=self.prefs(),
                    device_id=event.device_id,
                    ip_address=event.ip_address,
                    location=event.location,
                    related_transaction_ids=[transaction.transaction_id] if transaction else [],
                )
            )

    def _announce(self, decision: Decision, event: TransactionEvent | LoginEvent) -> None:
        """DECISION_REVIEW / DECISION_BLOCK for the bank's other systems (signed webhooks),
        written with the event's rows."""
        transaction = event if isinstance(event, TransactionEvent) else None
        emit(
            self.unit.buffer,
            WebhookEventType.DECISION_BLOCK
            if decision.outcome is Outcome.BLOCK
            else WebhookEventType.DECISION_REVIEW,
            {
                "eventId": event.event_id,
                "mobileUserId": self.user_id,
                "accountNumber": (
                    mask_account_number(transaction.account_number) if transaction else None
                ),
                "outcome": decision.outcome.value,
                "score": decision.score,
                "ruleIds": [h.rule_id for h in decision.counted],
                "hits": [
                    {"ruleId": h.rule_id, "name": h.name, "score": h.score}
                    for h in decision.counted
                ],
            },
            occurred_at=self.now,
        )

    async def open_case(
        self, decision: Decision, event: TransactionEvent | LoginEvent, alerts: list[AccountAlert]
    ) -> None:
        """REVIEW and BLOCK open a case for the risk team, in the event's transaction;
        a BLOCK's case points at the alert that told the customer."""
        told = next(
            (a for a in alerts if a.alert_data.get("suspicionReason") == "RULE_MATCH"), None
        )
        await cases.open_case(
            self.session,
            mobile_user_id=self.user_id,
            source=(
                CaseSource.DECISION_BLOCK
                if decision.outcome is Outcome.BLOCK
                else CaseSource.DECISION_REVIEW
            ),
            event_id=self.event_id,
            event_kind=kind_of(event).value,
            decision=decision.to_json(),
            opened_at=self.now,
            actor=self.actor.id or self.actor.role.value,
            ack_sla=self.settings.case_ack_sla,
            alert_id=told.id if told is not None else None,
        )

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
        detections: list[Detection] = []
        collect(
            verdict,
            new_device_transaction(
                event.device_id,
                device_known=self.profile.knows_device(event.device_id, event.occurred_at),
                has_device_history=self.profile.knew_a_device(event.occurred_at),
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
        event_rows.transaction(
            self.unit.buffer,
            event,
            mobile_user_id=self.user_id,
            now=self.arrival,
            anomaly_scores=self.anomaly_scores,
        )
        await self._saw_device(event.device_id, event.occurred_at)
        if event.location is not None:
            self.profile.saw_place(event.location, event.occurred_at, login=False)
        self.profile.saw_transaction(event.occurred_at, float(event.amount))
        event_rows.newest_balance(
            self.unit.buffer, self.account, event.balance_after, event.occurred_at, self.now
        )
        return verdict

    async def judge_balance(self, event: BalanceSync) -> Verdict:
        prefs = self.prefs()
        verdict = await self._low_balance(event.balance, event.currency, event.as_of, prefs)
        assert self.account is not None
        event_rows.balance_snapshot(
            self.unit.buffer, event, account_number=self.account.account_number, now=self.now
        )
        event_rows.newest_balance(
            self.unit.buffer, self.account, event.balance, event.as_of, self.now
        )
        return verdict

    async def judge_login(self, event: LoginEvent) -> Verdict:
        prefs = self.prefs()
        verdict = Verdict()
        detections: list[Detection] = []
        if event.successful:
            earlier_logins = (
                await self._usual_places(event.occurred_at, logins_only=True)
                if event.location is not None
                else []
            )
            verdict.extend(
                login_alert(
                    event,
                    prefs=prefs,
                    device_known=self.profile.knows_device(event.device_id, event.occurred_at),
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
                    await self.unit.written(), self.user_id, around=at, span=FAILED_ATTEMPT_WINDOW
                )
            earlier = self.profile.failed_login_detections.around(at, FAILED_ATTEMPT_WINDOW)
            if earlier is None:
                earlier = await facts.suspicion_times(
                    await self.unit.written(),
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
        event_rows.sign_in(self.unit.buffer, event, mobile_user_id=self.user_id, now=self.arrival)
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
                    await self.unit.written(),
                    account_number,
                    AlertType.LOW_BALANCE,
                    around=at,
                    span=ONCE_PER,
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
        if location is None or not prefs.alert_unusual_location:
            return unusual_location(location, [], prefs)
        if self.profile.at_usual_place(location, at, USUAL_LOCATION_WINDOW):
            # Within a kilometre of a usual place, far from unusual: the common case, and
            # the other places need not be measured.
            return Verdict()
        return unusual_location(location, await self._usual_places(at), prefs)

    async def _usual_places(self, at: datetime, *, logins_only: bool = False) -> list[GeoPoint]:
        places = self.profile.usual_places(at, USUAL_LOCATION_WINDOW, logins_only=logins_only)
        if places is None:  # older than what the profile keeps: the stored history tells
            places = await facts.usual_places(
                await self.unit.written(),
                self.user_id,
                before=at,
                window=USUAL_LOCATION_WINDOW,
                logins_only=logins_only,
            )
        return places

    async def _saw_device(
        self, device_id: str | None, at: datetime, login: LoginEvent | None = None
    ) -> None:
        if device_id is None:
            return
        known = device_id in self.profile.devices
        seen = self.profile.saw_device(device_id, at)
        if login is not None:
            seen.named(login.device_name, login.device_model, login.device_os)
        await event_rows.device(
            self.unit.buffer,
            self.session,
            mobile_user_id=self.user_id,
            device_id=device_id,
            seen=seen,
            known=known,
            now=self.now,
        )

    async def write(self, verdict: Verdict) -> list[AccountAlert]:
        subject = self.account.account_number if self.account else None
        for suppressed in verdict.suppressed:
            self._suppressed(suppressed, subject)
        written: list[AccountAlert] = []
        zone = self.zone()
        for index, decision in enumerate(verdict.alerts):
            alert = await write_alert(
                self.session,
                decision,
                mobile_user_id=self.user_id,
                event_id=self.event_id,
                plan=self._planner(decision, zone),
                actor_role=self.actor.role.value,
                actor_id=self.actor.id,
                now=self.now,
                rows=self.unit.buffer,
                new_alerts=self.unit.alerts,
                ahead=len(verdict.alerts) - index,
            )
            assert alert.id is not None
            written.append(alert)
        return written

    def _planner(self, decision: RaiseAlert, zone: ZoneInfo) -> DeliveryPlan | Planner:
        """When the alert goes out: a security alert at once, whatever came before it;
        another after the count of the customer's alerts in the hour before it."""
        if decision.is_security:
            at_once, _ = plan_delivery(
                decision, alerts_in_last_hour=0, prefs=self.prefs(), now=self.now, zone=zone
            )
            return at_once

        def plan(recent: int) -> DeliveryPlan:
            planned, suppressed = plan_delivery(
                decision, alerts_in_last_hour=recent, prefs=self.prefs(), now=self.now, zone=zone
            )
            if suppressed is not None:
                self._suppressed(suppressed, decision.account_number)
            return planned

        return plan

    def _suppressed(self, suppressed: Suppressed, subject: str | None) -> None:
        record_suppression(
            self.unit.buffer,
            suppressed,
            mobile_user_id=self.user_id,
            subject_id=subject,
            event_id=self.event_id,
            actor_role=self.actor.role.value,
            actor_id=self.actor.id,
            now=self.now,
        )
