"""What the rule pages show: plain data built from rule, snooze and backtest rows."""

from __future__ import annotations

import json
from typing import Any

from account_alerts.admin.charts import bar_chart
from account_alerts.admin.views import shown_time
from account_alerts.domain.fraud_decision import RuleStatus
from account_alerts.engine.fraud_rules import MOVES
from account_alerts.store.fraud_stats import VersionStats
from account_alerts.store.fraud_tables import Backtest, FraudRuleVersion, FraudSnooze

# The status buttons a version page offers, in the order a rule moves through them.
STATUS_BUTTONS = (RuleStatus.SHADOW, RuleStatus.LIVE, RuleStatus.RETIRED)


def _share(value: float | None) -> str:
    return "no labels" if value is None else f"{100 * value:.1f} %"


def stats_view(stats: VersionStats) -> dict[str, Any]:
    return {
        "evaluated": stats.evaluated,
        "hits": stats.hits,
        "hit_rate": f"{100 * stats.hit_rate:.2f} %",
        "customers": stats.distinct_customers,
        "overlap": stats.overlap_with_live,
    }


def version_view(
    version: FraudRuleVersion, *, staff: str, stats: dict[str, dict[str, Any]] | None = None
) -> dict[str, Any]:
    current = RuleStatus(version.status)
    return {
        "id": version.id,
        "version": version.version,
        "name": version.name,
        "description": version.description or "",
        "status": current.value,
        "score": version.score,
        "event_kinds": list(version.event_kinds),
        "condition": json.dumps(version.condition, indent=2),
        "author": version.author,
        "approver": version.approver or "",
        "created_at": shown_time(version.created_at),
        "moves": [s.value for s in STATUS_BUTTONS if s in MOVES[current]],
        # The engine refuses the author's own LIVE; the page says so before they try.
        "needs_second_person": version.author == staff and RuleStatus.LIVE in MOVES[current],
        "stats": stats or {},
    }


def snooze_view(row: FraudSnooze) -> dict[str, Any]:
    return {
        "id": row.id,
        "scope": row.scope,
        "value": row.scope_value,
        "until": shown_time(row.until),
        "reason": row.reason,
        "created_by": row.created_by,
    }


def backtest_view(row: Backtest, version: FraudRuleVersion) -> dict[str, Any]:
    report = row.report or {}
    labelled = report.get("labelled") or {}
    overlap = report.get("overlap") or {}
    per_day = [(str(d["day"]), int(d["hits"])) for d in report.get("perDay") or []]
    return {
        "id": row.id,
        "rule_id": version.rule_id,
        "version_id": version.id,
        "rule": f"{version.name} v{version.version}",
        "status": row.status,
        "progress": f"{100 * row.progress:.0f} %",
        "error": row.error or "",
        "window": f"{shown_time(row.window_start)} to {shown_time(row.window_end)}",
        "started_by": row.started_by,
        "done": bool(report),
        "evaluated": report.get("evaluated", 0),
        "hits": report.get("hits", 0),
        "hit_rate": f"{100 * float(report.get('hitRate') or 0):.2f} %",
        "customers": report.get("distinctCustomers", 0),
        "overlap": {k: overlap.get(k, 0) for k in ("both", "newOnly", "liveOnly")},
        "confusion": {
            k: labelled.get(k, 0)
            for k in ("truePositives", "falsePositives", "falseNegatives", "trueNegatives")
        },
        "precision": _share(labelled.get("precision")),
        "recall": _share(labelled.get("recall")),
        "chart": bar_chart("Hits per day", per_day),
        "samples": [
            {
                "event_id": str(sample.get("eventId")),
                "occurred_at": str(sample.get("occurredAt")),
                "features": [
                    (str(name), "null" if value is None else str(value))
                    for name, value in (sample.get("features") or {}).items()
                ],
            }
            for sample in report.get("sampleHits") or []
        ],
    }
