"""The risk console in a real browser (Debian's Chromium driven by Playwright), against
a real server and database, with no way out to the internet: sign-in, a new case
appearing in the queue without a reload, the countdown, acknowledging, resolving a BLOCK
as a false positive, and the SLA breach shown after five minutes of the browser's clock.
Screenshots of the main pages go to tests/screenshots/."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from account_alerts.api.auth import issue_token
from account_alerts.config import Settings
from account_alerts.domain.cases import CaseSource
from account_alerts.domain.enums import Role
from account_alerts.store.customers import MobileUser
from account_alerts.store.database import Database
from tests.support.browser import chromium
from tests.support.events import RECORD_LOGIN, login, transaction
from tests.support.factories import make_account, make_case
from tests.support.fraud import APPROVER, CREATE, RECORD_TRANSACTION, SET_STATUS, feature, op, rule
from tests.support.threaded_app import ThreadedApp

__all__ = ["chromium"]

SCREENSHOTS = Path(__file__).resolve().parents[1] / "screenshots"
ACK_ALERT = "mutation($id: ID!, $a: UserAction) { acknowledgeAlert(alertId: $id, action: $a) }"


@pytest.fixture
def server(settings: Settings) -> Iterator[ThreadedApp]:
    app = ThreadedApp(settings).start()
    try:
        app.call(lambda db: make_account(db, user_id=7, account_number="1000000007"))
        yield app
    finally:
        app.stop()


@pytest.fixture
def page(chromium: Any, server: ThreadedApp) -> Iterator[Any]:
    context = chromium.new_context(viewport={"width": 1366, "height": 800})
    page = context.new_page()
    remote: list[str] = []
    page.on(
        "request",
        lambda request: (
            remote.append(request.url)
            if not request.url.startswith(("http://127.0.0.1", "data:"))
            else None
        ),
    )
    errors: list[str] = []
    page.on(
        "console",
        lambda message: (
            errors.append(message.text)
            # A refused sign-in (403) or form (400) is answered so on purpose; the browser
            # logs it.
            if message.type == "error"
            and "status of 403" not in message.text
            and "status of 400" not in message.text
            else None
        ),
    )
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert remote == [], f"the console reached for other hosts: {remote}"
    assert errors == [], f"the browser reported errors: {errors}"


def sign_in(page: Any, server: ThreadedApp, staff: str = "ana") -> None:
    token = issue_token(server.settings, subject=staff, role=Role.ADMIN)
    page.goto(f"{server.base_url}/admin/cases")
    assert page.url.endswith("/admin/sign-in")
    page.get_by_label("Admin token").fill(token)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Review queue").wait_for()


def shot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=SCREENSHOTS / f"console-{name}.png", full_page=True)


def graphql(server: ThreadedApp, query: str, variables: dict[str, Any], token: str) -> Any:
    response = httpx.post(
        f"{server.base_url}/graphql",
        json={"query": query, "variables": variables},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    body = response.json()
    assert "errors" not in body, body
    return body["data"]


def test_sign_in_gives_a_strict_http_only_cookie(page: Any, server: ThreadedApp) -> None:
    sign_in(page, server)
    [cookie] = [c for c in page.context.cookies() if c["name"] == "alerts_admin_session"]
    assert cookie["httpOnly"] is True and cookie["sameSite"] == "Strict"
    assert cookie["path"] == "/admin"
    assert page.evaluate("document.cookie") == ""  # scripts cannot read the session
    page.get_by_role("button", name="Sign out").click()
    page.get_by_role("heading", name="Sign in to the risk console").wait_for()
    page.goto(f"{server.base_url}/admin/cases")
    assert page.url.endswith("/admin/sign-in")


def test_a_customer_token_is_refused(page: Any, server: ThreadedApp) -> None:
    page.goto(f"{server.base_url}/admin/sign-in")
    page.get_by_label("Admin token").fill(issue_token(server.settings, subject="7"))
    page.get_by_role("button", name="Sign in").click()
    assert "a customer token cannot open the console" in page.get_by_role("alert").inner_text()
    assert [c for c in page.context.cookies() if c["name"] == "alerts_admin_session"] == []


def test_a_fraud_report_appears_in_the_queue_without_a_reload(
    page: Any, server: ThreadedApp
) -> None:
    sign_in(page, server)
    page.get_by_text("No open cases.").wait_for()
    page.evaluate("window.notReloaded = true")
    service = issue_token(server.settings, subject="core-banking", role=Role.SERVICE)
    event = graphql(
        server, RECORD_LOGIN, {"input": login(7, datetime.now(UTC), device="new")}, service
    )
    alert_id = event["recordLogin"]["alerts"][0]["id"]
    customer = issue_token(server.settings, subject="7")
    graphql(server, ACK_ALERT, {"id": alert_id, "a": "REPORT_FRAUD"}, customer)
    row = page.locator("#queue-rows tr", has_text="REPORT_FRAUD")
    row.wait_for(timeout=10_000)
    assert page.evaluate("window.notReloaded") is True
    expect(row.locator(".countdown")).to_contain_text("left")
    assert "locked" in row.inner_text()
    shot(page, "queue")


def test_a_rule_decision_to_review_appears_in_the_queue_without_a_reload(
    page: Any, server: ThreadedApp
) -> None:
    """A LIVE rule (written by one admin, approved by another) sends a transaction to
    review: its case shows up in the open queue, and its page names the hit and the
    values the rule saw."""
    sign_in(page, server)
    page.get_by_text("No open cases.").wait_for()
    page.evaluate("window.notReloaded = true")
    author = issue_token(server.settings, subject="ana", role=Role.ADMIN)
    approver = issue_token(server.settings, subject=APPROVER, role=Role.ADMIN)
    large_on_new_phone = op(
        "and", op(">=", feature("amount"), 100_000), op("==", feature("deviceKnown"), False)
    )
    spec = rule("Large debit on a new phone", large_on_new_phone, 50)
    version = graphql(server, CREATE, {"input": spec}, author)["createFraudRule"]
    graphql(server, SET_STATUS, {"v": version["id"], "s": "LIVE"}, approver)
    service = issue_token(server.settings, subject="core-banking", role=Role.SERVICE)
    event = transaction("1000000007", "250000.00", datetime.now(UTC), device="unknown-phone")
    result = graphql(server, RECORD_TRANSACTION, {"input": event}, service)["recordTransaction"]
    assert (result["decision"]["outcome"], result["decision"]["score"]) == ("REVIEW", 50)
    row = page.locator("#queue-rows tr", has_text="DECISION_REVIEW")
    row.wait_for(timeout=10_000)
    assert page.evaluate("window.notReloaded") is True
    assert "REVIEW · score 50" in row.inner_text()
    expect(row.locator(".countdown")).to_contain_text("left")
    assert "locked" not in row.inner_text()  # REVIEW opens a case; only BLOCK locks
    row.get_by_role("link", name="Case").click()
    hit = page.locator("article.hit", has_text="Large debit on a new phone")
    hit.wait_for()
    assert "score 50" in hit.inner_text()
    assert "250000" in hit.inner_text() and "deviceKnown" in hit.inner_text()
    shot(page, "review-case")


def test_acknowledging_stops_the_countdown(page: Any, server: ThreadedApp) -> None:
    case_id = server.call(
        lambda db: make_case(
            db, user_id=7, opened_at=datetime.now(UTC), source=CaseSource.DECISION_REVIEW
        )
    )
    sign_in(page, server)
    page.get_by_role("link", name=f"Case {case_id}").click()
    countdown = page.locator("#countdown")
    expect(countdown).to_contain_text("left")  # once the page's script has counted
    page.get_by_role("button", name="Acknowledge").click()
    page.get_by_role("heading", name=f"Case {case_id} ACKNOWLEDGED").wait_for()
    stopped = page.locator("#countdown").inner_text()
    assert stopped.startswith("acknowledged") and "by ana" in stopped
    page.wait_for_timeout(1500)
    assert page.locator("#countdown").inner_text() == stopped
    timeline = page.locator(".timeline").inner_text()
    assert "ACKNOWLEDGED by ana" in timeline


def test_resolving_a_block_as_a_false_positive_unlocks_the_customer(
    page: Any, server: ThreadedApp
) -> None:
    case_id = server.call(lambda db: make_case(db, user_id=7, opened_at=datetime.now(UTC)))
    sign_in(page, server)
    page.goto(f"{server.base_url}/admin/cases/{case_id}")
    assert page.locator("#lock-state").inner_text() == "locked"
    assert "Large night transfer from a new device" in page.content()
    assert "Unknown (null) features: distanceKm" in page.locator("main").inner_text()
    shot(page, "case")
    page.get_by_label("Comment").fill("<b>called the customer</b>")
    page.get_by_role("button", name="Add comment").click()
    assert "<b>called the customer</b>" in page.locator(".timeline").inner_text()
    page.get_by_label("FALSE_POSITIVE").check()
    page.get_by_label("Notes").fill("travelling, confirmed by phone")
    page.get_by_role("button", name="Resolve").click()
    page.get_by_role("heading", name=f"Case {case_id} RESOLVED FALSE_POSITIVE").wait_for()
    assert page.locator("#lock-state").inner_text() == "not locked"

    async def locked(db: Database) -> bool:
        async with db.session() as session:
            user = await session.get(MobileUser, 7)
            assert user is not None
            return user.locked

    assert server.call(locked) is False
    page.get_by_role("link", name="7", exact=True).first.click()
    page.get_by_role("heading", name="Customer 7").wait_for()
    assert page.locator("#lock-state").inner_text() == "not locked"
    shot(page, "customer")
    page.get_by_role("link", name="Dashboard").click()
    assert page.locator("#false-positive-rate").inner_text() == "100 %"
    assert page.get_by_role("img", name="Resolved cases by outcome").count() == 1
    shot(page, "dashboard")


def test_the_sla_breach_shows_after_five_minutes(page: Any, server: ThreadedApp) -> None:
    opened = datetime.now(UTC)
    server.call(
        lambda db: make_case(db, user_id=7, opened_at=opened, source=CaseSource.DECISION_REVIEW)
    )
    page.clock.install(time=opened)
    sign_in(page, server)
    countdown = page.locator("#queue-rows .countdown").first
    expect(countdown).to_contain_text("left")  # once the page's script has counted
    assert page.locator("#queue-rows tr.overdue").count() == 0
    page.clock.fast_forward("05:01")
    page.locator("#queue-rows tr.overdue").wait_for()
    expect(countdown).to_contain_text("overdue by")
    shot(page, "queue-overdue")
