"""The SLA report: the risk team's acknowledgements and the customers' alerts, in a
window; and the same as Prometheus metrics."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import col, select

from account_alerts.domain.cases import CaseSource
from account_alerts.domain.enums import AlertType, DeliveryStatus, NotificationChannel, Role
from account_alerts.engine.actor import Actor
from account_alerts.engine.cases import acknowledge_case
from account_alerts.store.alerts import AccountAlert, AlertDelivery
from account_alerts.store.database import Database
from tests.conftest import Api, Clock, error_code
from tests.support.factories import make_account, make_alert, make_case

REPORT = """query($f: DateTime!, $t: DateTime!) {
  riskSlaReport(from: $f, to: $t) {
    from to cases casesAcknowledgedWithinSla shareAcknowledgedWithinSla ackSecondsP50
    ackSecondsP95 customerAlerts sendSecondsP50 sendSecondsP99 shareSentWithin5Minutes
  }
}"""
ANA = Actor(role=Role.ADMIN, id="ana")


async def sent(db: Database, alert_id: int, channel: NotificationChannel, at: datetime) -> None:
    async with db.transaction() as session:
        delivery = (
            await session.exec(
                select(AlertDelivery).where(
                    col(AlertDelivery.alert_id) == alert_id, col(AlertDelivery.channel) == channel
                )
            )
        ).one()
        delivery.status, delivery.sent_at = DeliveryStatus.SENT, at
        session.add(delivery)


async def test_the_report_measures_acknowledgements_and_sends(
    api: Api, db: Database, clock: Clock
) -> None:
    await make_account(db, user_id=7, account_number="1000000007")
    hour_ago = clock.now - timedelta(hours=1)
    quick, late, ignored = [
        await make_case(db, user_id=7, opened_at=hour_ago, event_id=f"e{n}") for n in range(3)
    ]
    await make_case(
        db, user_id=7, opened_at=clock.now - timedelta(minutes=1), source=CaseSource.REPORT_FRAUD
    )
    await acknowledge_case(db, actor=ANA, case_id=str(quick), now=hour_ago + timedelta(seconds=60))
    await acknowledge_case(db, actor=ANA, case_id=str(late), now=hour_ago + timedelta(seconds=400))
    assert ignored  # still open, an hour past its five minutes

    two_hours_ago = clock.now - timedelta(hours=2)
    both = (NotificationChannel.PUSH, NotificationChannel.SMS)
    fast, slow, never, test = [
        await make_alert(
            db,
            user_id=7,
            account_number="1000000007",
            alert_type=AlertType.LARGE_TRANSACTION,
            triggered_at=two_hours_ago,
            channels=both,
        )
        for _ in range(4)
    ]
    await sent(db, fast, NotificationChannel.SMS, two_hours_ago + timedelta(seconds=50))
    await sent(db, fast, NotificationChannel.PUSH, two_hours_ago + timedelta(seconds=10))
    await sent(db, slow, NotificationChannel.PUSH, two_hours_ago + timedelta(seconds=400))
    await sent(db, test, NotificationChannel.PUSH, two_hours_ago + timedelta(seconds=900))
    async with db.transaction() as session:
        row = await session.get(AccountAlert, test)
        assert row is not None
        row.is_test = True
        session.add(row)
    assert never

    window = {
        "f": (clock.now - timedelta(hours=3)).isoformat(),
        "t": (clock.now + timedelta(seconds=1)).isoformat(),
    }
    body = await api.as_admin(REPORT, window)
    assert "errors" not in body, body
    report = body["data"]["riskSlaReport"]
    assert report["cases"] == 4
    # The case opened a minute ago has neither met nor missed its five minutes yet.
    assert report["casesAcknowledgedWithinSla"] == 1
    assert report["shareAcknowledgedWithinSla"] == 1 / 3
    assert (report["ackSecondsP50"], report["ackSecondsP95"]) == (60.0, 400.0)
    assert report["customerAlerts"] == 3  # the test alert is not a customer's alert
    assert (report["sendSecondsP50"], report["sendSecondsP99"]) == (10.0, 400.0)
    assert report["shareSentWithin5Minutes"] == 1 / 3

    empty = await api.as_admin(
        REPORT,
        {
            "f": (clock.now + timedelta(days=1)).isoformat(),
            "t": (clock.now + timedelta(days=2)).isoformat(),
        },
    )
    nothing = empty["data"]["riskSlaReport"]
    assert (nothing["cases"], nothing["shareAcknowledgedWithinSla"], nothing["sendSecondsP50"]) == (
        0,
        None,
        None,
    )
    backwards = await api.as_admin(REPORT, {"f": window["t"], "t": window["f"]})
    assert backwards["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT", "field": "to"}
    assert error_code(await api.as_customer(7, REPORT, window)) == "FORBIDDEN"


async def test_metrics_show_cases_waiting_and_overdue(api: Api, db: Database, clock: Clock) -> None:
    await make_account(db, user_id=7, account_number="1000000007")
    await make_case(db, user_id=7, opened_at=clock.now - timedelta(minutes=10), event_id="old")
    await make_case(db, user_id=7, opened_at=clock.now, event_id="new")
    text = (await api.client.get("/metrics")).text
    assert "alerts_cases_open 2.0" in text
    assert "alerts_cases_overdue 1.0" in text
