"""Benchmark: the delivery outbox. How fast one ``account-alerts worker`` drains pending
deliveries, and how long an alert waits between its commit and its send.

    python bench/outbox_drain.py [--quick] [--deliveries 20000] [--twilio-deliveries 5000]

On a throwaway PostgreSQL cluster whose customers all have a verified phone and a push
device, in one run:

1. drain to the sink: N alerts with one PENDING delivery each (half SMS, half PUSH) are
   inserted with SQL in one transaction while an idle ``account-alerts worker``
   (ALERTS_SINK_FILE set) polls; timed from that commit until none is PENDING. Baseline:
   a bare loop appending N JSON lines to a file;
2. drain through Twilio: the same with SMS only, the worker configured for Twilio with
   its API base at a local FakeTwilio (tests/support/providers.py), so the real twilio
   client speaks HTTP to it. Baseline: the same number of plain HTTP POSTs to the fake
   with httpx, as many at a time as the worker's thread pool sends;
3. lag from commit to send at a constant 200 alerts/s, worker alone: a separate process
   commits, 200 times a second, one LARGE_TRANSACTION alert with its PUSH and SMS outbox
   rows, as the event path writes them; lag = delivery sent_at - alert created_at;
4. the same lag through the whole pipeline: ``account-alerts serve --no-worker
   --no-scheduler`` plus the worker, fed ``recordTransaction`` events that each raise a
   LARGE_TRANSACTION alert, open-loop from a separate process (bench/common_openloop.py)
   at 200 events/s, or at 70% of what the event path sustains when that is less (a short
   closed-loop wrk probe measures it first). Its 400 customers first get 10 transactions
   and 3 sign-ins of history each through the event path, as a bank's customers have one.

Prints a table and writes bench/results/outbox_drain.json. Every process and the
cluster are stopped at the end, on error too.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import common_openloop
import event_mix
import psycopg
from common_bench import (
    FIRST_USER_ID,
    PHONE,
    RESULTS_DIR,
    WRK_DIR,
    BenchError,
    account_number,
    cli_command,
    display_command,
    latency_summary,
    machine_facts,
    make_reachable,
    met,
    print_ratios_and_targets,
    ratio,
    run_and_report,
    run_wrk_script,
    server_env,
    service_token,
    start_serve,
    wrk_figures,
)
from dataset import DATABASE, DatasetShape, conninfo, seeded_cluster, server_version
from event_mix import customers, live_bodies, write_bodies
from event_path import load_history
from query_alerts import Server, postgres_cpu_seconds, postmaster_pid, running

from account_alerts.config import Settings
from account_alerts.domain.enums import AlertType
from account_alerts.domain.messages import render
from account_alerts.domain.sms import fit
from account_alerts.domain.sms_keywords import SMS_FOOTER
from account_alerts.store.announcements import ALERT_CHANNEL
from tests.support.factories import sample_data

# The targets, on this two-core machine.
TARGET_SINK_PER_S = 2000.0
TARGET_LAG_P99_S = 1.0
LAG_RATE = 200.0
# The pipeline's customers, each with this many transactions of history (and 30% as many
# sign-ins) loaded through the event path first.
PIPELINE_CUSTOMERS = 400
PIPELINE_HISTORY = 10

ALERT_COLUMNS = (
    "mobile_user_id",
    "account_number",
    "alert_type",
    "alert_data",
    "title",
    "message",
    "status",
    "channels_sent",
    "is_test",
    "triggered_at",
    "created_at",
    "updated_at",
)


# -- data --------------------------------------------------------------------------------


def alert_row(rng: random.Random, user_id: int, when: datetime, tag: str) -> tuple[Any, ...]:
    """A LARGE_TRANSACTION alert, its title and message rendered as the engine does."""
    account = account_number(user_id)
    data = dict(sample_data(AlertType.LARGE_TRANSACTION, when))
    data["transactionAmount"] = f"{rng.randint(50_001, 2_000_000)}.00"
    data["transactionId"] = f"TX-{tag}-{rng.getrandbits(40):010x}"
    title, message = render(AlertType.LARGE_TRANSACTION, data, account)
    return (
        user_id,
        account,
        AlertType.LARGE_TRANSACTION.value,
        json.dumps(data),
        title,
        message,
        "PENDING",
        "[]",
        False,
        when,
        when,
        when,
    )


def seed_alerts(dsn: str, count: int, customers: int, tag: str) -> tuple[int, int]:
    """``count`` pending alerts without deliveries, two days old (outside every rate
    window); the (first, last) id."""
    rng = random.Random(tag)
    when = datetime.now(UTC) - timedelta(days=2)
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        first = max_alert_id(dsn) + 1
        with cur.copy(f"COPY account_alerts ({', '.join(ALERT_COLUMNS)}) FROM STDIN") as copy:
            for i in range(count):
                copy.write_row(alert_row(rng, FIRST_USER_ID + i % customers, when, tag))
    last = max_alert_id(dsn)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE account_alerts")
    if last - first + 1 != count:
        raise BenchError(f"expected {count} alerts, got ids {first}..{last}")
    return first, last


def release_deliveries(dsn: str, first: int, last: int, channel_sql: str) -> float:
    """One PENDING delivery per alert in [first, last], due now, in one transaction; the
    monotonic time of its commit."""
    with psycopg.connect(dsn) as conn:
        conn.execute(
            "INSERT INTO alert_deliveries (alert_id, channel, status, attempts, "
            "next_attempt_at, created_at, updated_at) "
            f"SELECT id, {channel_sql}, 'PENDING', 0, now(), now(), now() "
            "FROM account_alerts WHERE id BETWEEN %s AND %s ORDER BY id",
            (first, last),
        )
        conn.commit()
        return time.monotonic()


def delivery_states(dsn: str, first: int, last: int) -> dict[str, int]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT status, count(*) FROM alert_deliveries WHERE alert_id BETWEEN %s AND %s "
            "GROUP BY status",
            (first, last),
        ).fetchall()
    return {str(status): int(n) for status, n in rows}


def pending(dsn: str, first: int, last: int) -> int:
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM alert_deliveries WHERE alert_id BETWEEN %s AND %s "
            "AND status = 'PENDING'",
            (first, last),
        ).fetchone()
    return int(row[0]) if row else 0


def wait_drained(dsn: str, first: int, last: int, timeout: float) -> float:
    """Poll until no delivery of the range is PENDING; the monotonic time it was seen."""
    deadline = time.monotonic() + timeout
    while pending(dsn, first, last):
        if time.monotonic() > deadline:
            raise BenchError(f"deliveries still pending after {timeout:.0f} s")
        time.sleep(0.05)
    return time.monotonic()


def wait_drained_watching(dsn: str, first: int, last: int, timeout: float) -> tuple[float, int]:
    """``wait_drained``, also sampling the sends marked started and not yet recorded: what
    a worker killed at that moment would leave in doubt. (The monotonic time, the most
    seen at once.) The drain is polled as ``wait_drained`` polls it, every 50 ms, and the
    sends in doubt every fourth poll: the sampling costs PostgreSQL little CPU, which the
    worker would otherwise share."""
    deadline = time.monotonic() + timeout
    most = 0
    polls = 0
    while pending(dsn, first, last):
        if polls % 4 == 0:
            most = max(most, started(dsn, first, last))
        polls += 1
        if time.monotonic() > deadline:
            raise BenchError(f"deliveries still pending after {timeout:.0f} s")
        time.sleep(0.05)
    return time.monotonic(), most


def started(dsn: str, first: int, last: int) -> int:
    """Deliveries of the range marked as started whose outcome is not yet written."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM alert_deliveries WHERE alert_id BETWEEN %s AND %s "
            "AND status = 'PENDING' AND send_started_at IS NOT NULL",
            (first, last),
        ).fetchone()
    return int(row[0]) if row else 0


def sent_span(dsn: str, first: int, last: int) -> float:
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute(
            "SELECT extract(epoch FROM max(sent_at) - min(sent_at)) FROM alert_deliveries "
            "WHERE alert_id BETWEEN %s AND %s AND status = 'SENT'",
            (first, last),
        ).fetchone()
    return float(row[0]) if row and row[0] is not None else 0.0


def lags(dsn: str, where: str, params: Sequence[Any]) -> list[float]:
    """sent_at - created_at of every SENT delivery of the alerts matching ``where``, ms."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT extract(epoch FROM d.sent_at - a.created_at) * 1000 "
            "FROM alert_deliveries d JOIN account_alerts a ON a.id = d.alert_id "
            f"WHERE d.status = 'SENT' AND {where}",
            params,
        ).fetchall()
    return [float(row[0]) for row in rows]


def max_alert_id(dsn: str) -> int:
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute("SELECT coalesce(max(id), 0) FROM account_alerts").fetchone()
    return int(row[0]) if row else 0


# -- processes ---------------------------------------------------------------------------


def start_worker(name: str, database_url: str, sink: Path, log: Path, **settings: str) -> Server:
    env = server_env(database_url)
    env["ALERTS_SINK_FILE"] = str(sink)
    env.update({f"ALERTS_{key.upper()}": value for key, value in settings.items()})
    worker = Server(name, cli_command("worker"), env, log)
    deadline = time.monotonic() + 60
    while "delivery worker" not in log.read_text(errors="replace"):
        if worker.process.poll() is not None or time.monotonic() > deadline:
            worker.stop()
            raise BenchError(f"{name} did not start:\n{worker.tail()}")
        time.sleep(0.1)
    time.sleep(0.6)  # its first (empty) poll is behind it
    return worker


def drain(
    dsn: str,
    worker: Server,
    pg_pid: int,
    first: int,
    last: int,
    channel_sql: str,
    timeout: float,
) -> dict[str, Any]:
    count = last - first + 1
    before = (worker.cpu_seconds(), postgres_cpu_seconds(pg_pid), time.process_time())
    released = release_deliveries(dsn, first, last, channel_sql)
    drained, in_doubt = wait_drained_watching(dsn, first, last, timeout)
    after = (worker.cpu_seconds(), postgres_cpu_seconds(pg_pid), time.process_time())
    seconds = drained - released
    span = sent_span(dsn, first, last)
    states = delivery_states(dsn, first, last)
    worker_cpu, pg_cpu, bench_cpu = (b - a for a, b in zip(before, after, strict=True))
    return {
        "deliveries": count,
        "seconds": round(seconds, 2),
        "per_s": round(count / seconds, 1),
        # From the first to the last recorded sent_at: without the worker's first poll
        # (up to worker_poll_seconds) and this script's polling.
        "steady_per_s": round(count / span, 1) if span else None,
        "states": states,
        # Sampled every 50 ms: the most sends marked started and not yet recorded at once.
        "most_in_doubt_if_killed": in_doubt,
        "cpu_percent_of_one_core": {
            "worker": round(100 * worker_cpu / seconds, 1),
            "postgresql": round(100 * pg_cpu / seconds, 1),
            "bench_process": round(100 * bench_cpu / seconds, 1),
        },
        "worker_cpu_ms_per_delivery": round(1000 * worker_cpu / count, 3),
        "postgresql_cpu_ms_per_delivery": round(1000 * pg_cpu / count, 3),
    }


# -- baselines ---------------------------------------------------------------------------


def sink_record(i: int, message: str) -> dict[str, Any]:
    """What the sink writes for one SMS (SinkChannel.send's record)."""
    return {
        "channel": "SMS",
        "to": "+26599*****67",
        "alertId": i,
        "alertType": "LARGE_TRANSACTION",
        "title": "Large transaction",
        "body": message,
        "data": {"alertId": str(i), "alertType": "LARGE_TRANSACTION"},
        "sentAt": datetime.now(UTC).isoformat(),
        "messageId": f"sink-{i:032x}",
    }


def file_baseline(path: Path, count: int, message: str) -> dict[str, Any]:
    """N JSON lines appended to a file: once opened, and reopened per line (as the sink)."""
    started = time.perf_counter()
    with path.open("a", encoding="utf-8") as sink:
        for i in range(count):
            sink.write(json.dumps(sink_record(i, message), ensure_ascii=False, sort_keys=True))
            sink.write("\n")
    once = time.perf_counter() - started
    started = time.perf_counter()
    for i in range(count):
        line = json.dumps(sink_record(i, message), ensure_ascii=False, sort_keys=True)
        with path.open("a", encoding="utf-8") as sink:
            sink.write(line + "\n")
    reopened = time.perf_counter() - started
    return {
        "lines": count,
        "opened_once_s": round(once, 3),
        "opened_once_per_s": round(count / once, 1),
        "reopened_per_line_s": round(reopened, 3),
        "reopened_per_line_per_s": round(count / reopened, 1),
    }


async def _post_all(
    url: str, auth: tuple[str, str], count: int, concurrency: int, body: str
) -> None:
    import httpx

    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(count):
        queue.put_nowait(i)
    async with httpx.AsyncClient(auth=auth, timeout=10, trust_env=False) as client:

        async def sender() -> None:
            while not queue.empty():
                queue.get_nowait()
                response = await client.post(
                    url,
                    data={
                        "To": PHONE,
                        "From": "+15005550006",
                        "Body": body,
                        "StatusCallback": "http://localhost:8000/webhooks/twilio/status",
                    },
                )
                if response.status_code != 201:
                    raise BenchError(f"the fake answered {response.status_code}")

        await asyncio.gather(*(sender() for _ in range(concurrency)))


def child_httpx(args: argparse.Namespace) -> int:
    """Child process: ``count`` POSTs to FakeTwilio's Messages.json; prints the seconds."""
    spec = json.loads(args.child_httpx)
    started = time.perf_counter()
    asyncio.run(
        _post_all(
            spec["url"],
            (spec["sid"], spec["token"]),
            spec["count"],
            spec["concurrency"],
            spec["body"],
        )
    )
    print(json.dumps({"seconds": time.perf_counter() - started}))
    return 0


def httpx_baseline(fake: Any, count: int, concurrency: int, body: str) -> dict[str, Any]:
    spec = {
        "url": fake.messages_url,
        "sid": fake.account_sid,
        "token": fake.auth_token,
        "count": count,
        "concurrency": concurrency,
        "body": body,
    }
    result = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--child-httpx", json.dumps(spec)],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    if result.returncode != 0:
        raise BenchError(f"httpx baseline failed:\n{result.stderr}")
    seconds = json.loads(result.stdout.strip().splitlines()[-1])["seconds"]
    return {
        "posts": count,
        "concurrency": concurrency,
        "seconds": round(seconds, 2),
        "per_s": round(count / seconds, 1),
    }


# -- the constant-rate feeder (worker-only lag) -------------------------------------------


def child_feeder(args: argparse.Namespace) -> int:
    """Child process: commit ``rate`` alerts a second, each with a PUSH and an SMS outbox
    row, for ``duration`` seconds, on the schedule (catching up when late)."""
    spec = json.loads(args.child_feeder)
    rate, total = spec["rate"], int(spec["rate"] * spec["duration"])
    rng = random.Random(11)
    columns = ", ".join(ALERT_COLUMNS)
    marks = ", ".join(["%s"] * len(ALERT_COLUMNS))
    late = 0.0
    with psycopg.connect(spec["dsn"]) as conn, conn.cursor() as cur:
        start = time.monotonic() + 0.05
        for i in range(total):
            due = start + i / rate
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            late = max(late, time.monotonic() - due)
            user = FIRST_USER_ID + (spec["offset"] + i) % spec["customers"]
            now = datetime.now(UTC)
            alert_id = cur.execute(
                f"INSERT INTO account_alerts ({columns}) VALUES ({marks}) RETURNING id",
                alert_row(rng, user, now, "feed"),
            ).fetchone()[0]
            cur.execute(
                "INSERT INTO alert_deliveries (alert_id, channel, status, attempts, "
                "next_attempt_at, created_at, updated_at) VALUES "
                "(%(id)s, 'PUSH', 'PENDING', 0, %(now)s, %(now)s, %(now)s), "
                "(%(id)s, 'SMS', 'PENDING', 0, %(now)s, %(now)s, %(now)s)",
                {"id": alert_id, "now": now},
            )
            # Announced at commit, as the event path announces a new alert.
            cur.execute("SELECT pg_notify(%s, %s)", (ALERT_CHANNEL, f"{user}:{alert_id}"))
            conn.commit()
        seconds = time.monotonic() - start
    print(json.dumps({"alerts": total, "seconds": seconds, "max_late_ms": late * 1000}))
    return 0


def feed(dsn: str, rate: float, duration: float, customers: int) -> dict[str, Any]:
    spec = {"dsn": dsn, "rate": rate, "duration": duration, "customers": customers, "offset": 0}
    result = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--child-feeder", json.dumps(spec)],
        capture_output=True,
        text=True,
        check=False,
        timeout=duration + 120,
    )
    if result.returncode != 0:
        raise BenchError(f"the feeder failed:\n{result.stderr}")
    figures: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return figures


def lag_alone(
    dsn: str, worker: Server, pg_pid: int, rate: float, args: argparse.Namespace
) -> dict[str, Any]:
    first = max_alert_id(dsn) + 1
    before = (worker.cpu_seconds(), postgres_cpu_seconds(pg_pid))
    fed = feed(dsn, rate, args.lag_duration, args.customers)
    last = max_alert_id(dsn)
    wait_drained(dsn, first, last, timeout=180)
    after = (worker.cpu_seconds(), postgres_cpu_seconds(pg_pid))
    values = lags(dsn, "a.id BETWEEN %s AND %s", (first, last))
    return {
        "rate": rate,
        "alerts": fed["alerts"],
        "feeder_seconds": round(fed["seconds"], 2),
        "feeder_max_late_ms": round(fed["max_late_ms"], 1),
        "deliveries": delivery_states(dsn, first, last),
        "lag_ms": latency_summary(values),
        "cpu_percent_of_one_core": {
            "worker": round(100 * (after[0] - before[0]) / fed["seconds"], 1),
            "postgresql": round(100 * (after[1] - before[1]) / fed["seconds"], 1),
        },
    }


# -- main --------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="short runs (about 2 minutes)")
    parser.add_argument("--customers", type=int, default=4000)
    parser.add_argument("--deliveries", type=int, help="sink drain (20000; quick 4000)")
    parser.add_argument("--twilio-deliveries", type=int, help="Twilio drain (5000; quick 1000)")
    parser.add_argument("--lag-duration", type=float, help="seconds of feeding (25; quick 8)")
    parser.add_argument("--output", type=Path, default=RESULTS_DIR / "outbox_drain.json")
    parser.add_argument(
        "--before",
        type=Path,
        help="the results file of a run of the code before a change, in the same session: "
        "the drains are compared with it",
    )
    parser.add_argument("--child-httpx", help=argparse.SUPPRESS)
    parser.add_argument("--child-feeder", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.deliveries = args.deliveries or (4000 if args.quick else 20_000)
    args.twilio_deliveries = args.twilio_deliveries or (1000 if args.quick else 5000)
    args.lag_duration = args.lag_duration or (8.0 if args.quick else 25.0)
    return args


def run(args: argparse.Namespace, argv: Sequence[str]) -> dict[str, Any]:
    from tests.support.providers import FakeTwilio

    wrk = shutil.which("wrk")
    shape = DatasetShape(
        customers=args.customers, alerts_per_customer=0, heavy_customers=0, heavy_alerts=0
    )
    recorded_at = datetime.now(UTC)
    results: dict[str, Any] = {}
    with ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="alerts-bench-")))
        print(f"seeding PostgreSQL: {args.customers} reachable customers ...", flush=True)
        cluster, database_url, seeded = stack.enter_context(seeded_cluster(shape))
        dsn = conninfo(cluster, DATABASE)
        pg_pid = postmaster_pid(cluster.datadir)
        postgresql = server_version(cluster)
        make_reachable(dsn, args.customers)
        sink_range = seed_alerts(dsn, args.deliveries, args.customers, "sink")
        twilio_range = seed_alerts(dsn, args.twilio_deliveries, args.customers, "twilio")
        with psycopg.connect(dsn, autocommit=True) as conn:
            row = conn.execute("SELECT message FROM account_alerts LIMIT 1").fetchone()
        message = str(row[0]) if row else ""
        sms_body = fit(f"Alert: {message} {SMS_FOOTER}")

        # 1. the sink
        print(f"  sink baseline: {args.deliveries} JSON lines", flush=True)
        results["sink_baseline"] = file_baseline(work / "baseline.jsonl", args.deliveries, message)
        print(f"  drain to the sink: {args.deliveries} deliveries", flush=True)
        sink_file = work / "sink.jsonl"
        with running(start_worker("worker (sink)", database_url, sink_file, work / "w1.log")) as w:
            results["sink_drain"] = drain(
                dsn,
                w,
                pg_pid,
                *sink_range,
                "CASE WHEN mod(id, 2) = 0 THEN 'PUSH' ELSE 'SMS' END",
                timeout=600,
            )
        lines = sum(1 for _ in sink_file.open()) if sink_file.exists() else 0
        results["sink_drain"]["sink_lines"] = lines

        # 2. Twilio
        fake = stack.enter_context(FakeTwilio())
        print(f"  drain through Twilio: {args.twilio_deliveries} SMS", flush=True)
        twilio = {
            "twilio_account_sid": fake.account_sid,
            "twilio_auth_token": fake.auth_token,
            "twilio_from_number": "+15005550006",
            "twilio_api_base": fake.base_url,
        }
        with running(
            start_worker(
                "worker (twilio)", database_url, work / "sink2.jsonl", work / "w2.log", **twilio
            )
        ) as w:
            results["twilio_drain"] = drain(dsn, w, pg_pid, *twilio_range, "'SMS'", timeout=600)
        results["twilio_drain"]["fake_twilio_messages"] = len(fake.messages)
        # The SMS channel's own threads: the worker's SMS in flight at most.
        concurrency = Settings.model_fields["provider_concurrency"].default
        print(f"  Twilio baseline: {args.twilio_deliveries} httpx POSTs", flush=True)
        results["twilio_baseline"] = httpx_baseline(
            fake, args.twilio_deliveries, concurrency, sms_body
        )
        fake.stop()

        # 3. lag, worker alone: the rate, and half of it
        lag_worker = stack.enter_context(
            running(
                start_worker("worker (lag)", database_url, work / "sink3.jsonl", work / "w3.log")
            )
        )
        for rate in (LAG_RATE, LAG_RATE / 2):
            print(f"  lag, worker alone: {rate:.0f} alerts/s for {args.lag_duration:.0f} s")
            key = "lag_worker_alone" if rate == LAG_RATE else "lag_worker_alone_half_rate"
            results[key] = lag_alone(dsn, lag_worker, pg_pid, rate, args)
        first = max_alert_id(dsn) + 1

        # 4. lag through the pipeline
        _, url = start_serve(stack, database_url, work / "serve.log")
        token = service_token(database_url)
        # Its customers have a history, as a bank's do: a customer's first event through
        # the event path builds their activity profile from the tables, a one-off cost
        # that would otherwise be most of what this line measures.
        people = customers(FIRST_USER_ID, min(PIPELINE_CUSTOMERS, args.customers))
        print(f"  history of the pipeline's {len(people)} customers", flush=True)
        events = event_mix.history(people, PIPELINE_HISTORY, datetime.now(UTC), seed=7)
        pipeline_history = asyncio.run(load_history(url, token, events))
        wait_drained(dsn, first, max_alert_id(dsn), timeout=300)
        first = max_alert_id(dsn) + 1
        probe: dict[str, Any] | None = None
        rate = LAG_RATE
        if wrk:
            print("  probing the event path (alert-raising events, closed loop, 5 s)")
            figures, _ = run_wrk_script(
                wrk,
                f"{url}/graphql",
                WRK_DIR / "record_transaction.lua",
                [
                    "/graphql",
                    token,
                    str(
                        write_bodies(
                            work / "probe.bodies",
                            live_bodies(people, "large", 2000, 3),
                        )
                    ),
                    "probe",
                ],
                connections=16,
                threads=1,
                duration=5,
            )
            probe = wrk_figures(figures)
            rate = min(LAG_RATE, round(0.7 * probe["rps"], 1))
            wait_drained(dsn, first, max_alert_id(dsn), timeout=120)
        print(f"  lag through the pipeline: {rate:.0f} events/s for {args.lag_duration:.0f} s")
        first = max_alert_id(dsn) + 1
        output = work / "lag-http.json"
        generator = common_openloop.start(
            url=f"{url}/graphql",
            token=token,
            rate=rate,
            duration=args.lag_duration,
            accounts=len(people),
            tag="lag",
            output=output,
            kind="large",
        )
        try:
            raw = common_openloop.finish(generator, output, timeout=args.lag_duration + 60)
        finally:
            common_openloop.stop(generator)
        last = max_alert_id(dsn)
        wait_drained(dsn, first, last, timeout=120)
        values = lags(dsn, "a.id BETWEEN %s AND %s AND a.event_id LIKE 'lag-%%'", (first, last))
        ok = [r[1] for r in raw["records"] if r[2]]
        results["lag_pipeline"] = {
            "rate": rate,
            "requested_rate": LAG_RATE,
            "customers": len(people),
            "history_loaded": pipeline_history,
            "probe_closed_loop": probe,
            "events_sent": raw["scheduled"],
            "events_ok": len(ok),
            "error_samples": raw["error_samples"],
            "event_latency_ms": latency_summary(ok),
            "deliveries": delivery_states(dsn, first, last),
            "lag_ms": latency_summary(values),
        }
        load = [round(v, 2) for v in os.getloadavg()]

    sink, twilio_run = results["sink_drain"], results["twilio_drain"]
    before = json.loads(args.before.read_text()) if args.before else None
    alone_p99_ms = results["lag_worker_alone"]["lag_ms"].get("p99")
    lag_pipe = results["lag_pipeline"]["lag_ms"].get("p99")
    p99_alone = round(alone_p99_ms / 1000, 3) if alone_p99_ms is not None else None
    p99_pipe = round(lag_pipe / 1000, 3) if lag_pipe is not None else None
    return {
        "benchmark": "outbox_drain",
        "recorded_at": recorded_at.isoformat(timespec="seconds"),
        "command": display_command(argv),
        "machine": machine_facts(wrk, postgresql),
        "load_average_after": load,
        "settings": {
            "quick": args.quick,
            "customers": args.customers,
            "worker": "account-alerts worker (one process), default settings: batch 500, "
            f"two claim loops, {Settings.model_fields['provider_concurrency'].default} sends "
            "in flight per channel, poll 0.5 s, woken by the alerts' NOTIFY",
            "postgresql": "throwaway cluster: fsync, synchronous_commit and full_page_writes off",
            "lag_duration_s": args.lag_duration,
        },
        "dataset": seeded.as_dict(),
        "results": results,
        "before_this_change": _before(before),
        "ratios": {
            **_ratios_to_before(before, results),
            "sink_drain_vs_file_baseline": ratio(
                sink["per_s"], results["sink_baseline"]["opened_once_per_s"], 4
            ),
            "twilio_drain_vs_httpx_baseline": ratio(
                twilio_run["per_s"], results["twilio_baseline"]["per_s"], 3
            ),
        },
        "targets": {
            "sink_deliveries_per_s": {
                "target": TARGET_SINK_PER_S,
                "measured": sink["per_s"],
                "met": met(sink["per_s"], TARGET_SINK_PER_S),
            },
            **_target_against_before(before, sink["per_s"]),
            "lag_p99_s_worker_alone_at_200_per_s": {
                "target": TARGET_LAG_P99_S,
                "measured": p99_alone,
                "met": met(p99_alone, TARGET_LAG_P99_S, at_most=True),
            },
            "lag_p99_s_pipeline": {
                "target": TARGET_LAG_P99_S,
                "measured": p99_pipe,
                "rate": results["lag_pipeline"]["rate"],
                # Met only if measured at the rate, which the event path must sustain.
                "met": met(p99_pipe, TARGET_LAG_P99_S, at_most=True)
                and results["lag_pipeline"]["rate"] >= LAG_RATE,
            },
        },
    }


def _before(report: dict[str, Any] | None) -> dict[str, Any] | None:
    """The earlier run's drains and lag, as measured then."""
    if report is None:
        return None
    r = report["results"]
    return {
        "recorded_at": report["recorded_at"],
        "command": display_command(shlex.split(report["command"])[1:]),
        "sink_drain_per_s": r["sink_drain"]["per_s"],
        "sink_drain_steady_per_s": r["sink_drain"]["steady_per_s"],
        "sink_worker_cpu_ms_per_delivery": r["sink_drain"]["worker_cpu_ms_per_delivery"],
        "twilio_drain_per_s": r["twilio_drain"]["per_s"],
        "lag_worker_alone_p99_ms": r["lag_worker_alone"]["lag_ms"].get("p99"),
        "lag_pipeline_p99_ms": r["lag_pipeline"]["lag_ms"].get("p99"),
    }


def _ratios_to_before(
    report: dict[str, Any] | None, results: dict[str, Any]
) -> dict[str, float | None]:
    if report is None:
        return {}
    r = report["results"]
    return {
        "sink_drain_vs_before": ratio(results["sink_drain"]["per_s"], r["sink_drain"]["per_s"], 3),
        "twilio_drain_vs_before": ratio(
            results["twilio_drain"]["per_s"], r["twilio_drain"]["per_s"], 3
        ),
    }


def _target_against_before(report: dict[str, Any] | None, per_s: float) -> dict[str, Any]:
    if report is None:
        return {}
    before = report["results"]["sink_drain"]["per_s"]
    return {
        "sink_deliveries_per_s_vs_before": {
            "target": f">= 0.9 x {before}",
            "measured": per_s,
            "met": met(per_s, 0.9 * before),
        }
    }


def print_table(report: dict[str, Any]) -> None:
    r = report["results"]
    print()
    print(
        f"  {'run':<30} {'items':>7} {'seconds':>8} {'per s':>9} {'steady/s':>9} {'worker CPU':>10}"
        f" {'in doubt':>8}"
    )
    for name in ("sink_drain", "twilio_drain"):
        row = r[name]
        print(
            f"  {name:<30} {row['deliveries']:>7} {row['seconds']:>8.2f} {row['per_s']:>9.1f} "
            f"{row['steady_per_s'] or 0:>9.1f} {row['cpu_percent_of_one_core']['worker']:>9.0f}%"
            f" {row['most_in_doubt_if_killed']:>8}"
        )
    base = r["sink_baseline"]
    print(
        f"  {'baseline: file, opened once':<30} {base['lines']:>7} {base['opened_once_s']:>8.3f} "
        f"{base['opened_once_per_s']:>9.1f}"
    )
    print(
        f"  {'baseline: file, reopened':<30} {base['lines']:>7} "
        f"{base['reopened_per_line_s']:>8.3f} {base['reopened_per_line_per_s']:>9.1f}"
    )
    tb = r["twilio_baseline"]
    print(
        f"  {'baseline: httpx POSTs':<30} {tb['posts']:>7} {tb['seconds']:>8.2f} "
        f"{tb['per_s']:>9.1f}"
    )
    print()
    for name in ("lag_worker_alone", "lag_worker_alone_half_rate", "lag_pipeline"):
        lag = r[name]["lag_ms"]
        print(
            f"  {name:<26} at {r[name]['rate']:>5.0f}/s: lag p50 {lag.get('p50', 0):7.0f} ms, "
            f"p99 {lag.get('p99', 0):7.0f} ms, max {lag.get('max', 0):7.0f} ms "
            f"({lag.get('count', 0)} deliveries; {r[name]['deliveries']})"
        )
    print_ratios_and_targets(report, width=34)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv if argv is None else argv)
    args = parse_args(argv[1:])
    if args.child_httpx:
        return child_httpx(args)
    if args.child_feeder:
        return child_feeder(args)
    return run_and_report("outbox_drain", args.output, lambda: run(args, argv), print_table)


if __name__ == "__main__":
    raise SystemExit(main())
