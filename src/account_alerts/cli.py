"""``account-alerts``: serve the API, apply migrations, export the schema, issue dev tokens."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pydantic import ValidationError

from account_alerts.config import Settings

logger = logging.getLogger("account_alerts")

# Start-up chatter a person does not need unless looking for it (--verbose): each
# migration step and plugin, each job the scheduler adds.
QUIET_UNLESS_VERBOSE = ("alembic", "apscheduler")


def _settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'settings'}: {e['msg']}" for e in exc.errors()
        )
        raise SystemExit(f"account-alerts: configuration error: {problems}") from None


def _migrate(settings: Settings, *, wait_seconds: float = 60) -> None:
    """Apply migrations, waiting a while for a database that is still starting."""
    import sqlalchemy as sa

    from account_alerts.store.migrate import upgrade

    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            upgrade(settings.database_url)
            return
        except sa.exc.OperationalError as exc:
            if time.monotonic() > deadline:
                raise SystemExit(f"account-alerts: database unreachable: {exc.orig}") from None
            logger.warning("database not reachable yet; retrying")
            time.sleep(1)


def cmd_migrate(_: argparse.Namespace) -> int:
    settings = _settings()
    _migrate(settings)
    print("database is at the latest schema")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from account_alerts.api.app import SERVE_SCHEDULER_ENV, SERVE_WORKER_ENV
    from account_alerts.delivery import metrics
    from account_alerts.serving import serve, server_options
    from account_alerts.store.database import Database

    settings = _settings()
    if args.workers < 1:
        raise SystemExit("account-alerts: --workers must be at least 1")
    if args.workers > 1 and not settings.database_url.startswith("postgresql"):
        raise SystemExit(
            "account-alerts: --workers above 1 needs PostgreSQL (SQLite has a single writer); "
            "set ALERTS_DATABASE_URL or run one process"
        )
    _migrate(settings)
    if args.demo:
        if settings.is_production:
            raise SystemExit("account-alerts: --demo is refused in production")
        _print_demo(settings, args.host, args.port, Database(settings.database_url))
    # Each process is a whole server: the API, a delivery worker and the scheduler (with
    # --workers, safe side by side on PostgreSQL: SKIP LOCKED claims, the advisory lock).
    # The migrations above ran once, here, before any of them started.
    os.environ[SERVE_WORKER_ENV] = "0" if args.no_worker else "1"
    os.environ[SERVE_SCHEDULER_ENV] = "0" if args.no_scheduler else "1"
    if args.workers > 1:
        metrics.share_between_processes()
    serve(
        "account_alerts.api.app:app_from_environment",
        args.host,
        args.port,
        args.workers,
        **server_options(settings),
    )
    return 0


def cmd_worker(_: argparse.Namespace) -> int:
    """The delivery worker, the webhook dispatcher and the case notifier on their own
    (several may run against one PostgreSQL)."""
    from datetime import UTC, datetime

    from account_alerts.delivery.channels.factory import build_channels
    from account_alerts.delivery.in_app import AlertBroker, listen_for_alerts
    from account_alerts.delivery.team.runner import CaseNotifier
    from account_alerts.delivery.webhooks.dispatcher import WebhookDispatcher
    from account_alerts.delivery.worker import DeliveryWorker
    from account_alerts.domain.enums import NotificationChannel
    from account_alerts.gc_tuning import tune_garbage_collector
    from account_alerts.store.database import Database

    settings = _settings()
    _migrate(settings)

    def clock() -> datetime:
        return datetime.now(UTC)

    async def run() -> None:
        db = Database(settings.database_url, pool_size=settings.db_pool_size)
        channels = build_channels(settings, clock)
        worker = DeliveryWorker(db=db, settings=settings, channels=channels, clock=clock)
        dispatcher = WebhookDispatcher(db=db, settings=settings, clock=clock)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        notifier = CaseNotifier(
            db=db, settings=settings, email=channels[NotificationChannel.EMAIL], clock=clock
        )
        tasks = [asyncio.create_task(notifier.run(stop), name="case-notifier")]
        if db.is_postgresql:
            # New alerts anywhere wake this worker at once instead of at its next poll.
            broker = AlertBroker()
            broker.on_publish(worker.wake.set)
            broker.on_publish(dispatcher.wake.set)
            tasks.append(
                asyncio.create_task(listen_for_alerts(settings.database_url, broker, stop))
            )
        tune_garbage_collector()
        logger.info("delivery worker %s started", worker.worker_id)
        tasks.append(asyncio.create_task(dispatcher.run(stop)))
        try:
            await worker.run(stop)
        finally:
            stop.set()
            await asyncio.gather(*tasks, return_exceptions=True)
            for channel in channels.values():
                await channel.close()
            await db.dispose()

    with asyncio.Runner(loop_factory=_event_loop_factory()) as runner:
        runner.run(run())
    return 0


def _event_loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop where it is installed (as ``serve`` runs under uvicorn), else asyncio's own."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def _print_demo(settings: Settings, host: str, port: int, db: object) -> None:
    from account_alerts.api.auth import issue_token
    from account_alerts.demo import DEMO_ACCOUNT, DEMO_STAFF, DEMO_USER_ID, seed_demo
    from account_alerts.domain.enums import Role
    from account_alerts.store.database import Database

    assert isinstance(db, Database)

    async def seed() -> None:
        await seed_demo(db)
        await db.dispose()

    asyncio.run(seed())
    customer = issue_token(settings, subject=str(DEMO_USER_ID), lifetime=timedelta(hours=12))
    service = issue_token(
        settings, subject="core-banking", role=Role.SERVICE, lifetime=timedelta(hours=12)
    )
    staff = issue_token(settings, subject=DEMO_STAFF, role=Role.ADMIN, lifetime=timedelta(hours=12))
    shown_host = "localhost" if host in ("0.0.0.0", "127.0.0.1") else host  # noqa: S104
    print(
        f"\naccount-alerts demo: customer {DEMO_USER_ID}, account {DEMO_ACCOUNT}\n"
        f"  GraphiQL:        http://{shown_host}:{port}/graphql\n"
        f"  customer token:  {customer}\n"
        f"  service token:   {service}\n"
        "  Send it as the header  Authorization: Bearer <token>\n"
        "  (changing settings needs a sign-in within 5 minutes: run "
        "`account-alerts token --customer 1001` for a fresh one)\n"
        f"  Risk console:    http://{shown_host}:{port}/admin  (sign in with the staff token)\n"
        f"  staff token:     {staff}\n",
        flush=True,
    )


def cmd_token(args: argparse.Namespace) -> int:
    from account_alerts.api.auth import issue_token
    from account_alerts.domain.enums import Role

    settings = _settings()
    if settings.is_production:
        raise SystemExit(
            "account-alerts: tokens are issued by the bank's auth service in production"
        )
    if args.customer is not None:
        print(
            issue_token(settings, subject=str(args.customer), lifetime=timedelta(hours=args.hours))
        )
    else:
        role = Role(args.role)
        print(
            issue_token(
                settings, subject=args.subject, role=role, lifetime=timedelta(hours=args.hours)
            )
        )
    return 0


def _parse_instant(value: str) -> datetime:
    try:
        instant = datetime.fromisoformat(value)
    except ValueError as exc:
        raise SystemExit(f"account-alerts: --now must be an ISO 8601 instant: {exc}") from None
    if instant.tzinfo is None:
        raise SystemExit("account-alerts: --now needs a UTC offset, e.g. 2026-12-01T08:00:00+02:00")
    return instant


def _seed(value: str) -> int:
    if not value.isdigit() or int(value) >= 2**31:
        raise argparse.ArgumentTypeError(f"a seed is a whole number from 0 to 2^31-1, not {value}")
    return int(value)


def cmd_run_job(args: argparse.Namespace) -> int:
    from account_alerts.engine.anomaly_training import describe
    from account_alerts.scheduling import payment_due_job, train_anomaly_model_job
    from account_alerts.store.database import Database

    settings = _settings()
    _migrate(settings)
    now = _parse_instant(args.now) if args.now else datetime.now(UTC)

    async def run() -> int:
        db = Database(settings.database_url)
        try:
            if args.job == "train-anomaly-model":
                training = await train_anomaly_model_job(db, settings, now=now, seed=args.seed)
                print(describe(training))
                # 1: the run made no model (too few transactions), as printed.
                return 0 if training.model_id is not None else 1
            result = await payment_due_job(db, settings, now=now)
        finally:
            await db.dispose()
        print(
            f"payment-due at {now.isoformat()}: {result.reminders} reminders written, "
            f"{result.already_sent} already sent, {result.skipped_disabled} turned off"
            + ("" if result.ran else " (another scheduler was running it; nothing done)")
        )
        return 0

    return asyncio.run(run())


def cmd_scheduler(_: argparse.Namespace) -> int:
    from account_alerts.gc_tuning import tune_garbage_collector
    from account_alerts.scheduling import build_scheduler
    from account_alerts.store.database import Database

    settings = _settings()
    _migrate(settings)

    async def run() -> None:
        db = Database(settings.database_url)
        scheduler = build_scheduler(db, settings)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        tune_garbage_collector()
        scheduler.start()
        logger.info("scheduler started: %s", ", ".join(job.id for job in scheduler.get_jobs()))
        try:
            await stop.wait()
        finally:
            scheduler.shutdown(wait=False)
            await db.dispose()

    asyncio.run(run())
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from account_alerts.engine.bulk_import import count_rows, import_file
    from account_alerts.engine.ingest import Ingestor
    from account_alerts.store.database import Database

    settings = _settings()
    path = Path(args.file)
    if not path.is_file():
        raise SystemExit(f"account-alerts: no such file {path}")
    _migrate(settings)
    total = count_rows(path)
    on_terminal = sys.stderr.isatty()

    def progress(done: int) -> None:
        if on_terminal and total:
            filled = int(30 * done / total)
            sys.stderr.write(f"\r[{'#' * filled}{'.' * (30 - filled)}] {done}/{total} rows")
            sys.stderr.flush()

    async def run() -> int:
        db = Database(settings.database_url)
        ingestor = Ingestor(db=db, settings=settings, clock=lambda: datetime.now(UTC))
        try:
            report = await import_file(
                db,
                ingestor,
                kind=args.kind,
                path=path,
                now=datetime.now(UTC),
                progress=progress,
            )
        except ValueError as exc:
            raise SystemExit(f"account-alerts: {exc}") from None
        finally:
            await db.dispose()
        if on_terminal:
            sys.stderr.write("\n")
        for error in report.errors:
            print(error, file=sys.stderr)
        print(
            f"{path.name}: {report.rows} rows, {report.imported} imported, "
            f"{report.unchanged} already there, {len(report.errors)} refused"
            + (f", {report.alerts} alerts raised" if args.kind != "payments" else "")
        )
        return 1 if report.errors else 0

    return asyncio.run(run())


def cmd_export_schema(args: argparse.Namespace) -> int:
    from account_alerts.api.schema import export_sdl

    sdl = export_sdl()
    if args.output == "-":
        sys.stdout.write(sdl)
    else:
        Path(args.output).write_text(sdl)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="account-alerts", description=__doc__)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--verbose", action="store_true", help="log each migration step and scheduled job"
    )
    commands = parser.add_subparsers(dest="command", required=True)

    def command(name: str, *, help: str) -> argparse.ArgumentParser:
        return commands.add_parser(name, parents=[common], help=help)

    serve = command("serve", help="run the API (migrations applied first)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--demo", action="store_true", help="add a demo customer and print tokens")
    serve.add_argument(
        "--workers",
        type=int,
        default=1,
        help="server processes sharing the port (PostgreSQL only); default 1",
    )
    serve.add_argument(
        "--no-worker", action="store_true", help="deliver in separate `worker` processes"
    )
    serve.add_argument(
        "--no-scheduler", action="store_true", help="run jobs in separate `scheduler` processes"
    )
    serve.set_defaults(func=cmd_serve)

    worker = command("worker", help="run the delivery worker")
    worker.set_defaults(func=cmd_worker)

    importer = command("import", help="import a CSV feed from core banking")
    importer.add_argument("kind", choices=["payments", "transactions", "balances"])
    importer.add_argument("file")
    importer.set_defaults(func=cmd_import)

    scheduler = command("scheduler", help="run the scheduled jobs")
    scheduler.set_defaults(func=cmd_scheduler)

    run_job = command("run-job", help="run one scheduled job once")
    run_job.add_argument("job", choices=["payment-due", "train-anomaly-model"])
    run_job.add_argument("--now", help="the instant to run it for, e.g. 2026-12-01T08:00:00+02:00")
    run_job.add_argument(
        "--seed",
        type=_seed,
        help="train-anomaly-model: the random seed (0 to 2^31-1); the same data and seed "
        "give the same model",
    )
    run_job.set_defaults(func=cmd_run_job)

    migrate = command("migrate", help="bring the database to the latest schema")
    migrate.set_defaults(func=cmd_migrate)

    export = command("export-schema", help="write the GraphQL SDL")
    export.add_argument("output", nargs="?", default="schema.graphql")
    export.set_defaults(func=cmd_export_schema)

    token = command("token", help="sign a development token")
    who = token.add_mutually_exclusive_group(required=True)
    who.add_argument("--customer", type=int, help="mobile user id")
    who.add_argument("--subject", help="service or admin subject, with --role")
    token.add_argument("--role", choices=["service", "admin"], default="service")
    token.add_argument("--hours", type=float, default=1.0)
    token.set_defaults(func=cmd_token)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if not args.verbose:
        for name in QUIET_UNLESS_VERBOSE:
            logging.getLogger(name).setLevel(logging.WARNING)
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
