"""The rule pages in a real browser: a rule created with a bad condition shows the
engine's message and path in place, is fixed, put in SHADOW, and backtested, its report
appearing through htmx polling. Screenshots go to tests/screenshots/."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from account_alerts.api.auth import issue_token
from account_alerts.domain.enums import Role
from tests.e2e.test_console_in_browser import chromium, graphql, page, server, shot, sign_in
from tests.support.events import transaction
from tests.support.fraud import RECORD_TRANSACTION
from tests.support.threaded_app import ThreadedApp

__all__ = ["chromium", "page", "server"]

LARGE = '{"op": ">=", "args": [{"feature": "amount"}, 5000]}'


def test_a_rule_from_a_bad_condition_to_a_backtest_report(page: Any, server: ThreadedApp) -> None:
    service = issue_token(server.settings, subject="core-banking", role=Role.SERVICE)
    now = datetime.now(UTC)
    for amount, hours in (("6000", 2), ("50", 1)):
        graphql(
            server,
            RECORD_TRANSACTION,
            {"input": transaction("1000000007", amount, now - timedelta(hours=hours))},
            service,
        )
    sign_in(page, server)
    page.get_by_role("link", name="Rules").click()
    page.get_by_role("heading", name="Fraud rules").wait_for()
    assert page.get_by_text("Transaction from a new device").count() == 1

    page.get_by_label("Name", exact=True).fill("Large debit")
    page.get_by_label("Score (1-100, added on a hit)").fill("40")
    editor = page.get_by_label("Condition (JSON)")
    editor.fill('{"op": "greater", "args": [{"feature": "amount"}, 5000]}')
    page.get_by_role("button", name="Create rule").click()
    error = page.locator("#new-condition-error")
    error.wait_for()
    assert error.inner_text().startswith("condition.op: unknown op 'greater'")
    assert '"greater"' in page.get_by_label("Condition (JSON)").input_value()
    shot(page, "rule-refused")

    page.get_by_label("Condition (JSON)").fill(LARGE)
    page.get_by_role("button", name="Create rule").click()
    page.get_by_role("heading", name="Rule Large debit").wait_for()
    assert "another staff member must approve it for LIVE" in page.locator("main").inner_text()
    page.get_by_role("button", name="SHADOW").click()
    page.get_by_text("On live traffic (shadow)").wait_for()
    assert page.get_by_role("button", name="SHADOW").count() == 0
    shot(page, "rule")

    page.get_by_role("button", name="Start backtest").click()
    page.get_by_role("heading", name="Backtest").wait_for()
    page.locator("#backtest-status", has_text="DONE").wait_for(timeout=30_000)
    assert page.locator("#hit-rate").inner_text() == "50.00 %"
    assert page.get_by_role("img", name="Hits per day").count() == 1
    assert "amount = 6000" in page.locator("main").inner_text()
    shot(page, "backtest")
