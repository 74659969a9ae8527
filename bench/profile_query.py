"""Where one ``accountAlerts(limit: 50)`` request spends its time, in-process.

    python bench/profile_query.py [--requests 200] [--customers 2000] [--pstats out.prof]

Seeds the same data set as bench/query_alerts.py, builds the app with
``create_app`` and sends the same query through the ASGI interface (no sockets, no
uvicorn), as the customers the benchmark queries. Prints, per request: wall time, CPU
time of this process, SQL statements and the time spent in them (cursor execute, round
trip included), time in the garbage collector; then a cProfile run, grouped by package
and by function. cProfile slows pure-Python code down more than C code, so read its
shares as proportions.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import pstats
import statistics
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import httpx
from dataset import DatasetShape, seeded_cluster
from pydantic import SecretStr
from query_alerts import JWT_SECRET, PAGE, QUERY
from sqlalchemy import event

from account_alerts.api.app import create_app
from account_alerts.api.auth import issue_token
from account_alerts.config import Environment, Settings
from account_alerts.gc_tuning import tune_garbage_collector
from account_alerts.store.database import Database


class SqlTimer:
    """Counts statements and the time between before_ and after_cursor_execute."""

    def __init__(self, db: Database) -> None:
        self.statements = 0
        self.seconds = 0.0
        engine = db.engine.sync_engine
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)

    def _before(self, conn: Any, *_: Any) -> None:
        conn.info["bench_started"] = time.perf_counter()
        self.statements += 1

    def _after(self, conn: Any, *_: Any) -> None:
        self.seconds += time.perf_counter() - conn.info.pop("bench_started")

    def reset(self) -> None:
        self.statements, self.seconds = 0, 0.0


class GcTimer:
    def __init__(self) -> None:
        self.seconds = 0.0
        self.collections = [0, 0, 0]
        self.longest = [0.0, 0.0, 0.0]
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            pause = time.perf_counter() - self._started
            generation = info["generation"]
            self.seconds += pause
            self.collections[generation] += 1
            self.longest[generation] = max(self.longest[generation], pause)

    def __enter__(self) -> GcTimer:
        gc.callbacks.append(self)
        return self

    def __exit__(self, *_: object) -> None:
        gc.callbacks.remove(self)


def package_of(filename: str) -> str:
    for marker in ("site-packages/", "/lib/python3"):
        if marker in filename:
            rest = filename.split(marker, 1)[1]
            if marker != "site-packages/":
                rest = rest.split("/", 1)[1] if "/" in rest else rest
            parts = rest.split("/")
            if parts[0] in ("graphql", "strawberry") and len(parts) > 1:
                return f"{parts[0]}/{parts[1].removesuffix('.py')}"
            return parts[0].removesuffix(".py")
    if "account_alerts" in filename:
        return "account_alerts"
    return "builtins (C)" if filename == "~" else filename


def print_by_package(stats: pstats.Stats, requests: int, top: int = 15) -> None:
    groups: dict[str, float] = defaultdict(float)
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    for (filename, _line, _name), (_cc, _nc, tottime, _ct, _callers) in raw.items():
        groups[package_of(filename)] += tottime
    total = sum(groups.values())
    print(f"\ncProfile, own time by package ({requests} requests, profiled):")
    for name, seconds in sorted(groups.items(), key=lambda item: -item[1])[:top]:
        print(
            f"  {name:<34} {100 * seconds / total:5.1f}%  {1000 * seconds / requests:6.2f} ms/req"
        )


async def profile(url: str, users: list[int], args: argparse.Namespace) -> None:
    settings = Settings(
        database_url=url, jwt_secret=SecretStr(JWT_SECRET), env=Environment.PRODUCTION
    )
    tokens = [issue_token(settings, subject=str(user)) for user in users]
    db = Database(url, pool_size=settings.db_pool_size)
    sql = SqlTimer(db)
    app = create_app(settings, database=db)
    tune_garbage_collector()  # as account-alerts serve does
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bench.local") as client:

        async def send(index: int) -> None:
            response = await client.post(
                "/graphql",
                json={"query": QUERY},
                headers={"Authorization": f"Bearer {tokens[index % len(tokens)]}"},
            )
            body = response.json()
            assert "errors" not in body, body
            assert len(body["data"]["accountAlerts"]["items"]) == PAGE

        for index in range(args.warmup):
            await send(index)
        sql.reset()
        timings = []
        cpu_started = time.process_time()
        with GcTimer() as gc_timer:
            for index in range(args.requests):
                started = time.perf_counter()
                await send(index)
                timings.append(time.perf_counter() - started)
        cpu = time.process_time() - cpu_started
        n = args.requests
        print(f"\n{n} requests, in-process (ASGI), one at a time:")
        print(
            f"  wall time      median {1000 * statistics.median(timings):6.2f} ms, "
            f"mean {1000 * statistics.fmean(timings):6.2f} ms"
        )
        print(f"  CPU time       {1000 * cpu / n:6.2f} ms in this process (PostgreSQL apart)")
        print(
            f"  SQL            {sql.statements / n:.1f} statements, "
            f"{1000 * sql.seconds / n:6.2f} ms in cursor execute"
        )
        longest = ", ".join(f"{1000 * pause:.1f}" for pause in gc_timer.longest)
        print(
            f"  GC             {1000 * gc_timer.seconds / n:6.2f} ms, collections by "
            f"generation {gc_timer.collections}, longest pause by generation {longest} ms"
        )
        print(f"  p99 wall time  {1000 * statistics.quantiles(timings, n=100)[98]:6.2f} ms")

        profiler = cProfile.Profile()
        profiler.enable()
        for index in range(n):
            await send(index)
        profiler.disable()
    await db.dispose()

    stats = pstats.Stats(profiler)
    if args.pstats:
        stats.dump_stats(args.pstats)
    print_by_package(stats, n)
    print(f"\ncProfile, top {args.top} functions by own time:")
    stats.sort_stats("tottime").print_stats(args.top)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--alerts-per-customer", type=int, default=200)
    parser.add_argument("--heavy-customers", type=int, default=16)
    parser.add_argument("--heavy-alerts", type=int, default=600)
    parser.add_argument("--top", type=int, default=25, help="functions to list")
    parser.add_argument("--pstats", type=Path, help="also write the raw profile here")
    args = parser.parse_args()
    shape = DatasetShape(
        customers=args.customers,
        alerts_per_customer=args.alerts_per_customer,
        heavy_customers=args.heavy_customers,
        heavy_alerts=args.heavy_alerts,
    )
    print(f"seeding PostgreSQL: {shape.customers} customers, {shape.total_alerts} alerts ...")
    with seeded_cluster(shape) as (_cluster, url, _report):
        asyncio.run(profile(url, shape.heavy_user_ids(), args))


if __name__ == "__main__":
    main()
