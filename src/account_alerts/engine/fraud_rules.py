"""The risk team's rules: versions, the two-person rule for LIVE, thresholds and snoozes.

Every change is one transaction with its audit entry (before and after); a refused change
stores nothing. Live traffic sees a change at once in this process and within
``ALERTS_FRAUD_RULES_REFRESH_SECONDS`` in the others (engine.fraud_live)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from account_alerts.domain.fraud_decision import (
    DEFAULT_BLOCK,
    DEFAULT_REVIEW,
    MAX_SCORE,
    RuleStatus,
    SnoozeScope,
    Thresholds,
    check_thresholds,
)
from account_alerts.domain.fraud_features import EventKind
from account_alerts.domain.rule_conditions import ConditionError, parse
from account_alerts.engine.actor import Actor
from account_alerts.errors import BadUserInput, Forbidden, NotFound
from account_alerts.store import audit_trail
from account_alerts.store.base import row_by_id
from account_alerts.store.database import Database
from account_alerts.store.fraud_tables import (
    DecisionThresholds,
    FraudRule,
    FraudRuleVersion,
    FraudSnooze,
)

MAX_NAME = 120
MAX_DESCRIPTION = 1000
MAX_REASON = 500
MAX_SNOOZE = timedelta(days=180)

# Which status may follow which.
MOVES = {
    RuleStatus.DRAFT: {RuleStatus.SHADOW, RuleStatus.LIVE, RuleStatus.RETIRED},
    RuleStatus.SHADOW: {RuleStatus.LIVE, RuleStatus.RETIRED},
    RuleStatus.LIVE: {RuleStatus.RETIRED},
    RuleStatus.RETIRED: set(),
}


@dataclass(frozen=True)
class RuleInput:
    name: str
    description: str | None
    condition: Any
    score: int
    event_kinds: Sequence[EventKind]


def _checked(rule: RuleInput) -> dict[str, Any]:
    """The version's columns, or BAD_USER_INPUT naming the field at fault."""
    name = rule.name.strip()
    if not name or len(name) > MAX_NAME:
        raise BadUserInput(f"name must be 1-{MAX_NAME} characters", field="name")
    if rule.description is not None and len(rule.description) > MAX_DESCRIPTION:
        raise BadUserInput(
            f"description may be at most {MAX_DESCRIPTION} characters", field="description"
        )
    if not 1 <= rule.score <= MAX_SCORE:
        raise BadUserInput("score must be from 1 to 100", field="score")
    kinds = sorted(set(rule.event_kinds))
    if not kinds:
        raise BadUserInput("name at least one event kind (TRANSACTION, LOGIN)", field="eventKinds")
    try:
        condition = parse(rule.condition, kinds)
    except ConditionError as exc:
        raise BadUserInput(exc.message, field=exc.path) from exc
    return {
        "name": name,
        "description": rule.description,
        "condition": condition.document,
        "score": rule.score,
        "event_kinds": [k.value for k in kinds],
    }


def snapshot(version: FraudRuleVersion) -> dict[str, Any]:
    return {
        "ruleId": version.rule_id,
        "versionId": version.id,
        "version": version.version,
        "name": version.name,
        "status": version.status,
        "score": version.score,
        "eventKinds": list(version.event_kinds),
        "condition": version.condition,
        "author": version.author,
        "approver": version.approver,
    }


def _audit(
    session: AsyncSession,
    actor: Actor,
    action: str,
    now: datetime,
    subject_type: str,
    subject_id: object,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> None:
    audit_trail.record(
        session,
        actor_role=actor.role.value,
        actor_id=actor.id,
        action=action,
        occurred_at=now,
        subject_type=subject_type,
        subject_id=str(subject_id),
        before=before,
        after=after,
    )


async def _name_free(session: AsyncSession, name: str, rule_id: int | None) -> None:
    clash = (
        await session.exec(select(FraudRule).where(sa.func.lower(FraudRule.name) == name.lower()))
    ).first()
    if clash is not None and clash.id != rule_id:
        raise BadUserInput(f"a rule named {clash.name!r} exists already", field="name")


async def create_rule(
    db: Database, *, actor: Actor, rule: RuleInput, now: datetime
) -> FraudRuleVersion:
    """A new rule and its version 1, as DRAFT."""
    values = _checked(rule)
    author = _staff(actor)
    async with db.transaction() as session:
        await _name_free(session, values["name"], None)
        row = FraudRule(name=values["name"], created_by=author, created_at=now)
        session.add(row)
        await session.flush()
        assert row.id is not None
        version = FraudRuleVersion(
            rule_id=row.id,
            version=1,
            status=RuleStatus.DRAFT.value,
            author=author,
            created_at=now,
            **values,
        )
        session.add(version)
        await session.flush()
        _audit(
            session, actor, "fraud_rule.created", now, "fraud_rule", row.id, None, snapshot(version)
        )
    return version


async def revise_rule(
    db: Database, *, actor: Actor, rule_id: str, rule: RuleInput, now: datetime
) -> FraudRuleVersion:
    """A new DRAFT version of a rule; the versions before it stay as they are."""
    values = _checked(rule)
    async with db.transaction() as session:
        row = await _rule(session, rule_id)
        assert row.id is not None
        await _name_free(session, values["name"], row.id)
        newest = (
            await session.exec(
                select(sa.func.max(FraudRuleVersion.version)).where(
                    col(FraudRuleVersion.rule_id) == row.id
                )
            )
        ).one()
        version = FraudRuleVersion(
            rule_id=row.id,
            version=int(newest or 0) + 1,
            status=RuleStatus.DRAFT.value,
            author=_staff(actor),
            created_at=now,
            **values,
        )
        if row.name != values["name"]:
            row.name = values["name"]
            session.add(row)
        session.add(version)
        await session.flush()
        _audit(
            session, actor, "fraud_rule.revised", now, "fraud_rule", row.id, None, snapshot(version)
        )
    return version


async def set_status(
    db: Database, *, actor: Actor, version_id: str, status: RuleStatus, now: datetime
) -> FraudRuleVersion:
    """Move a version on. LIVE needs someone other than its author, and retires the rule's
    LIVE version before it; a retired version stays retired."""
    async with db.transaction() as session:
        version = await version_of(session, version_id, lock=True)
        current = RuleStatus(version.status)
        if status == current:
            return version
        if status not in MOVES[current]:
            raise BadUserInput(
                f"a {current.value} version cannot become {status.value}", field="status"
            )
        staff = _staff(actor)
        if status is RuleStatus.LIVE and staff == version.author:
            raise Forbidden(
                "a rule goes LIVE only when someone other than its author approves it",
                field="versionId",
            )
        before = snapshot(version)
        if status is RuleStatus.LIVE:
            previous = (
                await session.exec(
                    select(FraudRuleVersion).where(
                        col(FraudRuleVersion.rule_id) == version.rule_id,
                        col(FraudRuleVersion.status) == RuleStatus.LIVE.value,
                    )
                )
            ).all()
            for old in previous:
                old_before = snapshot(old)
                old.status, old.retired_at = RuleStatus.RETIRED.value, now
                session.add(old)
                _audit(
                    session,
                    actor,
                    "fraud_rule.retired",
                    now,
                    "fraud_rule_version",
                    old.id,
                    old_before,
                    snapshot(old),
                )
            version.approver, version.live_at = staff, now
        elif status is RuleStatus.SHADOW:
            version.shadow_at = now
        elif status is RuleStatus.RETIRED:
            version.retired_at = now
        version.status = status.value
        session.add(version)
        await session.flush()
        _audit(
            session,
            actor,
            "fraud_rule.status_changed",
            now,
            "fraud_rule_version",
            version.id,
            before,
            snapshot(version),
        )
    return version


async def thresholds(session: AsyncSession) -> Thresholds:
    row = await session.get(DecisionThresholds, 1)
    return Thresholds(row.review, row.block) if row else Thresholds()


async def set_thresholds(
    db: Database, *, actor: Actor, review: int, block: int, now: datetime
) -> Thresholds:
    problem = check_thresholds(review, block)
    if problem is not None:
        raise BadUserInput(problem, field="review" if review > block else "block")
    async with db.transaction() as session:
        row = await session.get(DecisionThresholds, 1, with_for_update=True)
        before = (
            {"review": row.review, "block": row.block}
            if row
            else {"review": DEFAULT_REVIEW, "block": DEFAULT_BLOCK}
        )
        if row is None:
            row = DecisionThresholds(id=1, review=review, block=block, updated_by=_staff(actor))
        row.review, row.block, row.updated_by, row.updated_at = review, block, _staff(actor), now
        session.add(row)
        _audit(
            session,
            actor,
            "fraud_thresholds.changed",
            now,
            "fraud_thresholds",
            1,
            before,
            {"review": review, "block": block},
        )
    return Thresholds(review, block)


async def snooze(
    db: Database,
    *,
    actor: Actor,
    rule_id: str,
    scope: SnoozeScope,
    value: str,
    until: datetime,
    reason: str,
    now: datetime,
) -> FraudSnooze:
    """Keep a rule's hits in one scope from counting until ``until`` (180 days at most)."""
    value = value.strip()
    if not value or len(value) > 255:
        raise BadUserInput("name the customer, account or device (1-255 characters)", field="value")
    if scope is SnoozeScope.CUSTOMER and not value.isdigit():
        raise BadUserInput("a customer is named by their mobileUserId", field="value")
    if until.tzinfo is None:
        raise BadUserInput("until must include a time zone offset, e.g. Z", field="until")
    if until <= now:
        raise BadUserInput("until must be in the future", field="until")
    if until - now > MAX_SNOOZE:
        raise BadUserInput("a snooze lasts at most 180 days", field="until")
    reason = reason.strip()
    if not reason or len(reason) > MAX_REASON:
        raise BadUserInput(f"give a reason of 1-{MAX_REASON} characters", field="reason")
    async with db.transaction() as session:
        rule = await _rule(session, rule_id)
        assert rule.id is not None
        row = FraudSnooze(
            rule_id=rule.id,
            scope=scope.value,
            scope_value=value,
            until=until,
            reason=reason,
            created_by=_staff(actor),
            created_at=now,
        )
        session.add(row)
        await session.flush()
        _audit(
            session,
            actor,
            "fraud_rule.snoozed",
            now,
            "fraud_snooze",
            row.id,
            None,
            snooze_json(row),
        )
    return row


async def lift_snooze(db: Database, *, actor: Actor, snooze_id: str, now: datetime) -> FraudSnooze:
    async with db.transaction() as session:
        row = await row_by_id(session, FraudSnooze, snooze_id)
        if row is None:
            raise NotFound(f"no snooze {snooze_id}", field="id")
        if row.lifted_at is None and row.until > now:
            before = snooze_json(row)
            row.lifted_at, row.lifted_by = now, _staff(actor)
            session.add(row)
            _audit(
                session,
                actor,
                "fraud_rule.snooze_lifted",
                now,
                "fraud_snooze",
                row.id,
                before,
                snooze_json(row),
            )
    return row


def snooze_json(row: FraudSnooze) -> dict[str, Any]:
    return {
        "ruleId": row.rule_id,
        "scope": row.scope,
        "value": row.scope_value,
        "until": row.until.isoformat(),
        "reason": row.reason,
        "liftedAt": row.lifted_at.isoformat() if row.lifted_at else None,
    }


async def _rule(session: AsyncSession, rule_id: str) -> FraudRule:
    row = await row_by_id(session, FraudRule, rule_id)
    if row is None:
        raise NotFound(f"no fraud rule {rule_id}", field="ruleId")
    return row


async def version_of(
    session: AsyncSession, version_id: str, *, lock: bool = False
) -> FraudRuleVersion:
    """The version, or NOT_FOUND naming ``versionId``."""
    row = await row_by_id(session, FraudRuleVersion, version_id, lock=lock)
    if row is None:
        raise NotFound(f"no fraud rule version {version_id}", field="versionId")
    return row


def _staff(actor: Actor) -> str:
    assert actor.id is not None
    return actor.id
