"""Benchmark: signed webhooks. How fast one ``account-alerts worker`` delivers Standard
Webhooks to local endpoints, against plain httpx POSTs of the same bodies to the same
receiver; and whether a hanging endpoint delays customers' alerts.

    python bench/webhooks.py [--quick] [--events 1000] [--lag-seconds 15]

On a throwaway PostgreSQL cluster, with a receiver (bench/webhook_receiver.py, uvicorn,
one process) on 127.0.0.1, in one run:

1. baseline: N plain POSTs (httpx.AsyncClient, one per body, the bodies of step 2) to
   the receiver, 10 paths, as many at a time as the worker may have in flight
   (10 endpoints x ALERTS_WEBHOOK_ENDPOINT_CONCURRENCY);
2. signed: E ``alert.created`` events written to the webhook outbox in one transaction
   (with a NOTIFY alert_created, as the event path sends for its alerts) while an idle
   ``account-alerts worker`` waits; 10 endpoints subscribed, so N = 10 E
   deliveries, each fanned out, claimed, signed (HMAC-SHA256, Standard Webhooks), posted
   with its destination checked, and recorded with its attempt; timed from that commit
   until none is PENDING;
3. customer alert lag (delivery sent_at - alert created_at, sink channel) at a constant
   100 alerts/s, each with its ALERT_CREATED event as the event path writes it: first
   with no webhook endpoint, then with one endpoint whose receiver never answers.

The worker runs with ALERTS_ENV=development: the receiver speaks plain HTTP on
127.0.0.1 (allowed by ALERTS_WEBHOOK_ALLOWED_NETWORKS=127.0.0.1/32); every other
setting at its default.

Prints a table and writes bench/results/webhooks.json. Every process and the cluster are
stopped at the end, on error too.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg
from common_bench import (
    RESULTS_DIR,
    BenchError,
    cli_command,
    display_command,
    latency_summary,
    machine_facts,
    met,
    print_ratios_and_targets,
    ratio,
    run_and_report,
    server_env,
    wait_for,
)
from dataset import DATABASE, conninfo, server_version
from query_alerts import HOST, Server, free_port, running

from account_alerts.delivery.webhooks.secrets import SecretBox, new_secret
from account_alerts.domain.webhooks import WebhookEventType
from account_alerts.store.migrate import upgrade
from account_alerts.store.webhook_events import alert_created, event_row
from tests.support.pg_cluster import PostgresCluster
from tests.support.processes import seed_customers

ENDPOINTS = 10
CONCURRENCY = 8  # the worker's default per endpoint
CUSTOMERS = 50
LAG_RATE = 100.0
ENCRYPTION_KEY = base64.urlsafe_b64encode(b"bench-webhook-key-0123456789abcd").decode()
TARGET_PER_S = 1000.0
TARGET_VS_PLAIN = 0.5
TARGET_LAG_RATIO = 1.1
BENCH = Path(__file__).resolve().parent


def start_receiver(log: Path) -> tuple[Server, str]:
    port = free_port()
    command = [
        sys.executable, "-m", "uvicorn", "webhook_receiver:app", "--app-dir", str(BENCH),
        "--host", HOST, "--port", str(port), "--no-access-log", "--log-level", "warning",
    ]  # fmt: skip
    receiver = Server("receiver", command, server_env("unused"), log)
    base = f"http://{HOST}:{port}"
    wait_for(lambda: _answers(base), 30, "the receiver")
    return receiver, base


def _answers(base: str) -> bool:
    try:
        return httpx.post(f"{base}/probe", content=b"{}", timeout=1).status_code == 204
    except httpx.HTTPError:
        return False


def start_worker(url: str, sink: Path, log: Path) -> Server:
    env = server_env(url)
    env.update(
        ALERTS_ENV="development",
        ALERTS_SINK_FILE=str(sink),
        ALERTS_WEBHOOK_ENCRYPTION_KEY=ENCRYPTION_KEY,
        ALERTS_WEBHOOK_ALLOWED_NETWORKS="127.0.0.1/32",
    )
    return Server("worker", cli_command("worker"), env, log)


def add_endpoints(dsn: str, urls: list[str], secret: str) -> None:
    sealed = SecretBox([ENCRYPTION_KEY]).seal(secret)
    with psycopg.connect(dsn) as conn:
        conn.execute("UPDATE webhook_endpoints SET disabled_at = now()")
        for url in urls:
            conn.execute(
                "INSERT INTO webhook_endpoints (url, description, event_types, "
                "secret_encrypted, created_at, updated_at) "
                "VALUES (%s, 'bench', '[\"ALERT_CREATED\"]', %s, now(), now())",
                (url, sealed),
            )


def bodies(count: int) -> list[dict[str, Any]]:
    now = datetime.now(UTC)
    return [
        event_row(
            WebhookEventType.ALERT_CREATED,
            alert_created(
                alert_id=i,
                mobile_user_id=1 + i % CUSTOMERS,
                alert_type="LARGE_TRANSACTION",
                account_number=f"{2000000000 + i}",
                title="Large transaction on ****0001",
                triggered_at=now,
                is_test=False,
            ),
            occurred_at=now,
        )
        for i in range(count)
    ]


def insert_events(cur: psycopg.Cursor[Any], rows: list[dict[str, Any]]) -> None:
    cur.executemany(
        "INSERT INTO webhook_events (message_id, event_type, body, occurred_at) "
        "VALUES (%(message_id)s, 'alert.created', %(body)s, %(occurred_at)s)",
        rows,
    )


def announce(cur: psycopg.Cursor[Any], alerts: list[tuple[int, int]]) -> None:
    """NOTIFY alert_created before the commit, as the event path does for the alerts it
    stores: it wakes the worker's delivery loop and its webhook dispatcher."""
    cur.execute(
        "SELECT pg_notify('alert_created', payload) FROM unnest(%s::text[]) AS payload",
        ([f"{user}:{alert}" for user, alert in alerts],),
    )


def pending(dsn: str) -> int:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "SELECT (SELECT count(*) FROM webhook_events WHERE dispatched_at IS NULL) + "
            "(SELECT count(*) FROM webhook_deliveries WHERE status = 'PENDING')"
        ).fetchone()
    assert row is not None
    return int(row[0])


async def plain_posts(base: str, rows: list[dict[str, Any]]) -> float:
    """Seconds for every body to every path, ENDPOINTS x CONCURRENCY at a time."""
    limits = httpx.Limits(max_connections=ENDPOINTS * CONCURRENCY)
    async with httpx.AsyncClient(limits=limits, timeout=15) as client:
        queue: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
        for row in rows:
            for n in range(ENDPOINTS):
                queue.put_nowait((f"{base}/endpoint-{n}", row["body"]))

        async def post_all() -> None:
            while not queue.empty():
                url, body = queue.get_nowait()
                response = await client.post(
                    url, content=body.encode(), headers={"content-type": "application/json"}
                )
                if response.status_code != 204:
                    raise BenchError(f"receiver answered {response.status_code}")

        started = time.perf_counter()
        await asyncio.gather(*(post_all() for _ in range(ENDPOINTS * CONCURRENCY)))
        return time.perf_counter() - started


def feed_alerts(dsn: str, seconds: float) -> list[int]:
    """LAG_RATE alerts a second, each committed with its PUSH delivery and its
    ALERT_CREATED event; their ids."""
    ids: list[int] = []
    total = int(LAG_RATE * seconds)
    start = time.monotonic()
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        for i in range(total):
            delay = start + i / LAG_RATE - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            now = datetime.now(UTC)
            user = 1 + i % CUSTOMERS
            row = cur.execute(
                "INSERT INTO account_alerts (mobile_user_id, account_number, alert_type, "
                "alert_data, title, message, status, channels_sent, is_test, triggered_at, "
                "created_at, updated_at) VALUES (%s, %s, 'LARGE_TRANSACTION', '{}', "
                "'Large transaction', 'A large transaction', 'PENDING', '[]', false, %s, %s, %s) "
                "RETURNING id",
                (user, f"{2000000000 + user}", now, now, now),
            ).fetchone()
            assert row is not None
            cur.execute(
                "INSERT INTO alert_deliveries (alert_id, channel, status, attempts, "
                "next_attempt_at, created_at, updated_at) "
                "VALUES (%s, 'PUSH', 'PENDING', 0, %s, %s, %s)",
                (row[0], now, now, now),
            )
            insert_events(cur, bodies(1))
            announce(cur, [(user, row[0])])
            conn.commit()
            ids.append(row[0])
    return ids


def lags_ms(dsn: str, ids: list[int]) -> list[float]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT extract(epoch FROM d.sent_at - a.created_at) * 1000 FROM alert_deliveries d "
            "JOIN account_alerts a ON a.id = d.alert_id "
            "WHERE a.id = ANY(%s) AND d.sent_at IS NOT NULL",
            (ids,),
        ).fetchall()
    return [float(r[0]) for r in rows]


def lag_run(dsn: str, seconds: float) -> dict[str, Any]:
    ids = feed_alerts(dsn, seconds)
    wait_for(
        lambda: len(lags_ms(dsn, ids)) == len(ids),
        120,
        "the customers' alerts to be sent",
    )
    return latency_summary(lags_ms(dsn, ids))


def run(args: argparse.Namespace) -> dict[str, Any]:
    events = 200 if args.quick else args.events
    lag_seconds = 5.0 if args.quick else args.lag_seconds
    work = Path(tempfile.mkdtemp(prefix="bench-webhooks-"))
    cluster = PostgresCluster()
    try:
        cluster.start()
        url = cluster.create_database(DATABASE)
        upgrade(url)
        dsn = conninfo(cluster, DATABASE)
        seed_customers(url, CUSTOMERS)  # customers 1.. with a push device each
        receiver, base = start_receiver(work / "receiver.log")
        with running(receiver):
            rows = bodies(events)
            plain_seconds = asyncio.run(plain_posts(base, rows))
            secret = new_secret()
            add_endpoints(dsn, [f"{base}/endpoint-{n}" for n in range(ENDPOINTS)], secret)
            with running(start_worker(url, work / "sink.jsonl", work / "worker.log")):
                time.sleep(2)  # the worker is up and idle
                with psycopg.connect(dsn) as conn, conn.cursor() as cur:
                    insert_events(cur, rows)
                    announce(cur, [(1 + i % CUSTOMERS, i) for i in range(len(rows))])
                    conn.commit()
                    started = time.perf_counter()
                wait_for(lambda: pending(dsn) == 0, 600, "the deliveries", 0.02)
                signed_seconds = time.perf_counter() - started
                with psycopg.connect(dsn) as conn:
                    states = dict(
                        conn.execute(
                            "SELECT status, count(*) FROM webhook_deliveries GROUP BY status"
                        ).fetchall()
                    )
                if states != {"DELIVERED": events * ENDPOINTS}:
                    raise BenchError(f"deliveries ended as {states}")
                add_endpoints(dsn, [], secret)
                quiet = lag_run(dsn, lag_seconds)
                add_endpoints(dsn, [f"{base}/hang"], secret)
                hanging = lag_run(dsn, lag_seconds)
        deliveries = events * ENDPOINTS
        plain_rate = deliveries / plain_seconds
        signed_rate = deliveries / signed_seconds
        report: dict[str, Any] = {
            "command": display_command(sys.argv),
            "machine": machine_facts(None, server_version(cluster)),
            "deliveries": deliveries,
            "endpoints": ENDPOINTS,
            "plain_posts": {"seconds": round(plain_seconds, 3), "per_s": round(plain_rate, 1)},
            "signed": {"seconds": round(signed_seconds, 3), "per_s": round(signed_rate, 1)},
            "lag_ms_no_endpoint": quiet,
            "lag_ms_one_endpoint_hanging": hanging,
        }
        lag_ratio = ratio(hanging["p99"], quiet["p99"])
        report["ratios"] = {"signed / plain": ratio(signed_rate, plain_rate), "lag p99": lag_ratio}
        report["targets"] = {
            "signed deliveries/s": {
                "target": TARGET_PER_S,
                "measured": round(signed_rate, 1),
                "met": met(signed_rate, TARGET_PER_S),
            },
            "signed / plain": {
                "target": TARGET_VS_PLAIN,
                "measured": report["ratios"]["signed / plain"],
                "met": met(report["ratios"]["signed / plain"], TARGET_VS_PLAIN),
            },
            "lag p99 hanging / none": {
                "target": TARGET_LAG_RATIO,
                "measured": lag_ratio,
                "met": met(lag_ratio, TARGET_LAG_RATIO, at_most=True),
            },
        }
        return report
    finally:
        cluster.stop()


def print_table(report: dict[str, Any]) -> None:
    print(f"{report['deliveries']} deliveries to {report['endpoints']} endpoints")
    print(f"  plain httpx POSTs   {report['plain_posts']['per_s']:>10} /s")
    print(f"  signed webhooks     {report['signed']['per_s']:>10} /s")
    for name in ("lag_ms_no_endpoint", "lag_ms_one_endpoint_hanging"):
        lag = report[name]
        print(f"  {name:<32} p50 {lag['p50']} ms  p99 {lag['p99']} ms  n={lag['count']}")
    print_ratios_and_targets(report, 26)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a short run, to try it")
    parser.add_argument("--events", type=int, default=1000, help="events (x10 deliveries)")
    parser.add_argument("--lag-seconds", type=float, default=15.0)
    args = parser.parse_args()
    return run_and_report("webhooks", RESULTS_DIR / "webhooks.json", lambda: run(args), print_table)


if __name__ == "__main__":
    sys.exit(main())
