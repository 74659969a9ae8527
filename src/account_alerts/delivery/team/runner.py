"""The case notifier: takes each open case's escalation steps as they come due and sends
their notifications to the risk team. Any number of these may run on one PostgreSQL:
cases are taken with SKIP LOCKED, each step's notifications exist once (a unique key),
and each notification is sent under a lease. A runner killed mid-send loses nothing:
once its lease expires another runner sends the notification again."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from account_alerts.config import EscalationLevel, Settings
from account_alerts.delivery import metrics
from account_alerts.delivery.channels.base import Channel, DeliveryError, OutgoingMessage
from account_alerts.delivery.team import messages
from account_alerts.delivery.team.slack import SlackWebhook
from account_alerts.delivery.waiting import until_any
from account_alerts.domain.cases import (
    CaseStatus,
    TeamChannel,
    TeamNotificationStatus,
    chain_step,
)
from account_alerts.domain.enums import NotificationChannel
from account_alerts.domain.retry_policy import backoff
from account_alerts.store import team_notifications
from account_alerts.store.cases import ReviewCase, record_escalated, record_notified
from account_alerts.store.database import Database

logger = logging.getLogger("account_alerts.cases")

STEPS_PER_RUN = 100
SENDS_PER_RUN = 50


def slack_destination(level: str, index: int) -> str:
    """How a Slack webhook is named in the database: its level and place, never its URL
    (a credential), which is looked up in the settings when the message is sent."""
    return f"slack:{level}:{index}"


class CaseNotifier:
    def __init__(
        self,
        *,
        db: Database,
        settings: Settings,
        email: Channel,
        clock: Callable[[], datetime],
        owner: str | None = None,
    ) -> None:
        self.db = db
        self.settings = settings
        self.email = email
        self.slack = SlackWebhook(timeout=settings.provider_timeout_seconds)
        self.clock = clock
        self.owner = owner or f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.wake = asyncio.Event()

    @property
    def chain(self) -> list[EscalationLevel]:
        return self.settings.case_escalation_chain

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.run_once()
            except Exception:  # the next round retries; never stop telling the team
                logger.exception("case notifier round failed")
            self.wake.clear()
            await until_any(self.settings.case_notify_poll_seconds, stop, self.wake)
        self.slack.close()

    async def run_once(self) -> int:
        """One round: take the steps that are due, then send what is due. Returns how
        many notifications were sent."""
        await self.take_due_steps()
        return await self.send_due()

    async def take_due_steps(self) -> int:
        now = self.clock()
        async with self.db.transaction() as session:
            due = (
                select(ReviewCase)
                .where(
                    col(ReviewCase.status) == CaseStatus.OPEN,
                    col(ReviewCase.next_step_at) <= now,
                )
                .order_by(col(ReviewCase.next_step_at), col(ReviewCase.id))
                .limit(STEPS_PER_RUN)
            )
            if self.db.is_postgresql:
                due = due.with_for_update(skip_locked=True)
            cases = list((await session.exec(due)).all())
            for case in cases:
                await self._take_step(session, case, now)
        return len(cases)

    async def _take_step(self, session: AsyncSession, case: ReviewCase, now: datetime) -> None:
        assert case.id is not None
        repeats = self.settings.case_escalation_repeats
        step = chain_step(case.next_step, levels=len(self.chain), repeats=repeats)
        if step is not None:
            level = self.chain[step.level]
            targets = [(TeamChannel.EMAIL, address) for address in level.emails] + [
                (TeamChannel.SLACK, slack_destination(level.name, index))
                for index in range(len(level.slack_webhooks))
            ]
            await team_notifications.add_step(
                session,
                case_id=case.id,
                step=step.step,
                level=level.name,
                kind=step.kind,
                targets=targets,
                now=now,
            )
            if step.step > 0:
                record_escalated(session, case, at=now, step=step.step, level=level.name)
                metrics.CASE_ESCALATIONS.inc()
        case.next_step += 1
        following = chain_step(case.next_step, levels=len(self.chain), repeats=repeats)
        # Step n (n >= 1) comes n - 1 SLA periods after the acknowledgement was due.
        case.next_step_at = (
            case.ack_due_at + self.settings.case_ack_sla * (case.next_step - 1)
            if following is not None
            else None
        )
        case.updated_at = now
        session.add(case)

    async def send_due(self) -> int:
        now = self.clock()
        async with self.db.transaction() as session:
            claimed = await team_notifications.claim_due(
                session,
                owner=self.owner,
                now=now,
                lease=timedelta(seconds=self.settings.case_notify_lease_seconds),
                limit=SENDS_PER_RUN,
            )
        sent = 0
        for notification in claimed:
            sent += await self._send(notification)
        return sent

    async def _send(self, notification: team_notifications.Claimed) -> int:
        async with self.db.session() as session:
            case = await session.get(ReviewCase, notification.case_id)
        assert case is not None and case.id is not None
        summary = _summary(case, notification, self.settings.case_url(case.id))
        error: DeliveryError | None = None
        try:
            await self._deliver(notification, summary)
        except DeliveryError as exc:
            error = exc
        now = self.clock()
        attempts = notification.attempts + 1
        async with self.db.transaction() as session:
            if error is None:
                status = TeamNotificationStatus.SENT
                retry_at = None
            elif error.transient and attempts < self.settings.case_notify_max_attempts:
                status = TeamNotificationStatus.PENDING
                retry_at = now + backoff(attempts, retry_after=error.retry_after)
            else:
                status = TeamNotificationStatus.FAILED
                retry_at = None
            recorded = await team_notifications.finish(
                session,
                notification_id=notification.id,
                owner=self.owner,
                status=status,
                attempts=attempts,
                now=now,
                next_attempt_at=retry_at,
                error=error.reason if error else None,
            )
            if recorded and error is None:
                fresh = await session.get(ReviewCase, notification.case_id)
                assert fresh is not None
                record_notified(
                    session,
                    fresh,
                    at=now,
                    kind=notification.kind,
                    level=notification.level,
                    channel=notification.channel.value,
                    to=notification.destination,
                )
        outcome = "sent" if error is None else status.value.lower()
        metrics.TEAM_NOTIFICATIONS.labels(notification.channel.value, outcome).inc()
        if error is not None:
            logger.warning(
                "case %s: %s notification failed: %s",
                notification.case_id,
                notification.channel.value,
                error.reason,
            )
        return 1 if error is None else 0

    async def _deliver(
        self, notification: team_notifications.Claimed, summary: messages.CaseSummary
    ) -> None:
        if notification.channel is TeamChannel.EMAIL:
            await self.email.send(
                OutgoingMessage(
                    channel=NotificationChannel.EMAIL,
                    to=notification.destination,
                    alert_id=None,
                    alert_type=None,
                    title=messages.headline(summary),
                    body=messages.email_text(summary),
                    # One Message-ID per notification: a re-send after a lost outcome folds.
                    delivery_key=f"case-{notification.case_id}-n{notification.id}",
                )
            )
            return
        url = self._slack_url(notification.destination)
        if url is None:
            raise DeliveryError("slack webhook no longer configured", transient=False)
        await self.slack.post(url, messages.slack_message(summary))

    def _slack_url(self, destination: str) -> str | None:
        _, level_name, index = destination.split(":", 2)
        for level in self.chain:
            if level.name == level_name and int(index) < len(level.slack_webhooks):
                return level.slack_webhooks[int(index)].get_secret_value()
        return None


def _summary(
    case: ReviewCase, notification: team_notifications.Claimed, url: str
) -> messages.CaseSummary:
    assert case.id is not None
    decision = case.decision or {}
    hits = decision.get("hits") or []
    rules = tuple(
        str(hit.get("name"))
        for hit in hits
        if isinstance(hit, dict) and not hit.get("shadow") and not hit.get("suppressed")
    )
    score = decision.get("score")
    return messages.CaseSummary(
        case_id=case.id,
        kind=notification.kind,
        level=notification.level,
        source=case.source.value,
        mobile_user_id=case.mobile_user_id,
        outcome=decision.get("outcome"),
        score=int(score) if isinstance(score, int) else None,
        rules=rules,
        opened_at=case.opened_at,
        ack_due_at=case.ack_due_at,
        url=url,
    )
