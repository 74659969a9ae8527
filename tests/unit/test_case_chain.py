"""The escalation chain's steps and the SLA arithmetic, without a database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from account_alerts.domain.cases import (
    CaseOutcome,
    CaseSource,
    CaseStatus,
    ChainStep,
    TeamMessageKind,
    chain_step,
    is_overdue,
    unlocks_customer,
)
from account_alerts.domain.sla import AlertSla, CaseSla, percentile

OPENED = TeamMessageKind.CASE_OPENED
ESCALATED = TeamMessageKind.CASE_ESCALATED


def test_the_chain_climbs_one_level_per_step_then_repeats_the_top_then_ends() -> None:
    steps = [chain_step(step, levels=3, repeats=2) for step in range(6)]
    assert steps == [
        ChainStep(0, 0, OPENED),
        ChainStep(1, 1, ESCALATED),
        ChainStep(2, 2, ESCALATED),
        ChainStep(3, 2, ESCALATED),
        ChainStep(4, 2, ESCALATED),
        None,
    ]


def test_a_chain_of_one_level_and_no_repeats_tells_once() -> None:
    assert chain_step(0, levels=1, repeats=0) == ChainStep(0, 0, OPENED)
    assert chain_step(1, levels=1, repeats=0) is None
    assert chain_step(0, levels=0, repeats=5) is None


def test_overdue_only_while_open_and_past_due() -> None:
    due = datetime(2026, 12, 1, 8, 5, tzinfo=UTC)
    assert not is_overdue(status=CaseStatus.OPEN, ack_due_at=due, now=due - timedelta(seconds=1))
    assert is_overdue(status=CaseStatus.OPEN, ack_due_at=due, now=due)
    assert not is_overdue(status=CaseStatus.ACKNOWLEDGED, ack_due_at=due, now=due + timedelta(1))


def test_only_clearing_a_case_that_locked_the_customer_unlocks_them() -> None:
    fp, fraud = CaseOutcome.FALSE_POSITIVE, CaseOutcome.CONFIRMED_FRAUD
    assert unlocks_customer(CaseSource.DECISION_BLOCK, fp)
    assert unlocks_customer(CaseSource.REPORT_FRAUD, fp)
    assert not unlocks_customer(CaseSource.DECISION_REVIEW, fp)
    assert not unlocks_customer(CaseSource.DECISION_BLOCK, fraud)


def test_percentiles_are_values_that_occurred() -> None:
    assert percentile([], 0.5) is None
    assert percentile([30.0], 0.99) == 30.0
    values = [float(n) for n in range(1, 101)]
    assert (percentile(values, 0.5), percentile(values, 0.95), percentile(values, 0.99)) == (
        50.0,
        95.0,
        99.0,
    )
    assert percentile([400.0, 60.0], 0.5) == 60.0


def test_shares_count_what_is_decided_and_unsent_alerts_as_late() -> None:
    assert (
        CaseSla(cases=4, decided=3, acknowledged_within_sla=1, ack_seconds=[]).share_within_sla
        == 1 / 3
    )
    assert (
        CaseSla(cases=1, decided=0, acknowledged_within_sla=0, ack_seconds=[]).share_within_sla
        is None
    )
    alerts = AlertSla(alerts=4, send_seconds=[10.0, 300.0, 301.0])
    assert alerts.within_target == 2 and alerts.share_within_target == 0.5
