"""Benchmark: the event path with what the bank's services really send. Services call
``recordTransaction`` / ``recordLogin`` (one event) or ``recordTransactions`` (a batch)
over HTTP.

    python bench/event_path.py [--quick] [--customers 50] [--history 100]
    python bench/event_path.py --split-only          # setup (b) and the history comparison

On a throwaway PostgreSQL cluster, in one run:

1. customers with MWK accounts, a verified phone and a push token, a group of its own for
   each measured phase of each setup (below) and for the counts; every customer gets
   90 days of history (``--history`` transactions, about 100, and 30% as many sign-ins,
   bench/event_mix.py), loaded through ``recordLogins`` / ``recordTransactions`` (500 per
   call) by a fast setup (``serve --workers 2 --no-worker --no-scheduler``), timed; the
   alerts that history raised are then marked delivered, as they long would have been;
2. statements and commits per event, in-process (the app on an ASGI transport, counted
   at psycopg's cursor): the real mix one at a time (events that raise nothing, events
   that raise an alert), real-mix batches of 100, the plain debit;
3. for each of two setups, (a) ``account-alerts serve`` as the README starts it (worker
   and scheduler in the same process) and (b) ``serve --no-worker --no-scheduler`` plus
   a separate ``account-alerts worker``, each phase with customers of its own, beside the
   bare-insert baseline (bench/baseline_insert_app.py) measured just before it, same
   bodies: the real mix closed-loop with wrk (maximum rate), open-loop at half of that
   rate (bench/common_openloop.py), the plain debit closed-loop (the cheapest event, a
   secondary line), then real-mix batches of 100;
4. in setup (b), server CPU per real-mix event for customers with ``--compare-history``
   300 and 10 transactions of history (and 30% as many sign-ins), open-loop at the same
   rate, alternately.

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
import event_mix
import httpx
import psycopg
from common_bench import (
    FIRST_USER_ID,
    HOST,
    RESULTS_DIR,
    WRK_DIR,
    BenchError,
    bench_settings,
    cli_command,
    display_command,
    latency_summary,
    machine_facts,
    make_reachable,
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
from event_mix import Customer, Filler
from query_alerts import (
    Server,
    alerts_command,
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
TARGET_SINGLE_VS_BASELINE = 0.4
TARGET_HALF_LOAD_P99_MS = 25.0
TARGET_BATCH_EPS = 3000.0
TARGET_HISTORY_CPU_RATIO = 1.2

# The measured phases of a setup, in order, each with customers of its own.
PHASES = ("mix", "half", "plain", "batch")
SETUPS = {
    "serve": "account-alerts serve (API, delivery worker and scheduler in one process)",
    "split": "account-alerts serve --no-worker --no-scheduler, and account-alerts worker",
}
HISTORY_LOADERS = 4  # batch calls in flight while the history loads
MIX_BODIES = 20_000
HISTORY_TABLES = (
    "transactions",
    "login_attempts",
    "devices",
    "account_alerts",
    "alert_deliveries",
    "suspicious_activity_log",
)


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

    def snapshot(self) -> Counter[str]:
        return Counter(self.counts)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


async def count_statements(
    database_url: str, dsn: str, people: Sequence[Customer], events: int, batch_size: int
) -> dict[str, Any]:
    """Statements and commits per event, one call at a time; single real-mix calls are
    split by whether they raised an alert."""
    from account_alerts.api.app import create_app
    from account_alerts.store.database import Database

    settings = bench_settings(database_url)
    token = service_token(database_url)
    db = Database(database_url, pool_size=settings.db_pool_size)
    counter = StatementCounter(db.engine.sync_engine)
    app = create_app(settings, database=db)
    transport = httpx.ASGITransport(app=app)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    filler = Filler("count")
    results: dict[str, Any] = {}

    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:

        async def post(template: str) -> tuple[int, int]:
            """(events, alerts) of one call."""
            response = await client.post(
                "/graphql", content=filler.fill(template, _now()), headers=headers
            )
            body: dict[str, Any] = response.json()
            if response.status_code != 200 or body.get("errors"):
                raise BenchError(f"in-process call failed: {response.status_code} {body}")
            (result,) = body["data"].values()
            items = result if isinstance(result, list) else [result]
            if not all(item["accepted"] for item in items):
                raise BenchError(f"event refused: {items}")
            return len(items), sum(len(item["alerts"]) for item in items)

        for template in event_mix.live_bodies(people, "mix", 20, seed=50):
            await post(template)  # warm: compiled statements, parser and validation caches
        scenarios = [
            ("real mix, single", event_mix.live_bodies(people, "mix", events, seed=51)),
            (
                f"real mix, batch of {batch_size}",
                event_mix.live_bodies(
                    people, f"batch-{batch_size}", max(2, events // batch_size), seed=52
                ),
            ),
            ("plain debit, single (cheapest)", event_mix.live_bodies(people, "plain", events, 53)),
        ]
        for name, templates in scenarios:
            buckets: dict[str, list[Any]] = {}  # name -> [events, calls, counts, seconds]
            await db.engine.dispose()  # closed backends flush their statistics
            before_pg = pg_counters(dsn)
            for template in templates:
                before = counter.snapshot()
                started = time.perf_counter()
                n, alerts = await post(template)
                seconds = time.perf_counter() - started
                counts = counter.snapshot() - before
                keys = [name]
                if name == "real mix, single":
                    keys.append(f"{name}, {'raises an alert' if alerts else 'raises nothing'}")
                for key in keys:
                    bucket = buckets.setdefault(key, [0, 0, Counter(), 0.0])
                    bucket[0] += n
                    bucket[1] += 1
                    bucket[2].update(counts)
                    bucket[3] += seconds
            await db.engine.dispose()
            await asyncio.sleep(0.5)
            after_pg = pg_counters(dsn)
            for key, (n, calls, counts, seconds) in buckets.items():
                row = {
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
                    "in_process_ms_per_event": round(1000 * seconds / n, 3),
                }
                if key == name:
                    row["server_commits_per_event"] = round(
                        (after_pg["commits"] - before_pg["commits"]) / n, 3
                    )
                results[key] = row
    counter.close()
    await db.dispose()
    return results


# -- history -----------------------------------------------------------------------------


async def load_history(
    url: str, token: str, events: Sequence[tuple[datetime, str, dict[str, Any]]]
) -> dict[str, Any]:
    """Send ``events`` through the batch mutations, ``HISTORY_LOADERS`` calls in flight;
    each loader has its own customers, whose events it sends in time order."""
    streams: list[list[tuple[datetime, str, dict[str, Any]]]] = [[] for _ in range(HISTORY_LOADERS)]
    for item in events:
        event = item[2]
        user = event.get("mobileUserId") or int(event["accountNumber"][2:])
        streams[user % HISTORY_LOADERS].append(item)
    headers = {"Authorization": f"Bearer {token}"}
    refused: list[Any] = []
    calls = 0

    async def loader(client: httpx.AsyncClient, stream: Sequence[Any]) -> None:
        nonlocal calls
        for query, inputs in event_mix.history_calls(stream):
            response = await client.post(
                "/graphql", json={"query": query, "variables": {"inputs": inputs}}
            )
            body = response.json()
            calls += 1
            if response.status_code != 200 or body.get("errors"):
                raise BenchError(f"history call failed: {response.status_code} {str(body)[:500]}")
            (items,) = body["data"].values()
            refused.extend(item for item in items if not item["accepted"])

    started = time.perf_counter()
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=600) as client:
        await asyncio.gather(*(loader(client, stream) for stream in streams))
    seconds = time.perf_counter() - started
    if refused:
        raise BenchError(f"{len(refused)} history events refused, e.g. {refused[:3]}")
    return {
        "events": len(events),
        "calls": calls,
        "seconds": round(seconds, 1),
        "events_per_s": round(len(events) / seconds, 1),
    }


def history_settled(dsn: str) -> dict[str, int]:
    """Mark what the history's alerts left in the outbox as delivered long ago (the worker
    of a measured setup must not drain 90 days of alerts), and vacuum and analyse."""
    with psycopg.connect(dsn) as conn:
        deliveries = conn.execute(
            "UPDATE alert_deliveries SET status = 'SENT', attempts = 1, "
            "sent_at = created_at, updated_at = created_at WHERE status = 'PENDING'"
        ).rowcount
        alerts = conn.execute(
            "UPDATE account_alerts SET status = 'SENT', sent_at = triggered_at "
            "WHERE status = 'PENDING'"
        ).rowcount
        counts = {}
        for table in HISTORY_TABLES:
            if conn.execute("SELECT to_regclass(%s)", (table,)).fetchone() != (None,):
                row = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
                counts[table] = int(row[0]) if row else 0
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    return {**counts, "deliveries_marked_sent": deliveries, "alerts_marked_sent": alerts}


def database_settled(dsn: str) -> None:
    """Vacuum, analyse and checkpoint, as pgbench vacuums before each run: the autovacuum
    pass and the checkpoint an earlier run's writes call for (1-3 s of PostgreSQL's CPU
    each, on the tables that run filled) are that run's, and would otherwise fall inside
    the next one, on the same two cores."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
        conn.execute("CHECKPOINT")


# -- load --------------------------------------------------------------------------------


class Cpu:
    """CPU seconds of the parties of a measurement, read from /proc. With ``dsn``, each
    measured run starts on a settled database (``database_settled``)."""

    def __init__(self, servers: dict[str, Server], pg_pid: int, dsn: str | None = None) -> None:
        self.servers, self.pg_pid, self.dsn = servers, pg_pid, dsn

    def ready(self) -> None:
        """Before a measured run: the database settled, then the servers idle."""
        if self.dsn is not None:
            database_settled(self.dsn)
        self.settle()

    def sample(self) -> dict[str, float]:
        return {
            **{name: server.cpu_seconds() for name, server in self.servers.items()},
            "postgresql": postgres_cpu_seconds(self.pg_pid),
            "load_generator": children_cpu(),
            "machine": machine_busy_seconds(),
        }

    def settle(self, timeout: float = 30.0) -> None:
        """Wait until the servers have finished what an earlier run left in flight (the
        load generator stops reading, not the servers working, and a worker delivers
        afterwards): under 5% of a core each over a quarter second."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            before = {name: server.cpu_seconds() for name, server in self.servers.items()}
            time.sleep(0.25)
            if all(s.cpu_seconds() - before[n] < 0.0125 for n, s in self.servers.items()):
                return

    def used(
        self, before: dict[str, float], after: dict[str, float], seconds: float, events: int
    ) -> dict[str, Any]:
        spent = {name: after[name] - before[name] for name in before}
        ours = sum(v for k, v in spent.items() if k != "machine")
        spent["other"] = max(0.0, spent.pop("machine") - ours)
        return {
            "cpu_percent_of_one_core": {k: round(100 * v / seconds, 1) for k, v in spent.items()},
            "cpu_ms_per_event": {
                k: round(1000 * v / max(events, 1), 3)
                for k, v in spent.items()
                if k not in ("other", "load_generator")
            },
        }


def wrk_run(
    wrk: str,
    url: str,
    bodies: Path | Sequence[Path],
    tag: str,
    *,
    token: str | Sequence[str],
    cpu: Cpu,
    connections: int,
    threads: int,
    duration: int,
    warmup: int,
    items_per_request: int,
) -> dict[str, Any]:
    """Warm up, then one measured wrk run with the CPU each party used. Several ``bodies``
    and ``token``: wrk's thread n sends the n-th (bench/wrk/record_transaction.lua)."""
    path = "/" + url.split("/", 3)[3]
    files = str(bodies) if isinstance(bodies, Path) else ",".join(str(b) for b in bodies)
    if not isinstance(token, str):
        token = ",".join(token)
    if warmup > 0:
        run_wrk_script(
            wrk,
            url,
            WRK_SCRIPT,
            [path, token, files, tag + "w"],
            connections=connections,
            threads=threads,
            duration=warmup,
        )
    cpu.ready()
    before = cpu.sample()
    figures, output = run_wrk_script(
        wrk,
        url,
        WRK_SCRIPT,
        [path, token, files, tag],
        connections=connections,
        threads=threads,
        duration=duration,
    )
    after = cpu.sample()
    result = wrk_figures(figures, items_per_request)
    result["connections"] = connections
    result.update(
        cpu.used(before, after, result["duration_s"], result["requests"] * items_per_request)
    )
    if result["errors_total"]:
        tail = "\n".join(output.splitlines()[-15:])
        print(f"    warning: {result['errors_total']} bad responses\n{tail}", flush=True)
    return result


def open_loop(
    url: str,
    token: str,
    bodies: Path,
    tag: str,
    *,
    rate: float,
    duration: float,
    work: Path,
    cpu: Cpu,
    warmup: float,
) -> dict[str, Any]:
    """``warmup`` seconds at the rate, then ``duration`` measured, on the same connections;
    the CPU counted is the measured part's."""
    output = work / f"{tag}.json"
    cpu.ready()
    start_at = time.time() + 1.0  # the generator's process starting
    process = common_openloop.start(
        url=url,
        token=token,
        rate=rate,
        duration=duration,
        tag=tag,
        output=output,
        bodies=bodies,
        start_at=start_at,
        warmup=warmup,
    )
    try:
        time.sleep(max(0.0, start_at + warmup - time.time()))
        before = cpu.sample()
        raw = common_openloop.finish(process, output, timeout=duration + warmup + 60)
    finally:
        common_openloop.stop(process)
    cpu.settle(timeout=5)  # the events still in flight at the end are part of the run
    after = cpu.sample()
    records = raw["records"]
    ok = [r[1] for r in records if r[2]]
    result = {
        "rate": round(rate, 1),
        "duration_s": duration,
        "scheduled": raw["scheduled"],
        "ok": len(ok),
        "errors": len(records) - len(ok) + raw["unfinished"],
        "connections_opened": raw["connections_opened"],
        "generator_max_schedule_lag_ms": raw["max_schedule_lag_ms"],
        "error_samples": raw["error_samples"],
        "latency_ms": latency_summary(ok),
    }
    result.update(cpu.used(before, after, duration, len(ok)))
    return result


def row_count(dsn: str, table: str) -> int:
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
    return int(row[0]) if row else 0


# -- the setups --------------------------------------------------------------------------


def start_setup(
    stack: ExitStack,
    setup: str,
    database_url: str,
    work: Path,
    processes: int,
    extra_env: dict[str, str] | None = None,
) -> tuple[dict[str, Server], str]:
    """The setup's processes (stopped with ``stack``) and the API's base URL; ``extra_env``:
    settings beyond the defaults."""
    port = free_port()
    url = f"http://{HOST}:{port}"
    command = alerts_command(port, processes)
    if setup == "split":
        command += ["--no-worker", "--no-scheduler"]
    env = {**server_env(database_url), **(extra_env or {})}
    servers = {"server": Server(f"{setup}: serve", command, env, work / f"{setup}-serve.log")}
    stack.enter_context(running(servers["server"]))
    if setup == "split":
        worker = Server("split: worker", cli_command("worker"), env, work / "split-worker.log")
        servers["worker"] = stack.enter_context(running(worker))
    servers["server"].wait_ready(f"{url}/readyz")
    return servers, url


def compare_history(
    url: str,
    token: str,
    groups: dict[int, Path],
    *,
    rate: float,
    duration: float,
    work: Path,
    cpu: Cpu,
    warmup: float,
) -> dict[str, Any]:
    """Server CPU per real-mix event for each history size: open loop at one rate, the
    groups taking turns twice (ABAB) so drift in the machine's load falls on both."""
    runs: dict[int, list[dict[str, Any]]] = {size: [] for size in groups}
    for turn in range(2):
        for size, bodies in groups.items():
            runs[size].append(
                open_loop(
                    url,
                    token,
                    bodies,
                    f"hist{size}-{turn}",
                    rate=rate,
                    duration=duration / 2,
                    work=work,
                    cpu=cpu,
                    warmup=warmup,
                )
            )
    result: dict[str, Any] = {"rate": rate, "duration_s_per_group": duration}
    for size, turns in runs.items():
        events = sum(r["ok"] for r in turns)
        server_ms = sum(r["cpu_ms_per_event"]["server"] * r["ok"] for r in turns) / max(events, 1)
        pg_ms = sum(r["cpu_ms_per_event"]["postgresql"] * r["ok"] for r in turns) / max(events, 1)
        result[str(size)] = {
            "events": events,
            "errors": sum(r["errors"] for r in turns),
            "server_cpu_ms_per_event": round(server_ms, 3),
            "postgresql_cpu_ms_per_event": round(pg_ms, 3),
            "p50_ms": [r["latency_ms"].get("p50") for r in turns],
            "p99_ms": [r["latency_ms"].get("p99") for r in turns],
        }
    return result


def measure_setup(
    setup: str,
    *,
    args: argparse.Namespace,
    wrk: str,
    token: str,
    database_url: str,
    baseline_url: str,
    baseline: Server,
    bodies: dict[str, Path],
    own: tuple[list[Path], list[str]],
    pg_pid: int,
    dsn: str,
    work: Path,
    compare: dict[int, Path] | None,
) -> dict[str, Any]:
    common = {"token": token, "threads": args.threads, "warmup": args.warmup}
    runs: dict[str, Any] = {}
    base_cpu = Cpu({"server": baseline}, pg_pid, dsn)
    print(f"  {setup}: baseline insert  c={args.connections} {args.warmup}+{args.duration} s")
    runs["baseline_insert"] = wrk_run(
        wrk,
        f"{baseline_url}/insert",
        bodies["mix"],
        f"{setup}-b",
        cpu=base_cpu,
        connections=args.connections,
        duration=args.duration,
        items_per_request=1,
        **common,
    )
    with ExitStack() as stack:
        servers, url = start_setup(stack, setup, database_url, work, args.server_processes)
        cpu = Cpu(servers, pg_pid, dsn)
        graphql = f"{url}/graphql"
        print(f"  {setup}: real mix, single c={args.connections} {args.warmup}+{args.duration} s")
        runs["mix_single"] = wrk_run(
            wrk,
            graphql,
            bodies["mix"],
            f"{setup}-s",
            cpu=cpu,
            connections=args.connections,
            duration=args.duration,
            items_per_request=1,
            **common,
        )
        half = runs["mix_single"]["rps"] / 2
        print(f"  {setup}: half load, open loop, {half:.0f} events/s for {args.duration} s")
        runs["mix_half_load"] = open_loop(
            graphql,
            token,
            bodies["half"],
            f"{setup}-h",
            rate=half,
            duration=args.duration,
            work=work,
            cpu=cpu,
            warmup=args.warmup,
        )
        runs["baseline_half_load"] = open_loop(
            f"{baseline_url}/insert",
            token,
            bodies["half"],
            f"{setup}-bh",
            rate=half,
            duration=args.duration,
            work=work,
            cpu=base_cpu,
            warmup=args.warmup,
        )
        print(f"  {setup}: plain debit     c={args.connections} {args.warmup}+{args.duration} s")
        runs["plain_single"] = wrk_run(
            wrk,
            graphql,
            bodies["plain"],
            f"{setup}-p",
            cpu=cpu,
            connections=args.connections,
            duration=args.duration,
            items_per_request=1,
            **common,
        )
        batch_duration = max(args.duration, 10)
        print(
            f"  {setup}: real mix, batches of {args.batch_size} c={args.batch_connections} "
            f"{args.warmup}+{batch_duration} s"
        )
        runs["mix_batch"] = wrk_run(
            wrk,
            graphql,
            bodies["batch"],
            f"{setup}-m",
            cpu=cpu,
            connections=args.batch_connections,
            duration=batch_duration,
            items_per_request=args.batch_size,
            **common,
        )
        # Secondary line: the same batches from callers (services) whose customers do not
        # overlap, one connection each. No unit waits for another's customer locks, so the
        # units of different callers are judged and written side by side: what the
        # headline's shared customers cost.
        own_bodies, own_tokens = own
        print(
            f"  {setup}: real mix, batches of {args.batch_size}, {len(own_bodies)} callers with "
            f"customers of their own {args.warmup}+{batch_duration} s"
        )
        runs["mix_batch_own_customers"] = wrk_run(
            wrk,
            graphql,
            own_bodies,
            f"{setup}-o",
            token=own_tokens,
            cpu=cpu,
            connections=len(own_bodies),
            threads=len(own_bodies),
            duration=batch_duration,
            warmup=args.warmup,
            items_per_request=args.batch_size,
        )
        result: dict[str, Any] = {"description": SETUPS[setup], "runs": runs}
        if compare is not None:
            sizes = " vs ".join(str(size) for size in compare)
            rate = args.compare_rate or half
            print(
                f"  {setup}: history {sizes}, open loop {rate:.0f} events/s, {args.duration} s each"
            )
            result["history_comparison"] = compare_history(
                graphql,
                token,
                compare,
                rate=rate,
                duration=args.duration,
                work=work,
                cpu=cpu,
                warmup=args.warmup,
            )
    result["figures"] = setup_figures(runs)
    return result


def setup_figures(runs: dict[str, Any]) -> dict[str, Any]:
    single, base = runs["mix_single"], runs["baseline_insert"]
    half = runs["mix_half_load"]["latency_ms"]
    return {
        "mix_single_events_per_s": single["rps"],
        "baseline_insert_req_per_s": base["rps"],
        "mix_single_vs_baseline": ratio(single["rps"], base["rps"]),
        "mix_half_load_rate": runs["mix_half_load"]["rate"],
        "mix_half_load_p50_ms": half.get("p50"),
        "mix_half_load_p99_ms": half.get("p99"),
        "baseline_half_load_p99_ms": runs["baseline_half_load"]["latency_ms"].get("p99"),
        "mix_batch_events_per_s": runs["mix_batch"]["items_per_s"],
        "mix_batch_own_customers_events_per_s": runs["mix_batch_own_customers"]["items_per_s"],
        "plain_single_events_per_s": runs["plain_single"]["rps"],
        "plain_single_vs_baseline": ratio(runs["plain_single"]["rps"], base["rps"]),
        "server_cpu_ms_per_mix_event": single["cpu_ms_per_event"]["server"],
        "server_cpu_ms_per_mix_event_half_load": runs["mix_half_load"]["cpu_ms_per_event"][
            "server"
        ],
        "baseline_cpu_ms_per_insert": base["cpu_ms_per_event"]["server"],
    }


# -- main --------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="a smoke run (1-2 minutes)")
    parser.add_argument("--duration", type=int, help="seconds per measured run (15; quick 5)")
    parser.add_argument("--warmup", type=int, help="seconds of warm-up before each (3; quick 2)")
    parser.add_argument(
        "--customers",
        type=int,
        help="customers with history, per phase of each setup (50; quick 10)",
    )
    parser.add_argument(
        "--history",
        type=int,
        default=100,
        help="transactions of history per customer (and 30%% as many sign-ins)",
    )
    parser.add_argument(
        "--compare-history",
        default="300,10",
        help="the history sizes whose server CPU per event is compared ('' for none)",
    )
    parser.add_argument(
        "--compare-customers",
        type=int,
        help="customers with the larger history (16; quick 5); four times as many with the "
        "smaller one, so the events of the comparison add little to theirs",
    )
    parser.add_argument(
        "--compare-rate", type=float, help="events/s (half of the setup's own maximum)"
    )
    parser.add_argument(
        "--split-only",
        action="store_true",
        help="setup (b) and the history comparison only (no setup (a), no in-process counts)",
    )
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
    parser.add_argument("--count-events", type=int, help="events per in-process scenario")
    parser.add_argument("--output", type=Path, default=RESULTS_DIR / "event_path.json")
    args = parser.parse_args(argv)
    args.duration = args.duration or (5 if args.quick else 15)
    args.warmup = args.warmup if args.warmup is not None else (2 if args.quick else 3)
    args.customers = args.customers or (10 if args.quick else 50)
    args.compare_customers = args.compare_customers or (5 if args.quick else 16)
    args.count_events = args.count_events or (100 if args.quick else 300)
    args.compare = [int(size) for size in args.compare_history.split(",") if size.strip()]
    if args.split_only and not args.compare:
        parser.error("--split-only is for the history comparison: give --compare-history")
    return args


def run(args: argparse.Namespace, wrk: str, argv: Sequence[str]) -> dict[str, Any]:
    setups = ["split"] if args.split_only else list(SETUPS)
    # Customers of their own for each phase of each setup, and for the in-process counts:
    # a phase sends each customer of a group hundreds of events within seconds, so a later
    # phase would otherwise measure customers with hundreds of transactions in the last
    # minutes (each kept in their activity profile for 25 hours) rather than customers
    # with the history the headline names.
    groups: dict[str, list[Customer]] = {}
    first = FIRST_USER_ID
    names = [f"{setup} {phase}" for setup in setups for phase in PHASES]
    names += [f"{setup} own {n}" for setup in setups for n in range(args.batch_connections)]
    for name in names + ([] if args.split_only else ["counts"]):
        groups[name] = event_mix.customers(first, args.customers)
        first += args.customers
    compare_groups: dict[int, list[Customer]] = {}
    for k, size in enumerate(sorted(args.compare, reverse=True)):
        count = args.compare_customers * (1 if k == 0 else 4)
        compare_groups[size] = event_mix.customers(first, count)
        first += count
    total = first - FIRST_USER_ID
    shape = DatasetShape(customers=total, alerts_per_customer=0, heavy_customers=0, heavy_alerts=0)
    recorded_at = datetime.now(UTC)
    with ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="alerts-bench-")))
        print(f"seeding PostgreSQL: {total} customers with MWK accounts ...", flush=True)
        cluster, database_url, seeded = stack.enter_context(seeded_cluster(shape))
        dsn = conninfo(cluster, DATABASE)
        make_reachable(dsn, total)
        pg_pid = postmaster_pid(cluster.datadir)
        postgresql = server_version(cluster)
        token = service_token(database_url)
        # The callers of the batch line whose customers are their own: services of their own.
        own_tokens = [
            service_token(database_url, subject=f"core-banking-{n + 1}")
            for n in range(args.batch_connections)
        ]

        now = datetime.now(UTC)
        plan = [(name, people, args.history) for name, people in groups.items()]
        plan += [(f"history {size}", people, size) for size, people in compare_groups.items()]
        history: dict[str, Any] = {}
        with ExitStack() as loading:
            _, load_url = start_serve(loading, database_url, work / "history.log", processes=2)
            for seed, (name, people, size) in enumerate(plan):
                events = event_mix.history(people, size, now, seed=1000 + seed)
                print(
                    f"history for {name}: {len(people)} customers x {size} transactions "
                    f"+ {round(size * event_mix.HISTORY_LOGINS_PER_TRANSACTION)} sign-ins ...",
                    flush=True,
                )
                loaded = asyncio.run(load_history(load_url, token, events))
                history[name] = {
                    "customers": len(people),
                    "transactions_per_customer": size,
                    **loaded,
                }
                print(
                    f"  {loaded['events']} events in {loaded['seconds']} s "
                    f"({loaded['events_per_s']:.0f}/s)",
                    flush=True,
                )
        history["stored"] = history_settled(dsn)

        bodies: dict[str, dict[str, Path]] = {}
        own: dict[str, list[Path]] = {}
        for setup in setups:
            bodies[setup] = {
                phase: event_mix.write_bodies(
                    work / f"{setup}-{phase}.bodies",
                    event_mix.live_bodies(groups[f"{setup} {phase}"], live_kind, count, seed=seed),
                )
                for phase, live_kind, count, seed in (
                    ("mix", "mix", MIX_BODIES, 21),
                    ("half", "mix", MIX_BODIES, 24),
                    ("plain", "plain", MIX_BODIES, 22),
                    ("batch", f"batch-{args.batch_size}", 200, 23),
                )
            }
            own[setup] = [
                event_mix.write_bodies(
                    work / f"{setup}-own-{n}.bodies",
                    event_mix.live_bodies(
                        groups[f"{setup} own {n}"], f"batch-{args.batch_size}", 200, seed=40 + n
                    ),
                )
                for n in range(args.batch_connections)
            ]
        compare_bodies = {
            size: event_mix.write_bodies(
                work / f"history-{size}.bodies",
                event_mix.live_bodies(people, "mix", MIX_BODIES, seed=60),
            )
            for size, people in compare_groups.items()
        }

        statements: dict[str, Any] = {}
        if not args.split_only:
            print(f"statements per event, in-process ({args.count_events} events each) ...")
            statements = asyncio.run(
                count_statements(
                    database_url, dsn, groups["counts"], args.count_events, args.batch_size
                )
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
        baseline.wait_ready(f"{baseline_url}/readyz")

        background = background_cpu_percent()
        load_before = os.getloadavg()
        events_before = row_count(dsn, "ingested_events")
        results: dict[str, Any] = {}
        for setup in setups:
            results[setup] = measure_setup(
                setup,
                args=args,
                wrk=wrk,
                token=token,
                database_url=database_url,
                baseline_url=baseline_url,
                baseline=baseline,
                bodies=bodies[setup],
                own=(own[setup], own_tokens),
                pg_pid=pg_pid,
                dsn=dsn,
                work=work,
                compare=compare_bodies if setup == "split" and compare_bodies else None,
            )
        events_stored = row_count(dsn, "ingested_events") - events_before
        load_after = os.getloadavg()

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
            "customers_per_phase": args.customers,
            "phases": "each phase of each setup (real mix closed loop, half load, plain "
            "debit, batches) and the in-process counts have customers of their own",
            "history_transactions_per_customer": args.history,
            "compare_history": args.compare,
            "compare_customers": {str(k): len(v) for k, v in compare_groups.items()},
            "compare_rate": args.compare_rate,
            "setups": {setup: SETUPS[setup] for setup in setups},
            "environment": "ALERTS_ENV=production, every other setting at its default",
            "baseline": "bench/baseline_insert_app.py: one INSERT ... RETURNING and a "
            "commit per request, same engine settings, same uvicorn, the real mix's bodies",
            "events": event_mix.__doc__,
            "postgresql": "throwaway cluster: fsync, synchronous_commit and full_page_writes off",
        },
        "dataset": {**seeded.as_dict(), "events_stored_by_the_http_runs": events_stored},
        "history": history,
        "background_cpu_percent_before": round(background, 1),
        "load_average_1_5_15": {
            "before": [round(v, 2) for v in load_before],
            "after": [round(v, 2) for v in load_after],
        },
        "statements": statements,
        "setups": results,
        "ratios": ratios(results),
        "targets": targets(results),
    }


def ratios(results: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for setup, result in results.items():
        f = result["figures"]
        out[f"{setup}: real mix single / bare insert"] = f["mix_single_vs_baseline"]
        out[f"{setup}: plain debit single / bare insert"] = f["plain_single_vs_baseline"]
        out[f"{setup}: server CPU per mix event / per insert"] = ratio(
            f["server_cpu_ms_per_mix_event"], f["baseline_cpu_ms_per_insert"], 2
        )
        out[f"{setup}: half-load p99 / bare insert's"] = ratio(
            f["mix_half_load_p99_ms"] or 0, f["baseline_half_load_p99_ms"] or 0, 2
        )
        out[f"{setup}: batches, callers' own customers / shared"] = ratio(
            f["mix_batch_own_customers_events_per_s"], f["mix_batch_events_per_s"], 2
        )
        if "history_comparison" in result:
            out[f"{setup}: server CPU per event, history {history_label(result)}"] = history_ratio(
                result
            )
    return out


def history_label(result: dict[str, Any]) -> str:
    sizes = [key for key in result["history_comparison"] if key.isdigit()]
    return " / ".join(sizes)


def history_ratio(result: dict[str, Any]) -> float | None:
    comparison = result["history_comparison"]
    sizes = [key for key in comparison if key.isdigit()]
    if len(sizes) != 2:
        return None
    return ratio(
        comparison[sizes[0]]["server_cpu_ms_per_event"],
        comparison[sizes[1]]["server_cpu_ms_per_event"],
        3,
    )


def targets(results: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for setup, result in results.items():
        f = result["figures"]
        rows = [
            (
                "real mix single / bare insert",
                TARGET_SINGLE_VS_BASELINE,
                f["mix_single_vs_baseline"],
                False,
            ),
            (
                "real mix p99 at half load, ms",
                TARGET_HALF_LOAD_P99_MS,
                f["mix_half_load_p99_ms"],
                True,
            ),
            ("real mix batches, events/s", TARGET_BATCH_EPS, f["mix_batch_events_per_s"], False),
        ]
        if "history_comparison" in result:
            label = f"server CPU per event, history {history_label(result)}"
            rows.append((label, TARGET_HISTORY_CPU_RATIO, history_ratio(result), True))
        for name, target, measured, at_most in rows:
            out[f"{setup}: {name}"] = {
                "target": f"<= {target}" if at_most else f">= {target}",
                "measured": measured,
                "met": met(measured, target, at_most=at_most),
            }
    return out


def print_table(report: dict[str, Any]) -> None:
    print()
    machine = report["machine"]
    print(
        f"machine: {machine.get('nproc')} cores, {machine.get('cpu_model')}, "
        f"{machine.get('memory_gib')} GiB, Python {machine.get('python')}, "
        f"PostgreSQL {report['machine'].get('postgresql')}; load average before "
        f"{report['load_average_1_5_15']['before']}, after {report['load_average_1_5_15']['after']}"
    )
    print()
    print("history (loaded before measuring, through the batch mutations)")
    for name, row in report["history"].items():
        if name == "stored":
            print(f"  stored: {row}")
        else:
            print(
                f"  {name:<16} {row['customers']:>5} customers x {row['transactions_per_customer']}"
                f" tx: {row['events']} events in {row['seconds']} s ({row['events_per_s']:.0f}/s)"
            )
    if report["statements"]:
        print()
        print("statements and commits per event (in-process, one call at a time)")
        print(f"  {'scenario':<48} {'stmts':>6} {'commits':>8} {'ms':>7}")
        for name, row in report["statements"].items():
            print(
                f"  {name:<48} {row['statements_per_event']:>6.2f} "
                f"{row['commits_per_event']:>8.3f} {row['in_process_ms_per_event']:>7.2f}"
            )
    for setup, result in report["setups"].items():
        print()
        print(f"setup {setup}: {result['description']}")
        header = (
            f"  {'run':<24} {'conns':>5} {'req/s':>8} {'events/s':>9} {'p50 ms':>8} "
            f"{'p99 ms':>8} {'bad':>5} {'srv ms/ev':>9} {'srv CPU':>7} {'pg CPU':>7}"
        )
        print(header)
        print("  " + "-" * (len(header) - 2))
        for name, r in result["runs"].items():
            cpu = r["cpu_percent_of_one_core"]
            per_event = r["cpu_ms_per_event"]["server"]
            lat = r["latency_ms"]
            if "rps" in r:
                head = f"{r['connections']:>5} {r['rps']:>8.1f} {r['items_per_s']:>9.1f}"
                bad = r["errors_total"]
            else:
                head = f"{'open':>5} {r['rate']:>8.1f} {r['ok'] / r['duration_s']:>9.1f}"
                bad = r["errors"]
            print(
                f"  {name:<24} {head} {lat.get('p50', 0):>8.2f} {lat.get('p99', 0):>8.2f} "
                f"{bad:>5} {per_event:>9.3f} {cpu['server']:>6.0f}% {cpu['postgresql']:>6.0f}%"
            )
        comparison = result.get("history_comparison")
        if comparison:
            print(f"  history comparison, open loop at {comparison['rate']} events/s:")
            for size, row in comparison.items():
                if size.isdigit():
                    print(
                        f"    {size:>4} transactions of history: server "
                        f"{row['server_cpu_ms_per_event']:.3f} ms/event, PostgreSQL "
                        f"{row['postgresql_cpu_ms_per_event']:.3f} ms/event, p99 {row['p99_ms']}"
                        f" ({row['events']} events, {row['errors']} errors)"
                    )
    print_ratios_and_targets(report, width=56)


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
