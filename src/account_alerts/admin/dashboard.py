"""The dashboard's view data: the counts of a window turned into charts."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from account_alerts.admin.charts import BarChart, bar_chart, percent
from account_alerts.admin.views import shown_time
from account_alerts.domain.cases import CaseOutcome, CaseSource
from account_alerts.domain.enums import AlertType, DeliveryStatus, NotificationChannel
from account_alerts.domain.sla import AlertSla, CaseSla
from account_alerts.store.dashboard import Counts

WINDOWS = (1, 7, 30, 90)


def _ratio(part: int, whole: int) -> int:
    return round(100 * part / whole) if whole else 0


def delivery_chart(counts: Counts) -> BarChart:
    values, shown = [], []
    for channel in NotificationChannel:
        sent = counts.deliveries.get((channel.value, DeliveryStatus.SENT.value), 0)
        failed = counts.deliveries.get((channel.value, DeliveryStatus.FAILED.value), 0)
        values.append((channel.value, _ratio(sent, sent + failed)))
        finished = sent + failed
        shown.append(f"{percent(sent, finished)} of {finished} finished" if finished else "no data")
    return bar_chart("Delivery success by channel", values, shown=shown)


def dashboard_page(
    counts: Counts, cases: CaseSla, alerts: AlertSla, *, days: int, end: datetime
) -> dict[str, Any]:
    resolved = sum(counts.outcomes.values())
    false_positives = counts.outcomes.get(CaseOutcome.FALSE_POSITIVE.value, 0)
    charts = [
        bar_chart(
            "Alerts by type",
            [(kind.value, counts.alerts_by_type.get(kind.value, 0)) for kind in AlertType],
        ),
        delivery_chart(counts),
        bar_chart(
            "Decisions that opened cases, and fraud reports",
            [(source.value, counts.cases_by_source.get(source.value, 0)) for source in CaseSource],
        ),
        bar_chart(
            "Resolved cases by outcome",
            [(outcome.value, counts.outcomes.get(outcome.value, 0)) for outcome in CaseOutcome],
            tones=["bad", "good"],
        ),
        bar_chart(
            "SLA compliance",
            [
                (
                    "cases acknowledged in time",
                    _ratio(cases.acknowledged_within_sla, cases.decided),
                ),
                ("alerts sent within 5 min", _ratio(alerts.within_target, alerts.alerts)),
            ],
            shown=[
                percent(cases.acknowledged_within_sla, cases.decided),
                percent(alerts.within_target, alerts.alerts),
            ],
            tones=["good", "good"],
        ),
    ]
    return {
        "days": days,
        "start": shown_time(end - timedelta(days=days)),
        "end": shown_time(end),
        "false_positive_rate": percent(false_positives, resolved),
        "charts": charts,
    }
