"""The risk team's rules on live traffic: the rule set in memory, an event's features and
decision, and the hits written with the event.

The rule set (SHADOW and LIVE versions, active snoozes, thresholds) is read once and
kept; a change made in this process replaces it at once, one made in another process is
seen within ``fraud_rules_refresh_seconds``. With no version SHADOW or LIVE, an event
costs nothing more than before."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from account_alerts.domain import fraud_features
from account_alerts.domain.activity_profile import ActivityProfile
from account_alerts.domain.anomaly.features import FEATURE_NAMES
from account_alerts.domain.events import LoginEvent, TransactionEvent
from account_alerts.domain.fraud_decision import (
    ActiveVersion,
    Decision,
    RuleSet,
    RuleStatus,
    Snooze,
    SnoozeScope,
    Subject,
)
from account_alerts.domain.fraud_features import (
    CROWD_FEATURES,
    Crowd,
    EventKind,
    LazyFeatures,
    Value,
    kind_of,
)
from account_alerts.domain.rule_conditions import ConditionError, parse
from account_alerts.engine.anomaly_scoring import AnomalyScorer
from account_alerts.engine.fraud_rules import thresholds
from account_alerts.store import crowd as crowd_store
from account_alerts.store.base import table_of
from account_alerts.store.crowd import Others, Probe
from account_alerts.store.database import Database
from account_alerts.store.direct import Direct
from account_alerts.store.fraud_tables import FraudRuleHit, FraudRuleVersion, FraudSnooze
from account_alerts.store.row_buffer import RowBuffer

log = logging.getLogger(__name__)

HITS = table_of(FraudRuleHit)


async def load_rule_set(session: AsyncSession, now: datetime) -> RuleSet:
    versions = (
        await session.exec(
            select(FraudRuleVersion)
            .where(
                col(FraudRuleVersion.status).in_([RuleStatus.SHADOW.value, RuleStatus.LIVE.value])
            )
            .order_by(col(FraudRuleVersion.id))
        )
    ).all()
    active: list[ActiveVersion] = []
    for v in versions:
        kinds = frozenset(EventKind(k) for k in v.event_kinds)
        try:
            condition = parse(v.condition, kinds)
        except ConditionError:  # stored only after the same check; never expected
            log.exception("fraud rule version %s has a condition that no longer parses", v.id)
            continue
        assert v.id is not None
        active.append(
            ActiveVersion(
                rule_id=v.rule_id,
                version_id=v.id,
                name=v.name,
                score=v.score,
                kinds=kinds,
                condition=condition,
                shadow=v.status == RuleStatus.SHADOW.value,
            )
        )
    snoozes = (
        await session.exec(
            select(FraudSnooze).where(
                col(FraudSnooze.until) > now, col(FraudSnooze.lifted_at).is_(None)
            )
        )
    ).all()
    return RuleSet(
        versions=tuple(active),
        snoozes=tuple(
            Snooze(s.rule_id, SnoozeScope(s.scope), s.scope_value, s.until) for s in snoozes
        ),
        thresholds=await thresholds(session),
    )


class RuleSets:
    """The rule set live traffic runs, refreshed when stale or changed here."""

    def __init__(
        self,
        db: Database,
        *,
        refresh_seconds: float,
        clock: Callable[[], datetime],
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.db = db
        self.refresh_seconds = refresh_seconds
        self.clock = clock
        self.monotonic = monotonic
        self._current: RuleSet | None = None
        self._loaded_at = 0.0
        self._lock = asyncio.Lock()

    def invalidate(self) -> None:
        self._current = None

    async def current(self) -> RuleSet:
        current = self._current
        if current is not None and self.monotonic() - self._loaded_at < self.refresh_seconds:
            return current
        async with self._lock:
            if self._current is None or self.monotonic() - self._loaded_at >= self.refresh_seconds:
                started = self.monotonic()
                async with self.db.session() as session:
                    self._current = await load_rule_set(session, self.clock())
                self._loaded_at = started
            return self._current


def _needed(rules: RuleSet, kind: EventKind, scoring: bool) -> frozenset[str]:
    """The features the rules of ``kind`` read, and the model's when it scores."""
    needed = rules.needed(kind) if rules.applies(kind) else frozenset()
    return needed | frozenset(FEATURE_NAMES) if scoring else needed


def _scoring(anomaly: AnomalyScorer | None, kind: EventKind) -> bool:
    return anomaly is not None and anomaly.in_use and kind is EventKind.TRANSACTION


def _probe(event: TransactionEvent | LoginEvent, customer: int) -> Probe:
    at = event.occurred_at
    return Probe(
        customer=customer,
        at=at,
        device=event.device_id or None,
        device_since=at - fraud_features.DEVICE_CUSTOMERS_WINDOW,
        address=event.ip_address or None,
        address_since=at - fraud_features.IP_CUSTOMERS_WINDOW,
    )


class UnitCrowds:
    """The cross-customer counts of one unit's events: distinct customers on the event's
    device (24 h) and address (1 h), by the transactions and sign-ins that arrived before
    it, the customer included. What was stored before the unit is asked for all its
    events at once (``ask``); the unit's own earlier events count from their rows
    (``unit_rows``), so none of them is written early for a count."""

    def __init__(
        self,
        session: AsyncSession,
        direct: Direct | None,
        unit_rows: Callable[[], Iterable[Mapping[str, Any]]],
        stored: Mapping[Probe, Others] | None = None,
    ) -> None:
        self._session, self._direct = session, direct
        self._unit_rows = unit_rows
        self._stored = dict(stored or {})

    @classmethod
    async def ask(
        cls,
        session: AsyncSession,
        direct: Direct | None,
        unit_rows: Callable[[], Iterable[Mapping[str, Any]]],
        *,
        rules: RuleSet,
        anomaly: AnomalyScorer | None,
        events: Iterable[tuple[TransactionEvent | LoginEvent, int]],
    ) -> UnitCrowds:
        """Asked before the unit writes anything, for its ``events`` (each with its
        customer) whose rules or score read a cross-customer count."""
        probes = []
        for event, customer in events:
            kind = kind_of(event)
            if (event.device_id or event.ip_address) and _needed(
                rules, kind, _scoring(anomaly, kind)
            ) & CROWD_FEATURES:
                probes.append(_probe(event, customer))
        probes = list(dict.fromkeys(probes))
        found = await crowd_store.others(session, direct, probes)
        return cls(session, direct, unit_rows, dict(zip(probes, found, strict=True)))

    async def of(self, event: TransactionEvent | LoginEvent, customer: int) -> Crowd:
        device, address = event.device_id, event.ip_address
        if not device and not address:
            return Crowd()
        probe = _probe(event, customer)
        stored = self._stored.get(probe)
        if stored is None:  # not asked ahead: its rows written so far are in the database
            (stored,) = await crowd_store.others(self._session, self._direct, [probe])
        on_device, on_address = {customer, *stored.on_device}, {customer, *stored.on_address}
        at = probe.at
        for row in self._unit_rows():
            when = row["occurred_at"]
            if device and row.get("device_id") == device and probe.device_since < when <= at:
                on_device.add(int(row["mobile_user_id"]))
            if address and row.get("ip_address") == address and probe.address_since < when <= at:
                on_address.add(int(row["mobile_user_id"]))
        return Crowd(
            device_customers_24h=len(on_device) if device else None,
            ip_customers_1h=len(on_address) if address else None,
        )


@dataclass(frozen=True)
class Judged:
    """What the risk team's rules and the anomaly model made of an event."""

    decision: Decision | None
    # 0-100 from the ACTIVE model (used) and the SHADOW model (stored only).
    anomaly_score: float | None = None
    anomaly_shadow_score: float | None = None


async def decide(
    rules: RuleSet,
    event: TransactionEvent | LoginEvent,
    *,
    customer: int,
    profile: ActivityProfile,
    zone: ZoneInfo,
    crowds: UnitCrowds,
    now: datetime,
    anomaly: AnomalyScorer | None = None,
) -> Judged:
    """The event's decision (None when no version applies to its kind) and, for a
    transaction while an anomaly model is in place, its scores; from its features as they
    stand before it changes the profile."""
    kind = kind_of(event)
    scoring = _scoring(anomaly, kind)
    if not rules.applies(kind) and not scoring:
        return Judged(None)
    needed = _needed(rules, kind, scoring)
    counts = None
    if needed & CROWD_FEATURES:
        counts = await crowds.of(event, customer)
    features: Mapping[str, Value]
    scores = active = None
    if scoring and anomaly is not None:
        # The model reads all its features: each computed once, for it and the rules.
        computed = fraud_features.compute(event, profile, zone=zone, needed=needed, crowd=counts)
        scores = anomaly.score(computed)
        active = scores.active
        computed["anomalyScore"] = active.score if active is not None else None
        features = computed
    else:
        # Only what the conditions reach: most events fail a rule's first clause.
        features = LazyFeatures(event, profile, zone=zone, needed=needed, crowd=lambda: counts)

    def explain() -> tuple[dict[str, Any], ...]:
        if active is None:
            return ()
        return tuple(
            {"feature": c.feature, "value": c.value, "contribution": round(c.contribution, 4)}
            for c in active.contributions
        )

    decision = None
    if rules.applies(kind):
        account = event.account_number if isinstance(event, TransactionEvent) else None
        subject = Subject(customer, account, event.device_id)
        decision = rules.evaluate(kind, features, subject, now, explain)
    return Judged(
        decision,
        anomaly_score=active.score if active is not None else None,
        anomaly_shadow_score=(
            scores.shadow.score if scores is not None and scores.shadow is not None else None
        ),
    )


def write_hits(
    buffer: RowBuffer,
    decision: Decision,
    event: TransactionEvent | LoginEvent,
    *,
    customer: int,
    now: datetime,
) -> None:
    """The hits, with the event's other rows (one statement per table for a batch)."""
    kind = kind_of(event).value
    for hit in decision.hits:
        buffer.add(
            HITS,
            {
                "event_id": event.event_id,
                "event_kind": kind,
                "mobile_user_id": customer,
                "rule_id": hit.rule_id,
                "version_id": hit.version_id,
                "name": hit.name,
                "score": hit.score,
                "shadow": hit.shadow,
                "suppressed": hit.suppressed,
                "null_features": list(hit.null_features),
                "features": hit.features,
                "occurred_at": event.occurred_at,
                "evaluated_at": now,
            },
        )
