"""The risk team's rules applied to one event: hits, snoozes and the decision (DESIGN §5.1).

The score is the sum of the LIVE, unsuppressed hits, capped at 100; BLOCK at or above the
block threshold, REVIEW at or above the review threshold, else ALLOW. SHADOW hits and
suppressed (snoozed) hits are recorded and returned, never counted."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from account_alerts.domain.alert_settings import AlertPreferences
from account_alerts.domain.decisions import Detection, RaiseAlert
from account_alerts.domain.enums import AlertType, SuspicionReason
from account_alerts.domain.fraud_features import EventKind, Value
from account_alerts.domain.geo import GeoPoint
from account_alerts.domain.rule_conditions import Condition

DEFAULT_REVIEW = 40
DEFAULT_BLOCK = 80
MAX_SCORE = 100


class Outcome(StrEnum):
    ALLOW = "ALLOW"
    REVIEW = "REVIEW"
    BLOCK = "BLOCK"


class RuleStatus(StrEnum):
    DRAFT = "DRAFT"
    SHADOW = "SHADOW"
    LIVE = "LIVE"
    RETIRED = "RETIRED"


class SnoozeScope(StrEnum):
    CUSTOMER = "CUSTOMER"
    ACCOUNT = "ACCOUNT"
    DEVICE = "DEVICE"


@dataclass(frozen=True)
class Hit:
    rule_id: int
    version_id: int
    name: str
    score: int
    shadow: bool
    suppressed: bool
    null_features: tuple[str, ...]
    features: dict[str, Value]
    # Why the anomaly score was high, for a hit whose condition read it: each feature
    # that raised it, with its value and contribution ({"feature", "value",
    # "contribution"}).
    explanation: tuple[dict[str, Any], ...] = ()

    def to_json(self) -> dict[str, Any]:
        document = {
            "ruleId": self.rule_id,
            "versionId": self.version_id,
            "name": self.name,
            "score": self.score,
            "shadow": self.shadow,
            "suppressed": self.suppressed,
            "nullFeatures": list(self.null_features),
            "features": dict(self.features),
        }
        if self.explanation:
            document["explanation"] = list(self.explanation)
        return document

    @classmethod
    def from_json(cls, document: Mapping[str, Any]) -> Hit:
        return cls(
            rule_id=document["ruleId"],
            version_id=document["versionId"],
            name=document["name"],
            score=document["score"],
            shadow=document["shadow"],
            suppressed=document["suppressed"],
            null_features=tuple(document["nullFeatures"]),
            features=dict(document["features"]),
            explanation=tuple(document.get("explanation", ())),
        )


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    score: int
    hits: tuple[Hit, ...] = ()

    @property
    def counted(self) -> list[Hit]:
        return [h for h in self.hits if not h.shadow and not h.suppressed]

    def to_json(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome.value,
            "score": self.score,
            "hits": [h.to_json() for h in self.hits],
        }

    @classmethod
    def from_json(cls, document: Mapping[str, Any]) -> Decision:
        return cls(
            Outcome(document["outcome"]),
            document["score"],
            tuple(Hit.from_json(h) for h in document["hits"]),
        )


ALLOW = Decision(Outcome.ALLOW, 0)


@dataclass(frozen=True)
class Thresholds:
    review: int = DEFAULT_REVIEW
    block: int = DEFAULT_BLOCK

    def outcome(self, score: int) -> Outcome:
        if score >= self.block:
            return Outcome.BLOCK
        if score >= self.review:
            return Outcome.REVIEW
        return Outcome.ALLOW


def check_thresholds(review: int, block: int) -> str | None:
    """Why a pair of thresholds is refused, or None."""
    if not (1 <= review <= MAX_SCORE and 1 <= block <= MAX_SCORE):
        return "thresholds are scores from 1 to 100"
    if review > block:
        return "the review threshold may not be above the block threshold"
    return None


@dataclass(frozen=True)
class ActiveVersion:
    """A SHADOW or LIVE version, its condition compiled."""

    rule_id: int
    version_id: int
    name: str
    score: int
    kinds: frozenset[EventKind]
    condition: Condition
    shadow: bool


@dataclass(frozen=True)
class Snooze:
    rule_id: int
    scope: SnoozeScope
    value: str
    until: datetime


@dataclass(frozen=True)
class Subject:
    """Who and what an event is about, for snoozes."""

    customer: int
    account: str | None
    device: str | None

    def covered_by(self, snooze: Snooze) -> bool:
        match snooze.scope:
            case SnoozeScope.CUSTOMER:
                return snooze.value == str(self.customer)
            case SnoozeScope.ACCOUNT:
                return snooze.value == self.account
            case SnoozeScope.DEVICE:
                return snooze.value == self.device


@dataclass(frozen=True)
class RuleSet:
    """What runs on live traffic: the SHADOW and LIVE versions, active snoozes, thresholds."""

    versions: tuple[ActiveVersion, ...] = ()
    snoozes: tuple[Snooze, ...] = ()
    thresholds: Thresholds = Thresholds()
    _needed: dict[EventKind, frozenset[str]] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        for kind in EventKind:
            self._needed[kind] = frozenset(
                name for v in self.versions if kind in v.kinds for name in v.condition.features
            )

    def applies(self, kind: EventKind) -> bool:
        return any(kind in v.kinds for v in self.versions)

    def needed(self, kind: EventKind) -> frozenset[str]:
        """The features the versions for ``kind`` read (no more is computed)."""
        return self._needed[kind]

    def evaluate(
        self,
        kind: EventKind,
        features: Mapping[str, Value],
        subject: Subject,
        now: datetime,
        explain: Callable[[], tuple[dict[str, Any], ...]] = tuple,
    ) -> Decision:
        """``explain``: the anomaly score's explanation, asked for only by a hit whose
        condition read the score."""
        hits: list[Hit] = []
        for version in self.versions:
            if kind not in version.kinds:
                continue
            holds, nulls = version.condition.evaluate(features)
            if not holds:
                continue
            suppressed = any(
                s.rule_id == version.rule_id and s.until > now and subject.covered_by(s)
                for s in self.snoozes
            )
            hits.append(
                Hit(
                    rule_id=version.rule_id,
                    version_id=version.version_id,
                    name=version.name,
                    score=version.score,
                    shadow=version.shadow,
                    suppressed=suppressed,
                    null_features=tuple(nulls),
                    features={name: features.get(name) for name in version.condition.features},
                    explanation=(explain() if "anomalyScore" in version.condition.features else ()),
                )
            )
        return decide(hits, self.thresholds)


def decide(hits: Sequence[Hit], thresholds: Thresholds) -> Decision:
    score = min(MAX_SCORE, sum(h.score for h in hits if not h.shadow and not h.suppressed))
    return Decision(thresholds.outcome(score), score, tuple(hits))


def rule_match_alert(
    decision: Decision,
    *,
    account_number: str | None,
    at: datetime,
    prefs: AlertPreferences,
    device_id: str | None,
    ip_address: str | None,
    location: GeoPoint | None,
    related_transaction_ids: list[str],
) -> RaiseAlert:
    """The customer's SUSPICIOUS_ACTIVITY alert for a BLOCK, through their security
    channels; the suspicious-activity log gets the rules that matched."""
    rules = [{"ruleId": h.rule_id, "name": h.name, "score": h.score} for h in decision.counted]
    detection = Detection(SuspicionReason.RULE_MATCH, {"rules": rules, "score": decision.score})
    return RaiseAlert(
        alert_type=AlertType.SUSPICIOUS_ACTIVITY,
        account_number=account_number,
        triggered_at=at,
        data={
            "suspicionReason": SuspicionReason.RULE_MATCH.value,
            "suspicionDetails": {"patterns": [{"reason": "RULE_MATCH", "rules": rules}]},
            "relatedTransactionIds": related_transaction_ids,
            "deviceId": device_id,
            "location": location.as_json() if location else None,
            "ipAddress": ip_address,
            "detectedAt": at.isoformat(),
            "actionRequired": True,
            "riskScore": decision.score,
        },
        channels=prefs.suspicious_activity_channels,
        detections=(detection,),
        risk_score=decision.score,
        risk_components={"rules": decision.score},
    )
