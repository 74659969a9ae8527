"""A new case reaches the risk team at once, by email over SMTP and Slack; nobody
acknowledging it escalates level by level; acknowledging stops the chain. Exactly one
notification per level however many notifiers run, and none lost to a killed one."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from pydantic import SecretStr
from sqlmodel import col, select

from account_alerts.config import EscalationLevel, Settings
from account_alerts.delivery.channels.factory import build_channels
from account_alerts.delivery.team.runner import CaseNotifier
from account_alerts.domain.cases import CaseEventKind, TeamNotificationStatus
from account_alerts.domain.enums import NotificationChannel, Role
from account_alerts.engine.actor import Actor
from account_alerts.engine.cases import acknowledge_case
from account_alerts.store import team_notifications
from account_alerts.store.cases import CaseTimelineEntry
from account_alerts.store.database import Database
from account_alerts.store.team_notifications import CaseNotification
from tests.conftest import Clock
from tests.support import providers, slack
from tests.support.delivery import with_providers
from tests.support.factories import make_account, make_case
from tests.support.providers import SmtpSink
from tests.support.slack import FakeSlack

smtp_sink = providers.smtp_sink
fake_slack = slack.fake_slack

ANALYSTS = "analysts@bank.test"
HEAD = "head.of.risk@bank.test"
ANA = Actor(role=Role.ADMIN, id="ana")


@pytest.fixture
def team_settings(settings: Settings, smtp_sink: SmtpSink, fake_slack: FakeSlack) -> Settings:
    return with_providers(
        settings,
        smtp=smtp_sink,
        public_url="https://alerts.bank.test",
        case_escalation_chain=[
            EscalationLevel(
                name="analysts", emails=[ANALYSTS], slack_webhooks=[SecretStr(fake_slack.hook_url)]
            ),
            EscalationLevel(name="supervisors", emails=[HEAD]),
        ],
        case_escalation_repeats=1,
        case_notify_lease_seconds=30,
    )


def notifier(settings: Settings, db: Database, clock: Clock, owner: str) -> CaseNotifier:
    email = build_channels(settings, clock)[NotificationChannel.EMAIL]
    return CaseNotifier(db=db, settings=settings, email=email, clock=clock, owner=owner)


@pytest.fixture
async def team(team_settings: Settings, db: Database, clock: Clock) -> AsyncIterator[CaseNotifier]:
    await make_account(db, user_id=7, account_number="1000000007")
    runner = notifier(team_settings, db, clock, "runner-a")
    yield runner
    runner.slack.close()


async def timeline_kinds(db: Database, case_id: int) -> list[tuple[CaseEventKind, dict[str, Any]]]:
    async with db.session() as session:
        rows = (
            await session.exec(
                select(CaseTimelineEntry)
                .where(col(CaseTimelineEntry.case_id) == case_id)
                .order_by(col(CaseTimelineEntry.id))
            )
        ).all()
    return [(row.kind, row.details) for row in rows]


async def test_a_new_case_reaches_the_team_by_email_and_slack(
    team: CaseNotifier, db: Database, clock: Clock, smtp_sink: SmtpSink, fake_slack: FakeSlack
) -> None:
    case_id = await make_case(db, user_id=7, opened_at=clock.now)
    assert await team.run_once() == 2
    [mail] = smtp_sink.wait_for(1)
    [message] = fake_slack.wait_for(1)
    url = f"https://alerts.bank.test/admin/cases/{case_id}"
    assert mail.rcpt_tos == [ANALYSTS]
    assert mail.subject == f"New review case {case_id}: DECISION_BLOCK"
    assert mail.text is not None and url in mail.text
    assert "Large night transfer from a new device" in mail.text
    assert "Shadow" not in mail.text  # shadow hits never count, nor are they announced
    assert "1000000007" not in mail.text  # no account number leaves the bank
    assert fake_slack.refused == []
    header, section, actions = message["blocks"]
    assert header["text"]["text"] == f"New review case {case_id}: DECISION_BLOCK"
    assert {"type": "mrkdwn", "text": "*Decision*\nBLOCK (score 85)"} in section["fields"]
    assert actions["elements"][0]["url"] == url
    assert url in message["text"]
    kinds = await timeline_kinds(db, case_id)
    notified = [details for kind, details in kinds if kind is CaseEventKind.NOTIFIED]
    assert sorted(d["channel"] for d in notified) == ["EMAIL", "SLACK"]
    assert all(d["message"] == "CASE_OPENED" and d["level"] == "analysts" for d in notified)
    # The webhook URL is a credential: the timeline names the hook, never its address.
    assert fake_slack.hook_url not in str(kinds)
    assert await team.run_once() == 0
    assert len(smtp_sink.messages) == 1 and len(fake_slack.messages) == 1


async def test_an_unacknowledged_case_escalates_level_by_level_then_stops(
    team: CaseNotifier, db: Database, clock: Clock, smtp_sink: SmtpSink, fake_slack: FakeSlack
) -> None:
    case_id = await make_case(db, user_id=7, opened_at=clock.now)
    await team.run_once()
    clock.advance(seconds=299)
    assert await team.run_once() == 0
    clock.advance(seconds=1)  # five minutes: the acknowledgement is overdue
    assert await team.run_once() == 1
    escalation = smtp_sink.wait_for(2)[1]
    assert escalation.rcpt_tos == [HEAD]
    assert escalation.subject == (f"Escalated to supervisors: case {case_id} is not acknowledged")
    clock.advance(minutes=5)  # past the top level: told again, once (the repeat limit)
    assert await team.run_once() == 1
    clock.advance(minutes=5)
    assert await team.run_once() == 0
    clock.advance(hours=1)
    assert await team.run_once() == 0
    assert [m.rcpt_tos for m in smtp_sink.messages] == [[ANALYSTS], [HEAD], [HEAD]]
    assert len(fake_slack.messages) == 1
    kinds = [kind for kind, _ in await timeline_kinds(db, case_id)]
    assert kinds.count(CaseEventKind.ESCALATED) == 2


async def test_acknowledging_stops_the_chain_at_once(
    team: CaseNotifier, db: Database, clock: Clock, smtp_sink: SmtpSink
) -> None:
    case_id = await make_case(db, user_id=7, opened_at=clock.now)
    await team.run_once()
    clock.advance(minutes=5)
    await team.take_due_steps()  # the escalation is written, not yet sent...
    await acknowledge_case(db, actor=ANA, case_id=str(case_id), now=clock.now)
    assert await team.send_due() == 0  # ...and never will be
    clock.advance(hours=1)
    assert await team.run_once() == 0
    assert [m.rcpt_tos for m in smtp_sink.messages] == [[ANALYSTS]]
    async with db.session() as session:
        statuses = (
            await session.exec(
                select(CaseNotification.status).where(col(CaseNotification.step) == 1)
            )
        ).all()
    assert statuses == [TeamNotificationStatus.CANCELLED]


async def test_two_notifiers_send_exactly_one_notification_per_level(
    team_settings: Settings,
    settings: Settings,
    clock: Clock,
    smtp_sink: SmtpSink,
    fake_slack: FakeSlack,
    db: Database,
) -> None:
    await make_account(db, user_id=7, account_number="1000000007")
    cases = [
        await make_case(db, user_id=7, opened_at=clock.now, event_id=f"tx-{n}") for n in range(12)
    ]
    # On PostgreSQL, as two processes would: each its own pool. SQLite has one writer:
    # its notifiers share the process's one connection.
    other_db = Database(settings.database_url, pool_size=5) if db.is_postgresql else db
    runners = [
        notifier(team_settings, db, clock, "runner-a"),
        notifier(team_settings, other_db, clock, "runner-b"),
    ]
    try:
        for _ in range(3):
            await asyncio.gather(*(runner.run_once() for runner in runners))
        clock.advance(minutes=5)
        for _ in range(3):
            await asyncio.gather(*(runner.run_once() for runner in runners))
    finally:
        if other_db is not db:
            await other_db.dispose()
        for runner in runners:
            runner.slack.close()
    opened = [m for m in smtp_sink.messages if m.rcpt_tos == [ANALYSTS]]
    escalated = [m for m in smtp_sink.messages if m.rcpt_tos == [HEAD]]
    assert sorted(m.subject for m in opened) == sorted(
        f"New review case {case_id}: DECISION_BLOCK" for case_id in cases
    )
    assert len(escalated) == len(cases)
    assert len({m.subject for m in escalated}) == len(cases)
    headers = [m["blocks"][0]["text"]["text"] for m in fake_slack.messages]
    assert sorted(headers) == sorted(
        f"New review case {case_id}: DECISION_BLOCK" for case_id in cases
    )


async def test_a_send_cut_by_a_killed_notifier_is_sent_again_after_its_lease(
    team_settings: Settings,
    team: CaseNotifier,
    db: Database,
    clock: Clock,
    smtp_sink: SmtpSink,
    fake_slack: FakeSlack,
) -> None:
    case_id = await make_case(db, user_id=7, opened_at=clock.now)
    await team.take_due_steps()
    # A notifier claims the case's notifications and dies before recording its sends.
    async with db.transaction() as session:
        dead = await team_notifications.claim_due(
            session, owner="killed", now=clock.now, lease=timedelta(seconds=30), limit=10
        )
    assert len(dead) == 2
    assert await team.run_once() == 0  # the lease is the dead notifier's for now
    clock.advance(seconds=31)
    assert await team.run_once() == 2
    assert [m.rcpt_tos for m in smtp_sink.wait_for(1)] == [[ANALYSTS]]
    assert len(fake_slack.wait_for(1)) == 1
    # The dead notifier's outcome, arriving late, is not recorded over the survivor's.
    async with db.transaction() as session:
        late = await team_notifications.finish(
            session,
            notification_id=dead[0].id,
            owner="killed",
            status=TeamNotificationStatus.FAILED,
            attempts=1,
            now=clock.now,
        )
    assert late is False
    sent = [d for kind, d in await timeline_kinds(db, case_id) if kind is CaseEventKind.NOTIFIED]
    assert len(sent) == 2


async def test_slack_failures_are_retried_and_refusals_are_not(
    team: CaseNotifier, db: Database, clock: Clock, fake_slack: FakeSlack
) -> None:
    await make_case(db, user_id=7, opened_at=clock.now)
    fake_slack.fail_next(1, status=503)
    assert await team.run_once() == 1  # the email went; Slack answered 503
    assert fake_slack.messages == []
    clock.advance(seconds=10)
    assert await team.run_once() == 1
    assert len(fake_slack.messages) == 1
    async with db.session() as session:
        slack_row = (
            await session.exec(
                select(CaseNotification).where(col(CaseNotification.channel) == "SLACK")
            )
        ).one()
    assert (slack_row.status, slack_row.attempts) == (TeamNotificationStatus.SENT, 2)
