"""The risk console's pages under a steady load: the queue with 10,000 open cases and a
case page, at 20 requests per second each, against a same-run baseline.

    python bench/console_pages.py                  # as recorded in bench/README.md
    python bench/console_pages.py --cases 10000 --rate 20 --duration 20

Starts a throwaway PostgreSQL cluster, migrates it, writes the cases (COPY), runs the
real server (``account-alerts serve``, production settings) and the baseline
(bench/baseline_app.py, the same uvicorn set-up) as separate processes, signs in to the
console as a staff member, and sends GET requests on an open-loop schedule: request i is
due at start + i/rate, and its latency counts from then, so a stalled server shows in the
latency rather than slowing the schedule. The baseline serves the queue page's own bytes
(/payload), so the ratio queue / baseline is the cost of the application."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import sys
import tempfile
import time
from collections.abc import Sequence
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
from common_bench import (
    HOST,
    JWT_SECRET,
    RESULTS_DIR,
    BenchError,
    latency_summary,
    met,
    print_ratios_and_targets,
    ratio,
    run_and_report,
)
from dataset import conninfo
from query_alerts import (
    BASELINE_APP,
    Server,
    alerts_command,
    free_port,
    machine,
    running,
    server_env,
)

from account_alerts.api.auth import issue_token
from account_alerts.config import Environment, Settings
from account_alerts.domain.enums import Role
from account_alerts.store.migrate import upgrade
from tests.support.pg_cluster import PostgresCluster

DATABASE = "console_bench"
FIRST_USER = 500_000
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
DECISION = {
    "outcome": "REVIEW",
    "score": 45,
    "hits": [
        {
            "ruleId": "bench-rule",
            "versionId": "bench-rule-v1",
            "name": "Large transfer at night",
            "score": 45,
            "shadow": False,
            "suppressed": False,
            "nullFeatures": ["distanceKm"],
            "features": {"amount": "120000.0000", "hourLocal": 2, "distanceKm": None},
        }
    ],
}


def seed(dsn: str, cases: int) -> int:
    """``cases`` open cases over 1,000 customers, due over the next hour; the id of one."""
    now = datetime.now(UTC)
    users = [FIRST_USER + i for i in range(1000)]
    decision = json.dumps(DECISION)
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        with cur.copy("COPY mobile_users (id, locked, created_at, updated_at) FROM STDIN") as copy:
            for user in users:
                copy.write_row((user, False, now, now))
        with cur.copy(
            "COPY review_cases (mobile_user_id, source, event_id, event_kind, decision, status,"
            " opened_at, ack_due_at, next_step, next_step_at, updated_at) FROM STDIN"
        ) as copy:
            for n in range(cases):
                opened = now - timedelta(seconds=n % 3600)
                copy.write_row(
                    (
                        users[n % len(users)],
                        "DECISION_REVIEW",
                        f"bench-event-{n}",
                        "TRANSACTION",
                        decision,
                        "OPEN",
                        opened,
                        opened + timedelta(minutes=5),
                        1,
                        None,
                        opened,
                    )
                )
        cur.execute(
            "INSERT INTO review_case_timeline (case_id, kind, actor, occurred_at, details) "
            "SELECT id, 'OPENED', 'core-banking', opened_at, '{}' FROM review_cases"
        )
        cur.execute("ANALYZE")
        cur.execute("SELECT min(id) FROM review_cases")
        row = cur.fetchone()
        assert row is not None
        return int(row[0])


def _set_cookie(response: httpx.Response, name: str) -> str:
    """A cookie the response sets, read from its header: production cookies are Secure,
    which a client keeps for HTTPS only, and the benchmark speaks plain HTTP."""
    for header in response.headers.get_list("set-cookie"):
        match = re.match(rf"{name}=([^;]+)", header)
        if match:
            return match.group(1)
    return ""


def signed_in_cookie(base: str, token: str) -> str:
    with httpx.Client(base_url=base, timeout=10) as client:
        form = client.get("/admin/sign-in")
        match = CSRF.search(form.text)
        if match is None:
            raise BenchError("the sign-in form has no CSRF token")
        sign_in_cookie = _set_cookie(form, "alerts_admin_sign_in")
        response = client.post(
            "/admin/sign-in",
            data={"csrf_token": match.group(1), "token": token},
            headers={"cookie": f"alerts_admin_sign_in={sign_in_cookie}"},
        )
        session = _set_cookie(response, "alerts_admin_session")
        if response.status_code != 303 or not session:
            raise BenchError(f"sign-in refused: {response.status_code} {response.text[:200]}")
        return f"alerts_admin_session={session}"


async def open_loop(
    url: str, *, rate: float, duration: float, cookie: str | None
) -> dict[str, Any]:
    """GET ``url`` at ``rate`` per second for ``duration`` seconds; latency from when
    each request was due."""
    headers = {"cookie": cookie} if cookie else {}
    latencies: list[float] = []
    failures = 0
    async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=32)) as client:
        start = time.perf_counter() + 0.2

        async def one(due: float) -> None:
            nonlocal failures
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            try:
                response = await client.get(url, headers=headers)
            except httpx.HTTPError:
                failures += 1
                return
            if response.status_code != 200:
                failures += 1
            latencies.append((time.perf_counter() - due) * 1000)

        await asyncio.gather(*(one(start + i / rate) for i in range(int(rate * duration))))
    return {"requests": len(latencies), "failures": failures, **latency_summary(latencies)}


async def one_at_a_time(url: str, *, requests: int, cookie: str | None) -> dict[str, Any]:
    """``requests`` GETs one after the other on one connection: the time one request
    takes to serve, which a busy machine stretches less than it stretches a queue."""
    headers = {"cookie": cookie} if cookie else {}
    latencies: list[float] = []
    async with httpx.AsyncClient(timeout=30) as client:
        for _ in range(requests):
            started = time.perf_counter()
            response = await client.get(url, headers=headers)
            if response.status_code != 200:
                raise BenchError(f"{url}: {response.status_code}")
            latencies.append((time.perf_counter() - started) * 1000)
    return latency_summary(latencies)


def run(args: argparse.Namespace) -> dict[str, Any]:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    with ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="console-bench-")))
        cluster = PostgresCluster().start()
        stack.callback(cluster.stop)
        database_url = cluster.create_database(DATABASE)
        upgrade(database_url)
        print(f"seeding {args.cases} open cases ...", flush=True)
        case_id = seed(conninfo(cluster, DATABASE), args.cases)

        port, baseline_port = free_port(), free_port()
        base = f"http://{HOST}:{port}"
        alerts = stack.enter_context(
            running(
                Server(
                    "account-alerts serve",
                    [*alerts_command(port), "--no-worker", "--no-scheduler"],
                    server_env(database_url),
                    work / "alerts.log",
                )
            )
        )
        alerts.wait_ready(f"{base}/readyz")
        settings = Settings(
            database_url=database_url, jwt_secret=JWT_SECRET, env=Environment.PRODUCTION
        )
        cookie = signed_in_cookie(base, issue_token(settings, subject="bench", role=Role.ADMIN))
        queue_page = httpx.get(f"{base}/admin/cases", headers={"cookie": cookie}).text
        if queue_page.count('<tr id="case-') != 100:
            raise BenchError("the queue page does not show its 100 most urgent cases")
        payload = work / "payload.json"
        payload.write_text(json.dumps(queue_page))
        baseline_base = f"http://{HOST}:{baseline_port}"
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
                        str(payload),
                    ],
                    server_env(database_url),
                    work / "baseline.log",
                )
            )
        )
        baseline.wait_ready(f"{baseline_base}/small")

        figures: dict[str, Any] = {}
        serial: dict[str, Any] = {}
        load_before = os.getloadavg()
        for name, url, with_cookie in (
            ("baseline-payload", f"{baseline_base}/payload", False),
            ("queue", f"{base}/admin/cases", True),
            ("case", f"{base}/admin/cases/{case_id}", True),
        ):
            print(f"  {name} ...", flush=True)
            serial[name] = asyncio.run(
                one_at_a_time(url, requests=args.serial, cookie=cookie if with_cookie else None)
            )
            figures[name] = asyncio.run(
                open_loop(
                    url,
                    rate=args.rate,
                    duration=args.duration,
                    cookie=cookie if with_cookie else None,
                )
            )
    base_p99 = figures["baseline-payload"]["p99"]
    base_p50 = serial["baseline-payload"]["p50"]
    return {
        "benchmark": "console_pages",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": "python bench/console_pages.py " + " ".join(sys.argv[1:]),
        "machine": machine(),
        "shape": {"open_cases": args.cases, "rate_per_second": args.rate, "seconds": args.duration},
        "load_average_before": load_before,
        "figures": figures,
        "one_at_a_time": serial,
        "ratios": {
            "queue p50 / baseline p50, one at a time": ratio(serial["queue"]["p50"], base_p50),
            "case p50 / baseline p50, one at a time": ratio(serial["case"]["p50"], base_p50),
            "queue p99 / baseline p99": ratio(figures["queue"]["p99"], base_p99),
            "case p99 / baseline p99": ratio(figures["case"]["p99"], base_p99),
        },
        "targets": {
            "queue p99 ms": {
                "target": 50,
                "measured": figures["queue"]["p99"],
                "met": met(figures["queue"]["p99"], 50, at_most=True),
            },
            "case p99 ms": {
                "target": 50,
                "measured": figures["case"]["p99"],
                "met": met(figures["case"]["p99"], 50, at_most=True),
            },
        },
    }


def print_table(report: dict[str, Any]) -> None:
    print(f"\nload average before: {report['load_average_before']}")
    print(f"\none at a time      {'p50 ms':>8} {'p99 ms':>8}")
    for name, row in report["one_at_a_time"].items():
        print(f"{name:<18} {row['p50']:>8.1f} {row['p99']:>8.1f}")
    print(
        f"\nopen loop          {'answered':>8} {'failed':>8} {'p50 ms':>8} {'p99 ms':>8} "
        f"{'max ms':>8}"
    )
    for name, row in report["figures"].items():
        print(
            f"{name:<18} {row['requests']:>8} {row['failures']:>8} {row['p50']:>8.1f} "
            f"{row['p99']:>8.1f} {row['max']:>8.1f}"
        )
    print_ratios_and_targets(report, 26)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="console_pages", description=__doc__)
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=20)
    parser.add_argument("--duration", type=float, default=20)
    parser.add_argument("--serial", type=int, default=100, help="requests one at a time")
    parser.add_argument("--output", type=Path, default=RESULTS_DIR / "console_pages.json")
    args = parser.parse_args(argv)
    return run_and_report("console_pages", args.output, lambda: run(args), print_table)


if __name__ == "__main__":
    sys.exit(main())
