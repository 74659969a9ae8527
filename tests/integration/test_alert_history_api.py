"""The notification centre: history, filters, badge count and acknowledgement."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlmodel import select

from account_alerts.domain.enums import AlertType, NotificationChannel
from account_alerts.store.alerts import AccountAlert
from account_alerts.store.audit import AuditEntry
from account_alerts.store.customers import MobileUser
from account_alerts.store.database import Database
from tests.conftest import Api, error_code
from tests.support.factories import make_account, make_alert

HISTORY = """
query($account: String, $type: AlertType, $start: DateTime, $end: DateTime,
      $limit: Int, $offset: Int) {
  accountAlerts(accountNumber: $account, alertType: $type, startDate: $start, endDate: $end,
                limit: $limit, offset: $offset) {
    totalCount limit offset
    items {
      id alertType accountNumber status title message actions channelsSent isTest
      triggeredAt acknowledgedAt userAction
      deliveries { channel status attempts lastError sentAt providerMessageId }
      details {
        __typename
        ... on LowBalanceDetails { threshold currentBalance currency }
        ... on LargeTransactionDetails {
          threshold transactionAmount transactionType transactionId transactionReference
          transactionDescription currency
        }
        ... on SuspiciousActivityDetails {
          suspicionReason suspicionDetails relatedTransactionIds deviceId
          location { latitude longitude label } ipAddress detectedAt actionRequired riskScore
        }
        ... on PaymentDueDetails {
          paymentType paymentDescription amountDue currency dueDate reminderInterval
          beneficiaryName beneficiaryReference
        }
        ... on AccountLoginDetails {
          deviceId deviceName deviceModel deviceOs ipAddress location { label } loginMethod
          isNewDevice isNewLocation loginTimestamp
        }
      }
    }
  }
}"""
COUNT = "{ unacknowledgedAlertCount }"
ACK = "mutation($id: ID!, $action: UserAction) { acknowledgeAlert(alertId: $id, action: $action) }"
BASE = datetime(2026, 11, 1, 8, 0).astimezone()


async def history(api: Api, user: int, **variables: Any) -> dict[str, Any]:
    body = await api.as_customer(user, HISTORY, variables)
    assert "errors" not in body, body
    return body["data"]["accountAlerts"]  # type: ignore[no-any-return]


async def seed_history(db: Database) -> dict[str, int]:
    await make_account(db, user_id=7, account_number="1000000001")
    await make_account(db, user_id=7, account_number="1000000002")
    await make_account(db, user_id=8, account_number="1000000008")
    ids = {}
    for hour, (account, alert_type) in enumerate(
        [
            ("1000000001", AlertType.LOW_BALANCE),
            ("1000000001", AlertType.LARGE_TRANSACTION),
            ("1000000002", AlertType.PAYMENT_DUE),
            ("1000000001", AlertType.SUSPICIOUS_ACTIVITY),
            (None, AlertType.ACCOUNT_LOGIN),
        ]
    ):
        ids[alert_type.value] = await make_alert(
            db,
            user_id=7,
            account_number=account,
            alert_type=alert_type,
            triggered_at=BASE + timedelta(hours=hour),
            channels=(NotificationChannel.PUSH, NotificationChannel.SMS),
        )
    ids["other"] = await make_alert(
        db,
        user_id=8,
        account_number="1000000008",
        alert_type=AlertType.LOW_BALANCE,
        triggered_at=BASE,
    )
    return ids


async def test_history_is_newest_first_and_only_the_customers_own(api: Api, db: Database) -> None:
    ids = await seed_history(db)
    page = await history(api, 7)
    assert page["totalCount"] == 5
    assert (page["limit"], page["offset"]) == (20, 0)
    assert [item["alertType"] for item in page["items"]] == [
        "ACCOUNT_LOGIN",
        "SUSPICIOUS_ACTIVITY",
        "PAYMENT_DUE",
        "LARGE_TRANSACTION",
        "LOW_BALANCE",
    ]
    assert str(ids["other"]) not in {item["id"] for item in page["items"]}


async def test_each_alert_type_carries_its_own_details(api: Api, db: Database) -> None:
    await seed_history(db)
    items = {item["alertType"]: item for item in (await history(api, 7))["items"]}
    assert items["LOW_BALANCE"]["details"] == {
        "__typename": "LowBalanceDetails",
        "threshold": "5000.0000",
        "currentBalance": "1200.0000",
        "currency": "MWK",
    }
    large = items["LARGE_TRANSACTION"]["details"]
    assert large["__typename"] == "LargeTransactionDetails"
    assert (large["transactionAmount"], large["transactionType"]) == ("75000.5000", "DEBIT")
    suspicious = items["SUSPICIOUS_ACTIVITY"]
    assert suspicious["details"]["riskScore"] == 72
    assert suspicious["details"]["location"]["label"] == "Lilongwe"
    assert suspicious["details"]["suspicionDetails"] == {"distanceKm": 812.4}
    assert suspicious["actions"] == ["THIS_WAS_ME", "REPORT_FRAUD", "DISMISSED"]
    due = items["PAYMENT_DUE"]
    assert due["details"]["reminderInterval"] == "ONE_DAY"
    assert due["actions"] == ["QUICK_PAY", "DISMISSED"]
    login = items["ACCOUNT_LOGIN"]
    assert login["accountNumber"] is None
    assert login["details"]["loginMethod"] == "BIOMETRIC"
    assert "REPORT_FRAUD" in login["actions"]
    assert [d["channel"] for d in login["deliveries"]] == ["PUSH", "SMS"]
    assert {d["status"] for d in login["deliveries"]} == {"PENDING"}


async def test_messages_never_show_the_full_account_number(api: Api, db: Database) -> None:
    await seed_history(db)
    for item in (await history(api, 7))["items"]:
        assert "1000000001" not in item["message"]
        assert "1000000002" not in item["message"]
    large = next(
        i for i in (await history(api, 7))["items"] if i["alertType"] == "LARGE_TRANSACTION"
    )
    assert "****0001" in large["message"]


async def test_history_filters_by_account_type_and_dates(api: Api, db: Database) -> None:
    await seed_history(db)
    by_account = await history(api, 7, account="1000000001")
    assert by_account["totalCount"] == 3
    assert {i["accountNumber"] for i in by_account["items"]} == {"1000000001"}
    by_type = await history(api, 7, type="PAYMENT_DUE")
    assert [i["alertType"] for i in by_type["items"]] == ["PAYMENT_DUE"]
    window = await history(
        api,
        7,
        start=(BASE + timedelta(hours=1)).isoformat(),
        end=(BASE + timedelta(hours=3)).isoformat(),
    )
    assert [i["alertType"] for i in window["items"]] == [
        "SUSPICIOUS_ACTIVITY",
        "PAYMENT_DUE",
        "LARGE_TRANSACTION",
    ]


async def test_history_pages_with_limit_and_offset(api: Api, db: Database) -> None:
    await seed_history(db)
    first = await history(api, 7, limit=2)
    second = await history(api, 7, limit=2, offset=2)
    last = await history(api, 7, limit=2, offset=4)
    assert [p["totalCount"] for p in (first, second, last)] == [5, 5, 5]
    ids = [i["id"] for page in (first, second, last) for i in page["items"]]
    assert len(ids) == len(set(ids)) == 5
    assert (await history(api, 7, limit=2, offset=10))["items"] == []


async def test_history_refuses_bad_paging_and_foreign_accounts(api: Api, db: Database) -> None:
    await seed_history(db)
    for variables, code in [
        ({"limit": 101}, "BAD_USER_INPUT"),
        ({"limit": 0}, "BAD_USER_INPUT"),
        ({"offset": -1}, "BAD_USER_INPUT"),
        ({"start": "2026-11-02T00:00:00Z", "end": "2026-11-01T00:00:00Z"}, "BAD_USER_INPUT"),
        ({"start": "2026-11-02T00:00:00"}, "BAD_USER_INPUT"),
        ({"type": "NOT_A_TYPE"}, "BAD_USER_INPUT"),
        ({"account": "1000000008"}, "NOT_FOUND"),
        ({"account": "5555555555"}, "NOT_FOUND"),
    ]:
        body = await api.as_customer(7, HISTORY, variables)
        assert error_code(body) == code, (variables, body)


async def test_badge_counts_unacknowledged_alerts(api: Api, db: Database) -> None:
    ids = await seed_history(db)
    assert (await api.as_customer(7, COUNT))["data"]["unacknowledgedAlertCount"] == 5
    body = await api.as_customer(7, ACK, {"id": str(ids["LOW_BALANCE"])})
    assert body == {"data": {"acknowledgeAlert": True}}
    assert (await api.as_customer(7, COUNT))["data"]["unacknowledgedAlertCount"] == 4
    assert (await api.as_customer(8, COUNT))["data"]["unacknowledgedAlertCount"] == 1


async def test_acknowledging_twice_changes_nothing_more(api: Api, db: Database) -> None:
    ids = await seed_history(db)
    alert_id = str(ids["PAYMENT_DUE"])
    assert (await api.as_customer(7, ACK, {"id": alert_id, "action": "QUICK_PAY"}))["data"] == {
        "acknowledgeAlert": True
    }
    first = next(i for i in (await history(api, 7))["items"] if i["id"] == alert_id)
    api.clock.advance(minutes=5)
    assert (await api.as_customer(7, ACK, {"id": alert_id, "action": "QUICK_PAY"}))["data"] == {
        "acknowledgeAlert": True
    }
    assert (await api.as_customer(7, ACK, {"id": alert_id}))["data"] == {"acknowledgeAlert": True}
    again = next(i for i in (await history(api, 7))["items"] if i["id"] == alert_id)
    assert again == first
    assert (again["status"], again["userAction"]) == ("ACKNOWLEDGED", "QUICK_PAY")
    async with db.session() as session:
        acks = (
            await session.exec(select(AuditEntry).where(AuditEntry.action == "alert.acknowledged"))
        ).all()
    assert len(acks) == 1
    assert acks[0].after == {"status": "ACKNOWLEDGED", "userAction": "QUICK_PAY"}


async def test_an_action_that_does_not_fit_the_alert_is_refused(api: Api, db: Database) -> None:
    ids = await seed_history(db)
    body = await api.as_customer(
        7, ACK, {"id": str(ids["LARGE_TRANSACTION"]), "action": "QUICK_PAY"}
    )
    assert error_code(body) == "BAD_USER_INPUT"
    assert "QUICK_PAY does not apply" in body["errors"][0]["message"]
    async with db.session() as session:
        alert = await session.get(AccountAlert, ids["LARGE_TRANSACTION"])
    assert alert is not None
    assert (alert.acknowledged_at, alert.user_action, alert.status.value) == (None, None, "PENDING")


async def test_another_customers_alert_is_not_found(api: Api, db: Database) -> None:
    ids = await seed_history(db)
    # "²" and "١٢" are digits to str.isdigit, and no id of ours; nor are 19 digits.
    for alert_id in (str(ids["other"]), "999999", "not-a-number", "²", "١٢", "9" * 19):
        body = await api.as_customer(7, ACK, {"id": alert_id, "action": "DISMISSED"})
        assert error_code(body) == "NOT_FOUND", body
    async with db.session() as session:
        other = await session.get(AccountAlert, ids["other"])
    assert other is not None and other.acknowledged_at is None


async def test_reporting_fraud_on_a_login_alert_locks_the_user(api: Api, db: Database) -> None:
    ids = await seed_history(db)
    body = await api.as_customer(
        7, ACK, {"id": str(ids["ACCOUNT_LOGIN"]), "action": "REPORT_FRAUD"}
    )
    assert body == {"data": {"acknowledgeAlert": True}}
    async with db.session() as session:
        user = await session.get(MobileUser, 7)
        other = await session.get(MobileUser, 8)
        actions = [
            e.action for e in (await session.exec(select(AuditEntry).order_by(AuditEntry.id))).all()
        ]
    assert user is not None and user.locked and user.locked_at is not None
    assert other is not None and not other.locked
    # The report also opens a review case for the risk team, in the same transaction.
    assert actions == ["alert.acknowledged", "user.locked", "case.opened"]


async def test_fraud_can_still_be_reported_after_dismissing(api: Api, db: Database) -> None:
    ids = await seed_history(db)
    alert_id = str(ids["SUSPICIOUS_ACTIVITY"])
    await api.as_customer(7, ACK, {"id": alert_id, "action": "DISMISSED"})
    body = await api.as_customer(7, ACK, {"id": alert_id, "action": "THIS_WAS_ME"})
    assert error_code(body) == "BAD_USER_INPUT"
    body = await api.as_customer(7, ACK, {"id": alert_id, "action": "REPORT_FRAUD"})
    assert body == {"data": {"acknowledgeAlert": True}}
    async with db.session() as session:
        user = await session.get(MobileUser, 7)
    assert user is not None and user.locked
