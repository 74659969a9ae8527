"""The risk team's rules as GraphQL shows them: features, decisions and their hits."""

from __future__ import annotations

import strawberry
from strawberry.scalars import JSON

from account_alerts.domain import fraud_decision, fraud_features
from account_alerts.domain.fraud_decision import Outcome, RuleStatus, SnoozeScope
from account_alerts.domain.fraud_features import EventKind, FeatureType

# The domain's enums, under their GraphQL names (strawberry marks the classes themselves).
strawberry.enum(Outcome, name="DecisionOutcome")
strawberry.enum(RuleStatus, name="FraudRuleStatus")
strawberry.enum(SnoozeScope, name="SnoozeScope")
strawberry.enum(EventKind, name="EventKind")
strawberry.enum(FeatureType, name="FeatureType")

__all__ = ["EventKind", "FeatureType", "Outcome", "RuleStatus", "SnoozeScope"]


@strawberry.type(name="FraudFeature")
class FraudFeatureView:
    name: str
    type: FeatureType
    event_kinds: list[EventKind]
    description: str

    @classmethod
    def build(cls, feature: fraud_features.Feature) -> FraudFeatureView:
        return cls(
            name=feature.name,
            type=feature.type,
            event_kinds=sorted(feature.kinds),
            description=feature.description,
        )


@strawberry.type(name="FraudRuleHit")
class FraudRuleHitView:
    rule_id: strawberry.ID
    version_id: strawberry.ID
    name: str
    score: int
    shadow: bool = strawberry.field(description="A SHADOW version's hit: never counted.")
    suppressed: bool = strawberry.field(description="Snoozed in this scope: never counted.")
    null_features: list[str] = strawberry.field(
        description="Features that were null where the condition compared them."
    )
    features: JSON = strawberry.field(description="The values of the features it read.")

    @classmethod
    def build(cls, hit: fraud_decision.Hit) -> FraudRuleHitView:
        return cls(
            rule_id=strawberry.ID(str(hit.rule_id)),
            version_id=strawberry.ID(str(hit.version_id)),
            name=hit.name,
            score=hit.score,
            shadow=hit.shadow,
            suppressed=hit.suppressed,
            null_features=list(hit.null_features),
            features=JSON(hit.features),
        )


@strawberry.type(
    name="FraudDecision",
    description="The risk team's rules on an event: BLOCK at or above the block threshold "
    "(the customer's access is locked), REVIEW at or above the review threshold, else ALLOW.",
)
class FraudDecisionView:
    outcome: Outcome
    score: int
    hits: list[FraudRuleHitView]

    @classmethod
    def build(cls, decision: fraud_decision.Decision) -> FraudDecisionView:
        return cls(
            outcome=decision.outcome,
            score=decision.score,
            hits=[FraudRuleHitView.build(h) for h in decision.hits],
        )
