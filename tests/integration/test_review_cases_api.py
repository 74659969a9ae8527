"""The risk team's review cases over GraphQL: the queue, a case, and what analysts do."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from sqlmodel import col, select

from account_alerts.domain.cases import CaseSource
from account_alerts.domain.enums import Role
from account_alerts.store.audit import AuditEntry
from account_alerts.store.cases import ReviewCase
from account_alerts.store.customers import MobileUser
from account_alerts.store.database import Database
from tests.conftest import Api, Clock, error_code
from tests.support.events import RECORD_LOGIN, login
from tests.support.factories import make_account, make_case

ACCOUNT = "1000000007"
CASE_FIELDS = """
  id mobileUserId source eventId eventKind alertId status outcome openedAt ackDueAt overdue
  acknowledgedAt acknowledgedBy assignee resolvedAt resolvedBy resolutionNotes customerLocked
  decision {
    outcome score
    hits { ruleId versionId name score shadow suppressed nullFeatures features
           explanation { feature value contribution } }
  }
  timeline { kind actor occurredAt details }
"""
QUEUE = f"""query($s: CaseStatus, $o: Boolean, $a: String, $l: Int, $f: Int) {{
  reviewCases(status: $s, overdue: $o, assignee: $a, limit: $l, offset: $f) {{
    totalCount limit offset items {{ {CASE_FIELDS} }}
  }}
}}"""
ONE = f"query($id: ID!) {{ reviewCase(id: $id) {{ {CASE_FIELDS} }} }}"
ACK = f"mutation($id: ID!) {{ acknowledgeCase(id: $id) {{ {CASE_FIELDS} }} }}"
ASSIGN = f"mutation($id: ID!, $to: String!) {{ assignCase(id: $id, to: $to) {{ {CASE_FIELDS} }} }}"
COMMENT = (
    f"mutation($id: ID!, $t: String!) {{ commentCase(id: $id, text: $t) {{ {CASE_FIELDS} }} }}"
)
RESOLVE = f"""mutation($id: ID!, $o: CaseOutcome!, $n: String) {{
  resolveCase(id: $id, outcome: $o, notes: $n) {{ {CASE_FIELDS} }}
}}"""
ACK_ALERT = "mutation($id: ID!, $a: UserAction) { acknowledgeAlert(alertId: $id, action: $a) }"


def data(body: dict[str, Any], field: str) -> Any:
    assert "errors" not in body, body
    return body["data"][field]


async def as_staff(api: Api, staff: str, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    return await api.post(query, variables, token=api.token(staff, Role.ADMIN))


async def audit_actions(db: Database, case_id: str) -> list[tuple[str, str | None]]:
    async with db.session() as session:
        rows = (
            await session.exec(
                select(AuditEntry)
                .where(
                    col(AuditEntry.subject_type) == "review_case",
                    col(AuditEntry.subject_id) == case_id,
                )
                .order_by(col(AuditEntry.id))
            )
        ).all()
    return [(row.action, row.actor_id) for row in rows]


async def test_a_case_shows_its_decision_hits_features_and_explanation(
    api: Api, db: Database, clock: Clock
) -> None:
    await make_account(db, user_id=7, account_number=ACCOUNT)
    case_id = await make_case(db, user_id=7, opened_at=clock.now)
    case = data(await api.as_admin(ONE, {"id": str(case_id)}), "reviewCase")
    assert case["source"] == "DECISION_BLOCK" and case["status"] == "OPEN"
    assert case["eventId"] == "tx-event-case" and case["eventKind"] == "TRANSACTION"
    assert case["customerLocked"] is True and case["overdue"] is False
    decision = case["decision"]
    assert (decision["outcome"], decision["score"]) == ("BLOCK", 85)
    live, shadow = decision["hits"]
    assert live["name"] == "Large night transfer from a new device"
    assert live["nullFeatures"] == ["distanceKm"]
    assert live["features"] == {"amount": "250000.0000", "hourLocal": 3, "distanceKm": None}
    assert [part["feature"] for part in live["explanation"]] == ["amount", "hourLocal"]
    assert live["explanation"][0]["contribution"] == 0.61
    assert shadow["shadow"] is True and shadow["explanation"] is None
    assert [(e["kind"], e["actor"]) for e in case["timeline"]] == [("OPENED", "core-banking")]


async def test_the_queue_orders_by_due_time_and_filters(
    api: Api, db: Database, clock: Clock
) -> None:
    await make_account(db, user_id=7, account_number=ACCOUNT)
    late = await make_case(db, user_id=7, opened_at=clock.now, source=CaseSource.DECISION_REVIEW)
    early = await make_case(
        db, user_id=7, opened_at=clock.now - timedelta(minutes=2), event_id="tx-event-early"
    )
    page = data(await api.as_admin(QUEUE, {}), "reviewCases")
    assert [item["id"] for item in page["items"]] == [str(early), str(late)]
    assert page["totalCount"] == 2
    assert data(await api.as_admin(QUEUE, {"o": True}), "reviewCases")["totalCount"] == 0

    clock.advance(minutes=4)  # the early case is now 6 minutes old: past its 5
    overdue = data(await api.as_admin(QUEUE, {"o": True}), "reviewCases")
    assert [item["id"] for item in overdue["items"]] == [str(early)]
    assert overdue["items"][0]["overdue"] is True
    on_time = data(await api.as_admin(QUEUE, {"o": False}), "reviewCases")
    assert [item["id"] for item in on_time["items"]] == [str(late)]

    await api.as_admin(ASSIGN, {"id": str(late), "to": "risk-analyst-2"})
    mine = data(await api.as_admin(QUEUE, {"a": "risk-analyst-2"}), "reviewCases")
    assert [item["id"] for item in mine["items"]] == [str(late)]
    await api.as_admin(ACK, {"id": str(early)})
    acknowledged = data(await api.as_admin(QUEUE, {"s": "ACKNOWLEDGED"}), "reviewCases")
    assert [item["id"] for item in acknowledged["items"]] == [str(early)]
    assert acknowledged["items"][0]["overdue"] is False
    second_page = data(await api.as_admin(QUEUE, {"l": 1, "f": 1}), "reviewCases")
    assert (second_page["totalCount"], len(second_page["items"])) == (2, 1)
    assert error_code(await api.as_admin(QUEUE, {"l": 101})) == "BAD_USER_INPUT"
    assert error_code(await api.as_admin(QUEUE, {"f": -1})) == "BAD_USER_INPUT"


async def test_every_action_is_on_the_timeline_and_audited_with_who_and_when(
    api: Api, db: Database, clock: Clock
) -> None:
    await make_account(db, user_id=7, account_number=ACCOUNT)
    case_id = str(await make_case(db, user_id=7, opened_at=clock.now))
    clock.advance(seconds=40)
    acked = data(await as_staff(api, "ana", ACK, {"id": case_id}), "acknowledgeCase")
    assert (acked["status"], acked["acknowledgedBy"]) == ("ACKNOWLEDGED", "ana")
    again = data(await as_staff(api, "bob", ACK, {"id": case_id}), "acknowledgeCase")
    assert again["acknowledgedBy"] == "ana"  # acknowledging again changes nothing
    clock.advance(seconds=5)
    await as_staff(api, "ana", ASSIGN, {"id": case_id, "to": "bob"})
    await as_staff(api, "bob", COMMENT, {"id": case_id, "t": "<script>alert(1)</script> called"})
    clock.advance(seconds=5)
    resolved = data(
        await as_staff(api, "bob", RESOLVE, {"id": case_id, "o": "CONFIRMED_FRAUD", "n": "card"}),
        "resolveCase",
    )
    assert (resolved["status"], resolved["outcome"], resolved["resolvedBy"]) == (
        "RESOLVED",
        "CONFIRMED_FRAUD",
        "bob",
    )
    assert resolved["resolutionNotes"] == "card"
    assert resolved["customerLocked"] is True  # confirmed fraud keeps the lock
    timeline = [(e["kind"], e["actor"]) for e in resolved["timeline"]]
    assert timeline == [
        ("OPENED", "core-banking"),
        ("ACKNOWLEDGED", "ana"),
        ("ASSIGNED", "ana"),
        ("COMMENTED", "bob"),
        ("RESOLVED", "bob"),
    ]
    comment = resolved["timeline"][3]
    assert comment["details"]["text"] == "<script>alert(1)</script> called"
    times = [e["occurredAt"] for e in resolved["timeline"]]
    assert times == sorted(times) and times[0] != times[1]
    assert await audit_actions(db, case_id) == [
        ("case.opened", "core-banking"),
        ("case.acknowledged", "ana"),
        ("case.assigned", "ana"),
        ("case.commented", "bob"),
        ("case.resolved", "bob"),
    ]


async def test_false_positive_on_a_block_unlocks_the_customer_and_is_audited(
    api: Api, db: Database, clock: Clock
) -> None:
    await make_account(db, user_id=7, account_number=ACCOUNT)
    block = str(await make_case(db, user_id=7, opened_at=clock.now))
    review = str(
        await make_case(
            db, user_id=7, opened_at=clock.now, source=CaseSource.DECISION_REVIEW, event_id="r"
        )
    )
    # A REVIEW case cleared does not unlock: its decision never locked anyone.
    await api.as_admin(RESOLVE, {"id": review, "o": "FALSE_POSITIVE"})
    async with db.session() as session:
        user = await session.get(MobileUser, 7)
        assert user is not None and user.locked
    resolved = data(
        await api.as_admin(RESOLVE, {"id": block, "o": "FALSE_POSITIVE", "n": "was travelling"}),
        "resolveCase",
    )
    assert resolved["customerLocked"] is False
    async with db.session() as session:
        user = await session.get(MobileUser, 7)
        unlocked = (
            await session.exec(select(AuditEntry).where(col(AuditEntry.action) == "user.unlocked"))
        ).all()
    assert user is not None and not user.locked and user.locked_reason is None
    assert len(unlocked) == 1
    assert unlocked[0].actor_id == "risk-analyst-1" and unlocked[0].mobile_user_id == 7
    assert unlocked[0].before == {"locked": True, "lockedReason": "BLOCK decision"}
    assert block in unlocked[0].details["reason"]


async def test_a_customer_fraud_report_opens_a_case_and_clearing_it_unlocks(
    api: Api, db: Database
) -> None:
    await make_account(db, user_id=7, account_number=ACCOUNT)
    result = data(
        await api.as_service(RECORD_LOGIN, {"input": login(7, api.clock.now, device="new")}),
        "recordLogin",
    )
    alert_id = result["alerts"][0]["id"]
    assert data(
        await api.as_customer(7, ACK_ALERT, {"id": alert_id, "a": "REPORT_FRAUD"}),
        "acknowledgeAlert",
    )
    page = data(await api.as_admin(QUEUE, {}), "reviewCases")
    assert page["totalCount"] == 1
    case = page["items"][0]
    assert (case["source"], case["mobileUserId"], case["alertId"]) == ("REPORT_FRAUD", 7, alert_id)
    assert case["eventId"] == result["eventId"] and case["decision"] is None
    assert case["customerLocked"] is True
    assert case["timeline"][0]["actor"] == "7"
    # Answering the same way again opens no second case.
    await api.as_customer(7, ACK_ALERT, {"id": alert_id, "a": "REPORT_FRAUD"})
    assert data(await api.as_admin(QUEUE, {}), "reviewCases")["totalCount"] == 1
    cleared = data(
        await api.as_admin(RESOLVE, {"id": case["id"], "o": "FALSE_POSITIVE"}), "resolveCase"
    )
    assert cleared["customerLocked"] is False


async def test_two_analysts_resolving_at_once_one_wins(
    api: Api, db: Database, clock: Clock
) -> None:
    await make_account(db, user_id=7, account_number=ACCOUNT)
    case_id = str(await make_case(db, user_id=7, opened_at=clock.now))
    first, second = await asyncio.gather(
        as_staff(api, "ana", RESOLVE, {"id": case_id, "o": "CONFIRMED_FRAUD", "n": "ana"}),
        as_staff(api, "bob", RESOLVE, {"id": case_id, "o": "FALSE_POSITIVE", "n": "bob"}),
    )
    winners = [body for body in (first, second) if "errors" not in body]
    losers = [body for body in (first, second) if "errors" in body]
    assert len(winners) == 1 and len(losers) == 1
    won = winners[0]["data"]["resolveCase"]
    error = losers[0]["errors"][0]
    assert error["extensions"] == {"code": "CONFLICT", "field": "id"}
    assert f"already resolved as {won['outcome']} by {won['resolvedBy']}" in error["message"]
    case = data(await api.as_admin(ONE, {"id": case_id}), "reviewCase")
    assert (case["outcome"], case["resolutionNotes"]) == (won["outcome"], won["resolvedBy"])
    actions = [action for action, _ in await audit_actions(db, case_id)]
    assert actions.count("case.resolved") == 1
    # The loser changed nothing: had FALSE_POSITIVE lost, the customer stays locked.
    assert case["customerLocked"] is (won["outcome"] == "CONFIRMED_FRAUD")


async def test_refusals_change_nothing(api: Api, db: Database, clock: Clock) -> None:
    await make_account(db, user_id=7, account_number=ACCOUNT)
    case_id = str(await make_case(db, user_id=7, opened_at=clock.now))
    assert error_code(await api.as_customer(7, QUEUE, {})) == "FORBIDDEN"
    assert error_code(await api.as_service(ONE, {"id": case_id})) == "FORBIDDEN"
    assert error_code(await api.as_customer(7, ACK, {"id": case_id})) == "FORBIDDEN"
    assert error_code(await api.post(QUEUE, {})) == "UNAUTHENTICATED"
    for other_kind in ("abc", "424242", "-1", "1e3", "٣"):
        assert error_code(await api.as_admin(ONE, {"id": other_kind})) == "NOT_FOUND"
        assert error_code(await api.as_admin(ACK, {"id": other_kind})) == "NOT_FOUND"
    empty = await api.as_admin(COMMENT, {"id": case_id, "t": "   "})
    assert empty["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT", "field": "text"}
    long = await api.as_admin(COMMENT, {"id": case_id, "t": "x" * 2001})
    assert long["errors"][0]["extensions"]["field"] == "text"
    assert error_code(await api.as_admin(ASSIGN, {"id": case_id, "to": " "})) == "BAD_USER_INPUT"
    notes = await api.as_admin(RESOLVE, {"id": case_id, "o": "CONFIRMED_FRAUD", "n": "x" * 2001})
    assert notes["errors"][0]["extensions"]["field"] == "notes"
    bad_outcome = await api.as_admin(RESOLVE, {"id": case_id, "o": "MAYBE"})
    assert error_code(bad_outcome) == "BAD_USER_INPUT"
    assert await audit_actions(db, case_id) == [("case.opened", "core-banking")]
    await api.as_admin(RESOLVE, {"id": case_id, "o": "CONFIRMED_FRAUD"})
    for later in (
        await api.as_admin(RESOLVE, {"id": case_id, "o": "FALSE_POSITIVE"}),
        await api.as_admin(ACK, {"id": case_id}),
        await api.as_admin(ASSIGN, {"id": case_id, "to": "bob"}),
    ):
        assert error_code(later) == "CONFLICT"
    async with db.session() as session:
        case = await session.get(ReviewCase, int(case_id))
    assert case is not None and case.outcome is not None and case.assignee is None
    assert case.outcome.value == "CONFIRMED_FRAUD"
