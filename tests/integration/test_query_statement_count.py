"""The history page loads deliveries in one batch, whatever the page size."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import event

from account_alerts.domain.enums import AlertType, NotificationChannel
from account_alerts.store.database import Database
from tests.conftest import Api
from tests.support.factories import make_account, make_alert

PAGE = """
query($limit: Int) {
  accountAlerts(limit: $limit) {
    totalCount
    items { id title details { __typename } deliveries { channel status attempts } }
  }
}"""


@contextmanager
def counting_statements(db: Database) -> Iterator[list[str]]:
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.split(None, 1)[0].upper() not in {"BEGIN", "COMMIT", "ROLLBACK"}:
            statements.append(statement)

    event.listen(db.engine.sync_engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", count)


async def test_history_page_runs_a_fixed_number_of_statements(api: Api, db: Database) -> None:
    await make_account(db, user_id=7, account_number="1000000001")
    start = datetime(2026, 11, 1).astimezone()
    for index in range(60):
        await make_alert(
            db,
            user_id=7,
            account_number="1000000001",
            alert_type=list(AlertType)[index % 5],
            triggered_at=start + timedelta(minutes=index),
            channels=(NotificationChannel.PUSH, NotificationChannel.SMS),
        )
    counts = {}
    checkouts: list[object] = []

    def checkout(*_args: Any) -> None:
        checkouts.append(None)

    for limit in (1, 10, 50):
        checkouts.clear()
        event.listen(db.engine.sync_engine.pool, "checkout", checkout)
        try:
            with counting_statements(db) as statements:
                body = await api.as_customer(7, PAGE, {"limit": limit})
        finally:
            event.remove(db.engine.sync_engine.pool, "checkout", checkout)
        # The page and its deliveries are read on one connection.
        assert len(checkouts) == 1
        assert "errors" not in body, body
        items = body["data"]["accountAlerts"]["items"]
        assert len(items) == limit
        assert all(len(item["deliveries"]) == 2 for item in items)
        counts[limit] = len(statements)
    # count(*), the page, and one batched load of the deliveries.
    assert counts == {1: 3, 10: 3, 50: 3}
