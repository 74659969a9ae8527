"""The scheduled jobs and the APScheduler that runs them.

The payment-due job runs every quarter of an hour (time zones differ by quarter hours)
and once at start: each run covers every time zone where 08:00 has passed today, so a
missed run is caught up the same day, and reminder keys make repeats harmless. On
PostgreSQL an advisory lock keeps concurrent schedulers from working the same run.

The anomaly model is trained once a day, at 02:30 UTC when traffic is lowest, on the 90
days before; the new version waits INACTIVE for the risk team."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger

from account_alerts.config import Settings
from account_alerts.engine.anomaly_training import (
    TrainingRun,
    describe,
    stored_features,
    train_anomaly_model,
)
from account_alerts.engine.payments import ReminderRun, run_payment_due
from account_alerts.store.database import Database

logger = logging.getLogger("account_alerts.scheduler")

JOBS = ("payment-due", "train-anomaly-model")


async def payment_due_job(
    db: Database,
    settings: Settings,
    *,
    now: datetime | None = None,
) -> ReminderRun:
    run = await run_payment_due(db, settings, now=now or datetime.now(UTC))
    if not run.ran:
        logger.info("payment-due: another scheduler holds this run")
    else:
        logger.info(
            "payment-due at %s: %d reminders, %d already sent, %d disabled",
            run.now.isoformat(),
            run.reminders,
            run.already_sent,
            run.skipped_disabled,
        )
    return run


async def train_anomaly_model_job(
    db: Database, settings: Settings, *, now: datetime, seed: int | None = None
) -> TrainingRun:
    run = await train_anomaly_model(
        db, stored_features(settings), now=now, **({} if seed is None else {"seed": seed})
    )
    logger.info("%s", describe(run))
    return run


def build_scheduler(
    db: Database,
    settings: Settings,
    *,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> AsyncIOScheduler:
    scheduler = AsyncIOScheduler(timezone=UTC)

    async def payment_due() -> None:
        try:
            await payment_due_job(db, settings, now=clock())
        except Exception:  # the next run retries; never kill the scheduler
            logger.exception("payment-due run failed")

    scheduler.add_job(
        payment_due,
        CronTrigger(minute="*/15", timezone=UTC),
        id="payment-due",
        coalesce=True,
        max_instances=1,
        misfire_grace_time=600,
        next_run_time=clock(),
    )

    async def train_anomaly() -> None:
        try:
            await train_anomaly_model_job(db, settings, now=clock())
        except Exception:  # tomorrow's run tries again; never kill the scheduler
            logger.exception("train-anomaly-model run failed")

    scheduler.add_job(
        train_anomaly,
        CronTrigger(hour=2, minute=30, timezone=UTC),
        id="train-anomaly-model",
        coalesce=True,
        max_instances=1,
        misfire_grace_time=3600,
    )
    return scheduler
