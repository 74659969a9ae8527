"""Benchmark: the event path. Bank services call ``recordTransaction`` (one event) or
``recordTransactions`` (a batch) over HTTP; each event is judged and written in its own
PostgreSQL transaction (a batch: one transaction, a savepoint per event).

    python bench/event_path.py [--quick] [--duration 15] [--connections 16]

On a throwaway PostgreSQL cluster seeded with customers and their MWK accounts, in one
run:

1. statements and commits per event, in-process (the app on an ASGI transport, a
   SQLAlchemy ``before_cursor_execute`` listener on its engine): plain events, events
   that raise an alert, and events in 100-event batches;
2. the bare-insert baseline (bench/baseline_insert_app.py, one row and a commit per
   request) and ``account-alerts serve --no-worker --no-scheduler`` as separate
   processes, each driven by wrk closed-loop with the same settings (maximum rate);
3. both at half the event path's maximum rate, open-loop at constant throughput
   (bench/common_openloop.py, latency from each request's due time);
4. ``recordTransactions`` with 100 events per call, closed-loop: events per second.

Prints a table and writes bench/results/event_path.json. Every process and the cluster
are stopped at the end, on error too.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import common_openloop
import httpx
import psycopg
from common_bench import (
    FIRST_USER_ID,
    HOST,
    RESULTS_DIR,
    WRK_DIR,
    BenchError,
    bench_settings,
    display_command,
    latency_summary,
    machine_facts,
    met,
    pg_counters,
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
from query_alerts import (
    Server,
    background_cpu_percent,
    children_cpu,
    free_port,
    machine_busy_seconds,
    postgres_cpu_seconds,
    postmaster_pid,
    running,
)
from sqlalchemy import event as sa_event

BENCH_DIR = Path(__file__).resolve().parent
WRK_SCRIPT = WRK_DIR / "record_transaction.lua"
BASELINE_APP = BENCH_DIR / "baseline_insert_app.py"

# The targets, on this two-core machine.
TARGET_SINGLE_EPS = 400.0
TARGET_BATCH_EPS = 2000.0
TARGET_HALF_LOAD_P99_MS = 25.0
TARGET_BASELINE_SHARE = 0.5


# -- statements per event, in-process ----------------------------------------------------


class StatementCounter:
    """Counts what the app sends PostgreSQL: statements by verb (at the driver, so those
    the event path sends psycopg directly count too), commits, pool checkouts."""

    def __init__(self, engine: Any) -> None:
        self.counts: Counter[str] = Counter()
        self.texts: Counter[str] = Counter()
        sa_event.listen(engine, "commit", self._commit)
        sa_event.listen(engine, "rollback", self._rollback)
        sa_event.listen(engine, "checkout", self._checkout)
        counter = self
        execute, executemany = psycopg.AsyncCursor.execute, psycopg.AsyncCursor.executemany

        async def counted_execute(cursor: Any, query: Any, *args: Any, **kwargs: Any) -> Any:
            counter._statement(query, cursor, executemany=False)
            return await execute(cursor, query, *args, **kwargs)

        async def counted_executemany(cursor: Any, query: Any, *args: Any, **kwargs: Any) -> Any:
            counter._statement(query, cursor, executemany=True)
            return await executemany(cursor, query, *args, **kwargs)

        psycopg.AsyncCursor.execute = counted_execute  # type: ignore[method-assign]
        psycopg.AsyncCursor.executemany = counted_executemany  # type: ignore[method-assign]
        self._restore = (execute, executemany)

    def close(self) -> None:
        psycopg.AsyncCursor.execute, psycopg.AsyncCursor.executemany = self._restore  # type: ignore[method-assign]

    def _statement(self, query: Any, cursor: Any, *, executemany: bool) -> None:
        if isinstance(query, str | bytes):
            statement = query if isinstance(query, str) else query.decode()
        else:  # psycopg.sql objects
            statement = query.as_string(cursor)
        verb = statement.lstrip().split(None, 1)[0].upper()
        if verb in ("BEGIN", "COMMIT", "ROLLBACK"):
            return
        self.counts["statements"] += 1
        self.counts[verb] += 1
        if executemany:  # one call, many rows (one round trip in psycopg's pipeline)
            self.counts["executemany"] += 1
        text = re.sub(r"sa_savepoint_\d+", "sa_savepoint_N", " ".join(statement.split()))
        self.texts[text[:90]] += 1

    def _commit(self, _conn: Any) -> None:
        self.counts["commits"] += 1

    def _rollback(self, _conn: Any) -> None:
        self.counts["rollbacks"] += 1

    def _checkout(self, *_: Any) -> None:
        self.counts["pool_checkouts"] += 1

    def reset(self) -> None:
        self.counts.clear()
        self.texts.clear()


async def count_statements(
    database_url: str, dsn: str, accounts: int, events: int, batch_size: int
) -> dict[str, Any]:
    from account_alerts.api.app import create_app
    from account_alerts.store.database import Database

    settings = bench_settings(database_url)
    token = service_token(database_url)
    db = Database(database_url, pool_size=settings.db_pool_size)
    counter = StatementCounter(db.engine.sync_engine)
    app = create_app(settings, database=db)
    transport = httpx.ASGITransport(app=app)
    rng = common_openloop.random.Random(5)
    headers = {"Authorization": f"Bearer {token}"}
    results: dict[str, Any] = {}
    sequence = iter(range(10**9))

    def make(kind: str) -> dict[str, Any]:
        n = next(sequence)
        account = common_openloop.account_number(FIRST_USER_ID + (n * 7) % accounts)
        return common_openloop.transaction_event(
            f"count-{n}", account, kind, rng, datetime.now(UTC).replace(microsecond=0)
        )

    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:

        async def post(query: str, variables: dict[str, Any]) -> dict[str, Any]:
            response = await client.post(
                "/graphql", json={"query": query, "variables": variables}, headers=headers
            )
            body: dict[str, Any] = response.json()
            if response.status_code != 200 or body.get("errors"):
                raise BenchError(f"in-process call failed: {response.status_code} {body}")
            return body

        async def single(kind: str) -> int:
            body = await post(common_openloop.RECORD_TRANSACTION, {"input": make(kind)})
            result = body["data"]["recordTransaction"]
            if not result["accepted"]:
                raise BenchError(f"event refused: {result}")
            return len(result["alerts"])

        async def batch(kind: str) -> int:
            inputs = [make(kind) for _ in range(batch_size)]
            body = await post(common_openloop.RECORD_TRANSACTIONS, {"inputs": inputs})
            if not all(item["accepted"] for item in body["data"]["recordTransactions"]):
                raise BenchError("a batch item was refused")
            return 0

        for _ in range(5):  # warm: compiled statements, parser and validation caches
            await single("plain")
            await single("large")
        batches = max(2, events // batch_size)
        scenarios = [
            ("single, plain", events, lambda: single("plain")),
            ("single, raises an alert", events, lambda: single("large")),
            ("batch of 100, plain", batches, lambda: batch("plain")),
            ("batch of 100, each raises an alert", batches, lambda: batch("large")),
        ]
        for name, calls, call in scenarios:
            per_call = batch_size if name.startswith("batch") else 1
            await db.engine.dispose()  # closed backends flush their statistics
            before = pg_counters(dsn)
            counter.reset()
            started = time.perf_counter()
            alerts = 0
            for _ in range(calls):
                alerts += await call()
            seconds = time.perf_counter() - started
            counts = dict(counter.counts)
            texts = counter.texts.most_common()
            await db.engine.dispose()
            await asyncio.sleep(0.5)
            after = pg_counters(dsn)
            n = calls * per_call
            results[name] = {
                "events": n,
                "calls": calls,
                "statements_per_event": round(counts.get("statements", 0) / n, 2),
                "commits_per_event": round(counts.get("commits", 0) / n, 3),
                "by_verb_per_event": {
                    verb: round(count / n, 2)
                    for verb, count in sorted(counts.items())
                    if verb.isupper()
                },
                "executemany_calls_per_event": round(counts.get("executemany", 0) / n, 3),
                "pool_checkouts_per_event": round(counts.get("pool_checkouts", 0) / n, 3),
                "server_commits_per_event": round((after["commits"] - before["commits"]) / n, 3),
                "server_rollbacks_per_event": round(
                    (after["rollbacks"] - before["rollbacks"]) / n, 3
                ),
                "in_process_ms_per_event": round(1000 * seconds / n, 3),
                "statements_per_call": [
                    {"sql": text, "per_call": round(count / calls, 2)} for text, count in texts
                ],
            }
    counter.close()
    await db.dispose()
    return results


# -- load --------------------------------------------------------------------------------


def settle(server: Server, timeout: float = 30.0) -> None:
    """Wait until the server has finished what an earlier run left in flight (wrk stops
    reading, not the server working): under 5% of a core over a quarter second."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        before = server.cpu_seconds()
        time.sleep(0.25)
        if server.cpu_seconds() - before < 0.0125:
            return


def wrk_run(
    wrk: str,
    url: str,
    script_args: Sequence[str],
    *,
    server: Server,
    pg_pid: int,
    connections: int,
    threads: int,
    duration: int,
    warmup: int,
    items_per_request: int,
) -> dict[str, Any]:
    """Warm up, then one measured wrk run with the CPU each party used."""
    if warmup > 0:
        run_wrk_script(
            wrk,
            url,
            WRK_SCRIPT,
            [*script_args[:4], script_args[4] + "w", *script_args[5:]],
            connections=connections,
            threads=threads,
            duration=warmup,
        )
    settle(server)
    before = (
        server.cpu_seconds(),
        postgres_cpu_seconds(pg_pid),
        children_cpu(),
        machine_busy_seconds(),
    )
    figures, output = run_wrk_script(
        wrk,
        url,
        WRK_SCRIPT,
        script_args,
        connections=connections,
        threads=threads,
        duration=duration,
    )
    after = (
        server.cpu_seconds(),
        postgres_cpu_seconds(pg_pid),
        children_cpu(),
        machine_busy_seconds(),
    )
    result = wrk_figures(figures, items_per_request)
    seconds = result["duration_s"]
    server_cpu, pg_cpu, wrk_cpu, machine_cpu = (b - a for a, b in zip(before, after, strict=True))
    result["connections"] = connections
    result["cpu_percent_of_one_core"] = {
        "server": round(100 * server_cpu / seconds, 1),
        "postgresql": round(100 * pg_cpu / seconds, 1),
        "wrk": round(100 * wrk_cpu / seconds, 1),
        "other": round(100 * max(0.0, machine_cpu - server_cpu - pg_cpu - wrk_cpu) / seconds, 1),
    }
    items = max(result["requests"] * items_per_request, 1)
    result["server_cpu_ms_per_event"] = round(1000 * server_cpu / items, 3)
    result["postgresql_cpu_ms_per_event"] = round(1000 * pg_cpu / items, 3)
    if result["errors_total"]:
        tail = "\n".join(output.splitlines()[-15:])
        print(f"    warning: {result['errors_total']} bad responses\n{tail}", flush=True)
    return result


def open_loop(
    url: str,
    token: str,
    *,
    rate: float,
    duration: float,
    accounts: int,
    tag: str,
    work: Path,
    server: Server,
    pg_pid: int,
) -> dict[str, Any]:
    output = work / f"{tag}.json"
    settle(server)
    before = (server.cpu_seconds(), postgres_cpu_seconds(pg_pid))
    process = common_openloop.start(
        url=url,
        token=token,
        rate=rate,
        duration=duration,
        accounts=accounts,
        tag=tag,
        output=output,
    )
    try:
        raw = common_openloop.finish(process, output, timeout=duration + 60)
    finally:
        common_openloop.stop(process)
    after = (server.cpu_seconds(), postgres_cpu_seconds(pg_pid))
    records = raw["records"]
    ok = [r[1] for r in records if r[2]]
    return {
        "rate": round(rate, 1),
        "duration_s": duration,
        "scheduled": raw["scheduled"],
        "ok": len(ok),
        "errors": len(records) - len(ok) + raw["unfinished"],
        "connections_opened": raw["connections_opened"],
        "generator_max_schedule_lag_ms": raw["max_schedule_lag_ms"],
        "error_samples": raw["error_samples"],
        "latency_ms": latency_summary(ok),
        "cpu_percent_of_one_core": {
            "server": round(100 * (after[0] - before[0]) / duration, 1),
            "postgresql": round(100 * (after[1] - before[1]) / duration, 1),
        },
    }


def row_count(dsn: str, table: str) -> int:
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
    return int(row[0]) if row else 0


# -- main --------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="short runs (about 2 minutes)")
    parser.add_argument("--duration", type=int, help="seconds per measured run (15)")
    parser.add_argument("--warmup", type=int, help="seconds of warm-up before each (3)")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections")
    parser.add_argument("--threads", type=int, default=1, help="wrk threads")
    parser.add_argument(
        "--server-processes",
        type=int,
        default=1,
        help="serve --workers N, and the baseline with as many processes",
    )
    parser.add_argument("--batch-connections", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--accounts", type=int, default=3000, help="seeded customers")
    parser.add_argument("--count-events", type=int, help="events per in-process scenario")
    parser.add_argument("--output", type=Path, default=RESULTS_DIR / "event_path.json")
    args = parser.parse_args(argv)
    args.duration = args.duration or (5 if args.quick else 15)
    args.warmup = args.warmup if args.warmup is not None else (2 if args.quick else 3)
    args.count_events = args.count_events or (100 if args.quick else 200)
    return args


def run(args: argparse.Namespace, wrk: str, argv: Sequence[str]) -> dict[str, Any]:
    shape = DatasetShape(
        customers=args.accounts, alerts_per_customer=0, heavy_customers=0, heavy_alerts=0
    )
    recorded_at = datetime.now(UTC)
    with ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="alerts-bench-")))
        print(f"seeding PostgreSQL: {args.accounts} customers with MWK accounts ...", flush=True)
        cluster, database_url, seeded = stack.enter_context(seeded_cluster(shape))
        dsn = conninfo(cluster, DATABASE)
        pg_pid = postmaster_pid(cluster.datadir)
        postgresql = server_version(cluster)

        print(f"statements per event, in-process ({args.count_events} events each) ...")
        statements = asyncio.run(
            count_statements(database_url, dsn, args.accounts, args.count_events, args.batch_size)
        )

        token = service_token(database_url)
        alerts, alerts_url = start_serve(
            stack, database_url, work / "alerts.log", processes=args.server_processes, wait=False
        )
        baseline_port = free_port()
        baseline_url = f"http://{HOST}:{baseline_port}"
        baseline = stack.enter_context(
            running(
                Server(
                    "baseline",
                    [
                        sys.executable,
                        str(BASELINE_APP),
                        "--host",
                        HOST,
                        "--port",
                        str(baseline_port),
                        "--database-url",
                        database_url,
                        "--workers",
                        str(args.server_processes),
                    ],
                    server_env(database_url),
                    work / "baseline.log",
                )
            )
        )
        alerts.wait_ready(f"{alerts_url}/readyz")
        baseline.wait_ready(f"{baseline_url}/readyz")

        background = background_cpu_percent()
        load_before = os.getloadavg()
        common = {
            "pg_pid": pg_pid,
            "threads": args.threads,
            "duration": args.duration,
            "warmup": args.warmup,
        }

        def script_args(path: str, tag: str, mode: str, kind: str = "plain") -> list[str]:
            return [
                path,
                token,
                str(FIRST_USER_ID),
                str(args.accounts),
                tag,
                mode,
                str(args.batch_size),
                kind,
            ]

        runs: dict[str, Any] = {}
        events_before = row_count(dsn, "ingested_events")
        print(f"  baseline insert   c={args.connections} {args.warmup}+{args.duration} s")
        runs["baseline_insert"] = wrk_run(
            wrk,
            f"{baseline_url}/insert",
            script_args("/insert", "b", "insert"),
            server=baseline,
            connections=args.connections,
            items_per_request=1,
            **common,
        )
        print(f"  single events     c={args.connections} {args.warmup}+{args.duration} s")
        runs["single"] = wrk_run(
            wrk,
            f"{alerts_url}/graphql",
            script_args("/graphql", "s", "single"),
            server=alerts,
            connections=args.connections,
            items_per_request=1,
            **common,
        )
        half = runs["single"]["rps"] / 2
        print(f"  half load, open loop: {half:.0f} events/s for {args.duration} s, each server")
        runs["single_half_load"] = open_loop(
            f"{alerts_url}/graphql",
            token,
            rate=half,
            duration=args.duration,
            accounts=args.accounts,
            tag="h",
            work=work,
            server=alerts,
            pg_pid=pg_pid,
        )
        runs["baseline_half_load"] = open_loop(
            f"{baseline_url}/insert",
            token,
            rate=half,
            duration=args.duration,
            accounts=args.accounts,
            tag="bh",
            work=work,
            server=baseline,
            pg_pid=pg_pid,
        )
        print(
            f"  batches of {args.batch_size}    c={args.batch_connections} "
            f"{args.warmup}+{max(args.duration, 10)} s"
        )
        runs["batch"] = wrk_run(
            wrk,
            f"{alerts_url}/graphql",
            script_args("/graphql", "m", "batch"),
            server=alerts,
            connections=args.batch_connections,
            items_per_request=args.batch_size,
            **{**common, "duration": max(args.duration, 10)},
        )
        events_stored = row_count(dsn, "ingested_events") - events_before
        load_after = os.getloadavg()

    single, batch, half_run = runs["single"], runs["batch"], runs["single_half_load"]
    baseline_run = runs["baseline_insert"]
    half_p99 = half_run["latency_ms"].get("p99")
    share = ratio(single["rps"], baseline_run["rps"])
    return {
        "benchmark": "event_path",
        "recorded_at": recorded_at.isoformat(timespec="seconds"),
        "command": display_command(argv),
        "machine": machine_facts(wrk, postgresql),
        "server_processes": args.server_processes,
        "settings": {
            "quick": args.quick,
            "duration_s": args.duration,
            "warmup_s": args.warmup,
            "connections": args.connections,
            "batch_connections": args.batch_connections,
            "batch_size": args.batch_size,
            "wrk_threads": args.threads,
            "server": "account-alerts serve --no-worker --no-scheduler (one uvicorn "
            "process), ALERTS_ENV=production",
            "baseline": "bench/baseline_insert_app.py: one INSERT ... RETURNING and a "
            "commit per request, same engine settings, same uvicorn",
            "events": "DEBIT under the large-transaction threshold with balanceAfter above "
            "the low-balance one (raises nothing); no device, no location",
            "postgresql": "throwaway cluster: fsync, synchronous_commit and full_page_writes off",
        },
        "dataset": {**seeded.as_dict(), "events_stored_by_the_http_runs": events_stored},
        "background_cpu_percent_before": round(background, 1),
        "load_average_1_5_15": {
            "before": [round(v, 2) for v in load_before],
            "after": [round(v, 2) for v in load_after],
        },
        "statements": statements,
        "runs": runs,
        "ratios": {
            "single_vs_baseline_rps": share,
            "single_vs_baseline_server_cpu_per_event": ratio(
                single["server_cpu_ms_per_event"], baseline_run["server_cpu_ms_per_event"], 2
            ),
            "batch_vs_single_events_per_s": ratio(batch["items_per_s"], single["rps"], 2),
            "half_load_p99_vs_baseline": ratio(
                half_p99 or 0, runs["baseline_half_load"]["latency_ms"].get("p99") or 0, 2
            ),
        },
        "targets": {
            "single_events_per_s": {
                "target": TARGET_SINGLE_EPS,
                "measured": single["rps"],
                "met": met(single["rps"], TARGET_SINGLE_EPS),
            },
            "batch_events_per_s": {
                "target": TARGET_BATCH_EPS,
                "measured": batch["items_per_s"],
                "met": met(batch["items_per_s"], TARGET_BATCH_EPS),
            },
            "half_load_p99_ms": {
                "target": TARGET_HALF_LOAD_P99_MS,
                "measured": half_p99,
                "met": met(half_p99, TARGET_HALF_LOAD_P99_MS, at_most=True),
            },
            "single_vs_baseline": {
                "target": TARGET_BASELINE_SHARE,
                "measured": share,
                "met": met(share, TARGET_BASELINE_SHARE),
            },
        },
    }


def print_table(report: dict[str, Any]) -> None:
    print()
    print("statements and commits per event (in-process)")
    print(f"  {'scenario':<36} {'stmts':>6} {'commits':>8} {'checkouts':>9} {'ms':>7}")
    for name, row in report["statements"].items():
        print(
            f"  {name:<36} {row['statements_per_event']:>6.2f} {row['commits_per_event']:>8.3f} "
            f"{row['pool_checkouts_per_event']:>9.3f} {row['in_process_ms_per_event']:>7.2f}"
        )
    print()
    header = (
        f"  {'run':<22} {'conns':>5} {'req/s':>8} {'events/s':>9} {'p50 ms':>8} {'p99 ms':>8} "
        f"{'max ms':>8} {'bad':>5} {'srv CPU':>7} {'pg CPU':>7}"
    )
    print(header)
    print("  " + "-" * (len(header) - 2))
    for name, r in report["runs"].items():
        cpu = r["cpu_percent_of_one_core"]
        if "rps" in r:
            print(
                f"  {name:<22} {r['connections']:>5} {r['rps']:>8.1f} {r['items_per_s']:>9.1f} "
                f"{r['latency_ms']['p50']:>8.2f} {r['latency_ms']['p99']:>8.2f} "
                f"{r['latency_ms']['max']:>8.2f} {r['errors_total']:>5} "
                f"{cpu['server']:>6.0f}% {cpu['postgresql']:>6.0f}%"
            )
        else:
            lat = r["latency_ms"]
            print(
                f"  {name:<22} {'open':>5} {r['rate']:>8.1f} {r['ok'] / r['duration_s']:>9.1f} "
                f"{lat.get('p50', 0):>8.2f} {lat.get('p99', 0):>8.2f} {lat.get('max', 0):>8.2f} "
                f"{r['errors']:>5} {cpu['server']:>6.0f}% {cpu['postgresql']:>6.0f}%"
            )
    print_ratios_and_targets(report, width=42)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv if argv is None else argv)
    args = parse_args(argv[1:])
    wrk = shutil.which("wrk")
    if wrk is None:
        print(
            "event_path: wrk is not installed (Debian/Ubuntu: apt-get install -y wrk)",
            file=sys.stderr,
        )
        return 2
    return run_and_report("event_path", args.output, lambda: run(args, wrk, argv), print_table)


if __name__ == "__main__":
    raise SystemExit(main())
