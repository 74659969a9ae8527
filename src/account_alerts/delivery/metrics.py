"""Prometheus metrics of delivery: outcomes, queue depth, lag to send, provider latency."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, multiprocess

REGISTRY = CollectorRegistry(auto_describe=True)
MULTIPROCESS_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"

DELIVERIES = Counter(
    "alerts_deliveries_total",
    "Deliveries handled, by channel and outcome: sent, retry, failed, skipped, or deferred"
    " (not tried; left for the next claim).",
    ["channel", "outcome"],
    registry=REGISTRY,
)
QUEUE_DEPTH = Gauge(
    "alerts_outbox_pending",
    "Deliveries waiting to be sent.",
    registry=REGISTRY,
    multiprocess_mode="livemax",
)
LAG = Histogram(
    "alerts_delivery_lag_seconds",
    "From the alert being stored to its first successful send on a channel.",
    ["channel"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600),
    registry=REGISTRY,
)
PROVIDER_LATENCY = Histogram(
    "alerts_provider_latency_seconds",
    "Time a provider took to accept or refuse one message.",
    ["provider"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
    registry=REGISTRY,
)
BREAKER_OPEN = Gauge(
    "alerts_provider_circuit_open",
    "1 while a provider's circuit breaker is open.",
    ["provider"],
    registry=REGISTRY,
    multiprocess_mode="livemax",
)

CASE_ESCALATIONS = Counter(
    "alerts_case_escalations_total",
    "Escalation steps taken on review cases nobody acknowledged in time.",
    registry=REGISTRY,
)
TEAM_NOTIFICATIONS = Counter(
    "alerts_team_notifications_total",
    "Notifications of review cases to the risk team, by channel and outcome: sent, pending"
    " (to be retried), or failed.",
    ["channel", "outcome"],
    registry=REGISTRY,
)
CASE_ACK_SECONDS = Histogram(
    "alerts_case_time_to_acknowledge_seconds",
    "From a review case opening to its first acknowledgement (or resolution).",
    buckets=(10, 30, 60, 120, 180, 240, 300, 450, 600, 900, 1800, 3600),
    registry=REGISTRY,
)

CASES_OPEN = Gauge(
    "alerts_cases_open",
    "Review cases not yet acknowledged.",
    registry=REGISTRY,
    multiprocess_mode="livemax",
)
CASES_OVERDUE = Gauge(
    "alerts_cases_overdue",
    "Review cases not acknowledged within the SLA.",
    registry=REGISTRY,
    multiprocess_mode="livemax",
)


def share_between_processes() -> None:
    """Before starting several server processes: they record their metrics in files of a
    shared directory, and /metrics in any of them reports the sum (prometheus_client's
    multiprocess mode). Must run before those processes import this module."""
    if not os.environ.get(MULTIPROCESS_DIR_ENV):
        directory = tempfile.mkdtemp(prefix="account-alerts-metrics-")
        atexit.register(shutil.rmtree, directory, ignore_errors=True)
        os.environ[MULTIPROCESS_DIR_ENV] = directory


def registry() -> CollectorRegistry:
    """What /metrics reports: this process's metrics, or every server process's."""
    if os.environ.get(MULTIPROCESS_DIR_ENV):
        combined = CollectorRegistry()
        multiprocess.MultiProcessCollector(combined)  # type: ignore[no-untyped-call]
        return combined
    return REGISTRY
