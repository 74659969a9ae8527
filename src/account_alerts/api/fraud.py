"""The risk team's rules over GraphQL (role admin; the staff member is the token's sub)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry
from sqlmodel import col, select
from strawberry.scalars import JSON

from account_alerts.api.context import Info
from account_alerts.api.permissions import IsAdmin
from account_alerts.api.types.fraud import FraudFeatureView
from account_alerts.domain.enums import SuspicionReason
from account_alerts.domain.fraud_decision import RuleStatus, SnoozeScope
from account_alerts.domain.fraud_features import FEATURES, EventKind
from account_alerts.domain.risk_score import BASE
from account_alerts.engine import fraud_rules
from account_alerts.errors import BadUserInput, NotFound
from account_alerts.store.base import row_by_id, row_key
from account_alerts.store.fraud_stats import VersionStats, built_in_stats, version_stats
from account_alerts.store.fraud_tables import Backtest, FraudRule, FraudRuleVersion, FraudSnooze

MAX_STATS_DAYS = 366


@strawberry.type(name="FraudRuleStats")
class FraudRuleStatsView:
    evaluated: int
    hits: int
    hit_rate: float
    distinct_customers: int
    overlap_with_live: int = strawberry.field(
        description="Events it hit that a LIVE version (another) hit too."
    )

    @classmethod
    def of(cls, stats: VersionStats) -> FraudRuleStatsView:
        return cls(
            evaluated=stats.evaluated,
            hits=stats.hits,
            hit_rate=stats.hit_rate,
            distinct_customers=stats.distinct_customers,
            overlap_with_live=stats.overlap_with_live,
        )


@strawberry.type(name="FraudRuleVersion")
class FraudRuleVersionView:
    id: strawberry.ID
    rule_id: strawberry.ID
    version: int
    name: str
    description: str | None
    condition: JSON
    score: int
    event_kinds: list[EventKind]
    status: RuleStatus
    author: str
    approver: str | None
    created_at: datetime
    shadow_at: datetime | None
    live_at: datetime | None
    retired_at: datetime | None

    @classmethod
    def build(cls, row: FraudRuleVersion) -> FraudRuleVersionView:
        return cls(
            id=strawberry.ID(str(row.id)),
            rule_id=strawberry.ID(str(row.rule_id)),
            version=row.version,
            name=row.name,
            description=row.description,
            condition=JSON(row.condition),
            score=row.score,
            event_kinds=[EventKind(k) for k in row.event_kinds],
            status=RuleStatus(row.status),
            author=row.author,
            approver=row.approver,
            created_at=row.created_at,
            shadow_at=row.shadow_at,
            live_at=row.live_at,
            retired_at=row.retired_at,
        )

    @strawberry.field(description="What it did on live traffic in [from, to).")
    async def stats(
        self,
        info: Info,
        from_: Annotated[datetime, strawberry.argument(name="from")],
        to: datetime | None = None,
    ) -> FraudRuleStatsView:
        start, end = _window(info, from_, to)
        async with info.context.db.session() as session:
            row = await session.get(FraudRuleVersion, int(self.id))
            assert row is not None
            stats = await version_stats(session, row, start, end)
        return FraudRuleStatsView.of(stats)


@strawberry.type(name="FraudSnooze")
class FraudSnoozeView:
    id: strawberry.ID
    rule_id: strawberry.ID
    scope: SnoozeScope
    value: str
    until: datetime
    reason: str
    created_by: str
    created_at: datetime
    lifted_at: datetime | None
    lifted_by: str | None
    active: bool

    @classmethod
    def build(cls, row: FraudSnooze, now: datetime) -> FraudSnoozeView:
        return cls(
            id=strawberry.ID(str(row.id)),
            rule_id=strawberry.ID(str(row.rule_id)),
            scope=SnoozeScope(row.scope),
            value=row.scope_value,
            until=row.until,
            reason=row.reason,
            created_by=row.created_by,
            created_at=row.created_at,
            lifted_at=row.lifted_at,
            lifted_by=row.lifted_by,
            active=row.lifted_at is None and row.until > now,
        )


@strawberry.type
class BacktestOverlap:
    both: int
    new_only: int
    live_only: int


@strawberry.type
class BacktestLabelled:
    true_positives: int
    false_positives: int
    false_negatives: int
    true_negatives: int
    precision: float | None
    recall: float | None


@strawberry.type
class BacktestDay:
    day: str
    hits: int


@strawberry.type
class BacktestSampleHit:
    event_id: str
    occurred_at: datetime
    features: JSON


@strawberry.type(
    name="Backtest",
    description="A version replayed over stored events; the figures are null until DONE.",
)
class BacktestView:
    id: strawberry.ID
    version_id: strawberry.ID
    from_: datetime = strawberry.field(name="from")
    to: datetime
    status: str = strawberry.field(description="RUNNING, DONE, FAILED or CANCELLED.")
    progress: float
    started_by: str
    created_at: datetime
    finished_at: datetime | None
    error: str | None
    evaluated: int | None = None
    hits: int | None = None
    hit_rate: float | None = None
    distinct_customers: int | None = None
    overlap: BacktestOverlap | None = None
    labelled: BacktestLabelled | None = None
    per_day: list[BacktestDay] | None = None
    sample_hits: list[BacktestSampleHit] | None = None

    @classmethod
    def build(cls, row: Backtest) -> BacktestView:
        view = cls(
            id=strawberry.ID(str(row.id)),
            version_id=strawberry.ID(str(row.version_id)),
            from_=row.window_start,
            to=row.window_end,
            status=row.status,
            progress=row.progress,
            started_by=row.started_by,
            created_at=row.created_at,
            finished_at=row.finished_at,
            error=row.error,
        )
        report = row.report
        if report is not None:
            view.evaluated, view.hits = report["evaluated"], report["hits"]
            view.hit_rate, view.distinct_customers = report["hitRate"], report["distinctCustomers"]
            overlap, labelled = report["overlap"], report["labelled"]
            view.overlap = BacktestOverlap(
                both=overlap["both"], new_only=overlap["newOnly"], live_only=overlap["liveOnly"]
            )
            view.labelled = BacktestLabelled(
                true_positives=labelled["truePositives"],
                false_positives=labelled["falsePositives"],
                false_negatives=labelled["falseNegatives"],
                true_negatives=labelled["trueNegatives"],
                precision=labelled["precision"],
                recall=labelled["recall"],
            )
            view.per_day = [BacktestDay(day=d["day"], hits=d["hits"]) for d in report["perDay"]]
            view.sample_hits = [
                BacktestSampleHit(
                    event_id=h["eventId"],
                    occurred_at=datetime.fromisoformat(h["occurredAt"]),
                    features=JSON(h["features"]),
                )
                for h in report["sampleHits"]
            ]
        return view


@strawberry.type
class BuiltInCheck:
    """One of the three suspicious-activity checks every event runs (DESIGN §1): they
    alert the customer themselves and keep their exact behaviour; their hits are the
    suspicious-activity log's entries."""

    reason: SuspicionReason
    name: str
    event_kinds: list[EventKind]
    description: str
    base_risk_score: int

    @strawberry.field(description="Entries in the suspicious-activity log in [from, to).")
    async def stats(
        self,
        info: Info,
        from_: Annotated[datetime, strawberry.argument(name="from")],
        to: datetime | None = None,
    ) -> FraudRuleStatsView:
        start, end = _window(info, from_, to)
        async with info.context.db.session() as session:
            kinds = [k.value for k in self.event_kinds]
            stats = await built_in_stats(session, self.reason, kinds, start, end)
        return FraudRuleStatsView.of(stats)


BUILT_IN = [
    BuiltInCheck(
        reason=SuspicionReason.NEW_DEVICE_TRANSACTION,
        name="Transaction from a new device",
        event_kinds=[EventKind.TRANSACTION],
        description="A transaction from a deviceId the customer never used before, when "
        "they have used others.",
        base_risk_score=BASE[SuspicionReason.NEW_DEVICE_TRANSACTION],
    ),
    BuiltInCheck(
        reason=SuspicionReason.UNUSUAL_LOCATION,
        name="Unusual location",
        event_kinds=[EventKind.TRANSACTION, EventKind.LOGIN],
        description="A transaction or successful sign-in more than 100 km from every place "
        "of the customer's in the 90 days before.",
        base_risk_score=BASE[SuspicionReason.UNUSUAL_LOCATION],
    ),
    BuiltInCheck(
        reason=SuspicionReason.MULTIPLE_FAILED_ATTEMPTS,
        name="Failed sign-ins",
        event_kinds=[EventKind.LOGIN],
        description="More than three failed sign-ins within 10 minutes.",
        base_risk_score=BASE[SuspicionReason.MULTIPLE_FAILED_ATTEMPTS],
    ),
]


def _window(info: Info, start: datetime, to: datetime | None) -> tuple[datetime, datetime]:
    end = to or info.context.now()
    if start.tzinfo is None or end.tzinfo is None:
        raise BadUserInput("times must include a time zone offset, e.g. Z", field="from")
    if end <= start:
        raise BadUserInput("to must be after from", field="to")
    if (end - start).days > MAX_STATS_DAYS:
        raise BadUserInput(f"a window of at most {MAX_STATS_DAYS} days", field="to")
    return start, end


@strawberry.type(name="FraudRule")
class FraudRuleView:
    id: strawberry.ID
    name: str
    created_by: str
    created_at: datetime
    versions: list[FraudRuleVersionView] = strawberry.field(description="Newest first.")

    @strawberry.field(description="The version on live traffic, if any.")
    def live_version(self) -> FraudRuleVersionView | None:
        return next((v for v in self.versions if v.status is RuleStatus.LIVE), None)


@strawberry.type(name="DecisionThresholds")
class DecisionThresholdsView:
    review: int
    block: int


@strawberry.input
class FraudRuleInput:
    name: str
    condition: JSON = strawberry.field(
        description='JSON, e.g. {"op": ">=", "args": [{"feature": "amount"}, 5000]}.'
    )
    score: int = strawberry.field(description="1-100, added to the event's score on a hit.")
    event_kinds: list[EventKind]
    description: str | None = None

    def domain(self) -> fraud_rules.RuleInput:
        return fraud_rules.RuleInput(
            name=self.name,
            description=self.description,
            condition=self.condition,
            score=self.score,
            event_kinds=[EventKind(k) for k in self.event_kinds],
        )


@strawberry.input
class SnoozeScopeInput:
    kind: SnoozeScope
    value: str = strawberry.field(description="The mobileUserId, account number or deviceId.")


async def _rules(info: Info, rule_id: int | None = None) -> list[FraudRuleView]:
    async with info.context.db.session() as session:
        query = select(FraudRule).order_by(col(FraudRule.id))
        if rule_id is not None:
            query = query.where(col(FraudRule.id) == rule_id)
        rules = (await session.exec(query)).all()
        versions = (
            await session.exec(
                select(FraudRuleVersion)
                .where(col(FraudRuleVersion.rule_id).in_([r.id for r in rules]))
                .order_by(col(FraudRuleVersion.version).desc())
            )
        ).all()
    return [
        FraudRuleView(
            id=strawberry.ID(str(r.id)),
            name=r.name,
            created_by=r.created_by,
            created_at=r.created_at,
            versions=[FraudRuleVersionView.build(v) for v in versions if v.rule_id == r.id],
        )
        for r in rules
    ]


@strawberry.type
class FraudQuery:
    @strawberry.field(permission_classes=[IsAdmin], description="What a condition can read.")
    def fraud_features(self) -> list[FraudFeatureView]:
        return [FraudFeatureView.build(f) for f in FEATURES.values()]

    @strawberry.field(
        permission_classes=[IsAdmin],
        description="The suspicious-activity checks every event runs beside the rules.",
    )
    def built_in_checks(self) -> list[BuiltInCheck]:
        return list(BUILT_IN)

    @strawberry.field(permission_classes=[IsAdmin])
    async def fraud_rules(self, info: Info) -> list[FraudRuleView]:
        return await _rules(info)

    @strawberry.field(permission_classes=[IsAdmin])
    async def fraud_rule(self, info: Info, id: strawberry.ID) -> FraudRuleView:
        key = row_key(str(id))
        found = await _rules(info, key) if key is not None else []
        if not found:
            raise NotFound(f"no fraud rule {id}", field="id")
        return found[0]

    @strawberry.field(permission_classes=[IsAdmin])
    async def fraud_rule_version(self, info: Info, id: strawberry.ID) -> FraudRuleVersionView:
        async with info.context.db.session() as session:
            row = await row_by_id(session, FraudRuleVersion, str(id))
        if row is None:
            raise NotFound(f"no fraud rule version {id}", field="id")
        return FraudRuleVersionView.build(row)

    @strawberry.field(permission_classes=[IsAdmin])
    async def decision_thresholds(self, info: Info) -> DecisionThresholdsView:
        async with info.context.db.session() as session:
            current = await fraud_rules.thresholds(session)
        return DecisionThresholdsView(review=current.review, block=current.block)

    @strawberry.field(permission_classes=[IsAdmin], description="Newest first.")
    async def fraud_snoozes(
        self, info: Info, active_only: bool = True, rule_id: strawberry.ID | None = None
    ) -> list[FraudSnoozeView]:
        now = info.context.now()
        query = select(FraudSnooze).order_by(col(FraudSnooze.id).desc())
        if active_only:
            query = query.where(col(FraudSnooze.until) > now, col(FraudSnooze.lifted_at).is_(None))
        if rule_id is not None:
            rule_key = row_key(str(rule_id))
            query = query.where(
                col(FraudSnooze.rule_id) == rule_key if rule_key is not None else False
            )
        async with info.context.db.session() as session:
            rows = (await session.exec(query)).all()
        return [FraudSnoozeView.build(r, now) for r in rows]

    @strawberry.field(permission_classes=[IsAdmin])
    async def backtest(self, info: Info, id: strawberry.ID) -> BacktestView:
        return BacktestView.build(await info.context.services.backtests.get(str(id)))

    @strawberry.field(permission_classes=[IsAdmin], description="Newest first.")
    async def backtests(self, info: Info, version_id: strawberry.ID) -> list[BacktestView]:
        await info.context.services.backtests.sweep()
        version_key = row_key(str(version_id))
        async with info.context.db.session() as session:
            rows = (
                (
                    await session.exec(
                        select(Backtest)
                        .where(col(Backtest.version_id) == version_key)
                        .order_by(col(Backtest.id).desc())
                    )
                ).all()
                if version_key is not None
                else []
            )
        return [BacktestView.build(r) for r in rows]


@strawberry.type
class FraudMutation:
    @strawberry.mutation(permission_classes=[IsAdmin], description="Version 1, as DRAFT.")
    async def create_fraud_rule(self, info: Info, input: FraudRuleInput) -> FraudRuleVersionView:
        version = await fraud_rules.create_rule(
            info.context.db, actor=info.context.actor(), rule=input.domain(), now=info.context.now()
        )
        return FraudRuleVersionView.build(version)

    @strawberry.mutation(permission_classes=[IsAdmin], description="A new DRAFT version.")
    async def revise_fraud_rule(
        self, info: Info, rule_id: strawberry.ID, input: FraudRuleInput
    ) -> FraudRuleVersionView:
        version = await fraud_rules.revise_rule(
            info.context.db,
            actor=info.context.actor(),
            rule_id=str(rule_id),
            rule=input.domain(),
            now=info.context.now(),
        )
        return FraudRuleVersionView.build(version)

    @strawberry.mutation(
        permission_classes=[IsAdmin],
        description="DRAFT -> SHADOW -> LIVE -> RETIRED. LIVE needs an approver other than the "
        "author, and retires the rule's previous LIVE version.",
    )
    async def set_fraud_rule_status(
        self, info: Info, version_id: strawberry.ID, status: RuleStatus
    ) -> FraudRuleVersionView:
        version = await fraud_rules.set_status(
            info.context.db,
            actor=info.context.actor(),
            version_id=str(version_id),
            status=RuleStatus(status),
            now=info.context.now(),
        )
        info.context.services.ingestor.rule_sets.invalidate()
        return FraudRuleVersionView.build(version)

    @strawberry.mutation(permission_classes=[IsAdmin])
    async def set_decision_thresholds(
        self, info: Info, review: int, block: int
    ) -> DecisionThresholdsView:
        current = await fraud_rules.set_thresholds(
            info.context.db,
            actor=info.context.actor(),
            review=review,
            block=block,
            now=info.context.now(),
        )
        info.context.services.ingestor.rule_sets.invalidate()
        return DecisionThresholdsView(review=current.review, block=current.block)

    @strawberry.mutation(
        permission_classes=[IsAdmin],
        description="The rule's hits in this scope are recorded as suppressed, never counted, "
        "until `until` (at most 180 days).",
    )
    async def snooze_rule(
        self,
        info: Info,
        rule_id: strawberry.ID,
        scope: SnoozeScopeInput,
        until: datetime,
        reason: str,
    ) -> FraudSnoozeView:
        row = await fraud_rules.snooze(
            info.context.db,
            actor=info.context.actor(),
            rule_id=str(rule_id),
            scope=SnoozeScope(scope.kind),
            value=scope.value,
            until=until,
            reason=reason,
            now=info.context.now(),
        )
        info.context.services.ingestor.rule_sets.invalidate()
        return FraudSnoozeView.build(row, info.context.now())

    @strawberry.mutation(permission_classes=[IsAdmin])
    async def lift_snooze(self, info: Info, id: strawberry.ID) -> FraudSnoozeView:
        row = await fraud_rules.lift_snooze(
            info.context.db, actor=info.context.actor(), snooze_id=str(id), now=info.context.now()
        )
        info.context.services.ingestor.rule_sets.invalidate()
        return FraudSnoozeView.build(row, info.context.now())

    @strawberry.mutation(
        permission_classes=[IsAdmin],
        description="Replay the stored events of [from, to) through a version, each with its "
        "features as they were when it arrived; writes nothing but the report.",
    )
    async def start_backtest(
        self,
        info: Info,
        version_id: strawberry.ID,
        from_: Annotated[datetime, strawberry.argument(name="from")],
        to: datetime,
    ) -> BacktestView:
        row = await info.context.services.backtests.start(
            actor=info.context.actor(), version_id=str(version_id), start=from_, end=to
        )
        return BacktestView.build(row)

    @strawberry.mutation(permission_classes=[IsAdmin])
    async def cancel_backtest(self, info: Info, id: strawberry.ID) -> BacktestView:
        return BacktestView.build(await info.context.services.backtests.cancel(backtest_id=str(id)))
