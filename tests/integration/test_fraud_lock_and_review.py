"""A customer's "Not you?" locks them at once; the risk team reviews and resolves."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlmodel import col, select

from account_alerts.store.audit import AuditEntry
from account_alerts.store.customers import Account
from account_alerts.store.database import Database
from tests.conftest import Api, error_code
from tests.support.events import (
    BLANTYRE,
    LILONGWE,
    RECORD_LOGIN,
    RECORD_TRANSACTION,
    login,
    transaction,
)
from tests.support.factories import make_account

ACCOUNT = "1000000001"
ACK = "mutation($id: ID!, $a: UserAction) { acknowledgeAlert(alertId: $id, action: $a) }"
STATUS = (
    "query($u: Int!) { userStatus(mobileUserId: $u) { mobileUserId locked lockedAt lockedReason } }"
)
LOG = """query($u: Int, $r: Boolean, $min: Int) {
  suspiciousActivities(mobileUserId: $u, resolved: $r, minRiskScore: $min) {
    totalCount
    items { id alertId mobileUserId accountNumber suspicionReason riskScore detectionDetails
            relatedTransactionIds deviceId location isResolved resolutionAction adminNotes
            userLocked }
  }
}"""
RESOLVE = """mutation($id: ID!, $a: ResolutionAction!, $n: String) {
  resolveSuspiciousActivity(id: $id, action: $a, notes: $n) {
    id isResolved resolutionAction adminNotes resolvedAt userLocked
  }
}"""


def day(hours: float = 0) -> datetime:
    base = datetime.now(UTC).replace(hour=6, minute=0, second=0, microsecond=0) - timedelta(days=2)
    return base + timedelta(hours=hours)


async def suspicious_setup(api: Api, db: Database) -> None:
    await make_account(db, user_id=7, account_number=ACCOUNT)
    await make_account(db, user_id=8, account_number="1000000008")
    await api.as_service(RECORD_LOGIN, {"input": login(7, day(), device="p1", location=BLANTYRE)})
    await api.as_service(
        RECORD_TRANSACTION,
        {"input": transaction(ACCOUNT, "100", day(1), device="other", location=LILONGWE)},
    )
    await api.as_service(RECORD_LOGIN, {"input": login(8, day(), device="p8", location=BLANTYRE)})


async def test_not_you_locks_the_customer_and_services_see_it(api: Api, db: Database) -> None:
    await make_account(db, user_id=7, account_number=ACCOUNT)
    result = (await api.as_service(RECORD_LOGIN, {"input": login(7, day(), device="new")}))["data"][
        "recordLogin"
    ]
    assert result["userLocked"] is False
    alert_id = result["alerts"][0]["id"]
    assert (await api.as_service(STATUS, {"u": 7}))["data"]["userStatus"]["locked"] is False
    body = await api.as_customer(7, ACK, {"id": alert_id, "a": "REPORT_FRAUD"})
    assert body == {"data": {"acknowledgeAlert": True}}
    status = (await api.as_service(STATUS, {"u": 7}))["data"]["userStatus"]
    assert status["locked"] is True
    assert f"alert {alert_id}" in status["lockedReason"]
    later = await api.as_service(RECORD_LOGIN, {"input": login(7, day(1), device="new")})
    assert later["data"]["recordLogin"]["userLocked"] is True
    assert error_code(await api.as_service(STATUS, {"u": 999})) == "NOT_FOUND"
    assert error_code(await api.as_customer(7, STATUS, {"u": 7})) == "FORBIDDEN"


async def test_risk_team_lists_the_log_with_scores_and_lock_state(api: Api, db: Database) -> None:
    await suspicious_setup(api, db)
    body = await api.as_admin(LOG, {"u": 7})
    assert "errors" not in body, body
    page = body["data"]["suspiciousActivities"]
    assert page["totalCount"] == 2
    reasons = {item["suspicionReason"] for item in page["items"]}
    assert reasons == {"NEW_DEVICE_TRANSACTION", "UNUSUAL_LOCATION"}
    for item in page["items"]:
        assert item["accountNumber"] == ACCOUNT
        assert item["deviceId"] == "other"
        assert item["location"] == "Lilongwe"
        assert item["userLocked"] is False and item["isResolved"] is False
        assert "riskComponents" in item["detectionDetails"]
    high = await api.as_admin(LOG, {"min": 101})
    assert high["data"]["suspiciousActivities"]["totalCount"] == 0
    assert error_code(await api.as_customer(7, LOG, {})) == "FORBIDDEN"
    assert error_code(await api.as_service(LOG, {})) == "FORBIDDEN"


async def test_resolving_a_case(api: Api, db: Database) -> None:
    await suspicious_setup(api, db)
    items = (await api.as_admin(LOG, {"u": 7}))["data"]["suspiciousActivities"]["items"]
    first, second = items[0]["id"], items[1]["id"]
    body = await api.as_admin(RESOLVE, {"id": first, "a": "CONFIRMED_LEGITIMATE", "n": "called"})
    resolved = body["data"]["resolveSuspiciousActivity"]
    assert (resolved["isResolved"], resolved["resolutionAction"], resolved["adminNotes"]) == (
        True,
        "CONFIRMED_LEGITIMATE",
        "called",
    )
    assert resolved["userLocked"] is False
    again = await api.as_admin(RESOLVE, {"id": first, "a": "FRAUD_REPORTED"})
    assert error_code(again) == "BAD_USER_INPUT"
    assert error_code(await api.as_admin(RESOLVE, {"id": "424242", "a": "FRAUD_REPORTED"})) == (
        "NOT_FOUND"
    )
    assert (
        error_code(
            await api.as_admin(RESOLVE, {"id": second, "a": "FRAUD_REPORTED", "n": "x" * 2001})
        )
        == "BAD_USER_INPUT"
    )
    locked = await api.as_admin(RESOLVE, {"id": second, "a": "ACCOUNT_LOCKED"})
    assert locked["data"]["resolveSuspiciousActivity"]["resolutionAction"] == "ACCOUNT_LOCKED"
    async with db.session() as session:
        account = await session.get(Account, ACCOUNT)
        actions = [
            e.action
            for e in (
                await session.exec(
                    select(AuditEntry)
                    .where(col(AuditEntry.actor_role) == "admin")
                    .order_by(col(AuditEntry.id))
                )
            ).all()
        ]
    assert account is not None and account.locked
    assert actions == [
        "suspicious_activity.resolved",
        "suspicious_activity.resolved",
        "account.locked",
    ]
    unresolved = await api.as_admin(LOG, {"r": False})
    assert unresolved["data"]["suspiciousActivities"]["totalCount"] == 0
    assert error_code(await api.as_customer(7, RESOLVE, {"id": first, "a": "FRAUD_REPORTED"})) == (
        "FORBIDDEN"
    )


async def test_fraud_reported_by_the_risk_team_locks_the_customer(api: Api, db: Database) -> None:
    await suspicious_setup(api, db)
    item = (await api.as_admin(LOG, {"u": 7}))["data"]["suspiciousActivities"]["items"][0]
    body = await api.as_admin(RESOLVE, {"id": item["id"], "a": "FRAUD_REPORTED"})
    assert body["data"]["resolveSuspiciousActivity"]["userLocked"] is True
    listed = (await api.as_admin(LOG, {"u": 7}))["data"]["suspiciousActivities"]["items"]
    assert all(i["userLocked"] for i in listed)
    assert (await api.as_service(STATUS, {"u": 7}))["data"]["userStatus"]["locked"] is True
    assert (await api.as_service(STATUS, {"u": 8}))["data"]["userStatus"]["locked"] is False
