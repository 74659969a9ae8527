"""The console over plain HTTP: sign-in and its cookie, CSRF on every form, refusals,
sign-out and expiry, and every value escaped."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from sqlmodel import col, select

from account_alerts.api.app import create_app
from account_alerts.config import Environment, Settings
from account_alerts.domain.cases import CaseSource
from account_alerts.domain.enums import AlertType, DeliveryStatus, NotificationChannel, Role
from account_alerts.store.alerts import AlertDelivery
from account_alerts.store.audit import AuditEntry
from account_alerts.store.cases import ReviewCase
from account_alerts.store.customers import MobileUser
from account_alerts.store.database import Database
from tests.conftest import Api, Clock
from tests.support.factories import make_account, make_alert, make_case

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    match = CSRF.search(html)
    assert match, html
    return match.group(1)


async def sign_in(client: httpx.AsyncClient, token: str) -> httpx.Response:
    form = await client.get("/admin/sign-in")
    return await client.post(
        "/admin/sign-in", data={"csrf_token": csrf_of(form.text), "token": token}
    )


@pytest.fixture
def transport(settings: Settings, db: Database, clock: Clock) -> httpx.ASGITransport:
    return httpx.ASGITransport(app=create_app(settings, database=db, clock=clock))


def browser(transport: httpx.ASGITransport, **cookies: str) -> httpx.AsyncClient:
    """A client that keeps cookies, as a browser does."""
    return httpx.AsyncClient(transport=transport, base_url="http://alerts.test", cookies=cookies)


@pytest.fixture
async def console(api: Api, transport: httpx.ASGITransport) -> AsyncIterator[httpx.AsyncClient]:
    """A browser-like client of the console, signed in as staff member ana."""
    async with browser(transport) as client:
        response = await sign_in(client, api.token("ana", Role.ADMIN))
        assert response.status_code == 303 and response.headers["location"] == "/admin/cases"
        yield client


async def test_sign_in_sets_a_strict_http_only_cookie_and_audits(api: Api, db: Database) -> None:
    async with httpx.AsyncClient(
        transport=api.client._transport, base_url="http://alerts.test"
    ) as client:
        assert (await client.get("/admin/cases")).headers["location"] == "/admin/sign-in"
        response = await sign_in(client, api.token("ana", Role.ADMIN))
        cookie = next(
            value
            for name, value in response.headers.multi_items()
            if name == "set-cookie" and value.startswith("alerts_admin_session=")
        )
        flags = {part.strip().lower() for part in cookie.split(";")}
        assert {"httponly", "samesite=strict", "path=/admin"} <= flags
        assert "secure" not in flags  # development only: plain http on a laptop
        queue = await client.get("/admin/cases")
        assert queue.status_code == 200 and "Signed in as" in queue.text
        assert "default-src 'none'" in queue.headers["content-security-policy"]
    async with db.session() as session:
        actions = (
            await session.exec(
                select(AuditEntry.action, AuditEntry.actor_id).where(
                    col(AuditEntry.action) == "console.signed_in"
                )
            )
        ).all()
    assert list(actions) == [("console.signed_in", "ana")]


async def test_the_cookie_is_secure_in_production(settings: Settings, db: Database) -> None:
    production = settings.model_copy(update={"env": Environment.PRODUCTION})
    app = create_app(production, database=db)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="https://alerts.test"
    ) as client:
        form = await client.get("/admin/sign-in")
        assert "secure" in form.headers["set-cookie"].lower()
        api = Api(client, production, Clock())
        response = await sign_in(client, api.token("ana", Role.ADMIN))
        assert response.status_code == 303
        assert "secure" in response.headers["set-cookie"].lower()


async def test_customer_service_and_bad_tokens_are_refused(
    api: Api, transport: httpx.ASGITransport
) -> None:
    async with browser(transport) as client:
        for token, says in (
            (api.token(7), "a customer token cannot open the console"),
            (api.token("core-banking", Role.SERVICE), "a service token cannot open the console"),
            ("not-a-token", "not valid"),
            (
                api.token("ana", Role.ADMIN, signed_ago=timedelta(hours=2)),
                "expired",
            ),
        ):
            response = await sign_in(client, token)
            assert response.status_code == 403 and says in response.text
            assert "alerts_admin_session" not in client.cookies
        # A sign-in form without its own token, or with a forged one, is refused too.
        forged = await client.post(
            "/admin/sign-in", data={"csrf_token": "forged", "token": api.token("a", Role.ADMIN)}
        )
        assert forged.status_code == 403 and "alerts_admin_session" not in client.cookies
        assert (await client.get("/admin/cases")).status_code == 303


async def test_forms_without_the_csrf_token_change_nothing(
    console: httpx.AsyncClient, db: Database, clock: Clock
) -> None:
    await make_account(db, user_id=7, account_number="1000000007")
    case_id = await make_case(db, user_id=7, opened_at=clock.now)
    page = await console.get(f"/admin/cases/{case_id}")
    token = csrf_of(page.text)
    for data in ({}, {"csrf_token": "forged"}, {"csrf_token": token[:-1]}):
        for action, extra in (
            ("acknowledge", {}),
            ("resolve", {"outcome": "FALSE_POSITIVE"}),
            ("comment", {"text": "hi"}),
            ("assign", {"to": "bob"}),
        ):
            response = await console.post(
                f"/admin/cases/{case_id}/{action}", data={**data, **extra}
            )
            assert response.status_code == 403, action
    async with db.session() as session:
        case = await session.get(ReviewCase, case_id)
        user = await session.get(MobileUser, 7)
    assert case is not None and case.status.value == "OPEN" and case.assignee is None
    assert user is not None and user.locked
    done = await console.post(
        f"/admin/cases/{case_id}/resolve",
        data={"csrf_token": token, "outcome": "FALSE_POSITIVE", "notes": "travelling"},
    )
    assert done.status_code == 303
    async with db.session() as session:
        user = await session.get(MobileUser, 7)
    assert user is not None and not user.locked
    again = await console.post(
        f"/admin/cases/{case_id}/resolve", data={"csrf_token": token, "outcome": "CONFIRMED_FRAUD"}
    )
    assert again.status_code == 409 and "already resolved as FALSE_POSITIVE by ana" in again.text


async def test_script_in_a_comment_is_shown_as_text(
    console: httpx.AsyncClient, db: Database, clock: Clock
) -> None:
    await make_account(db, user_id=7, account_number="1000000007")
    case_id = await make_case(db, user_id=7, opened_at=clock.now)
    token = csrf_of((await console.get(f"/admin/cases/{case_id}")).text)
    await console.post(
        f"/admin/cases/{case_id}/comment",
        data={"csrf_token": token, "text": "<script>alert('x')</script>"},
    )
    page = await console.get(f"/admin/cases/{case_id}")
    assert "<script>alert" not in page.text
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in page.text


async def test_the_queue_lists_unresolved_cases_most_urgent_first(
    console: httpx.AsyncClient, db: Database, clock: Clock
) -> None:
    for user in (7, 8, 9):
        await make_account(db, user_id=user, account_number=f"100000000{user}")
    later = await make_case(db, user_id=7, opened_at=clock.now)
    sooner = await make_case(
        db, user_id=8, opened_at=clock.now - timedelta(minutes=2), source=CaseSource.DECISION_REVIEW
    )
    report = await make_case(
        db, user_id=9, opened_at=clock.now - timedelta(minutes=1), source=CaseSource.REPORT_FRAUD
    )
    rows = (await console.get("/admin/cases/rows")).text
    ids = [int(n) for n in re.findall(r'<tr id="case-(\d+)"', rows)]
    assert ids == [sooner, report, later]
    cells = {
        int(n): re.sub(r"<[^>]+>", " ", row)
        for n, row in re.findall(r'<tr id="case-(\d+)".*?>(.*?)</tr>', rows, re.S)
    }
    assert "REVIEW · score 45" in cells[sooner]
    assert "BLOCK · score 85" in cells[later] and "locked" in cells[later]
    assert "score" not in cells[report]  # a customer's report has no decision


async def test_unknown_cases_and_customers_are_not_found(console: httpx.AsyncClient) -> None:
    for path in (
        "/admin/cases/424242",
        "/admin/cases/abc",
        "/admin/customers/99",
        "/admin/customers/x",
    ):
        assert (await console.get(path)).status_code == 404, path
    token = csrf_of((await console.get("/admin/cases")).text)
    missing = await console.post("/admin/cases/abc/acknowledge", data={"csrf_token": token})
    assert missing.status_code == 404


async def test_sign_out_and_expiry_end_the_session(
    console: httpx.AsyncClient, api: Api, clock: Clock, transport: httpx.ASGITransport
) -> None:
    cookie = console.cookies["alerts_admin_session"]
    token = csrf_of((await console.get("/admin/cases")).text)
    out = await console.post("/admin/sign-out", data={"csrf_token": token})
    assert out.status_code == 303 and out.headers["location"] == "/admin/sign-in"
    # The old cookie, kept by someone, opens nothing.
    async with browser(transport, alerts_admin_session=cookie) as kept:
        assert (await kept.get("/admin/cases")).status_code == 303
        fragment = await kept.get("/admin/cases/rows", headers={"HX-Request": "true"})
    assert fragment.status_code == 401 and fragment.headers["hx-redirect"] == "/admin/sign-in"

    await sign_in(console, api.token("ana", Role.ADMIN))
    assert (await console.get("/admin/cases")).status_code == 200
    clock.advance(hours=8, seconds=1)
    assert (await console.get("/admin/cases")).status_code == 303


async def test_the_dashboard_charts_a_window(
    console: httpx.AsyncClient, db: Database, clock: Clock
) -> None:
    await make_account(db, user_id=7, account_number="1000000007")
    for alert_type in (AlertType.LOW_BALANCE, AlertType.LOW_BALANCE, AlertType.ACCOUNT_LOGIN):
        await make_alert(
            db,
            user_id=7,
            account_number="1000000007",
            alert_type=alert_type,
            triggered_at=clock.now - timedelta(hours=1),
            channels=(NotificationChannel.PUSH, NotificationChannel.SMS),
        )
    async with db.transaction() as session:
        deliveries = (
            await session.exec(select(AlertDelivery).order_by(col(AlertDelivery.id)))
        ).all()
        for delivery, status in zip(
            deliveries,
            [DeliveryStatus.SENT, DeliveryStatus.FAILED, DeliveryStatus.SENT, DeliveryStatus.SENT],
            strict=False,
        ):
            delivery.status = status
            delivery.sent_at = clock.now if status is DeliveryStatus.SENT else None
            session.add(delivery)
    cleared, confirmed, _ = [
        await make_case(db, user_id=7, opened_at=clock.now - timedelta(hours=2), event_id=f"e{n}")
        for n in range(3)
    ]
    token = csrf_of((await console.get(f"/admin/cases/{cleared}")).text)
    for case_id, outcome in ((cleared, "FALSE_POSITIVE"), (confirmed, "CONFIRMED_FRAUD")):
        await console.post(
            f"/admin/cases/{case_id}/resolve", data={"csrf_token": token, "outcome": outcome}
        )
    page = await console.get("/admin/dashboard?days=1")
    assert page.status_code == 200
    text = page.text
    assert 'id="false-positive-rate">50 %<' in text
    assert "Alerts by type: LOW_BALANCE 2; LARGE_TRANSACTION 0" in text
    assert "ACCOUNT_LOGIN 1" in text
    # PUSH: both sent; SMS: one sent, one failed; nothing went by email.
    assert "PUSH 100 % of 2 finished" in text and "SMS 50 % of 2 finished" in text
    assert "EMAIL no data" in text
    assert "DECISION_BLOCK 3" in text
    # Resolved two hours after opening: late; the alerts were sent an hour after the event.
    assert "cases acknowledged in time 0 %; alerts sent within 5 min 0 %" in text
    assert "<script" not in text.split("</head>")[1]
    assert (await console.get("/admin/dashboard?days=abc")).status_code == 200
