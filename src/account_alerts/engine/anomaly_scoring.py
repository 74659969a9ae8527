"""Scoring transactions with the models in place, kept in memory.

Models are cached by id; ``refresh`` asks the database which models are ACTIVE and
SHADOW (one small query) and loads only a model it has not seen, so a switch by the risk
team reaches every server at its next refresh without reloading unchanged models."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from account_alerts.domain.anomaly.features import Features
from account_alerts.domain.anomaly.model import AnomalyModel, AnomalyResult
from account_alerts.domain.enums import AnomalyModelStatus
from account_alerts.store.anomaly_models import AnomalyModelRecord, load_model, model_ids_in_use
from account_alerts.store.database import Database

CHECK_EVERY = timedelta(seconds=10)


@dataclass(frozen=True)
class AnomalyScores:
    """The ACTIVE model's result (used) and the SHADOW model's (stored, never used);
    None where no model holds that place."""

    active: AnomalyResult | None
    shadow: AnomalyResult | None
    active_model_id: int | None
    shadow_model_id: int | None


class AnomalyScorer:
    def __init__(self, db: Database, *, check_every: timedelta = CHECK_EVERY) -> None:
        self._db = db
        self._check_every = check_every
        self._checked_at: datetime | None = None
        self._models: dict[int, AnomalyModel] = {}
        self._active: int | None = None
        self._shadow: int | None = None

    async def refresh(self) -> None:
        async with self._db.session() as session:
            in_use = await model_ids_in_use(session)
            for model_id in in_use.values():
                if model_id not in self._models:
                    record = await session.get(AnomalyModelRecord, model_id)
                    if record is not None:
                        self._models[model_id] = load_model(record)
        self._active = in_use.get(AnomalyModelStatus.ACTIVE)
        self._shadow = in_use.get(AnomalyModelStatus.SHADOW)
        self._models = {i: m for i, m in self._models.items() if i in in_use.values()}

    def invalidate(self) -> None:
        """Look at the database again at the next ``refresh_if_due`` (a switch made here)."""
        self._checked_at = None

    async def refresh_if_due(self, now: datetime) -> None:
        """At most one look at the database per ``check_every``."""
        if self._checked_at is None or now - self._checked_at >= self._check_every:
            self._checked_at = now
            await self.refresh()

    @property
    def in_use(self) -> bool:
        """Whether a model is ACTIVE or in SHADOW (else nothing is scored)."""
        return self._active is not None or self._shadow is not None

    def score(self, features: Features) -> AnomalyScores:
        active = self._models.get(self._active) if self._active is not None else None
        shadow = self._models.get(self._shadow) if self._shadow is not None else None
        return AnomalyScores(
            active=active.score(features) if active is not None else None,
            shadow=shadow.score(features) if shadow is not None else None,
            active_model_id=self._active if active is not None else None,
            shadow_model_id=self._shadow if shadow is not None else None,
        )

    def loaded_model_ids(self) -> set[int]:
        return set(self._models)
