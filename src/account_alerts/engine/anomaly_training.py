"""The daily training of the anomaly model: the last 90 days of transactions' features,
an IsolationForest fitted on them, stored as a new INACTIVE version.

A new version never scores until the risk team puts it in SHADOW or makes it ACTIVE
(``engine.anomaly_models``): a model is a decision about what counts as strange, and
someone signs it off. Too few transactions make no model; the run says why."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from account_alerts.config import Settings
from account_alerts.domain.anomaly import payload
from account_alerts.domain.anomaly.features import FEATURE_NAMES, MatrixBuilder
from account_alerts.domain.anomaly.forest import Floats
from account_alerts.domain.anomaly.model import AnomalyModel
from account_alerts.domain.anomaly.training import TooFewTransactions, train_on_matrix
from account_alerts.domain.enums import AnomalyModelStatus
from account_alerts.domain.events import TransactionEvent
from account_alerts.domain.feature_replay import FeatureReplay
from account_alerts.store import audit_trail
from account_alerts.store.anomaly_models import AnomalyModelRecord, summary
from account_alerts.store.database import Database
from account_alerts.store.stored_events import events_in_arrival_order

logger = logging.getLogger("account_alerts.anomaly")

TRAINING_WINDOW = timedelta(days=90)
# Events this long before the window only build the customers' profiles: a customer's
# first transaction in the window still knows their devices, places and typical amount.
WARM_UP = timedelta(days=30)
DEFAULT_SEED = 20261202
# Percentiles of the training raw anomaly kept on the record for people to read.
SHOWN_PERCENTILES = (50.0, 90.0, 99.0, 99.9, 100.0)

# The transactions of [start, end) as the model's rows (``features.matrix``).
FeatureSource = Callable[[Database, datetime, datetime], Awaitable[Floats]]


@dataclass(frozen=True)
class TrainingRun:
    trained_from: datetime
    trained_to: datetime
    rows: int
    model_id: int | None  # None: no model was made, ``reason`` says why
    reason: str | None = None


def stored_features(settings: Settings) -> FeatureSource:
    """The stored transactions' features, replayed from the stored events in arrival
    order exactly as the live path computed them (``domain.feature_replay``)."""

    async def features_of(db: Database, start: datetime, end: datetime) -> Floats:
        replay = FeatureReplay(frozenset(FEATURE_NAMES))
        rows = MatrixBuilder()
        async with db.engine.connect() as connection, connection.begin():
            async for customer, event, zone in events_in_arrival_order(
                connection, start - WARM_UP, end, bank_zone=settings.timezone
            ):
                wanted = isinstance(event, TransactionEvent) and event.occurred_at >= start
                features = replay.observe(customer, event, zone, evaluate=wanted)
                if features is not None:
                    rows.add(features)
        return rows.finish()

    return features_of


def score_distribution(model: AnomalyModel) -> dict[str, float]:
    quantiles = model.quantiles
    positions = np.linspace(0.0, 100.0, len(quantiles))
    return {f"p{p:g}": float(np.interp(p, positions, quantiles)) for p in SHOWN_PERCENTILES}


async def train_anomaly_model(
    db: Database,
    features_of: FeatureSource,
    *,
    now: datetime,
    seed: int = DEFAULT_SEED,
) -> TrainingRun:
    start = now - TRAINING_WINDOW
    vectors = await features_of(db, start, now)
    try:
        # Fitting takes seconds of CPU: off the event loop.
        model = await asyncio.to_thread(train_on_matrix, vectors, seed=seed)
    except TooFewTransactions as exc:
        logger.info("anomaly model: none trained: %s", exc)
        return TrainingRun(start, now, len(vectors), None, str(exc))
    data = await asyncio.to_thread(payload.dump, model)
    record = AnomalyModelRecord(
        trained_from=start,
        trained_to=now,
        feature_names=list(FEATURE_NAMES),
        row_count=len(vectors),
        seed=seed,
        score_distribution=score_distribution(model),
        status=AnomalyModelStatus.INACTIVE,
        checksum=payload.checksum(data),
        payload=data,
        created_at=now,
    )
    async with db.transaction() as session:
        session.add(record)
        await session.flush()
        audit_trail.record(
            session,
            actor_role="system",
            actor_id="train-anomaly-model",
            action="anomaly_model.trained",
            occurred_at=now,
            subject_type="anomaly_model",
            subject_id=str(record.id),
            after=summary(record),
        )
    assert record.id is not None
    logger.info(
        "anomaly model %d trained on %d transactions from %s to %s",
        record.id,
        len(vectors),
        start.isoformat(),
        now.isoformat(),
    )
    return TrainingRun(start, now, len(vectors), record.id)


def describe(run: TrainingRun) -> str:
    """The run in one line, for the command line."""
    window = f"{run.trained_from.isoformat()} to {run.trained_to.isoformat()}"
    if run.model_id is None:
        return f"train-anomaly-model: no model trained ({run.reason}); window {window}"
    return (
        f"train-anomaly-model: model {run.model_id} trained on {run.rows} transactions "
        f"from {window}; it is INACTIVE until activated or put in shadow"
    )
