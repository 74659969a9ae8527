"""The scheduler runs the payment-due job every quarter hour and trains the anomaly
model once a day, at 02:30 UTC."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from account_alerts.config import Settings
from account_alerts.scheduling import JOBS, build_scheduler
from account_alerts.store.database import Database


async def test_the_anomaly_model_is_trained_daily_at_half_past_two(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'unused.db'}")
    try:
        scheduler = build_scheduler(db, Settings(), clock=lambda: datetime(2026, 12, 1, tzinfo=UTC))
        job = scheduler.get_job("train-anomaly-model")
        assert job is not None and set(JOBS) == {j.id for j in scheduler.get_jobs()}
        fire = job.trigger.get_next_fire_time(None, datetime(2026, 12, 1, 3, 0, tzinfo=UTC))
        assert fire == datetime(2026, 12, 2, 2, 30, tzinfo=UTC)
    finally:
        await db.dispose()
