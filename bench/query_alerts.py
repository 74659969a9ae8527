"""Benchmark: the customer's alert history page (``accountAlerts(limit: 50)``) over HTTP on
PostgreSQL, beside a bare Starlette JSON endpoint measured in the same run.

    python bench/query_alerts.py [--duration 15] [--warmup 3] [--connections 1,4,16]

Starts a throwaway PostgreSQL cluster, migrates and seeds it, runs the real server
(``account-alerts serve``) and the baseline (bench/baseline_app.py) as separate processes
on 127.0.0.1, and drives each with wrk from another process. Prints a table and writes
bench/results/query_alerts.json (wrk's own output beside it as *.raw). Every process and
the cluster are stopped at the end, on error too.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib import metadata
from pathlib import Path
from types import FrameType
from typing import Any

import psycopg
from dataset import (
    DATABASE,
    REPO_ROOT,
    DatasetShape,
    SeedReport,
    conninfo,
    seeded_cluster,
    server_version,
)
from pydantic import SecretStr

from account_alerts.api.auth import issue_token
from account_alerts.config import Environment, Settings

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_DIR = BENCH_DIR / "results"
WRK_SCRIPT = BENCH_DIR / "wrk" / "request.lua"
BASELINE_APP = BENCH_DIR / "baseline_app.py"
HOST = "127.0.0.1"
JWT_SECRET = "benchmark-only-secret-0123456789abcdef0123456789"
PAGE = 50

QUERY = """
query History {
  accountAlerts(limit: 50) {
    totalCount
    items {
      id alertType status title message
      details {
        __typename
        ... on LowBalanceDetails { currentBalance threshold currency }
        ... on LargeTransactionDetails { transactionAmount transactionId }
      }
      deliveries { channel status attempts sentAt }
    }
  }
}
"""

# The issue's targets for the query, on this two-core machine.
TARGET_P99_MS = 30.0
TARGET_RPS = 200.0


@dataclass(frozen=True)
class Target:
    name: str
    method: str
    path: str
    body_file: Path | None = None
    tokens_file: Path | None = None


class BenchError(RuntimeError):
    pass


# -- processes -------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid: int | str) -> list[str] | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of one process, from /proc."""
    fields = _stat_fields(pid)
    return 0.0 if fields is None else (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


def process_tree(pid: int) -> list[int]:
    """``pid`` and its descendants, from /proc."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        tasks = Path(f"/proc/{current}/task")
        if not tasks.exists():
            continue
        for task in tasks.iterdir():
            try:
                todo += [int(child) for child in (task / "children").read_text().split()]
            except OSError:
                continue
    return found


def machine_busy_seconds() -> float:
    """CPU time spent by the whole machine (all cores, all processes), from /proc/stat."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(f) for f in fields[:8])
    return (user + nice + system + irq + softirq + steal) / _CLOCK_TICKS


def background_cpu_percent(seconds: float = 3.0) -> float:
    """How busy the machine is while the benchmark's own processes are idle."""
    before = machine_busy_seconds()
    time.sleep(seconds)
    return 100 * (machine_busy_seconds() - before) / seconds


def postgres_cpu_seconds(postmaster: int) -> float:
    """CPU time of the whole cluster: the postmaster, its live children (backends,
    workers) and the children it has already reaped (closed connections)."""
    fields = _stat_fields(postmaster)
    if fields is None:
        return 0.0
    total = sum(int(value) for value in fields[11:15])  # utime stime cutime cstime
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            child = _stat_fields(entry.name)
            if child is not None and int(child[1]) == postmaster:
                total += int(child[11]) + int(child[12])
    return total / _CLOCK_TICKS


class Server:
    """A server process on 127.0.0.1 with its output in a log file."""

    def __init__(self, name: str, command: Sequence[str], env: dict[str, str], log: Path):
        self.name = name
        self.log = log
        self._log_file = log.open("wb")
        self.process = subprocess.Popen(
            list(command),
            env=env,
            cwd=REPO_ROOT,
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_ready(self, url: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BenchError(
                    f"{self.name} exited with {self.process.returncode}:\n{self.tail()}"
                )
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.2)
        raise BenchError(f"{self.name} not ready at {url} after {timeout:.0f} s:\n{self.tail()}")

    def tail(self, lines: int = 30) -> str:
        self._log_file.flush()
        text = self.log.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])

    def cpu_seconds(self) -> float:
        """CPU time of the server and its live child processes (serve --workers)."""
        return sum(cpu_seconds(pid) for pid in process_tree(self.process.pid))

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log_file.close()


@contextmanager
def running(server: Server) -> Iterator[Server]:
    try:
        yield server
    finally:
        server.stop()


def server_env(database_url: str) -> dict[str, str]:
    """The parent's environment without its ALERTS_* settings, plus the benchmark's."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("ALERTS_")}
    env.update(
        ALERTS_DATABASE_URL=database_url,
        ALERTS_JWT_SECRET=JWT_SECRET,
        # As deployed: no GraphiQL, introspection disabled.
        ALERTS_ENV="production",
    )
    return env


def alerts_command(port: int, processes: int = 1) -> list[str]:
    script = Path(sys.executable).parent / "account-alerts"
    entry = [str(script)] if script.exists() else [sys.executable, "-m", "account_alerts.cli"]
    extra = ["--workers", str(processes)] if processes > 1 else []
    return [*entry, "serve", "--host", HOST, "--port", str(port), *extra]


def postmaster_pid(datadir: Path) -> int:
    return int((datadir / "postmaster.pid").read_text().splitlines()[0])


# -- the query -------------------------------------------------------------------------


def post_query(url: str, token: str) -> bytes:
    request = urllib.request.Request(
        url,
        data=json.dumps({"query": QUERY}).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        body: bytes = response.read()
        return body


def check_response(body: bytes, expected_total: int) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(body)
    if document.get("errors"):
        raise BenchError(f"the query failed: {document['errors']}")
    page = document["data"]["accountAlerts"]
    if page["totalCount"] != expected_total or len(page["items"]) != PAGE:
        raise BenchError(
            f"expected a full page of {PAGE} out of {expected_total}, got "
            f"{len(page['items'])} out of {page['totalCount']}"
        )
    if not all(item["deliveries"] for item in page["items"]):
        raise BenchError("an alert came back without its deliveries")
    return document


# -- wrk -------------------------------------------------------------------------------


def wrk_version(wrk: str) -> str:
    result = subprocess.run([wrk, "-v"], capture_output=True, text=True, check=False)
    return (result.stdout or result.stderr).splitlines()[0].strip()


def run_wrk(
    wrk: str,
    base_url: str,
    target: Target,
    *,
    connections: int,
    threads: int,
    duration: int,
) -> tuple[dict[str, Any], str]:
    command = [
        wrk,
        f"-t{min(threads, connections)}",
        f"-c{connections}",
        f"-d{duration}s",
        "--timeout",
        "10s",
        "--latency",
        "-s",
        str(WRK_SCRIPT),
        base_url + target.path,
        "--",
        target.method,
        target.path,
        str(target.body_file) if target.body_file else "-",
        str(target.tokens_file) if target.tokens_file else "-",
    ]
    result = subprocess.run(
        command, capture_output=True, text=True, check=False, timeout=duration + 60
    )
    output = result.stdout + result.stderr
    for line in result.stdout.splitlines():
        if line.startswith("WRK_JSON "):
            figures: dict[str, Any] = json.loads(line.removeprefix("WRK_JSON "))
            return figures, output
    raise BenchError(f"wrk gave no figures (exit {result.returncode}):\n{output}")


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class PgSessions:
    """PostgreSQL sessions ended so far in the benchmark database: pool churn."""

    def __init__(self, dsn: str) -> None:
        self._conn = psycopg.connect(dsn, autocommit=True)

    def ended(self) -> int:
        row = self._conn.execute(
            "SELECT sessions FROM pg_stat_database WHERE datname = current_database()"
        ).fetchone()
        return int(row[0]) if row else 0

    def close(self) -> None:
        self._conn.close()


def measure(
    wrk: str,
    base_url: str,
    target: Target,
    server: Server,
    pg_pid: int,
    pg_sessions: PgSessions,
    *,
    connections: int,
    threads: int,
    duration: int,
    warmup: int,
) -> dict[str, Any]:
    if warmup > 0:
        run_wrk(wrk, base_url, target, connections=connections, threads=threads, duration=warmup)

    def sample() -> tuple[float, float, float, float]:
        return (
            server.cpu_seconds(),
            postgres_cpu_seconds(pg_pid),
            children_cpu(),
            machine_busy_seconds(),
        )

    sessions_before = pg_sessions.ended()
    before = sample()
    figures, output = run_wrk(
        wrk, base_url, target, connections=connections, threads=threads, duration=duration
    )
    after = sample()
    time.sleep(1.2)  # backends report their statistics at most once a second
    sessions_ended = pg_sessions.ended() - sessions_before
    used = [end - start for start, end in zip(before, after, strict=True)]
    (RESULTS_DIR / f"query_alerts-{target.name}-c{connections}.raw").write_text(output)

    seconds = figures["duration_us"] / 1e6
    requests = figures["requests"]
    latency = {key: round(value / 1000, 3) for key, value in figures["latency_us"].items()}
    errors = figures["errors"]
    server_cpu, pg_cpu, wrk_cpu, machine_cpu = used
    other_cpu = max(0.0, machine_cpu - server_cpu - pg_cpu - wrk_cpu)
    return {
        "target": target.name,
        "connections": connections,
        "threads": min(threads, connections),
        "duration_s": round(seconds, 2),
        "requests": requests,
        "rps": round(requests / seconds, 1),
        "latency_ms": latency,
        "transfer_kib_per_request": round(figures["bytes"] / max(requests, 1) / 1024, 2),
        "socket_errors": {key: errors[key] for key in ("connect", "read", "write", "timeout")},
        "non_2xx": errors["status"],
        "bad_responses": figures["bad_responses"],
        "cpu_percent_of_one_core": {
            "server": round(100 * server_cpu / seconds, 1),
            "postgresql": round(100 * pg_cpu / seconds, 1),
            "wrk": round(100 * wrk_cpu / seconds, 1),
            # Everything else on the machine: other processes competing for the cores.
            "other": round(100 * other_cpu / seconds, 1),
        },
        "server_cpu_ms_per_request": round(1000 * server_cpu / max(requests, 1), 3),
        # Connections the server's pool closed (and so opened again) during the run.
        "postgresql_sessions_ended": sessions_ended,
    }


# -- reporting -------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    cpu_model = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu_model = line.split(":", 1)[1].strip()
            break
    mem_kib = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            mem_kib = int(line.split()[1])
    packages = (
        "strawberry-graphql",
        "starlette",
        "uvicorn",
        "uvloop",
        "httptools",
        "sqlalchemy",
        "psycopg",
        "sqlmodel",
    )
    versions: dict[str, str | None] = {}
    for name in packages:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return {
        "nproc": os.cpu_count(),
        "cpu_model": cpu_model,
        "memory_gib": round(mem_kib / 1024 / 1024, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "packages": versions,
    }


def ratios(results: list[dict[str, Any]], connections: Sequence[int]) -> list[dict[str, Any]]:
    by_key = {(r["target"], r["connections"]): r for r in results}
    rows = []
    for conns in connections:
        query = by_key[("query", conns)]
        for baseline_name in ("baseline-small", "baseline-payload"):
            baseline = by_key[(baseline_name, conns)]
            rows.append(
                {
                    "connections": conns,
                    "baseline": baseline_name,
                    "rps": round(query["rps"] / baseline["rps"], 4),
                    "p50": round(query["latency_ms"]["p50"] / baseline["latency_ms"]["p50"], 2),
                    "p99": round(query["latency_ms"]["p99"] / baseline["latency_ms"]["p99"], 2),
                }
            )
    return rows


def verdict(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for result in results:
        if result["target"] != "query":
            continue
        p99, rps = result["latency_ms"]["p99"], result["rps"]
        rows.append(
            {
                "connections": result["connections"],
                "p99_ms": p99,
                "p99_met": p99 <= TARGET_P99_MS,
                "rps": rps,
                "rps_met": rps >= TARGET_RPS,
            }
        )
    return rows


def print_table(report: dict[str, Any]) -> None:
    header = (
        f"{'conns':>5}  {'target':<17} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} "
        f"{'max ms':>8} {'bad':>5}  {'srv CPU':>7} {'pg CPU':>7} {'wrk CPU':>7} {'other':>7} "
        f"{'pg sess':>7}"
    )
    print()
    print(header)
    print("-" * len(header))
    for r in report["results"]:
        cpu = r["cpu_percent_of_one_core"]
        bad = r["bad_responses"] + r["non_2xx"] + sum(r["socket_errors"].values())
        print(
            f"{r['connections']:>5}  {r['target']:<17} {r['rps']:>9.1f} "
            f"{r['latency_ms']['p50']:>8.2f} {r['latency_ms']['p99']:>8.2f} "
            f"{r['latency_ms']['max']:>8.2f} {bad:>5}  {cpu['server']:>6.0f}% "
            f"{cpu['postgresql']:>6.0f}% {cpu['wrk']:>6.0f}% {cpu['other']:>6.0f}% "
            f"{r['postgresql_sessions_ended']:>7}"
        )
    print()
    print("query / baseline")
    for row in report["ratios"]:
        print(
            f"  c={row['connections']:<3} vs {row['baseline']:<17} req/s x{row['rps']:.3f}  "
            f"p50 x{row['p50']:.1f}  p99 x{row['p99']:.1f}"
        )
    print()
    print(f"targets: p99 <= {TARGET_P99_MS:.0f} ms and >= {TARGET_RPS:.0f} req/s")
    for row in report["verdict"]:
        print(
            f"  c={row['connections']:<3} p99 {row['p99_ms']:.1f} ms "
            f"{'met' if row['p99_met'] else 'NOT met'};  {row['rps']:.1f} req/s "
            f"{'met' if row['rps_met'] else 'NOT met'}"
        )


# -- main ------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=int, default=15, help="seconds per measurement")
    parser.add_argument("--warmup", type=int, default=3, help="seconds before each one")
    parser.add_argument(
        "--connections", default="1,4,16", help="comma-separated wrk connection counts"
    )
    parser.add_argument("--threads", type=int, default=1, help="wrk threads (at most conns)")
    parser.add_argument(
        "--server-processes",
        type=int,
        default=1,
        help="serve --workers N, and the baseline with as many processes",
    )
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--alerts-per-customer", type=int, default=200)
    parser.add_argument(
        "--heavy-customers",
        type=int,
        default=16,
        help="customers queried by the benchmark, tokens rotated per request",
    )
    parser.add_argument("--heavy-alerts", type=int, default=600, help="alerts of each")
    parser.add_argument(
        "--output", type=Path, default=RESULTS_DIR / "query_alerts.json", help="JSON results"
    )
    parser.add_argument(
        "--show", type=Path, metavar="JSON", help="print the tables of a results file, no run"
    )
    args = parser.parse_args(argv)
    args.connection_counts = [int(part) for part in args.connections.split(",") if part]
    if args.heavy_customers < 1 or args.heavy_alerts < PAGE:
        parser.error(f"need at least one heavy customer with at least {PAGE} alerts")
    return args


def _terminate(signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def run(args: argparse.Namespace, wrk: str) -> dict[str, Any]:
    shape = DatasetShape(
        customers=args.customers,
        alerts_per_customer=args.alerts_per_customer,
        heavy_customers=args.heavy_customers,
        heavy_alerts=args.heavy_alerts,
    )
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    with ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="alerts-bench-")))
        print(
            f"seeding PostgreSQL: {shape.customers} customers, {shape.total_alerts} alerts ...",
            flush=True,
        )
        cluster, database_url, seeded = stack.enter_context(seeded_cluster(shape))
        seed_report: SeedReport = seeded
        print(
            f"  {seeded.alerts} alerts, {seeded.deliveries} deliveries in {seeded.seconds:.0f} s",
            flush=True,
        )
        pg_pid = postmaster_pid(cluster.datadir)
        pg_sessions = PgSessions(conninfo(cluster, DATABASE))
        stack.callback(pg_sessions.close)

        settings = Settings(
            database_url=database_url, jwt_secret=SecretStr(JWT_SECRET), env=Environment.PRODUCTION
        )
        now = datetime.now(UTC)
        tokens = [
            issue_token(settings, subject=str(user), lifetime=timedelta(hours=6), now=now)
            for user in shape.heavy_user_ids()
        ]
        tokens_file = work / "tokens.txt"
        tokens_file.write_text("\n".join(tokens) + "\n")
        body_file = work / "query.json"
        body_file.write_text(json.dumps({"query": QUERY}))

        alerts_port, baseline_port = free_port(), free_port()
        alerts_url = f"http://{HOST}:{alerts_port}"
        alerts = stack.enter_context(
            running(
                Server(
                    "account-alerts serve",
                    alerts_command(alerts_port, args.server_processes),
                    server_env(database_url),
                    work / "alerts.log",
                )
            )
        )
        alerts.wait_ready(f"{alerts_url}/readyz")

        # Every token's page is a full, error-free page; the first is the baseline's payload.
        pages = [post_query(f"{alerts_url}/graphql", token) for token in tokens]
        for page in pages:
            check_response(page, shape.heavy_alerts)
        payload_file = work / "payload.json"
        payload_file.write_bytes(pages[0])

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
                        "--payload",
                        str(payload_file),
                        "--workers",
                        str(args.server_processes),
                    ],
                    server_env(database_url),
                    work / "baseline.log",
                )
            )
        )
        baseline.wait_ready(f"{baseline_url}/small")

        plan = [
            (baseline, baseline_url, Target("baseline-small", "GET", "/small")),
            (baseline, baseline_url, Target("baseline-payload", "GET", "/payload")),
            (
                alerts,
                alerts_url,
                Target("query", "POST", "/graphql", body_file, tokens_file),
            ),
        ]
        load_before = os.getloadavg()
        background = background_cpu_percent()
        if background > 25:
            print(
                f"  warning: with everything here idle the machine is {background:.0f}% busy "
                "(of one core): other processes compete for the CPU, see the 'other' column",
                flush=True,
            )
        results = []
        for connections in args.connection_counts:
            for server, base_url, target in plan:
                print(
                    f"  c={connections:<3} {target.name:<17} {args.warmup}+{args.duration} s",
                    flush=True,
                )
                results.append(
                    measure(
                        wrk,
                        base_url,
                        target,
                        server,
                        pg_pid,
                        pg_sessions,
                        connections=connections,
                        threads=args.threads,
                        duration=args.duration,
                        warmup=args.warmup,
                    )
                )
        load_after = os.getloadavg()
        postgresql = server_version(cluster)

    return {
        "benchmark": "query_alerts",
        "recorded_at": now.isoformat(timespec="seconds"),
        "query": " ".join(QUERY.split()),
        "response_bytes": len(pages[0]),
        "machine": {**machine(), "postgresql": postgresql, "wrk": wrk_version(wrk)},
        "server_processes": args.server_processes,
        "settings": {
            "duration_s": args.duration,
            "warmup_s": args.warmup,
            "connections": args.connection_counts,
            "wrk_threads": args.threads,
            "server": "account-alerts serve (one uvicorn process), ALERTS_ENV=production",
            "tokens_rotated": len(tokens),
        },
        "background_cpu_percent_before": round(background, 1),
        "load_average_1_5_15": {
            "before": [round(value, 2) for value in load_before],
            "after": [round(value, 2) for value in load_after],
        },
        "dataset": {
            **seed_report.as_dict(),
            "alerts_per_customer": shape.alerts_per_customer,
            "queried_customers": shape.heavy_customers,
            "alerts_per_queried_customer": shape.heavy_alerts,
        },
        "targets": {"p99_ms": TARGET_P99_MS, "rps": TARGET_RPS},
        "results": results,
        "ratios": ratios(results, args.connection_counts),
        "verdict": verdict(results),
    }


def print_markdown(report: dict[str, Any]) -> None:
    """The results as the Markdown tables of bench/README.md."""
    print("| connections | target | req/s | p50 ms | p99 ms | server CPU | other CPU |")
    print("| ---: | --- | ---: | ---: | ---: | ---: | ---: |")
    for r in report["results"]:
        cpu = r["cpu_percent_of_one_core"]
        print(
            f"| {r['connections']} | {r['target']} | {r['rps']:.1f} | "
            f"{r['latency_ms']['p50']:.2f} | {r['latency_ms']['p99']:.2f} | "
            f"{cpu['server']:.0f}% | {cpu['other']:.0f}% |"
        )
    print()
    print("| connections | query / baseline | req/s | p50 | p99 |")
    print("| ---: | --- | ---: | ---: | ---: |")
    for row in report["ratios"]:
        print(
            f"| {row['connections']} | {row['baseline']} | {row['rps']:.3f} | "
            f"{row['p50']:.0f}x | {row['p99']:.0f}x |"
        )


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.show is not None:
        report = json.loads(args.show.read_text())
        print_table(report)
        print()
        print_markdown(report)
        return 0
    wrk = shutil.which("wrk")
    if wrk is None:
        print(
            "query_alerts: wrk is not installed; it drives the load. Install it "
            "(Debian/Ubuntu: apt-get install -y wrk) and run again.",
            file=sys.stderr,
        )
        return 2
    signal.signal(signal.SIGTERM, _terminate)
    try:
        report = run(args, wrk)
    except BenchError as exc:
        print(f"query_alerts: {exc}", file=sys.stderr)
        return 1
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    print_table(report)
    print(f"\nwritten: {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
