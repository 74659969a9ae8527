"""The risk team's view of one customer: their alert history and an overview, each read
audited with who looked at whom and when."""

from __future__ import annotations

from typing import Any

from account_alerts.store import sms_consent
from account_alerts.store.database import Database
from tests.conftest import Api, Clock, error_code
from tests.support.audit import audit_entries
from tests.support.delivery import PHONE, reachable_customer
from tests.support.events import LILONGWE, RECORD_LOGIN, RECORD_TRANSACTION, login, transaction
from tests.support.factories import make_account, make_case

ACCOUNT = "1000000007"
HISTORY = """query($u: Int, $t: AlertType, $l: Int) {
  accountAlerts(mobileUserId: $u, alertType: $t, limit: $l) {
    totalCount items { alertType accountNumber title }
  }
}"""
OVERVIEW = """query($u: Int!) {
  customerOverview(mobileUserId: $u) {
    mobileUserId locked lockedReason
    accounts { accountNumber currency locked settings { lowBalanceThreshold smsOptedOut } }
    channels { channel destination verified optedOut registeredDevices }
    recentEvents { eventId kind alertIds }
    suspiciousActivities { suspicionReason riskScore }
    reviewCases { id source status }
  }
}"""


async def reads(db: Database) -> list[tuple[str | None, int | None, dict[str, Any]]]:
    rows = await audit_entries(db, "customer.viewed")
    return [(row.actor_id, row.mobile_user_id, row.details) for row in rows]


async def two_customers_with_alerts(api: Api, db: Database, clock: Clock) -> None:
    await make_account(db, user_id=7, account_number=ACCOUNT)
    await make_account(db, user_id=8, account_number="1000000008")
    await api.as_service(RECORD_LOGIN, {"input": login(7, clock.now, device="p7")})
    await api.as_service(RECORD_LOGIN, {"input": login(8, clock.now, device="p8")})
    await api.as_service(
        RECORD_TRANSACTION,
        {"input": transaction(ACCOUNT, "90000", clock.now, device="other", location=LILONGWE)},
    )


async def test_the_risk_team_reads_any_customers_alerts_and_the_read_is_audited(
    api: Api, db: Database, clock: Clock
) -> None:
    await two_customers_with_alerts(api, db, clock)
    body = await api.as_admin(HISTORY, {"u": 7})
    assert "errors" not in body, body
    page = body["data"]["accountAlerts"]
    own_history = HISTORY.replace("$u: Int, ", "").replace("mobileUserId: $u, ", "")
    own = (await api.as_customer(7, own_history, {}))["data"]
    assert page == own["accountAlerts"]  # the same page the customer sees
    assert page["totalCount"] >= 2
    large = await api.as_admin(HISTORY, {"u": 7, "t": "LARGE_TRANSACTION"})
    assert [i["alertType"] for i in large["data"]["accountAlerts"]["items"]] == [
        "LARGE_TRANSACTION"
    ]
    assert await reads(db) == [
        ("risk-analyst-1", 7, {"view": "accountAlerts"}),
        ("risk-analyst-1", 7, {"view": "accountAlerts"}),
    ]


async def test_customers_may_not_name_a_customer_and_admins_must(
    api: Api, db: Database, clock: Clock
) -> None:
    await two_customers_with_alerts(api, db, clock)
    assert error_code(await api.as_customer(7, HISTORY, {"u": 8})) == "FORBIDDEN"
    assert error_code(await api.as_customer(7, HISTORY, {"u": 7})) == "FORBIDDEN"
    assert error_code(await api.as_service(HISTORY, {"u": 7})) == "FORBIDDEN"
    missing = await api.as_admin(HISTORY, {})
    assert missing["errors"][0]["extensions"] == {
        "code": "BAD_USER_INPUT",
        "field": "mobileUserId",
    }
    assert error_code(await api.as_customer(7, OVERVIEW, {"u": 7})) == "FORBIDDEN"
    assert error_code(await api.as_admin(OVERVIEW, {"u": 4242})) == "NOT_FOUND"
    assert await reads(db) == []


async def test_the_overview_shows_accounts_channels_lock_events_and_suspicions(
    api: Api, db: Database, clock: Clock
) -> None:
    await two_customers_with_alerts(api, db, clock)
    await reachable_customer(db, 7)
    async with db.transaction() as session:
        await sms_consent.record_opt_out(
            session, phone=PHONE, source="sms-reply", by_customer=True, now=clock.now
        )
    case_id = await make_case(db, user_id=7, opened_at=clock.now)
    body = await api.as_admin(OVERVIEW, {"u": 7})
    assert "errors" not in body, body
    view = body["data"]["customerOverview"]
    assert (view["mobileUserId"], view["locked"], view["lockedReason"]) == (
        7,
        True,
        "BLOCK decision",
    )
    [account] = view["accounts"]
    assert account["accountNumber"] == ACCOUNT and account["currency"] == "MWK"
    assert account["settings"] == {"lowBalanceThreshold": "5000.0000", "smsOptedOut": True}
    channels = {c["channel"]: c for c in view["channels"]}
    assert channels["SMS"]["optedOut"] is True and channels["SMS"]["verified"] is True
    assert PHONE not in str(channels) and channels["SMS"]["destination"].endswith(PHONE[-2:])
    assert channels["EMAIL"]["destination"].startswith("c***@")
    assert channels["PUSH"]["registeredDevices"] == 1
    kinds = {event["kind"] for event in view["recentEvents"]}
    assert len(view["recentEvents"]) == 2 and len(kinds) == 2
    reasons = {entry["suspicionReason"] for entry in view["suspiciousActivities"]}
    assert reasons == {"NEW_DEVICE_TRANSACTION"}
    assert view["reviewCases"] == [
        {"id": str(case_id), "source": "DECISION_BLOCK", "status": "OPEN"}
    ]
    assert await reads(db) == [("risk-analyst-1", 7, {"view": "customerOverview"})]
