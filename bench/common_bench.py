"""Shared pieces of bench/event_path.py, bench/outbox_drain.py and bench/payment_job.py.

The process, cluster and machine machinery is bench/query_alerts.py's and
bench/dataset.py's, imported from there; what is here is what those two do not offer:
wrk with another script, the service's token, the CLI commands with their flags, extra
seeding (reachable customers), percentiles and a few report helpers."""

from __future__ import annotations

import json
import math
import os
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Any

import psycopg
from dataset import FIRST_USER_ID, REPO_ROOT, account_number
from pydantic import SecretStr
from query_alerts import (
    HOST,
    JWT_SECRET,
    BenchError,
    Server,
    alerts_command,
    free_port,
    machine,
    running,
    server_env,
    wrk_version,
)

from account_alerts.api.auth import issue_token
from account_alerts.config import Environment, Settings
from account_alerts.domain.enums import Role

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_DIR = BENCH_DIR / "results"
WRK_DIR = BENCH_DIR / "wrk"
# Every reachable customer has this verified number and one active push token.
PHONE = "+265991234567"

__all__ = [
    "BENCH_DIR",
    "FIRST_USER_ID",
    "HOST",
    "JWT_SECRET",
    "PHONE",
    "REPO_ROOT",
    "RESULTS_DIR",
    "WRK_DIR",
    "BenchError",
    "account_number",
    "server_env",
]


# -- settings, tokens and commands -------------------------------------------------------


def bench_settings(database_url: str, **overrides: Any) -> Settings:
    """The settings the benchmark's servers run with (production, the long secret)."""
    return Settings(
        database_url=database_url,
        jwt_secret=SecretStr(JWT_SECRET),
        env=Environment.PRODUCTION,
        **overrides,
    )


def service_token(database_url: str, hours: float = 6, subject: str = "core-banking") -> str:
    """A bank-service bearer token, as the services' auth issues it."""
    return issue_token(
        bench_settings(database_url),
        subject=subject,
        role=Role.SERVICE,
        lifetime=timedelta(hours=hours),
    )


def serve_command(port: int, processes: int = 1) -> list[str]:
    """``account-alerts serve`` with delivery and the scheduler in other processes."""
    return [*alerts_command(port, processes), "--no-worker", "--no-scheduler"]


def start_serve(
    stack: ExitStack,
    database_url: str,
    log: Path,
    *,
    processes: int = 1,
    wait: bool = True,
    extra_env: dict[str, str] | None = None,
) -> tuple[Server, str]:
    """``account-alerts serve`` (``serve_command``) on a free port, stopped with ``stack``;
    with ``wait``, once it answers /readyz. The server and its base URL."""
    port = free_port()
    url = f"http://{HOST}:{port}"
    server = stack.enter_context(
        running(
            Server(
                "account-alerts serve",
                serve_command(port, processes),
                {**server_env(database_url), **(extra_env or {})},
                log,
            )
        )
    )
    if wait:
        server.wait_ready(f"{url}/readyz")
    return server, url


def cli_command(*args: str) -> list[str]:
    """Another ``account-alerts`` subcommand, e.g. ``worker``."""
    serve = alerts_command(0)
    return [*serve[: serve.index("serve")], *args]


def display_command(argv: Sequence[str]) -> str:
    """How this benchmark was run: paths relative to the repository root, a file outside
    it by its name alone."""
    return shlex.join(["python", *(_relative(arg) for arg in argv)])


def _relative(arg: str) -> str:
    path = Path(arg)
    if path.is_absolute():
        try:
            return str(path.resolve().relative_to(REPO_ROOT))
        except ValueError:
            return path.name
    return arg


# -- wrk with a script of ours -----------------------------------------------------------


def run_wrk_script(
    wrk: str,
    url: str,
    script: Path,
    script_args: Sequence[str],
    *,
    connections: int,
    threads: int,
    duration: int,
) -> tuple[dict[str, Any], str]:
    """Run wrk with ``script``, which ends with one ``WRK_JSON {...}`` line, as
    bench/wrk/request.lua does; (its figures, wrk's whole output)."""
    command = [
        wrk,
        f"-t{min(threads, connections)}",
        f"-c{connections}",
        f"-d{duration}s",
        "--timeout",
        "10s",
        "--latency",
        "-s",
        str(script),
        url,
        "--",
        *script_args,
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


def wrk_figures(figures: dict[str, Any], items_per_request: int = 1) -> dict[str, Any]:
    """wrk's figures as the reports show them: rates, latency in ms, every error."""
    seconds = figures["duration_us"] / 1e6
    requests = figures["requests"]
    errors = figures["errors"]
    bad = figures["bad_responses"] + errors["status"]
    bad += sum(errors[key] for key in ("connect", "read", "write", "timeout"))
    return {
        "duration_s": round(seconds, 2),
        "requests": requests,
        "rps": round(requests / seconds, 1),
        "items_per_s": round(requests * items_per_request / seconds, 1),
        "latency_ms": {k: round(v / 1000, 3) for k, v in figures["latency_us"].items()},
        "socket_errors": {k: errors[k] for k in ("connect", "read", "write", "timeout")},
        "non_2xx": errors["status"],
        "bad_responses": figures["bad_responses"],
        "refused_items": figures.get("refused_items", 0),
        "errors_total": bad,
    }


# -- statistics --------------------------------------------------------------------------


def percentile(sorted_values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile of an ascending sequence (NaN when empty)."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(pct / 100 * len(sorted_values)))
    return float(sorted_values[min(rank, len(sorted_values)) - 1])


def latency_summary(values_ms: Sequence[float]) -> dict[str, float]:
    ordered = sorted(values_ms)
    if not ordered:
        return {"count": 0}
    return {
        "count": len(ordered),
        "p50": round(percentile(ordered, 50), 3),
        "p90": round(percentile(ordered, 90), 3),
        "p99": round(percentile(ordered, 99), 3),
        "p999": round(percentile(ordered, 99.9), 3),
        "max": round(ordered[-1], 3),
        "mean": round(sum(ordered) / len(ordered), 3),
    }


def ratio(numerator: float, denominator: float, places: int = 3) -> float | None:
    return round(numerator / denominator, places) if denominator else None


# -- seeding beyond bench/dataset.py -----------------------------------------------------


def make_reachable(dsn: str, users: int, *, first: int = FIRST_USER_ID) -> None:
    """Give customers ``first`` .. ``first + users - 1`` a verified phone and one active
    push device, so each of their SMS and push deliveries has a destination."""
    verified = datetime.now(UTC) - timedelta(days=30)
    with psycopg.connect(dsn) as conn:
        conn.execute(
            "UPDATE mobile_users SET phone = %s, phone_verified_at = %s WHERE id >= %s AND id < %s",
            (PHONE, verified, first, first + users),
        )
        conn.execute(
            "INSERT INTO devices (mobile_user_id, device_id, push_token, push_platform, "
            "push_token_active, first_seen_at, last_seen_at, created_at, updated_at) "
            "SELECT id, 'phone-1', 'fcm-token-' || id, 'android', true, %s, %s, %s, %s "
            "FROM mobile_users WHERE id >= %s AND id < %s",
            (verified, verified, verified, verified, first, first + users),
        )
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE mobile_users, devices")


def pg_counters(dsn: str) -> dict[str, int]:
    """The database's transaction and row counters (pg_stat_database)."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute(
            "SELECT xact_commit, xact_rollback, tup_inserted, tup_updated "
            "FROM pg_stat_database WHERE datname = current_database()"
        ).fetchone()
    assert row is not None
    return dict(zip(("commits", "rollbacks", "inserted", "updated"), map(int, row), strict=True))


# -- reporting ---------------------------------------------------------------------------


def machine_facts(wrk: str | None, postgresql: str) -> dict[str, Any]:
    facts = {**machine(), "postgresql": postgresql}
    if wrk:
        facts["wrk"] = wrk_version(wrk)
    facts["load_average_1_5_15"] = [round(v, 2) for v in os.getloadavg()]
    return facts


def met(value: float | None, target: float, *, at_most: bool = False) -> bool:
    if value is None or math.isnan(value):
        return False
    return value <= target if at_most else value >= target


def write_report(path: Path, report: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2, default=str) + "\n")


def print_ratios_and_targets(report: dict[str, Any], width: int) -> None:
    """The end of every benchmark's table: its ratios, then each target, met or not."""
    print()
    for name, value in report["ratios"].items():
        print(f"  {name:<{width}} x{value}")
    print()
    print("targets")
    for name, row in report["targets"].items():
        print(
            f"  {name:<{width}} target {row['target']!s:<8} measured {row['measured']!s:<10} "
            f"{'met' if row['met'] else 'NOT met'}"
        )


def run_and_report(
    prog: str,
    output: Path,
    run: Callable[[], dict[str, Any]],
    print_table: Callable[[dict[str, Any]], None],
) -> int:
    """Run a benchmark (SIGTERM unwinds it like Ctrl-C), write its JSON report and print
    its table; a BenchError is reported in one line with exit status 1."""
    on_sigterm()
    try:
        report = run()
    except BenchError as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return 1
    write_report(output, report)
    print_table(report)
    print(f"\nwritten: {output}")
    return 0


def on_sigterm() -> None:
    """SIGTERM unwinds like Ctrl-C, so every ``finally`` stops what it started."""

    def _terminate(signum: int, _frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, _terminate)


def python_child(script: Path, *args: str) -> list[str]:
    return [sys.executable, str(script), *args]


def wait_for(predicate: Any, timeout: float, what: str, interval: float = 0.1) -> float:
    """Poll until ``predicate()`` is true; the seconds it took."""
    started = time.monotonic()
    while not predicate():
        if time.monotonic() - started > timeout:
            raise BenchError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)
    return time.monotonic() - started
