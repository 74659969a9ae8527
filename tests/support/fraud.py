"""The risk team's rule documents and helpers for tests."""

from __future__ import annotations

from typing import Any

from account_alerts.domain.enums import Role
from tests.conftest import Api

DECISION_FIELDS = """eventId duplicate userLocked
  decision {
    outcome score
    hits { ruleId versionId name score shadow suppressed nullFeatures features }
  }
  alerts {
    id alertType
    details { __typename ... on SuspiciousActivityDetails { suspicionReason riskScore } }
  }"""
RECORD_TRANSACTION = f"""mutation($input: TransactionEventInput!) {{
  recordTransaction(input: $input) {{ {DECISION_FIELDS} }} }}"""
RECORD_TRANSACTIONS = f"""mutation($inputs: [TransactionEventInput!]!) {{
  recordTransactions(inputs: $inputs) {{ {DECISION_FIELDS} }} }}"""
RECORD_LOGIN = f"""mutation($input: LoginEventInput!) {{
  recordLogin(input: $input) {{ {DECISION_FIELDS} }} }}"""
VERSION_FIELDS = "id ruleId version name status score eventKinds condition author approver"
CREATE = f"""mutation($input: FraudRuleInput!) {{
  createFraudRule(input: $input) {{ {VERSION_FIELDS} }} }}"""
REVISE = f"""mutation($rule: ID!, $input: FraudRuleInput!) {{
  reviseFraudRule(ruleId: $rule, input: $input) {{ {VERSION_FIELDS} }} }}"""
SET_STATUS = f"""mutation($v: ID!, $s: FraudRuleStatus!) {{
  setFraudRuleStatus(versionId: $v, status: $s) {{ {VERSION_FIELDS} }} }}"""
RULES = f"query {{ fraudRules {{ id name versions {{ {VERSION_FIELDS} }} liveVersion {{ id }} }} }}"
STATS = """query($v: ID!, $from: DateTime!, $to: DateTime) {
  fraudRuleVersion(id: $v) { stats(from: $from, to: $to) {
    evaluated hits hitRate distinctCustomers overlapWithLive } } }"""
THRESHOLDS = """mutation($r: Int!, $b: Int!) {
  setDecisionThresholds(review: $r, block: $b) { review block } }"""
SNOOZE = """mutation($rule: ID!, $scope: SnoozeScopeInput!, $until: DateTime!, $reason: String!) {
  snoozeRule(ruleId: $rule, scope: $scope, until: $until, reason: $reason) {
    id ruleId scope value until reason createdBy active } }"""

APPROVER = "risk-lead-2"


def feature(name: str) -> dict[str, str]:
    return {"feature": name}


def op(name: str, *args: Any) -> dict[str, Any]:
    return {"op": name, "args": list(args)}


def rule(
    name: str, condition: Any, score: int, kinds: tuple[str, ...] = ("TRANSACTION",)
) -> dict[str, Any]:
    return {"name": name, "condition": condition, "score": score, "eventKinds": list(kinds)}


async def as_approver(api: Api, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    """The second person: an admin other than the author (``Api.as_admin``)."""
    return await api.post(query, variables, token=api.token(APPROVER, Role.ADMIN))


async def deploy(api: Api, spec: dict[str, Any], status: str = "LIVE") -> dict[str, Any]:
    """A rule written by the analyst and moved to ``status`` by the second person."""
    created = await api.as_admin(CREATE, {"input": spec})
    version = created["data"]["createFraudRule"]
    if status == "SHADOW":
        moved = await api.as_admin(SET_STATUS, {"v": version["id"], "s": "SHADOW"})
    else:
        moved = await as_approver(api, SET_STATUS, {"v": version["id"], "s": status})
    result: dict[str, Any] = moved["data"]["setFraudRuleStatus"]
    return result
