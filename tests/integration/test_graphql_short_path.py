"""The executor's short path for plain fields answers exactly as graphql-core does.

The same documents of the real schema go to two apps on one database, one with the short
path (the default) and one with ``ALERTS_GRAPHQL_SHORT_PATH`` off, and the responses'
``data`` and ``errors`` must be equal as JSON. The data comes in through the service API,
so every alert type and its details exist as the bank's feeds create them."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlmodel import col, select

from account_alerts.api.app import create_app
from account_alerts.api.execution import LeafFieldsExecutionContext
from account_alerts.config import Settings
from account_alerts.delivery.channels.factory import build_channels
from account_alerts.delivery.worker import DeliveryWorker
from account_alerts.domain.enums import AlertType, Role
from account_alerts.scheduling import payment_due_job
from account_alerts.store.alerts import AccountAlert
from account_alerts.store.database import Database
from tests.conftest import Api, Clock
from tests.support.events import (
    BLANTYRE,
    LILONGWE,
    RECORD_LOGIN,
    RECORD_TRANSACTION,
    RECORD_TRANSACTIONS,
    SYNC_BALANCE,
    balance,
    login,
    transaction,
)

CUSTOMER = 1001
ACCOUNT = "1000123456"
SAVINGS = "1000123457"
README = Path(__file__).resolve().parents[2] / "README.md"

UPSERT_ACCOUNT = """mutation($input: AccountInput!) {
  upsertAccount(input: $input) { accepted } }"""
REGISTER_PUSH_DEVICE = """mutation {
  registerPushDevice(deviceId: "phone-1", token: "push-token-1", platform: "android") }"""
UPSERT_PAYMENT = """mutation($input: ScheduledPaymentInput!) {
  upsertScheduledPayment(input: $input) { accepted } }"""

HISTORY_PAGE = """
query History($limit: Int) {
  accountAlerts(limit: $limit) {
    totalCount limit offset
    items {
      id alertType accountNumber status title message actions channelsSent isTest
      sentAt acknowledgedAt userAction triggeredAt createdAt
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
          deviceId deviceName deviceModel deviceOs ipAddress
          location { latitude longitude label } loginMethod isNewDevice isNewLocation
          loginTimestamp
        }
      }
    }
  }
}"""

FRAGMENTS_AND_DIRECTIVES = """
query Page($type: AlertType, $limit: Int!, $withDeliveries: Boolean!, $brief: Boolean!) {
  __typename
  badge: unacknowledgedAlertCount
  latest: accountAlerts(limit: $limit) { ...Page }
  chosen: accountAlerts(alertType: $type) {
    total: totalCount
    items {
      __typename
      kind: alertType
      ...Alert
      deliveries @include(if: $withDeliveries) { __typename channel state: status }
    }
  }
}
fragment Page on AccountAlertsResult {
  __typename totalCount
  items { ...Alert deliveries @skip(if: $brief) { channel attempts } }
}
fragment Alert on AccountAlert {
  id
  heading: title
  message @skip(if: $brief)
  details {
    __typename
    ...Money
    ... on SuspiciousActivityDetails { why: suspicionReason where: location { __typename label } }
    ... on AccountLoginDetails { deviceId place: location { label } isNewDevice }
    ... on PaymentDueDetails @include(if: $withDeliveries) { due: dueDate amountDue }
  }
}
fragment Money on AlertDetails {
  ... on LowBalanceDetails { threshold balance: currentBalance currency }
  ... on LargeTransactionDetails { amount: transactionAmount transactionType }
}"""

SUSPICIOUS_LOG = """{
  suspiciousActivities(limit: 50) {
    totalCount
    items {
      id alertId mobileUserId accountNumber suspicionReason riskScore detectionDetails
      relatedTransactionIds deviceId ipAddress location isResolved resolvedAt
      resolutionAction adminNotes detectedAt userLocked
    }
  }
}"""
SETTINGS = f"""accountAlertSettings(accountNumber: "{ACCOUNT}") {{
  lowBalanceThreshold lowBalanceChannels loginAlertMode quietHoursStart updatedAt }}"""
PAGE_SUMMARY = "accountAlerts { totalCount items { id title } }"
USER_STATUS = f"userStatus(mobileUserId: {CUSTOMER}) {{ mobileUserId locked lockedAt }}"


def quick_start_query() -> str:
    match = re.search(r"```graphql\n(.*?)```", README.read_text(), re.DOTALL)
    assert match is not None, "the README's quick start has a GraphQL query"
    return match.group(1)


@pytest.fixture
async def general_api(settings: Settings, db: Database, clock: Clock) -> AsyncIterator[Api]:
    """The same app with the short path off: graphql-core executes every field."""
    general = Settings(
        database_url=settings.database_url,
        jwt_secret=settings.jwt_secret,
        graphql_short_path=False,
    )
    app = create_app(general, database=db, clock=clock)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://alerts.test") as client:
        yield Api(client, general, clock)


class BothPaths:
    def __init__(self, short: Api, general: Api) -> None:
        self.short = short
        self.general = general

    async def ask(
        self, query: str, variables: dict[str, Any] | None = None, *, role: Role | None = None
    ) -> dict[str, Any]:
        """The short path's response, once it is the general path's too."""
        token = None
        if role is Role.CUSTOMER:
            token = self.short.token(CUSTOMER)
        elif role is Role.SERVICE:
            token = self.short.token("core-banking", Role.SERVICE)
        elif role is Role.ADMIN:
            token = self.short.token("risk-analyst-1", Role.ADMIN)
        short = await self.short.post(query, variables, token=token)
        general = await self.general.post(query, variables, token=token)
        assert short == general
        return short


@pytest.fixture
def both(api: Api, general_api: Api) -> BothPaths:
    return BothPaths(api, general_api)


async def handbacks(api: Api) -> dict[str, float]:
    """The hand-backs counted so far, by field, as /metrics reports them."""
    response = await api.client.get("/metrics")
    counted: dict[str, float] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            if sample.name == "alerts_graphql_short_path_handbacks_total":
                counted[sample.labels["field"]] = sample.value
    return counted


async def as_service(api: Api, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    body = await api.as_service(query, variables)
    assert "errors" not in body, body
    return body["data"]  # type: ignore[no-any-return]


async def seed_every_alert_type(api: Api, db: Database, settings: Settings) -> None:
    """A customer with two accounts and one or more alerts of each type, from the bank's
    feeds: sign-ins, transactions, a balance sync, a scheduled payment and its reminder;
    then one delivery run, so deliveries have outcomes. The day is yesterday at 04:00 UTC
    (06:00 in Blantyre): the payment reminder, due at 08:00 there, is still waiting, as
    the page's PENDING deliveries need, whatever time the suite runs."""
    api.clock.now = (api.clock.now - timedelta(days=1)).replace(hour=4, minute=0, second=0)
    for number in (ACCOUNT, SAVINGS):
        account = {"accountNumber": number, "mobileUserId": CUSTOMER, "currency": "MWK"}
        await as_service(api, UPSERT_ACCOUNT, {"input": account})
    registered = await api.as_customer(CUSTOMER, REGISTER_PUSH_DEVICE)
    assert registered == {"data": {"registerPushDevice": True}}
    start = api.clock.now - timedelta(hours=3)
    at = [start + timedelta(minutes=5 * n) for n in range(12)]
    events = [
        (RECORD_LOGIN, login(CUSTOMER, at[0], location=BLANTYRE)),  # a new device
        (
            RECORD_TRANSACTION,
            transaction(
                ACCOUNT,
                "2500.00",
                at[1],
                balance_after="3000.00",
                device="phone-1",
                location=BLANTYRE,
            ),
        ),
        (
            RECORD_TRANSACTION,
            transaction(
                ACCOUNT,
                "75000.00",
                at[2],
                balance_after="90000.00",
                device="phone-1",
                location=BLANTYRE,
            ),
        ),
        (
            RECORD_TRANSACTION,
            transaction(ACCOUNT, "300.00", at[3], device="phone-2", location=LILONGWE),
        ),
        *(
            (RECORD_LOGIN, login(CUSTOMER, at[4] + timedelta(minutes=n), successful=False))
            for n in range(4)
        ),
        (SYNC_BALANCE, balance(SAVINGS, "1500.00", at[6])),
    ]
    for document, event in events:
        await as_service(api, document, {"input": event})
    blantyre = ZoneInfo("Africa/Blantyre")
    today = api.clock.now.astimezone(blantyre).date()
    payment = {
        "paymentId": "LOAN-77",
        "accountNumber": ACCOUNT,
        "paymentType": "LOAN",
        "paymentDescription": "Car loan instalment",
        "amountDue": "150000.00",
        "currency": "MWK",
        "dueDate": (today + timedelta(days=1)).isoformat(),
        "beneficiaryName": "Auto Finance",
        "beneficiaryReference": "LN-77",
    }
    await as_service(api, UPSERT_PAYMENT, {"input": payment})
    eight = datetime(today.year, today.month, today.day, 8, tzinfo=blantyre)
    assert (await payment_due_job(db, settings, now=eight)).reminders == 1
    channels = build_channels(settings, api.clock)
    await DeliveryWorker(db=db, settings=settings, channels=channels, clock=api.clock).run_once()
    for channel in channels.values():
        await channel.close()


async def change_details(db: Database, alert_type: AlertType, **data: Any) -> None:
    """Stored details of the customer's first alert of a type changed, as an older
    release might have written them."""
    async with db.transaction() as session:
        rows = await session.exec(
            select(AccountAlert)
            .where(col(AccountAlert.alert_type) == alert_type)
            .order_by(col(AccountAlert.id))
        )
        alert = rows.first()
        assert alert is not None
        alert.alert_data = {**alert.alert_data, **data}
        session.add(alert)


async def test_the_quick_start_query_answers_alike(
    both: BothPaths, api: Api, db: Database, settings: Settings
) -> None:
    await seed_every_alert_type(api, db, settings)
    body = await both.ask(quick_start_query(), role=Role.CUSTOMER)
    assert "errors" not in body
    assert body["data"]["accountAlerts"]["totalCount"] >= 5
    assert body["data"]["accountAlertSettings"]["loginAlertMode"] == "NEW_DEVICE"


async def test_the_history_page_with_every_details_type_answers_alike(
    both: BothPaths, api: Api, db: Database, settings: Settings
) -> None:
    before = await handbacks(api)
    await seed_every_alert_type(api, db, settings)
    body = await both.ask(HISTORY_PAGE, {"limit": 100}, role=Role.CUSTOMER)
    assert "errors" not in body
    items = body["data"]["accountAlerts"]["items"]
    assert {item["details"]["__typename"] for item in items} == {
        "LowBalanceDetails",
        "LargeTransactionDetails",
        "SuspiciousActivityDetails",
        "PaymentDueDetails",
        "AccountLoginDetails",
    }
    deliveries = [delivery for item in items for delivery in item["deliveries"]]
    assert {delivery["status"] for delivery in deliveries} >= {"SENT", "PENDING", "SKIPPED"}
    # The feeds' answers and the page took the short path wherever it applies.
    assert await handbacks(api) == before


async def test_the_history_page_takes_the_short_path_only_when_it_is_on(
    both: BothPaths,
    api: Api,
    db: Database,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await seed_every_alert_type(api, db, settings)
    resolved: list[str] = []
    general = LeafFieldsExecutionContext.build_resolve_info

    def counting(self: Any, field_def: Any, field_nodes: Any, *args: Any) -> Any:
        resolved.append(field_nodes[0].name.value)
        return general(self, field_def, field_nodes, *args)

    monkeypatch.setattr(LeafFieldsExecutionContext, "build_resolve_info", counting)
    token = api.token(CUSTOMER)
    await api.post(HISTORY_PAGE, {"limit": 100}, token=token)
    assert resolved == ["accountAlerts"]  # every field below its resolver: the short path
    resolved.clear()
    await both.general.post(HISTORY_PAGE, {"limit": 100}, token=token)
    assert resolved == []  # graphql-core's own context, untouched


async def test_a_value_a_scalar_refuses_deep_in_the_page_answers_alike(
    both: BothPaths, api: Api, db: Database, settings: Settings
) -> None:
    await seed_every_alert_type(api, db, settings)
    await change_details(db, AlertType.ACCOUNT_LOGIN, deviceName={"brand": "Pixel"})
    before = await handbacks(api)
    body = await both.ask(HISTORY_PAGE, {"limit": 100}, role=Role.CUSTOMER)
    [error] = body["errors"]
    assert error["message"].startswith("String cannot represent value")
    assert error["path"][-2:] == ["details", "deviceName"]
    [login_alert] = [
        item
        for item in body["data"]["accountAlerts"]["items"]
        if item["alertType"] == "ACCOUNT_LOGIN"
    ]
    assert login_alert["details"]["deviceName"] is None
    assert login_alert["details"]["deviceModel"] == "Google Pixel 8"
    after = await handbacks(api)
    assert after.get("AccountAlert.details", 0) == before.get("AccountAlert.details", 0) + 1


async def test_a_null_in_a_non_null_field_deep_in_the_page_answers_alike(
    both: BothPaths, api: Api, db: Database, settings: Settings
) -> None:
    await seed_every_alert_type(api, db, settings)
    await change_details(db, AlertType.LOW_BALANCE, currency=None)
    body = await both.ask(
        "query($limit: Int) { badge: unacknowledgedAlertCount"
        " accountAlerts(limit: $limit) { totalCount items { id details {"
        " ... on LowBalanceDetails { currentBalance currency } } } } }",
        {"limit": 100},
        role=Role.CUSTOMER,
    )
    # The null climbs through the non-null details, alert, list and page to the root.
    assert body["data"] is None
    [error] = body["errors"]
    # A stored row the schema cannot show is the server's fault: logged, not shown.
    assert error["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    assert error["path"][:2] == ["accountAlerts", "items"]
    assert error["path"][-2:] == ["details", "currency"]


@pytest.mark.parametrize(
    ("role", "document", "codes"),
    [
        (Role.CUSTOMER, "{ " + PAGE_SUMMARY + " " + SUSPICIOUS_LOG[1:], ["FORBIDDEN"]),
        (Role.CUSTOMER, "{ " + PAGE_SUMMARY + " " + USER_STATUS + " }", ["FORBIDDEN"]),
        (Role.SERVICE, "{ " + SETTINGS + " " + USER_STATUS + " }", ["FORBIDDEN"]),
        (Role.ADMIN, "{ " + SETTINGS + " " + SUSPICIOUS_LOG[1:], ["FORBIDDEN"]),
        (None, "{ " + SETTINGS + " }", ["UNAUTHENTICATED"]),
    ],
    ids=[
        "customer-admin-field",
        "customer-service-field",
        "service-customer-field",
        "admin-customer-field",
        "no-token",
    ],
)
async def test_a_permission_refusal_answers_alike(
    both: BothPaths,
    api: Api,
    db: Database,
    settings: Settings,
    role: Role | None,
    document: str,
    codes: list[str],
) -> None:
    await seed_every_alert_type(api, db, settings)
    body = await both.ask(document, role=role)
    assert [error["extensions"]["code"] for error in body["errors"]] == codes
    if role is Role.CUSTOMER:
        # The fields a customer may not call are non-null: a refusal empties the answer.
        assert body["data"] is None
    if role in (Role.SERVICE, Role.ADMIN):
        # The refused field is nullable: the rest of the answer stands.
        assert body["data"]["accountAlertSettings"] is None
        answered = body["data"].get("userStatus") or body["data"]["suspiciousActivities"]
        assert answered


@pytest.mark.parametrize(
    "variables",
    [
        {"type": None, "limit": 100, "withDeliveries": True, "brief": False},
        {"type": "SUSPICIOUS_ACTIVITY", "limit": 3, "withDeliveries": False, "brief": True},
        {"type": "PAYMENT_DUE", "limit": 1, "withDeliveries": True, "brief": True},
    ],
    ids=["everything", "brief-suspicious", "payment-due"],
)
async def test_fragments_aliases_variables_and_directives_answer_alike(
    both: BothPaths, api: Api, db: Database, settings: Settings, variables: dict[str, Any]
) -> None:
    await seed_every_alert_type(api, db, settings)
    body = await both.ask(FRAGMENTS_AND_DIRECTIVES, variables, role=Role.CUSTOMER)
    assert "errors" not in body
    data = body["data"]
    assert data["__typename"] == "Query"
    assert len(data["latest"]["items"]) == min(variables["limit"], data["latest"]["totalCount"])
    chosen = data["chosen"]["items"]
    assert chosen and all(item["__typename"] == "AccountAlert" for item in chosen)
    assert all(("deliveries" in item) is variables["withDeliveries"] for item in chosen)
    assert all(("message" in item) is not variables["brief"] for item in chosen)


async def test_the_risk_teams_log_answers_alike(
    both: BothPaths, api: Api, db: Database, settings: Settings
) -> None:
    await seed_every_alert_type(api, db, settings)
    body = await both.ask(SUSPICIOUS_LOG, role=Role.ADMIN)
    assert "errors" not in body
    reasons = {item["suspicionReason"] for item in body["data"]["suspiciousActivities"]["items"]}
    assert "MULTIPLE_FAILED_ATTEMPTS" in reasons


async def test_a_batchs_results_answer_alike_and_take_the_short_path(
    both: BothPaths,
    api: Api,
    db: Database,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A batch's hundred results are the value of its root field's resolver: completed in
    one call when their selection is plain, with the same answer, refused items and alerts
    (their details and deliveries) included."""
    await seed_every_alert_type(api, db, settings)
    at = api.clock.now - timedelta(minutes=5)
    batch = [
        transaction(
            ACCOUNT, "60000.00", at, balance_after="100.00", device="phone-9", location=LILONGWE
        ),
        transaction("9999999999", "10.00", at),
        transaction(ACCOUNT, "5.00", at, device="phone-1", location=BLANTYRE),
    ]
    first = (await api.as_service(RECORD_TRANSACTIONS, {"inputs": batch}))["data"]
    before = await handbacks(api)
    # Sent again to both: every event a repeat with its alerts read back, the unknown
    # account's refused again.
    body = await both.ask(RECORD_TRANSACTIONS, {"inputs": batch}, role=Role.SERVICE)
    results = body["data"]["recordTransactions"]
    assert [(r["accepted"], r["duplicate"]) for r in results] == [
        (True, True),
        (False, False),
        (True, True),
    ]
    assert results[1]["error"]["code"] == "NOT_FOUND"
    assert {alert["alertType"] for alert in results[0]["alerts"]} == {
        "LARGE_TRANSACTION",
        "SUSPICIOUS_ACTIVITY",
    }
    assert [r["alerts"] for r in results] == [r["alerts"] for r in first["recordTransactions"]]
    assert await handbacks(api) == before

    # No result's fields went through the executor's loop, one result at a time: the
    # whole list was completed by one call.
    executed: list[str] = []
    loop = LeafFieldsExecutionContext.execute_fields

    def counting(self: Any, parent_type: Any, *args: Any) -> Any:
        executed.append(parent_type.name)
        return loop(self, parent_type, *args)

    monkeypatch.setattr(LeafFieldsExecutionContext, "execute_fields", counting)
    again = await api.as_service(RECORD_TRANSACTIONS, {"inputs": batch})
    assert again == body
    assert executed == []


async def test_variables_a_service_got_wrong_are_refused_alike(both: BothPaths, api: Api) -> None:
    """The short path's variable coercers (api.variables) leave anything wrong to
    graphql-core: the same errors, at the same places, and nothing recorded."""
    at = api.clock.now - timedelta(minutes=5)
    good = transaction(ACCOUNT, "5.00", at, device="phone-1", location=BLANTYRE)
    cases: list[dict[str, Any]] = [
        {"inputs": [good, {**transaction(ACCOUNT, "6.00", at), "amount": None}]},
        {"inputs": [good, {**transaction(ACCOUNT, "7.00", at), "noSuchField": 1}]},
        {"inputs": [{**good, "occurredAt": "yesterday"}]},
        {"inputs": [{**good, "transactionType": "GIFT"}]},
        {"inputs": [{**good, "location": {"latitude": "south", "longitude": 35.0}}]},
        {"inputs": None},
        {},
    ]
    for variables in cases:
        body = await both.ask(RECORD_TRANSACTIONS, variables, role=Role.SERVICE)
        assert body.get("data") is None and body["errors"], variables
    # A single event where a list is expected is a list of one, on both paths.
    body = await both.ask(RECORD_TRANSACTIONS, {"inputs": {**good}}, role=Role.SERVICE)
    assert len(body["data"]["recordTransactions"]) == 1
