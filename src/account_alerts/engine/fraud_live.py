"""The risk team's rules on live traffic: the rule set in memory, an event's features and
decision, and the hits written with the event.

The rule set (SHADOW and LIVE versions, active snoozes, thresholds) is read once and
kept; a change made in this process replaces it at once, one made in another process is
seen within ``fraud_rules_refresh_seconds``. With no version SHADOW or LIVE, an event
costs nothing more than before."""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
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
from account_alerts.store.base import table_of
from account_alerts.store.database import Database
from account_alerts.store.direct import Direct
from account_alerts.store.events import LoginAttempt, TransactionRecord
from account_alerts.store.fraud_tables import FraudRuleHit, FraudRuleVersion, FraudSnooze
from account_alerts.store.row_buffer import RowBuffer

log = logging.getLogger(__name__)

HITS = table_of(FraudRuleHit)
TRANSACTIONS = table_of(TransactionRecord)
LOGINS = table_of(LoginAttempt)


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


def _customers_on(column: str, kind: int) -> list[sa.Select[Any]]:
    """(kind, customer) of the stored events of customers other than :me with ``column`` =
    :key in (:since, :at]. For a device, each side of :me is one range of the index on
    (device, customer, time): however often the customer uses their phone, none of their
    rows is read. An address (shared behind a carrier's gateway, asked about for an hour)
    is one range of (address, time)."""
    when = TRANSACTIONS.c.occurred_at.type
    me = sa.bindparam("me", type_=sa.Integer)

    def sides(table: sa.Table) -> tuple[sa.ColumnElement[bool], ...]:
        customer = table.c.mobile_user_id
        return (customer < me, customer > me) if column == "device_id" else (customer != me,)

    return [
        sa.select(sa.literal_column(str(kind)).label("kind"), table.c.mobile_user_id).where(
            table.c[column] == sa.bindparam(f"{column}_key", type_=table.c[column].type),
            side,
            table.c.occurred_at > sa.bindparam(f"{column}_since", type_=when),
            table.c.occurred_at <= sa.bindparam("at", type_=when),
        )
        for table in (TRANSACTIONS, LOGINS)
        for side in sides(table)
    ]


@functools.cache
def _crowd_query(device: bool, address: bool) -> sa.CompoundSelect[Any]:
    """Built once per shape: building a statement costs more than running it here."""
    columns = [("device_id", device), ("ip_address", address)]
    parts = [
        part
        for kind, (column, wanted) in enumerate(columns)
        if wanted
        for part in _customers_on(column, kind)
    ]
    return sa.union(*parts)


async def crowd(
    session: AsyncSession,
    event: TransactionEvent | LoginEvent,
    customer: int,
    pending: Iterable[dict[str, Any]] = (),
    direct: Direct | None = None,
) -> Crowd:
    """Distinct customers on the event's device (24 h) and address (1 h), by the
    transactions and sign-ins that arrived before it: those stored, and ``pending``, the
    rows of earlier events of this transaction not yet written (counted here rather than
    flushed for the query, which would split the group's one write); the customer counts
    too. Through ``direct``, the transaction's driver connection, when there is one (on
    PostgreSQL, as every statement of the event path runs: store.direct)."""
    at = event.occurred_at
    device, address = event.device_id, event.ip_address
    if not device and not address:
        return Crowd()
    params: dict[str, Any] = {"at": at, "me": customer}
    windows: list[tuple[str, str, datetime]] = []
    if device:
        since = at - fraud_features.DEVICE_CUSTOMERS_WINDOW
        params["device_id_key"], params["device_id_since"] = device, since
        windows.append(("device_id", device, since))
    if address:
        since = at - fraud_features.IP_CUSTOMERS_WINDOW
        params["ip_address_key"], params["ip_address_since"] = address, since
        windows.append(("ip_address", address, since))
    seen: dict[int, set[int]] = {0: {customer}, 1: {customer}}
    query = _crowd_query(bool(device), bool(address))
    if direct is not None:
        found: Iterable[Any] = await direct.rows(query, params)
    else:
        found = (await session.exec(query, params=params)).all()  # type: ignore[call-overload]
    for kind, who in found:
        seen[int(kind)].add(int(who))
    for row in pending:
        for column, key, since in windows:
            if row.get(column) == key and since < row["occurred_at"] <= at:
                seen[0 if column == "device_id" else 1].add(int(row["mobile_user_id"]))
    return Crowd(
        device_customers_24h=len(seen[0]) if device else None,
        ip_customers_1h=len(seen[1]) if address else None,
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
    session: AsyncSession,
    pending: Callable[[], Iterable[dict[str, Any]]],
    now: datetime,
    anomaly: AnomalyScorer | None = None,
    direct: Direct | None = None,
) -> Judged:
    """The event's decision (None when no version applies to its kind) and, for a
    transaction while an anomaly model is in place, its scores; from its features as they
    stand before it changes the profile. ``pending`` gives the rows of this transaction's
    earlier events not yet written (for the cross-customer counts)."""
    kind = kind_of(event)
    scoring = anomaly is not None and anomaly.in_use and kind is EventKind.TRANSACTION
    if not rules.applies(kind) and not scoring:
        return Judged(None)
    needed = rules.needed(kind) | (frozenset(FEATURE_NAMES) if scoring else frozenset())
    counts = None
    if needed & CROWD_FEATURES:
        counts = await crowd(session, event, customer, pending(), direct)
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
