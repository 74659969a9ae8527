"""The risk team's rules through GraphQL: versions and the two-person rule, decisions on
live events, shadow mode, snoozes and thresholds — on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import SQLModel, col, select

from account_alerts.store.alerts import AccountAlert, AlertDelivery, SuspiciousActivity
from account_alerts.store.audit import AuditEntry
from account_alerts.store.cases import ReviewCase
from account_alerts.store.customers import MobileUser
from account_alerts.store.database import Database
from account_alerts.store.fraud_tables import FraudRule, FraudRuleHit, FraudRuleVersion
from account_alerts.store.webhook_tables import WebhookEvent
from tests.conftest import Api, error_code
from tests.support.events import BLANTYRE, LILONGWE, login, transaction
from tests.support.factories import make_account
from tests.support.fraud import (
    CREATE,
    RECORD_LOGIN,
    RECORD_TRANSACTION,
    RECORD_TRANSACTIONS,
    REVISE,
    RULES,
    SET_STATUS,
    SNOOZE,
    STATS,
    THRESHOLDS,
    as_approver,
    deploy,
    feature,
    op,
    rule,
)

ACCOUNT = "1000000001"
FEATURES = "query { fraudFeatures { name type eventKinds description } }"
STATUS = "query($u: Int!) { userStatus(mobileUserId: $u) { locked lockedReason } }"
LARGE = op(">=", feature("amount"), 5000)


def at(hours: float = 0) -> datetime:
    base = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(days=1)
    return base + timedelta(hours=hours)


async def count(db: Database, table: type[SQLModel]) -> int:
    async with db.session() as session:
        return int((await session.exec(select(sa.func.count()).select_from(table))).one())


async def counts(db: Database) -> dict[str, int]:
    tables: list[type[SQLModel]] = [
        FraudRule,
        FraudRuleVersion,
        FraudRuleHit,
        AccountAlert,
        AlertDelivery,
        SuspiciousActivity,
        AuditEntry,
        ReviewCase,
    ]
    return {t.__name__: await count(db, t) for t in tables}


async def record(api: Api, event: dict[str, Any]) -> dict[str, Any]:
    body = await api.as_service(RECORD_TRANSACTION, {"input": event})
    assert "errors" not in body, body
    result: dict[str, Any] = body["data"]["recordTransaction"]
    return result


async def test_the_feature_registry_is_for_admins(api: Api) -> None:
    body = await api.as_admin(FEATURES)
    features = {f["name"]: f for f in body["data"]["fraudFeatures"]}
    assert {
        "amount",
        "transactionType",
        "currency",
        "hourLocal",
        "deviceKnown",
        "distanceKm",
        "failedLogins10m",
        "txCount1h",
        "txSum24h",
        "deviceCustomers24h",
        "ipCustomers1h",
        "anomalyScore",
    } <= set(features)
    assert features["amount"]["type"] == "NUMBER"
    assert features["deviceKnown"]["type"] == "BOOLEAN"
    assert sorted(features["deviceKnown"]["eventKinds"]) == ["LOGIN", "TRANSACTION"]
    assert error_code(await api.as_service(FEATURES)) == "FORBIDDEN"
    assert error_code(await api.as_customer(7, FEATURES)) == "FORBIDDEN"
    assert error_code(await api.post(FEATURES)) == "UNAUTHENTICATED"


async def test_bad_rules_are_refused_with_the_path_and_store_nothing(
    api: Api, db: Database
) -> None:
    before = await counts(db)
    cases = [
        (
            rule("r", op("and", LARGE, op("<", feature("nope"), 1)), 50),
            "condition.args[1].args[0].feature",
        ),
        (
            rule("r", op("and", LARGE, op("==", feature("amount"), "big")), 50),
            "condition.args[1].args[1]",
        ),
        (rule("r", "{not json", 50), "condition"),
        (
            rule("r", op("or", *[op(">", feature("amount"), i) for i in range(5000)]), 50),
            "condition.args[66].args[0]",
        ),
        (rule("r", LARGE, 101), "score"),
        (rule("r", LARGE, 50, ("LOGIN",)), "condition.args[0].feature"),
        (rule("", LARGE, 50), "name"),
    ]
    for spec, path in cases:
        body = await api.as_admin(CREATE, {"input": spec})
        assert error_code(body) == "BAD_USER_INPUT", body
        assert body["errors"][0]["extensions"]["field"] == path, body["errors"][0]
    assert error_code(await api.as_service(CREATE, {"input": rule("r", LARGE, 50)})) == "FORBIDDEN"
    assert await counts(db) == before


async def test_versions_need_a_second_person_to_go_live_and_are_audited(
    api: Api, db: Database
) -> None:
    created = (await api.as_admin(CREATE, {"input": rule("Large debit", LARGE, 50)}))["data"][
        "createFraudRule"
    ]
    assert (created["status"], created["version"], created["author"]) == (
        "DRAFT",
        1,
        "risk-analyst-1",
    )
    # The author cannot approve their own rule; nothing changes.
    refused = await api.as_admin(SET_STATUS, {"v": created["id"], "s": "LIVE"})
    assert error_code(refused) == "FORBIDDEN"
    shadow = await api.as_admin(SET_STATUS, {"v": created["id"], "s": "SHADOW"})
    assert shadow["data"]["setFraudRuleStatus"]["status"] == "SHADOW"
    live = (await as_approver(api, SET_STATUS, {"v": created["id"], "s": "LIVE"}))["data"][
        "setFraudRuleStatus"
    ]
    assert (live["status"], live["approver"]) == ("LIVE", "risk-lead-2")
    # A revision is a new DRAFT; approving it retires the LIVE one.
    revised = (
        await api.as_admin(
            REVISE,
            {
                "rule": created["ruleId"],
                "input": rule("Large debit", op(">=", feature("amount"), 9000), 60),
            },
        )
    )["data"]["reviseFraudRule"]
    assert (revised["version"], revised["status"]) == (2, "DRAFT")
    await as_approver(api, SET_STATUS, {"v": revised["id"], "s": "LIVE"})
    listed = (await api.as_admin(RULES))["data"]["fraudRules"][0]
    assert [(v["version"], v["status"]) for v in listed["versions"]] == [
        (2, "LIVE"),
        (1, "RETIRED"),
    ]
    assert listed["liveVersion"]["id"] == revised["id"]
    backwards = await api.as_admin(SET_STATUS, {"v": created["id"], "s": "LIVE"})
    assert error_code(backwards) == "BAD_USER_INPUT"
    async with db.session() as session:
        audit = (
            await session.exec(
                select(AuditEntry)
                .where(col(AuditEntry.action).startswith("fraud_rule"))
                .order_by(col(AuditEntry.id))
            )
        ).all()
    actions = [(a.action, a.actor_id) for a in audit]
    assert actions == [
        ("fraud_rule.created", "risk-analyst-1"),
        ("fraud_rule.status_changed", "risk-analyst-1"),
        ("fraud_rule.status_changed", "risk-lead-2"),
        ("fraud_rule.revised", "risk-analyst-1"),
        ("fraud_rule.retired", "risk-lead-2"),
        ("fraud_rule.status_changed", "risk-lead-2"),
    ]
    went_live = audit[2]
    assert went_live.before is not None and went_live.after is not None
    assert (went_live.before["status"], went_live.after["status"]) == ("SHADOW", "LIVE")


async def test_review_and_block_decisions_on_live_events(api: Api, db: Database) -> None:
    await make_account(db, user_id=7, account_number=ACCOUNT)
    await deploy(api, rule("Large debit", LARGE, 50))
    await deploy(
        api,
        rule(
            "Large on an unknown device",
            op("and", LARGE, op("==", feature("deviceKnown"), False)),
            40,
        ),
    )
    # Nothing matches: ALLOW, as before.
    small = await record(api, transaction(ACCOUNT, "100", at(), device="phone"))
    assert small["decision"] == {"outcome": "ALLOW", "score": 0, "hits": []}
    review = await record(api, transaction(ACCOUNT, "6000", at(1), device="phone"))
    assert review["decision"]["outcome"] == "REVIEW"
    assert review["decision"]["score"] == 50
    [hit] = review["decision"]["hits"]
    assert (hit["name"], hit["shadow"], hit["suppressed"]) == ("Large debit", False, False)
    assert hit["features"] == {"amount": 6000.0}
    assert review["userLocked"] is False
    assert (await api.as_service(STATUS, {"u": 7}))["data"]["userStatus"]["locked"] is False
    # Both rules: 90 >= 80, BLOCK: the customer is locked and told, through security channels.
    event = transaction(ACCOUNT, "7000", at(2), device="stranger")
    blocked = await record(api, event)
    assert blocked["decision"]["outcome"] == "BLOCK"
    assert blocked["decision"]["score"] == 90
    assert blocked["userLocked"] is True
    status = (await api.as_service(STATUS, {"u": 7}))["data"]["userStatus"]
    assert status["locked"] is True and "RULE_MATCH" in status["lockedReason"]
    reasons = [
        a["details"]["suspicionReason"]
        for a in blocked["alerts"]
        if a["details"]["__typename"] == "SuspiciousActivityDetails"
    ]
    assert "RULE_MATCH" in reasons
    # The same event again: the same decision, nothing new.
    before = await counts(db)
    again = await record(api, event)
    assert again["duplicate"] is True
    assert again["decision"] == blocked["decision"]
    assert await counts(db) == before


async def test_a_shadow_rule_matching_everything_changes_nothing(api: Api, db: Database) -> None:
    await make_account(db, user_id=7, account_number=ACCOUNT)
    await make_account(db, user_id=8, account_number="1000000008")
    version = await deploy(
        api, rule("Everything", op(">", feature("amount"), 0), 100, ("TRANSACTION",)), "SHADOW"
    )
    started = datetime.now(UTC) - timedelta(minutes=1)
    # Events that alert on nothing: the customer's usual device, small amounts.
    await api.as_service(RECORD_LOGIN, {"input": login(7, at(), device="phone")})
    before = await counts(db)
    results = [
        await record(api, transaction(ACCOUNT, "10", at(1), device="phone")),
        await record(api, transaction(ACCOUNT, "20", at(2), device="phone")),
    ]
    for result in results:
        assert result["decision"]["outcome"] == "ALLOW"
        assert result["decision"]["score"] == 0
        [hit] = result["decision"]["hits"]
        assert hit["shadow"] is True
        assert result["alerts"] == []
        assert result["userLocked"] is False
    after = await counts(db)
    assert after.pop("FraudRuleHit") == before.pop("FraudRuleHit") + 2
    assert after == before  # no alert, no delivery (outbox), no log entry, no audit
    async with db.session() as session:
        user = await session.get(MobileUser, 7)
        assert user is not None and user.locked is False
    stats = (
        await api.as_admin(
            STATS,
            {
                "v": version["id"],
                "from": started.isoformat(),
                "to": (datetime.now(UTC) + timedelta(minutes=1)).isoformat(),
            },
        )
    )["data"]["fraudRuleVersion"]["stats"]
    assert stats == {
        "evaluated": 2,
        "hits": 2,
        "hitRate": 1.0,
        "distinctCustomers": 1,
        "overlapWithLive": 0,
    }


async def test_snoozed_hits_are_recorded_but_not_counted_until_the_snooze_ends(
    api: Api, db: Database, clock: Any
) -> None:
    await make_account(db, user_id=7, account_number=ACCOUNT)
    version = await deploy(api, rule("Large debit", LARGE, 50))
    until = clock() + timedelta(days=1)
    snooze = await api.as_admin(
        SNOOZE,
        {
            "rule": version["ruleId"],
            "scope": {"kind": "CUSTOMER", "value": "7"},
            "until": until.isoformat(),
            "reason": "salary top-up every month",
        },
    )
    assert snooze["data"]["snoozeRule"]["active"] is True
    quiet = await record(api, transaction(ACCOUNT, "6000", at(), device="phone"))
    assert quiet["decision"]["outcome"] == "ALLOW"
    assert quiet["decision"]["hits"][0]["suppressed"] is True
    too_long = await api.as_admin(
        SNOOZE,
        {
            "rule": version["ruleId"],
            "scope": {"kind": "DEVICE", "value": "phone"},
            "until": (clock() + timedelta(days=5 * 365)).isoformat(),
            "reason": "x",
        },
    )
    assert error_code(too_long) == "BAD_USER_INPUT"
    assert too_long["errors"][0]["extensions"]["field"] == "until"
    clock.advance(days=1, seconds=1)
    api.client._transport.app.state.services.ingestor.rule_sets.invalidate()  # type: ignore[attr-defined]
    counted = await record(api, transaction(ACCOUNT, "6000", at(1), device="phone"))
    assert counted["decision"]["outcome"] == "REVIEW"
    assert counted["decision"]["hits"][0]["suppressed"] is False


async def test_thresholds_are_audited_and_checked(api: Api, db: Database) -> None:
    await make_account(db, user_id=7, account_number=ACCOUNT)
    await deploy(api, rule("Large debit", LARGE, 50))
    assert error_code(await api.as_admin(THRESHOLDS, {"r": 90, "b": 60})) == "BAD_USER_INPUT"
    assert error_code(await api.as_admin(THRESHOLDS, {"r": 0, "b": 60})) == "BAD_USER_INPUT"
    changed = await api.as_admin(THRESHOLDS, {"r": 20, "b": 50})
    assert changed["data"]["setDecisionThresholds"] == {"review": 20, "block": 50}
    blocked = await record(api, transaction(ACCOUNT, "6000", at(), device="phone"))
    assert blocked["decision"]["outcome"] == "BLOCK"
    async with db.session() as session:
        entry = (
            await session.exec(
                select(AuditEntry).where(col(AuditEntry.action) == "fraud_thresholds.changed")
            )
        ).one()
    assert (entry.before, entry.after) == ({"review": 40, "block": 80}, {"review": 20, "block": 50})


async def test_same_second_events_and_customers_sharing_a_device(api: Api, db: Database) -> None:
    for user in (1, 2, 3):
        await make_account(db, user_id=user, account_number=f"100000000{user}")
    await deploy(
        api,
        rule("Unknown device", op("==", feature("deviceKnown"), False), 10, ("LOGIN",)),
    )
    await deploy(
        api,
        rule(
            "Mule device", op(">=", feature("deviceCustomers24h"), 3), 50, ("TRANSACTION", "LOGIN")
        ),
    )
    second = at()
    first = await api.as_service(RECORD_LOGIN, {"input": login(1, second, device="shared")})
    again = await api.as_service(RECORD_LOGIN, {"input": login(1, second, device="shared")})
    names = [h["name"] for h in first["data"]["recordLogin"]["decision"]["hits"]]
    assert names == ["Unknown device"]
    # Arrived second within the same second: the device is known by then.
    assert again["data"]["recordLogin"]["decision"]["hits"] == []
    batch = await api.as_service(
        RECORD_TRANSACTIONS,
        {
            "inputs": [
                transaction("1000000002", "50", second, device="shared"),
                transaction("1000000003", "50", second, device="shared"),
            ]
        },
    )
    two, three = batch["data"]["recordTransactions"]
    assert two["decision"]["hits"] == []
    [mule] = three["decision"]["hits"]
    assert (mule["name"], mule["features"]) == ("Mule device", {"deviceCustomers24h": 3})
    assert three["decision"]["outcome"] == "REVIEW"


BUILT_IN = """query($from: DateTime!) { builtInChecks {
  reason eventKinds baseRiskScore
  stats(from: $from) { hits distinctCustomers overlapWithLive } } }"""


async def test_the_built_in_checks_read_beside_the_rules(api: Api, db: Database) -> None:
    await make_account(db, user_id=7, account_number=ACCOUNT)
    await deploy(api, rule("Far away", op(">", feature("distanceKm"), 150), 10))
    since = (datetime.now(UTC) - timedelta(days=3)).isoformat()
    await api.as_service(RECORD_LOGIN, {"input": login(7, at(), device="p", location=BLANTYRE)})
    far = await record(api, transaction(ACCOUNT, "10", at(1), device="p", location=LILONGWE))
    assert [h["name"] for h in far["decision"]["hits"]] == ["Far away"]
    assert [a["details"]["suspicionReason"] for a in far["alerts"]] == ["UNUSUAL_LOCATION"]
    checks = {
        c["reason"]: c
        for c in (await api.as_admin(BUILT_IN, {"from": since}))["data"]["builtInChecks"]
    }
    assert set(checks) == {"NEW_DEVICE_TRANSACTION", "UNUSUAL_LOCATION", "MULTIPLE_FAILED_ATTEMPTS"}
    assert checks["UNUSUAL_LOCATION"]["stats"] == {
        "hits": 1,
        "distinctCustomers": 1,
        "overlapWithLive": 1,
    }
    assert checks["MULTIPLE_FAILED_ATTEMPTS"]["stats"]["hits"] == 0
    assert error_code(await api.as_customer(7, BUILT_IN, {"from": since})) == "FORBIDDEN"


CASES = """query { reviewCases { totalCount items {
  id source eventId alertId status customerLocked
  decision { outcome score hits { name score features } } } } }"""
RESOLVE_CASE = """mutation($id: ID!, $o: CaseOutcome!) {
  resolveCase(id: $id, outcome: $o, notes: "checked with the customer") {
    status outcome customerLocked } }"""


async def test_review_and_block_open_cases_and_a_false_positive_unlocks(
    api: Api, db: Database
) -> None:
    await make_account(db, user_id=7, account_number=ACCOUNT)
    await deploy(api, rule("Large debit", LARGE, 50))
    await deploy(api, rule("Very large", op(">=", feature("amount"), 20000), 40))
    review = await record(api, transaction(ACCOUNT, "6000", at(), device="phone"))
    block = await record(api, transaction(ACCOUNT, "30000", at(1), device="phone"))
    assert (review["decision"]["outcome"], block["decision"]["outcome"]) == ("REVIEW", "BLOCK")
    page = (await api.as_admin(CASES))["data"]["reviewCases"]
    assert page["totalCount"] == 2
    by_event = {c["eventId"]: c for c in page["items"]}
    opened_review, opened_block = by_event[review["eventId"]], by_event[block["eventId"]]
    assert (opened_review["source"], opened_review["alertId"]) == ("DECISION_REVIEW", None)
    assert opened_review["decision"]["hits"] == [
        {"name": "Large debit", "score": 50, "features": {"amount": 6000.0}}
    ]
    rule_alert = next(
        a["id"]
        for a in block["alerts"]
        if a["details"]["__typename"] == "SuspiciousActivityDetails"
    )
    assert (opened_block["source"], opened_block["alertId"]) == ("DECISION_BLOCK", rule_alert)
    assert opened_block["decision"]["score"] == 90
    assert opened_block["customerLocked"] is True
    resolved = (
        await api.as_admin(RESOLVE_CASE, {"id": opened_block["id"], "o": "FALSE_POSITIVE"})
    )["data"]["resolveCase"]
    assert (resolved["status"], resolved["customerLocked"]) == ("RESOLVED", False)
    assert (await api.as_service(STATUS, {"u": 7}))["data"]["userStatus"]["locked"] is False
    # The bank's other systems hear of each, in the transaction of the change.
    async with db.session() as session:
        events = (await session.exec(select(WebhookEvent).order_by(col(WebhookEvent.id)))).all()
    announced = [(e.event_type, json.loads(e.body)["data"]) for e in events]
    types = [t for t, _ in announced]
    assert types.count("decision.review") == 1 and types.count("decision.block") == 1
    assert types.count("case.opened") == 2 and types.count("case.resolved") == 1
    assert types.count("user.locked") == 1 and types.count("user.unlocked") == 1
    block_data = next(d for t, d in announced if t == "decision.block")
    assert block_data["eventId"] == block["eventId"]
    assert (block_data["score"], block_data["accountNumber"]) == (90, "****0001")
    assert {h["name"] for h in block_data["hits"]} == {"Large debit", "Very large"}
