"""Prometheus metrics of delivery: outcomes, queue depth, lag to send, provider latency."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

DELIVERIES = Counter(
    "alerts_deliveries_total",
    "Delivery attempts by channel and outcome (sent, retry, failed, skipped).",
    ["channel", "outcome"],
    registry=REGISTRY,
)
QUEUE_DEPTH = Gauge("alerts_outbox_pending", "Deliveries waiting to be sent.", registry=REGISTRY)
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
)
