"""Benchmark: the daily payment-due job over a large book of scheduled payments.

    python bench/payment_job.py [--quick] [--payments 1000000] [--customers 100000]

A throwaway PostgreSQL cluster is loaded (not measured) with customers in five time
zones, one account each, 10 scheduled payments per customer due over the next 60 days,
and alert settings for 30% of the accounts (reminder interval of 1, 3 or 7 days, some
with reminders off or quiet hours). Then, in one run:

1. ``account_alerts.scheduling.payment_due_job`` (which calls
   ``engine.payments.run_payment_due``) at one instant when it is past 08:00 in every
   zone, in a child process: wall time, peak RSS (ru_maxrss), reminders and outbox rows
   written, checked against the count computed independently in SQL;
2. the baseline on an identical copy of the database: a plain ORM loop that selects the
   due payments with their settings through SQLModel, adds each reminder and its outbox
   rows with ``session.add`` and commits once, also in a child process;
3. the event path's latency (open-loop ``recordTransaction`` against
   ``account-alerts serve --no-worker --no-scheduler``) while idle, then while the job
   runs for the next day's reminders.

Prints a table and writes bench/results/payment_job.json. Every process and the cluster
are stopped at the end, on error too.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from contextlib import ExitStack
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import common_openloop
import psycopg
from common_bench import (
    FIRST_USER_ID,
    RESULTS_DIR,
    BenchError,
    bench_settings,
    display_command,
    latency_summary,
    machine_facts,
    met,
    print_ratios_and_targets,
    ratio,
    run_and_report,
    service_token,
    start_serve,
)
from dataset import DATABASE, DatasetShape, conninfo, seeded_cluster, server_version
from query_alerts import postgres_cpu_seconds, postmaster_pid

ZONES = ("Africa/Blantyre", "Europe/London", "Asia/Dubai", "Asia/Kolkata", "America/New_York")
# 14:00 UTC: 09:00 or 10:00 in New York, 19:30 in Kolkata; one local date everywhere.
RUN_HOUR_UTC = 14
PAYMENTS_PER_CUSTOMER = 10
DUE_DAYS = 60
BASELINE_DATABASE = DATABASE + "_orm"

# The targets, on this two-core machine.
TARGET_SECONDS = 30.0
TARGET_PEAK_MIB = 500.0
TARGET_LOAD_P99_FACTOR = 2.0


# -- data --------------------------------------------------------------------------------

SETTINGS_SQL = """
INSERT INTO account_alert_settings (
    mobile_user_id, account_number, low_balance_enabled, low_balance_channels,
    large_transaction_enabled, large_transaction_channels, large_transaction_debit_only,
    alert_unusual_location, alert_multiple_failed_attempts, alert_new_device_transaction,
    suspicious_activity_channels, payment_due_enabled, payment_due_channels,
    payment_reminder_interval, login_alert_mode, login_alert_channels,
    quiet_hours_enabled, quiet_hours_start, quiet_hours_end, created_at, updated_at)
SELECT a.mobile_user_id, a.account_number, true, '["PUSH"]', true, '["PUSH", "SMS"]', true,
       true, true, true, '["PUSH", "SMS", "EMAIL"]',
       a.mobile_user_id % 20 <> 0,
       CASE WHEN a.mobile_user_id % 3 = 0 THEN '["PUSH"]' ELSE '["PUSH", "SMS"]' END::jsonb,
       (ARRAY['ONE_DAY', 'THREE_DAYS', 'ONE_WEEK'])[1 + (a.mobile_user_id / 10) % 3],
       'NEW_DEVICE', '["PUSH", "EMAIL"]',
       a.mobile_user_id % 10 = 0,
       CASE WHEN a.mobile_user_id % 10 = 0 THEN time '22:00' END,
       CASE WHEN a.mobile_user_id % 10 = 0 THEN time '06:00' END,
       now(), now()
FROM accounts a
WHERE a.mobile_user_id % 10 IN (0, 3, 6)
"""

PAYMENTS_SQL = """
INSERT INTO scheduled_payments (
    payment_id, account_number, payment_type, payment_description, amount_due, currency,
    due_date, beneficiary_name, beneficiary_reference, status, created_at, updated_at)
SELECT 'PAY-' || lpad(g::text, 8, '0'),
       '10' || lpad((%(first)s + g %% %(customers)s)::text, 8, '0'),
       (ARRAY['BILL', 'LOAN', 'SUBSCRIPTION', 'RECURRING'])[1 + g %% 4],
       (ARRAY['Electricity', 'Water board', 'Car loan', 'School fees', 'TV subscription'])
           [1 + g %% 5],
       round((500 + random() * 250000)::numeric, 2),
       'MWK',
       %(first_day)s::date + floor(random() * %(days)s)::int,
       'Beneficiary ' || (g %% 997),
       'REF' || g,
       CASE WHEN g %% 25 = 0 THEN 'PAID' ELSE 'ACTIVE' END,
       now(), now()
FROM generate_series(0, %(payments)s - 1) AS g
"""

# What the job must write at %(now)s, computed independently of it: per active payment due
# exactly the account's interval after the local date (08:00 passed), reminders on.
EXPECTED_SQL = """
WITH prefs AS (
    SELECT a.account_number,
           (%(now)s::timestamptz AT TIME ZONE coalesce(a.time_zone, %(default_zone)s)) AS local,
           coalesce(s.payment_reminder_interval, 'ONE_DAY') AS interval,
           coalesce(s.payment_due_enabled, true) AS enabled,
           coalesce(jsonb_array_length(s.payment_due_channels), 2) AS channels
    FROM accounts a
    LEFT JOIN account_alert_settings s
        ON s.account_number = a.account_number AND s.mobile_user_id = a.mobile_user_id
)
SELECT count(*), coalesce(sum(prefs.channels), 0)
FROM scheduled_payments p JOIN prefs USING (account_number)
WHERE p.status = 'ACTIVE' AND prefs.enabled AND prefs.local::time >= time '08:00'
  AND p.due_date = prefs.local::date + CASE prefs.interval WHEN 'ONE_DAY' THEN 1
                                                         WHEN 'THREE_DAYS' THEN 3 ELSE 7 END
"""


def load_book(dsn: str, customers: int, payments: int, first_day: date) -> dict[str, Any]:
    started = time.perf_counter()
    with psycopg.connect(dsn) as conn:
        conn.execute(
            "UPDATE accounts SET time_zone = (%s::text[])[1 + mobile_user_id %% %s]",
            (list(ZONES), len(ZONES)),
        )
        conn.execute(SETTINGS_SQL)
        conn.execute("SELECT setseed(0.42)")
        conn.execute(
            PAYMENTS_SQL,
            {
                "first": FIRST_USER_ID,
                "customers": customers,
                "payments": payments,
                "first_day": first_day,
                "days": DUE_DAYS,
            },
        )
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE accounts, account_alert_settings, scheduled_payments")
        settings_rows = conn.execute("SELECT count(*) FROM account_alert_settings").fetchone()
        size = conn.execute("SELECT pg_database_size(current_database())").fetchone()
    return {
        "scheduled_payments": payments,
        "time_zones": list(ZONES),
        "accounts_with_settings": int(settings_rows[0]) if settings_rows else 0,
        "due_dates": f"{DUE_DAYS} days from the run's local date",
        "database_mib": round(int(size[0]) / 2**20) if size else None,
        "load_seconds": round(time.perf_counter() - started, 1),
    }


def expected(dsn: str, now: datetime, default_zone: str) -> tuple[int, int]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute(EXPECTED_SQL, {"now": now, "default_zone": default_zone}).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def written(dsn: str, now: datetime) -> tuple[int, int]:
    """PAYMENT_DUE alerts triggered at ``now`` and their outbox rows."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(DISTINCT a.id), count(d.id) FROM account_alerts a "
            "LEFT JOIN alert_deliveries d ON d.alert_id = a.id "
            "WHERE a.alert_type = 'PAYMENT_DUE' AND a.triggered_at = %s",
            (now,),
        ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


# -- the measured children -----------------------------------------------------------------


def _rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


async def _job(url: str, now: datetime) -> dict[str, Any]:
    from account_alerts.scheduling import payment_due_job
    from account_alerts.store.database import Database

    db = Database(url)
    await db.ping()  # connected and every module imported before the clock starts
    rss_before = _rss_kib()
    wall_start = time.time()
    started = time.perf_counter()
    run = await payment_due_job(db, bench_settings(url), now=now)
    seconds = time.perf_counter() - started
    wall_end = time.time()
    await db.dispose()
    return {
        "seconds": seconds,
        "wall_start": wall_start,
        "wall_end": wall_end,
        "reminders": run.reminders,
        "already_sent": run.already_sent,
        "skipped_disabled": run.skipped_disabled,
        "ran": run.ran,
        "zones": run.zones,
        "rss_before_kib": rss_before,
    }


async def _orm_loop(url: str, now: datetime) -> dict[str, Any]:
    """The baseline: the same reminders, written the plain ORM way."""
    from datetime import time as clock_time
    from zoneinfo import ZoneInfo

    from sqlmodel import col, select

    from account_alerts.domain.alert_settings import default_preferences
    from account_alerts.domain.delivery_policy import quiet_hours_end
    from account_alerts.domain.enums import (
        AlertStatus,
        AlertType,
        DeliveryStatus,
        PaymentReminderInterval,
        PaymentStatus,
    )
    from account_alerts.domain.messages import render
    from account_alerts.domain.payment_due import due_date_for, reminder_day, reminder_key
    from account_alerts.engine.preferences import thresholds_for
    from account_alerts.store.alerts import AccountAlert, AccountAlertSettingsRow, AlertDelivery
    from account_alerts.store.customers import Account
    from account_alerts.store.database import Database
    from account_alerts.store.payments import ScheduledPayment
    from account_alerts.store.preferences import preferences_from_row

    settings = bench_settings(url)
    db = Database(url)
    await db.ping()
    rss_before = _rss_kib()
    started = time.perf_counter()
    reminders = 0
    async with db.transaction() as session:
        zones = (await session.exec(select(Account.time_zone).distinct())).all()
        planned: list[tuple[AccountAlert, tuple[Any, ...], datetime]] = []
        for zone_name in zones:
            zone = ZoneInfo(zone_name or settings.timezone)
            day = reminder_day(now, zone)
            if day is None:
                continue
            candidates = [due_date_for(day, interval) for interval in PaymentReminderInterval]
            rows = (
                await session.exec(
                    select(ScheduledPayment, Account, AccountAlertSettingsRow)
                    .join(
                        Account, col(Account.account_number) == col(ScheduledPayment.account_number)
                    )
                    .join(
                        AccountAlertSettingsRow,
                        (col(AccountAlertSettingsRow.account_number) == col(Account.account_number))
                        & (
                            col(AccountAlertSettingsRow.mobile_user_id)
                            == col(Account.mobile_user_id)
                        ),
                        isouter=True,
                    )
                    .where(
                        col(ScheduledPayment.status) == PaymentStatus.ACTIVE,
                        col(ScheduledPayment.due_date).in_(candidates),
                        col(Account.time_zone) == zone_name,
                    )
                )
            ).all()
            for payment, account, row in rows:
                defaults = thresholds_for(settings, account)
                prefs = (
                    preferences_from_row(row, defaults) if row else default_preferences(defaults)
                )
                if payment.due_date != due_date_for(day, prefs.payment_reminder_interval):
                    continue
                if not prefs.payment_due_enabled:
                    continue
                data = {
                    "paymentType": payment.payment_type.value,
                    "paymentDescription": payment.payment_description,
                    "amountDue": str(payment.amount_due),
                    "currency": payment.currency,
                    "dueDate": datetime.combine(
                        payment.due_date, clock_time(0), tzinfo=zone
                    ).isoformat(),
                    "reminderInterval": prefs.payment_reminder_interval.value,
                    "beneficiaryName": payment.beneficiary_name,
                    "beneficiaryReference": payment.beneficiary_reference,
                }
                title, message = render(AlertType.PAYMENT_DUE, data, account.account_number)
                alert = AccountAlert(
                    mobile_user_id=account.mobile_user_id,
                    account_number=account.account_number,
                    alert_type=AlertType.PAYMENT_DUE,
                    alert_data=data,
                    title=title,
                    message=message,
                    status=AlertStatus.PENDING,
                    dedupe_key=reminder_key(payment.payment_id, payment.due_date),
                    triggered_at=now,
                    created_at=now,
                    updated_at=now,
                )
                session.add(alert)
                planned.append(
                    (
                        alert,
                        prefs.payment_due_channels,
                        quiet_hours_end(prefs, now, zone) or now,
                    )
                )
                reminders += 1
        await session.flush()  # the alerts' ids, for their outbox rows
        for alert, channels, not_before in planned:
            for channel in channels:
                session.add(
                    AlertDelivery(
                        alert_id=alert.id,
                        channel=channel,
                        status=DeliveryStatus.PENDING,
                        next_attempt_at=not_before,
                        created_at=now,
                        updated_at=now,
                    )
                )
    seconds = time.perf_counter() - started
    await db.dispose()
    return {"seconds": seconds, "reminders": reminders, "rss_before_kib": rss_before}


def child(args: argparse.Namespace) -> int:
    spec = json.loads(args.child)
    now = datetime.fromisoformat(spec["now"])
    runner = _job if spec["kind"] == "job" else _orm_loop
    result = asyncio.run(runner(spec["url"], now))
    result["maxrss_kib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print("RESULT " + json.dumps(result))
    return 0


def start_child(kind: str, url: str, now: datetime, log: Path) -> subprocess.Popen[bytes]:
    spec = json.dumps({"kind": kind, "url": url, "now": now.isoformat()})
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--child", spec],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )


def finish_child(process: subprocess.Popen[bytes], log: Path, timeout: float) -> dict[str, Any]:
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        raise BenchError(f"the child did not finish in {timeout:.0f} s") from None
    text = log.read_text(errors="replace")
    for line in text.splitlines():
        if line.startswith("RESULT "):
            result: dict[str, Any] = json.loads(line.removeprefix("RESULT "))
            return result
    raise BenchError(f"the child failed (exit {process.returncode}):\n{text[-3000:]}")


def measure_child(
    kind: str, url: str, now: datetime, log: Path, pg_pid: int, timeout: float
) -> dict[str, Any]:
    pg_before = postgres_cpu_seconds(pg_pid)
    process = start_child(kind, url, now, log)
    try:
        result = finish_child(process, log, timeout)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    result["postgresql_cpu_s"] = round(postgres_cpu_seconds(pg_pid) - pg_before, 2)
    result["children_cpu_s_total"] = round(usage.ru_utime + usage.ru_stime, 2)
    result["peak_rss_mib"] = round(result["maxrss_kib"] / 1024, 1)
    result["rss_before_mib"] = round(result["rss_before_kib"] / 1024, 1)
    result["seconds"] = round(result["seconds"], 2)
    return result


# -- event path while the job runs ---------------------------------------------------------


def event_load(
    url: str,
    token: str,
    rate: float,
    duration: float,
    accounts: int,
    tag: str,
    work: Path,
    window: tuple[float, float] | None = None,
    during: Any = None,
) -> dict[str, Any]:
    """Open-loop events for ``duration`` s; ``during()`` is called once it is under way and
    returns the (start, end) wall-clock window the latency is reported for."""
    output = work / f"{tag}.json"
    generator = common_openloop.start(
        url=url,
        token=token,
        rate=rate,
        duration=duration,
        accounts=accounts,
        tag=tag,
        output=output,
    )
    try:
        if during is not None:
            time.sleep(1.5)
            window = during()
        raw = common_openloop.finish(generator, output, timeout=duration + 120)
    finally:
        common_openloop.stop(generator)
    records = raw["records"]
    start = raw["wall_start"]
    if window is not None:
        records = [r for r in records if window[0] <= start + r[0] <= window[1]]
    ok = [r[1] for r in records if r[2]]
    return {
        "rate": rate,
        "requests": len(records),
        "errors": len(records) - len(ok),
        "error_samples": raw["error_samples"],
        "latency_ms": latency_summary(ok),
    }


# -- main --------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="a tenth of the data")
    parser.add_argument("--customers", type=int, help="100000 (quick 10000)")
    parser.add_argument("--event-rate", type=float, default=20.0, help="events/s during the job")
    parser.add_argument("--idle-seconds", type=float, help="idle event load (10; quick 5)")
    parser.add_argument("--output", type=Path, default=RESULTS_DIR / "payment_job.json")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.customers = args.customers or (10_000 if args.quick else 100_000)
    args.payments = args.customers * PAYMENTS_PER_CUSTOMER
    args.idle_seconds = args.idle_seconds or (5.0 if args.quick else 10.0)
    return args


def run(args: argparse.Namespace, argv: Sequence[str]) -> dict[str, Any]:
    recorded_at = datetime.now(UTC)
    day = (recorded_at + timedelta(days=1)).date()
    now = datetime(day.year, day.month, day.day, RUN_HOUR_UTC, tzinfo=UTC)
    next_now = now + timedelta(days=1)
    default_zone = bench_settings("sqlite://").timezone
    shape = DatasetShape(
        customers=args.customers, alerts_per_customer=0, heavy_customers=0, heavy_alerts=0
    )
    with ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="alerts-bench-")))
        print(
            f"loading PostgreSQL: {args.customers} customers, {args.payments} payments ...",
            flush=True,
        )
        cluster, database_url, seeded = stack.enter_context(seeded_cluster(shape))
        dsn = conninfo(cluster, DATABASE)
        pg_pid = postmaster_pid(cluster.datadir)
        postgresql = server_version(cluster)
        book = load_book(dsn, args.customers, args.payments, day)
        baseline_url = cluster.create_database(BASELINE_DATABASE, template=DATABASE)
        baseline_dsn = conninfo(cluster, BASELINE_DATABASE)
        want = expected(dsn, now, default_zone)
        print(f"  {book['load_seconds']} s; {want[0]} reminders and {want[1]} outbox rows due")

        print(f"  payment_due_job at {now.isoformat()} ...", flush=True)
        job = measure_child("job", database_url, now, work / "job.log", pg_pid, timeout=600)
        job["written"] = dict(zip(("reminders", "outbox_rows"), written(dsn, now), strict=True))
        print(f"  {job['seconds']} s, peak RSS {job['peak_rss_mib']} MiB")
        print("  baseline: plain ORM loop, same data ...", flush=True)
        orm = measure_child("orm", baseline_url, now, work / "orm.log", pg_pid, timeout=900)
        orm["written"] = dict(
            zip(("reminders", "outbox_rows"), written(baseline_dsn, now), strict=True)
        )
        print(f"  {orm['seconds']} s, peak RSS {orm['peak_rss_mib']} MiB")

        # The event path, idle and while the next day's run works.
        _, url = start_serve(stack, database_url, work / "serve.log")
        token = service_token(database_url)
        event_url = f"{url}/graphql"
        print(f"  event path idle: {args.event_rate:.0f} events/s for {args.idle_seconds:.0f} s")
        event_load(event_url, token, args.event_rate, 3, args.customers, "warm", work)
        idle = event_load(
            event_url, token, args.event_rate, args.idle_seconds, args.customers, "idle", work
        )
        next_want = expected(dsn, next_now, default_zone)
        holder: dict[str, Any] = {}

        def start_job() -> tuple[float, float]:
            process = start_child("job", database_url, next_now, work / "job2.log")
            try:
                holder["job"] = finish_child(process, work / "job2.log", timeout=600)
            finally:
                if process.poll() is None:
                    process.kill()
                    process.wait()
            return holder["job"]["wall_start"], holder["job"]["wall_end"]

        span = job["seconds"] * 2 + 10
        print(f"  event path while the job runs ({next_now.isoformat()}), up to {span:.0f} s")
        loaded = event_load(
            event_url,
            token,
            args.event_rate,
            span,
            args.customers,
            "busy",
            work,
            during=start_job,
        )
        job_under_load = holder["job"]
        job_under_load["written"] = dict(
            zip(("reminders", "outbox_rows"), written(dsn, next_now), strict=True)
        )
        job_under_load["expected"] = dict(zip(("reminders", "outbox_rows"), next_want, strict=True))
        load = [round(v, 2) for v in os.getloadavg()]

    p99_idle = idle["latency_ms"].get("p99")
    p99_busy = loaded["latency_ms"].get("p99")
    factor = ratio(p99_busy or 0, p99_idle or 0, 2)
    complete = job["written"]["reminders"] == want[0] and job["written"]["outbox_rows"] == want[1]
    peak = job["peak_rss_mib"]
    return {
        "benchmark": "payment_job",
        "recorded_at": recorded_at.isoformat(timespec="seconds"),
        "command": display_command(argv),
        "machine": machine_facts(None, postgresql),
        "load_average_after": load,
        "settings": {
            "quick": args.quick,
            "run_at": now.isoformat(),
            "event_rate": args.event_rate,
            "postgresql": "throwaway cluster: fsync, synchronous_commit and full_page_writes off",
        },
        "dataset": {**seeded.as_dict(), **book},
        "expected": {"reminders": want[0], "outbox_rows": want[1]},
        "job": job,
        "baseline_orm_loop": orm,
        "event_path": {"idle": idle, "during_job": loaded, "job_under_load": job_under_load},
        "ratios": {
            "job_vs_orm_loop_seconds": ratio(job["seconds"], orm["seconds"], 3),
            "job_vs_orm_loop_peak_rss": ratio(job["peak_rss_mib"], orm["peak_rss_mib"], 3),
            "event_p99_during_job_vs_idle": factor,
        },
        "targets": {
            "all_written_within_s": {
                "target": TARGET_SECONDS,
                "measured": job["seconds"],
                "complete": complete,
                "met": complete and met(job["seconds"], TARGET_SECONDS, at_most=True),
            },
            "peak_rss_mib": {
                "target": TARGET_PEAK_MIB,
                "measured": peak,
                "met": met(peak, TARGET_PEAK_MIB, at_most=True),
            },
            "event_p99_during_job_vs_idle": {
                "target": TARGET_LOAD_P99_FACTOR,
                "measured": factor,
                "met": met(factor, TARGET_LOAD_P99_FACTOR, at_most=True),
            },
        },
    }


def print_table(report: dict[str, Any]) -> None:
    print()
    print(f"  {'run':<26} {'seconds':>8} {'reminders':>10} {'outbox':>8} {'peak RSS':>9}")
    for name, row in (
        ("payment_due_job", report["job"]),
        ("plain ORM loop", report["baseline_orm_loop"]),
    ):
        print(
            f"  {name:<26} {row['seconds']:>8.2f} {row['written']['reminders']:>10} "
            f"{row['written']['outbox_rows']:>8} {row['peak_rss_mib']:>7.0f} MiB"
        )
    e = report["expected"]
    print(f"  {'expected':<26} {'':>8} {e['reminders']:>10} {e['outbox_rows']:>8}")
    print()
    ep = report["event_path"]
    for name in ("idle", "during_job"):
        lat = ep[name]["latency_ms"]
        print(
            f"  events {name:<12} {ep[name]['rate']:.0f}/s: p50 {lat.get('p50', 0):7.1f} ms "
            f"p99 {lat.get('p99', 0):7.1f} ms  ({ep[name]['requests']} requests, "
            f"{ep[name]['errors']} errors)"
        )
    print(f"  job under load: {ep['job_under_load']['seconds']:.2f} s")
    print_ratios_and_targets(report, width=32)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv if argv is None else argv)
    args = parse_args(argv[1:])
    if args.child:
        return child(args)
    return run_and_report("payment_job", args.output, lambda: run(args, argv), print_table)


if __name__ == "__main__":
    raise SystemExit(main())
