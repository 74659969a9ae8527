"""The console's rule pages over plain HTTP: a rule created and revised through the JSON
editor, statuses with the two-person rule, snoozes and a backtest report; each refusal
shows the engine's message in place and stores nothing, every form needs its CSRF token
and a signed-in staff member."""

from __future__ import annotations

import asyncio
import re
from datetime import datetime, timedelta
from typing import Any

import httpx
from markupsafe import escape
from sqlmodel import col, func, select

from account_alerts.domain.enums import Role
from account_alerts.store.audit import AuditEntry
from account_alerts.store.database import Database
from account_alerts.store.fraud_tables import (
    Backtest,
    FraudRule,
    FraudRuleVersion,
    FraudSnooze,
)
from tests.conftest import Api, Clock
from tests.integration.test_console_http import browser, console, csrf_of, sign_in, transport
from tests.support.events import transaction
from tests.support.factories import make_account
from tests.support.fraud import RECORD_TRANSACTION

__all__ = ["console", "transport"]

LARGE = '{"op": ">=", "args": [{"feature": "amount"}, 5000]}'


def rule_form(token: str, condition: str = LARGE, **changes: str) -> dict[str, str]:
    return {
        "csrf_token": token,
        "name": "Large debit",
        "description": "",
        "kind_TRANSACTION": "1",
        "score": "40",
        "condition": condition,
        **changes,
    }


def local(value: datetime) -> str:
    """As a datetime-local input sends it."""
    return value.strftime("%Y-%m-%dT%H:%M")


async def count(db: Database, table: Any) -> int:
    async with db.session() as session:
        return int((await session.exec(select(func.count()).select_from(table))).one())


async def create(console: httpx.AsyncClient, condition: str = LARGE) -> tuple[int, int, str]:
    """A rule through the editor: its id, its first version's id, and the page's token."""
    token = csrf_of((await console.get("/admin/rules")).text)
    response = await console.post("/admin/rules", data=rule_form(token, condition))
    assert response.status_code == 303, response.text
    rule_id = int(response.headers["location"].rsplit("/", 1)[1])
    page = await console.get(f"/admin/rules/{rule_id}")
    version_id = int(re.findall(r'id="version-(\d+)"', page.text)[0])
    return rule_id, version_id, token


async def test_the_rules_list_shows_rules_and_built_in_checks(
    console: httpx.AsyncClient, db: Database
) -> None:
    await create(console)
    page = await console.get("/admin/rules")
    assert page.status_code == 200
    assert '<a href="/admin/rules">Rules</a>' in page.text
    assert "Large debit" in page.text and "v1 DRAFT" in page.text
    assert "Transaction from a new device" in page.text and "Failed sign-ins" in page.text
    async with db.session() as session:
        created = (
            await session.exec(
                select(AuditEntry.actor_id, AuditEntry.after).where(
                    col(AuditEntry.action) == "fraud_rule.created"
                )
            )
        ).all()
    assert [(actor, after["author"], after["name"]) for actor, after in created] == [
        ("ana", "ana", "Large debit")
    ]


async def test_a_bad_condition_shows_its_path_and_stores_nothing(
    console: httpx.AsyncClient, db: Database
) -> None:
    token = csrf_of((await console.get("/admin/rules")).text)
    for condition, says in (
        ('{"op": "nope", "args": []}', "condition.op: unknown op &#39;nope&#39;"),
        ('{"op": ">=", "args": [{"feature": "amount"}', "condition: is not valid JSON"),
        ('{"op": ">=", "args": [{"feature": "no_such"}, 1]}', "condition.args[0]"),
    ):
        refused = await console.post("/admin/rules", data=rule_form(token, condition))
        assert refused.status_code == 400
        error = re.search(r'id="new-condition-error">([^<]*)<', refused.text)
        assert error and says in error.group(1), refused.text
        # What was typed stays in the editor.
        assert f">{escape(condition)}</textarea>" in refused.text
    score = await console.post("/admin/rules", data=rule_form(token, score="0"))
    assert score.status_code == 400
    assert 'id="new-score-error">score must be from 1 to 100<' in score.text
    kinds = await console.post("/admin/rules", data=rule_form(token, kind_TRANSACTION=""))
    assert 'id="new-eventKinds-error">name at least one event kind' in kinds.text
    assert await count(db, FraudRule) == 0 and await count(db, FraudRuleVersion) == 0


async def test_statuses_follow_the_two_person_rule(
    console: httpx.AsyncClient, api: Api, db: Database, transport: httpx.ASGITransport
) -> None:
    rule_id, version_id, token = await create(console)
    page = await console.get(f"/admin/rules/{rule_id}")
    assert "another staff member must approve it for LIVE" in page.text
    status = f"/admin/rules/{rule_id}/versions/{version_id}/status"
    refused = await console.post(status, data={"csrf_token": token, "status": "LIVE"})
    assert refused.status_code == 403
    assert (
        f'id="status-{version_id}-form-error">a rule goes LIVE only when someone other than '
        "its author approves it<"
    ) in refused.text
    shadow = await console.post(status, data={"csrf_token": token, "status": "SHADOW"})
    assert shadow.status_code == 303
    page = await console.get(f"/admin/rules/{rule_id}")
    assert "On live traffic (shadow)" in page.text and "last 24 h" in page.text
    async with browser(transport) as bob:
        await sign_in(bob, api.token("bob", Role.ADMIN))
        bob_token = csrf_of((await bob.get(f"/admin/rules/{rule_id}")).text)
        assert (
            "another staff member must approve"
            not in (await bob.get(f"/admin/rules/{rule_id}")).text
        )
        live = await bob.post(status, data={"csrf_token": bob_token, "status": "LIVE"})
        assert live.status_code == 303
    async with db.session() as session:
        version = await session.get(FraudRuleVersion, version_id)
        changes = (
            await session.exec(
                select(AuditEntry.actor_id).where(
                    col(AuditEntry.action) == "fraud_rule.status_changed"
                )
            )
        ).all()
    assert version is not None and (version.status, version.approver) == ("LIVE", "bob")
    assert sorted(changes) == ["ana", "bob"]


async def test_a_revision_is_a_new_draft_and_a_bad_one_stores_nothing(
    console: httpx.AsyncClient, db: Database
) -> None:
    rule_id, _, token = await create(console)
    revise = f"/admin/rules/{rule_id}/revise"
    bad = await console.post(revise, data=rule_form(token, '{"op": "and", "args": []}'))
    assert bad.status_code == 400
    assert 'id="revise-condition-error">condition.args: and needs at least one condition<' in (
        bad.text
    )
    assert await count(db, FraudRuleVersion) == 1
    good = await console.post(revise, data=rule_form(token, name="Large debit, 6000", score="45"))
    assert good.status_code == 303
    page = await console.get(f"/admin/rules/{rule_id}")
    assert "Version 2 <span" in page.text and "Large debit, 6000" in page.text
    missing = await console.post("/admin/rules/999/revise", data=rule_form(token))
    assert missing.status_code == 404 and "no fraud rule 999" in missing.text


async def test_snoozes_are_created_listed_and_lifted(
    console: httpx.AsyncClient, db: Database, clock: Clock
) -> None:
    rule_id, _, token = await create(console)
    snoozes = f"/admin/rules/{rule_id}/snoozes"
    form = {
        "csrf_token": token,
        "scope": "CUSTOMER",
        "value": "7",
        "until": local(clock.now - timedelta(hours=1)),
        "reason": "travelling",
    }
    past = await console.post(snoozes, data=form)
    assert past.status_code == 400
    assert 'id="snooze-until-error">until must be in the future<' in past.text
    who = await console.post(
        snoozes, data={**form, "value": "abc", "until": local(clock.now + timedelta(days=2))}
    )
    assert 'id="snooze-value-error">a customer is named by their mobileUserId<' in who.text
    assert await count(db, FraudSnooze) == 0
    made = await console.post(snoozes, data={**form, "until": local(clock.now + timedelta(days=2))})
    assert made.status_code == 303
    page = await console.get(f"/admin/rules/{rule_id}")
    assert "CUSTOMER 7" in page.text and "travelling" in page.text
    snooze_id = re.findall(r"/snoozes/(\d+)/lift", page.text)[0]
    lifted = await console.post(f"{snoozes}/{snooze_id}/lift", data={"csrf_token": token})
    assert lifted.status_code == 303
    page = await console.get(f"/admin/rules/{rule_id}")
    assert "No active snoozes." in page.text
    async with db.session() as session:
        row = await session.get(FraudSnooze, int(snooze_id))
    assert row is not None and row.lifted_by == "ana" and row.created_by == "ana"


async def test_a_backtest_reports_on_its_own_page(
    console: httpx.AsyncClient, api: Api, db: Database, clock: Clock
) -> None:
    await make_account(db, user_id=7, account_number="1000000007")
    for amount, hours in (("6000", 2), ("50", 1)):
        body = await api.as_service(
            RECORD_TRANSACTION,
            {"input": transaction("1000000007", amount, clock.now - timedelta(hours=hours))},
        )
        assert "errors" not in body, body
    clock.advance(minutes=1)
    rule_id, version_id, token = await create(console)
    start = f"/admin/rules/{rule_id}/versions/{version_id}/backtests"
    window = {"csrf_token": token, "from": local(clock.now - timedelta(days=1))}
    backwards = await console.post(
        start, data={**window, "to": local(clock.now - timedelta(days=2))}
    )
    assert backwards.status_code == 400
    assert f'id="backtest-{version_id}-to-error">to must be after from<' in backwards.text
    garbled = await console.post(start, data={**window, "to": "soon"})
    assert f'id="backtest-{version_id}-to-error">to: give a date and time' in garbled.text
    assert await count(db, Backtest) == 0
    started = await console.post(start, data={**window, "to": local(clock.now)})
    assert started.status_code == 303
    location = started.headers["location"]
    page = await console.get(location)
    assert page.status_code == 200 and "Large debit v1" in page.text
    for _ in range(400):
        body = await console.get(location + "/body")
        if 'id="backtest-status">DONE<' in body.text:
            break
        assert 'hx-trigger="every 1s"' in body.text
        await asyncio.sleep(0.05)
    else:
        raise AssertionError("the backtest did not finish")
    assert "hx-trigger" not in body.text
    assert 'id="hit-rate">50.00 %<' in body.text
    assert "Hits per day: " in body.text and "amount = 6000" in body.text
    assert 'id="precision">no labels<' in body.text
    assert (await console.get("/admin/backtests/999")).status_code == 404


async def test_rule_forms_need_the_csrf_token_and_a_signed_in_staff_member(
    console: httpx.AsyncClient, api: Api, db: Database, transport: httpx.ASGITransport
) -> None:
    rule_id, version_id, token = await create(console)
    forms: list[tuple[str, dict[str, str]]] = [
        ("/admin/rules", rule_form("", name="Another")),
        (f"/admin/rules/{rule_id}/revise", rule_form("", name="Revised")),
        (f"/admin/rules/{rule_id}/versions/{version_id}/status", {"status": "SHADOW"}),
        (
            f"/admin/rules/{rule_id}/versions/{version_id}/backtests",
            {"from": "2026-01-01T00:00", "to": "2026-01-02T00:00"},
        ),
        (
            f"/admin/rules/{rule_id}/snoozes",
            {"scope": "DEVICE", "value": "d1", "until": "2999-01-01T00:00", "reason": "r"},
        ),
    ]
    before = [await count(db, t) for t in (FraudRule, FraudRuleVersion, FraudSnooze, Backtest)]
    for path, data in forms:
        for csrf in ({}, {"csrf_token": "forged"}, {"csrf_token": token[:-1]}):
            response = await console.post(path, data={**data, **csrf})
            assert response.status_code == 403, path
    # Without a console session (a customer's bearer token opens nothing either).
    async with browser(transport) as stranger:
        for path, data in forms:
            response = await stranger.post(
                path,
                data={**data, "csrf_token": token},
                headers={"Authorization": f"Bearer {api.token(7)}"},
            )
            assert response.status_code == 403, path
        assert (await stranger.get("/admin/rules")).headers["location"] == "/admin/sign-in"
    after = [await count(db, t) for t in (FraudRule, FraudRuleVersion, FraudSnooze, Backtest)]
    assert after == before
    async with db.session() as session:
        version = await session.get(FraudRuleVersion, version_id)
    assert version is not None and version.status == "DRAFT"


async def test_script_in_a_rule_name_is_shown_as_text(console: httpx.AsyncClient) -> None:
    token = csrf_of((await console.get("/admin/rules")).text)
    await console.post("/admin/rules", data=rule_form(token, name="<script>x()</script>"))
    page = await console.get("/admin/rules")
    assert "<script>x()" not in page.text and "&lt;script&gt;x()&lt;/script&gt;" in page.text
